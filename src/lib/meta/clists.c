/* SPDX-License-Identifier: MIT */
/*
 * content_lists rows and reading a content's chunk list from a list pack or from its own
 * "files" object (clists.h). It does not write objects: a push writes list packs
 * (transfer/push_lists.c) before the transaction that adds these rows, so a row never names
 * a list pack that is not durable.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "common.h"
#include "clists.h"
#include "hash.h"

int mvms_clists__add(mvms_store *st, const mvms_oid *content, const mvms_oid *pack,
		     uint64_t offset)
{
	sqlite3_stmt *s = mvms_db_stmt(st->db, "INSERT INTO content_lists(oid, pack, offset) "
					       "VALUES (?, ?, ?)");

	if (!s)
		return MVMS_ERROR;
	mvms_db_bind_oid(s, 1, content);
	mvms_db_bind_oid(s, 2, pack);
	sqlite3_bind_int64(s, 3, (int64_t)offset);
	return mvms_db_step_done(st->db, s, "add a chunk list's place");
}

int mvms_clists__locate(mvms_oid *pack, uint64_t *offset, mvms_store *st,
			const mvms_oid *content)
{
	sqlite3_stmt *s = mvms_db_stmt(st->db, "SELECT pack, offset FROM content_lists "
					       "WHERE oid = ?");
	int rc, error = 0;

	if (!s)
		return MVMS_ERROR;
	mvms_db_bind_oid(s, 1, content);
	rc = mvms_db_step_row(st->db, s, "look up a chunk list's place");
	if (rc == 1) {
		error = mvms_db_column_oid(pack, s, 0);
		*offset = (uint64_t)sqlite3_column_int64(s, 1);
	} else {
		error = rc < 0 ? rc : MVMS_ENOTFOUND;
	}
	sqlite3_reset(s);
	return error;
}

/* @len bytes of a "files" object: a chunk list hashing to @content. */
static int check_list(const unsigned char *p, size_t len, const mvms_oid *content,
		      const char *where)
{
	uint64_t n;
	mvms_oid got;

	n = len >= MVMS_FMAP_HDR ? mvms_le64_get(p + 24) : 0;
	if (len < MVMS_FMAP_HDR || memcmp(p, "MVMSFMAP", 8) != 0 || mvms_le32_get(p + 8) != 1 ||
	    (len - MVMS_FMAP_HDR) % MVMS_FMAP_ENTRY || (len - MVMS_FMAP_HDR) / MVMS_FMAP_ENTRY != n)
		return mvms_error_set(MVMS_EMISMATCH, "store: chunk list in %s is malformed", where);
	mvms_oid_hash(&got, p + MVMS_FMAP_HDR, len - MVMS_FMAP_HDR);
	if (mvms_oid_cmp(&got, content) != 0)
		return mvms_error_set(MVMS_EMISMATCH, "store: chunk list in %s does not hash to "
				      "its content id", where);
	return 0;
}

/* The chunk list at @offset of list pack @pack: one ranged read when @count is right,
 * else the header first. */
static int read_packed(unsigned char **out, size_t *out_len, mvms_store *st,
		       const mvms_oid *pack, uint64_t offset, uint64_t count)
{
	char key[MVMS_KEY_MAX];
	unsigned char hdr[MVMS_FMAP_HDR], *p = NULL;
	uint64_t n = count, len;
	int error = 0;

	mvms_object_key(key, sizeof(key), "lists", pack);
	if (n == 0 || n > MVMS_LPAK_ITEM_MAX / MVMS_FMAP_ENTRY) {
		MVMS_TRY(mvms_backend_get(st->be, key, offset, hdr, sizeof(hdr)));
		n = mvms_le64_get(hdr + 24);
		if (memcmp(hdr, "MVMSFMAP", 8) != 0 || n > MVMS_LPAK_ITEM_MAX / MVMS_FMAP_ENTRY) {
			error = mvms_error_set(MVMS_EMISMATCH, "store: no chunk list at offset %"
					       PRIu64 " of %s", offset, key);
			goto done;
		}
	}
	len = MVMS_FMAP_HDR + n * MVMS_FMAP_ENTRY;
	p = malloc(len);
	MVMS_CHECK_ALLOC(p, error);
	MVMS_TRY(mvms_backend_get(st->be, key, offset, p, len));
	if (count && mvms_le64_get(p + 24) != count) {
		/* Not the count the caller expected: read what the header says. */
		free(p);
		p = NULL;
		error = read_packed(out, out_len, st, pack, offset, 0);
		goto done;
	}
	*out = p;
	*out_len = len;
	p = NULL;
done:
	free(p);
	return error;
}

int mvms_clists__read(void **out, size_t *out_len, mvms_store *st, const mvms_oid *content,
		      uint64_t count)
{
	char key[MVMS_KEY_MAX];
	unsigned char *p = NULL;
	size_t len = 0;
	mvms_oid pack;
	uint64_t offset = 0;
	int error = 0, packed;

	*out = NULL;
	*out_len = 0;
	packed = mvms_clists__locate(&pack, &offset, st, content);
	if (packed == 0) {
		mvms_object_key(key, sizeof(key), "lists", &pack);
		MVMS_TRY(read_packed(&p, &len, st, &pack, offset, count));
	} else if (packed == MVMS_ENOTFOUND) {
		mvms_error_clear();
		mvms_object_key(key, sizeof(key), "files", content);
		MVMS_TRY(mvms_backend_get_all((void **)&p, &len, st->be, key,
					      1024u * 1024 * 1024));
	} else {
		MVMS_TRY(packed);
	}
	MVMS_TRY(check_list(p, len, content, key));
	*out = p;
	*out_len = len;
	p = NULL;
done:
	free(p);
	return error;
}

int mvms_clists__pack_kept(mvms_db *db, const mvms_oid *pack, int dry, int64_t cutoff)
{
	static const char strict[] = "SELECT 1 FROM content_lists WHERE pack = ?1";
	static const char q_dry[] =
		"SELECT 1 FROM content_lists l JOIN contents c ON c.oid = l.oid WHERE l.pack = ?1 "
		"AND (c.created_at > ?2 OR EXISTS (SELECT 1 FROM files f WHERE f.content_id = c.id))";
	sqlite3_stmt *s = mvms_db_stmt(db, dry ? q_dry : strict);
	int rc;

	if (!s)
		return MVMS_ERROR;
	mvms_db_bind_oid(s, 1, pack);
	if (dry)
		sqlite3_bind_int64(s, 2, cutoff);
	rc = mvms_db_step_row(db, s, "gc: list pack");
	sqlite3_reset(s);
	return rc;
}

int mvms_clists__each(mvms_db *db, mvms_clists_cb cb, void *payload)
{
	sqlite3_stmt *s = mvms_db_stmt(db, "SELECT oid, pack, offset FROM content_lists "
				       "ORDER BY pack, offset");
	mvms_oid content, pack;
	int error = 0, rc;

	if (!s)
		return MVMS_ERROR;
	while ((rc = mvms_db_step_row(db, s, "chunk lists' places")) > 0) {
		MVMS_TRY(mvms_db_column_oid(&content, s, 0));
		MVMS_TRY(mvms_db_column_oid(&pack, s, 1));
		MVMS_TRY(cb(&content, &pack, (uint64_t)sqlite3_column_int64(s, 2), payload));
	}
	error = rc;
done:
	sqlite3_reset(s);
	return error;
}
