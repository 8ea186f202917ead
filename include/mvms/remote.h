/* SPDX-License-Identifier: MIT */
/*
 * The client side of the HTTP API (libcurl): push and pull against a server, moving only
 * the chunks the other side lacks. A local store serves as the client's cache (by default
 * $XDG_CACHE_HOME/mvms-store/remote-<hash of the URL>), created with the server's chunking
 * parameters so that chunk ids agree.
 */
#ifndef MVMS_REMOTE_H
#define MVMS_REMOTE_H

#include "mvms/store.h"
#include "mvms/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Opens the store a server (`mvms-store serve`) at @url ("http://host:port") holds, as a
 * store handle: every public operation taking an mvms_store runs on the server (with
 * @token's rights; NULL: none), and its results come back in the same structs a local store
 * gives. @cache_dir is the local cache push and pull use (NULL: the default, see below).
 * Operations that only run on a local store (the server side of the sync protocol, leases)
 * fail with MVMS_ENOTSUPPORTED. Free with mvms_store_free().
 * @return 0, MVMS_EAUTH, MVMS_EINVALID (not an http(s) URL) or MVMS_ERROR (unreachable).
 */
int mvms_store_connect(mvms_store **out, const char *url, const char *token,
		       const char *cache_dir);

/** 1 when @st was opened with mvms_store_connect, else 0. */
int mvms_store_is_remote(const mvms_store *st);

typedef struct mvms_remote mvms_remote;

/**
 * Connects to @url ("http://host:port"), with @token (NULL: none) and the cache store in
 * @cache_dir (NULL: the default). Asks the server for its parameters.
 * @return 0, MVMS_EAUTH, or MVMS_ERROR when the server cannot be reached.
 */
int mvms_remote_open(mvms_remote **out, const char *url, const char *token, const char *cache_dir);
void mvms_remote_free(mvms_remote *r);

typedef struct mvms_remote_stats {
	uint64_t bytes_sent, bytes_received;   /* request and reply bodies */
	uint64_t chunks_sent, chunks_received;
	uint64_t requests;
} mvms_remote_stats;

/** The transfer counters since the remote was opened. */
void mvms_remote_get_stats(mvms_remote_stats *out, const mvms_remote *r);

/** mvms_push against the server: files are chunked locally into the cache, only missing
 * chunks travel, the server commits (MVMS_ECONFLICT when the branch moved meanwhile). */
int mvms_remote_push(mvms_push_result *out, mvms_remote *r, const char *model, const char *path,
		     const mvms_push_options *opts);

/** mvms_pull from the server: only chunks the cache lacks travel; every byte is verified. */
int mvms_remote_pull(mvms_pull_result *out, mvms_remote *r, const char *spec, const char *dir,
		     const mvms_pull_options *opts);

/**
 * GET @path (already encoded, e.g. "/v1/models/m/versions?branch=main") and return the reply
 * body (*out free()). HTTP errors become MVMS_E* codes with the server's message.
 */
int mvms_remote_get(char **out, size_t *out_len, mvms_remote *r, const char *path);

/** Percent-encodes one path segment or query value (*out free()). */
int mvms_remote_escape(char **out, const char *s);

/**
 * 1 when the JSON text @data (@len bytes) has an escaped NUL ("\u0000") in a string or a
 * key, else 0. A parser that makes C strings (cJSON) cuts such a string there, so that
 * {"name":"a\u0000b"} would name "a": the server and this client refuse those documents.
 */
int mvms_json_has_nul(const char *data, size_t len);

#ifdef __cplusplus
}
#endif
#endif
