/* SPDX-License-Identifier: MIT */
/*
 * The S3 backend (AWS, MinIO, Ceph RGW, Swift s3api, R2, and GCS through its XML API): the
 * backend table (writers, get, stat, list, scan, remove), conditional create, the bucket
 * check, and the constructor. Writers buffer the object in memory; commit PUTs it, or hands
 * it to s3_multipart.c above the multipart threshold. The HTTP transport (signing, handle
 * pool, retries) is s3_http.c; options from the environment s3_options.c; XML s3_xml.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "s3_int.h"

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int s3_put(s3_backend *s, const char *key, const unsigned char *data, size_t len,
		  const char *if_none_match)
{
	s3_call c = { 0 };
	int rc;

	c.s = s;
	c.method = "PUT";
	c.key = key;
	c.body = data;
	c.body_len = len;
	c.if_none_match = if_none_match;
	rc = mvms_s3__call_run(&c);
	mvms_s3__call_dispose(&c);
	return rc;
}

static int check_key(const char *key)
{
	if (!key || !*key || *key == '/')
		return mvms_error_set(MVMS_EINVALID, "s3: bad key '%.200s'", key ? key : "(null)");
	return 0;
}

static int s3_backend__writer_open(mvms_backend_writer **out, mvms_backend *be)
{
	s3_writer *w = calloc(1, sizeof(*w));

	*out = NULL;
	if (!w)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	w->parent.be = be;
	*out = &w->parent;
	return 0;
}

static int s3_backend__writer_write(mvms_backend_writer *bw, const void *data, size_t len)
{
	return mvms_buf_put(&((s3_writer *)bw)->buf, data, len);
}

static int s3_backend__writer_commit(mvms_backend_writer *bw, const char *key)
{
	s3_writer *w = (s3_writer *)bw;
	s3_backend *s = (s3_backend *)bw->be;
	int error;

	if ((error = check_key(key)) == 0) {
		if ((uint64_t)w->buf.size > s->threshold)
			error = mvms_s3__put_multipart(s, key, (const unsigned char *)w->buf.ptr, w->buf.size);
		else
			error = s3_put(s, key, (const unsigned char *)(w->buf.ptr ? w->buf.ptr : ""),
				       w->buf.size, NULL);
	}
	mvms_buf_dispose(&w->buf);
	free(w);
	return error;
}

static void s3_backend__writer_abort(mvms_backend_writer *bw)
{
	if (!bw)
		return;
	mvms_buf_dispose(&((s3_writer *)bw)->buf);
	free(bw);
}

static int s3_backend__get(mvms_backend *be, const char *key, uint64_t offset, void *buf,
			   size_t len);

/* A refused HEAD says no why (no body): a one-byte GET of the key asks for the reason. Its
 * message replaces the HEAD's only when it is a refusal too. */
static int auth_reason_by_get(mvms_backend *be, const char *key)
{
	char head_msg[1024];
	unsigned char one;

	snprintf(head_msg, sizeof(head_msg), "%s", mvms_error_last());
	if (s3_backend__get(be, key, 0, &one, 1) != MVMS_EAUTH)
		mvms_error_set(MVMS_EAUTH, "%s", head_msg);
	return MVMS_EAUTH;
}

static int s3_backend__stat_time(uint64_t *out, int64_t *mtime, mvms_backend *be, const char *key)
{
	s3_call c = { 0 };
	curl_off_t cl = -1, ft = -1;
	int error, bodyless;

	*out = 0;
	if (mtime)
		*mtime = 0;
	if ((error = check_key(key)) < 0)
		return error;
	c.s = (s3_backend *)be;
	c.method = "HEAD";
	c.key = key;
	c.resp_max = S3_ERRBODY_MAX;
	for (c.attempt = 0;; c.attempt++) {
		if ((error = mvms_s3__call_setup(&c)) < 0)
			break;
		/* Last-Modified, for gc's age of an object (pooled handles: reset below). */
		curl_easy_setopt(c.h, CURLOPT_FILETIME, mtime ? 1L : 0L);
		c.cc = curl_easy_perform(c.h);
		error = mvms_s3__call_judge(&c, "HEAD");
		if (error == 0 && mtime && curl_easy_getinfo(c.h, CURLINFO_FILETIME_T, &ft) == CURLE_OK &&
		    ft > 0)
			*mtime = (int64_t)ft;
		curl_easy_setopt(c.h, CURLOPT_FILETIME, 0L);
		if (error == 0) {
			curl_easy_getinfo(c.h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
			if (cl < 0)
				error = mvms_error_set(MVMS_ERROR, "s3: HEAD %s/%s%s: no Content-Length",
						       c.s->bucket, c.s->prefix, key);
			else
				*out = (uint64_t)cl;
		}
		if (error != 1)
			break;
		mvms_s3__sleep_ms(mvms_s3__backoff_ms(c.s, c.attempt));
	}
	bodyless = c.resp.size == 0;
	mvms_s3__call_dispose(&c);
	if (error == MVMS_EAUTH && bodyless)
		error = auth_reason_by_get(be, key);
	return error;
}

static int s3_backend__stat(uint64_t *out, mvms_backend *be, const char *key)
{
	return s3_backend__stat_time(out, NULL, be, key);
}

static int s3_backend__get(mvms_backend *be, const char *key, uint64_t offset, void *buf,
			   size_t len)
{
	s3_backend *s = (s3_backend *)be;
	s3_call c = { 0 };
	char range[64];
	int error;

	if ((error = check_key(key)) < 0)
		return error;
	if (len == 0) {
		uint64_t size;
		if ((error = s3_backend__stat(&size, be, key)) < 0)
			return error;
		if (offset > size)
			return mvms_error_set(MVMS_ERROR, "s3: GET %s/%s%s: offset %llu past the end (%llu bytes)",
					      s->bucket, s->prefix, key, (unsigned long long)offset,
					      (unsigned long long)size);
		return 0;
	}
	snprintf(range, sizeof(range), "bytes=%llu-%llu", (unsigned long long)offset,
		 (unsigned long long)(offset + len - 1));
	c.s = s;
	c.method = "GET";
	c.key = key;
	c.range = range;
	c.dst = buf;
	c.dst_len = len;
	c.resp_max = S3_ERRBODY_MAX;
	for (c.attempt = 0;; c.attempt++) {
		c.skip = offset;
		if ((error = mvms_s3__call_setup(&c)) < 0)
			break;
		c.cc = curl_easy_perform(c.h);
		if (c.cc == CURLE_OK) {
			curl_easy_getinfo(c.h, CURLINFO_RESPONSE_CODE, &c.status);
			if (c.status == 416) {
				error = mvms_error_set(MVMS_ERROR,
						       "s3: GET %s/%s%s: short object: range %s not satisfiable",
						       s->bucket, s->prefix, key, range);
				break;
			}
		}
		error = mvms_s3__call_judge(&c, "GET");
		if (error == 0 && c.got < len)
			error = mvms_error_set(MVMS_ERROR,
					       "s3: GET %s/%s%s: short object: %zu of %zu bytes at offset %llu",
					       s->bucket, s->prefix, key, c.got, len,
					       (unsigned long long)offset);
		if (error != 1)
			break;
		mvms_s3__sleep_ms(mvms_s3__backoff_ms(s, c.attempt));
	}
	mvms_s3__call_dispose(&c);
	return error;
}

static int s3_list(mvms_backend *be, const char *prefix, mvms_backend_list_cb cb,
		   mvms_backend_scan_cb scan, void *payload)
{
	s3_backend *s = (s3_backend *)be;
	int error = 0, truncated = 1;
	mvms_buf full = MVMS_BUF_INIT, token = MVMS_BUF_INIT, next = MVMS_BUF_INIT;
	const char *page = mvms_s3__env("MVMS_S3_LIST_PAGE");
	char maxkeys[24];

	snprintf(maxkeys, sizeof(maxkeys), "%lu", page ? strtoul(page, NULL, 10) : 1000ul);
	if (strcmp(maxkeys, "0") == 0)
		strcpy(maxkeys, "1000");
	MVMS_TRY(mvms_buf_printf(&full, "%s%s", s->prefix, prefix ? prefix : ""));
	while (truncated) {
		mvms_sigv4_pair q[4];
		size_t nq = 0;
		s3_call c = { 0 };

		q[nq++] = (mvms_sigv4_pair){ "list-type", "2" };
		q[nq++] = (mvms_sigv4_pair){ "max-keys", maxkeys };
		q[nq++] = (mvms_sigv4_pair){ "prefix", full.ptr };
		if (token.size)
			q[nq++] = (mvms_sigv4_pair){ "continuation-token", token.ptr };
		c.s = s;
		c.method = "GET";
		c.key = NULL;
		c.query = q;
		c.nquery = nq;
		c.resp_max = S3_LIST_BODY_MAX;
		error = mvms_s3__call_run(&c);
		if (error == 0)
			error = mvms_s3__parse_page(c.resp.ptr, c.resp.size, s->prefix, cb, scan, payload,
					   &truncated, &next);
		mvms_s3__call_dispose(&c);
		if (error != 0) {
			if (error == MVMS_ENOTFOUND)
				error = mvms_error_set(MVMS_ENOTFOUND, "s3: list %s: bucket not found",
						       s->bucket);
			goto done;
		}
		mvms_buf_clear(&token);
		MVMS_TRY(mvms_buf_put(&token, next.ptr ? next.ptr : "", next.size));
	}
done:
	mvms_buf_dispose(&full);
	mvms_buf_dispose(&token);
	mvms_buf_dispose(&next);
	return error;
}

static int s3_backend__list(mvms_backend *be, const char *prefix, mvms_backend_list_cb cb,
			    void *payload)
{
	return s3_list(be, prefix, cb, NULL, payload);
}

/* Objects are written whole by one PUT (or a completed multipart upload), never under a
 * temporary key: "tmp/" lists nothing. Parts of an upload that was never completed are
 * not objects; a bucket lifecycle rule (AbortIncompleteMultipartUpload) removes them. */
static int s3_backend__scan(mvms_backend *be, const char *prefix, mvms_backend_scan_cb cb,
			    void *payload)
{
	if (prefix && strncmp(prefix, "tmp/", 4) == 0)
		return 0;
	return s3_list(be, prefix, NULL, cb, payload);
}

static int s3_backend__remove(mvms_backend *be, const char *key)
{
	s3_call c = { 0 };
	int error;

	if ((error = check_key(key)) < 0)
		return error;
	c.s = (s3_backend *)be;
	c.method = "DELETE";
	c.key = key;
	error = mvms_s3__call_run(&c);
	mvms_s3__call_dispose(&c);
	if (error == MVMS_ENOTFOUND) {
		mvms_error_clear();
		error = 0;
	}
	return error;
}

static void free_secret(char *p)
{
	if (p) {
		sodium_memzero(p, strlen(p));
		free(p);
	}
}

static void s3_backend__free(mvms_backend *be)
{
	s3_backend *s = (s3_backend *)be;
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->npool; i++)
		curl_easy_cleanup(s->pool[i]);
	pthread_mutex_destroy(&s->lock);
	curl_slist_free_all(s->resolve);
	free(s->bucket);
	free(s->prefix);
	free(s->scheme);
	free(s->authority);
	free(s->region);
	free(s->access_key);
	free_secret(s->secret_key);
	free_secret(s->session_token);
	free_secret(s->bearer);
	free(s);
}

int mvms_backend_s3_put_if_absent(mvms_backend *be, const char *key, const void *data,
				  size_t len)
{
	int error;

	if (!be || be->writer_open != s3_backend__writer_open)
		return mvms_error_set(MVMS_EINVALID, "s3: put_if_absent on a non-S3 backend");
	if ((error = check_key(key)) < 0)
		return error;
	return s3_put((s3_backend *)be, key, data ? data : "", len, "*");
}

int mvms_backend_s3_check(mvms_backend *be)
{
	s3_backend *s = (s3_backend *)be;
	mvms_sigv4_pair q[3];
	s3_call c = { 0 };
	int error;

	if (!be || be->writer_open != s3_backend__writer_open)
		return mvms_error_set(MVMS_EINVALID, "s3: check on a non-S3 backend");
	q[0] = (mvms_sigv4_pair){ "list-type", "2" };
	q[1] = (mvms_sigv4_pair){ "max-keys", "1" };
	q[2] = (mvms_sigv4_pair){ "prefix", s->prefix };
	c.s = s;
	c.method = "GET";
	c.query = q;
	c.nquery = 3;
	c.resp_max = S3_ERRBODY_MAX;
	error = mvms_s3__call_run(&c);
	if (error == 0 && !memmem(c.resp.ptr ? c.resp.ptr : "", c.resp.size, "ListBucketResult", 16))
		error = mvms_error_set(MVMS_ERROR, "s3: listing bucket '%s' at %s://%s gave no "
				       "ListBucketResult: is it an S3 server?", s->bucket, s->scheme,
				       s->authority);
	else if (error < 0 && c.cc != CURLE_OK)
		error = mvms_error_set(error, "s3: cannot connect to %s://%s (%s)", s->scheme,
				       s->authority, mvms_error_last() + (strncmp(mvms_error_last(),
									  "s3: ", 4) ? 0 : 4));
	else if (error < 0 && c.status == 404)
		error = mvms_error_set(MVMS_ENOTFOUND, "s3: no such bucket '%s' at %s://%s (create it "
				       "first)", s->bucket, s->scheme, s->authority);
	mvms_s3__call_dispose(&c);
	return error;
}

static void global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Splits "scheme://authority[/]" (a bare "host:port" gets http://). */
static int parse_endpoint(s3_backend *s, const char *ep)
{
	const char *p = strstr(ep, "://"), *auth;
	size_t alen;

	if (p) {
		s->scheme = strndup(ep, (size_t)(p - ep));
		auth = p + 3;
	} else {
		s->scheme = strdup("http");
		auth = ep;
	}
	alen = strcspn(auth, "/?#");
	if (!s->scheme || alen == 0 || (auth[alen] && strcmp(auth + alen, "/") != 0) ||
	    (strcmp(s->scheme, "http") != 0 && strcmp(s->scheme, "https") != 0))
		return mvms_error_set(MVMS_EINVALID,
				      "s3: endpoint '%.200s': expected http[s]://HOST[:PORT]", ep);
	s->authority = strndup(auth, alen);
	if (!s->authority)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	return 0;
}

int mvms_backend_s3(mvms_backend **out, const mvms_backend_s3_options *opts)
{
	s3_backend *s = NULL;
	int error = 0;
	const char *v;
	mvms_buf ep = MVMS_BUF_INIT;
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	*out = NULL;
	if (!opts || opts->version != 1 || !opts->bucket || !*opts->bucket)
		return mvms_error_set(MVMS_EINVALID, "s3: options: a bucket is required");
	if (opts->access_key && !opts->secret_key && !opts->bearer_token)
		return mvms_error_set(MVMS_EINVALID, "s3: an access key without a secret key");
	if (sodium_init() < 0)
		return mvms_error_set(MVMS_ERROR, "s3: libsodium failed to initialise");
	pthread_once(&once, global_init);

	s = calloc(1, sizeof(*s));
	MVMS_CHECK_ALLOC(s, error);
	pthread_mutex_init(&s->lock, NULL);
	s->gcs = opts->gcs;
	s->bucket = strdup(opts->bucket);
	MVMS_CHECK_ALLOC(s->bucket, error);
	v = opts->prefix ? opts->prefix : "";
	while (*v == '/')
		v++;
	MVMS_TRY(mvms_buf_puts(&ep, v));
	if (ep.size && ep.ptr[ep.size - 1] != '/')
		MVMS_TRY(mvms_buf_puts(&ep, "/"));
	s->prefix = mvms_buf_detach(&ep);
	MVMS_CHECK_ALLOC(s->prefix, error);
	s->region = strdup(opts->region && *opts->region ? opts->region
							  : (opts->gcs ? "auto" : "us-east-1"));
	MVMS_CHECK_ALLOC(s->region, error);
	if (opts->endpoint && *opts->endpoint)
		MVMS_TRY(mvms_buf_puts(&ep, opts->endpoint));
	else if (opts->gcs)
		MVMS_TRY(mvms_buf_puts(&ep, "https://storage.googleapis.com"));
	else
		MVMS_TRY(mvms_buf_printf(&ep, "https://s3.%s.amazonaws.com", s->region));
	MVMS_TRY(parse_endpoint(s, ep.ptr));
	s->bearer = dup_or_null(opts->bearer_token);
	if (!s->bearer && opts->access_key && *opts->access_key) {
		s->access_key = strdup(opts->access_key);
		s->secret_key = strdup(opts->secret_key);
		MVMS_CHECK_ALLOC(s->access_key, error);
		MVMS_CHECK_ALLOC(s->secret_key, error);
		if (opts->session_token && *opts->session_token) {
			s->session_token = strdup(opts->session_token);
			MVMS_CHECK_ALLOC(s->session_token, error);
		}
	}
	/* As the AWS SDKs: an IP address or localhost endpoint has no name to put the bucket
	 * in front of, so it takes path style unless virtual host is asked for (-1). */
	s->path_style = opts->path_style > 0 ||
			(opts->path_style == 0 &&
			 mvms_s3_needs_path_style(s->authority, s->bucket,
						  strcmp(s->scheme, "https") == 0));
	s->concurrency = opts->concurrency ? opts->concurrency : S3_DEFAULT_CONCURRENCY;
	s->max_retries = opts->max_retries ? opts->max_retries : S3_DEFAULT_RETRIES;
	s->threshold = opts->multipart_threshold ? opts->multipart_threshold : S3_DEFAULT_THRESHOLD;
	s->part_size = opts->part_size ? opts->part_size : S3_DEFAULT_PART;
	s->backoff_ms = 200;
	if ((v = mvms_s3__env("MVMS_S3_BACKOFF_MS")))
		s->backoff_ms = (unsigned)strtoul(v, NULL, 10);
	if ((v = mvms_s3__env("MVMS_S3_RESOLVE"))) {
		s->resolve = curl_slist_append(NULL, v);
		MVMS_CHECK_ALLOC(s->resolve, error);
	}

	s->parent.version = MVMS_BACKEND_VERSION;
	s->parent.name = opts->gcs ? "gcs" : "s3";
	s->parent.caps = MVMS_BACKEND_CAP_REMOTE | MVMS_BACKEND_CAP_PUT_IF_ABSENT;
	s->parent.writer_open = s3_backend__writer_open;
	s->parent.writer_write = s3_backend__writer_write;
	s->parent.writer_commit = s3_backend__writer_commit;
	s->parent.writer_abort = s3_backend__writer_abort;
	s->parent.get = s3_backend__get;
	s->parent.stat = s3_backend__stat;
	s->parent.list = s3_backend__list;
	s->parent.put_if_absent = mvms_backend_s3_put_if_absent;
	s->parent.remove = s3_backend__remove;
	s->parent.scan = s3_backend__scan;
	s->parent.stat_time = s3_backend__stat_time;
	s->parent.free = s3_backend__free;
	*out = &s->parent;
	s = NULL;
done:
	mvms_buf_dispose(&ep);
	if (s)
		s3_backend__free(&s->parent);
	return error;
}
