/* SPDX-License-Identifier: MIT */
/*
 * The S3 backend's HTTP transport over libcurl: request URLs, SigV4-signed headers
 * (sigv4.c; never CURLOPT_AWS_SIGV4: Debian's 7.88 signs unsorted queries as written), the
 * pool of easy handles kept under a mutex so connections are reused, one request run with
 * retries (exponential backoff with full jitter on 5xx, 429, timeouts and resets), and the
 * judgement of a reply into 0 or an MVMS_E* with a message. It does not know what the
 * requests are for (backend_s3.c, s3_multipart.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sodium.h>
#include "s3_int.h"

/* Full jitter: a uniform delay in [0, min(cap, base * 2^attempt)] milliseconds. */
unsigned mvms_s3__backoff_ms(const s3_backend *s, unsigned attempt)
{
	uint64_t d = s->backoff_ms ? s->backoff_ms : 1;

	while (attempt-- > 0 && d < S3_BACKOFF_CAP_MS)
		d *= 2;
	if (d > S3_BACKOFF_CAP_MS)
		d = S3_BACKOFF_CAP_MS;
	return randombytes_uniform((uint32_t)d + 1);
}

void mvms_s3__sleep_ms(unsigned ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0)
		;
}

int mvms_s3_build_url(mvms_buf *url, mvms_buf *host, mvms_backend *be, const char *key,
		      const mvms_sigv4_pair *query, size_t nquery)
{
	s3_backend *s = (s3_backend *)be;
	int error = 0;
	mvms_buf path = MVMS_BUF_INIT;

	MVMS_TRY(mvms_buf_puts(&path, "/"));
	if (s->path_style) {
		MVMS_TRY(mvms_buf_puts(&path, s->bucket));
		if (key)
			MVMS_TRY(mvms_buf_puts(&path, "/"));
		MVMS_TRY(mvms_buf_printf(host, "%s", s->authority));
	} else {
		MVMS_TRY(mvms_buf_printf(host, "%s.%s", s->bucket, s->authority));
	}
	if (key) {
		MVMS_TRY(mvms_buf_puts(&path, s->prefix));
		MVMS_TRY(mvms_buf_puts(&path, key));
	}
	MVMS_TRY(mvms_buf_printf(url, "%s://%s", s->scheme, host->ptr));
	MVMS_TRY(mvms_sigv4_uri_encode(url, path.ptr, path.size, 1));
	if (nquery) {
		MVMS_TRY(mvms_buf_puts(url, "?"));
		MVMS_TRY(mvms_sigv4_canonical_query(url, query, nquery));
	}
done:
	mvms_buf_dispose(&path);
	return error;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
	s3_call *c = ud;
	size_t n = size * nmemb;
	long status = 0;

	curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
	if (c->dst && (status == 200 || status == 206)) {
		size_t take = n;
		if (status == 200 && c->skip) { /* the server ignored Range */
			size_t drop = c->skip < take ? (size_t)c->skip : take;
			c->skip -= drop;
			data += drop;
			take -= drop;
		}
		if (take > c->dst_len - c->got)
			take = c->dst_len - c->got; /* a longer reply: we only need our range */
		memcpy(c->dst + c->got, data, take);
		c->got += take;
		return n;
	}
	if (c->resp.size + n > c->resp_max)
		return c->dst ? n : 0; /* error bodies: keep the start; others: too big */
	return mvms_buf_put(&c->resp, data, n) < 0 ? 0 : n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
	s3_call *c = ud;
	size_t n = size * nmemb, vl;
	const char *v;

	if (n > 5 && strncasecmp(data, "etag:", 5) == 0) {
		v = data + 5;
		vl = n - 5;
		while (vl && (*v == ' ' || *v == '\t'))
			v++, vl--;
		while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
			vl--;
		if (vl < sizeof(c->etag)) {
			memcpy(c->etag, v, vl);
			c->etag[vl] = '\0';
		}
	}
	return n;
}

static size_t on_read(char *out, size_t size, size_t nmemb, void *ud)
{
	s3_call *c = ud;
	size_t n = size * nmemb, left = c->body_len - c->body_pos;

	if (n > left)
		n = left;
	if (n)
		memcpy(out, c->body + c->body_pos, n);
	c->body_pos += n;
	return n;
}

/* curl rewinds the body when it sends it again on a new connection (the server closed a
 * reused one, or answered before reading it all); without this it fails the request. */
static int on_seek(void *ud, curl_off_t offset, int origin)
{
	s3_call *c = ud;

	if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > c->body_len)
		return CURL_SEEKFUNC_FAIL;
	c->body_pos = (size_t)offset;
	return CURL_SEEKFUNC_OK;
}

static int add_header(struct curl_slist **l, const char *fmt, const char *a, const char *b)
{
	char line[8192];
	struct curl_slist *n;
	int w = snprintf(line, sizeof(line), fmt, a, b);

	/* A header cut short would be sent as a wrong one (a truncated Authorization). */
	if (w < 0 || (size_t)w >= sizeof(line))
		return mvms_error_set(MVMS_EINVALID, "s3: a request header is too long (%d bytes)", w);
	n = curl_slist_append(*l, line);
	if (!n)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	*l = n;
	return 0;
}

static CURL *pool_take(s3_backend *s)
{
	CURL *h = NULL;

	pthread_mutex_lock(&s->lock);
	if (s->npool)
		h = s->pool[--s->npool];
	pthread_mutex_unlock(&s->lock);
	if (h)
		curl_easy_reset(h); /* keeps its connection cache */
	else
		h = curl_easy_init();
	return h;
}

static void pool_give(s3_backend *s, CURL *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&s->lock);
	if (s->npool < S3_POOL_MAX) {
		s->pool[s->npool++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&s->lock);
	if (h)
		curl_easy_cleanup(h);
}

void mvms_s3__call_release(s3_call *c)
{
	curl_slist_free_all(c->hdrs);
	c->hdrs = NULL;
	if (c->h)
		pool_give(c->s, c->h);
	c->h = NULL;
}

/* Adds the SigV4 headers (x-amz-*, Authorization) for @c sent to @host. */
static int sign_headers(s3_call *c, const char *host)
{
	s3_backend *s = c->s;
	int error = 0;
	mvms_buf path = MVMS_BUF_INIT, authz = MVMS_BUF_INIT;
	char amz_date[17], hash[65];
	time_t t = time(NULL);
	struct tm tm;
	mvms_sigv4_pair h[6];
	size_t nh = 0;
	mvms_sigv4_request req = { 0 };
	mvms_sigv4_key key = { s->access_key, s->secret_key, s->region, "s3" };

	gmtime_r(&t, &tm);
	strftime(amz_date, sizeof(amz_date), "%Y%m%dT%H%M%SZ", &tm);
	mvms_sigv4_sha256_hex(hash, c->body ? (const void *)c->body : "", c->body_len);
	h[nh++] = (mvms_sigv4_pair){ "host", host };
	h[nh++] = (mvms_sigv4_pair){ "x-amz-content-sha256", hash };
	h[nh++] = (mvms_sigv4_pair){ "x-amz-date", amz_date };
	if (c->range)
		h[nh++] = (mvms_sigv4_pair){ "range", c->range };
	if (c->if_none_match)
		h[nh++] = (mvms_sigv4_pair){ "if-none-match", c->if_none_match };
	if (s->session_token)
		h[nh++] = (mvms_sigv4_pair){ "x-amz-security-token", s->session_token };
	/* The canonical URI is the raw path; sigv4 encodes it exactly as the URL does. */
	MVMS_TRY(mvms_buf_put(&path, "/", 1));
	if (s->path_style) {
		MVMS_TRY(mvms_buf_puts(&path, s->bucket));
		if (c->key)
			MVMS_TRY(mvms_buf_puts(&path, "/"));
	}
	if (c->key) {
		MVMS_TRY(mvms_buf_puts(&path, s->prefix));
		MVMS_TRY(mvms_buf_puts(&path, c->key));
	}
	req.method = c->method;
	req.path = path.ptr;
	req.query = c->query;
	req.nquery = c->nquery;
	req.headers = h;
	req.nheaders = nh;
	req.payload_hash = hash;
	MVMS_TRY(mvms_sigv4_sign(&authz, NULL, NULL, &req, &key, amz_date));
	MVMS_TRY(add_header(&c->hdrs, "x-amz-content-sha256: %s%s", hash, ""));
	MVMS_TRY(add_header(&c->hdrs, "x-amz-date: %s%s", amz_date, ""));
	if (s->session_token)
		MVMS_TRY(add_header(&c->hdrs, "x-amz-security-token: %s%s", s->session_token, ""));
	MVMS_TRY(add_header(&c->hdrs, "Authorization: %s%s", authz.ptr, ""));
done:
	mvms_buf_dispose(&path);
	mvms_buf_dispose(&authz);
	return error;
}

/* The curl options of one attempt: URL, headers, callbacks, timeouts, method and body. */
static void set_options(s3_call *c, const char *url)
{
	s3_backend *s = c->s;

	curl_easy_setopt(c->h, CURLOPT_URL, url);
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, c->hdrs);
	curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->h, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT, 15L);
	curl_easy_setopt(c->h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c->h, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c->h, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(c->h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c->h, CURLOPT_HEADERDATA, c);
	curl_easy_setopt(c->h, CURLOPT_USERAGENT, "mvms-store");
	if (s->resolve)
		curl_easy_setopt(c->h, CURLOPT_RESOLVE, s->resolve);
	if (strcmp(c->method, "HEAD") == 0) {
		curl_easy_setopt(c->h, CURLOPT_NOBODY, 1L);
	} else if (strcmp(c->method, "GET") == 0) {
		curl_easy_setopt(c->h, CURLOPT_HTTPGET, 1L);
	} else if (strcmp(c->method, "PUT") == 0 || strcmp(c->method, "POST") == 0) {
		curl_easy_setopt(c->h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c->h, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(c->h, CURLOPT_READDATA, c);
		curl_easy_setopt(c->h, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(c->h, CURLOPT_SEEKDATA, c);
		curl_easy_setopt(c->h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)c->body_len);
		if (strcmp(c->method, "POST") == 0)
			curl_easy_setopt(c->h, CURLOPT_CUSTOMREQUEST, "POST");
	} else {
		curl_easy_setopt(c->h, CURLOPT_CUSTOMREQUEST, c->method);
	}
}

int mvms_s3__call_setup(s3_call *c)
{
	s3_backend *s = c->s;
	int error = 0;
	mvms_buf url = MVMS_BUF_INIT, host = MVMS_BUF_INIT;

	c->status = 0;
	c->cc = CURLE_OK;
	c->got = 0;
	c->body_pos = 0;
	c->etag[0] = '\0';
	c->errbuf[0] = '\0';
	mvms_buf_clear(&c->resp);
	curl_slist_free_all(c->hdrs);
	c->hdrs = NULL;
	if (!c->h && !(c->h = pool_take(s))) {
		error = mvms_error_set(MVMS_ERROR, "s3: cannot create a curl handle");
		goto done;
	}
	MVMS_TRY(mvms_s3_build_url(&url, &host, &s->parent, c->key, c->query, c->nquery));
	MVMS_TRY(add_header(&c->hdrs, "Host: %s%s", host.ptr, ""));
	MVMS_TRY(add_header(&c->hdrs, "Expect:%s%s", "", ""));
	MVMS_TRY(add_header(&c->hdrs, "Content-Type:%s%s", "", ""));
	if (c->range)
		MVMS_TRY(add_header(&c->hdrs, "Range: %s%s", c->range, ""));
	if (c->if_none_match)
		MVMS_TRY(add_header(&c->hdrs, "If-None-Match: %s%s", c->if_none_match, ""));
	if (s->bearer)
		MVMS_TRY(add_header(&c->hdrs, "Authorization: Bearer %s%s", s->bearer, ""));
	else if (s->access_key)
		MVMS_TRY(sign_headers(c, host.ptr));
	set_options(c, url.ptr);
done:
	mvms_buf_dispose(&url);
	mvms_buf_dispose(&host);
	return error;
}

/* MVMS_EAUTH, with what the refusal means (the server's Code and Message, the key id). */
static int auth_failed(const s3_call *c, const char *what, const char *code)
{
	const s3_backend *s = c->s;
	mvms_buf why = MVMS_BUF_INIT, msg = MVMS_BUF_INIT;
	int rc;

	if (c->resp.size)
		mvms_s3_xml_text(&msg, c->resp.ptr, c->resp.size, "Message");
	rc = mvms_s3_auth_reason(&why, c->status, code, msg.size ? msg.ptr : NULL, s->access_key,
				 s->bearer != NULL);
	rc = mvms_error_set(MVMS_EAUTH, "s3: %s %s/%s%s: HTTP %ld%s%s: %s", what, s->bucket,
			    s->prefix, c->key ? c->key : "", c->status, code ? " " : "",
			    code ? code : "", rc == 0 && why.ptr ? why.ptr : "access refused");
	mvms_buf_dispose(&why);
	mvms_buf_dispose(&msg);
	return rc;
}

/* After a transfer: 0 for 2xx, 1 to retry, or a negative code with the message set. */
int mvms_s3__call_judge(s3_call *c, const char *what)
{
	s3_backend *s = c->s;
	mvms_buf code = MVMS_BUF_INIT;
	int rc, has_code;

	if (c->cc == CURLE_OK)
		curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &c->status);
	if (c->cc == CURLE_OK && c->status >= 200 && c->status < 300)
		return 0;
	has_code = c->resp.size && mvms_s3_xml_text(&code, c->resp.ptr, c->resp.size, "Code") == 0;
	if (mvms_s3_retryable(c->cc, c->status, has_code ? code.ptr : NULL) &&
	    c->attempt < s->max_retries) {
		mvms_buf_dispose(&code);
		return 1;
	}
	if (c->cc != CURLE_OK) {
		rc = mvms_error_set(c->cc == CURLE_OPERATION_TIMEDOUT ? MVMS_ETIMEOUT : MVMS_ERROR,
				    "s3: %s %s/%s%s: %s (%s) after %u attempts", what, s->bucket,
				    s->prefix, c->key ? c->key : "", curl_easy_strerror(c->cc),
				    c->errbuf[0] ? c->errbuf : "no detail", c->attempt + 1);
	} else if (c->status == 404 && (!has_code || strcmp(code.ptr, "NoSuchKey") == 0 ||
					strcmp(code.ptr, "NotFound") == 0)) {
		rc = mvms_error_set(MVMS_ENOTFOUND, "s3: %s %s/%s%s: not found", what, s->bucket,
				    s->prefix, c->key ? c->key : "");
	} else if (mvms_s3_is_auth_error(c->status, has_code ? code.ptr : NULL)) {
		rc = auth_failed(c, what, has_code ? code.ptr : NULL);
	} else {
		int code_num = MVMS_ERROR;
		if (c->status == 412)
			code_num = MVMS_EEXISTS;
		else if (c->status == 501)
			code_num = MVMS_ENOTSUPPORTED;
		rc = mvms_error_set(code_num, "s3: %s %s/%s%s: HTTP %ld%s%s%s", what, s->bucket,
				    s->prefix, c->key ? c->key : "", c->status, has_code ? " " : "",
				    has_code ? code.ptr : "", c->attempt ? " (retries exhausted)" : "");
	}
	mvms_buf_dispose(&code);
	return rc;
}

/* Runs @c with retries on its own easy handle. The handle goes back to the pool. */
int mvms_s3__call_run(s3_call *c)
{
	int rc;

	if (!c->resp_max)
		c->resp_max = S3_ERRBODY_MAX;
	for (c->attempt = 0;; c->attempt++) {
		if ((rc = mvms_s3__call_setup(c)) < 0)
			break;
		c->cc = curl_easy_perform(c->h);
		rc = mvms_s3__call_judge(c, c->method);
		if (rc != 1)
			break;
		mvms_s3__sleep_ms(mvms_s3__backoff_ms(c->s, c->attempt));
	}
	mvms_s3__call_release(c);
	return rc;
}

void mvms_s3__call_dispose(s3_call *c)
{
	mvms_s3__call_release(c);
	mvms_buf_dispose(&c->resp);
}
