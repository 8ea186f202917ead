/* SPDX-License-Identifier: MIT */
/*
 * Private to diff.c and merge.c: a version's files and a file content's tensors as read
 * from the database (meta/dagq.c), sorted by path and by name.
 */
#ifndef MVMS_DAG_INT_H
#define MVMS_DAG_INT_H

#include "store_int.h"
#include "mvms/dag.h"

typedef struct mvms_vfile {
	char *path;
	unsigned mode;
	int64_t content;   /* contents row */
	mvms_oid oid;      /* file id */
	uint64_t size;
	int safetensors;
	int tensors;       /* has a tensor layout (safetensors, GGUF, ONNX, an ONNX side file) */
	int matched;       /* scratch flag for the caller */
} mvms_vfile;

typedef struct mvms_vtensor {
	char *name, *dtype, *shape;
	uint64_t offset, length;
	mvms_oid oid;
} mvms_vtensor;

int mvms_dag__load_files(mvms_vfile **out, size_t *count, mvms_store *st, int64_t version_row);
void mvms_dag__free_files(mvms_vfile *f, size_t n);
int mvms_dag__load_tensors(mvms_vtensor **out, size_t *count, mvms_store *st, int64_t content);
void mvms_dag__free_tensors(mvms_vtensor *t, size_t n);

/* 1 when version row @x is @y or an ancestor of it, 0 when not (walk bounded by generation). */
int mvms_dag__is_ancestor(mvms_store *st, int64_t x, int64_t y);
/* Merge bases of two version rows (*out malloc()ed, *count may be 0). */
int mvms_dag__merge_base_rows(int64_t **out, size_t *count, mvms_store *st, int64_t a, int64_t b);

/* The in-memory DAG index of a store handle (dagcache.c), or NULL when the SQL path is to be
 * used (the first DAG question of a handle, or a failed build). Valid until the next call. */
typedef struct mvms_dagcache mvms_dagcache;
mvms_dagcache *mvms_dag__cache(mvms_store *st);
void mvms_dag__cache_free(mvms_dagcache *c);
/* Node index of a version row (-1 when unknown), and back. */
int mvms_dag__node(const mvms_dagcache *c, int64_t row);
size_t mvms_dag__count(const mvms_dagcache *c);
int64_t mvms_dag__row(const mvms_dagcache *c, int node);
int64_t mvms_dag__gen(const mvms_dagcache *c, int node);
size_t mvms_dag__parents(const mvms_dagcache *c, int node, const uint32_t **list, const int **pos);
size_t mvms_dag__children(const mvms_dagcache *c, int node, const uint32_t **list, const int **pos);
/* 1 when node @x is @y or reached from @y by first parents only (O(1), no walk). A 0 says
 * nothing: @x may still be an ancestor through a merge's other parents. */
int mvms_dag__first_parent_ancestor(const mvms_dagcache *c, int x, int y);
/* 1 when @x reaches @y by first parents, one side edge into a merge, then first parents
 * again (an old branch version and the main line that merged it); O(log n + side edges
 * leaving @x's first-parent subtree, at most 4096 looked at). A 0 says nothing. */
int mvms_dag__one_merge_ancestor(const mvms_dagcache *c, int x, int y);
/* 1 with *base set when @x's line goes down by first parents, through versions with one
 * parent whose descendants all stay on their first-parent subtree, to a version *base on
 * @y's first-parent line: *base is then the one merge base of @x and @y (an abandoned or
 * open branch and the main line). Costs the length of @x's side of the fork (at most 4096
 * steps, each O(log n)); 0 says nothing. */
int mvms_dag__fork_base(const mvms_dagcache *c, int x, int y, int *base);
/* A lineage walk's visited set: begin (a new epoch), then seen/mark per node. */
int mvms_dag__walk_begin(uint32_t *epoch, mvms_dagcache *c);
int mvms_dag__seen(size_t *slot, const mvms_dagcache *c, uint32_t epoch, int node);
void mvms_dag__mark(mvms_dagcache *c, uint32_t epoch, int node, size_t slot);
/* A lineage node from the index (model and message strdup()ed). */
int mvms_dag__fill(mvms_lineage_node *out, const mvms_dagcache *c, int node, int depth);

#endif
