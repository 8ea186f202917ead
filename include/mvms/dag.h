/* SPDX-License-Identifier: MIT */
/*
 * The version DAG at work: lineage (ancestors and descendants, across models), merge
 * bases, diffs between any two versions (of one model or two), and merges.
 */
#ifndef MVMS_DAG_H
#define MVMS_DAG_H

#include <stddef.h>
#include <stdint.h>
#include "mvms/store.h"
#include "mvms/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- lineage ---- */

enum mvms_lineage_direction {
	MVMS_LINEAGE_ANCESTORS = 1,
	MVMS_LINEAGE_DESCENDANTS = 2,
	MVMS_LINEAGE_BOTH = 3,
};

typedef struct mvms_lineage_node {
	char *model;
	int64_t number;
	char id[MVMS_VERSION_ID_HEXSZ + 1];
	char *message;
	int64_t created_at;
	int depth;         /* edges from the start version: > 0 ancestors, < 0 descendants */
	int64_t deleted_at;/* a deleted version (a tombstone, mvms/history.h): when; else 0 */
} mvms_lineage_node;

typedef struct mvms_lineage_edge {
	size_t child, parent;  /* indices into nodes */
	int position;          /* 0 for the first parent */
} mvms_lineage_edge;

typedef struct mvms_lineage {
	size_t node_count;
	mvms_lineage_node *nodes;  /* nodes[0] is the start version */
	size_t edge_count;
	mvms_lineage_edge *edges;
} mvms_lineage;

/**
 * The versions reachable from @spec through parent edges (ancestors), child edges
 * (descendants) or both, at most @depth edges away (depth < 0: unlimited), with the edges
 * between them. Crosses models.
 */
int mvms_lineage_get(mvms_lineage **out, mvms_store *st, const char *spec, int direction,
		     int depth);
void mvms_lineage_free(mvms_lineage *l);

/**
 * Lowest common ancestors of two versions: common ancestors that are not ancestors of
 * another common ancestor (two or more in a criss-cross history). *count may be 0 when the
 * versions share no history.
 */
int mvms_merge_base(mvms_version_info ***out, size_t *count, mvms_store *st, const char *a,
		    const char *b);

/* ---- diff ---- */

enum mvms_diff_status {
	MVMS_DIFF_ADDED = 'A',
	MVMS_DIFF_REMOVED = 'D',
	MVMS_DIFF_MODIFIED = 'M',
	MVMS_DIFF_RENAMED = 'R',    /* same content, new path (mode may change too) */
	MVMS_DIFF_MODE = 'T',       /* only the mode changed */
};

typedef struct mvms_diff_tensor {
	char *name;
	char status;                /* 'A', 'D', 'M' (data), 'S' (dtype or shape), */
	char *old_dtype, *new_dtype, *old_shape, *new_shape;
	uint64_t old_length, new_length;
} mvms_diff_tensor;

typedef struct mvms_diff_file {
	char status;                /* enum mvms_diff_status */
	char *path;                 /* the path in B (in A for removed files) */
	char *old_path;             /* for renames: the path in A */
	unsigned old_mode, new_mode;
	uint64_t old_size, new_size;
	char old_id[MVMS_VERSION_ID_HEXSZ + 1], new_id[MVMS_VERSION_ID_HEXSZ + 1];
	uint64_t shared_bytes;      /* bytes of B's file in chunks that A has (anywhere in A) */
	uint64_t new_bytes;         /* bytes of B's file in chunks that A lacks: what a pull costs */
	int tensor_diff;            /* 1 when both sides are safetensors and tensors were compared */
	uint64_t tensors_total;     /* tensors in B */
	uint64_t tensors_changed, tensors_added, tensors_removed, tensors_unchanged;
	uint64_t bytes_total, bytes_changed; /* tensor data bytes in B, and in changed/added tensors */
	size_t tensor_count;        /* entries below: changed, added, removed tensors only */
	mvms_diff_tensor *tensors;
} mvms_diff_file;

typedef struct mvms_diff_meta {
	char *key;
	char *old_value, *new_value; /* NULL when absent on that side */
} mvms_diff_meta;

typedef struct mvms_diff {
	mvms_version_info *from, *to;
	size_t file_count;          /* changed files only, sorted by path */
	mvms_diff_file *files;
	uint64_t unchanged_files;
	size_t meta_count;
	mvms_diff_meta *meta;
	uint64_t shared_bytes, new_bytes; /* over all of B's files */
	/* What the store keeps for B: the stored (compressed, or delta) payload lengths of B's
	 * distinct chunks, and of those A lacks. Pack framing (41 B record header and 49 B index
	 * entry per chunk, 72 B per pack) is not counted; a delta's base is not either. */
	uint64_t stored_bytes, new_stored_bytes;
} mvms_diff;

#define MVMS_DIFF_TENSORS 1u   /* list the changed tensors of safetensors files */

/** Compares version @a with version @b (any models). Tensor summaries are always
 * computed; per-tensor entries only with MVMS_DIFF_TENSORS. No pack is read. */
int mvms_diff_get(mvms_diff **out, mvms_store *st, const char *a, const char *b, unsigned flags);
void mvms_diff_free(mvms_diff *d);

/* ---- merge ---- */

enum mvms_merge_side {
	MVMS_MERGE_NONE = 0,
	MVMS_MERGE_OURS = 1,
	MVMS_MERGE_THEIRS = 2,
};

typedef struct mvms_merge_resolution {
	const char *path;
	int side;                  /* MVMS_MERGE_OURS or MVMS_MERGE_THEIRS */
} mvms_merge_resolution;

#define MVMS_MERGE_OPTIONS_VERSION 1
typedef struct mvms_merge_options {
	unsigned int version;
	const char *into;          /* target branch (NULL: main) */
	const char *message;       /* NULL: "merge SOURCE into BRANCH" */
	const char *author;
	int strategy;              /* MVMS_MERGE_NONE: conflicts fail; OURS/THEIRS: take that side */
	const mvms_merge_resolution *resolve;
	size_t resolve_count;
	int64_t time;              /* 0: now */
} mvms_merge_options;
#define MVMS_MERGE_OPTIONS_INIT { MVMS_MERGE_OPTIONS_VERSION, NULL, NULL, NULL, 0, NULL, 0, 0 }

typedef struct mvms_merge_conflict {
	char *path;
	char *tensor;              /* NULL for a whole-file conflict */
	char *kind;                /* "both-modified", "modify-delete", "add-add", "tensor", ... */
	char base_id[MVMS_VERSION_ID_HEXSZ + 1];   /* "" when absent on that side */
	char ours_id[MVMS_VERSION_ID_HEXSZ + 1];
	char theirs_id[MVMS_VERSION_ID_HEXSZ + 1];
} mvms_merge_conflict;

typedef struct mvms_merge_result {
	int fast_forward;          /* the target was an ancestor of the source: branch moved */
	int up_to_date;            /* the source was already in the target: nothing done */
	int created;               /* a merge version was made */
	int64_t number;
	char id[MVMS_VERSION_ID_HEXSZ + 1];
	size_t tensor_merged_files;/* tensor files (safetensors, GGUF, ONNX) merged tensor by tensor */
	size_t conflict_count;
	mvms_merge_conflict *conflicts;
} mvms_merge_result;

/**
 * Merges @source (MODEL@REF) into a branch of @model: 3-way by path against the merge base,
 * tensor by tensor for safetensors files changed on both sides in disjoint tensors.
 * @return 0 (see *out for what happened); MVMS_EMERGE when there are unresolved conflicts
 * (listed in *out, nothing written); MVMS_ECONFLICT when the branch moved meanwhile.
 * *out is set whenever the return is 0 or MVMS_EMERGE; free with mvms_merge_result_free.
 */
int mvms_merge(mvms_merge_result **out, mvms_store *st, const char *model, const char *source,
	       const mvms_merge_options *opts);
void mvms_merge_result_free(mvms_merge_result *r);

#ifdef __cplusplus
}
#endif
#endif
