/* SPDX-License-Identifier: MIT */
/*
 * The one rule for "identical to the head, so no new version": a plain push (no extra
 * parents, no metadata) of the files the head has, by path, mode and content, makes no
 * version. The local push (push.c) and the remote one (remote.c) both ask here.
 */
#include <string.h>
#include "common.h"
#include "tree.h"

int mvms_tree_skip_identical(const mvms_push_options *opts)
{
	return opts->parent_count == 0 && opts->meta_count == 0;
}

int mvms_tree_same(const mvms_tree_entry *a, size_t na, const mvms_tree_entry *b, size_t nb)
{
	size_t i;

	if (na != nb)
		return 0;
	for (i = 0; i < na; i++)
		if (strcmp(a[i].path, b[i].path) != 0 || a[i].mode != b[i].mode ||
		    mvms_oid_cmp(&a[i].id, &b[i].id) != 0)
			return 0;
	return 1;
}
