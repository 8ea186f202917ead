/* SPDX-License-Identifier: MIT */
/*
 * Object-store backends: constructors and the helpers every caller of a backend uses.
 * The function table itself is in mvms/sys/backend.h.
 */
#ifndef MVMS_BACKEND_H
#define MVMS_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include "mvms/sys/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * A backend over a local directory: key "a/b/c" is the file DIR/a/b/c. Writes go to
 * DIR/tmp/ (created on demand), are fsynced, then renamed into place.
 * @return 0, or MVMS_ERROR when @dir cannot be created or used.
 * The caller owns *out and frees it with mvms_backend_free().
 */
int mvms_backend_local(mvms_backend **out, const char *dir);

/* S3 and GCS (XML API) object stores. Credentials and endpoints come the way AWS and Google
 * tools read them (mvms_backend_s3_options_from_env); secrets never appear in messages. */
typedef struct mvms_backend_s3_options {
	unsigned int version;        /* 1 */
	const char *bucket;          /* required */
	const char *prefix;          /* key prefix inside the bucket ("" or "a/b/"), may be NULL */
	const char *endpoint;        /* "https://s3.us-east-1.amazonaws.com", "http://127.0.0.1:8080" */
	const char *region;          /* "us-east-1"; GCS: "auto" */
	const char *access_key;      /* SigV4 (AWS keys or GCS HMAC keys) */
	const char *secret_key;
	const char *session_token;   /* AWS_SESSION_TOKEN, optional */
	const char *bearer_token;    /* GCS OAuth access token: sent as is, no SigV4 */
	int path_style;              /* 1: http://endpoint/bucket/key; -1: http://bucket.endpoint/key;
				      * 0: virtual host unless the endpoint is an IP address or
				      * localhost or the bucket cannot be a host label (AWS SDK rules) */
	int gcs;                     /* 1: Google Cloud Storage XML API conventions */
	unsigned concurrency;        /* parallel transfers (0: 8) */
	unsigned max_retries;        /* on 5xx, 429, timeouts, resets (0: 5) */
	uint64_t multipart_threshold;/* objects larger than this go up in parts (0: 100 MiB) */
	uint64_t part_size;          /* (0: 8 MiB) */
} mvms_backend_s3_options;

/**
 * Fills @out from the environment for a "s3://BUCKET[/PREFIX]" or "gs://BUCKET[/PREFIX]" URL:
 * AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION / AWS_DEFAULT_REGION,
 * AWS_ENDPOINT_URL, MVMS_S3_PATH_STYLE (1 or 0); for gs:// also GOOGLE_HMAC_ACCESS_ID /
 * GOOGLE_HMAC_SECRET (else the AWS variables), GOOGLE_OAUTH_ACCESS_TOKEN, and
 * STORAGE_EMULATOR_HOST or MVMS_GCS_ENDPOINT for the endpoint. Strings point into @url's
 * copy kept in @buf (at least strlen(url)+1 bytes) or into the environment.
 * @return 0, or MVMS_EINVALID for a URL that is neither.
 */
int mvms_backend_s3_options_from_env(mvms_backend_s3_options *out, char *buf, size_t bufsize,
				     const char *url);

/** An S3-compatible backend (AWS, MinIO, Ceph, R2, GCS XML API). */
int mvms_backend_s3(mvms_backend **out, const mvms_backend_s3_options *opts);

/** An in-memory backend (objects in malloc()ed buffers), for moving packs over the wire
 * and for tests. */
int mvms_backend_mem(mvms_backend **out);
/** Adds an object to a memory backend, taking ownership of @data (malloc()ed). */
int mvms_backend_mem_put_owned(mvms_backend *be, const char *key, void *data, size_t len);
/** Adds an object whose bytes stay the caller's: @data must live, unchanged, as long as the
 * object is in the backend (no copy: a pack that arrived in a request body is read in place). */
int mvms_backend_mem_put_borrowed(mvms_backend *be, const char *key, const void *data, size_t len);
/** Removes an object from a memory backend and hands its buffer to the caller (free()). */
int mvms_backend_mem_take(void **out, size_t *len, mvms_backend *be, const char *key);

/** Writes a whole object in one call (open, write, commit). */
int mvms_backend_put(mvms_backend *be, const char *key, const void *data, size_t len);

/**
 * Reads a whole object into a new buffer (*out, freed with free()).
 * @return 0, MVMS_ENOTFOUND, or MVMS_EINVALID when larger than @max_len.
 */
int mvms_backend_get_all(void **out, size_t *out_len, mvms_backend *be, const char *key,
			 size_t max_len);

/** Frees a backend; NULL is a no-op. */
void mvms_backend_free(mvms_backend *be);

/*
 * The front door: every caller in libmvms reaches a backend through these, never through
 * its table, so that one place can add retries, metrics or faults. Each checks that the
 * backend has the optional call and answers MVMS_ENOTSUPPORTED (with a message naming
 * the backend) when it does not.
 */
int mvms_backend_get(mvms_backend *be, const char *key, uint64_t offset, void *buf, size_t len);
int mvms_backend_stat(uint64_t *out, mvms_backend *be, const char *key);
int mvms_backend_stat_time(uint64_t *size, int64_t *mtime, mvms_backend *be, const char *key);
int mvms_backend_list(mvms_backend *be, const char *prefix, mvms_backend_list_cb cb, void *payload);
int mvms_backend_scan(mvms_backend *be, const char *prefix, mvms_backend_scan_cb cb, void *payload);
int mvms_backend_remove(mvms_backend *be, const char *key);
int mvms_backend_open_fd(int *fd, mvms_backend *be, const char *key);
int mvms_backend_writer_open(mvms_backend_writer **out, mvms_backend *be);
int mvms_backend_writer_write(mvms_backend_writer *w, const void *data, size_t len);
/* Frees @w whatever the result. */
int mvms_backend_writer_commit(mvms_backend_writer *w, const char *key);
/* Accepts NULL. */
void mvms_backend_writer_abort(mvms_backend_writer *w);

/* Writes @key only if it is absent: MVMS_EEXISTS when it exists, MVMS_ENOTSUPPORTED when
 * the backend or its server cannot (the store's log, docs/formats.md). */
int mvms_backend_put_if_absent(mvms_backend *be, const char *key, const void *data, size_t len);

/* Capabilities, instead of comparing backend names. */
#define MVMS_BACKEND_CAP_REMOTE 0x01u        /* across a network: parallel I/O pays, clocks differ */
#define MVMS_BACKEND_CAP_PUT_IF_ABSENT 0x02u /* can create a key only if it is absent */
#define MVMS_BACKEND_CAP_FD 0x04u            /* open_fd: objects are files (sendfile) */
#define MVMS_BACKEND_CAP_LIST 0x08u          /* list */
#define MVMS_BACKEND_CAP_SCAN 0x10u          /* scan and stat_time: write times are known */
#define MVMS_BACKEND_CAP_REMOVE 0x20u        /* remove */
/* The backend's capabilities: what it declares, and the optional calls its table has. */
unsigned mvms_backend_caps(const mvms_backend *be);
/* The backend's name ("local", "mem", "s3", "gcs"), for messages. */
const char *mvms_backend_name(const mvms_backend *be);

#ifdef __cplusplus
}
#endif
#endif
