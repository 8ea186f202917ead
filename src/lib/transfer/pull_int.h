/* SPDX-License-Identifier: MIT */
/*
 * The pull context, shared by the local pull (pull.c) and the records receiver (recv.c):
 * a pool of decoders, their codecs, the chunks of the round and the buffer they decode into.
 * Internal to transfer/.
 */
#ifndef MVMS_PULL_INT_H
#define MVMS_PULL_INT_H

#include "store_int.h"
#include "codec.h"
#include "pool.h"
#include "mvms/sync.h"

/* Bytes decoded per round, then written: small enough that the decoded bytes are still in
 * the CPU cache when write() copies them (16 MiB rounds made pull 3x slower here). */
#define ROUND_BYTES (1u * 1024 * 1024)

typedef struct pull_chunk {
	mvms_oid id;
	mvms_oid pack;
	uint64_t offset;
	uint32_t raw_len, stored_len;
	int src;         /* -1: a record in pack @pack; else raw bytes in source file c->srcs[src] */
	size_t in_off;   /* record position in the read buffer */
	size_t out_off;  /* decoded position in the output buffer */
	int error;
	char errmsg[160];
} pull_chunk;

/* One ranged read of consecutive records of a pack. */
typedef struct pull_range {
	size_t first;             /* chunk index it starts at */
	uint64_t offset, len;
	int error;
	char msg[300];
} pull_range;

/* The records of one round as read: a buffer and the ranges that fill it. */
typedef struct pull_set {
	struct pull_ctx *c;
	unsigned char *in;
	size_t in_cap;
	pull_range *ranges;
	size_t nranges, cranges;
	size_t first, last;       /* the round's chunks */
} pull_set;

typedef struct pull_ctx {
	mvms_store *st;
	mvms_pool *pool;
	mvms_codec **codecs;
	pull_chunk *chunks;
	size_t nchunks, cchunks;
	unsigned char *out;           /* the decoded round */
	size_t out_cap;
	uint64_t done_bytes, total_bytes;
	const mvms_pull_options *opts;
	size_t base;     /* first chunk of the round being decoded */
	mvms_pool *io;   /* concurrent reads for a remote backend, or NULL */
	size_t round_bytes, range_max;
	pull_set *decoding;
	pull_set set[2]; /* a remote pull reads the next round into one while it decodes the other */
	struct pull_src { int64_t id; char *path; } *srcs; /* source files chunks come from */
	size_t nsrcs;
} pull_ctx;

int mvms_pull__ctx_init(pull_ctx *c, mvms_store *st, const mvms_pull_options *opts);
void mvms_pull__ctx_dispose(pull_ctx *c);
/* A pool job: decode and verify chunk c->base + i of the round into c->out. */
void mvms_pull__decode_one(size_t i, unsigned worker, void *ctx);
/* Grows *p to at least need bytes. */
int mvms_pull__ensure(unsigned char **p, size_t *cap, size_t need);

#endif
