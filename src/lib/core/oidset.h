/* SPDX-License-Identifier: MIT */
/*
 * A set of object ids (open addressing, linear probing): push's "chunks already in the
 * unflushed pack" set, asked once per chunk, so it has to be cheap.
 */
#ifndef MVMS_OIDSET_H
#define MVMS_OIDSET_H

#include "mvms/oid.h"

typedef struct mvms_oidset {
	mvms_oid *slots;
	unsigned char *used;
	size_t cap, count;
} mvms_oidset;

/* Adds @id (nothing when it is there); MVMS_ERROR when out of memory. */
int mvms_oidset_add(mvms_oidset *s, const mvms_oid *id);
/* 1 when @id is in the set. */
int mvms_oidset_has(const mvms_oidset *s, const mvms_oid *id);
/* Empties the set, keeping its memory. */
void mvms_oidset_clear(mvms_oidset *s);
/* Frees the set's memory; it is empty (and reusable) afterwards. */
void mvms_oidset_dispose(mvms_oidset *s);

#endif
