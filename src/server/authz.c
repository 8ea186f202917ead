/* SPDX-License-Identifier: MIT */
/*
 * Keeping a request to the models its token covers, beyond the router's check of the model
 * in the path: reads by hash (objects, chunks) are served only for objects that a version of
 * a covered model holds, and answer exactly as a missing object otherwise; a commit may not
 * name a parent of an uncovered model; versions of uncovered models that a walk of the DAG
 * meets (parents, lineage, log, merge bases) show as stubs that keep only their id.
 *
 * Why the id stays: a version's id is the hash of its manifest, and the manifest of a
 * covered version lists its parents' ids, so a reader has the ids of the uncovered versions
 * next to its own anyway; nothing else can be had for an id (every read by hash of an
 * uncovered version answers 404). A stub tells that a version the caller cannot read sits
 * at that place in the graph, and nothing about it.
 */
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include "server.h"

int srv_authz_covers(const srv_req *r, const char *model)
{
	if (r->anonymous)
		return r->opts->allow_anonymous_read;
	/* No token looked at (a public route): nothing is covered. */
	if (!r->token_models || !model)
		return 0;
	return fnmatch(r->token_models, model, 0) == 0;
}

int srv_authz_all(const srv_req *r)
{
	if (r->anonymous)
		return r->opts->allow_anonymous_read;
	return r->token_models && strcmp(r->token_models, "*") == 0;
}

int srv_authz_objects(srv_req *r, const char *kind, const mvms_oid *ids, size_t n)
{
	unsigned char *covered;
	char hex[MVMS_OID_HEXSZ + 1];
	size_t i;
	int error;

	/* "*" pays nothing: the pull of an unscoped token stays as fast as it was. */
	if (srv_authz_all(r) || n == 0)
		return 0;
	if (!r->token_models) {
		srv_reply_error(r, 401, "unauthorized", "a token is needed (Authorization: Bearer TOKEN)");
		return -1;
	}
	if (!(covered = calloc(n, 1))) {
		srv_reply_error(r, 500, "error", "out of memory");
		return -1;
	}
	if ((error = mvms_token_covers_objects(covered, r->st, r->token_models, kind, ids, n)) < 0) {
		free(covered);
		srv_reply_mvms(r, error);
		return -1;
	}
	for (i = 0; i < n && covered[i]; i++)
		;
	free(covered);
	if (i == n)
		return 0;
	/* The words a missing object gets (sync.c's chunk look-up, the local backend), and the
	 * same for a missing object as for another model's: nothing tells them apart. */
	mvms_oid_fmt(hex, &ids[i]);
	if (strcmp(kind, "chunks") == 0)
		srv_reply_error(r, 404, "not_found", "chunk %s is not in this store", hex);
	else
		srv_reply_error(r, 404, "not_found", "object %s/%.2s/%s: not found", kind, hex, hex);
	return -1;
}

int srv_authz_parents(srv_req *r, const cJSON *manifest)
{
	const cJSON *parents = cJSON_GetObjectItemCaseSensitive(manifest, "parents"), *it;
	unsigned char *covered = NULL;
	mvms_oid *ids = NULL;
	size_t n = 0, i;
	int error, rc = 0;

	if (srv_authz_all(r) || !cJSON_IsArray(parents) || cJSON_GetArraySize(parents) == 0)
		return 0;
	ids = calloc((size_t)cJSON_GetArraySize(parents), sizeof(*ids));
	covered = calloc((size_t)cJSON_GetArraySize(parents), 1);
	if (!ids || !covered) {
		rc = srv_reply_error(r, 500, "error", "out of memory") - 1;
		goto done;
	}
	/* A parent that is not an id names no version: the commit's own checks refuse it. */
	cJSON_ArrayForEach(it, parents)
		if (cJSON_IsString(it) && mvms_oid_parse(&ids[n], it->valuestring) == 0)
			n++;
	if (n == 0)
		goto done;
	if (!r->token_models) {
		rc = srv_reply_error(r, 401, "unauthorized", "a token is needed") - 1;
		goto done;
	}
	if ((error = mvms_token_covers_objects(covered, r->st, r->token_models, "manifests", ids,
					       n)) < 0) {
		rc = srv_reply_mvms(r, error) - 1;
		goto done;
	}
	for (i = 0; i < n; i++)
		if (!covered[i]) {
			char hex[MVMS_OID_HEXSZ + 1];
			mvms_oid_fmt(hex, &ids[i]);
			rc = srv_reply_error(r, 403, "forbidden",
					     "parent %s: the token does not cover it (or no such "
					     "version); nothing was committed", hex) - 1;
			goto done;
		}
done:
	free(ids);
	free(covered);
	return rc;
}

/* Keeps only @v's id (see the top of this file for why the id). */
static void stub_version(mvms_version_info *v)
{
	size_t i;

	free(v->model);
	free(v->message);
	free(v->author);
	for (i = 0; i < v->parent_count; i++)
		free(v->parents[i].model);
	free(v->parents);
	for (i = 0; i < v->meta_count; i++) {
		free(v->meta_keys[i]);
		free(v->meta_values[i]);
	}
	free(v->meta_keys);
	free(v->meta_values);
	for (i = 0; i < v->ref_count; i++)
		free(v->refs[i]);
	free(v->refs);
	v->model = v->message = v->author = NULL;
	v->parents = NULL;
	v->meta_keys = v->meta_values = v->refs = NULL;
	v->parent_count = v->meta_count = v->ref_count = 0;
	v->number = v->created_at = 0;
	v->file_count = v->logical_bytes = 0;
}

void srv_authz_redact_version(const srv_req *r, mvms_version_info *v)
{
	size_t i;

	if (!v || srv_authz_all(r))
		return;
	if (!v->model || !srv_authz_covers(r, v->model)) {
		stub_version(v);
		return;
	}
	for (i = 0; i < v->parent_count; i++)
		if (v->parents[i].model && !srv_authz_covers(r, v->parents[i].model)) {
			free(v->parents[i].model);
			v->parents[i].model = NULL;
			v->parents[i].number = 0;
		}
}

void srv_authz_redact_lineage(const srv_req *r, mvms_lineage *l)
{
	size_t i;

	if (!l || srv_authz_all(r))
		return;
	for (i = 0; i < l->node_count; i++) {
		mvms_lineage_node *n = &l->nodes[i];
		if (n->model && srv_authz_covers(r, n->model))
			continue;
		free(n->model);
		free(n->message);
		n->model = n->message = NULL;
		n->number = n->created_at = 0;
	}
}
