/* SPDX-License-Identifier: MIT */
/*
 * The store's private state, shared by the operation modules (push, pull, refs, verify).
 */
#ifndef MVMS_STORE_INT_H
#define MVMS_STORE_INT_H

#include "mvms/store.h"
#include "mvms/version.h"
#include "mvms/chunker.h"
#include "mvms/backend.h"
#include "db.h"

#define MVMS_PACK_SIZE_DEFAULT (64ull * 1024 * 1024)
#define MVMS_LEVEL_DEFAULT 3

struct mvms_store {
	char *path;                  /* the store directory */
	mvms_db *db;
	mvms_backend *be;
	char backend_name[512];      /* "local" or "s3://bucket/prefix", "gs://..." */
	mvms_chunker_params chunker; /* recorded at init: changing it changes every id */
	int level;
	uint64_t pack_size;
	struct mvms_dagcache *dag;   /* in-memory DAG index (dagcache.c), NULL until built */
	unsigned dag_queries;        /* DAG questions asked so far on this handle */
	char lease[33];              /* the lease this handle's writes run under ("": none) */
	double lease_renewed;        /* mvms_now() of its last renewal */
	/* The store's log (meta/log.c): in use (the backend creates objects only if absent),
	 * the last commit lost its entry to another writer, when this handle last caught up. */
	int log_on;
	int log_lost;
	double log_refreshed;
	/* A handle opened by URL (mvms_store_connect): every operation goes through this table
	 * to @remote, and db and be are NULL (meta/transport.h). NULL for a local store. */
	const struct mvms_transport *tp;
	struct mvms_remote *remote;
	struct mvms_bases *bases;    /* delta bases' reader (bases.c), NULL until one is needed */
	int sources_unsettled;       /* this handle recorded a source not indexed yet (sources.c) */
	/* Tests only: runs right before a commit's transaction (to put a gc there). */
	void (*before_commit)(mvms_store *st, void *arg);
	void *before_commit_arg;
};

/* ---- leases (lease.c) ---- */
/* Takes a lease for @st's writes unless one is in use; *took says whether to drop it. */
int mvms_lease__hold(int *took, mvms_store *st, const char *holder);
/* Releases the lease hold took (nothing when !took); keeps the last error message. */
void mvms_lease__drop(mvms_store *st, int took);
/* Renews the lease in use when a quarter of its time to live has gone by, or now with
 * @force (in the caller's write transaction if one is open). MVMS_ECONFLICT when gc
 * dropped it. */
int mvms_lease__tick(mvms_store *st, int force);
/* Leases in the bucket (lease_bucket.c), with the store's log: publish writes (or renews)
 * leases/<id>, unpublish removes it, published fails with MVMS_ECONFLICT when a gc
 * elsewhere removed it, bucket_oldest adds the live ones to what the database says (and
 * with @reap removes expired ones). Nothing without the log. */
int mvms_lease__publish(mvms_store *st, const char *id, int64_t started, int64_t expires);
void mvms_lease__unpublish(mvms_store *st, const char *id);
int mvms_lease__published(mvms_store *st, const char *id);
int mvms_lease__bucket_oldest(int64_t *oldest, uint64_t *live, uint64_t *expired,
			      mvms_store *st, int64_t now, int reap);
/* gc holds gc.lock in the store directory while it runs (begin returns its descriptor,
 * -1 when the store has none or cannot be written); a writer whose commit lost a chunk to
 * a gc waits for that gc to end (at most two minutes) before it answers or starts over. */
int mvms_lease__gc_begin(mvms_store *st);
void mvms_lease__gc_end(int fd);
void mvms_lease__gc_wait(mvms_store *st);
/* In a commit's write transaction: MVMS_ECONFLICT when the lease in use is gone. */
int mvms_lease__check(mvms_store *st);
/* The start of the oldest live lease at @now (*oldest 0 when none) and how many are live;
 * with @reap (in a write transaction), expired ones are deleted and counted in *expired. */
int mvms_lease__oldest(int64_t *oldest, uint64_t *live, uint64_t *expired, mvms_store *st,
		       int64_t now, int reap);

/* Tests only: every later backend call of @st goes to @be (a fault backend wrapping the
 * store's own, storage/backend_fault.h). Returns the backend it replaces, which the caller
 * now owns; the store frees @be when it is closed. Stores have no public way to take a
 * backend: include/mvms/sys/backend.h describes the table for backend writers only. */
mvms_backend *mvms_store__set_backend(mvms_store *st, mvms_backend *be);

/* "<the store's directory>/@name" (free() it), or NULL when out of memory or the store has
 * no directory. */
char *mvms_store__file(const mvms_store *st, const char *name);
/* Another connection on @st's database, for a thread of its own (SQLite connections are not
 * shared between threads). */
int mvms_store__db_open(mvms_db **out, const mvms_store *st);

/* Row id of a model by name: MVMS_ENOTFOUND when absent. */
int mvms_store__model_id(int64_t *out, mvms_store *st, const char *name);
/* Registers @name with @uid (NULL: a new random one); MVMS_EEXISTS when it exists. */
int mvms_store__model_create(int64_t *out, mvms_store *st, const char *name, const char *uid,
			     const char *description);
/* The one integer a query (@sql, a string literal: statements are cached by pointer)
 * answers; @what names it in an error. */
int mvms_store__u64(uint64_t *out, mvms_store *st, const char *sql, const char *what);
/* 32 hex digits of fresh randomness. */
void mvms_store__new_uid(char *out);
/* The uid of model row @model_id. */
int mvms_store__model_uid(char *uid_out, mvms_store *st, int64_t model_id);
/* The versions row of full version id @id (64 hex); MVMS_ENOTFOUND when absent. */
int mvms_version__row(int64_t *out, mvms_store *st, const char *id);
/* 1 when versions row @row exists, 0 when not, or the database's error. */
int mvms_version__row_exists(mvms_store *st, int64_t row);

/* Splits MODEL@REF into its model (*model, free()) and ref (in @spec, or "latest" when there
 * is no '@'), checking the model name; MVMS_EINVALID for an empty ref. */
int mvms_refs__split_spec(char **model, const char **ref, const char *spec);
/* Resolves a spec to a versions row id (and fills info when info_out is not NULL). */
int mvms_refs__resolve_row(int64_t *row_out, mvms_version_info **info_out, mvms_store *st,
			   const char *spec);
/* Loads a version by row id. */
int mvms_version__load(mvms_version_info **out, mvms_store *st, int64_t row);
/* Loads the versions of rows[0..n) into a new array (mvms_version_list_free). */
int mvms_version__load_rows(mvms_version_info ***out, size_t *count, mvms_store *st,
			    const int64_t *rows, size_t n);
/* The model row id of a version row: MVMS_ENOTFOUND (with a message) when there is no such
 * row, the database's error when it cannot be read. */
int mvms_version__model(int64_t *out, mvms_store *st, int64_t row);
/* Branch head row id (0 with MVMS_ENOTFOUND when the branch does not exist). */
int mvms_refs__branch_head(int64_t *out, mvms_store *st, int64_t model_id, const char *branch);
/* Moves @branch of model @model_id to version row @new_row if its head is @expected_row
 * (0: the branch must not exist, and is created); MVMS_ECONFLICT (callers say what to do)
 * when it is not. */
int mvms_refs__move_branch(mvms_store *st, int64_t model_id, const char *branch,
			   int64_t expected_row, int64_t new_row);
/* 0 when no ref of another kind than @kind ("tag", "branch" or "environment") is named
 * @name in model @model_id; MVMS_EEXISTS (with a message) when one is, since MODEL@NAME
 * would then be ambiguous. */
int mvms_refs__name_free(mvms_store *st, int64_t model_id, const char *name, const char *kind);

/* One file of a version being committed by push__entries: either a file to read (abs) or
 * a content the store already has (abs NULL, content and size set). */
typedef struct mvms_push__entry {
	const char *path;
	unsigned mode;
	const char *abs;
	mvms_oid content;
	uint64_t size;
} mvms_push__entry;

struct mvms_manifest;

/* What mvms_push__entries commits: a version of @model on @branch (compare-and-swap
 * against @expected_head, 0 for none) from @entries, with the given parent rows. With
 * @manifest, that exact manifest is committed (its files must be the entries). With
 * @check_identical, files equal to the head's make no version (out->created 0), as a push. */
typedef struct mvms_push__request {
	const char *model, *branch;
	int64_t expected_head;
	const int64_t *parents;
	size_t nparents;
	const char *message, *author;
	int64_t when;                    /* 0: now */
	const mvms_push__entry *entries;
	size_t count;
	const struct mvms_manifest *manifest;
	int check_identical;
} mvms_push__request;

/* Commits @rq (above). Used by merge and sync. */
int mvms_push__entries(mvms_push_result *out, mvms_store *st, const mvms_push__request *rq);

/* A chunk of a file: its id and raw length. */
typedef struct mvms_chunk_ref {
	mvms_oid id;
	uint32_t len;
} mvms_chunk_ref;

/* Streams bytes [offset, offset + len) of a stored file content to @sink, each chunk
 * verified against its hash first. */
typedef int (*mvms_pull__sink)(const void *data, size_t len, void *payload);
int mvms_pull__content_range(mvms_store *st, const mvms_oid *content, uint64_t offset,
			     uint64_t len, mvms_pull__sink sink, void *payload);

/* Makes @dir ready for a pull: created when missing, refused when it is not a directory
 * (what it holds is checked file by file: transfer/resume.c). */
int mvms_sync__pull_dir(const char *dir, int force);

/* Sets repeat[i] when ids[i] occurred before, in @ids' order (the first of each stays 0). */
int mvms_sync__repeats(unsigned char *repeat, const mvms_oid *ids, size_t n);

/* Hands @n whole records in pack form (back to back, already checked by the caller) to the
 * cache; the sink owns @records (malloc()ed) from here on, also on error. */
struct mvms_chunk_sink;
int mvms_sync__sink_add_records(struct mvms_chunk_sink *s, unsigned char *records, size_t len,
				size_t n);

/*
 * A file arriving as its stored chunk records (a remote pull's records stream, docs/formats.md):
 * add takes the bytes as they come, in pieces of any size; every record must be the next
 * chunk of the file's chunk list @fm (@n entries of 32-byte id and u64 length after a 32-byte
 * header, as checked by mvms_sync_parse_filemap). A decoder thread takes the records a
 * megabyte at a time while more arrive, decodes and checks them against their ids in parallel,
 * writes the bytes to @fd and hands the records to @sink as they are. finish checks that every
 * chunk came and that the file hashes to @want. @progress is called from the decoder thread.
 */
typedef struct mvms_sync__recv mvms_sync__recv;
int mvms_sync__recv_new(mvms_sync__recv **out, int fd, const char *path, const void *fm, size_t n,
			struct mvms_chunk_sink *sink, mvms_progress_cb progress, void *payload,
			uint64_t done, uint64_t total);
int mvms_sync__recv_add(mvms_sync__recv *rv, const void *data, size_t len);
int mvms_sync__recv_finish(mvms_sync__recv *rv, const mvms_oid *want);
/* Lets the receiver's decoders read delta bases from @st (the cache: packs, sources, or
 * the server through its fetch hook, meta/bases.h). */
void mvms_sync__recv_bases(mvms_sync__recv *rv, mvms_store *st);
/* @done (as given to new) plus the raw bytes of this file written so far. */
uint64_t mvms_sync__recv_done(const mvms_sync__recv *rv);
void mvms_sync__recv_free(mvms_sync__recv *rv);

/* Sources (sources.c): files outside the store holding chunks byte for byte.
 * add records @path (its realpath), a file whose chunk list @fm (@n entries, as in
 * mvms_sync__recv_new) it holds, replacing an older record of the same path; its chunks
 * are indexed by settle: a remote handle runs it on its cache when it opens it (files
 * earlier commands recorded), and settle_mine (the files this handle recorded, if any)
 * runs outside any transaction before chunks are looked up (have, a pull's look-ups); prune
 * forgets the files whose size, mtime or inode changed or that are gone; forget drops one;
 * have sets have[i] when chunk ids[i] is in a pack or an indexed source. */
int mvms_sources_add(mvms_store *st, const char *path, const mvms_oid *content, const void *fm,
		     size_t n);
int mvms_sources_settle(mvms_store *st);
int mvms_sources_settle_mine(mvms_store *st);
int mvms_sources_prune(size_t *dropped, mvms_store *st);
int mvms_sources_forget(mvms_store *st, int64_t id);
int mvms_sources_count(uint64_t *out, mvms_store *st);
int mvms_sources_have(unsigned char *have, mvms_store *st, const mvms_oid *ids, size_t n);

/* "unknown" / $MVMS_AUTHOR / $USER. */
const char *mvms_store__default_author(void);

#endif
