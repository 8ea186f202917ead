/* SPDX-License-Identifier: MIT */
/*
 * Fine-tune deltas, the store's side (bases.c): reading a delta's base for the codec (from
 * any thread), the index-time rule that a delta's base is stored as a full record, and what
 * a push needs to pair a new file's tensor chunks with its parent version's (the parent
 * file's tensors and chunks). The codec itself is core/codec_delta.c.
 */
#ifndef MVMS_BASES_H
#define MVMS_BASES_H

#include "store_int.h"
#include "codec.h"
#include "pack.h"

/* Lets @c decode delta records of @st: bases are read from its packs, or from its sources
 * (a cache's pulled files), each checked against its id. Safe from any thread (a separate
 * database connection under a lock); a remote handle (no database) attaches nothing. */
void mvms_bases__attach(mvms_store *st, mvms_codec *c);
/* Frees what attach made (store close). */
void mvms_bases__close(mvms_store *st);

/* A way to get a base the store lacks (a remote pull's cache asks its server): fills @out
 * with @raw_len raw bytes of @id, checked, and hashed unless !@hash (the base of a delta
 * being decoded: the delta's own hash covers it, pack.h); set with mvms_bases__set_fetch. */
typedef int (*mvms_bases_fetch_fn)(void *ctx, const mvms_oid *id, size_t raw_len, void *out,
				   int hash);
void mvms_bases__set_fetch(mvms_store *st, mvms_bases_fetch_fn fn, void *ctx);

/* In the write transaction that indexes a pack (after its rows): every delta entry's base
 * has a row, of the same length, that is not itself a delta (or, in a client's cache, is
 * in a file a pull wrote: a source; or, while a remote pull or push runs (a fetch hook is
 * set), is the server's to give, even where the cache holds it as a delta). MVMS_EINVALID
 * (naming both chunks) otherwise: a delta is never stored without its base. Also run
 * before a received pack's records are decoded (e[i].base set), so that a refused base is
 * said in these words. */
int mvms_bases__check_index(mvms_store *st, const mvms_pack_entry *e, size_t n);

/* One chunk of a parent file: its id, place and length, and the full record to diff against
 * (its own id, or its base's when it is stored as a delta). */
typedef struct mvms_bases_chunk {
	mvms_oid id, base;
	uint64_t offset;
	uint32_t len;
} mvms_bases_chunk;

typedef struct mvms_bases_tensor {
	char *name, *shape;
	char dtype[16];
	uint64_t offset, length;
} mvms_bases_tensor;

/* The file at @path of version row @version, when it has tensors. */
typedef struct mvms_bases_parent {
	mvms_bases_chunk *chunks;     /* in file order */
	size_t nchunks;
	mvms_bases_tensor *tensors;   /* in offset order */
	size_t ntensors;
} mvms_bases_parent;

/* *out NULL (and 0) when the version has no such file or the file no tensors. */
int mvms_bases__parent(mvms_bases_parent **out, mvms_store *st, int64_t version,
		       const char *path);
/* The same, but *out NULL only when there is no such file: one without tensors is given
 * with none (and no chunks). */
int mvms_bases__file(mvms_bases_parent **out, mvms_store *st, int64_t version, const char *path);
void mvms_bases__parent_free(mvms_bases_parent *p);

/* Where a push finds the parent file of @path when its own database does not say (a remote
 * push asks its server, transfer/remote_delta.c): *out as mvms_bases__parent gives it, NULL
 * when no parent has the file with tensors. */
typedef int (*mvms_bases_parent_fn)(mvms_bases_parent **out, void *ctx, const char *path);

#endif
