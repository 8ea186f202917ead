/* SPDX-License-Identifier: MIT */
/*
 * The shared renderings of the command line and the HTTP server: one JSON shape per kind of
 * thing (a version, a model, a diff, a lineage, a deployment) and the text, DOT and Mermaid
 * forms of a lineage. Returned cJSON documents belong to the caller.
 */
#ifndef MVMS_VIEWS_H
#define MVMS_VIEWS_H

#include <stdio.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "mvms.h"

/* ISO 8601 UTC ("2026-11-26T02:00:04Z") into @buf. */
const char *view_time(char *buf, size_t n, int64_t t);
cJSON *view_version(const mvms_version_info *v);
cJSON *view_model(const mvms_model_info *m);
/* "added", "removed", "modified", "renamed", "mode", "dtype/shape" for a diff status. */
const char *view_diff_status(char s);
/* With @tensors, each changed tensor is listed. */
cJSON *view_diff(const mvms_diff *d, int tensors);
cJSON *view_lineage(const mvms_lineage *l);
void view_lineage_dot(FILE *f, const mvms_lineage *l);
void view_lineage_mermaid(FILE *f, const mvms_lineage *l);
void view_lineage_text(FILE *f, const mvms_lineage *l);
cJSON *view_deployment(const mvms_deployment *d);
/* A progressive rollout (views_rollout.c). */
cJSON *view_rollout(const mvms_rollout *r);
/* Editing history (views_history.c): a deleted version, a pruning, a model deletion. */
cJSON *view_delete(const mvms_delete_result *r, int dry_run);
cJSON *view_prune(const mvms_prune_result *r, const char *model, int dry_run);
cJSON *view_model_delete(const mvms_model_delete_result *r, const char *model, int dry_run);
/* A version's listing (`ls --json`, GET …/versions/{ref}/files): model, version, id and its
 * files, each with path, mode, size, id, format, chunks, tensor_count, mtime (ISO 8601, null
 * when none is recorded), mtime_ns and, with @with_tensors, "tensors". */
cJSON *view_listing(const mvms_listing *l, int with_tensors);
/* A version's files, as `show --json` and GET /v1/models/{m}/versions/{ref} list them. */
cJSON *view_file_list(const mvms_file_info *files, size_t n);
/* A merge that went through (`merge --json`, POST /v1/models/{m}/merge), and the conflicts
 * of one that did not. */
cJSON *view_merge(const mvms_merge_result *r, const char *model, const char *source,
		  const char *into);
cJSON *view_merge_conflicts(const mvms_merge_result *r);

/* Administration: `stats`, `verify`, `gc` and `token` with --json, and GET /v1/stats,
 * POST /v1/verify, POST /v1/gc, /v1/tokens (src/server/h_admin.c). */
cJSON *view_stats(const mvms_stats *s);
/* One problem (damage) of a verify, and one orphan (what gc can reclaim). */
cJSON *view_verify_problem(const mvms_verify_problem *p);
cJSON *view_verify_orphan(const mvms_verify_problem *p);
/* A verify's result, with its lists of problems and orphans (arrays; both taken). */
cJSON *view_verify(const mvms_verify_result *r, int quick, cJSON *problems, cJSON *orphans);
/* One object gc removes (or would); a gc's result, with its items (NULL: no list; taken). */
cJSON *view_gc_item(const mvms_gc_item *it);
cJSON *view_gc(const mvms_gc_result *r, int dry_run, cJSON *items);
/* "read", "write", "admin" ("?" for anything else). */
const char *view_token_scope(int scope);
/* A token just created: its secret (shown once) and what it allows. */
cJSON *view_token_created(const char *token, const mvms_token_info *info);
/* The tokens of a store, revoked ones included: an array. */
cJSON *view_token_list(const mvms_token_info *list, size_t n);
cJSON *view_token_revoked(const char *id);

#endif
