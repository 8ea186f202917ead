/* SPDX-License-Identifier: MIT */
/*
 * The Hugging Face Hub's read API for models (docs/hf-compat.md), what huggingface_hub,
 * @huggingface/hub and transformers.js ask a server named by HF_ENDPOINT / hubUrl:
 *   GET /api/models                              models the token covers
 *   GET /api/models/{m}[/revision/{rev}]         model info: sha, siblings, lastModified...
 *   GET /api/models/{m}/refs                     branches and tags
 *   GET /api/models/{m}/commits/{rev}            the versions {rev} descends from
 * The tree listing is hf_tree.c's and file downloads (resolve) hf_resolve.c's. Errors carry
 * the Hub's X-Error-Code (RepoNotFound, RevisionNotFound, EntryNotFound) that clients turn
 * into their exceptions; a model the token does not cover answers exactly as a missing one
 * (SRV_AUTHZ_HIDDEN, srv_reply_hidden). Nothing here writes, and nothing is made up: a Hub
 * field the store has no value for (downloads, likes, pipeline_tag, an LFS sha256) is left
 * out rather than filled.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/queue.h>
#include "hf.h"

/* ---- shared with hf_tree.c and hf_resolve.c ---- */

int hf_error(srv_req *r, int status, const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	srv_reply_hub_error(r, status, code, msg);
	return 0;
}

/* The answer for a model that does not exist and for one the token does not cover: one
 * text, so that nothing tells them apart (the Hub does the same for private repos). */
int srv_reply_hidden(srv_req *r)
{
	return hf_error(r, 404, "RepoNotFound", "Repository not found");
}

const char *hf_time(char *buf, size_t n, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm))
		snprintf(buf, n, "1970-01-01T00:00:00.000Z");
	else
		strftime(buf, n, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
	return buf;
}

int hf_bool_query(srv_req *r, const char *key)
{
	const char *v = srv_query(r, key);

	if (!v)
		return 0;
	if (!*v || !strcasecmp(v, "true") || !strcmp(v, "1"))
		return 1;
	if (!strcasecmp(v, "false") || !strcmp(v, "0"))
		return 0;
	hf_error(r, 400, NULL, "the query parameter '%s' is true or false, not '%s'", key, v);
	return -1;
}

int hf_open(mvms_version_info **out, srv_req *r, const char *rev)
{
	const char *model = r->caps[0];
	mvms_model_info *m = NULL;
	mvms_version_info *v = NULL;
	char *spec = NULL;
	int error;

	*out = NULL;
	/* An invalid name is a name no model has: the same answer as a missing one. */
	if ((error = mvms_model_get(&m, r->st, model)) < 0) {
		if (error == MVMS_ENOTFOUND || error == MVMS_EINVALID)
			return srv_reply_hidden(r) - 1;
		return srv_reply_mvms(r, error) - 1;
	}
	mvms_model_info_free(m);
	if (!rev || !strcmp(rev, "HEAD"))
		rev = "latest";
	else if (!strncmp(rev, "refs/heads/", 11))
		rev += 11;
	else if (!strncmp(rev, "refs/tags/", 10))
		rev += 10;
	/* MODEL@OTHER@REF would name another model's version. */
	if (!*rev || strchr(rev, '@'))
		return hf_error(r, 404, "RevisionNotFound", "Invalid rev id: %s", rev) - 1;
	if (asprintf(&spec, "%s@%s", model, rev) < 0)
		return srv_reply_error(r, 500, "error", "out of memory") - 1;
	error = mvms_version_resolve(&v, r->st, spec);
	free(spec);
	if (error == MVMS_ENOTFOUND || error == MVMS_EAMBIGUOUS || error == MVMS_EINVALID)
		return hf_error(r, 404, "RevisionNotFound", "Invalid rev id: %s (%s)", rev,
				mvms_error_last()) - 1;
	if (error < 0)
		return srv_reply_mvms(r, error) - 1;
	/* A full id resolves whatever model holds it: only this model's versions are its
	 * revisions. */
	if (!v->model || strcmp(v->model, model) != 0 || v->deleted_at) {
		error = hf_error(r, 404, "RevisionNotFound", "Invalid rev id: %s%s", rev,
				 v->deleted_at ? " (the version was deleted)" : "") - 1;
		mvms_version_info_free(v);
		return error;
	}
	*out = v;
	return 0;
}

/* ---- model info ---- */

/* The values of every "expand" (or "expand[]") query parameter; NULL-terminated, borrowed. */
static const char **expand_list(srv_req *r, size_t *n)
{
	struct evkeyval *kv;
	const char **list;
	size_t k = 0;

	*n = 0;
	TAILQ_FOREACH(kv, &r->query, next)
		k++;
	if (!(list = calloc(k + 1, sizeof(*list))))
		return NULL;
	TAILQ_FOREACH(kv, &r->query, next)
		if (!strcmp(kv->key, "expand") || !strcmp(kv->key, "expand[]"))
			list[(*n)++] = kv->value;
	return list;
}

/* Whether field @f goes in: every field when no expand= was given, else the asked ones. */
static int want(const char **ex, size_t n, const char *f)
{
	size_t i;

	if (n == 0)
		return 1;
	for (i = 0; i < n; i++)
		if (!strcmp(ex[i], f))
			return 1;
	return 0;
}

/* Adds the elements of tensor shape @shape ("[2,3]") to *count; 0, or -1 when it is not
 * one (or overflows). */
static int shape_elems(uint64_t *count, const char *shape)
{
	uint64_t total = 1;
	const char *p = shape;

	if (!p || *p++ != '[')
		return -1;
	while (*p && *p != ']') {
		char *end;
		unsigned long long d;
		errno = 0;
		d = strtoull(p, &end, 10);
		if (end == p || errno)
			return -1;
		if (d && total > UINT64_MAX / d)
			return -1;
		total *= d;
		p = *end == ',' ? end + 1 : end;
	}
	if (*p != ']')
		return -1;
	*count += total;
	return 0;
}

/*
 * The Hub's "safetensors" field: parameters per dtype and their total, over the tensors of
 * the version's safetensors files (as the store indexed them at push). NULL when there is
 * none. *error is set when the store fails.
 */
static cJSON *safetensors_json(int *error, srv_req *r, const mvms_file_info *files, size_t n)
{
	cJSON *doc = NULL, *params = NULL, *it;
	uint64_t total = 0;
	size_t i, k;

	*error = 0;
	for (i = 0; i < n; i++) {
		mvms_tensor_summary *t = NULL;
		size_t nt = 0;
		if (strcmp(files[i].format ? files[i].format : "", "safetensors") != 0)
			continue;
		if ((*error = mvms_file_tensors(&t, &nt, r->st, files[i].id)) < 0)
			break;
		for (k = 0; k < nt; k++) {
			uint64_t c = 0;
			if (!t[k].dtype || shape_elems(&c, t[k].shape) < 0)
				continue;
			if (!doc) {
				doc = cJSON_CreateObject();
				params = cJSON_AddObjectToObject(doc, "parameters");
			}
			if ((it = cJSON_GetObjectItemCaseSensitive(params, t[k].dtype)))
				cJSON_SetNumberValue(it, it->valuedouble + (double)c);
			else
				cJSON_AddNumberToObject(params, t[k].dtype, (double)c);
			total += c;
		}
		mvms_tensor_list_free(t, nt);
	}
	if (*error < 0) {
		cJSON_Delete(doc);
		return NULL;
	}
	if (doc)
		cJSON_AddNumberToObject(doc, "total", (double)total);
	return doc;
}

/* The Hub's tags that the store can back: the formats of the version's files. */
static cJSON *tags_json(const mvms_file_info *files, size_t n)
{
	static const char *const formats[] = { "safetensors", "gguf", "onnx" };
	cJSON *arr = cJSON_CreateArray();
	size_t i, k;

	for (k = 0; k < sizeof(formats) / sizeof(formats[0]); k++)
		for (i = 0; i < n; i++)
			if (files[i].format && !strcmp(files[i].format, formats[k])) {
				cJSON_AddItemToArray(arr, cJSON_CreateString(formats[k]));
				break;
			}
	return arr;
}

static cJSON *siblings_json(const mvms_file_info *files, size_t n, int blobs)
{
	cJSON *arr = cJSON_CreateArray(), *o;
	size_t i;

	for (i = 0; i < n; i++) {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "rfilename", files[i].path);
		/* No "lfs": the Hub puts the file's sha256 there and the store keys files by
		 * BLAKE2b; blobId is the store's file id (docs/hf-compat.md). */
		if (blobs) {
			cJSON_AddNumberToObject(o, "size", (double)files[i].size);
			cJSON_AddStringToObject(o, "blobId", files[i].id);
		}
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

/* The fields of a model every answer about it has: _id, id, and those asked for. */
static void model_fields(cJSON *doc, srv_req *r, const mvms_model_info *m, const char **ex,
			 size_t nex)
{
	const char *slash = strchr(m->name, '/');
	char tbuf[40];

	cJSON_AddStringToObject(doc, "_id", m->uid);
	cJSON_AddStringToObject(doc, "id", m->name);
	if (nex == 0)
		cJSON_AddStringToObject(doc, "modelId", m->name);
	if (slash && want(ex, nex, "author")) {
		char *author = strndup(m->name, (size_t)(slash - m->name));
		if (author)
			cJSON_AddStringToObject(doc, "author", author);
		free(author);
	}
	if (want(ex, nex, "createdAt"))
		cJSON_AddStringToObject(doc, "createdAt", hf_time(tbuf, sizeof(tbuf), m->created_at));
	/* Private: nobody reads it without a token. No gating, no disabling in the store. */
	if (want(ex, nex, "private"))
		cJSON_AddBoolToObject(doc, "private", !r->opts->allow_anonymous_read);
	if (want(ex, nex, "gated"))
		cJSON_AddBoolToObject(doc, "gated", 0);
	if (want(ex, nex, "disabled"))
		cJSON_AddBoolToObject(doc, "disabled", 0);
}

/* GET /api/models/{m} and /api/models/{m}/revision/{rev} */
int srv_hf_model_info(srv_req *r)
{
	mvms_version_info *v = NULL;
	mvms_model_info *m = NULL;
	mvms_file_info *files = NULL;
	const char **ex = NULL;
	size_t n = 0, nex = 0;
	cJSON *doc = NULL, *st;
	char tbuf[40];
	int blobs, error = 0;

	if ((blobs = hf_bool_query(r, "blobs")) < 0)
		return 0;
	if (hf_open(&v, r, r->ncaps > 1 ? r->caps[1] : NULL) < 0)
		return 0;
	if (!(ex = expand_list(r, &nex))) {
		error = mvms_error_set(MVMS_ERROR, "out of memory");
		goto done;
	}
	if ((error = mvms_model_get(&m, r->st, r->caps[0])) < 0 ||
	    (error = mvms_version_files(&files, &n, r->st, v)) < 0)
		goto done;
	doc = cJSON_CreateObject();
	model_fields(doc, r, m, ex, nex);
	if (want(ex, nex, "sha"))
		cJSON_AddStringToObject(doc, "sha", v->id);
	if (want(ex, nex, "lastModified"))
		cJSON_AddStringToObject(doc, "lastModified", hf_time(tbuf, sizeof(tbuf), v->created_at));
	if (want(ex, nex, "tags"))
		cJSON_AddItemToObject(doc, "tags", tags_json(files, n));
	if (want(ex, nex, "siblings"))
		cJSON_AddItemToObject(doc, "siblings", siblings_json(files, n, blobs));
	if (want(ex, nex, "usedStorage"))
		cJSON_AddNumberToObject(doc, "usedStorage", (double)v->logical_bytes);
	if (want(ex, nex, "safetensors")) {
		if (!(st = safetensors_json(&error, r, files, n)) && error < 0)
			goto done;
		if (st)
			cJSON_AddItemToObject(doc, "safetensors", st);
	}
	evhttp_add_header(evhttp_request_get_output_headers(r->req), "X-Repo-Commit", v->id);
	srv_reply_json(r, 200, doc);
	doc = NULL;
done:
	cJSON_Delete(doc);
	free(ex);
	mvms_file_list_free(files, n);
	mvms_model_info_free(m);
	mvms_version_info_free(v);
	return error;
}

/* GET /api/models[?search=&author=&limit=]: the models the token covers, by name. */
int srv_hf_models_list(srv_req *r)
{
	const char *search = srv_query(r, "search"), *author = srv_query(r, "author");
	const char *lim = srv_query(r, "limit");
	mvms_model_info *list = NULL;
	size_t n = 0, i, shown = 0, alen = author ? strlen(author) : 0;
	long limit = 0;
	cJSON *arr;
	char tbuf[40];
	int error;

	if (lim) {
		char *end;
		errno = 0;
		limit = strtol(lim, &end, 10);
		if (!*lim || *end || errno || limit < 1)
			return hf_error(r, 400, NULL, "limit is a positive integer, not '%s'", lim);
	}
	if ((error = mvms_model_list(&list, &n, r->st)) < 0)
		return error;
	arr = cJSON_CreateArray();
	for (i = 0; i < n && (limit == 0 || shown < (size_t)limit); i++) {
		mvms_version_info *v = NULL;
		char *spec = NULL;
		cJSON *o;
		if (!srv_authz_covers(r, list[i].name) || (search && !strstr(list[i].name, search)) ||
		    (author && (strncmp(list[i].name, author, alen) != 0 || list[i].name[alen] != '/')))
			continue;
		o = cJSON_CreateObject();
		model_fields(o, r, &list[i], NULL, 0);
		/* The head of the default branch, when the model has one. */
		if (asprintf(&spec, "%s@latest", list[i].name) >= 0 &&
		    mvms_version_resolve(&v, r->st, spec) == 0) {
			cJSON_AddStringToObject(o, "sha", v->id);
			cJSON_AddStringToObject(o, "lastModified", hf_time(tbuf, sizeof(tbuf), v->created_at));
		}
		mvms_version_info_free(v);
		free(spec);
		cJSON_AddItemToArray(arr, o);
		shown++;
	}
	mvms_model_list_free(list, n);
	srv_reply_json(r, 200, arr);
	return 0;
}

/* ---- refs ---- */

static cJSON *refs_json(const mvms_ref_info *list, size_t n, const char *kind)
{
	cJSON *arr = cJSON_CreateArray(), *o;
	char ref[600];
	size_t i;

	for (i = 0; i < n; i++) {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", list[i].name);
		snprintf(ref, sizeof(ref), "refs/%s/%s", kind, list[i].name);
		cJSON_AddStringToObject(o, "ref", ref);
		cJSON_AddStringToObject(o, "targetCommit", list[i].id);
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

/* GET /api/models/{m}/refs: {"branches", "converts", "tags"[, "pullRequests"]} */
int srv_hf_refs(srv_req *r)
{
	mvms_ref_info *branches = NULL, *tags = NULL;
	mvms_model_info *m = NULL;
	size_t nb = 0, nt = 0;
	cJSON *doc;
	int prs, error;

	if ((prs = hf_bool_query(r, "include_prs")) < 0)
		return 0;
	if ((error = mvms_model_get(&m, r->st, r->caps[0])) < 0)
		return error == MVMS_ENOTFOUND || error == MVMS_EINVALID ? srv_reply_hidden(r) : error;
	mvms_model_info_free(m);
	if ((error = mvms_branch_list(&branches, &nb, r->st, r->caps[0])) < 0 ||
	    (error = mvms_tag_list(&tags, &nt, r->st, r->caps[0])) < 0)
		goto done;
	doc = cJSON_CreateObject();
	cJSON_AddItemToObject(doc, "branches", refs_json(branches, nb, "heads"));
	/* The Hub's converts (refs/convert/...) and pull requests have no counterpart. */
	cJSON_AddItemToObject(doc, "converts", cJSON_CreateArray());
	cJSON_AddItemToObject(doc, "tags", refs_json(tags, nt, "tags"));
	if (prs)
		cJSON_AddItemToObject(doc, "pullRequests", cJSON_CreateArray());
	srv_reply_json(r, 200, doc);
done:
	mvms_ref_list_free(branches, nb);
	mvms_ref_list_free(tags, nt);
	return error;
}

/* ---- commits ---- */

static int cmp_id(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* One commit as the Hub lists it: id, title (the message's first line), message, authors,
 * date. */
static cJSON *commit_json(const mvms_version_info *v)
{
	cJSON *o = cJSON_CreateObject(), *authors, *a;
	const char *msg = v->message ? v->message : "";
	size_t tlen = strcspn(msg, "\n");
	char tbuf[40], *title = strndup(msg, tlen);

	cJSON_AddStringToObject(o, "id", v->id);
	cJSON_AddStringToObject(o, "title", title ? title : "");
	cJSON_AddStringToObject(o, "message", msg);
	authors = cJSON_AddArrayToObject(o, "authors");
	a = cJSON_CreateObject();
	cJSON_AddStringToObject(a, "user", v->author ? v->author : "");
	cJSON_AddItemToArray(authors, a);
	cJSON_AddStringToObject(o, "date", hf_time(tbuf, sizeof(tbuf), v->created_at));
	free(title);
	return o;
}

/*
 * GET /api/models/{m}/commits/{rev}: the versions of the model that {rev} descends from, it
 * included, newest first (huggingface_hub's list_repo_commits, @huggingface/hub's
 * listCommits). All in one page (no Link header), whatever limit= says. Ancestors in other
 * models (a fine-tune's base) are not this repository's commits and are left out.
 */
int srv_hf_commits(srv_req *r)
{
	mvms_version_info *v = NULL, **log = NULL;
	mvms_lineage *l = NULL;
	const char **ids = NULL;
	size_t n = 0, nids = 0, i;
	char spec[600];
	cJSON *arr;
	int error = 0;

	if (hf_open(&v, r, r->caps[1]) < 0)
		return 0;
	snprintf(spec, sizeof(spec), "%s@%s", r->caps[0], v->id);
	if ((error = mvms_lineage_get(&l, r->st, spec, MVMS_LINEAGE_ANCESTORS, -1)) < 0 ||
	    (error = mvms_version_log(&log, &n, r->st, r->caps[0], NULL)) < 0)
		goto done;
	if (!(ids = calloc(l->node_count + 1, sizeof(*ids)))) {
		error = mvms_error_set(MVMS_ERROR, "out of memory");
		goto done;
	}
	for (i = 0; i < l->node_count; i++)
		if (l->nodes[i].model && !strcmp(l->nodes[i].model, r->caps[0]))
			ids[nids++] = l->nodes[i].id;
	qsort(ids, nids, sizeof(*ids), cmp_id);
	arr = cJSON_CreateArray();
	for (i = 0; i < n; i++) {
		const char *id = log[i]->id;
		if (!log[i]->deleted_at && bsearch(&id, ids, nids, sizeof(*ids), cmp_id))
			cJSON_AddItemToArray(arr, commit_json(log[i]));
	}
	evhttp_add_header(evhttp_request_get_output_headers(r->req), "X-Repo-Commit", v->id);
	srv_reply_json(r, 200, arr);
done:
	free(ids);
	mvms_version_list_free(log, n);
	mvms_lineage_free(l);
	mvms_version_info_free(v);
	return error;
}
