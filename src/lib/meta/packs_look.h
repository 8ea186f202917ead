/* SPDX-License-Identifier: MIT */
/*
 * A look-up connection of its own on a local store's database (packs_look.c), for the
 * dedup look-ups of a push's workers.
 */
#ifndef MVMS_PACKS_LOOK_H
#define MVMS_PACKS_LOOK_H

#include "store_int.h"

typedef struct mvms_packs_look mvms_packs_look;

/* Opens a second connection on @st's database; *out is NULL (and 0 is returned) when the
 * store has none of its own to open (a remote handle). */
int mvms_packs__look_open(mvms_packs_look **out, mvms_store *st);
/* missing[i] = 1 when no committed pack row holds chunk ids[i]. One thread at a time. */
int mvms_packs__look_missing(unsigned char *missing, mvms_packs_look *q, const mvms_oid *ids,
			     size_t n);
void mvms_packs__look_free(mvms_packs_look *q);

#endif
