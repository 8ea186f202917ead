/* SPDX-License-Identifier: MIT */
/*
 * A push's new chunk lists in list packs (push_lists.h): each pack is encoded in memory (at
 * most MVMS_LPAK_MAX bytes, then a new one starts), named by its hash and written with one
 * backend put (tmp, fsync, rename, directory fsync), all before the commit's transaction
 * adds the content_lists rows that name it (meta/clists.c). It does not decide which
 * contents are new (push_commit.c) nor read list packs (meta/clists.c).
 */
#include <stdlib.h>
#include <string.h>
#include "push_lists.h"
#include "clists.h"

int mvms_push__list_packable(const push_file *f)
{
	return f->nchunks <= (MVMS_LPAK_ITEM_MAX - MVMS_FMAP_HDR) / MVMS_FMAP_ENTRY;
}

/* Seals list pack @b (its count, @count) and writes it; its id in *@id. */
static int flush_pack(mvms_oid *id, mvms_store *st, mvms_buf *b, size_t count)
{
	char key[MVMS_KEY_MAX];

	mvms_le32_put((unsigned char *)b->ptr + 12, (uint32_t)count);
	mvms_oid_hash(id, b->ptr, b->size);
	mvms_object_key(key, sizeof(key), "lists", id);
	return mvms_backend_put(st->be, key, b->ptr, b->size);
}

/* The list pack under way: items since the last flush get its id when it is written. */
typedef struct lpak {
	mvms_store *st;
	mvms_buf b;
	size_t first, n;        /* items [first, n) are in b */
	mvms_oid *pack;         /* per item */
	uint64_t *off;
	mvms_oid *packs;        /* written, each once */
	size_t npacks;
} lpak;

static int lpak_flush(lpak *w)
{
	mvms_oid id;
	size_t i;
	int error = 0;

	if (w->b.size == 0)
		return 0;
	MVMS_TRY(flush_pack(&id, w->st, &w->b, w->n - w->first));
	for (i = w->first; i < w->n; i++)
		w->pack[i] = id;
	w->packs[w->npacks++] = id;
	w->first = w->n;
	w->b.size = 0;
done:
	return error;
}

/* Starts item w->n (its offset) and returns the buffer its chunk list goes into. */
static int lpak_begin(lpak *w)
{
	unsigned char hdr[MVMS_LPAK_HDR];
	int error = 0;

	if (w->b.size == 0) {
		memcpy(hdr, "MVMSLPAK", 8);
		mvms_le32_put(hdr + 8, 1);
		mvms_le32_put(hdr + 12, 0); /* the count, set when sealed */
		MVMS_TRY(mvms_buf_put(&w->b, hdr, sizeof(hdr)));
	}
	w->off[w->n] = w->b.size;
done:
	return error;
}

/* Ends item w->n: a full list pack is written. */
static int lpak_end(lpak *w)
{
	w->n++;
	return w->b.size >= MVMS_LPAK_MAX ? lpak_flush(w) : 0;
}

static int lpak_init(lpak *w, mvms_store *st, size_t n)
{
	int error = 0;

	memset(w, 0, sizeof(*w));
	w->st = st;
	w->pack = calloc(n + 1, sizeof(*w->pack));
	w->off = calloc(n + 1, sizeof(*w->off));
	w->packs = calloc(n + 1, sizeof(*w->packs));
	MVMS_CHECK_ALLOC(w->pack, error);
	MVMS_CHECK_ALLOC(w->off, error);
	MVMS_CHECK_ALLOC(w->packs, error);
done:
	return error;
}

static void lpak_dispose(lpak *w)
{
	mvms_buf_dispose(&w->b);
	free(w->pack);
	free(w->off);
	free(w->packs);
}

int mvms_push__lists_write(push_lists *out, push_ctx *c, const size_t *which, size_t n)
{
	lpak w;
	size_t i;
	int error = 0;

	memset(out, 0, sizeof(*out));
	MVMS_TRY(lpak_init(&w, c->st, n));
	out->placed = calloc(c->nfiles + 1, 1);
	out->pack = calloc(c->nfiles + 1, sizeof(*out->pack));
	out->off = calloc(c->nfiles + 1, sizeof(*out->off));
	MVMS_CHECK_ALLOC(out->placed, error);
	MVMS_CHECK_ALLOC(out->pack, error);
	MVMS_CHECK_ALLOC(out->off, error);
	for (i = 0; i < n; i++) {
		MVMS_TRY(lpak_begin(&w));
		MVMS_TRY(mvms_push__filemap_encode(&w.b, &c->files[which[i]]));
		MVMS_TRY(lpak_end(&w));
	}
	MVMS_TRY(lpak_flush(&w));
	for (i = 0; i < n; i++) {
		out->placed[which[i]] = 1;
		out->pack[which[i]] = w.pack[i];
		out->off[which[i]] = w.off[i];
	}
	out->packs = w.packs;
	out->npacks = w.npacks;
	w.packs = NULL;
done:
	lpak_dispose(&w);
	return error;
}

int mvms_lists__put(mvms_oid *pack, uint64_t *off, mvms_oid **packs, size_t *npacks,
		    mvms_store *st, const void *const *lists, const size_t *lens, size_t n)
{
	lpak w;
	size_t i;
	int error = 0;

	*packs = NULL;
	*npacks = 0;
	MVMS_TRY(lpak_init(&w, st, n));
	for (i = 0; i < n; i++) {
		MVMS_TRY(lpak_begin(&w));
		MVMS_TRY(mvms_buf_put(&w.b, lists[i], lens[i]));
		MVMS_TRY(lpak_end(&w));
	}
	MVMS_TRY(lpak_flush(&w));
	memcpy(pack, w.pack, n * sizeof(*pack));
	memcpy(off, w.off, n * sizeof(*off));
	*packs = w.packs;
	*npacks = w.npacks;
	w.packs = NULL;
done:
	lpak_dispose(&w);
	return error;
}

int mvms_push__lists_check(push_ctx *c, const push_lists *l)
{
	char key[MVMS_KEY_MAX];
	uint64_t size;
	size_t i;
	int error = 0;

	for (i = 0; i < l->npacks; i++) {
		mvms_object_key(key, sizeof(key), "lists", &l->packs[i]);
		error = mvms_backend_stat(&size, c->st->be, key);
		if (error == MVMS_ENOTFOUND)
			error = push_gone(c, mvms_error_set(MVMS_ECONFLICT, "push: a gc removed %s "
							   "(chunk lists) while this push ran; "
							   "nothing was committed: push again", key));
		MVMS_TRY(error);
	}
done:
	return error;
}

void mvms_push__lists_dispose(push_lists *l)
{
	if (!l)
		return;
	free(l->placed);
	free(l->pack);
	free(l->off);
	free(l->packs);
	memset(l, 0, sizeof(*l));
}
