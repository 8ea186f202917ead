/* SPDX-License-Identifier: MIT */
/*
 * verify: re-reads every pack (trailer, index, every record), re-hashes every chunk,
 * checks that the database's chunk locations match the packs, and that every version's
 * manifest object hashes to its id. It names each corrupt object and the versions it
 * breaks. It repairs nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include "store_int.h"
#include "codec.h"
#include "pack.h"
#include "manifest.h"

#define RANGE_MAX (8u * 1024 * 1024)

typedef struct verify_ctx {
	mvms_store *st;
	mvms_verify_cb cb;
	void *payload;
	mvms_verify_result *res;
	mvms_codec *codec;
	unsigned char *buf, *out;
	size_t buf_cap, out_cap;
} verify_ctx;

/* "model@v3, model@v4" for the versions that use a pack, or only one chunk of it. */
static int broken_versions(mvms_buf *out, verify_ctx *c, int64_t pack_row, const mvms_oid *chunk)
{
	static const char q_pack[] =
		"SELECT DISTINCT m.name, v.number FROM chunks ch "
		"JOIN content_chunks cc ON cc.chunk_id = ch.id JOIN files f ON f.content_id = cc.content_id "
		"JOIN versions v ON v.id = f.version_id JOIN models m ON m.id = v.model_id "
		"WHERE ch.pack_id = ? ORDER BY m.name, v.number";
	static const char q_chunk[] =
		"SELECT DISTINCT m.name, v.number FROM chunks ch "
		"JOIN content_chunks cc ON cc.chunk_id = ch.id JOIN files f ON f.content_id = cc.content_id "
		"JOIN versions v ON v.id = f.version_id JOIN models m ON m.id = v.model_id "
		"WHERE ch.oid = ? ORDER BY m.name, v.number";
	sqlite3_stmt *s = mvms_db_stmt(c->st->db, chunk ? q_chunk : q_pack);
	int n = 0;

	mvms_buf_clear(out);
	mvms_buf_puts(out, "");
	if (!s)
		return MVMS_ERROR;
	if (chunk)
		mvms_db_bind_oid(s, 1, chunk);
	else
		sqlite3_bind_int64(s, 1, pack_row);
	while (sqlite3_step(s) == SQLITE_ROW)
		mvms_buf_printf(out, "%s%s@v%lld", n++ ? ", " : "",
				(const char *)sqlite3_column_text(s, 0),
				(long long)sqlite3_column_int64(s, 1));
	sqlite3_reset(s);
	return 0;
}

static int report(verify_ctx *c, const char *object, const char *message, int64_t pack_row,
		  const mvms_oid *chunk)
{
	mvms_buf versions = MVMS_BUF_INIT;
	mvms_verify_problem p;
	int error = 0;

	c->res->problems++;
	if (pack_row || chunk)
		broken_versions(&versions, c, pack_row, chunk);
	p.object = object;
	p.message = message;
	p.versions = versions.ptr ? versions.ptr : "";
	if (c->cb && c->cb(&p, c->payload) != 0)
		error = mvms_error_set(MVMS_EUSER, "verify: stopped");
	mvms_buf_dispose(&versions);
	return error;
}

static int grow(unsigned char **p, size_t *cap, size_t need)
{
	unsigned char *tmp;

	if (need <= *cap)
		return 0;
	if (!(tmp = realloc(*p, need)))
		return mvms_error_set(MVMS_ERROR, "out of memory");
	*p = tmp;
	*cap = need;
	return 0;
}

/* 1 when the database's rows for this pack agree with its index. */
static int check_rows(verify_ctx *c, int64_t pack_row, const char *key,
		      const mvms_pack_entry *e, size_t n)
{
	static const char q[] =
		"SELECT oid, offset, raw_len, stored_len, codec FROM chunks WHERE pack_id = ?";
	sqlite3_stmt *s = mvms_db_stmt(c->st->db, q);
	char msg[256], hex[MVMS_OID_HEXSZ + 1];
	int error = 0;
	size_t lo, hi, mid;
	mvms_oid id;

	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, pack_row);
	while (sqlite3_step(s) == SQLITE_ROW) {
		uint64_t off = (uint64_t)sqlite3_column_int64(s, 1);
		int found = 0;
		if (mvms_db_column_oid(&id, s, 0) < 0)
			continue;
		/* Entries are in offset order. */
		for (lo = 0, hi = n; lo < hi;) {
			mid = lo + (hi - lo) / 2;
			if (e[mid].offset < off)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < n && e[lo].offset == off && mvms_oid_cmp(&e[lo].id, &id) == 0 &&
		    e[lo].raw_len == (uint32_t)sqlite3_column_int64(s, 2) &&
		    e[lo].stored_len == (uint32_t)sqlite3_column_int64(s, 3) &&
		    e[lo].codec == (uint8_t)sqlite3_column_int(s, 4))
			found = 1;
		if (!found) {
			mvms_oid_fmt(hex, &id);
			snprintf(msg, sizeof(msg), "chunk %s: the database places it at offset %llu "
				 "of the pack, which holds something else", hex, (unsigned long long)off);
			sqlite3_reset(s);
			MVMS_TRY(report(c, key, msg, 0, &id));
			/* Resume: re-run the query would repeat rows; one report per pack is enough. */
			goto done;
		}
	}
done:
	sqlite3_reset(s);
	return error;
}

static int verify_pack(verify_ctx *c, int64_t pack_row, const mvms_oid *pid, mvms_progress_cb progress,
		       uint64_t *done_bytes, uint64_t total)
{
	mvms_pack_entry *e = NULL;
	size_t n = 0, i, j;
	uint64_t size = 0;
	char key[MVMS_KEY_MAX], hex[MVMS_OID_HEXSZ + 1], msg[600];
	int error = 0, rc;

	mvms_object_key(key, sizeof(key), "packs", pid);
	rc = mvms_pack_read_index(&e, &n, &size, c->st->be, key, pid);
	if (rc < 0) {
		snprintf(msg, sizeof(msg), "%s", mvms_error_last());
		error = report(c, key, msg, pack_row, NULL);
		goto done;
	}
	c->res->packs++;
	MVMS_TRY(check_rows(c, pack_row, key, e, n));
	for (i = 0; i < n; i = j) {
		uint64_t start = e[i].offset, end = start + MVMS_PACK_RECORD_HDR + e[i].stored_len;
		for (j = i + 1; j < n && e[j].offset == end && end - start < RANGE_MAX; j++)
			end += MVMS_PACK_RECORD_HDR + e[j].stored_len;
		MVMS_TRY(grow(&c->buf, &c->buf_cap, (size_t)(end - start)));
		if ((rc = c->st->be->get(c->st->be, key, start, c->buf, (size_t)(end - start))) < 0) {
			snprintf(msg, sizeof(msg), "%s", mvms_error_last());
			error = report(c, key, msg, pack_row, NULL);
			goto done;
		}
		for (; i < j; i++) {
			MVMS_TRY(grow(&c->out, &c->out_cap, e[i].raw_len ? e[i].raw_len : 1));
			rc = mvms_pack_decode_record(c->codec, c->out, e[i].raw_len, &e[i].id,
						     c->buf + (e[i].offset - start),
						     MVMS_PACK_RECORD_HDR + (size_t)e[i].stored_len);
			c->res->chunks++;
			c->res->bytes += e[i].raw_len;
			if (rc < 0) {
				mvms_oid_fmt(hex, &e[i].id);
				snprintf(msg, sizeof(msg), "chunk %s at offset %llu: %s", hex,
					 (unsigned long long)e[i].offset, mvms_error_last());
				MVMS_TRY(report(c, key, msg, 0, &e[i].id));
			}
		}
		*done_bytes += end - start;
		if (progress)
			progress(*done_bytes, total, c->payload);
	}
done:
	free(e);
	return error;
}

static int verify_manifests(verify_ctx *c)
{
	static const char q[] =
		"SELECT v.oid, m.name, v.number FROM versions v JOIN models m ON m.id = v.model_id "
		"ORDER BY v.id";
	sqlite3_stmt *s = mvms_db_stmt(c->st->db, q);
	char key[MVMS_KEY_MAX], msg[300], who[200];
	void *data = NULL;
	size_t len = 0;
	int error = 0, rc;
	mvms_oid id, got;
	mvms_manifest *m = NULL;

	if (!s)
		return MVMS_ERROR;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		snprintf(who, sizeof(who), "%s@v%lld", (const char *)sqlite3_column_text(s, 1),
			 (long long)sqlite3_column_int64(s, 2));
		if (mvms_oid_parse(&id, (const char *)sqlite3_column_text(s, 0)) < 0)
			continue;
		mvms_object_key(key, sizeof(key), "manifests", &id);
		c->res->manifests++;
		free(data);
		data = NULL;
		rc = mvms_backend_get_all(&data, &len, c->st->be, key, 256u * 1024 * 1024);
		if (rc == 0) {
			mvms_oid_hash(&got, data, len);
			if (mvms_oid_cmp(&got, &id) != 0)
				rc = mvms_error_set(MVMS_EMISMATCH, "manifest does not hash to its id");
			else if ((rc = mvms_manifest_decode(&m, data, len)) == 0)
				mvms_manifest_free(m);
		}
		if (rc < 0) {
			snprintf(msg, sizeof(msg), "%s", mvms_error_last());
			c->res->problems++;
			if (c->cb) {
				mvms_verify_problem p = { key, msg, who };
				if (c->cb(&p, c->payload) != 0) {
					error = mvms_error_set(MVMS_EUSER, "verify: stopped");
					break;
				}
			}
		}
	}
	sqlite3_reset(s);
	free(data);
	return error;
}

int mvms_store_verify(mvms_verify_result *out, mvms_store *st, mvms_verify_cb cb,
		      mvms_progress_cb progress, void *payload)
{
	verify_ctx c;
	sqlite3_stmt *s;
	int64_t *rows = NULL;
	mvms_oid *pids = NULL;
	size_t n = 0, cap = 0, i;
	uint64_t total = 0, done_bytes = 0;
	int error = 0, rc;

	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	c.st = st;
	c.cb = cb;
	c.payload = payload;
	c.res = out;
	MVMS_TRY(mvms_codec_new(&c.codec, 0));
	/* Read the pack list first: reporting runs other statements. */
	if (!(s = mvms_db_stmt(st->db, "SELECT id, oid, size FROM packs ORDER BY id"))) {
		error = MVMS_ERROR;
		goto done;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			int64_t *r = realloc(rows, cap * sizeof(*r));
			mvms_oid *p = r ? realloc(pids, cap * sizeof(*p)) : NULL;
			if (r)
				rows = r;
			if (p)
				pids = p;
			if (!r || !p) {
				sqlite3_reset(s);
				error = mvms_error_set(MVMS_ERROR, "out of memory");
				goto done;
			}
		}
		rows[n] = sqlite3_column_int64(s, 0);
		if (mvms_db_column_oid(&pids[n], s, 1) < 0)
			continue;
		total += (uint64_t)sqlite3_column_int64(s, 2);
		n++;
	}
	sqlite3_reset(s);
	for (i = 0; i < n; i++)
		MVMS_TRY(verify_pack(&c, rows[i], &pids[i], progress, &done_bytes, total));
	MVMS_TRY(verify_manifests(&c));
	if (out->problems)
		error = mvms_error_set(MVMS_EMISMATCH, "verify: %llu problem%s found",
				       (unsigned long long)out->problems, out->problems == 1 ? "" : "s");
done:
	mvms_codec_free(c.codec);
	free(c.buf);
	free(c.out);
	free(rows);
	free(pids);
	return error;
}
