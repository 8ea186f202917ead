/* SPDX-License-Identifier: MIT */
/*
 * push_lists.c: a push's new chunk lists, many to a list pack ("lists/ab/<id>", level 14,
 * docs/formats.md), so 10,000 small files cost one durable object instead of 10,000.
 */
#ifndef MVMS_PUSH_LISTS_H
#define MVMS_PUSH_LISTS_H

#include "push_int.h"

typedef struct push_lists {
	/* Per file of the push (c->files index): 1 when its chunk list went to list pack
	 * pack[i] at off[i]; 0 when not (an old content, or a large list: its own object). */
	unsigned char *placed;
	mvms_oid *pack;
	uint64_t *off;
	mvms_oid *packs;        /* the list packs written, each once */
	size_t npacks;
} push_lists;

/* 1 when file @f's chunk list goes to a list pack (else its own "files" object). */
int mvms_push__list_packable(const push_file *f);
/* Writes the chunk lists of c->files[which[0..n-1]] (new contents, packable) into list
 * packs, each durable (backend put) when this returns; fills @out. */
int mvms_push__lists_write(push_lists *out, push_ctx *c, const size_t *which, size_t n);
/* In the commit's transaction: every list pack written is still there (a gc may have run;
 * the same rule as need_object in push_commit.c). */
int mvms_push__lists_check(push_ctx *c, const push_lists *l);
void mvms_push__lists_dispose(push_lists *l);

/* The same for chunk lists given as "files" object bytes (@lists[i], @lens[i] bytes each,
 * checked already), as a remote push sends them (sync_commit.c): item i goes to list pack
 * pack[i] at off[i]; *@packs (free()) are the @npacks list packs written. */
int mvms_lists__put(mvms_oid *pack, uint64_t *off, mvms_oid **packs, size_t *npacks,
		    mvms_store *st, const void *const *lists, const size_t *lens, size_t n);

#endif
