/* SPDX-License-Identifier: MIT */
/*
 * The client's reading of the server's JSON: each document of docs/http-api.md back into the
 * library's structs (a version, a model, refs, files, a lineage, a diff, a deployment, a merge
 * result, statistics, tokens). The shapes are written by src/common/views.c and the server's
 * handlers; the doubled command-line suite (local and through a server, same expectations)
 * keeps the two sides in step. Decoders return NULL (with a message) on a document that lacks
 * what they need or on out of memory; they never trust a length or a count from the wire.
 */
#ifndef MVMS_WIRE_H
#define MVMS_WIRE_H

#include <cjson/cJSON.h>
#include "mvms/store.h"
#include "mvms/version.h"
#include "mvms/dag.h"
#include "mvms/deploy.h"
#include "mvms/token.h"

/* "2026-11-26T02:00:04Z" -> Unix seconds (0 when absent or malformed). */
int64_t mvms_wire__time(const cJSON *o, const char *key);
/* A number member as an integer (0 when absent). */
int64_t mvms_wire__int(const cJSON *o, const char *key);
/* A string member, borrowed ("" when absent). */
const char *mvms_wire__str(const cJSON *o, const char *key);

mvms_version_info *mvms_wire__version(const cJSON *o);
/* The array member @key of @doc as versions (*out: mvms_version_list_free). */
int mvms_wire__version_list(mvms_version_info ***out, size_t *count, const cJSON *doc,
			    const char *key);
int mvms_wire__model(mvms_model_info *m, const cJSON *o);
int mvms_wire__refs(mvms_ref_info **out, size_t *count, const cJSON *arr);
int mvms_wire__files(mvms_file_info **out, size_t *count, const cJSON *arr);
mvms_lineage *mvms_wire__lineage(const cJSON *doc);
mvms_diff *mvms_wire__diff(const cJSON *doc);
mvms_deployment *mvms_wire__deployment(const cJSON *o);
int mvms_wire__deployment_list(mvms_deployment ***out, size_t *count, const cJSON *arr);

#endif
