/* SPDX-License-Identifier: MIT */
/*
 * A second connection on a local store's database for the dedup look-ups of a push's
 * workers ("does a pack hold this chunk?"). On the store's own connection they had to wait
 * while the push indexed a pack: one transaction that ends in fsyncs (the pack's rows, the
 * lease's renewal, the commit), 10 to 150 ms a pack on this machine, during which every
 * worker stopped. The database is in WAL mode, where a reader sees the last commit and a
 * writer does not block it. A chunk the push indexes itself is never looked up again (the
 * push's claimed set holds it), so not seeing the push's open transaction loses nothing.
 * Look-ups share a read transaction, LOOK_BATCH at a time: one each cost the WAL's read
 * lock and a transaction per chunk (a third of a push's SQLite time). A chunk another
 * writer commits meanwhile is seen by the next batch at the latest (missing it stores it
 * twice, which is allowed; a chunk a gc removes meanwhile is what the commit's check is for,
 * as with any look-up made before the commit). It only reads.
 */
#include <stdlib.h>
#include "common.h"
#include "packs_look.h"
#include "packs.h"

#define LOOK_BATCH 64

struct mvms_packs_look {
	mvms_db *db;
	int began;               /* a read transaction of ours is open */
	unsigned uses;           /* look-ups in it */
};

int mvms_packs__look_open(mvms_packs_look **out, mvms_store *st)
{
	mvms_packs_look *q = NULL;
	int error = 0;

	*out = NULL;
	if (!st->db || !st->path)
		goto done;
	q = calloc(1, sizeof(*q));
	MVMS_CHECK_ALLOC(q, error);
	MVMS_TRY(mvms_store__db_open(&q->db, st));
	*out = q;
	q = NULL;
done:
	mvms_packs__look_free(q);
	return error;
}

int mvms_packs__look_missing(unsigned char *missing, mvms_packs_look *q, const mvms_oid *ids,
			     size_t n)
{
	int error = 0;

	if (!q->began) {
		MVMS_TRY(mvms_db_read_begin(q->db, &q->began));
		q->uses = 0;
	}
	error = mvms_packs__missing_on(missing, q->db, ids, n);
	q->uses += (unsigned)n;
	if (error < 0 || q->uses >= LOOK_BATCH) {
		mvms_db_read_end(q->db, q->began);
		q->began = 0;
	}
done:
	return error;
}

void mvms_packs__look_free(mvms_packs_look *q)
{
	if (!q)
		return;
	if (q->db)
		mvms_db_read_end(q->db, q->began);
	mvms_db_free(q->db);
	free(q);
}
