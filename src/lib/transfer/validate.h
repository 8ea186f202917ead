/* SPDX-License-Identifier: MIT */
/*
 * The one check of a version before it is committed, shared by a local push (push.c, also
 * for merges and uploads) and the server's commit endpoint (sync_commit.c): a commit that does
 * not add up is refused whole, naming its first problem, before any row, ref or object
 * that would belong to it is written.
 */
#ifndef MVMS_VALIDATE_H
#define MVMS_VALIDATE_H

#include "store_int.h"

/* Where a file's chunk list comes from. */
typedef enum mvms_commit_source {
	MVMS_COMMIT_STORED,       /* the store has the content already (a contents row) */
	MVMS_COMMIT_FILEMAP,      /* a chunk list ("files" object bytes) sent with the commit */
	MVMS_COMMIT_CHUNKS        /* the chunks this push cut and stored */
} mvms_commit_source;

typedef struct mvms_commit_file {
	const char *path;
	unsigned mode;
	uint64_t size;            /* as declared (the manifest's size) */
	mvms_oid id;              /* as declared (the manifest's file id) */
	mvms_commit_source source;
	const void *filemap;      /* MVMS_COMMIT_FILEMAP */
	size_t filemap_len;
	const mvms_chunk_ref *chunks; /* MVMS_COMMIT_CHUNKS */
	size_t nchunks;
} mvms_commit_file;

typedef struct mvms_commit_plan {
	int64_t model_id;         /* 0: the commit registers a new model */
	const char *branch;       /* the branch it moves */
	const mvms_commit_file *files;
	size_t nfiles;
	const int64_t *parents;   /* versions rows, in order */
	size_t nparents;
} mvms_commit_plan;

/**
 * Checks, in this order, and reports the first problem:
 *  - the branch name (mvms_ref_name_check), and that a new branch does not take the name
 *    of a tag or environment of the model (MVMS_EEXISTS);
 *  - every path valid (mvms_path_check), modes 0644 or 0755, no path twice, no path that
 *    is a file and also a directory of another ("a" and "a/b");
 *  - every parent an existing version, none twice;
 *  - every file's chunk list: it hashes to the file id (BLAKE2b-256 over the (chunk id,
 *    u64 length) pairs), its lengths add up to the declared size, and every chunk is
 *    stored (a chunks row) with exactly the length the list gives; a content the store
 *    has already must have the declared size (its chunk list was checked when it came).
 * @return 0; MVMS_EINVALID naming the file and the problem; MVMS_EEXISTS for a branch
 * name another ref holds; MVMS_ERROR for a database failure.
 */
int mvms_validate_commit(mvms_store *st, const mvms_commit_plan *plan);

/** The path checks of mvms_validate_commit alone (only path and mode of @files are read),
 * for callers that can refuse a tree before reading its files. */
int mvms_validate_paths(const mvms_commit_file *files, size_t n);

struct mvms_manifest;

/**
 * mvms_validate_commit for manifest @m made elsewhere (the server's commit endpoint), with
 * its parents' rows: a file whose content the store lacks is checked through the chunk list
 * among @filemaps whose id (@fm_ids) is its file id; with none, it is reported as missing.
 */
int mvms_validate_manifest(mvms_store *st, const struct mvms_manifest *m, int64_t model_id,
			   const char *branch, const int64_t *parents, const mvms_oid *fm_ids,
			   const void *const *filemaps, const size_t *filemap_lens, size_t nfilemaps);

/* The ids of a commit's sent chunk lists with their indices, sorted by id, so each file
 * finds its own in log n (10,000 small files send 10,000 lists). */
typedef struct mvms_validate__sent {
	mvms_oid id;
	size_t i;
} mvms_validate__sent;
/* Makes *out (free() it) from @ids. */
int mvms_validate__sent_index(mvms_validate__sent **out, const mvms_oid *ids, size_t n);
/* The index in @ids of the sent chunk list of @id, or @n when none was sent. */
size_t mvms_validate__sent_find(const mvms_validate__sent *v, size_t n, const mvms_oid *id);

/** mvms_validate_paths over the paths and modes of @entries (a tree about to be read). */
int mvms_validate_entry_paths(const mvms_push__entry *entries, size_t n);

#endif
