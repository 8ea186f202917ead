/* SPDX-License-Identifier: MIT */
/*
 * The remote handle shared by the HTTP client (http.c), remote push (remote.c) and remote
 * pull (remote_pull.c): one libcurl easy handle (its connection kept alive), the token, the
 * local cache store, the push's lease. Internal to transfer/.
 */
#ifndef MVMS_REMOTE_INT_H
#define MVMS_REMOTE_INT_H

#include <curl/curl.h>
#include <cjson/cJSON.h>
#include "store_int.h"
#include "mvms/remote.h"
#include "mvms/gc.h"

struct mvms_remote {
	char *url;                /* without a trailing '/' */
	char *auth;               /* "Authorization: Bearer ..." */
	CURL *curl;
	mvms_store *cache;
	uint64_t pack_size;
	mvms_remote_stats stats;
	char lease[MVMS_LEASE_ID_HEXSZ + 1]; /* sent as Mvms-Lease while a push holds one */
	int fresh;                /* reads ask for the newest refs (Cache-Control: no-cache) */
	int plain_errors;         /* error messages are the server's own, word for word (the
				   * transport table's calls: a remote command says what the
				   * local one says) */
	char last_code[40];       /* "code" of the last JSON error reply ("gc_conflict") */
};

/* One request. 0 with *status and the reply body in @resp; <0 when the request failed. */
/* Appends a header line; on failure the list is kept whole (to be freed) and the request
 * must not be sent: a dropped line could be the Authorization one, and the server would
 * see an anonymous request and blame the credentials. */
int mvms_http__add_header(struct curl_slist **h, const char *line);
/* The headers every request of this remote carries: its Authorization and, while a push
 * holds one, its Mvms-Lease. */
int mvms_http__session_headers(struct curl_slist **h, const mvms_remote *r);
int mvms_http__request(mvms_remote *r, const char *method, const char *path, const void *body,
		       size_t len, const char *ctype, mvms_buf *resp, long *status);
/* One request whose success is 200 or 201 (304: success, nothing new, @resp empty);
 * another status is an error mapped from the reply (mvms_http__error). */
int mvms_http__call(mvms_remote *r, const char *method, const char *path, const void *body,
		    size_t len, const char *ctype, mvms_buf *resp, const char *what);
/* Maps an error reply of @status to the MVMS_E* its code names (the status alone when it
 * names none we know), with the server's message; remembers the code in r->last_code. */
int mvms_http__error(mvms_remote *r, long status, const mvms_buf *body, const char *what);
/* The reply as JSON; NULL (with a message) when it is not, or holds an escaped NUL. */
cJSON *mvms_http__parse_json(const mvms_buf *b, const char *what);
/* The string member @key of @o, or NULL. Borrowed. */
const char *mvms_http__json_str(const cJSON *o, const char *key);
/* 0 when the version document @v is live; MVMS_ENOTFOUND saying who deleted it and when
 * when it is a tombstone (the local wording, meta/history.h). */
int mvms_http__live(const cJSON *v, const char *model);
/* GET /v1/models/{m}/versions/{ref} as JSON. */
int mvms_http__get_version(cJSON **out, mvms_remote *r, const char *model, const char *ref);
/* POSTs {"ids": [hex of ids[0..n)]} to @path; the reply is in @resp. */
int mvms_http__post_ids(mvms_buf *resp, mvms_remote *r, const char *path, const mvms_oid *ids,
			size_t n, const char *what);
/* remote_bases.c: a delta base the cache lacks, fetched from the server and decoded (a
 * mvms_bases_fetch_fn with @ctx the remote handle; safe on any thread). */
int mvms_remote__fetch_base(void *ctx, const mvms_oid *id, size_t raw_len, void *out, int hash);
/* Drops repeated ids of @ids in place, keeping the first of each in order. */
int mvms_remote__unique_in_order(mvms_oid *ids, size_t *n);

#endif
