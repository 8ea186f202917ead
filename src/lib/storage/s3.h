/* SPDX-License-Identifier: MIT */
/*
 * What the rest of libmvms and the unit tests reach of the S3 backend beyond its public
 * constructor (include/mvms/backend.h): conditional create, the bucket check the store
 * runs on open, URL building, the retry and refusal rules, the XML list parser. Private
 * to libmvms. The backend's own shared internals (its structs, the HTTP call) are in
 * s3_int.h, which nothing outside storage/s3_*.c and backend_s3.c includes.
 */
#ifndef MVMS_S3_H
#define MVMS_S3_H

#include <stddef.h>
#include <stdint.h>
#include "common.h"
#include "sigv4.h"
#include "mvms/backend.h"

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
