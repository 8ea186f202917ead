/* SPDX-License-Identifier: MIT */
/*
 * Versions: push a directory as a new version, resolve refs (MODEL@vN, @<id prefix>,
 * @<branch>, @<tag>, @latest), read versions and their files, list a model's history,
 * move branches and tags, pull a version back byte for byte.
 */
#ifndef MVMS_VERSION_H
#define MVMS_VERSION_H

#include <stddef.h>
#include <stdint.h>
#include "mvms/store.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MVMS_VERSION_ID_HEXSZ 64

typedef struct mvms_version_parent {
	char *model;              /* the parent's model name */
	int64_t number;           /* its per-model number */
	char id[MVMS_VERSION_ID_HEXSZ + 1];
} mvms_version_parent;

typedef struct mvms_version_info {
	char *model;              /* model name */
	int64_t number;           /* v1, v2, ... */
	char id[MVMS_VERSION_ID_HEXSZ + 1];
	char *message, *author;
	int64_t created_at;       /* unix seconds */
	uint64_t file_count, logical_bytes;
	size_t parent_count;
	mvms_version_parent *parents;
	size_t meta_count;
	char **meta_keys, **meta_values;
	size_t ref_count;         /* branches and tags that point here */
	char **refs;              /* "branch:main", "tag:release-1" */
	/* A deleted version (mvms_version_delete_ex, mvms/history.h) stays in the DAG as a
	 * tombstone: these say when and by whom; its files are gone. 0 and NULL when live. */
	int64_t deleted_at;
	char *deleted_by;
} mvms_version_info;

void mvms_version_info_free(mvms_version_info *v);
/* Keeps only @v's id: frees and clears its model, message, author, parents, metadata and refs
 * and zeroes its number, time and sizes (a version shown to someone who may not read it). */
void mvms_version_info_redact(mvms_version_info *v);
void mvms_version_list_free(mvms_version_info **list, size_t count);

/**
 * Resolves "MODEL@REF" (or "MODEL", meaning MODEL@latest). REF is read as each of: a full
 * version id (64 hex digits), vN, a tag, a branch, a deployment environment, "latest" (head
 * of main) and an id prefix of at least 4 hex digits. Exactly one reading must match: when
 * several do (an older store's tag named like an id, a tag and a branch of one name) or a
 * prefix matches several versions, the result is MVMS_EAMBIGUOUS, never a pick. "latest"
 * is the head of the model's default branch (main unless changed). A deleted version
 * resolves (as a tombstone, deleted_at set): reading its files fails.
 * @return 0, MVMS_ENOTFOUND, MVMS_EAMBIGUOUS (the message lists candidates), MVMS_EINVALID.
 */
int mvms_version_resolve(mvms_version_info **out, mvms_store *st, const char *spec);

/** Versions of @model, newest first. With @branch, only those reachable from its head
 * (within any model). */
int mvms_version_log(mvms_version_info ***out, size_t *count, mvms_store *st,
		     const char *model, const char *branch);

typedef struct mvms_tensor_summary {
	char *name, *dtype, *shape;
	uint64_t offset, length;
	char id[MVMS_VERSION_ID_HEXSZ + 1];
} mvms_tensor_summary;

typedef struct mvms_file_info {
	char *path;
	unsigned mode;            /* 0644 or 0755 */
	uint64_t size;
	char id[MVMS_VERSION_ID_HEXSZ + 1];
	char *format;             /* "safetensors" or "" */
	uint64_t chunks;
	uint64_t tensor_count;
} mvms_file_info;

/** Files of a version sorted by path. */
int mvms_version_files(mvms_file_info **out, size_t *count, mvms_store *st,
		       const mvms_version_info *v);
void mvms_file_list_free(mvms_file_info *files, size_t count);
/** Modification times of @files (as mvms_version_files gave them for @v) recorded in the
 * version's manifest (read and checked against the version id): (*out)[2i] unix seconds,
 * (*out)[2i + 1] nanoseconds; 0, 0 where none is recorded. *out is malloc()ed. */
int mvms_version_file_times(int64_t **out, mvms_store *st, const mvms_version_info *v,
			    const mvms_file_info *files, size_t count);
/** Tensors of the file content @file_id (hex) in file order: name, dtype, shape, offset,
 * length and tensor id. None for a file that is not safetensors. */
int mvms_file_tensors(mvms_tensor_summary **out, size_t *count, mvms_store *st,
		      const char *file_id);
void mvms_tensor_list_free(mvms_tensor_summary *list, size_t count);

/* One file of a listing (ls): what mvms_version_files says, its recorded modification time
 * and, when asked for, its tensors. */
typedef struct mvms_file_entry {
	mvms_file_info info;
	int64_t mtime;            /* unix seconds; 0, 0: none recorded */
	uint32_t mtime_ns;
	size_t ntensors;
	mvms_tensor_summary *tensors;
} mvms_file_entry;

typedef struct mvms_listing {
	char *model;
	int64_t number;
	char id[MVMS_VERSION_ID_HEXSZ + 1];
	size_t count;
	mvms_file_entry *files;   /* sorted by path */
} mvms_listing;

/**
 * The files of version @spec (`ls`): all, or those at or under @path when it is not NULL or
 * "" (MVMS_ENOTFOUND when none is), with their tensors when @tensors.
 */
int mvms_version_ls(mvms_listing **out, mvms_store *st, const char *spec, const char *path,
		    int tensors);
void mvms_listing_free(mvms_listing *l);

/* ---- branches and tags ---- */

typedef struct mvms_ref_info {
	char *name;
	int64_t number;           /* the version it points at */
	char id[MVMS_VERSION_ID_HEXSZ + 1];
	int64_t updated_at;
} mvms_ref_info;
void mvms_ref_list_free(mvms_ref_info *refs, size_t count);

/** Creates a tag (fixed). MVMS_EEXISTS when the tag exists, or a branch or environment of
 * the model has that name. */
int mvms_tag_create(mvms_store *st, const char *spec, const char *name);
int mvms_tag_list(mvms_ref_info **out, size_t *count, mvms_store *st, const char *model);
/** Creates a branch at @spec, or (spec NULL) at the head of main. MVMS_EEXISTS if it exists,
 * or a tag or environment of the model has that name. */
int mvms_branch_create(mvms_store *st, const char *model, const char *name, const char *spec);
int mvms_branch_delete(mvms_store *st, const char *model, const char *name);
int mvms_branch_list(mvms_ref_info **out, size_t *count, mvms_store *st, const char *model);
/** 0 when @name is a valid branch, tag or environment name (git-like rules), else
 * MVMS_EINVALID with the reason. Names a ref could be mistaken for are refused: "latest",
 * vN (v and digits) and 4 or more hex digits alone (any case: an id or id prefix). */
int mvms_ref_name_check(const char *name);

/* ---- push ---- */

#define MVMS_PUSH_OPTIONS_VERSION 1
typedef struct mvms_push_options {
	unsigned int version;      /* MVMS_PUSH_OPTIONS_VERSION */
	const char *message;       /* NULL: "" */
	const char *author;        /* NULL: $MVMS_AUTHOR, $USER or "unknown" */
	const char *branch;        /* NULL: "main" */
	const char *const *parents;/* extra parents as MODEL@REF (e.g. a fine-tune's base) */
	size_t parent_count;
	const char *const *meta;   /* "KEY=VALUE" strings */
	size_t meta_count;
	int64_t time;              /* 0: now */
	mvms_progress_cb progress; /* bytes read so far of the total */
	void *payload;
	/* Which files of a directory: rules in gitignore syntax added after those of its root
	 * .mvmsignore (so they win); ".git/" is never pushed. */
	const char *const *exclude;
	size_t exclude_count;
	int follow_symlinks;       /* store what a symbolic link points to (else refused) */
} mvms_push_options;
#define MVMS_PUSH_OPTIONS_INIT { MVMS_PUSH_OPTIONS_VERSION, NULL, NULL, NULL, NULL, 0, NULL, 0, 0, \
				 NULL, NULL, NULL, 0, 0 }

typedef struct mvms_push_result {
	int created;               /* 0: identical to the branch head, no version made */
	int64_t number;
	char id[MVMS_VERSION_ID_HEXSZ + 1];
	uint64_t files, logical_bytes;
	uint64_t chunks, new_chunks;
	uint64_t new_raw_bytes, new_stored_bytes;
	uint64_t packs;
	uint64_t tensors;
	double seconds;
	int gc_conflict;           /* failed with MVMS_ECONFLICT because a gc removed something the
				    * push counted on (or its lease expired): pushing again works */
	unsigned retries;          /* times the push started over for that reason (at most 1) */
	uint64_t delta_chunks;     /* new chunks stored as deltas against the parent's tensors */
} mvms_push_result;

/**
 * Pushes the file or directory @path as a new version of @model (registered on first use)
 * on a branch. Atomic: the version and the branch move become visible together or not at
 * all. A push holds a lease (mvms_lease_create) so that gc leaves what it writes alone, and
 * starts over once, by itself, when a gc removed something it reused (out->retries).
 * @return 0; MVMS_ECONFLICT when the branch moved while pushing; MVMS_EINVALID for
 * symlinks, special files, bad names; MVMS_ENOTFOUND for a missing path or parent.
 */
int mvms_push(mvms_push_result *out, mvms_store *st, const char *model, const char *path,
	      const mvms_push_options *opts);

/* ---- pull ---- */

#define MVMS_PULL_OPTIONS_VERSION 1
typedef struct mvms_pull_options {
	unsigned int version;      /* MVMS_PULL_OPTIONS_VERSION */
	int force;                 /* write into a non-empty directory */
	mvms_progress_cb progress;
	void *payload;
	/* Remote pulls: the files written become the client cache's sources (later pulls read
	 * chunks from them). With cache_copy the chunks downloaded are also kept in the cache's
	 * packs, so they outlive the pulled files (a CI runner that keeps only the cache). */
	int cache_copy;
	/* A subset: files at these paths or under these directories (each must match one),
	 * those matching one of the include globs (when any), less those matching an exclude
	 * glob. Globs as fnmatch(3) without flags: '*' matches '/' too, as huggingface-cli's. */
	const char *const *paths;
	size_t path_count;
	const char *const *include;
	size_t include_count;
	const char *const *exclude;
	size_t exclude_count;
} mvms_pull_options;
#define MVMS_PULL_OPTIONS_INIT { MVMS_PULL_OPTIONS_VERSION, 0, NULL, NULL, 0, NULL, 0, NULL, 0, \
				 NULL, 0 }

typedef struct mvms_pull_result {
	char id[MVMS_VERSION_ID_HEXSZ + 1];
	int64_t number;
	uint64_t files, bytes;    /* files selected; bytes written by this pull */
	double seconds;
	uint64_t kept;            /* files already there with the right content, left as they were */
} mvms_pull_result;

/**
 * Writes the files of version @spec (or the subset the options select) into @dir and
 * restores their modification times. Every chunk and every file is verified; each file is
 * written under a temporary name (".mvms-part-*" beside it) and renamed into place only
 * when its hash matches. A pull resumes: a file already in @dir with the right content
 * (every chunk hashed) is kept, a temporary file a killed pull left is continued from its
 * last whole chunk that checks, and the temporary files killed pulls left are removed.
 * Files of @dir that are not in the version are left alone.
 * @return 0; MVMS_EEXISTS when a file of the version is in @dir with other content and
 * !force (nothing is written then); MVMS_ENOTFOUND for a path that names no file;
 * MVMS_EMISMATCH when stored bytes are corrupt (no wrong file is left behind).
 */
int mvms_pull(mvms_pull_result *out, mvms_store *st, const char *spec, const char *dir,
	      const mvms_pull_options *opts);

#ifdef __cplusplus
}
#endif
#endif
