/* SPDX-License-Identifier: MIT */
/*
 * Fine-tune deltas, the store's side: the codec's base reader, the index-time base rule and
 * the parent file a push diffs against. See bases.h. Decoding runs on pool threads, and
 * SQLite connections are never shared between threads, so the base reader has its own
 * connection (opened on first use) behind a mutex; the backend is safe to read from any
 * thread. It reads each base's record alone (no coalescing): a version's pull reads at most
 * one full record more per delta. A base read to decode a delta is not hashed (the delta's
 * own check covers it); one read to make a delta is.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "bases.h"
#include "common.h"

typedef struct mvms_bases {
	mvms_store *st;
	pthread_mutex_t mu;
	mvms_db *db;             /* the reader's own connection, NULL until first used */
	mvms_bases_fetch_fn fetch;
	void *fetch_ctx;
} mvms_bases;

static int bases_get(mvms_bases **out, mvms_store *st)
{
	mvms_bases *b;

	*out = NULL; /* an -O2 build saw the callers' pointer as maybe-uninitialized */
	if (st->bases) {
		*out = st->bases;
		return 0;
	}
	if (!(b = calloc(1, sizeof(*b))))
		return mvms_error_set(MVMS_ERROR, "out of memory");
	b->st = st;
	pthread_mutex_init(&b->mu, NULL);
	st->bases = b;
	*out = b;
	return 0;
}

void mvms_bases__close(mvms_store *st)
{
	mvms_bases *b = st ? st->bases : NULL;

	if (!b)
		return;
	mvms_db_free(b->db);
	pthread_mutex_destroy(&b->mu);
	free(b);
	st->bases = NULL;
}

void mvms_bases__set_fetch(mvms_store *st, mvms_bases_fetch_fn fn, void *ctx)
{
	mvms_bases *b;

	if (bases_get(&b, st) < 0)
		return;
	b->fetch = fn;
	b->fetch_ctx = ctx;
}

/* Where a base is: a pack record, or a range of a source file. */
typedef struct base_loc {
	int found;               /* 1 pack, 2 source, 0 nowhere */
	mvms_oid pack;
	uint64_t offset;
	uint32_t raw_len, stored_len;
	uint8_t codec;
	char *path;              /* source */
} base_loc;

static int locate(base_loc *loc, mvms_bases *b, const mvms_oid *id)
{
	static const char q_pack[] =
		"SELECT p.oid, c.offset, c.raw_len, c.stored_len, c.codec FROM chunks c "
		"JOIN packs p ON p.id = c.pack_id WHERE c.oid = ?";
	static const char q_source[] =
		"SELECT s.path, sc.offset, sc.length FROM source_chunks sc JOIN sources s "
		"ON s.id = sc.source_id WHERE sc.chunk = ? LIMIT 1";
	char path[4096];
	sqlite3_stmt *s;
	int error = 0, rc;

	memset(loc, 0, sizeof(*loc));
	pthread_mutex_lock(&b->mu);
	if (!b->db)
		MVMS_TRY(mvms_store__db_open(&b->db, b->st));
	if (!(s = mvms_db_stmt(b->db, q_pack))) {
		error = MVMS_ERROR;
		goto done;
	}
	mvms_db_bind_oid(s, 1, id);
	MVMS_TRY(rc = mvms_db_step_row(b->db, s, "delta base"));
	if (rc > 0) {
		loc->found = 1;
		error = mvms_db_column_oid(&loc->pack, s, 0);
		loc->offset = (uint64_t)sqlite3_column_int64(s, 1);
		loc->raw_len = (uint32_t)sqlite3_column_int64(s, 2);
		loc->stored_len = (uint32_t)sqlite3_column_int64(s, 3);
		loc->codec = (uint8_t)sqlite3_column_int(s, 4);
		sqlite3_reset(s);
		goto done;
	}
	if (!(s = mvms_db_stmt(b->db, q_source))) {
		error = MVMS_ERROR;
		goto done;
	}
	mvms_db_bind_oid(s, 1, id);
	MVMS_TRY(rc = mvms_db_step_row(b->db, s, "delta base in a source"));
	if (rc > 0) {
		loc->found = 2;
		snprintf(path, sizeof(path), "%s", (const char *)sqlite3_column_text(s, 0));
		loc->offset = (uint64_t)sqlite3_column_int64(s, 1);
		loc->raw_len = (uint32_t)sqlite3_column_int64(s, 2);
		sqlite3_reset(s);
		if (!(loc->path = strdup(path)))
			error = mvms_error_set(MVMS_ERROR, "out of memory");
	}
done:
	pthread_mutex_unlock(&b->mu);
	return error;
}

/* A base from a pack: its record read alone, refused unless it is a full record. */
static int read_pack(mvms_bases *b, mvms_codec *c, const base_loc *loc, const mvms_oid *id,
		     size_t raw_len, void *out)
{
	char key[MVMS_KEY_MAX], hex[MVMS_OID_HEXSZ + 1];
	size_t len = MVMS_PACK_RECORD_HDR + (size_t)loc->stored_len;
	unsigned char *rec = NULL;
	int error = 0;

	mvms_oid_fmt(hex, id);
	if (loc->codec == MVMS_CODEC_DELTA) {
		error = mvms_error_set(MVMS_EMISMATCH, "delta base %s is itself a delta", hex);
		goto done;
	}
	if (loc->raw_len != raw_len) {
		error = mvms_error_set(MVMS_EMISMATCH, "delta base %s has %u bytes, the delta %zu",
				       hex, loc->raw_len, raw_len);
		goto done;
	}
	rec = malloc(len);
	MVMS_CHECK_ALLOC(rec, error);
	mvms_object_key(key, sizeof(key), "packs", &loc->pack);
	MVMS_TRY(mvms_backend_get(b->st->be, key, loc->offset, rec, len));
	/* The record's own codec byte, not only the row's: a delta here would recurse. */
	if (rec[0] == MVMS_CODEC_DELTA) {
		error = mvms_error_set(MVMS_EMISMATCH, "delta base %s is itself a delta", hex);
		goto done;
	}
	/* For a decode, not hashed: the delta is, after it applies these bytes (pack.h). */
	if (mvms_codec_base_for_decode(c))
		MVMS_TRY(mvms_pack_decode_base(c, out, (uint32_t)raw_len, id, rec, len));
	else
		MVMS_TRY(mvms_pack_decode_record(c, out, (uint32_t)raw_len, id, rec, len));
done:
	free(rec);
	return error;
}

static int read_source(const base_loc *loc, const mvms_oid *id, size_t raw_len, void *out)
{
	mvms_oid got;
	size_t done_len = 0;
	int fd, error = 0;

	if (loc->raw_len != raw_len)
		return mvms_error_set(MVMS_EMISMATCH, "delta base: length differs in %s", loc->path);
	if ((fd = open(loc->path, O_RDONLY | O_CLOEXEC)) < 0)
		return mvms_error_set(MVMS_ENOTFOUND, "delta base: %s: %s", loc->path, strerror(errno));
	while (done_len < raw_len) {
		ssize_t n = pread(fd, (char *)out + done_len, raw_len - done_len,
				  (off_t)(loc->offset + done_len));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			error = mvms_error_set(MVMS_ENOTFOUND, "delta base: %s: short read", loc->path);
			goto done;
		}
		done_len += (size_t)n;
	}
	mvms_oid_hash(&got, out, raw_len);
	if (mvms_oid_cmp(&got, id) != 0)
		error = mvms_error_set(MVMS_ENOTFOUND, "delta base: %s changed", loc->path);
done:
	close(fd);
	return error;
}

static int base_read(void *ctx, mvms_codec *c, const mvms_oid *id, size_t raw_len, void *out)
{
	mvms_bases *b = ctx;
	int hash = !mvms_codec_base_for_decode(c);
	base_loc loc;
	char hex[MVMS_OID_HEXSZ + 1];
	int error = 0;

	MVMS_TRY(locate(&loc, b, id));
	if (loc.found == 1) {
		error = read_pack(b, c, &loc, id, raw_len, out);
		/* A cache may hold as a delta a chunk its server holds as a full record (and a
		 * remote push diffs against the server's full records): the server has it. */
		if (error < 0 && b->fetch) {
			mvms_error_clear();
			error = b->fetch(b->fetch_ctx, id, raw_len, out, hash);
		}
		goto done;
	}
	if (loc.found == 2 && read_source(&loc, id, raw_len, out) == 0)
		goto done;
	if (b->fetch) {
		error = b->fetch(b->fetch_ctx, id, raw_len, out, hash);
		goto done;
	}
	mvms_oid_fmt(hex, id);
	error = mvms_error_set(MVMS_ENOTFOUND, "delta base %s is not in the store", hex);
done:
	free(loc.path);
	return error;
}

void mvms_bases__attach(mvms_store *st, mvms_codec *c)
{
	mvms_bases *b;

	if (!st || !st->db || !c || bases_get(&b, st) < 0)
		return;
	mvms_codec_set_base(c, base_read, b);
}

int mvms_bases__check_index(mvms_store *st, const mvms_pack_entry *e, size_t n)
{
	static const char q[] = "SELECT raw_len, codec FROM chunks WHERE oid = ?1 UNION ALL "
				"SELECT length, 0 FROM source_chunks WHERE chunk = ?1 LIMIT 1";
	char hex[MVMS_OID_HEXSZ + 1], bhex[MVMS_OID_HEXSZ + 1];
	sqlite3_stmt *s;
	size_t i;
	int error = 0, rc;

	for (i = 0; i < n; i++) {
		if (e[i].codec != MVMS_CODEC_DELTA)
			continue;
		if (!(s = mvms_db_stmt(st->db, q)))
			return MVMS_ERROR;
		mvms_db_bind_oid(s, 1, &e[i].base);
		MVMS_TRY(rc = mvms_db_step_row(st->db, s, "delta base"));
		if (rc > 0 && (sqlite3_column_int(s, 1) == MVMS_CODEC_DELTA ||
			       (uint32_t)sqlite3_column_int64(s, 0) != e[i].raw_len))
			rc = -1;
		sqlite3_reset(s);
		/* A remote client's cache keeps what a pull received as it came, and a remote
		 * push's deltas are against the server's full records: a base only the server
		 * holds (or holds full where the cache has a delta) is fetched from it when a
		 * read needs it. */
		if (rc <= 0 && st->bases && st->bases->fetch)
			continue;
		if (rc <= 0) {
			mvms_oid_fmt(hex, &e[i].id);
			mvms_oid_fmt(bhex, &e[i].base);
			error = mvms_error_set(MVMS_EINVALID, "chunk %s is a delta against base %s, which "
					       "this store %s", hex, bhex, rc == 0 ? "does not hold" :
					       "holds as a delta or with another length");
			goto done;
		}
	}
done:
	return error;
}

/* ---- the parent file of a push ---- */

void mvms_bases__parent_free(mvms_bases_parent *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->ntensors; i++) {
		free(p->tensors[i].name);
		free(p->tensors[i].shape);
	}
	free(p->tensors);
	free(p->chunks);
	free(p);
}

static int parent_tensors(mvms_bases_parent *p, mvms_db *db, int64_t content)
{
	static const char q[] = "SELECT name, dtype, shape, offset, length FROM tensors "
				"WHERE content_id = ? ORDER BY offset, name";
	sqlite3_stmt *s = mvms_db_stmt(db, q);
	size_t cap = 0;
	int error = 0, rc;

	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, content);
	while ((rc = mvms_db_step_row(db, s, "parent tensors")) > 0) {
		mvms_bases_tensor *t;
		if (!(t = mvms_array_room(p->tensors, &cap, p->ntensors, sizeof(*t), 64))) {
			error = MVMS_ERROR;
			break;
		}
		p->tensors = t;
		t = &p->tensors[p->ntensors];
		memset(t, 0, sizeof(*t));
		p->ntensors++;
		t->name = mvms_db_column_strdup(s, 0);
		snprintf(t->dtype, sizeof(t->dtype), "%s", (const char *)sqlite3_column_text(s, 1));
		t->shape = mvms_db_column_strdup(s, 2);
		t->offset = (uint64_t)sqlite3_column_int64(s, 3);
		t->length = (uint64_t)sqlite3_column_int64(s, 4);
		if (!t->name || !t->shape) {
			error = mvms_error_set(MVMS_ERROR, "out of memory");
			break;
		}
	}
	sqlite3_reset(s);
	return error < 0 ? error : rc;
}

static int parent_chunks(mvms_bases_parent *p, mvms_db *db, int64_t content)
{
	static const char q[] =
		"SELECT c.oid, cc.offset, c.raw_len, c.codec, c.base FROM content_chunks cc "
		"JOIN chunks c ON c.id = cc.chunk_id WHERE cc.content_id = ? ORDER BY cc.seq";
	sqlite3_stmt *s = mvms_db_stmt(db, q);
	size_t cap = 0;
	int error = 0, rc;

	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, content);
	while ((rc = mvms_db_step_row(db, s, "parent chunks")) > 0) {
		mvms_bases_chunk *ch;
		if (!(ch = mvms_array_room(p->chunks, &cap, p->nchunks, sizeof(*ch), 256))) {
			error = MVMS_ERROR;
			break;
		}
		p->chunks = ch;
		ch = &p->chunks[p->nchunks++];
		if ((error = mvms_db_column_oid(&ch->id, s, 0)) < 0)
			break;
		ch->offset = (uint64_t)sqlite3_column_int64(s, 1);
		ch->len = (uint32_t)sqlite3_column_int64(s, 2);
		/* No chains: a chunk stored as a delta lends its own base (same place, length). */
		if (sqlite3_column_int(s, 3) == MVMS_CODEC_DELTA) {
			if ((error = mvms_db_column_oid(&ch->base, s, 4)) < 0)
				break;
		} else {
			ch->base = ch->id;
		}
	}
	sqlite3_reset(s);
	return error < 0 ? error : rc;
}

static int parent_load(mvms_bases_parent **out, mvms_store *st, int64_t version,
		       const char *path, int any)
{
	static const char q[] = "SELECT content_id FROM files WHERE version_id = ? AND path = ?";
	mvms_bases_parent *p = NULL;
	sqlite3_stmt *s;
	int64_t content;
	int error = 0, rc;

	*out = NULL;
	if (!(s = mvms_db_stmt(st->db, q)))
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, version);
	sqlite3_bind_text(s, 2, path, -1, SQLITE_TRANSIENT);
	MVMS_TRY(rc = mvms_db_step_row(st->db, s, "parent file"));
	if (rc == 0)
		goto done;
	content = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	p = calloc(1, sizeof(*p));
	MVMS_CHECK_ALLOC(p, error);
	MVMS_TRY(parent_tensors(p, st->db, content));
	if (p->ntensors == 0 && !any)
		goto done;
	if (p->ntensors)
		MVMS_TRY(parent_chunks(p, st->db, content));
	*out = p;
	p = NULL;
done:
	mvms_bases__parent_free(p);
	return error;
}

int mvms_bases__parent(mvms_bases_parent **out, mvms_store *st, int64_t version,
		       const char *path)
{
	return parent_load(out, st, version, path, 0);
}

int mvms_bases__file(mvms_bases_parent **out, mvms_store *st, int64_t version, const char *path)
{
	return parent_load(out, st, version, path, 1);
}
