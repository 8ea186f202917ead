/* SPDX-License-Identifier: MIT */
/*
 * The local half of a remote push (stage.c): mvms_sync_stage (mvms/sync.h) stores the
 * files' chunks in the client's cache, and this says whether the server's head already
 * has exactly those files (then the push makes no version, as a local one).
 */
#ifndef MVMS_STAGE_H
#define MVMS_STAGE_H

#include "mvms/sync.h"

struct cJSON;

/* 1 when @head (the server's version JSON, with "file_list") has exactly @files. */
int mvms_stage__same_as_head(const struct cJSON *head, const mvms_sync_file *files, size_t n);

#endif
