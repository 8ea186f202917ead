/* SPDX-License-Identifier: MIT */
/*
 * The file listing of a version (`ls` and GET …/versions/{ref}/files): one JSON document
 * built from the public API, so the command line and the server answer alike.
 */
#ifndef MVMS_LISTING_H
#define MVMS_LISTING_H

#include <cjson/cJSON.h>
#include "mvms.h"

/* {"model","version","id","files":[{path,mode,size,id,format,chunks,tensor_count,mtime,
 * mtime_ns[,tensors:[…]]}]} for version @spec, only files at or under @path when not NULL
 * or "" (MVMS_ENOTFOUND when none is), with each file's tensors when @tensors. */
int listing_build(cJSON **out, mvms_store *st, const char *spec, const char *path, int tensors);

#endif
