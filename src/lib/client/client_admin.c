/* SPDX-License-Identifier: MIT */
/*
 * The administration of a store handle over HTTP (client_int.h): statistics, verify, gc and
 * API tokens, each one request of docs/http-api.md (GET /v1/stats, POST /v1/verify, POST
 * /v1/gc, /v1/tokens) run by the server on its own store. The server's reply lists what a
 * verify found and what a gc removed; each item goes to the caller's callback in order, as
 * the local operation would call it, after the server has finished (progress is not
 * reported remotely). A verify that finds damage returns MVMS_EMISMATCH, as locally.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common.h"
#include "client_int.h"

static int oom(void)
{
	return mvms_error_set(MVMS_ERROR, "out of memory");
}

static double num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) ? v->valuedouble : 0.0;
}

static uint64_t u64(const cJSON *o, const char *key)
{
	int64_t v = mvms_wire__int(o, key);

	return v > 0 ? (uint64_t)v : 0;
}

/* transfer/http.c's limit on a reply that sends nothing (CURLOPT_LOW_SPEED_TIME), and the one
 * of a verify or gc: the server answers when it has finished, and a full verify reads every
 * stored byte, so the reply may be hours away with not a byte meanwhile. TCP keepalive still
 * notices a server that is gone. */
#define IDLE_DEFAULT 120L
#define IDLE_LONG (24L * 3600)

/* POST @path with @body for an operation that runs as long as it takes on the server. */
static int long_call(cJSON **out, mvms_store *st, const char *path, const cJSON *body,
		     const char *what)
{
	int error;

	curl_easy_setopt(st->remote->curl, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(st->remote->curl, CURLOPT_LOW_SPEED_TIME, IDLE_LONG);
	error = mvms_client__call(out, st, "POST", path, body, what);
	curl_easy_setopt(st->remote->curl, CURLOPT_LOW_SPEED_TIME, IDLE_DEFAULT);
	return error;
}

/* The array member @key of @doc, or NULL after setting an error. */
static const cJSON *list_of(const cJSON *doc, const char *key, const char *what)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(doc, key);

	if (!cJSON_IsArray(a)) {
		mvms_error_set(MVMS_ERROR, "remote: %s: the server's reply has no '%s' list", what, key);
		return NULL;
	}
	return a;
}

static int c_stats(mvms_stats *out, mvms_store *st)
{
	cJSON *doc = NULL;
	int error = 0;

	memset(out, 0, sizeof(*out));
	MVMS_TRY(mvms_client__call(&doc, st, "GET", "/v1/stats", NULL, "stats"));
	if (!cJSON_IsObject(doc)) {
		error = mvms_error_set(MVMS_ERROR, "remote: stats: the server's reply is no object");
		goto done;
	}
	out->models = u64(doc, "models");
	out->versions = u64(doc, "versions");
	out->files = u64(doc, "files");
	out->contents = u64(doc, "unique_files");
	out->logical_bytes = u64(doc, "logical_bytes");
	out->unique_bytes = u64(doc, "unique_bytes");
	out->stored_bytes = u64(doc, "stored_bytes");
	out->delta_chunks = u64(doc, "delta_chunks");
	out->delta_bytes = u64(doc, "delta_bytes");
	out->chunks = u64(doc, "chunks");
	out->packs = u64(doc, "packs");
	out->sources = u64(doc, "sources");
	out->source_bytes = u64(doc, "source_bytes");
	out->dedup_ratio = num(doc, "dedup_ratio");
	out->compression_ratio = num(doc, "compression_ratio");
done:
	cJSON_Delete(doc);
	return error;
}

/* Each item of @arr to @cb (NULL: counted only), as the local verify reports it. */
static int verify_items(uint64_t *count, const cJSON *arr, mvms_verify_cb cb, void *payload)
{
	const cJSON *it;
	mvms_verify_problem p;

	cJSON_ArrayForEach(it, arr) {
		(*count)++;
		p.object = mvms_wire__str(it, "object");
		p.message = mvms_wire__str(it, "message");
		p.versions = mvms_wire__str(it, "breaks");
		if (cb && cb(&p, payload) != 0)
			return mvms_error_set(MVMS_EUSER, "verify: stopped");
	}
	return 0;
}

static int c_verify(mvms_verify_result *out, mvms_store *st, const mvms_verify_options *opts)
{
	const cJSON *problems, *orphans;
	cJSON *body = NULL, *doc = NULL;
	int error = 0;

	memset(out, 0, sizeof(*out));
	body = cJSON_CreateObject();
	if (!body || !cJSON_AddBoolToObject(body, "quick", opts->quick != 0)) {
		error = oom();
		goto done;
	}
	MVMS_TRY(long_call(&doc, st, "/v1/verify", body, "verify"));
	if (!(problems = list_of(doc, "problems", "verify")) ||
	    !(orphans = list_of(doc, "orphans", "verify"))) {
		error = MVMS_ERROR;
		goto done;
	}
	out->packs = u64(doc, "packs");
	out->chunks = u64(doc, "chunks");
	out->bytes = u64(doc, "bytes");
	out->chunk_lists = u64(doc, "chunk_lists");
	out->manifests = u64(doc, "manifests");
	out->orphan_bytes = u64(doc, "orphan_bytes");
	/* The counts are the lists' lengths: the server lists every problem and orphan. */
	MVMS_TRY(verify_items(&out->problems, problems, opts->cb, opts->payload));
	MVMS_TRY(verify_items(&out->orphans, orphans, opts->orphan, opts->payload));
	if (out->problems)
		error = mvms_error_set(MVMS_EMISMATCH, "verify: %llu problem%s found",
				       (unsigned long long)out->problems, out->problems == 1 ? "" : "s");
done:
	cJSON_Delete(body);
	cJSON_Delete(doc);
	return error;
}

static int c_gc(mvms_gc_result *out, mvms_store *st, const mvms_gc_options *opts)
{
	const cJSON *items = NULL, *it;
	cJSON *body = NULL, *doc = NULL;
	mvms_gc_item item;
	int error = 0;

	memset(out, 0, sizeof(*out));
	if (opts->grace_seconds < 0)
		return mvms_error_set(MVMS_EINVALID, "gc: negative grace period");
	body = cJSON_CreateObject();
	/* The items only when someone listens: a real gc may remove many. */
	if (!body || !cJSON_AddNumberToObject(body, "grace_seconds", (double)opts->grace_seconds) ||
	    !cJSON_AddBoolToObject(body, "dry_run", opts->dry_run != 0) ||
	    !cJSON_AddBoolToObject(body, "items", opts->cb != NULL)) {
		error = oom();
		goto done;
	}
	MVMS_TRY(long_call(&doc, st, "/v1/gc", body, "gc"));
	if (opts->cb && !(items = list_of(doc, "items", "gc"))) {
		error = MVMS_ERROR;
		goto done;
	}
	out->packs = u64(doc, "packs");
	out->pack_bytes = u64(doc, "pack_bytes");
	out->chunks = u64(doc, "chunks");
	out->contents = u64(doc, "contents");
	out->objects = u64(doc, "objects");
	out->object_bytes = u64(doc, "object_bytes");
	out->unindexed_packs = u64(doc, "unindexed_packs");
	out->missing_packs = u64(doc, "missing_packs");
	out->temp_files = u64(doc, "temp_files");
	out->temp_bytes = u64(doc, "temp_bytes");
	out->kept_young = u64(doc, "kept_young_packs");
	out->kept_objects = u64(doc, "kept_young_objects");
	out->leases = u64(doc, "leases");
	out->expired_leases = u64(doc, "expired_leases");
	out->cutoff = mvms_wire__int(doc, "cutoff");
	out->rewritten_packs = u64(doc, "rewritten_packs");
	out->rewritten_chunks = u64(doc, "rewritten_chunks");
	cJSON_ArrayForEach(it, items) {
		item.key = mvms_wire__str(it, "key");
		item.size = u64(it, "size");
		item.age = mvms_wire__int(it, "age");
		item.reason = mvms_wire__str(it, "reason");
		if (opts->cb(&item, opts->payload) != 0) {
			error = mvms_error_set(MVMS_EUSER, "gc: stopped");
			goto done;
		}
	}
done:
	cJSON_Delete(body);
	cJSON_Delete(doc);
	return error;
}

/* ---- tokens ---- */

static const char *scope_name(int scope)
{
	return scope == MVMS_SCOPE_READ ? "read" : scope == MVMS_SCOPE_WRITE ? "write"
	     : scope == MVMS_SCOPE_ADMIN ? "admin" : NULL;
}

static int scope_of(const char *name)
{
	return !strcmp(name, "read") ? MVMS_SCOPE_READ : !strcmp(name, "write") ? MVMS_SCOPE_WRITE
	     : !strcmp(name, "admin") ? MVMS_SCOPE_ADMIN : 0;
}

/* One token as the server lists it (views.c); into @t, whose strings are then owned. */
static int token_info(mvms_token_info *t, const cJSON *o)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->id, sizeof(t->id), "%s", mvms_wire__str(o, "id"));
	t->scope = scope_of(mvms_wire__str(o, "scope"));
	if (!cJSON_IsObject(o) || strlen(t->id) != sizeof(t->id) - 1 || !t->scope)
		return mvms_error_set(MVMS_ERROR, "remote: token: the server sent a token without "
				      "an id or a scope");
	t->created_at = mvms_wire__time(o, "created_at");
	t->expires_at = mvms_wire__time(o, "expires_at");
	t->revoked_at = mvms_wire__time(o, "revoked_at");
	t->models = strdup(mvms_wire__str(o, "models"));
	t->description = strdup(mvms_wire__str(o, "description"));
	return t->models && t->description ? 0 : oom();
}

static int c_token_create(char **token_out, mvms_token_info **info_out, mvms_store *st,
			  int scope, const char *models, int64_t expires_at,
			  const char *description)
{
	mvms_token_info *info = NULL;
	cJSON *body = NULL, *doc = NULL;
	const char *secret;
	int error = 0;

	*token_out = NULL;
	if (info_out)
		*info_out = NULL;
	if (!scope_name(scope)) {
		error = mvms_error_set(MVMS_EINVALID, "token: bad scope %d (1 read, 2 write, 3 admin)",
				       scope);
		goto done;
	}
	if (expires_at < 0) {
		error = mvms_error_set(MVMS_EINVALID, "token: negative expiry time");
		goto done;
	}
	body = cJSON_CreateObject();
	if (!body || !cJSON_AddStringToObject(body, "scope", scope_name(scope)) ||
	    (models && !cJSON_AddStringToObject(body, "models", models)) ||
	    (expires_at && !cJSON_AddNumberToObject(body, "expires_at", (double)expires_at)) ||
	    !cJSON_AddStringToObject(body, "description", description ? description : "")) {
		error = oom();
		goto done;
	}
	MVMS_TRY(mvms_client__call(&doc, st, "POST", "/v1/tokens", body, "token create"));
	secret = mvms_wire__str(doc, "token");
	info = calloc(1, sizeof(*info));
	MVMS_CHECK_ALLOC(info, error);
	MVMS_TRY(token_info(info, doc));
	if (strncmp(secret, "mvms_", 5) != 0) {
		error = mvms_error_set(MVMS_ERROR, "remote: token create: the server sent no token");
		goto done;
	}
	MVMS_CHECK_ALLOC(*token_out = strdup(secret), error);
	if (info_out) {
		*info_out = info;
		info = NULL;
	}
done:
	/* The secret is shown once: do not leave it in freed memory. */
	if (doc && (secret = mvms_wire__str(doc, "token")) && *secret)
		memset((char *)secret, 0, strlen(secret));
	mvms_token_info_free(info);
	cJSON_Delete(body);
	cJSON_Delete(doc);
	return error;
}

static int c_token_list(mvms_token_info **out, size_t *count, mvms_store *st)
{
	mvms_token_info *list = NULL;
	cJSON *doc = NULL;
	const cJSON *it;
	size_t n = 0;
	int error = 0;

	*out = NULL;
	*count = 0;
	MVMS_TRY(mvms_client__call(&doc, st, "GET", "/v1/tokens", NULL, "token list"));
	if (!cJSON_IsArray(doc)) {
		error = mvms_error_set(MVMS_ERROR, "remote: token list: the server's reply is no list");
		goto done;
	}
	list = calloc((size_t)cJSON_GetArraySize(doc) + 1, sizeof(*list));
	MVMS_CHECK_ALLOC(list, error);
	cJSON_ArrayForEach(it, doc) {
		error = token_info(&list[n], it);
		n++; /* freed with the rest, whatever it holds */
		if (error < 0)
			goto done;
	}
	*out = list;
	*count = n;
	list = NULL;
done:
	mvms_token_list_free(list, n);
	cJSON_Delete(doc);
	return error;
}

static int c_token_revoke(mvms_store *st, const char *id)
{
	char *path = NULL;
	size_t i, n = id ? strlen(id) : 0;
	int error = 0;

	/* Checked here, as locally: a whole token pasted by mistake must not go into a URL
	 * (and the server's access log). */
	for (i = 0; i < n && ((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')); i++)
		;
	if (n != sizeof(((mvms_token_info *)0)->id) - 1 || i != n) {
		error = mvms_error_set(MVMS_EINVALID, "token: bad id (want the 16 hex digits "
				       "after \"mvms_\", as 'token list' shows)");
		goto done;
	}
	MVMS_TRY(mvms_client__path(&path, "/v1/tokens/%s", id));
	MVMS_TRY(mvms_client__call(NULL, st, "DELETE", path, NULL, "token revoke"));
done:
	free(path);
	return error;
}

/* GET /v1/whoami: the token's scope and glob as the server sees them. */
static int c_token_whoami(mvms_token_info **out, mvms_store *st)
{
	mvms_token_info *t = NULL;
	cJSON *doc = NULL;
	const char *scope, *models;
	int error = 0;

	*out = NULL;
	MVMS_TRY(mvms_client__call(&doc, st, "GET", "/v1/whoami", NULL, "token whoami"));
	scope = mvms_wire__str(doc, "scope");
	models = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "models"));
	MVMS_CHECK_ALLOC(t = calloc(1, sizeof(*t)), error);
	if (!strcmp(scope, "read"))
		t->scope = MVMS_SCOPE_READ;
	else if (!strcmp(scope, "write"))
		t->scope = MVMS_SCOPE_WRITE;
	else if (!strcmp(scope, "admin"))
		t->scope = MVMS_SCOPE_ADMIN;
	else if (strcmp(scope, "none") != 0) {
		error = mvms_error_set(MVMS_ERROR, "remote: token whoami: unknown scope '%s'", scope);
		goto done;
	}
	if (models)
		MVMS_CHECK_ALLOC(t->models = strdup(models), error);
	MVMS_CHECK_ALLOC(t->description = strdup(""), error);
	*out = t;
	t = NULL;
done:
	mvms_token_info_free(t);
	cJSON_Delete(doc);
	return error;
}

void mvms_client__admin_ops(mvms_transport *t)
{
	t->token_whoami = c_token_whoami;
	t->stats = c_stats;
	t->verify = c_verify;
	t->gc = c_gc;
	t->token_create = c_token_create;
	t->token_list = c_token_list;
	t->token_revoke = c_token_revoke;
}
