/* SPDX-License-Identifier: MIT */
/*
 * The fixture of tests/test-authz.c (tests/authz-fixture.c): a store with models alpha and
 * team/y, tokens of every scope and model glob, `$MVMS serve` on it, what each model holds
 * (ids, chunk lists, a pack) as the admin reads it, and the HTTP plumbing of the cases.
 */
#ifndef MVMS_TEST_AUTHZ_H
#define MVMS_TEST_AUTHZ_H

#include <stddef.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>

#define NGLOBS 4
#define NCALLERS (3 * NGLOBS + 1)   /* read, write, admin x globs, and no token */
#define MAX_MARKERS 128
#define MAX_CHUNKS 24

typedef struct caller {
	char token[160];        /* "" for none */
	int scope;              /* SRV_SCOPE_*; SRV_SCOPE_NONE without a token */
	const char *glob;       /* NULL without a token */
	char label[40];
} caller;

typedef struct model {
	const char *name, *enc, *notes, *secret;  /* the secret is in its notes file */
	char uid[64], v1[65], v2[65];
	char notes_id[65], notes_b64[512];
	unsigned long long notes_size;
	char only_file[65];                 /* a file id no other model holds */
	char chunks[MAX_CHUNKS][65];        /* chunk ids no other model holds */
	size_t nchunks;
	unsigned char *pack;                /* a pack of those chunks, for PUT /v1/packs */
	size_t pack_len;
	char pack_id[65];
	/* What a caller who does not cover the model never sees; markers[2] is its v1's id,
	 * which the other model's v1 (its neighbour in the DAG) may show as a stub. */
	const char *markers[MAX_MARKERS];
	size_t nmarkers;
} model;

/* callers[]: read, write, admin tokens for each glob, then one without a token. */
extern caller callers[NCALLERS];
extern const caller *admin;        /* admin, '*': sets things up */
extern model models[2];            /* alpha, team/y */

typedef struct buf {
	char *data;
	size_t len;
} buf;

typedef struct reply {
	long status;
	buf head, body;
} reply;

void bail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
/** Makes the store, the tokens and the server, and learns what the models hold. */
void fixture_setup(CURL *h);
/** Stops the server (its exit status in *status) and runs `verify`: its exit code. */
int fixture_stop(int *status);
/** Removes everything. */
void fixture_cleanup(void);

void reply_free(reply *r);
/** One request as @c (NULL or no token: none). 0 when a reply came, whatever its status. */
int http(CURL *h, reply *out, const caller *c, const char *method, const char *path,
	 const void *body, size_t len);
/** A JSON reply to @c, which must have status @want; NULL (after a diag) otherwise. */
cJSON *get_json(CURL *h, const caller *c, const char *method, const char *path, const char *body,
		long want);

#endif
