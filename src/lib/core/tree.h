/* SPDX-License-Identifier: MIT */
/*
 * File trees as (path, mode, content id) lists, and the one rule for "identical to the
 * head, so no new version" that a local and a remote push share (tree.c).
 */
#ifndef MVMS_TREE_H
#define MVMS_TREE_H

#include "mvms/oid.h"
#include "mvms/version.h"

typedef struct mvms_tree_entry {
	const char *path;
	unsigned mode;
	mvms_oid id;                 /* the file (content) id */
} mvms_tree_entry;

/* 1 when a push with @opts makes no version for files equal to the head's: only a plain
 * push does (extra parents or metadata always make one). */
int mvms_tree_skip_identical(const mvms_push_options *opts);
/* 1 when the trees are equal: same paths, modes and contents (both sorted by path). */
int mvms_tree_same(const mvms_tree_entry *a, size_t na, const mvms_tree_entry *b, size_t nb);

#endif
