/* SPDX-License-Identifier: MIT */
/*
 * A push's state, shared by the files of the push pipeline: walk.c (which files),
 * push.c (read, cut, hash, dedup, compress, pack; the entry points), push_commit.c (the
 * version's objects and rows) and stage.c (a remote push's local half).
 */
#ifndef MVMS_PUSH_INT_H
#define MVMS_PUSH_INT_H

#include <sys/stat.h>
#include "store_int.h"
#include "common.h"
#include "codec.h"
#include "manifest.h"
#include "oidset.h"
#include "pack.h"
#include "pool.h"
#include "tlayout.h"
#include "uploader.h"

typedef struct push_file {
	char *path;              /* relative, '/'-separated */
	char *abs;               /* where to read it; NULL: a content the store has */
	unsigned mode;
	uint64_t size;
	int64_t mtime;           /* modification time, unix seconds and ns (0, 0: not known) */
	uint32_t mtime_ns;
	mvms_oid id;
	mvms_chunk_ref *chunks;
	size_t nchunks, cchunks;
	mvms_tlayout *st;        /* tensor layout (safetensors, GGUF, ONNX); NULL: plain bytes */
	int probed;              /* st is final (push_layout.c probed the file already) */
	mvms_oid *tensor_ids;
} push_file;

typedef struct batch_chunk {
	const unsigned char *data;
	uint32_t len;
	mvms_oid id;
	int is_new;
	size_t out_off;          /* where its compressed bytes go in the arena */
	size_t out_len;
	uint8_t codec;
	uint8_t dtype;           /* enum mvms_dtype of the tensor it lies in: the codec's hint */
	size_t file;             /* index in push_ctx.files */
	int has_base;            /* push_delta.c: pairs with a parent chunk, whose full record */
	mvms_oid base_id;        /* is base_id */
} batch_chunk;

typedef struct push_delta push_delta;
struct mvms_bases_parent;

typedef struct push_ctx {
	mvms_store *st;
	const mvms_push_options *opts;
	mvms_push_result *res;
	mvms_pool *pool;
	mvms_codec **codecs;     /* one per worker */
	mvms_pack_writer *pack;
	mvms_oidset pending;     /* chunk ids this push claimed (it stores them) */
	struct push_pipe *pipe;  /* push_pipe.c: slots in flight, workers' lock */
	uint64_t bytes_done, bytes_total;
	push_file *files;
	size_t nfiles, cfiles;
	mvms_uploader *up;       /* remote backends: packs upload while chunking goes on */
	push_delta *delta;       /* fine-tune deltas against the parent's tensors (push_delta.c) */
} push_ctx;

/* What a push commits to, once its files are known. */
/* A remote push's way to name, ahead, the delta bases its workers will read (so that those
 * the cache lacks come in a few batched requests, remote_prefetch.c): @want on the reading
 * thread as each chunk gets its base, @unwant when a worker then reads no base for it
 * (the chunk was stored already, or it is its own base). */
typedef struct mvms_push__base_hooks {
	int (*want)(void *ctx, const mvms_oid *ids, size_t n);
	void (*unwant)(void *ctx, const mvms_oid *id);
	void *ctx;
} mvms_push__base_hooks;

typedef struct push_spec {
	const char *model;
	int64_t model_id;
	const char *branch;
	int64_t head;               /* the branch head the push builds on (0: none): the CAS value */
	const int64_t *parents;
	size_t nparents;
	const char *message, *author;
	int64_t time;
	int check_identical;        /* no version when the files equal the head's */
	const mvms_manifest *manifest; /* commit exactly this manifest (sync), or NULL */
	int stage_only;             /* store the chunks, make no version (remote push) */
	/* A remote push's parent files come from its server (push_delta.c), not the parents:
	 * a struct mvms_bases_parent ** per path, NULL when none. */
	int (*parent_fn)(struct mvms_bases_parent **out, void *ctx, const char *path);
	void *parent_ctx;
	const mvms_push__base_hooks *base_hooks; /* or NULL */
} push_spec;

/* An error that means gc removed something this push counted on, or dropped its expired
 * lease: the result says so, and a new push (mvms_push retries once) will succeed. */
static inline int push_gone(push_ctx *c, int error)
{
	if (error == MVMS_ECONFLICT)
		c->res->gc_conflict = 1;
	return error;
}

/* walk.c: the files of a push. */
int mvms_push__add_file(push_ctx *c, const char *rel, const char *abs, const struct stat *sb);
/* Collects @path (a file or a directory tree), sorted by path, leaving out what its root
 * .mvmsignore, c->opts->exclude and ".git/" say; symbolic links are followed with
 * c->opts->follow_symlinks, else refused; special files are refused. */
int mvms_push__collect(push_ctx *c, const char *path);
void mvms_push__sort_files(push_ctx *c);

/* push_commit.c: the chunk list object of one file content (docs/formats.md). */
int mvms_push__filemap_encode(mvms_buf *out, const push_file *f);
/* Commits the version of @ps once every file's chunks are stored: no version when the
 * files equal the head's (with ps->check_identical), else validated, objects written and
 * rows added in one transaction that moves the branch. */
int mvms_push__commit(push_ctx *c, const push_spec *ps, mvms_manifest *m);

/* push_layout.c: probes the push's ONNX models before any file is read and gives the side
 * files they name the layout of their external tensors; then, as each file is read, its own
 * layout (unless it has one already). */
int mvms_push__layouts(push_ctx *c);
int mvms_push__probe(push_file *f, int fd);

/* push_pipe.c: reads, cuts, hashes, dedups, compresses and packs the files to read
 * (those with abs), on c->pool, and sets their ids, chunk lists and tensor ids. */
int mvms_push__store_files(push_ctx *c);
/* Waits for the slots still in the workers' hands and frees the pipeline; NULL-safe. */
void mvms_push__pipe_free(push_ctx *c);
/* Takes (@lock 1) or releases the lock the workers use the database handle under; nothing
 * when no pipeline runs. */
void mvms_push__lock_db(push_ctx *c, int lock);

/* push_delta.c: fine-tune deltas. start/end around a push; per file, float tensors add the
 * cut points of their fixed grid and pair with the parent's (delta_file), inside which cuts
 * fall exactly on them (delta_cut: the length to cut at @pos, or 0 to let the chunker choose);
 * each chunk is marked with its base (delta_mark), all on the reading thread. On a worker, a
 * new chunk with a base is tried as a delta after its full encoding (delta_encode: reads the
 * base, and replaces the full record at @dst when the delta is clearly smaller). */
int mvms_push__delta_start(push_ctx *c, const push_spec *ps);
void mvms_push__delta_end(push_ctx *c);
int mvms_push__delta_file(push_ctx *c, push_file *f, uint64_t **bounds, size_t *nbounds);
size_t mvms_push__delta_cut(push_ctx *c, uint64_t pos, size_t n);
void mvms_push__delta_mark(push_ctx *c, batch_chunk *b, uint64_t pos);
int mvms_push__delta_encode(push_ctx *c, unsigned worker, batch_chunk *b, unsigned char *dst);
/* A worker: @b, marked with a base, will not be encoded (stored already). */
void mvms_push__delta_skip(push_ctx *c, const batch_chunk *b);

/* push.c: writes the current pack, durable, and indexes it (or hands it to the uploader). */
int mvms_push__flush_pack(push_ctx *c);

/* push.c: stores the files that are not in the store yet, then commits (push_commit.c)
 * unless ps->stage_only; and frees what a push holds. */
int mvms_push__run(push_ctx *c, const push_spec *ps, mvms_manifest *m);
void mvms_push__dispose(push_ctx *c, mvms_manifest *m);

#endif
