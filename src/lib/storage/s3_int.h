/* SPDX-License-Identifier: MIT */
/*
 * Shared internals of the S3 backend, for its own files only (backend_s3.c, s3_http.c,
 * s3_multipart.c, s3_options.c, s3_xml.c): the backend and call structs, limits, and the
 * calls one file makes into another. Not for the rest of libmvms (that is s3.h).
 */
#ifndef MVMS_S3_INT_H
#define MVMS_S3_INT_H

#include <curl/curl.h>
#include <pthread.h>
#include "s3.h"

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

/* ---- s3_options.c -------------------------------------------------------------------- */

/** getenv(@name), with an empty value read as unset (NULL). */
const char *mvms_s3__env(const char *name);

/* ---- s3_xml.c ------------------------------------------------------------------------ */

/** The one parser of a ListObjectsV2 page: for @cb (list) or @scan (with LastModified);
 * exactly one is set. As mvms_s3_parse_list otherwise. */
int mvms_s3__parse_page(const char *xml, size_t len, const char *strip, mvms_backend_list_cb cb,
			mvms_backend_scan_cb scan, void *payload, int *truncated,
			mvms_buf *next_token);

/* ---- s3_http.c ----------------------------------------------------------------------- */

/** Full jitter: a uniform delay in [0, min(cap, base * 2^attempt)] milliseconds. */
unsigned mvms_s3__backoff_ms(const s3_backend *s, unsigned attempt);
void mvms_s3__sleep_ms(unsigned ms);
/** Prepares c->h (taken from the pool) for one attempt: URL, method, body, signed headers. */
int mvms_s3__call_setup(s3_call *c);
/** After a transfer: 0 for 2xx, 1 to retry, or a negative code with the message set. */
int mvms_s3__call_judge(s3_call *c, const char *what);
/** Runs @c with retries and back-off on its own easy handle; the handle goes back to the
 * pool. The reply body (up to c->resp_max) stays in c->resp. */
int mvms_s3__call_run(s3_call *c);
/** Gives the handle back to the pool and frees the headers; @c can be set up again. */
void mvms_s3__call_release(s3_call *c);
/** As release, and frees the reply body. */
void mvms_s3__call_dispose(s3_call *c);

/* ---- s3_multipart.c ------------------------------------------------------------------ */

/** PUTs @data under @key as a multipart upload (parts in parallel). Every failure after the
 * upload was created aborts it (AbortMultipartUpload), so no parts are left behind. */
int mvms_s3__put_multipart(s3_backend *s, const char *key, const unsigned char *data,
			   size_t len);

#endif
