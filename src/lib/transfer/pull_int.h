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
#include <stdatomic.h>
#include "mvms/sync.h"

/* Records per block of a records stream (recv.c), and the default round (a remote
 * backend's are larger, pull.c): the workers' tasks cut them smaller (TASK_BYTES). */
#define ROUND_BYTES (1u * 1024 * 1024)

typedef struct pull_chunk {
	mvms_oid id;
	mvms_oid pack;
	uint64_t offset;
	uint32_t raw_len, stored_len;
	int src;         /* -1: a record in pack @pack; else raw bytes in source file c->srcs[src] */
	size_t in_off;   /* record position in the buffer its task reads (or the block, the round) */
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

/* A task of the pull's workers (pull_write.c): chunks [0, n) of @chunks, consecutive in the
 * file from byte @at and in one place (a pack's consecutive records, or a source file's
 * range), read (unless @in holds their records already, at in + chunk.in_off), decoded,
 * verified and written at their place in the file by one worker. */
typedef struct pull_task {
	pull_chunk *chunks;
	size_t n;
	uint64_t at;
	const unsigned char *in;
	uint64_t raw;             /* bytes the chunks decode to */
	int error;                /* reading or writing failed (a chunk's own errors are in it) */
	int wrote;                /* 1 when @error is the write's */
	char msg[300];
} pull_task;

/* The tasks handed to the pool at once: the calling thread plans one window while the
 * workers run the one before, and checks windows in file order. */
typedef struct pull_window {
	struct pull_ctx *c;
	pull_task *tasks;
	size_t n, cap;
	uint64_t raw;
	mvms_pool_job job;
	int queued;
} pull_window;

/* A worker's buffers: the records it read and the bytes it decoded. */
typedef struct pull_wbuf {
	unsigned char *in, *out;
	size_t in_cap, out_cap;
} pull_wbuf;

/* Windows with the workers at once: a worker held up in one task (preempted on a busy
 * machine) does not stop the others, who go on with the windows after it. */
#define PULL_WINDOWS 8

typedef struct pull_ctx {
	mvms_store *st;
	mvms_pool *pool;
	mvms_codec **codecs;
	pull_chunk *chunks;
	size_t nchunks, cchunks;
	uint64_t done_bytes, total_bytes;
	const mvms_pull_options *opts;
	mvms_pool *io;   /* concurrent reads for a remote backend, or NULL */
	size_t round_bytes, range_max;
	pull_set set[2]; /* a remote pull reads the next round into one while it decodes the other */
	pull_window win[PULL_WINDOWS]; /* a ring: with the workers, checked in order */
	pull_wbuf *wb;   /* one per worker */
	int fd;          /* the file being written */
	atomic_int stop; /* a task failed: the workers skip what is left */
	struct pull_src { int64_t id; char *path; } *srcs; /* source files chunks come from */
	size_t nsrcs;
} pull_ctx;

int mvms_pull__ctx_init(pull_ctx *c, mvms_store *st, const mvms_pull_options *opts);
void mvms_pull__ctx_dispose(pull_ctx *c);
/* Grows *p to at least need bytes. */
int mvms_pull__ensure(unsigned char **p, size_t *cap, size_t need);

/* ---- the workers (pull_write.c) ---- */

/* Bytes of one task, and of one window: a task's decoded bytes stay in the worker's CPU
 * cache until pwrite copies them; a window is what the calling thread checks at once (and
 * PULL_WINDOWS of them are out). */
#define TASK_BYTES (256u * 1024)
#define WINDOW_BYTES (4u * 1024 * 1024)

/* Cuts chunks [0, n) of @chunks, whose bytes go at @at on, into the tasks of @w (emptied
 * first): a task ends at TASK_BYTES, or where the next chunk is not the next record of the
 * same pack (or the next bytes of the same source file). @in: their records are there at
 * chunk.in_off already (NULL: each task reads its own, chunk.in_off set here). */
int mvms_pull__window_plan(pull_ctx *c, pull_window *w, pull_chunk *chunks, size_t n, uint64_t at,
			   const unsigned char *in);
/* Hands @w to the workers (it runs while the caller goes on). */
void mvms_pull__window_submit(pull_ctx *c, pull_window *w);
/* Waits for @w when queued (nothing otherwise), helping with the work. */
void mvms_pull__window_wait(pull_ctx *c, pull_window *w);
/* After an error: the workers skip the tasks left, every window is waited for. */
void mvms_pull__windows_drain(pull_ctx *c);
/* Bytes a chunk takes where it is kept: a record (header and stored bytes) or raw bytes. */
size_t mvms_pull__span(const pull_chunk *ch);

/* A file reader whose bytes come from elsewhere (a remote handle's client, client/): next
 * and free run through @ops on @impl (records.c). @impl is freed on failure too. */
typedef struct mvms_file_reader__ops {
	int (*next)(const void **data, size_t *len, void *impl);
	void (*free)(void *impl);
} mvms_file_reader__ops;
int mvms_file_reader__wrap(mvms_file_reader **out, const mvms_file_reader__ops *ops, void *impl);

/* The receiver's hook for delta bases (remote_prefetch.c): before a block goes to the
 * workers, @fn gets the bases its delta records name, in order. */
typedef int (*mvms_sync__want_fn)(void *ctx, const mvms_oid *ids, size_t n);
void mvms_sync__recv_prefetch(mvms_sync__recv *rv, mvms_sync__want_fn fn, void *ctx);

/* ---- resuming, subsets, times (resume.c) ---- */

/* One entry of a file's chunk list: what the bytes at its place must hash to. */
typedef struct mvms_sync__chunk {
	mvms_oid id;
	uint64_t len;
} mvms_sync__chunk;

/* A file being written: its temporary name ("<dir of it>/.mvms-part-<16 hex>", one per
 * final path, so a pull killed at any point leaves a file the next pull finds), locked for
 * the writer, holding the first @k chunks (@off bytes) already checked. */
typedef struct mvms_sync__part {
	int fd;
	char *tmp, *final;
	size_t k;
	uint64_t off;
} mvms_sync__part;

/* Opens (creates) the part file of @path in @dir, creating parent directories. With
 * @resume, keeps the leading whole chunks whose bytes hash to @ch (the rest is cut off),
 * else empties it. MVMS_ECONFLICT when another pull is writing it. */
int mvms_sync__part_open(mvms_sync__part *p, const char *dir, const char *path,
			 const mvms_sync__chunk *ch, size_t n, int resume);
/* Ends a part: with @keep renamed into place with @mode, else removed. */
int mvms_sync__part_end(mvms_sync__part *p, unsigned mode, int keep);
/* 1 when @dir/@path exists with exactly these chunks (each hashed), 0 when it does not
 * exist, MVMS_EEXISTS (with a message) when it holds something else. */
int mvms_sync__have_file(const char *dir, const char *path, const mvms_sync__chunk *ch,
			 size_t n, uint64_t size);
/* 1 when a part file of @path with some bytes exists (a pull was cut off there). */
int mvms_sync__part_exists(const char *dir, const char *path);
/* Removes the temporary files killed pulls left anywhere under @dir (those no running
 * pull holds). */
int mvms_sync__sweep_parts(const char *dir);
/* Sets the mode of @dir/@path and its modification time (when one is recorded). */
int mvms_sync__set_attrs(const char *dir, const char *path, unsigned mode, int64_t sec,
			 uint32_t nsec);
/* Writes part @p (opened, its first p->k chunks checked) from the @st's chunks
 * [p->k, n) and ends it. */
int mvms_sync__write_part(mvms_store *st, mvms_sync__part *p, const char *path, unsigned mode,
			  uint64_t size, const mvms_oid *id, const mvms_sync__chunk *chunks,
			  size_t nchunks);
/* 1 when @opts select @path (its paths, include and exclude globs). */
int mvms_sync__selected(const mvms_pull_options *opts, const char *path);
/* MVMS_ENOTFOUND naming the first of opts->paths that none of the @n @paths matched, or
 * when nothing at all is selected. */
int mvms_sync__check_selection(const mvms_pull_options *opts, const char *const *paths,
			       size_t n, const char *spec);

#endif
