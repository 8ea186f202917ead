/* SPDX-License-Identifier: MIT */
/*
 * Keeping a request to the models its token covers, beyond the router's check of the model
 * in the path: reads by hash (objects, chunks) are served only for objects that a version of
 * a covered model holds, and answer exactly as a missing object otherwise; a commit may not
 * name a parent of an uncovered model; versions of uncovered models that a walk of the DAG
 * meets (parents, lineage, log, merge bases) show as stubs, and the walk goes no further.
 *
 * Why a stub keeps its id: a version's id is the hash of its manifest, and the manifest of a
 * covered version lists its parents' ids, so a reader has the ids of the uncovered versions
 * next to its own anyway (a child in another model names the covered version as its parent;
 * its id is all the reader learns of it). Nothing else can be had for an id: every read by
 * hash of an uncovered version answers 404. Walks stop at the first uncovered version, so no
 * id deeper in another model's history shows; a merge base is not next to anything the
 * reader sees, so its stub has no id at all.
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


void srv_authz_redact_version(const srv_req *r, mvms_version_info *v)
{
	size_t i;

	if (!v || srv_authz_all(r))
		return;
	if (!v->model || !srv_authz_covers(r, v->model)) {
		mvms_version_info_redact(v);
		return;
	}
	for (i = 0; i < v->parent_count; i++)
		if (v->parents[i].model && !srv_authz_covers(r, v->parents[i].model)) {
			free(v->parents[i].model);
			v->parents[i].model = NULL;
			v->parents[i].number = 0;
		}
}

/*
 * The part of @l the caller may see: the versions joined to the start through covered
 * versions only, and, as stubs, the uncovered versions right next to one of them. What lies
 * beyond a stub (more of that model's history, or anything reached only through it) is cut,
 * with every edge that does not touch a covered version.
 */
void srv_authz_redact_lineage(const srv_req *r, mvms_lineage *l)
{
	unsigned char *cov = NULL, *seen = NULL;
	size_t *queue = NULL, *to = NULL, qh = 0, qt = 0, i, n, kept;

	if (!l || l->node_count == 0 || srv_authz_all(r))
		return;
	cov = calloc(l->node_count, 1);
	seen = calloc(l->node_count, 1);
	queue = calloc(l->node_count, sizeof(*queue));
	to = calloc(l->node_count, sizeof(*to));
	if (!cov || !seen || !queue || !to) {
		/* No memory to work out the part: show the start version alone. */
		for (i = 1; i < l->node_count; i++) {
			free(l->nodes[i].model);
			free(l->nodes[i].message);
		}
		l->node_count = 1;
		l->edge_count = 0;
		goto done;
	}
	for (i = 0; i < l->node_count; i++)
		cov[i] = l->nodes[i].model && srv_authz_covers(r, l->nodes[i].model);
	/* The start is covered (the router checked its model); walk out through covered ones. */
	seen[0] = 1;
	queue[qt++] = 0;
	while (qh < qt) {
		size_t cur = queue[qh++];
		if (!cov[cur])
			continue;
		for (i = 0; i < l->edge_count; i++) {
			size_t a = l->edges[i].child, b = l->edges[i].parent, o;
			if (a != cur && b != cur)
				continue;
			o = a == cur ? b : a;
			if (!seen[o]) {
				seen[o] = 1;
				queue[qt++] = o;
			}
		}
	}
	/* Keep what was reached, stubs for the uncovered; renumber. */
	for (i = 0, n = 0; i < l->node_count; i++) {
		mvms_lineage_node *x = &l->nodes[i];
		if (!seen[i] || !cov[i]) {
			free(x->model);
			free(x->message);
			x->model = x->message = NULL;
			x->number = x->created_at = 0;
		}
		if (!seen[i])
			continue;
		to[i] = n;
		l->nodes[n++] = *x;
	}
	kept = n;
	for (i = 0, n = 0; i < l->edge_count; i++) {
		mvms_lineage_edge e = l->edges[i];
		if (!seen[e.child] || !seen[e.parent] || (!cov[e.child] && !cov[e.parent]))
			continue;
		e.child = to[e.child];
		e.parent = to[e.parent];
		l->edges[n++] = e;
	}
	l->edge_count = n;
	l->node_count = kept;
done:
	free(cov);
	free(seen);
	free(queue);
	free(to);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * A log that crossed into other models (?branch=): covered versions as they are, and an
 * uncovered one as a stub only where it is the parent of a covered one listed (its id is in
 * that version's manifest); the rest of the uncovered history goes. Compacts @list.
 */
void srv_authz_redact_log(const srv_req *r, mvms_version_info **list, size_t *n)
{
	const char **parents = NULL;
	unsigned char *cov = NULL;
	size_t i, k, np = 0, m = 0;

	if (srv_authz_all(r) || *n == 0)
		return;
	cov = calloc(*n, 1);
	for (i = 0, k = 0; cov && i < *n; i++) {
		cov[i] = list[i]->model && srv_authz_covers(r, list[i]->model);
		k += cov[i] ? list[i]->parent_count : 0;
	}
	parents = cov ? calloc(k + 1, sizeof(*parents)) : NULL;
	for (i = 0; parents && i < *n; i++)
		for (k = 0; cov[i] && k < list[i]->parent_count; k++)
			parents[np++] = list[i]->parents[k].id;
	if (parents)
		qsort(parents, np, sizeof(*parents), cmp_str);
	for (i = 0; i < *n; i++) {
		const char *id = list[i]->id;
		/* Without memory to work it out, only the covered versions stay. */
		if (!cov || !parents ||
		    (!cov[i] && !bsearch(&id, parents, np, sizeof(*parents), cmp_str))) {
			mvms_version_info_free(list[i]);
			continue;
		}
		list[m++] = list[i];
	}
	*n = m;
	for (i = 0; i < *n; i++)
		srv_authz_redact_version(r, list[i]);
	free(parents);
	free(cov);
}

void srv_authz_redact_unseen(const srv_req *r, mvms_version_info *v)
{
	if (!v || srv_authz_all(r) || (v->model && srv_authz_covers(r, v->model))) {
		srv_authz_redact_version(r, v);
		return;
	}
	mvms_version_info_redact(v);
	v->id[0] = '\0';
}
