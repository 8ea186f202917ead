/* SPDX-License-Identifier: MIT */
/*
 * The HTTP client of a remote store: opening one (the server's parameters, the local cache
 * store), the libcurl easy handle and its requests, JSON replies, and error replies mapped
 * back to the MVMS_E* their code names (mvms_error_from_name), so a remote command fails as
 * the local one would.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include "hash.h"
#include "remote_int.h"
#include "history.h"

static size_t collect_cb(char *p, size_t size, size_t n, void *arg)
{
	mvms_buf *b = arg;

	return mvms_buf_put(b, p, size * n) < 0 ? 0 : size * n;
}

/* Maps an HTTP error reply to an MVMS_E* code with the server's own message: the code the
 * reply names (mvms_error_from_name), so a remote command fails as the local one would;
 * by the status alone when the reply names none we know (a proxy's page, an older server). */
int mvms_http__error(mvms_remote *r, long status, const mvms_buf *body, const char *what)
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
	if (r->plain_errors && cJSON_IsString(msg) && *msg->valuestring)
		rc = mvms_error_set(code, "%s", msg->valuestring);
	else
		rc = mvms_error_set(code, "remote: %s: HTTP %ld: %s", what, status,
				    cJSON_IsString(msg) ? msg->valuestring : "(no message)");

	snprintf(r->last_code, sizeof(r->last_code), "%s", cJSON_IsString(c) ? c->valuestring : "");

	cJSON_Delete(doc);
	return rc;
}

int mvms_http__add_header(struct curl_slist **h, const char *line)
{
	struct curl_slist *n = curl_slist_append(*h, line);

	if (!n)
		return mvms_error_set(MVMS_ERROR, "remote: out of memory adding a request header");
	*h = n;
	return 0;
}

int mvms_http__session_headers(struct curl_slist **h, const mvms_remote *r)
{
	int error = 0;

	if (r->auth)
		MVMS_TRY(mvms_http__add_header(h, r->auth));
	if (r->fresh)
		MVMS_TRY(mvms_http__add_header(h, "Cache-Control: no-cache"));
	if (r->lease[0]) {
		char lh[64];
		snprintf(lh, sizeof(lh), "Mvms-Lease: %s", r->lease);
		MVMS_TRY(mvms_http__add_header(h, lh));
	}
done:
	return error;
}

int mvms_http__request(mvms_remote *r, const char *method, const char *path, const void *body,
		       size_t len, const char *ctype, mvms_buf *resp, long *status)
{
	struct curl_slist *h = NULL;
	char *url = NULL, ct[128];
	CURLcode cc;
	int error = 0;

	mvms_buf_clear(resp);
	if (asprintf(&url, "%s%s", r->url, path) < 0)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	MVMS_TRY(mvms_http__session_headers(&h, r));
	if (ctype) {
		snprintf(ct, sizeof(ct), "Content-Type: %s", ctype);
		MVMS_TRY(mvms_http__add_header(&h, ct));
	}
	MVMS_TRY(mvms_http__add_header(&h, "Expect:"));
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
int mvms_http__call(mvms_remote *r, const char *method, const char *path, const void *body,
		    size_t len, const char *ctype, mvms_buf *resp, const char *what)
{
	long status = 0;
	int error;

	if ((error = mvms_http__request(r, method, path, body, len, ctype, resp, &status)) < 0)
		return error;
	if (status == 304) {
		/* Not modified (a long-poll that timed out): success, nothing new. */
		mvms_buf_clear(resp);
		return 0;
	}
	if (status != 200 && status != 201)
		return mvms_http__error(r, status, resp, what);
	return 0;
}

cJSON *mvms_http__parse_json(const mvms_buf *b, const char *what)
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
	if ((error = mvms_http__call(r, "GET", path, NULL, 0, NULL, &resp, path)) < 0) {
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
	/* curl's 16 KiB default costs a recv, a poll and a callback per 16 KiB of a 50 GB pull.
	 * 8 MiB (libcurl takes up to 10 since 7.88; older ones cap it at 512 KiB): a remote pull
	 * of a 512 MiB file took 1.08 s of CPU with it, 1.22 s with 512 KiB and 1.28 s with
	 * 256 KiB (each recv drains what has arrived: fewer, larger reads). */
	curl_easy_setopt(r->curl, CURLOPT_BUFFERSIZE, 8192L * 1024);
	MVMS_TRY(mvms_http__call(r, "GET", "/v1/store", NULL, 0, NULL, &resp, "store parameters"));
	if (!(doc = mvms_http__parse_json(&resp, "store parameters"))) {
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
	} else if (error == 0 && mvms_sources_settle(r->cache) < 0) {
		/* Files earlier pulls recorded are indexed before anything looks their chunks up.
		 * They only spare downloads: a cache that cannot be written to now (a full disk)
		 * still serves the command, and their chunks come from the server. */
		mvms_error_clear();
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
int mvms_http__get_version(cJSON **out, mvms_remote *r, const char *model, const char *ref)
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
	MVMS_TRY(mvms_http__call(r, "GET", path, NULL, 0, NULL, &resp, path));
	if (!(*out = mvms_http__parse_json(&resp, path)))
		error = MVMS_ERROR;
done:
	mvms_buf_dispose(&resp);
	free(em);
	free(er);
	free(path);
	return error;
}

const char *mvms_http__json_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* POSTs {"ids": [hex of ids[0..n)]} to @path; the reply is in @resp. */
int mvms_http__post_ids(mvms_buf *resp, mvms_remote *r, const char *path, const mvms_oid *ids,
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
	error = mvms_http__call(r, "POST", path, body, strlen(body), "application/json", resp, what);
	free(body);
	return error;
}


int mvms_http__live(const cJSON *v, const char *model)
{
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(v, "deleted");
	const cJSON *num = cJSON_GetObjectItemCaseSensitive(v, "version");

	if (!cJSON_IsObject(d))
		return 0;
	return mvms_history__deleted_error(model, cJSON_IsNumber(num) ? (int64_t)num->valuedouble : 0,
					   mvms_http__json_str(d, "by"), mvms_http__json_str(d, "at"));
}
