/* SPDX-License-Identifier: MIT */
/*
 * Remote push and pull over the HTTP API (libcurl easy, one connection kept alive). Push:
 * chunk locally into the cache store, ask which chunks the server lacks, upload packs of
 * those only, commit the manifest with the branch head we built on. Pull: fetch the
 * manifest and chunk lists (checked against their ids), fetch packs of the chunks the cache
 * lacks (checked on arrival), write files from the cache (checked again).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>
#include <cjson/cJSON.h>
#include <sodium.h>
#include "store_int.h"
#include "mvms/remote.h"
#include "mvms/gc.h"
#include "mvms/sync.h"
#include "manifest.h"
#include "hash.h"

#define MISSING_BATCH 100000u     /* ids per missing-chunks question */
#define FETCH_BATCH 4096u         /* chunks per fetched pack (the server's limit) */

struct mvms_remote {
	char *url;                /* without a trailing '/' */
	char *auth;               /* "Authorization: Bearer ..." */
	CURL *curl;
	mvms_store *cache;
	uint64_t pack_size;
	mvms_remote_stats stats;
	char lease[MVMS_LEASE_ID_HEXSZ + 1]; /* sent as Mvms-Lease while a push holds one */
	char last_code[40];       /* "code" of the last JSON error reply ("gc_conflict") */
};

static size_t collect_cb(char *p, size_t size, size_t n, void *arg)
{
	mvms_buf *b = arg;

	return mvms_buf_put(b, p, size * n) < 0 ? 0 : size * n;
}

/* Maps an HTTP error reply to an MVMS_E* code with the server's own message: the code the
 * reply names (mvms_error_from_name), so a remote command fails as the local one would;
 * by the status alone when the reply names none we know (a proxy's page, an older server). */
static int http_error(mvms_remote *r, long status, const mvms_buf *body, const char *what)
{
	cJSON *doc = cJSON_ParseWithLength(body->ptr ? body->ptr : "", body->size);
	cJSON *err = cJSON_GetObjectItemCaseSensitive(doc, "error");
	cJSON *msg = cJSON_GetObjectItemCaseSensitive(err, "message");
	cJSON *c = cJSON_GetObjectItemCaseSensitive(err, "code");
	int code = cJSON_IsString(c) ? mvms_error_from_name(c->valuestring) : 0;
	int rc;

	if (code >= 0)
		code = status == 404 ? MVMS_ENOTFOUND : status == 409 ? MVMS_ECONFLICT
		     : (status == 401 || status == 403) ? MVMS_EAUTH
		     : (status >= 400 && status < 500) ? MVMS_EINVALID : MVMS_ERROR;
	rc = mvms_error_set(code, "remote: %s: HTTP %ld: %s", what, status,
			    cJSON_IsString(msg) ? msg->valuestring : "(no message)");

	snprintf(r->last_code, sizeof(r->last_code), "%s", cJSON_IsString(c) ? c->valuestring : "");

	cJSON_Delete(doc);
	return rc;
}

/* One request. 0 with *status and the reply body in @resp; <0 when the request failed. */
static int http(mvms_remote *r, const char *method, const char *path, const void *body,
		size_t len, const char *ctype, mvms_buf *resp, long *status)
{
	struct curl_slist *h = NULL;
	char *url = NULL, ct[128];
	CURLcode cc;
	int error = 0;

	mvms_buf_clear(resp);
	if (asprintf(&url, "%s%s", r->url, path) < 0)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	if (r->auth)
		h = curl_slist_append(h, r->auth);
	if (r->lease[0]) {
		char lh[64];
		snprintf(lh, sizeof(lh), "Mvms-Lease: %s", r->lease);
		h = curl_slist_append(h, lh);
	}
	if (ctype) {
		snprintf(ct, sizeof(ct), "Content-Type: %s", ctype);
		h = curl_slist_append(h, ct);
	}
	h = curl_slist_append(h, "Expect:");
	curl_easy_setopt(r->curl, CURLOPT_URL, url);
	curl_easy_setopt(r->curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(r->curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(r->curl, CURLOPT_WRITEFUNCTION, collect_cb);
	curl_easy_setopt(r->curl, CURLOPT_WRITEDATA, resp);
	if (body) {
		curl_easy_setopt(r->curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(r->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	} else {
		curl_easy_setopt(r->curl, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(r->curl, CURLOPT_CUSTOMREQUEST, method);
	}
	cc = curl_easy_perform(r->curl);
	r->stats.requests++;
	if (cc != CURLE_OK) {
		error = mvms_error_set(cc == CURLE_OPERATION_TIMEDOUT ? MVMS_ETIMEOUT : MVMS_ERROR,
				       "remote: %s %s: %s", method, r->url, curl_easy_strerror(cc));
		goto done;
	}
	curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, status);
	r->stats.bytes_sent += body ? len : 0;
	r->stats.bytes_received += resp->size;
done:
	curl_easy_setopt(r->curl, CURLOPT_POSTFIELDS, NULL);
	curl_easy_setopt(r->curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(h);
	free(url);
	return error;
}

/* A request whose success is @ok (200 or 201); anything else becomes an error. */
static int call(mvms_remote *r, const char *method, const char *path, const void *body, size_t len,
		const char *ctype, mvms_buf *resp, const char *what)
{
	long status = 0;
	int error;

	if ((error = http(r, method, path, body, len, ctype, resp, &status)) < 0)
		return error;
	if (status == 304) {
		/* Not modified (a long-poll that timed out): success, nothing new. */
		mvms_buf_clear(resp);
		return 0;
	}
	if (status != 200 && status != 201)
		return http_error(r, status, resp, what);
	return 0;
}

static cJSON *parse_json(const mvms_buf *b, const char *what)
{
	cJSON *doc = NULL;

	if (b->ptr && mvms_json_has_nul(b->ptr, b->size))
		mvms_error_set(MVMS_ERROR, "remote: %s: the server's reply has a NUL (\\u0000) in a string",
			       what);
	else if (!(doc = cJSON_ParseWithLength(b->ptr ? b->ptr : "", b->size)))
		mvms_error_set(MVMS_ERROR, "remote: %s: the server's reply is not JSON", what);
	return doc;
}

int mvms_remote_escape(char **out, const char *s)
{
	char *e = curl_easy_escape(NULL, s, 0);

	*out = e ? strdup(e) : NULL;
	curl_free(e);
	return *out ? 0 : mvms_error_set(MVMS_ERROR, "out of memory");
}

int mvms_remote_get(char **out, size_t *out_len, mvms_remote *r, const char *path)
{
	mvms_buf resp = MVMS_BUF_INIT;
	int error;

	*out = NULL;
	if ((error = call(r, "GET", path, NULL, 0, NULL, &resp, path)) < 0) {
		mvms_buf_dispose(&resp);
		return error;
	}
	if (out_len)
		*out_len = resp.size;
	*out = mvms_buf_detach(&resp);
	return 0;
}

static const char *default_cache(char *buf, size_t n, const char *url)
{
	const char *x = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	mvms_oid h;
	char hex[MVMS_OID_HEXSZ + 1];

	mvms_oid_hash(&h, url, strlen(url));
	mvms_oid_fmt(hex, &h);
	if (x && *x)
		snprintf(buf, n, "%s/mvms-store/remote-%.16s", x, hex);
	else
		snprintf(buf, n, "%s/.cache/mvms-store/remote-%.16s", home && *home ? home : ".", hex);
	return buf;
}

static int mkdirs(const char *path)
{
	char tmp[4096], *p;

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (p = tmp + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
				return -1;
			*p = '/';
		}
	return 0;
}

int mvms_remote_open(mvms_remote **out, const char *url, const char *token, const char *cache_dir)
{
	mvms_remote *r = NULL;
	mvms_buf resp = MVMS_BUF_INIT;
	mvms_store_options so = MVMS_STORE_OPTIONS_INIT;
	mvms_store_info info;
	cJSON *doc = NULL, *avg, *lvl, *ps;
	char dir[4096];
	size_t n;
	int error = 0;

	*out = NULL;
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
		error = mvms_error_set(MVMS_EINVALID, "remote: '%s' is not an http(s) URL", url);
		goto done;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	r = calloc(1, sizeof(*r));
	MVMS_CHECK_ALLOC(r, error);
	r->url = strdup(url);
	MVMS_CHECK_ALLOC(r->url, error);
	n = strlen(r->url);
	while (n > 0 && r->url[n - 1] == '/')
		r->url[--n] = '\0';
	if (token && *token && asprintf(&r->auth, "Authorization: Bearer %s", token) < 0) {
		r->auth = NULL;
		error = mvms_error_set(MVMS_ERROR, "out of memory");
		goto done;
	}
	r->curl = curl_easy_init();
	if (!r->curl) {
		error = mvms_error_set(MVMS_ERROR, "remote: curl failed to initialise");
		goto done;
	}
	curl_easy_setopt(r->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->curl, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(r->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(r->curl, CURLOPT_LOW_SPEED_TIME, 120L);
	curl_easy_setopt(r->curl, CURLOPT_USERAGENT, "mvms-store/" PACKAGE_VERSION);
	/* curl's 16 KiB default costs a recv, a poll and a callback per 16 KiB of a 50 GB pull;
	 * 512 KiB (the largest every libcurl since 7.53 takes) also hands most chunks over whole. */
	curl_easy_setopt(r->curl, CURLOPT_BUFFERSIZE, 8192L * 1024);
	MVMS_TRY(call(r, "GET", "/v1/store", NULL, 0, NULL, &resp, "store parameters"));
	if (!(doc = parse_json(&resp, "store parameters"))) {
		error = MVMS_ERROR;
		goto done;
	}
	avg = cJSON_GetObjectItemCaseSensitive(doc, "chunk_avg");
	lvl = cJSON_GetObjectItemCaseSensitive(doc, "zstd_level");
	ps = cJSON_GetObjectItemCaseSensitive(doc, "pack_size");
	if (!cJSON_IsNumber(avg) || !cJSON_IsNumber(lvl) || !cJSON_IsNumber(ps)) {
		error = mvms_error_set(MVMS_ERROR, "remote: the server did not send its parameters");
		goto done;
	}
	so.chunk_avg = (uint32_t)avg->valuedouble;
	so.level = (int)lvl->valuedouble;
	r->pack_size = (uint64_t)ps->valuedouble;
	if (!cache_dir)
		cache_dir = default_cache(dir, sizeof(dir), r->url);
	if (mkdirs(cache_dir) < 0) {
		error = mvms_error_set(MVMS_ERROR, "remote: cache %s: %s", cache_dir, strerror(errno));
		goto done;
	}
	error = mvms_store_open(&r->cache, cache_dir, 0);
	if (error == MVMS_ENOTFOUND) {
		mvms_error_clear();
		error = mvms_store_init(&r->cache, cache_dir, &so);
	}
	if (error < 0)
		goto done;
	mvms_store_get_info(&info, r->cache);
	if (info.chunk_avg != so.chunk_avg) {
		error = mvms_error_set(MVMS_EINVALID,
				       "remote: the cache %s chunks at %u bytes, the server at %u: use "
				       "another cache", cache_dir, info.chunk_avg, so.chunk_avg);
		goto done;
	}
	*out = r;
	r = NULL;
done:
	cJSON_Delete(doc);
	mvms_buf_dispose(&resp);
	mvms_remote_free(r);
	return error;
}

void mvms_remote_free(mvms_remote *r)
{
	if (!r)
		return;
	if (r->curl)
		curl_easy_cleanup(r->curl);
	mvms_store_free(r->cache);
	free(r->url);
	free(r->auth);
	free(r);
}

void mvms_remote_get_stats(mvms_remote_stats *out, const mvms_remote *r)
{
	*out = r->stats;
}

/* GET /v1/models/{m}/versions/{ref} as JSON. */
static int get_version(cJSON **out, mvms_remote *r, const char *model, const char *ref)
{
	char *em = NULL, *er = NULL, *path = NULL;
	mvms_buf resp = MVMS_BUF_INIT;
	int error = 0;

	*out = NULL;
	MVMS_TRY(mvms_remote_escape(&em, model));
	MVMS_TRY(mvms_remote_escape(&er, ref));
	if (asprintf(&path, "/v1/models/%s/versions/%s", em, er) < 0) {
		path = NULL;
		error = mvms_error_set(MVMS_ERROR, "out of memory");
		goto done;
	}
	MVMS_TRY(call(r, "GET", path, NULL, 0, NULL, &resp, path));
	if (!(*out = parse_json(&resp, path)))
		error = MVMS_ERROR;
done:
	mvms_buf_dispose(&resp);
	free(em);
	free(er);
	free(path);
	return error;
}

static const char *json_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The model's uid, registering the model on the server when it is new. */
static int model_uid(char *uid, mvms_remote *r, const char *model)
{
	char *em = NULL, *path = NULL, *body = NULL;
	mvms_buf resp = MVMS_BUF_INIT;
	cJSON *doc = NULL, *req = NULL;
	long status = 0;
	const char *u;
	int error = 0;

	MVMS_TRY(mvms_remote_escape(&em, model));
	if (asprintf(&path, "/v1/models/%s", em) < 0) {
		path = NULL;
		error = mvms_error_set(MVMS_ERROR, "out of memory");
		goto done;
	}
	MVMS_TRY(http(r, "GET", path, NULL, 0, NULL, &resp, &status));
	if (status == 404) {
		req = cJSON_CreateObject();
		cJSON_AddStringToObject(req, "name", model);
		body = cJSON_PrintUnformatted(req);
		MVMS_TRY(http(r, "POST", "/v1/models", body, strlen(body), "application/json", &resp,
			      &status));
		if (status == 409) /* registered by someone else meanwhile */
			MVMS_TRY(http(r, "GET", path, NULL, 0, NULL, &resp, &status));
	}
	if (status != 200 && status != 201) {
		error = http_error(r, status, &resp, "model");
		goto done;
	}
	if (!(doc = parse_json(&resp, "model"))) {
		error = MVMS_ERROR;
		goto done;
	}
	u = json_str(doc, "uid");
	if (!u || strlen(u) != 32) {
		error = mvms_error_set(MVMS_ERROR, "remote: the server sent no model uid");
		goto done;
	}
	memcpy(uid, u, 33);
done:
	cJSON_Delete(doc);
	cJSON_Delete(req);
	free(body);
	mvms_buf_dispose(&resp);
	free(em);
	free(path);
	return error;
}

/* The version id a ref names on the server, "" (and 0) when it does not exist. */
static int ref_id(char *id, mvms_remote *r, const char *model, const char *ref)
{
	cJSON *v = NULL;
	const char *s;
	int error = get_version(&v, r, model, ref);

	id[0] = '\0';
	if (error == MVMS_ENOTFOUND) {
		mvms_error_clear();
		return 0;
	}
	if (error < 0)
		return error;
	s = json_str(v, "id");
	if (s && strlen(s) == MVMS_OID_HEXSZ)
		memcpy(id, s, MVMS_OID_HEXSZ + 1);
	else
		error = mvms_error_set(MVMS_ERROR, "remote: the server sent a version without an id");
	cJSON_Delete(v);
	return error;
}

/* Drops the repeats from @ids, keeping each id's first place. */
/* The head of branch @branch on the server, "" when the model or the branch does not
 * exist. Branches only: a tag or an environment of that name is no head to build on, and
 * the server's commit then says the name is taken (EEXISTS), as a local push does. */
static int branch_head(char *id, mvms_remote *r, const char *model, const char *branch)
{
	char *em = NULL, *path = NULL;
	mvms_buf resp = MVMS_BUF_INIT;
	cJSON *doc = NULL, *b;
	const char *name, *s;
	int error = 0;

	id[0] = '\0';
	MVMS_TRY(mvms_remote_escape(&em, model));
	if (asprintf(&path, "/v1/models/%s/branches", em) < 0) {
		path = NULL;
		error = mvms_error_set(MVMS_ERROR, "out of memory");
		goto done;
	}
	if ((error = call(r, "GET", path, NULL, 0, NULL, &resp, path)) == MVMS_ENOTFOUND) {
		mvms_error_clear();
		error = 0;
		goto done;
	}
	if (error < 0)
		goto done;
	if (!(doc = parse_json(&resp, path))) {
		error = MVMS_ERROR;
		goto done;
	}
	cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(doc, "branches")) {
		if (!(name = json_str(b, "name")) || strcmp(name, branch) != 0)
			continue;
		s = json_str(b, "id");
		if (s && strlen(s) == MVMS_OID_HEXSZ)
			memcpy(id, s, MVMS_OID_HEXSZ + 1);
		else
			error = mvms_error_set(MVMS_ERROR, "remote: the server sent a branch without an id");
		break;
	}
done:
	cJSON_Delete(doc);
	mvms_buf_dispose(&resp);
	free(em);
	free(path);
	return error;
}

static int unique_in_order(mvms_oid *ids, size_t *n)
{
	unsigned char *repeat = malloc(*n + 1);
	size_t i, k;
	int error = 0;

	MVMS_CHECK_ALLOC(repeat, error);
	MVMS_TRY(mvms_sync__repeats(repeat, ids, *n));
	for (i = 0, k = 0; i < *n; i++)
		if (!repeat[i])
			ids[k++] = ids[i];
	*n = k;
done:
	free(repeat);
	return error;
}

/* Asks which of @ids (unique) the server lacks, in their order; *missing is a new array. */
/* POSTs {"ids": [hex of ids[0..n)]} to @path; the reply is in @resp. */
static int post_ids(mvms_buf *resp, mvms_remote *r, const char *path, const mvms_oid *ids,
		    size_t n, const char *what)
{
	cJSON *req = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(req, "ids");
	char hex[MVMS_OID_HEXSZ + 1], *body;
	size_t j;
	int error;

	for (j = 0; j < n; j++) {
		mvms_oid_fmt(hex, &ids[j]);
		cJSON_AddItemToArray(arr, cJSON_CreateString(hex));
	}
	body = cJSON_PrintUnformatted(req);
	cJSON_Delete(req);
	if (!body)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	error = call(r, "POST", path, body, strlen(body), "application/json", resp, what);
	free(body);
	return error;
}

static int ask_missing(mvms_oid **missing, size_t *nmissing, mvms_remote *r, const mvms_oid *ids,
		       size_t n)
{
	mvms_buf resp = MVMS_BUF_INIT;
	mvms_oid *out = NULL;
	size_t k = 0, i, end;
	int error = 0;

	out = calloc(n + 1, sizeof(*out));
	MVMS_CHECK_ALLOC(out, error);
	for (i = 0; i < n; i = end) {
		cJSON *doc, *it;
		end = i + MISSING_BATCH < n ? i + MISSING_BATCH : n;
		MVMS_TRY(post_ids(&resp, r, "/v1/chunks/missing", ids + i, end - i, "missing chunks"));
		if (!(doc = parse_json(&resp, "missing chunks"))) {
			error = MVMS_ERROR;
			goto done;
		}
		cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(doc, "missing")) {
			if (k < n && cJSON_IsString(it) && mvms_oid_parse(&out[k], it->valuestring) == 0)
				k++;
		}
		cJSON_Delete(doc);
	}
	*missing = out;
	*nmissing = k;
	out = NULL;
done:
	free(out);
	mvms_buf_dispose(&resp);
	return error;
}

/* One pack being built from the cache while the previous one travels. */
typedef struct export_job {
	mvms_remote *r;
	const mvms_oid *ids;
	size_t n;
	void *pack;
	size_t len;
	mvms_oid pid;
	int error;
	char msg[512];
} export_job;

static void *export_main(void *arg)
{
	export_job *j = arg;

	j->error = mvms_sync_export_chunks(&j->pack, &j->len, &j->pid, j->r->cache, j->ids, j->n);
	if (j->error < 0)
		snprintf(j->msg, sizeof(j->msg), "%s", mvms_error_last());
	return NULL;
}

/* Uploads packs of @ids from the cache, about pack_size raw bytes each. The next pack is
 * built in a thread while the current one is sent and checked by the server: this thread
 * uses only the connection, that one only the cache. */
static int upload_chunks(mvms_push_result *res, mvms_remote *r, const mvms_oid *ids, size_t n)
{
	mvms_buf resp = MVMS_BUF_INIT;
	export_job job[2];
	pthread_t thread;
	size_t i = 0, per = (size_t)(r->pack_size / (64 * 1024)), cur = 0;
	int error = 0, running = 0;

	memset(job, 0, sizeof(job));
	/* Chunks are at most 32 MiB; take up to a pack's worth by count of 64 KiB chunks. */
	if (per == 0)
		per = 1;
	if (n == 0)
		goto done;
	job[0].r = r;
	job[0].ids = ids;
	job[0].n = per < n ? per : n;
	export_main(&job[0]);
	i = job[0].n;
	for (;;) {
		export_job *j = &job[cur], *next = &job[1 - cur];
		char hex[MVMS_OID_HEXSZ + 1], path[96];
		if (j->error < 0) {
			error = mvms_error_set(j->error, "%s", j->msg);
			goto done;
		}
		if (i < n) {
			memset(next, 0, sizeof(*next));
			next->r = r;
			next->ids = ids + i;
			next->n = per < n - i ? per : n - i;
			i += next->n;
			if (pthread_create(&thread, NULL, export_main, next) == 0)
				running = 1;
			else
				export_main(next);
		}
		mvms_oid_fmt(hex, &j->pid);
		snprintf(path, sizeof(path), "/v1/packs/%s", hex);
		error = call(r, "PUT", path, j->pack, j->len, "application/octet-stream", &resp,
			     "upload pack");
		free(j->pack);
		j->pack = NULL;
		if (error == MVMS_EINVALID && strstr(mvms_error_last(), "HTTP 400")) {
			/* The server checks each chunk we send; we read them from our cache unchecked. */
			char why[512];
			snprintf(why, sizeof(why), "%s", mvms_error_last());
			error = mvms_error_set(MVMS_EMISMATCH, "%s (the chunks came from this client's "
					       "cache: mvms-store --store %s verify)", why, r->cache->path);
			goto done;
		}
		if (error < 0)
			goto done;
		res->packs++;
		res->new_stored_bytes += j->len;
		r->stats.chunks_sent += j->n;
		if (running) {
			pthread_join(thread, NULL);
			running = 0;
		}
		if (next->r == NULL || next->ids == NULL || j->ids + j->n == ids + n)
			break;
		j->r = NULL;
		cur = 1 - cur;
	}
done:
	if (running)
		pthread_join(thread, NULL);
	free(job[0].pack);
	free(job[1].pack);
	mvms_buf_dispose(&resp);
	return error;
}

static int same_as_head(const cJSON *head, const mvms_sync_file *files, size_t n)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(head, "file_list"), *it;
	char hex[MVMS_OID_HEXSZ + 1];
	size_t i = 0;

	if (!cJSON_IsArray(list) || (size_t)cJSON_GetArraySize(list) != n)
		return 0;
	cJSON_ArrayForEach(it, list) {
		const cJSON *mode = cJSON_GetObjectItemCaseSensitive(it, "mode");
		const char *p = json_str(it, "path"), *id = json_str(it, "id");
		mvms_oid_fmt(hex, &files[i].id);
		if (!p || !id || strcmp(p, files[i].path) || strcmp(id, hex) || !cJSON_IsNumber(mode) ||
		    (unsigned)mode->valuedouble != files[i].mode)
			return 0;
		i++;
	}
	return 1;
}

/* A lease on the server for this push's uploads (docs/http-api.md, "Leases"): gc there
 * keeps what they write. A server without leases (404) is pushed to without one. */
static int lease_take(mvms_remote *r)
{
	mvms_buf resp = MVMS_BUF_INIT;
	cJSON *doc = NULL;
	const char *id;
	long status = 0;
	int error;

	r->lease[0] = '\0';
	MVMS_TRY(http(r, "POST", "/v1/leases", "{}", 2, "application/json", &resp, &status));
	if (status == 404)
		goto done;
	if (status != 201) {
		error = http_error(r, status, &resp, "lease");
		goto done;
	}
	if (!(doc = parse_json(&resp, "lease")) || !(id = json_str(doc, "lease")) ||
	    strlen(id) != MVMS_LEASE_ID_HEXSZ) {
		error = mvms_error_set(MVMS_ERROR, "remote: lease: the server sent no lease id");
		goto done;
	}
	memcpy(r->lease, id, MVMS_LEASE_ID_HEXSZ + 1);
done:
	cJSON_Delete(doc);
	mvms_buf_dispose(&resp);
	return error;
}

/* Releases the lease after a failed push (best effort: unreleased, it expires). */
static void lease_drop(mvms_remote *r)
{
	mvms_buf resp = MVMS_BUF_INIT;
	char path[80], msg[1024];
	long status;
	int code = mvms_error_last_code();

	if (r->lease[0]) {
		snprintf(msg, sizeof(msg), "%s", mvms_error_last());
		snprintf(path, sizeof(path), "/v1/leases/%s", r->lease);
		r->lease[0] = '\0';
		http(r, "DELETE", path, NULL, 0, NULL, &resp, &status);
		mvms_error_set(code, "%s", msg);
	}
	mvms_buf_dispose(&resp);
}

/* One try at sending a staged version: the chunks the server lacks, then the commit. */
static int push_send(mvms_push_result *out, mvms_remote *r, const char *model, const char *branch,
		     const char *head, mvms_oid *ids, size_t nids, mvms_sync_manifest_info *info)
{
	mvms_oid *missing = NULL;
	size_t nmissing = 0, i, mlen = 0;
	char vid[MVMS_OID_HEXSZ + 1], *manifest = NULL, *em = NULL, *url = NULL, *body = NULL;
	cJSON *req = NULL, *fm, *doc = NULL;
	mvms_buf resp = MVMS_BUF_INIT;
	int error = 0;

	MVMS_TRY(ask_missing(&missing, &nmissing, r, ids, nids));
	out->new_chunks = nmissing;
	MVMS_TRY(upload_chunks(out, r, missing, nmissing));
	MVMS_TRY(mvms_sync_manifest(&manifest, &mlen, vid, info));

	req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "manifest", manifest);
	fm = cJSON_AddObjectToObject(req, "filemaps");
	for (i = 0; i < info->file_count; i++) {
		const mvms_sync_file *f = &info->files[i];
		size_t b64len = sodium_base64_ENCODED_LEN(f->filemap_len, sodium_base64_VARIANT_ORIGINAL);
		char *b64 = malloc(b64len), hex[MVMS_OID_HEXSZ + 1];
		MVMS_CHECK_ALLOC(b64, error);
		sodium_bin2base64(b64, b64len, f->filemap, f->filemap_len, sodium_base64_VARIANT_ORIGINAL);
		mvms_oid_fmt(hex, &f->id);
		if (!cJSON_GetObjectItemCaseSensitive(fm, hex))
			cJSON_AddStringToObject(fm, hex, b64);
		free(b64);
	}
	cJSON_AddStringToObject(req, "branch", branch);
	cJSON_AddStringToObject(req, "expected_head", head);
	body = cJSON_PrintUnformatted(req);
	MVMS_CHECK_ALLOC(body, error);
	MVMS_TRY(mvms_remote_escape(&em, model));
	if (asprintf(&url, "/v1/models/%s/versions", em) < 0) {
		url = NULL;
		error = mvms_error_set(MVMS_ERROR, "out of memory");
		goto done;
	}
	MVMS_TRY(call(r, "POST", url, body, strlen(body), "application/json", &resp, "commit"));
	if (!(doc = parse_json(&resp, "commit"))) {
		error = MVMS_ERROR;
		goto done;
	}
	{
		const cJSON *num = cJSON_GetObjectItemCaseSensitive(doc, "version");
		const char *id = json_str(doc, "id");
		if (!cJSON_IsNumber(num) || !id || strcmp(id, vid) != 0) {
			error = mvms_error_set(MVMS_ERROR, "remote: the server committed another id than %s",
					       vid);
			goto done;
		}
		out->created = 1;
		out->number = (int64_t)num->valuedouble;
		snprintf(out->id, sizeof(out->id), "%s", id);
	}
done:
	cJSON_Delete(doc);
	cJSON_Delete(req);
	mvms_buf_dispose(&resp);
	free(body);
	free(em);
	free(url);
	free(manifest);
	free(missing);
	return error;
}

int mvms_remote_push(mvms_push_result *out, mvms_remote *r, const char *model, const char *path,
		     const mvms_push_options *opts)
{
	mvms_push_options defaults = MVMS_PUSH_OPTIONS_INIT;
	mvms_sync_file *files = NULL;
	mvms_oid *ids = NULL;
	size_t nfiles = 0, nids = 0, i, k, nparents = 0;
	const char **parents = NULL;
	char uid[33], head[MVMS_OID_HEXSZ + 1], base[MVMS_OID_HEXSZ + 1];
	char (*extra)[MVMS_OID_HEXSZ + 1] = NULL;
	cJSON *headv = NULL;
	mvms_sync_manifest_info info;
	const char *branch;
	double t0 = mvms_now();
	int error = 0;

	memset(out, 0, sizeof(*out));
	if (!opts)
		opts = &defaults;
	branch = opts->branch ? opts->branch : "main";
	MVMS_TRY(mvms_model_name_check(model));
	MVMS_TRY(mvms_ref_name_check(branch));
	MVMS_TRY(model_uid(uid, r, model));
	MVMS_TRY(branch_head(head, r, model, branch));
	if (*head)
		snprintf(base, sizeof(base), "%s", head);
	else
		MVMS_TRY(ref_id(base, r, model, "main"));
	extra = calloc(opts->parent_count + 1, sizeof(*extra));
	parents = calloc(opts->parent_count + 2, sizeof(*parents));
	MVMS_CHECK_ALLOC(extra, error);
	MVMS_CHECK_ALLOC(parents, error);
	if (*base)
		parents[nparents++] = base;
	for (i = 0; i < opts->parent_count; i++) {
		const char *at = strchr(opts->parents[i], '@');
		char pm[256];
		if (!at || (size_t)(at - opts->parents[i]) >= sizeof(pm)) {
			error = mvms_error_set(MVMS_EINVALID, "push: parent '%s' is not MODEL@REF",
					       opts->parents[i]);
			goto done;
		}
		snprintf(pm, sizeof(pm), "%.*s", (int)(at - opts->parents[i]), opts->parents[i]);
		MVMS_TRY(ref_id(extra[i], r, pm, at + 1));
		if (!*extra[i]) {
			error = mvms_error_set(MVMS_ENOTFOUND, "push: parent %s not found on the server",
					       opts->parents[i]);
			goto done;
		}
		for (k = 0; k < nparents && strcmp(parents[k], extra[i]) != 0; k++)
			;
		if (k == nparents)
			parents[nparents++] = extra[i];
	}

	MVMS_TRY(mvms_sync_stage(&files, &nfiles, r->cache, path, opts->progress, opts->payload));
	out->files = nfiles;
	for (i = 0; i < nfiles; i++) {
		out->logical_bytes += files[i].size;
		nids += files[i].nchunks;
	}
	if (*head && opts->parent_count == 0 && opts->meta_count == 0) {
		MVMS_TRY(get_version(&headv, r, model, branch));
		if (same_as_head(headv, files, nfiles)) {
			const cJSON *num = cJSON_GetObjectItemCaseSensitive(headv, "version");
			out->created = 0;
			out->number = cJSON_IsNumber(num) ? (int64_t)num->valuedouble : 0;
			snprintf(out->id, sizeof(out->id), "%s", head);
			goto done;
		}
	}
	/* Every distinct chunk once. */
	ids = calloc(nids + 1, sizeof(*ids));
	MVMS_CHECK_ALLOC(ids, error);
	for (i = 0, k = 0; i < nfiles; i++) {
		memcpy(ids + k, files[i].chunks, files[i].nchunks * sizeof(*ids));
		k += files[i].nchunks;
	}
	out->chunks = nids;
	/* Each chunk once, in file order: the server keeps the packs as they come, and a pull
	 * reads consecutive records of a pack with one read (sorted by id, every chunk of a
	 * later pull was a read, a sendfile and a wake-up of its own). */
	MVMS_TRY(unique_in_order(ids, &nids));

	memset(&info, 0, sizeof(info));
	info.model_uid = uid;
	info.model_name = model;
	info.parents = parents;
	info.parent_count = nparents;
	info.author = opts->author ? opts->author : mvms_store__default_author();
	info.message = opts->message ? opts->message : "";
	info.time = opts->time ? opts->time : (int64_t)time(NULL);
	info.meta = opts->meta;
	info.meta_count = opts->meta_count;
	info.files = files;
	info.file_count = nfiles;
	/* Before the first question about chunks: an answer "the server has it" holds while
	 * the lease does, unless a gc took an old unused pack; then the server says
	 * gc_conflict and the push starts over once (a lease that expired: a new one). */
	MVMS_TRY(lease_take(r));
	error = push_send(out, r, model, branch, head, ids, nids, &info);
	if (error == MVMS_ECONFLICT && (strcmp(r->last_code, "gc_conflict") == 0 ||
					strcmp(r->last_code, "lease_expired") == 0)) {
		if (strcmp(r->last_code, "lease_expired") == 0)
			lease_drop(r);
		out->retries = 1;
		if (!r->lease[0])
			MVMS_TRY(lease_take(r));
		error = push_send(out, r, model, branch, head, ids, nids, &info);
	}
	if (error < 0)
		lease_drop(r);
	r->lease[0] = '\0'; /* committed: the server released it */
done:
	out->seconds = mvms_now() - t0;
	cJSON_Delete(headv);
	free(ids);
	free(extra);
	free(parents);
	mvms_sync_files_free(files, nfiles);
	return error;
}

static int fetch_object(void **out, size_t *len, mvms_remote *r, const char *kind, const mvms_oid *id)
{
	char hex[MVMS_OID_HEXSZ + 1], path[128];
	mvms_buf resp = MVMS_BUF_INIT;
	mvms_oid got;
	int error = 0;

	*out = NULL;
	mvms_oid_fmt(hex, id);
	snprintf(path, sizeof(path), "/v1/objects/%s/%s", kind, hex);
	MVMS_TRY(call(r, "GET", path, NULL, 0, NULL, &resp, path));
	if (mvms_sync_object_id(&got, kind, resp.ptr ? resp.ptr : "", resp.size) < 0 ||
	    mvms_oid_cmp(&got, id) != 0) {
		error = mvms_error_set(MVMS_EMISMATCH, "remote: %s/%s: the bytes do not match their id",
				       kind, hex);
		goto done;
	}
	*len = resp.size;
	*out = mvms_buf_detach(&resp);
done:
	mvms_buf_dispose(&resp);
	return error;
}

static int fetch_chunks(mvms_remote *r, const mvms_oid *ids, size_t n, uint64_t *bytes)
{
	mvms_buf resp = MVMS_BUF_INIT;
	size_t i, end;
	int error = 0;

	for (i = 0; i < n; i = end) {
		end = i + FETCH_BATCH < n ? i + FETCH_BATCH : n;
		MVMS_TRY(post_ids(&resp, r, "/v1/chunks", ids + i, end - i, "fetch chunks"));
		/* Checked on arrival, chunk by chunk, like any pack from outside. */
		MVMS_TRY(mvms_sync_receive_pack(NULL, r->cache, resp.ptr, resp.size, NULL));
		*bytes += resp.size;
		r->stats.chunks_received += end - i;
	}
done:
	mvms_buf_dispose(&resp);
	return error;
}

/* ---- streaming a whole file as its stored records, every chunk checked on arrival ---- */

typedef struct stream_ctx {
	mvms_sync__recv *rv;
	CURL *curl;
	long status;               /* the reply's status, known at its first byte */
	mvms_buf err;              /* the body of a reply that is not 200: an error, not records */
	uint64_t wire;             /* reply bytes */
	int error;
	char msg[400];
} stream_ctx;

/* An error reply's JSON is kept for http_error up to this many bytes. */
#define ERROR_BODY_MAX 16384

static size_t stream_cb(char *p, size_t size, size_t nmemb, void *arg)
{
	stream_ctx *c = arg;
	size_t len = size * nmemb;

	c->wire += len;
	if (c->status == 0)
		curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &c->status);
	if (c->status != 200) {
		/* Not records: what the server says went wrong. */
		if (c->err.size + len <= ERROR_BODY_MAX && mvms_buf_put(&c->err, p, len) < 0)
			return 0;
		return len;
	}
	if (c->error == 0 && (c->error = mvms_sync__recv_add(c->rv, p, len)) < 0)
		snprintf(c->msg, sizeof(c->msg), "%s", mvms_error_last());
	return c->error ? 0 : len;
}

static int stream_file(mvms_remote *r, const char *model, const char *vid, const mvms_manifest_file *f,
		       const void *fm, size_t nchunks, const char *dir, mvms_chunk_sink *sink,
		       const mvms_pull_options *opts, uint64_t *done_bytes, uint64_t total)
{
	stream_ctx c;
	char *em = NULL, *ep = NULL, *url = NULL, *tmp = NULL, *final = NULL;
	struct curl_slist *h = NULL;
	long status = 0;
	CURLcode cc;
	int fd = -1, error = 0, ok = 0;

	memset(&c, 0, sizeof(c));
	c.curl = r->curl;
	MVMS_TRY(mvms_remote_escape(&em, model));
	/* The path keeps its '/': escape it segment by segment. */
	{
		mvms_buf pb = MVMS_BUF_INIT;
		const char *seg = f->path, *slash;
		do {
			char *e = NULL;
			slash = strchr(seg, '/');
			char *part = slash ? strndup(seg, (size_t)(slash - seg)) : strdup(seg);
			if (!part || mvms_remote_escape(&e, part) < 0) {
				free(part);
				mvms_buf_dispose(&pb);
				error = mvms_error_set(MVMS_ERROR, "out of memory");
				goto done;
			}
			mvms_buf_printf(&pb, "%s%s", pb.size ? "/" : "", e);
			free(part);
			free(e);
			seg = slash ? slash + 1 : NULL;
		} while (seg);
		ep = mvms_buf_detach(&pb);
	}
	/* Records, not bytes: the server sends chunks as it stores them (no decoding there), we
	 * decode and check each once, and the cache keeps them compressed. */
	if (asprintf(&url, "%s/v1/models/%s/versions/%s/files/%s?format=records", r->url, em, vid,
		     ep) < 0) {
		url = NULL;
		error = mvms_error_set(MVMS_ERROR, "out of memory");
		goto done;
	}
	MVMS_TRY(mvms_sync__file_begin(&fd, &tmp, &final, dir, f->path));
	MVMS_TRY(mvms_sync__recv_new(&c.rv, fd, f->path, fm, nchunks, sink,
				     opts ? opts->progress : NULL, opts ? opts->payload : NULL,
				     *done_bytes, total));
	if (r->auth)
		h = curl_slist_append(h, r->auth);
	if (r->lease[0]) {
		char lh[64];
		snprintf(lh, sizeof(lh), "Mvms-Lease: %s", r->lease);
		h = curl_slist_append(h, lh);
	}
	curl_easy_setopt(r->curl, CURLOPT_URL, url);
	curl_easy_setopt(r->curl, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(r->curl, CURLOPT_CUSTOMREQUEST, NULL);
	curl_easy_setopt(r->curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(r->curl, CURLOPT_WRITEFUNCTION, stream_cb);
	curl_easy_setopt(r->curl, CURLOPT_WRITEDATA, &c);
	cc = curl_easy_perform(r->curl);
	r->stats.requests++;
	curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &status);
	if (c.error) {
		error = mvms_error_set(c.error, "%s", c.msg);
		goto done;
	}
	if (cc == CURLE_OK && status != 200 && c.err.size > 0) {
		/* The server's JSON error, mapped by its code as every other reply's. */
		error = http_error(r, status, &c.err, f->path);
		goto done;
	}
	if (cc != CURLE_OK || status != 200) {
		error = mvms_error_set(status == 404 ? MVMS_ENOTFOUND : MVMS_ERROR,
				       "remote: GET %s: %s", f->path,
				       cc != CURLE_OK ? curl_easy_strerror(cc) : "unexpected HTTP status");
		goto done;
	}
	MVMS_TRY(mvms_sync__recv_finish(c.rv, &f->id));
	r->stats.bytes_received += c.wire;
	*done_bytes = mvms_sync__recv_done(c.rv);
	ok = 1;
done:
	curl_easy_setopt(r->curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(h);
	mvms_sync__recv_free(c.rv);
	mvms_buf_dispose(&c.err);
	if (tmp) {
		int end = mvms_sync__file_end(fd, tmp, final, f->mode, ok);
		if (error == 0)
			error = end;
	}
	free(em);
	free(ep);
	free(url);
	return error;
}

/* Records pulled file @f as a source of the cache: later pulls read its chunks there. */
static int add_source(mvms_remote *r, const char *dir, const mvms_manifest_file *f, const void *fm,
		      size_t n)
{
	char *final = NULL;
	int error;

	if (asprintf(&final, "%s/%s", dir, f->path) < 0)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	error = mvms_sources_add(r->cache, final, &f->id, fm, n);
	free(final);
	return error;
}

/* Writes file @f from the cache, fetching the chunks it lacks first. A file pulled before
 * that no longer holds its chunks is forgotten by the read (pull.c): then the chunks it was
 * to give are fetched too and the file is written again, as long as each try forgets one. */
static int pull_from_cache(mvms_remote *r, const char *dir, const mvms_manifest_file *f,
			   const mvms_oid *chunks, size_t n, uint64_t *fetched)
{
	unsigned char *have = calloc(n + 1, 1);
	mvms_oid *want = NULL;
	size_t nwant, k;
	int error = 0;

	MVMS_CHECK_ALLOC(have, error);
	want = calloc(n + 1, sizeof(*want));
	MVMS_CHECK_ALLOC(want, error);
	for (;;) {
		uint64_t before, after;
		MVMS_TRY(mvms_sources_count(&before, r->cache));
		MVMS_TRY(mvms_sources_have(have, r->cache, chunks, n));
		for (k = 0, nwant = 0; k < n; k++)
			if (!have[k])
				want[nwant++] = chunks[k];
		/* In file order, so the cache's packs are too (see mvms_remote_push). */
		MVMS_TRY(unique_in_order(want, &nwant));
		MVMS_TRY(fetch_chunks(r, want, nwant, fetched));
		error = mvms_sync_write_file(r->cache, dir, f->path, f->mode, f->size, &f->id, chunks,
					     n);
		if (error != MVMS_EMISMATCH && error != MVMS_ENOTFOUND)
			break;
		if (mvms_sources_count(&after, r->cache) < 0 || after >= before)
			break; /* no stale file was the cause: report it */
	}
done:
	free(have);
	free(want);
	return error;
}

int mvms_remote_pull(mvms_pull_result *out, mvms_remote *r, const char *spec, const char *dir,
		     const mvms_pull_options *opts)
{
	const char *at = strchr(spec, '@');
	char model[256], *ref;
	cJSON *v = NULL;
	const char *id;
	mvms_oid vid, **chunks = NULL;
	size_t *nchunks = NULL, *fmlen = NULL, i, k, nmax = 0;
	void **fm = NULL;
	int *stream = NULL;
	mvms_manifest *m = NULL;
	mvms_chunk_sink *sink = NULL;
	void *mdata = NULL;
	size_t mlen = 0;
	unsigned char *present = NULL;
	uint64_t fetched = 0, total = 0, done_bytes = 0;
	double t0 = mvms_now();
	int error = 0;

	memset(out, 0, sizeof(*out));
	snprintf(model, sizeof(model), "%.*s", at ? (int)(at - spec) : (int)strlen(spec), spec);
	ref = (char *)(at ? at + 1 : "latest");
	MVMS_TRY(mvms_model_name_check(model));
	MVMS_TRY(get_version(&v, r, model, ref));
	id = json_str(v, "id");
	if (!id || mvms_oid_parse(&vid, id) < 0) {
		error = mvms_error_set(MVMS_ERROR, "remote: the server sent a version without an id");
		goto done;
	}
	/* The manifest is the trust anchor: its bytes hash to the version id. */
	MVMS_TRY(fetch_object(&mdata, &mlen, r, "manifests", &vid));
	MVMS_TRY(mvms_manifest_decode(&m, mdata, mlen));
	MVMS_TRY(mvms_sync__pull_dir(dir, opts && opts->force));
	chunks = calloc(m->file_count + 1, sizeof(*chunks));
	nchunks = calloc(m->file_count + 1, sizeof(*nchunks));
	fm = calloc(m->file_count + 1, sizeof(*fm));
	fmlen = calloc(m->file_count + 1, sizeof(*fmlen));
	stream = calloc(m->file_count + 1, sizeof(*stream));
	MVMS_CHECK_ALLOC(chunks, error);
	MVMS_CHECK_ALLOC(nchunks, error);
	MVMS_CHECK_ALLOC(fm, error);
	MVMS_CHECK_ALLOC(fmlen, error);
	MVMS_CHECK_ALLOC(stream, error);
	for (i = 0; i < m->file_count; i++) {
		uint64_t size = 0;
		MVMS_TRY(fetch_object(&fm[i], &fmlen[i], r, "files", &m->files[i].id));
		MVMS_TRY(mvms_sync_parse_filemap(&chunks[i], &nchunks[i], &size, fm[i], fmlen[i],
						 &m->files[i].id));
		if (size != m->files[i].size) {
			error = mvms_error_set(MVMS_EMISMATCH, "pull: %s: size does not match its chunks",
					       m->files[i].path);
			goto done;
		}
		total += size;
		if (nchunks[i] > nmax)
			nmax = nchunks[i];
	}
	/* The cache's record of files pulled before: those that changed are no longer used. */
	MVMS_TRY(mvms_sources_prune(NULL, r->cache));
	/* A file the cache has little of streams whole (as the server stores it; we check each
	 * chunk as it arrives); one it mostly has, in packs or in files pulled before, fetches
	 * just the chunks it lacks. Either way the file becomes a source for later pulls
	 * instead of being copied into the cache's packs. */
	present = calloc(nmax + 1, 1);
	MVMS_CHECK_ALLOC(present, error);
	for (i = 0; i < m->file_count; i++) {
		uint64_t have = 0;
		MVMS_TRY(mvms_sources_have(present, r->cache, chunks[i], nchunks[i]));
		for (k = 0; k < nchunks[i]; k++)
			if (present[k])
				have += mvms_le64_get((const unsigned char *)fm[i] + 32 + k * 40 + 32);
		stream[i] = have * 2 < m->files[i].size;
	}
	/* Files from the cache first: a sink (cache_copy) owns the cache's database while it
	 * runs, which is while files stream. */
	for (i = 0; i < m->file_count; i++) {
		if (stream[i])
			continue;
		MVMS_TRY(pull_from_cache(r, dir, &m->files[i], chunks[i], nchunks[i], &fetched));
		/* Recorded at once: it may replace a file the next ones would read (pull --force). */
		MVMS_TRY(add_source(r, dir, &m->files[i], fm[i], nchunks[i]));
		done_bytes += m->files[i].size;
		out->bytes += m->files[i].size;
		if (opts && opts->progress)
			opts->progress(done_bytes, total, opts->payload);
	}
	for (i = 0; i < m->file_count; i++) {
		if (!stream[i])
			continue;
		if (opts && opts->cache_copy && !sink)
			MVMS_TRY(mvms_chunk_sink_new(&sink, r->cache));
		MVMS_TRY(stream_file(r, model, id, &m->files[i], fm[i], nchunks[i], dir, sink, opts,
				     &done_bytes, total));
		out->bytes += m->files[i].size;
	}
	if (sink)
		MVMS_TRY(mvms_chunk_sink_finish(sink));
	for (i = 0; i < m->file_count; i++)
		if (stream[i])
			MVMS_TRY(add_source(r, dir, &m->files[i], fm[i], nchunks[i]));
	snprintf(out->id, sizeof(out->id), "%s", id);
	{
		const cJSON *num = cJSON_GetObjectItemCaseSensitive(v, "version");
		out->number = cJSON_IsNumber(num) ? (int64_t)num->valuedouble : 0;
	}
	out->files = m->file_count;
done:
	out->seconds = mvms_now() - t0;
	mvms_chunk_sink_free(sink);
	for (i = 0; m && i < m->file_count; i++) {
		if (chunks)
			free(chunks[i]);
		if (fm)
			free(fm[i]);
	}
	free(chunks);
	free(nchunks);
	free(fm);
	free(fmlen);
	free(stream);
	free(present);
	free(mdata);
	mvms_manifest_free(m);
	cJSON_Delete(v);
	return error;
}
