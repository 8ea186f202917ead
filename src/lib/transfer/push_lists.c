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

/* Seals list pack @b (its count) and writes it: c->files[which[from..to-1]] are in it. */
static int flush_pack(push_lists *l, push_ctx *c, mvms_buf *b, const size_t *which,
		      size_t from, size_t to)
{
	char key[MVMS_KEY_MAX];
	mvms_oid id;
	size_t i;
	int error = 0;

	mvms_le32_put((unsigned char *)b->ptr + 12, (uint32_t)(to - from));
	mvms_oid_hash(&id, b->ptr, b->size);
	mvms_object_key(key, sizeof(key), "lists", &id);
	MVMS_TRY(mvms_backend_put(c->st->be, key, b->ptr, b->size));
	for (i = from; i < to; i++)
		l->pack[which[i]] = id;
	l->packs[l->npacks++] = id;
done:
	return error;
}

int mvms_push__lists_write(push_lists *out, push_ctx *c, const size_t *which, size_t n)
{
	unsigned char hdr[MVMS_LPAK_HDR];
	mvms_buf b = MVMS_BUF_INIT;
	size_t i, first = 0;
	int error = 0;

	memset(out, 0, sizeof(*out));
	out->placed = calloc(c->nfiles + 1, 1);
	out->pack = calloc(c->nfiles + 1, sizeof(*out->pack));
	out->off = calloc(c->nfiles + 1, sizeof(*out->off));
	out->packs = calloc(n + 1, sizeof(*out->packs));
	MVMS_CHECK_ALLOC(out->placed, error);
	MVMS_CHECK_ALLOC(out->pack, error);
	MVMS_CHECK_ALLOC(out->off, error);
	MVMS_CHECK_ALLOC(out->packs, error);
	memcpy(hdr, "MVMSLPAK", 8);
	mvms_le32_put(hdr + 8, 1);
	mvms_le32_put(hdr + 12, 0); /* the count, set when sealed */
	for (i = 0; i < n; i++) {
		const push_file *f = &c->files[which[i]];
		if (b.size == 0)
			MVMS_TRY(mvms_buf_put(&b, hdr, sizeof(hdr)));
		out->placed[which[i]] = 1;
		out->off[which[i]] = b.size;
		MVMS_TRY(mvms_push__filemap_encode(&b, f));
		if (b.size >= MVMS_LPAK_MAX) {
			MVMS_TRY(flush_pack(out, c, &b, which, first, i + 1));
			b.size = 0;
			first = i + 1;
		}
	}
	if (b.size)
		MVMS_TRY(flush_pack(out, c, &b, which, first, n));
done:
	mvms_buf_dispose(&b);
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
