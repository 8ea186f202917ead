/* SPDX-License-Identifier: MIT */
/*
 * AWS Signature Version 4 (header signing) with libsodium's SHA-256 and HMAC-SHA-256, and
 * the internals of the S3 backend (backend_s3.c) that the unit tests reach. Private to
 * libmvms: nothing here is public API. Every mvms_buf result is appended to; the caller
 * owns and disposes of it.
 */
#ifndef MVMS_SIGV4_H
#define MVMS_SIGV4_H

#include <stddef.h>
#include <stdint.h>
#include "common.h"
#include "mvms/backend.h"

/* A name/value pair: a query parameter (raw, not yet encoded) or an HTTP header. */
typedef struct mvms_sigv4_pair {
	const char *name;
	const char *value; /* a query parameter without a value is "" (written "name=") */
} mvms_sigv4_pair;

typedef struct mvms_sigv4_request {
	const char *method;             /* "GET", "PUT", ... */
	const char *path;               /* raw path ("/bucket/a b"); encoded here, '/' kept */
	const mvms_sigv4_pair *query;   /* raw names and values, any order */
	size_t nquery;
	const mvms_sigv4_pair *headers; /* every header to sign, host and x-amz-date included */
	size_t nheaders;
	const char *payload_hash;       /* hex SHA-256 of the body, or "UNSIGNED-PAYLOAD" */
} mvms_sigv4_request;

typedef struct mvms_sigv4_key {
	const char *access_key;
	const char *secret_key;
	const char *region;  /* "us-east-1"; GCS: "auto" */
	const char *service; /* "s3" */
} mvms_sigv4_key;

#define MVMS_SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/** Lowercase hex SHA-256 of @data (65 bytes with the NUL). */
void mvms_sigv4_sha256_hex(char out[65], const void *data, size_t len);

/** RFC 3986 encoding: every byte but A-Za-z0-9-._~ (and '/' when @keep_slash) as %XX. */
int mvms_sigv4_uri_encode(mvms_buf *out, const char *s, size_t len, int keep_slash);

/** The canonical query string: each name and value encoded, sorted by name then value,
 * "name=" for empty values, joined with '&'. Also what goes on the wire after '?'. */
int mvms_sigv4_canonical_query(mvms_buf *out, const mvms_sigv4_pair *query, size_t n);

/**
 * The canonical request, and in @signed_headers the "a;b;c" list. Header names are
 * lowercased, values trimmed with inner runs of spaces folded to one, duplicates joined
 * with ',' in order, and the headers sorted by name.
 */
int mvms_sigv4_canonical_request(mvms_buf *out, mvms_buf *signed_headers,
				 const mvms_sigv4_request *req);

/** "AWS4-HMAC-SHA256\n<amz_date>\n<scope>\n<hex sha256(canonical request)>". */
int mvms_sigv4_string_to_sign(mvms_buf *out, const char *amz_date, const mvms_sigv4_key *key,
			      const char *canonical_request);

/** HMAC chain "AWS4"+secret → date (first 8 chars of @amz_date) → region → service →
 * "aws4_request". */
void mvms_sigv4_signing_key(unsigned char out[32], const mvms_sigv4_key *key,
			    const char *amz_date);

/** Hex HMAC-SHA-256 of @string_to_sign under @signing_key. */
void mvms_sigv4_signature(char out[65], const unsigned char signing_key[32],
			  const char *string_to_sign);

/** The whole thing: the Authorization header value ("AWS4-HMAC-SHA256 Credential=...,
 * SignedHeaders=..., Signature=..."). @creq and @sts, when not NULL, receive the
 * intermediate canonical request and string to sign (for tests and debugging). */
int mvms_sigv4_sign(mvms_buf *authorization, mvms_buf *creq, mvms_buf *sts,
		    const mvms_sigv4_request *req, const mvms_sigv4_key *key,
		    const char *amz_date);

/* ---- S3 backend internals (backend_s3.c) ---------------------------------------------- */

/**
 * Conditional create (PUT with If-None-Match: *) on an S3 backend, for tests and the
 * multi-front-end work. Declared here rather than in include/mvms/backend.h so that the
 * public headers stay as they are until the API is settled.
 * @return 0 when created, MVMS_EEXISTS when the key exists (412), MVMS_ENOTSUPPORTED when
 * the server does not do conditional writes (501, Swift), another error otherwise.
 */
int mvms_backend_s3_put_if_absent(mvms_backend *be, const char *key, const void *data,
				  size_t len);

/** The request URL for @key (the store prefix is added here) and the Host header value. */
int mvms_s3_build_url(mvms_buf *url, mvms_buf *host, mvms_backend *be, const char *key,
		      const mvms_sigv4_pair *query, size_t nquery);

/** 1 when a request that ended with curl code @curl_code and HTTP @status (0 when no
 * response) with S3 error @code (may be NULL) is worth retrying, else 0. */
int mvms_s3_retryable(int curl_code, long status, const char *code);

/** 1 when the HTTP status and S3 error code mean bad credentials or no permission. */
int mvms_s3_is_auth_error(long status, const char *code);

/**
 * 1 when requests must name the bucket in the path (http://endpoint/bucket/key) whatever
 * the addressing asked for by default, as the AWS SDKs do: the endpoint's host
 * (@authority, "host[:port]") is an IP address or localhost, or @bucket cannot be a host
 * name label (a dot over @https, upper case, '_').
 */
int mvms_s3_needs_path_style(const char *authority, const char *bucket, int https);

/**
 * Appends to @out what a refused request (HTTP @status 401/403, S3 error @code and
 * @message, both may be NULL) means: bad signature (wrong secret), unknown key id, access
 * denied, expired token, clock skew. Names @key_id (or the bearer token, when @bearer),
 * never a secret.
 */
int mvms_s3_auth_reason(mvms_buf *out, long status, const char *code, const char *message,
			const char *key_id, int bearer);

/**
 * Checks that the bucket can be listed under the store's prefix with the credentials
 * given (one LIST of at most one key). @return 0; MVMS_ENOTFOUND when the bucket does not
 * exist; MVMS_EAUTH for bad credentials or a missing permission; MVMS_ERROR (or
 * MVMS_ETIMEOUT) when the endpoint cannot be reached. The message says which.
 */
int mvms_backend_s3_check(mvms_backend *be);

/** Copies the text of the first <@tag>...</@tag> in @xml, entities decoded; 0, or
 * MVMS_ENOTFOUND when absent. */
int mvms_s3_xml_text(mvms_buf *out, const char *xml, size_t len, const char *tag);

/**
 * Parses a ListObjectsV2 result: calls @cb for each <Contents> whose Key starts with
 * @strip (which is removed), sets *truncated and @next_token (cleared first).
 * @return 0, the callback's non-zero value, or MVMS_ERROR on malformed XML.
 */
int mvms_s3_parse_list(const char *xml, size_t len, const char *strip, mvms_backend_list_cb cb,
		       void *payload, int *truncated, mvms_buf *next_token);
/** As mvms_s3_parse_list, with each object's <LastModified> (0 when absent or unreadable). */
int mvms_s3_parse_scan(const char *xml, size_t len, const char *strip, mvms_backend_scan_cb cb,
		       void *payload, int *truncated, mvms_buf *next_token);
/** Unix seconds of an ISO 8601 UTC time ("2024-01-01T00:00:00.000Z"); MVMS_EINVALID. */
int mvms_s3_time(int64_t *out, const char *s);

#endif
