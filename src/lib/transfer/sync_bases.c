/* SPDX-License-Identifier: MIT */
/*
 * The protocol's store side for a remote push's fine-tune deltas: a stored file as a push
 * diffs against it (`mvms_sync_file_bases`): its tensors and, per chunk, the full record a
 * delta against that chunk must name (the chunk itself, or its base when the store holds it
 * as a delta: no chains). The pairing rules are push_delta.c's; the SQL is meta/bases.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "store_int.h"
#include "transport.h"
#include "mvms/sync.h"
#include "bases.h"

void mvms_sync_bases_free(mvms_sync_bases *b)
{
	if (!b)
		return;
	mvms_tensor_list_free(b->tensors, b->ntensors);
	free(b->chunks);
	free(b);
}

static int copy_parent(mvms_sync_bases *b, const mvms_bases_parent *p)
{
	size_t i;
	int error = 0;

	b->tensors = calloc(p->ntensors + 1, sizeof(*b->tensors));
	b->chunks = calloc(p->nchunks + 1, sizeof(*b->chunks));
	MVMS_CHECK_ALLOC(b->tensors, error);
	MVMS_CHECK_ALLOC(b->chunks, error);
	for (i = 0; i < p->ntensors; i++) {
		mvms_tensor_summary *t = &b->tensors[b->ntensors++];
		t->name = strdup(p->tensors[i].name);
		t->dtype = strdup(p->tensors[i].dtype);
		t->shape = strdup(p->tensors[i].shape);
		MVMS_CHECK_ALLOC(t->name, error);
		MVMS_CHECK_ALLOC(t->dtype, error);
		MVMS_CHECK_ALLOC(t->shape, error);
		t->offset = p->tensors[i].offset;
		t->length = p->tensors[i].length;
	}
	for (i = 0; i < p->nchunks; i++) {
		mvms_sync_base_chunk *c = &b->chunks[i];
		c->id = p->chunks[i].id;
		c->base = p->chunks[i].base;
		c->offset = p->chunks[i].offset;
		c->length = p->chunks[i].len;
	}
	b->nchunks = p->nchunks;
done:
	return error;
}

int mvms_sync_file_bases(mvms_sync_bases **out, mvms_store *st, const char *spec,
			 const char *path)
{
	mvms_bases_parent *p = NULL;
	mvms_sync_bases *b = NULL;
	int64_t row = 0;
	int error = 0, began = 0;

	MVMS_LOCAL_ONLY(st, "sync_file_bases (the server side of a remote push)");
	*out = NULL;
	MVMS_TRY(mvms_db_read_begin(st->db, &began));
	MVMS_TRY(mvms_refs__resolve_row(&row, NULL, st, spec));
	MVMS_TRY(mvms_bases__file(&p, st, row, path));
	if (!p) {
		error = mvms_error_set(MVMS_ENOTFOUND, "%s has no file '%s'", spec, path);
		goto done;
	}
	b = calloc(1, sizeof(*b));
	MVMS_CHECK_ALLOC(b, error);
	MVMS_TRY(copy_parent(b, p));
	*out = b;
	b = NULL;
done:
	mvms_db_read_end(st->db, began);
	mvms_bases__parent_free(p);
	mvms_sync_bases_free(b);
	return error;
}
