/* SPDX-License-Identifier: MIT */
/*
 * The S3 backend (AWS, MinIO, Ceph RGW, Swift s3api, R2, and GCS through its XML API) over
 * libcurl, signed with sigv4.c (never CURLOPT_AWS_SIGV4: Debian's 7.88 signs unsorted
 * queries as written). Writers buffer the object in memory; commit PUTs it, or sends it in
 * parts in parallel (curl multi) above the multipart threshold. Retries with exponential
 * backoff and full jitter on 5xx, 429, timeouts and resets. Easy handles are pooled under a
 * mutex so connections are reused; nothing else is shared between threads.
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <sodium.h>
#include "sigv4.h"

#define S3_DEFAULT_CONCURRENCY 8
#define S3_DEFAULT_RETRIES 5
/* A pack (64 MiB by default) goes up in one PUT: fewer requests, and servers that build
 * multipart objects from segments (Swift) serve them slower. Two packs upload at once, so
 * the link stays busy without parts; larger packs still go up in parallel parts. */
#define S3_DEFAULT_THRESHOLD (100ull << 20)
#define S3_DEFAULT_PART (8ull << 20)
#define S3_MIN_PART (5ull << 20)     /* S3's minimum for every part but the last */
#define S3_MAX_PARTS 10000
#define S3_POOL_MAX 32               /* idle easy handles kept for connection reuse */
#define S3_ERRBODY_MAX (64u << 10)   /* error and list bodies we keep */
#define S3_LIST_BODY_MAX (16u << 20)
#define S3_BACKOFF_CAP_MS 20000

typedef struct s3_backend {
	mvms_backend parent;
	char *bucket;
	char *prefix;     /* "" or ends with '/' */
	char *scheme;     /* "https" */
	char *authority;  /* "s3.us-east-1.amazonaws.com", "127.0.0.1:8080" */
	char *region;
	char *access_key; /* NULL: anonymous (unless bearer) */
	char *secret_key;
	char *session_token;
	char *bearer;
	int path_style;
	int gcs;
	unsigned concurrency;
	unsigned max_retries;
	unsigned backoff_ms; /* base delay (MVMS_S3_BACKOFF_MS, default 200) */
	uint64_t threshold;
	uint64_t part_size;
	struct curl_slist *resolve; /* MVMS_S3_RESOLVE */
	pthread_mutex_t lock;       /* guards pool */
	CURL *pool[S3_POOL_MAX];
	size_t npool;
} s3_backend;

typedef struct s3_writer {
	mvms_backend_writer parent;
	mvms_buf buf;
} s3_writer;

/* One HTTP exchange, set up on an easy handle; reused across retries. */
typedef struct s3_call {
	s3_backend *s;
	const char *method;
	const char *key;              /* without the store prefix; NULL for the bucket itself */
	const mvms_sigv4_pair *query;
	size_t nquery;
	const unsigned char *body;
	size_t body_len;
	const char *range;            /* "bytes=a-b" or NULL */
	const char *if_none_match;    /* "*" or NULL */
	/* reading into a caller's buffer (get) */
	unsigned char *dst;
	size_t dst_len;
	uint64_t skip;                /* bytes to drop when a server ignores Range (200) */
	size_t got;
	/* results */
	CURL *h;
	struct curl_slist *hdrs;
	CURLcode cc;
	long status;
	mvms_buf resp;                /* body of errors and of small replies */
	size_t resp_max;
	char etag[130];
	char errbuf[CURL_ERROR_SIZE];
	size_t body_pos;              /* read callback position */
	unsigned attempt;
	double not_before;            /* multi: earliest retry time */
} s3_call;

/* ---- options ------------------------------------------------------------------------- */

static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

int mvms_backend_s3_options_from_env(mvms_backend_s3_options *out, char *buf, size_t bufsize,
				     const char *url)
{
	const char *rest, *t;
	char *slash;
	int gs;
	size_t n;

	memset(out, 0, sizeof(*out));
	out->version = 1;
	if (!url)
		return mvms_error_set(MVMS_EINVALID, "s3: no URL");
	if (strncmp(url, "s3://", 5) == 0)
		gs = 0;
	else if (strncmp(url, "gs://", 5) == 0)
		gs = 1;
	else
		return mvms_error_set(MVMS_EINVALID,
				      "backend '%.200s': expected s3://BUCKET[/PREFIX] or "
				      "gs://BUCKET[/PREFIX]", url);
	rest = url + 5;
	n = strlen(rest);
	if (!buf || bufsize < n + 1)
		return mvms_error_set(MVMS_EINVALID, "s3: options buffer too small for '%.200s'",
				      url);
	memcpy(buf, rest, n + 1);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (!*buf || strchr(buf, '?') || strchr(buf, '#') || strchr(buf, '@') || strchr(buf, ':'))
		return mvms_error_set(MVMS_EINVALID, "backend '%.200s': bad bucket name", url);
	out->bucket = buf;
	out->prefix = slash ? slash + 1 : "";
	if (*out->prefix == '/' || strstr(out->prefix, "//"))
		return mvms_error_set(MVMS_EINVALID, "backend '%.200s': empty prefix component",
				      url);

	if ((t = env("MVMS_S3_MULTIPART_THRESHOLD"))) {
		char *end = NULL;
		unsigned long long v = strtoull(t, &end, 10);
		unsigned shift = *end == 'K' ? 10 : *end == 'M' ? 20 : *end == 'G' ? 30 : 0;
		if (end == t || (shift && end[1]) || (!shift && *end) || v == 0 || v > (1ull << 40) >> shift)
			return mvms_error_set(MVMS_EINVALID, "MVMS_S3_MULTIPART_THRESHOLD '%.40s': want "
					      "a size in bytes, with K, M or G", t);
		out->multipart_threshold = (uint64_t)v << shift;
	}
	out->gcs = gs;
	/* Unset: the default (virtual host, path style where the endpoint needs it). */
	if ((t = env("MVMS_S3_PATH_STYLE"))) {
		if (strcmp(t, "1") != 0 && strcmp(t, "0") != 0)
			return mvms_error_set(MVMS_EINVALID, "MVMS_S3_PATH_STYLE '%.40s': want 1 (path "
					      "style) or 0 (virtual host)", t);
		out->path_style = *t == '1' ? 1 : -1;
	}
	out->session_token = env("AWS_SESSION_TOKEN");
	if (!gs) {
		out->access_key = env("AWS_ACCESS_KEY_ID");
		out->secret_key = env("AWS_SECRET_ACCESS_KEY");
		out->region = env("AWS_REGION") ? env("AWS_REGION") : env("AWS_DEFAULT_REGION");
		if (!out->region)
			out->region = "us-east-1";
		out->endpoint = env("AWS_ENDPOINT_URL"); /* NULL: https://s3.REGION.amazonaws.com */
	} else {
		if (env("GOOGLE_HMAC_ACCESS_ID")) {
			out->access_key = env("GOOGLE_HMAC_ACCESS_ID");
			out->secret_key = env("GOOGLE_HMAC_SECRET");
			out->session_token = NULL;
		} else {
			out->access_key = env("AWS_ACCESS_KEY_ID");
			out->secret_key = env("AWS_SECRET_ACCESS_KEY");
		}
		out->bearer_token = env("GOOGLE_OAUTH_ACCESS_TOKEN");
		/* GCS signs in region "auto"; an S3-compatible stand-in (an emulator, a local
		 * S3 server) may insist on its own, so MVMS_GCS_REGION overrides it. AWS_REGION is
		 * not used: it is often set for AWS work and would break real GCS. */
		out->region = env("MVMS_GCS_REGION") ? env("MVMS_GCS_REGION") : "auto";
		out->endpoint = env("MVMS_GCS_ENDPOINT") ? env("MVMS_GCS_ENDPOINT")
							 : env("STORAGE_EMULATOR_HOST");
	}
	return 0;
}

/* ---- small helpers ------------------------------------------------------------------- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Full jitter: a uniform delay in [0, min(cap, base * 2^attempt)] milliseconds. */
static unsigned backoff_ms(const s3_backend *s, unsigned attempt)
{
	uint64_t d = s->backoff_ms ? s->backoff_ms : 1;

	while (attempt-- > 0 && d < S3_BACKOFF_CAP_MS)
		d *= 2;
	if (d > S3_BACKOFF_CAP_MS)
		d = S3_BACKOFF_CAP_MS;
	return randombytes_uniform((uint32_t)d + 1);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0)
		;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* Decodes the five XML entities and numeric references (ASCII/UTF-8) into @out. */
static int xml_decode(mvms_buf *out, const char *s, size_t len)
{
	static const struct { const char *ent; char c; } ents[] = {
		{ "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' }, { "&quot;", '"' }, { "&apos;", '\'' },
	};
	int error = 0;
	size_t i = 0, k;

	while (i < len) {
		if (s[i] != '&') {
			MVMS_TRY(mvms_buf_put(out, s + i, 1));
			i++;
			continue;
		}
		for (k = 0; k < MVMS_ARRAY_SIZE(ents); k++) {
			size_t el = strlen(ents[k].ent);
			if (len - i >= el && memcmp(s + i, ents[k].ent, el) == 0) {
				MVMS_TRY(mvms_buf_put(out, &ents[k].c, 1));
				i += el;
				break;
			}
		}
		if (k < MVMS_ARRAY_SIZE(ents))
			continue;
		if (len - i > 3 && s[i + 1] == '#') {
			const char *semi = memchr(s + i, ';', len - i);
			unsigned long cp;
			char *end;
			if (semi && semi - (s + i) < 12) {
				if (s[i + 2] == 'x' || s[i + 2] == 'X')
					cp = strtoul(s + i + 3, &end, 16);
				else
					cp = strtoul(s + i + 2, &end, 10);
				if (end == semi && cp > 0 && cp <= 0x10FFFF) {
					unsigned char u[4];
					size_t un;
					if (cp < 0x80) {
						u[0] = (unsigned char)cp; un = 1;
					} else if (cp < 0x800) {
						u[0] = (unsigned char)(0xC0 | (cp >> 6));
						u[1] = (unsigned char)(0x80 | (cp & 0x3F)); un = 2;
					} else if (cp < 0x10000) {
						u[0] = (unsigned char)(0xE0 | (cp >> 12));
						u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
						u[2] = (unsigned char)(0x80 | (cp & 0x3F)); un = 3;
					} else {
						u[0] = (unsigned char)(0xF0 | (cp >> 18));
						u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
						u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
						u[3] = (unsigned char)(0x80 | (cp & 0x3F)); un = 4;
					}
					MVMS_TRY(mvms_buf_put(out, u, un));
					i = (size_t)(semi - s) + 1;
					continue;
				}
			}
		}
		MVMS_TRY(mvms_buf_put(out, "&", 1)); /* a stray '&': kept as is */
		i++;
	}
done:
	return error;
}

/* Finds <tag>...</tag> (also <tag attr="...">) in [s, s+len); sets the inner span. */
static int xml_find(const char **inner, size_t *inner_len, const char *s, size_t len,
		    const char *tag)
{
	size_t tl = strlen(tag), i;

	for (i = 0; i + tl + 2 <= len; i++) {
		const char *p = s + i, *open_end, *close;
		size_t j;
		if (p[0] != '<' || memcmp(p + 1, tag, tl) != 0)
			continue;
		if (p[1 + tl] == '/' && i + tl + 3 <= len && p[2 + tl] == '>') {
			*inner = p + tl + 3; /* <tag/> */
			*inner_len = 0;
			return 0;
		}
		if (p[1 + tl] != '>' && p[1 + tl] != ' ')
			continue;
		open_end = memchr(p, '>', len - i);
		if (!open_end)
			return MVMS_ERROR;
		if (open_end[-1] == '/') {
			*inner = open_end + 1;
			*inner_len = 0;
			return 0;
		}
		for (j = (size_t)(open_end + 1 - s); j + tl + 3 <= len; j++) {
			close = s + j;
			if (close[0] == '<' && close[1] == '/' && memcmp(close + 2, tag, tl) == 0 &&
			    close[2 + tl] == '>') {
				*inner = open_end + 1;
				*inner_len = (size_t)(close - *inner);
				return 0;
			}
		}
		return MVMS_ERROR; /* not closed */
	}
	return MVMS_ENOTFOUND;
}

int mvms_s3_xml_text(mvms_buf *out, const char *xml, size_t len, const char *tag)
{
	const char *in;
	size_t il;
	int rc = xml ? xml_find(&in, &il, xml, len, tag) : MVMS_ENOTFOUND;

	if (rc < 0)
		return rc == MVMS_ERROR ? MVMS_ENOTFOUND : rc;
	return xml_decode(out, in, il);
}

int mvms_s3_time(int64_t *out, const char *s)
{
	struct tm tm;
	int y, mo, d, h, mi, sec, n = 0;

	*out = 0;
	memset(&tm, 0, sizeof(tm));
	/* ISO 8601 as ListObjectsV2 writes it: 2024-01-01T00:00:00.000Z */
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) == 6 && n == 19) {
		tm.tm_year = y - 1900;
		tm.tm_mon = mo - 1;
		tm.tm_mday = d;
		tm.tm_hour = h;
		tm.tm_min = mi;
		tm.tm_sec = sec;
		*out = (int64_t)timegm(&tm);
		return *out > 0 ? 0 : MVMS_EINVALID;
	}
	return MVMS_EINVALID;
}

/* The one parser of a list page, for list's callback or scan's (with LastModified). */
static int parse_list(const char *xml, size_t len, const char *strip, mvms_backend_list_cb cb,
		      mvms_backend_scan_cb scan, void *payload, int *truncated, mvms_buf *next_token)
{
	int error = 0, rc;
	const char *p = xml, *end = xml + len, *in;
	size_t il, sl = strip ? strlen(strip) : 0;
	mvms_buf key = MVMS_BUF_INIT, tmp = MVMS_BUF_INIT;

	*truncated = 0;
	mvms_buf_clear(next_token);
	if (!xml || !memmem(xml, len, "ListBucketResult", 16)) {
		error = mvms_error_set(MVMS_ERROR, "s3: list: not a ListBucketResult document");
		goto done;
	}
	while (p < end) {
		const char *c_in;
		size_t c_len;
		uint64_t size = 0;
		int64_t mtime = 0;
		char *e;

		rc = xml_find(&c_in, &c_len, p, (size_t)(end - p), "Contents");
		if (rc == MVMS_ENOTFOUND)
			break;
		if (rc < 0) {
			error = mvms_error_set(MVMS_ERROR, "s3: list: malformed <Contents>");
			goto done;
		}
		p = c_in + c_len;
		mvms_buf_clear(&key);
		mvms_buf_clear(&tmp);
		if (xml_find(&in, &il, c_in, c_len, "Key") != 0) {
			error = mvms_error_set(MVMS_ERROR, "s3: list: <Contents> without <Key>");
			goto done;
		}
		MVMS_TRY(xml_decode(&key, in, il));
		MVMS_TRY(mvms_buf_put(&key, "", 0));
		if (xml_find(&in, &il, c_in, c_len, "Size") == 0) {
			MVMS_TRY(mvms_buf_put(&tmp, in, il));
			size = strtoull(tmp.ptr, &e, 10);
			if (e == tmp.ptr || *e) {
				error = mvms_error_set(MVMS_ERROR, "s3: list: bad <Size> for %.200s",
						       key.ptr);
				goto done;
			}
		}
		if (scan && xml_find(&in, &il, c_in, c_len, "LastModified") == 0) {
			/* Unparsable: 0, "unknown", which gc treats as too young to remove. */
			mvms_buf_clear(&tmp);
			MVMS_TRY(mvms_buf_put(&tmp, in, il));
			MVMS_TRY(mvms_buf_put(&tmp, "", 0));
			mvms_s3_time(&mtime, tmp.ptr);
		}
		if (key.size < sl || memcmp(key.ptr, strip, sl) != 0)
			continue;
		rc = scan ? scan(key.ptr + sl, size, mtime, payload) : cb(key.ptr + sl, size, payload);
		if (rc != 0) {
			error = rc;
			goto done;
		}
	}
	if (xml_find(&in, &il, xml, len, "IsTruncated") == 0)
		*truncated = il == 4 && memcmp(in, "true", 4) == 0;
	if (*truncated) {
		if (xml_find(&in, &il, xml, len, "NextContinuationToken") != 0 || il == 0) {
			error = mvms_error_set(MVMS_ERROR,
					       "s3: list: truncated without NextContinuationToken");
			goto done;
		}
		MVMS_TRY(xml_decode(next_token, in, il));
	}
done:
	mvms_buf_dispose(&key);
	mvms_buf_dispose(&tmp);
	return error;
}

int mvms_s3_parse_list(const char *xml, size_t len, const char *strip, mvms_backend_list_cb cb,
		       void *payload, int *truncated, mvms_buf *next_token)
{
	return parse_list(xml, len, strip, cb, NULL, payload, truncated, next_token);
}

int mvms_s3_parse_scan(const char *xml, size_t len, const char *strip, mvms_backend_scan_cb cb,
		       void *payload, int *truncated, mvms_buf *next_token)
{
	return parse_list(xml, len, strip, NULL, cb, payload, truncated, next_token);
}

int mvms_s3_retryable(int curl_code, long status, const char *code)
{
	switch (curl_code) {
	case CURLE_OK:
		break;
	case CURLE_COULDNT_CONNECT:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		return 1;
	default:
		return 0;
	}
	/* 501 NotImplemented (Swift, conditional PUT) is an answer, not a hiccup. */
	if ((status >= 500 && status != 501) || status == 429)
		return 1;
	/* S3 answers 400 RequestTimeout when the client was too slow to send the body. */
	return code && (strcmp(code, "RequestTimeout") == 0 || strcmp(code, "SlowDown") == 0);
}

int mvms_s3_is_auth_error(long status, const char *code)
{
	if (status == 401 || status == 403)
		return 1;
	/* AWS answers 400 to an expired or malformed session token. */
	return code && (strcmp(code, "SignatureDoesNotMatch") == 0 ||
			strcmp(code, "InvalidAccessKeyId") == 0 || strcmp(code, "AccessDenied") == 0 ||
			strcmp(code, "ExpiredToken") == 0 || strcmp(code, "InvalidToken") == 0 ||
			strcmp(code, "TokenRefreshRequired") == 0);
}

/* ---- request building ---------------------------------------------------------------- */

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

	snprintf(line, sizeof(line), fmt, a, b);
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

static void call_release(s3_call *c)
{
	curl_slist_free_all(c->hdrs);
	c->hdrs = NULL;
	if (c->h)
		pool_give(c->s, c->h);
	c->h = NULL;
}

/* Prepares c->h for one attempt: URL, method, body, signed headers. */
static int call_setup(s3_call *c)
{
	s3_backend *s = c->s;
	int error = 0;
	mvms_buf url = MVMS_BUF_INIT, host = MVMS_BUF_INIT, path = MVMS_BUF_INIT,
		 authz = MVMS_BUF_INIT;
	char amz_date[17], hash[65];
	time_t t = time(NULL);
	struct tm tm;

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
	if (s->bearer) {
		MVMS_TRY(add_header(&c->hdrs, "Authorization: Bearer %s%s", s->bearer, ""));
	} else if (s->access_key) {
		mvms_sigv4_pair h[6];
		size_t nh = 0;
		mvms_sigv4_request req = { 0 };
		mvms_sigv4_key key = { s->access_key, s->secret_key, s->region, "s3" };

		gmtime_r(&t, &tm);
		strftime(amz_date, sizeof(amz_date), "%Y%m%dT%H%M%SZ", &tm);
		mvms_sigv4_sha256_hex(hash, c->body ? (const void *)c->body : "", c->body_len);
		h[nh++] = (mvms_sigv4_pair){ "host", host.ptr };
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
			MVMS_TRY(add_header(&c->hdrs, "x-amz-security-token: %s%s", s->session_token,
					    ""));
		MVMS_TRY(add_header(&c->hdrs, "Authorization: %s%s", authz.ptr, ""));
	}

	curl_easy_setopt(c->h, CURLOPT_URL, url.ptr);
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
done:
	mvms_buf_dispose(&url);
	mvms_buf_dispose(&host);
	mvms_buf_dispose(&path);
	mvms_buf_dispose(&authz);
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
static int call_judge(s3_call *c, const char *what)
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
static int call_run(s3_call *c)
{
	int rc;

	if (!c->resp_max)
		c->resp_max = S3_ERRBODY_MAX;
	for (c->attempt = 0;; c->attempt++) {
		if ((rc = call_setup(c)) < 0)
			break;
		c->cc = curl_easy_perform(c->h);
		rc = call_judge(c, c->method);
		if (rc != 1)
			break;
		sleep_ms(backoff_ms(c->s, c->attempt));
	}
	call_release(c);
	return rc;
}

static void call_dispose(s3_call *c)
{
	call_release(c);
	mvms_buf_dispose(&c->resp);
}

/* ---- operations ---------------------------------------------------------------------- */

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
	rc = call_run(&c);
	call_dispose(&c);
	return rc;
}

static int s3_abort_upload(s3_backend *s, const char *key, const char *upload_id)
{
	mvms_sigv4_pair q[1] = { { "uploadId", upload_id } };
	s3_call c = { 0 };
	int rc;

	c.s = s;
	c.method = "DELETE";
	c.key = key;
	c.query = q;
	c.nquery = 1;
	rc = call_run(&c);
	call_dispose(&c);
	return rc;
}

typedef struct {
	s3_call call;
	mvms_sigv4_pair q[2];
	char num[24];
	int state; /* 0 waiting, 1 running, 2 done */
} s3_part;

/* Uploads the parts with up to s->concurrency transfers in flight. */
static int upload_parts(s3_backend *s, s3_part *parts, size_t nparts)
{
	CURLM *m = curl_multi_init();
	size_t next_done = 0, running = 0, i;
	int error = 0, rc;

	if (!m)
		return mvms_error_set(MVMS_ERROR, "s3: cannot create a curl multi handle");
	while (next_done < nparts) {
		double t = now_s();
		CURLMsg *msg;
		int still, left;

		for (i = 0; i < nparts && running < s->concurrency; i++) {
			s3_part *p = &parts[i];
			if (p->state != 0 || p->call.not_before > t)
				continue;
			if ((error = call_setup(&p->call)) < 0)
				goto done;
			curl_easy_setopt(p->call.h, CURLOPT_PRIVATE, p);
			curl_multi_add_handle(m, p->call.h);
			p->state = 1;
			running++;
		}
		curl_multi_perform(m, &still);
		while ((msg = curl_multi_info_read(m, &left))) {
			s3_part *p = NULL;
			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&p);
			p->call.cc = msg->data.result;
			curl_multi_remove_handle(m, p->call.h);
			running--;
			rc = call_judge(&p->call, "PUT (part)");
			if (rc == 1) {
				p->call.attempt++;
				p->call.not_before = now_s() + backoff_ms(s, p->call.attempt - 1) / 1e3;
				p->state = 0;
				continue;
			}
			if (rc < 0) {
				error = rc;
				goto done;
			}
			if (!p->call.etag[0]) {
				error = mvms_error_set(MVMS_ERROR, "s3: PUT %s/%s%s part %s: no ETag",
						       s->bucket, s->prefix, p->call.key, p->num);
				goto done;
			}
			p->state = 2;
			call_release(&p->call);
			next_done++;
		}
		if (next_done < nparts)
			curl_multi_poll(m, NULL, 0, running ? 200 : 20, NULL);
	}
done:
	for (i = 0; i < nparts; i++)
		if (parts[i].state == 1 && parts[i].call.h)
			curl_multi_remove_handle(m, parts[i].call.h);
	curl_multi_cleanup(m);
	return error;
}

static int s3_put_multipart(s3_backend *s, const char *key, const unsigned char *data,
			    size_t len)
{
	static const mvms_sigv4_pair uploads[1] = { { "uploads", "" } };
	int error = 0;
	s3_call c = { 0 };
	s3_part *parts = NULL;
	mvms_buf upload_id = MVMS_BUF_INIT, xml = MVMS_BUF_INIT, errcode = MVMS_BUF_INIT;
	uint64_t psize = s->part_size;
	size_t nparts, i;

	if (psize < S3_MIN_PART)
		psize = S3_MIN_PART;
	while ((len + psize - 1) / psize > S3_MAX_PARTS)
		psize *= 2;
	nparts = (size_t)((len + psize - 1) / psize);

	c.s = s;
	c.method = "POST";
	c.key = key;
	c.query = uploads;
	c.nquery = 1;
	MVMS_TRY(call_run(&c));
	if (mvms_s3_xml_text(&upload_id, c.resp.ptr, c.resp.size, "UploadId") != 0 ||
	    !upload_id.size) {
		error = mvms_error_set(MVMS_ERROR, "s3: POST %s/%s%s?uploads: no UploadId in reply",
				       s->bucket, s->prefix, key);
		goto done;
	}
	parts = calloc(nparts, sizeof(*parts));
	MVMS_CHECK_ALLOC(parts, error);
	for (i = 0; i < nparts; i++) {
		s3_part *p = &parts[i];
		uint64_t off = (uint64_t)i * psize;
		snprintf(p->num, sizeof(p->num), "%zu", i + 1);
		p->q[0] = (mvms_sigv4_pair){ "partNumber", p->num };
		p->q[1] = (mvms_sigv4_pair){ "uploadId", upload_id.ptr };
		p->call.s = s;
		p->call.method = "PUT";
		p->call.key = key;
		p->call.query = p->q;
		p->call.nquery = 2;
		p->call.body = data + off;
		p->call.body_len = (size_t)(len - off < psize ? len - off : psize);
		p->call.resp_max = S3_ERRBODY_MAX;
	}
	if ((error = upload_parts(s, parts, nparts)) < 0)
		goto abort;

	MVMS_TRY(mvms_buf_puts(&xml, "<CompleteMultipartUpload>"));
	for (i = 0; i < nparts; i++)
		MVMS_TRY(mvms_buf_printf(&xml, "<Part><PartNumber>%zu</PartNumber><ETag>%s</ETag></Part>",
					 i + 1, parts[i].call.etag));
	MVMS_TRY(mvms_buf_puts(&xml, "</CompleteMultipartUpload>"));
	call_dispose(&c);
	memset(&c, 0, sizeof(c));
	{
		mvms_sigv4_pair q[1] = { { "uploadId", upload_id.ptr } };
		c.s = s;
		c.method = "POST";
		c.key = key;
		c.query = q;
		c.nquery = 1;
		c.body = (const unsigned char *)xml.ptr;
		c.body_len = xml.size;
		if ((error = call_run(&c)) < 0)
			goto abort;
		/* A 200 reply may still carry an <Error> (S3 reports late failures so). */
		if (c.resp.size && memmem(c.resp.ptr, c.resp.size, "<Error>", 7)) {
			mvms_s3_xml_text(&errcode, c.resp.ptr, c.resp.size, "Code");
			error = mvms_error_set(MVMS_ERROR, "s3: POST %s/%s%s?uploadId: %s", s->bucket,
					       s->prefix, key, errcode.ptr ? errcode.ptr : "error");
			goto abort;
		}
	}
	goto done;
abort:
	{
		/* Keep the first error's message: abort is best effort. */
		char msg[1024];
		snprintf(msg, sizeof(msg), "%s", mvms_error_last());
		s3_abort_upload(s, key, upload_id.ptr);
		mvms_error_set(error, "%s", msg);
	}
done:
	if (parts) {
		for (i = 0; i < nparts; i++)
			call_dispose(&parts[i].call);
		free(parts);
	}
	call_dispose(&c);
	mvms_buf_dispose(&upload_id);
	mvms_buf_dispose(&xml);
	mvms_buf_dispose(&errcode);
	return error;
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
			error = s3_put_multipart(s, key, (const unsigned char *)w->buf.ptr, w->buf.size);
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
		if ((error = call_setup(&c)) < 0)
			break;
		/* Last-Modified, for gc's age of an object (pooled handles: reset below). */
		curl_easy_setopt(c.h, CURLOPT_FILETIME, mtime ? 1L : 0L);
		c.cc = curl_easy_perform(c.h);
		error = call_judge(&c, "HEAD");
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
		sleep_ms(backoff_ms(c.s, c.attempt));
	}
	bodyless = c.resp.size == 0;
	call_dispose(&c);
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
		if ((error = call_setup(&c)) < 0)
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
		error = call_judge(&c, "GET");
		if (error == 0 && c.got < len)
			error = mvms_error_set(MVMS_ERROR,
					       "s3: GET %s/%s%s: short object: %zu of %zu bytes at offset %llu",
					       s->bucket, s->prefix, key, c.got, len,
					       (unsigned long long)offset);
		if (error != 1)
			break;
		sleep_ms(backoff_ms(s, c.attempt));
	}
	call_dispose(&c);
	return error;
}

static int s3_list(mvms_backend *be, const char *prefix, mvms_backend_list_cb cb,
		   mvms_backend_scan_cb scan, void *payload)
{
	s3_backend *s = (s3_backend *)be;
	int error = 0, truncated = 1;
	mvms_buf full = MVMS_BUF_INIT, token = MVMS_BUF_INIT, next = MVMS_BUF_INIT;
	const char *page = env("MVMS_S3_LIST_PAGE");
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
		error = call_run(&c);
		if (error == 0)
			error = parse_list(c.resp.ptr, c.resp.size, s->prefix, cb, scan, payload,
					   &truncated, &next);
		call_dispose(&c);
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
	error = call_run(&c);
	call_dispose(&c);
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

	if (!be || (strcmp(be->name, "s3") != 0 && strcmp(be->name, "gcs") != 0))
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

	if (!be || (strcmp(be->name, "s3") != 0 && strcmp(be->name, "gcs") != 0))
		return mvms_error_set(MVMS_EINVALID, "s3: check on a non-S3 backend");
	q[0] = (mvms_sigv4_pair){ "list-type", "2" };
	q[1] = (mvms_sigv4_pair){ "max-keys", "1" };
	q[2] = (mvms_sigv4_pair){ "prefix", s->prefix };
	c.s = s;
	c.method = "GET";
	c.query = q;
	c.nquery = 3;
	c.resp_max = S3_ERRBODY_MAX;
	error = call_run(&c);
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
	call_dispose(&c);
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
	if ((v = env("MVMS_S3_BACKOFF_MS")))
		s->backoff_ms = (unsigned)strtoul(v, NULL, 10);
	if ((v = env("MVMS_S3_RESOLVE"))) {
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
