/* SPDX-License-Identifier: MIT */
/*
 * A set of object ids: open addressing over the ids' first 8 bytes (they are hashes, so
 * already uniform), kept at most half full. Used by push for the chunks of the unflushed pack.
 */
#include <stdlib.h>
#include <string.h>
#include "common.h"
#include "oidset.h"

static size_t oid_slot(const mvms_oid *id, size_t cap)
{
	uint64_t h;

	memcpy(&h, id->id, sizeof(h));
	return (size_t)(h & (cap - 1));
}

int mvms_oidset_add(mvms_oidset *s, const mvms_oid *id)
{
	size_t i;

	if ((s->count + 1) * 2 > s->cap) {
		mvms_oidset bigger = { NULL, NULL, s->cap ? s->cap * 2 : 1024, 0 };
		bigger.slots = malloc(bigger.cap * sizeof(mvms_oid));
		bigger.used = calloc(bigger.cap, 1);
		if (!bigger.slots || !bigger.used) {
			free(bigger.slots);
			free(bigger.used);
			return mvms_error_set(MVMS_ERROR, "out of memory");
		}
		for (i = 0; i < s->cap; i++)
			if (s->used[i])
				mvms_oidset_add(&bigger, &s->slots[i]);
		free(s->slots);
		free(s->used);
		*s = bigger;
	}
	for (i = oid_slot(id, s->cap); s->used[i]; i = (i + 1) & (s->cap - 1))
		if (memcmp(s->slots[i].id, id->id, MVMS_OID_RAWSZ) == 0)
			return 0;
	s->slots[i] = *id;
	s->used[i] = 1;
	s->count++;
	return 0;
}

int mvms_oidset_has(const mvms_oidset *s, const mvms_oid *id)
{
	size_t i;

	if (!s->cap)
		return 0;
	for (i = oid_slot(id, s->cap); s->used[i]; i = (i + 1) & (s->cap - 1))
		if (memcmp(s->slots[i].id, id->id, MVMS_OID_RAWSZ) == 0)
			return 1;
	return 0;
}

void mvms_oidset_clear(mvms_oidset *s)
{
	if (s->used)
		memset(s->used, 0, s->cap);
	s->count = 0;
}

void mvms_oidset_dispose(mvms_oidset *s)
{
	free(s->slots);
	free(s->used);
	memset(s, 0, sizeof(*s));
}
