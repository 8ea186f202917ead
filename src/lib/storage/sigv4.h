/* SPDX-License-Identifier: MIT */
/*
 * AWS Signature Version 4 (header signing) with libsodium's SHA-256 and HMAC-SHA-256. Knows
 * nothing of S3 itself (that is s3.h). Private to libmvms: nothing here is public API.
 * Every mvms_buf result is appended to; the caller owns and disposes of it.
 */
#ifndef MVMS_SIGV4_H
#define MVMS_SIGV4_H

#include <stddef.h>
#include <stdint.h>
#include "common.h"

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

#endif
