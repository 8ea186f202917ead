/* SPDX-License-Identifier: MIT */
/*
 * gc's pack rewrite. A pack is removed whole when none of its chunks is used; a pack some of
 * whose chunks are still used (a deleted version's new file sat next to a file a later
 * version kept) would keep the unused ones forever, and with them bytes the user deleted.
 * Such a pack is copied record by record, used chunks only, into a new pack (each record is
 * read back and checked against its id before it is copied), the chunk rows move to the new
 * pack and the unused ones are dropped in one transaction; the old pack, now without chunk
 * rows, is removed by the sweep that follows, like any unused pack. A commit that started to
 * use an unused chunk meanwhile makes the transaction roll back (the new pack is then an
 * orphan for a later gc), and one that found the chunk before it was dropped fails its own
 * check (contents.c) and starts over, as with a pack gc removes whole.
 */
#include <stdio.h>
#include <stdlib.h>
#include "repack.h"
#include "gcrows.h"
#include "pack.h"
#include "codec.h"
#include "bases.h"

/* Copies the used chunks @ch of pack @pid into a new pack; *w_out holds it, unfinished. */
static int copy_used(mvms_pack_writer **w_out, mvms_store *st, const mvms_oid *pid,
		     const mvms_gcrows_chunk *ch, size_t n)
{
	mvms_pack_writer *w = NULL;
	mvms_codec *codec = NULL;
	unsigned char *rec = NULL, *raw = NULL;
	char key[MVMS_KEY_MAX];
	size_t i, len;
	int error = 0;

	*w_out = NULL;
	mvms_object_key(key, sizeof(key), "packs", pid);
	MVMS_TRY(mvms_codec_new(&codec, 0));
	mvms_bases__attach(st, codec);
	MVMS_TRY(mvms_pack_writer_new(&w, st->be));
	for (i = 0; i < n; i++) {
		len = MVMS_PACK_RECORD_HDR + (size_t)ch[i].stored_len;
		free(rec);
		free(raw);
		rec = malloc(len);
		raw = malloc(ch[i].raw_len ? ch[i].raw_len : 1);
		MVMS_CHECK_ALLOC(rec && raw ? rec : NULL, error);
		MVMS_TRY(mvms_backend_get(st->be, key, ch[i].offset, rec, len));
		if (!mvms_pack_record_is(rec, &ch[i].id, ch[i].codec, ch[i].raw_len, ch[i].stored_len)) {
			error = mvms_error_set(MVMS_EMISMATCH, "gc: %s: the record at %llu is not the "
					       "one the index names (run 'mvms-store verify')", key,
					       (unsigned long long)ch[i].offset);
			goto done;
		}
		MVMS_TRY(mvms_pack_decode_record(codec, raw, ch[i].raw_len, &ch[i].id, rec, len));
		MVMS_TRY(mvms_pack_writer_add_records(w, rec, len));
	}
	*w_out = w;
	w = NULL;
done:
	free(rec);
	free(raw);
	mvms_codec_free(codec);
	mvms_pack_writer_free(w);
	return error;
}

/* Rewrites pack @pid: 1 when it was, 0 when a commit got in the way (left for later). */
static int rewrite(mvms_store *st, const mvms_oid *pid, mvms_gcrows_chunk *ch, size_t n,
		   mvms_gc_result *res)
{
	mvms_pack_writer *w = NULL;
	const mvms_pack_entry *entries;
	size_t count, i, j;
	uint64_t size, dropped = 0;
	mvms_oid nid;
	int error = 0, began = 0;

	MVMS_TRY(copy_used(&w, st, pid, ch, n));
	MVMS_TRY(mvms_pack_writer_finish(&nid, &size, &entries, &count, w));
	/* The new offsets, by id (the writer keeps the order records were added in). */
	for (i = 0; i < n; i++)
		for (j = 0; j < count; j++)
			if (mvms_oid_cmp(&entries[j].id, &ch[i].id) == 0) {
				ch[i].offset = entries[j].offset;
				ch[i].stored_len = entries[j].stored_len;
				ch[i].codec = entries[j].codec;
				break;
			}
	MVMS_TRY(mvms_db_begin(st->db));
	began = 1;
	error = mvms_gcrows_move_chunks(&dropped, st->db, pid, &nid, size, ch, n);
	if (error == MVMS_ECONFLICT || error == MVMS_EEXISTS) {
		/* Used meanwhile, or the very same pack exists: nothing to gain now. */
		mvms_error_clear();
		error = 0;
		goto done;
	}
	MVMS_TRY(error);
	MVMS_TRY(mvms_db_commit(st->db));
	began = 0;
	res->rewritten_packs++;
	res->rewritten_chunks += dropped;
	error = 1;
done:
	if (began)
		mvms_db_rollback(st->db);
	mvms_pack_writer_free(w);
	return error;
}

int mvms_gc__repack(mvms_store *st, const mvms_gc_options *o, int64_t cutoff,
		    mvms_gc_result *res)
{
	mvms_oid *packs = NULL;
	mvms_gcrows_chunk *ch = NULL;
	size_t np = 0, n = 0, dead, i;
	mvms_gc_item it;
	char key[MVMS_KEY_MAX];
	int error = 0, began = 0, rc;

	MVMS_TRY(mvms_db_read_begin(st->db, &began));
	error = mvms_gcrows_mixed_packs(&packs, &np, st->db, o->dry_run, cutoff);
	mvms_db_read_end(st->db, began);
	began = 0;
	MVMS_TRY(error);
	for (i = 0; i < np; i++) {
		free(ch);
		ch = NULL;
		MVMS_TRY(mvms_gcrows_pack_chunks(&ch, &n, &dead, st->db, &packs[i], o->dry_run,
						 cutoff));
		if (n == 0 || dead == 0)
			continue;
		if (o->dry_run) {
			res->rewritten_packs++;
			res->rewritten_chunks += dead;
		} else {
			MVMS_TRY(rc = rewrite(st, &packs[i], ch, n, res));
			if (rc == 0)
				continue;
		}
		if (o->cb) {
			mvms_object_key(key, sizeof(key), "packs", &packs[i]);
			memset(&it, 0, sizeof(it));
			it.key = key;
			it.reason = "pack rewritten without its unused chunks";
			if (o->cb(&it, o->payload)) {
				error = mvms_error_set(MVMS_EUSER, "gc: stopped");
				goto done;
			}
		}
	}
done:
	free(ch);
	free(packs);
	return error;
}
