/* SPDX-License-Identifier: MIT */
/*
 * verify: checks what versions need. Every indexed pack is re-read (trailer, index, every
 * record) and every chunk re-hashed, and the database's chunk locations are checked against
 * the packs; every chunk list of a file some version has, and every version's manifest,
 * must exist and hash to its id (and agree with the database). --quick checks existence and
 * sizes only. It names each damaged object and the versions it breaks, lists orphans
 * (unreferenced objects gc can reclaim) apart, and repairs nothing. An access error of the
 * backend (denied, timed out) stops it: that is not damage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "store_int.h"
#include "codec.h"
#include "pack.h"
#include "manifest.h"
#include "mvms/gc.h"
#include "mvms/sync.h"
#include "inventory.h"
#include "reach.h"
#include "transport.h"
#include "bases.h"
#include "clists.h"

#define RANGE_MAX (8u * 1024 * 1024)

typedef struct verify_ctx {
	mvms_store *st;
	const mvms_verify_options *o;
	mvms_verify_cb cb;
	void *payload;
	mvms_verify_result *res;
	mvms_codec *codec;
	unsigned char *buf, *out;
	size_t buf_cap, out_cap;
} verify_ctx;

/* An access error: the backend would not answer, which says nothing about the bytes. */
static int fatal(int error)
{
	return error == MVMS_EAUTH || error == MVMS_ETIMEOUT;
}

static int report(verify_ctx *c, const char *object, const char *message, int64_t pack_row,
		  const mvms_oid *chunk)
{
	mvms_buf versions = MVMS_BUF_INIT;
	mvms_verify_problem p;
	int error = 0;

	c->res->problems++;
	if (pack_row)
		MVMS_TRY(mvms_reach_pack_users(&versions, c->st->db, pack_row));
	else if (chunk)
		MVMS_TRY(mvms_reach_chunk_users(&versions, c->st->db, chunk));
	p.object = object;
	p.message = message;
	p.versions = versions.ptr ? versions.ptr : "";
	if (c->cb && c->cb(&p, c->payload) != 0)
		error = mvms_error_set(MVMS_EUSER, "verify: stopped");
done:
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

/* The pack's index, and the first chunk row that disagrees with it. */
typedef struct rows_check {
	const mvms_pack_entry *e;
	size_t n;
	mvms_inventory_chunk bad;
} rows_check;

/* 0 when the index holds the chunk where the database places it; 1 (stop) when not. */
static int on_chunk_row(const mvms_inventory_chunk *ch, void *payload)
{
	rows_check *r = payload;
	const mvms_pack_entry *e = r->e;
	size_t lo, hi, mid;

	/* Entries are in offset order. */
	for (lo = 0, hi = r->n; lo < hi;) {
		mid = lo + (hi - lo) / 2;
		if (e[mid].offset < ch->offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < r->n && e[lo].offset == ch->offset && mvms_oid_cmp(&e[lo].id, &ch->id) == 0 &&
	    e[lo].raw_len == ch->raw_len && e[lo].stored_len == ch->stored_len &&
	    e[lo].codec == ch->codec)
		return 0;
	r->bad = *ch;
	return 1;
}

/* Checks that the database's rows for this pack agree with its index; one report per pack
 * is enough. */
static int check_rows(verify_ctx *c, int64_t pack_row, const char *key,
		      const mvms_pack_entry *e, size_t n)
{
	char msg[256], hex[MVMS_OID_HEXSZ + 1];
	rows_check r;
	int rc;

	r.e = e;
	r.n = n;
	if ((rc = mvms_inventory_pack_chunks(c->st->db, pack_row, on_chunk_row, &r)) <= 0)
		return rc;
	mvms_oid_fmt(hex, &r.bad.id);
	snprintf(msg, sizeof(msg), "chunk %s: the database places it at offset %llu "
		 "of the pack, which holds something else", hex, (unsigned long long)r.bad.offset);
	return report(c, key, msg, 0, &r.bad.id);
}

/* verify --quick: the pack is there, with the size the database records. */
static int quick_pack(verify_ctx *c, int64_t pack_row, const char *key, uint64_t *done_bytes,
		      uint64_t total, mvms_progress_cb progress)
{
	uint64_t size = 0, want = 0;
	char msg[600];
	int error = 0, rc;

	MVMS_TRY(mvms_inventory_pack_size(&want, c->st->db, pack_row));
	rc = mvms_backend_stat(&size, c->st->be, key);
	if (fatal(rc)) {
		error = rc;
		goto done;
	}
	c->res->packs++;
	*done_bytes += want;
	if (progress)
		progress(*done_bytes, total, c->payload);
	if (rc < 0) {
		snprintf(msg, sizeof(msg), "%s", rc == MVMS_ENOTFOUND ? "missing" : mvms_error_last());
		error = report(c, key, msg, pack_row, NULL);
	} else if (size != want) {
		snprintf(msg, sizeof(msg), "%llu bytes, but the database says %llu",
			 (unsigned long long)size, (unsigned long long)want);
		error = report(c, key, msg, pack_row, NULL);
	}
done:
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
	if (c->o->quick)
		return quick_pack(c, pack_row, key, done_bytes, total, progress);
	rc = mvms_pack_read_index(&e, &n, &size, c->st->be, key, pid);
	if (rc < 0 && fatal(rc)) {
		error = rc;
		goto done;
	}
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
		if ((rc = mvms_backend_get(c->st->be, key, start, c->buf, (size_t)(end - start))) < 0) {
			if (fatal(rc)) {
				error = rc;
				goto done;
			}
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

/* Reports a problem of a chunk list or manifest: @who names the versions it breaks. */
static int report_who(verify_ctx *c, const char *key, const char *message, const char *who)
{
	mvms_verify_problem p = { key, message, who };

	c->res->problems++;
	if (c->cb && c->cb(&p, c->payload) != 0)
		return mvms_error_set(MVMS_EUSER, "verify: stopped");
	return 0;
}

/* One chunk list: there, hashing to the file id, agreeing with the database (full), or
 * there with the size its chunk count gives (quick). 1 when it is damaged. */
static int check_chunk_list(verify_ctx *c, int64_t row, const mvms_oid *id, uint64_t size,
			    uint64_t nchunks, char *msg, size_t msgsz)
{
	char key[MVMS_KEY_MAX];
	void *data = NULL;
	size_t len = 0, n = 0;
	uint64_t got_size = 0, want = 32 + 40 * nchunks;
	mvms_oid *list = NULL, pack;
	uint64_t off = 0;
	int rc, bad = 0, same = 1, packed;

	/* Level 14: in a list pack, at its offset; else its own object. */
	if ((packed = mvms_clists__locate(&pack, &off, c->st, id)) == MVMS_ENOTFOUND)
		mvms_error_clear();
	else if (packed < 0)
		return packed;
	mvms_object_key(key, sizeof(key), packed == 0 ? "lists" : "files", packed == 0 ? &pack : id);
	if (c->o->quick && packed == 0) {
		rc = mvms_backend_stat(&got_size, c->st->be, key);
		if (rc == 0 && got_size < off + want)
			snprintf(msg, msgsz, "%llu bytes, too short for a chunk list of %llu chunks "
				 "at offset %llu", (unsigned long long)got_size,
				 (unsigned long long)nchunks, (unsigned long long)off);
	} else if (c->o->quick) {
		rc = mvms_backend_stat(&got_size, c->st->be, key);
		if (rc == 0 && got_size != want)
			snprintf(msg, msgsz, "%llu bytes, but its %llu chunks make %llu",
				 (unsigned long long)got_size, (unsigned long long)nchunks,
				 (unsigned long long)want);
	} else {
		rc = packed == 0 ? mvms_clists__read(&data, &len, c->st, id, nchunks)
				 : mvms_backend_get_all(&data, &len, c->st->be, key, (size_t)want);
		if (rc == 0)
			rc = mvms_sync_parse_filemap(&list, &n, &got_size, data, len, id);
		if (rc == 0 && got_size == size && n == nchunks &&
		    (same = mvms_inventory_same_chunks(c->st->db, row, list, n)) < 0) {
			bad = same; /* the database failed: not the chunk list's fault */
			goto done;
		}
		if (rc == 0 && (got_size != size || n != nchunks || !same))
			snprintf(msg, msgsz, "disagrees with the database (%zu chunks, %llu bytes; the "
				 "database says %llu, %llu)", n, (unsigned long long)got_size,
				 (unsigned long long)nchunks, (unsigned long long)size);
	}
	if (fatal(rc)) {
		bad = rc;
		goto done;
	}
	if (rc < 0)
		snprintf(msg, msgsz, "%s", rc == MVMS_ENOTFOUND ? "missing" : mvms_error_last());
	bad = rc < 0 || *msg;
done:
	free(data);
	free(list);
	return bad;
}

/* Every chunk list of a content some version's file has. */
static int verify_chunk_lists(verify_ctx *c)
{
	mvms_buf who = MVMS_BUF_INIT;
	char key[MVMS_KEY_MAX], where[MVMS_KEY_MAX + 24], msg[600];
	int64_t last = 0, rows[256];
	mvms_oid ids[256];
	uint64_t sizes[256], counts[256], off;
	mvms_oid pack;
	size_t n, nread, i;
	int error = 0, bad;

	/* In pages: reporting runs other statements. */
	do {
		MVMS_TRY(mvms_inventory_contents(rows, ids, sizes, counts, 256, &n, &nread, &last,
						 c->st->db));
		for (i = 0; i < n; i++) {
			msg[0] = '\0';
			c->res->chunk_lists++;
			if ((bad = check_chunk_list(c, rows[i], &ids[i], sizes[i], counts[i], msg,
						    sizeof(msg))) < 0) {
				error = bad;
				goto done;
			}
			if (!bad)
				continue;
			mvms_object_key(key, sizeof(key), "files", &ids[i]);
			if (mvms_clists__locate(&pack, &off, c->st, &ids[i]) == 0) {
				/* Named by where it is: its list pack, at its offset. */
				char lkey[MVMS_KEY_MAX];
				mvms_object_key(lkey, sizeof(lkey), "lists", &pack);
				snprintf(where, sizeof(where), "%s@%llu", lkey, (unsigned long long)off);
			} else {
				snprintf(where, sizeof(where), "%s", key);
			}
			mvms_error_clear();
			MVMS_TRY(mvms_reach_content_users(&who, c->st->db, rows[i]));
			MVMS_TRY(report_who(c, where, msg, who.ptr ? who.ptr : ""));
		}
	} while (nread == 256);
done:
	mvms_buf_dispose(&who);
	return error;
}

static int verify_manifests(verify_ctx *c)
{
	char key[MVMS_KEY_MAX], msg[300], who[200];
	void *data = NULL;
	size_t len = 0;
	int64_t last = 0;
	uint64_t size;
	int error = 0, rc;
	mvms_oid id, got;
	mvms_manifest *m = NULL;

	for (;;) {
		if ((rc = mvms_inventory_next_manifest(&id, who, sizeof(who), &last, c->st->db)) <= 0) {
			error = rc;
			break;
		}
		mvms_object_key(key, sizeof(key), "manifests", &id);
		c->res->manifests++;
		free(data);
		data = NULL;
		if (c->o->quick) {
			rc = mvms_backend_stat(&size, c->st->be, key);
		} else {
			rc = mvms_backend_get_all(&data, &len, c->st->be, key, 256u * 1024 * 1024);
			if (rc == 0) {
				mvms_oid_hash(&got, data, len);
				if (mvms_oid_cmp(&got, &id) != 0)
					rc = mvms_error_set(MVMS_EMISMATCH, "manifest does not hash to its id");
				else if ((rc = mvms_manifest_decode(&m, data, len)) == 0)
					mvms_manifest_free(m);
			}
		}
		if (fatal(rc)) {
			error = rc;
			break;
		}
		if (rc < 0) {
			snprintf(msg, sizeof(msg), "%s", rc == MVMS_ENOTFOUND ? "missing" : mvms_error_last());
			if ((error = report_who(c, key, msg, who)) < 0)
				break;
		}
	}
	free(data);
	return error;
}

/* Orphans: what gc --grace 0 would remove now (running pushes' objects are not orphans). */
static int on_orphan(const mvms_gc_item *it, void *payload)
{
	verify_ctx *c = payload;
	mvms_verify_problem p;
	char msg[200];

	/* Index rows of a missing pack are damage (a push could reuse their chunks), reported
	 * with the packs. */
	if (strcmp(it->reason, "index rows of a missing pack") == 0)
		return 0;
	c->res->orphans++;
	c->res->orphan_bytes += it->size;
	if (!c->o->orphan)
		return 0;
	snprintf(msg, sizeof(msg), "%s (%llu bytes, %lld s old)", it->reason,
		 (unsigned long long)it->size, (long long)it->age);
	p.object = it->key;
	p.message = msg;
	p.versions = "";
	return c->o->orphan(&p, c->payload);
}

static int find_orphans(verify_ctx *c)
{
	mvms_gc_options o;
	mvms_gc_result r;
	int error;

	memset(&o, 0, sizeof(o));
	o.dry_run = 1;
	o.cb = on_orphan;
	o.payload = c;
	error = mvms_store_gc_ex(&r, c->st, &o);
	if (error == MVMS_ENOTSUPPORTED) {
		/* A backend that cannot list with times: no orphan report, nothing wrong. */
		mvms_error_clear();
		error = 0;
	}
	return error;
}

int mvms_store_verify(mvms_verify_result *out, mvms_store *st, mvms_verify_cb cb,
		      mvms_progress_cb progress, void *payload)
{
	mvms_verify_options o;

	memset(&o, 0, sizeof(o));
	o.cb = cb;
	o.progress = progress;
	o.payload = payload;
	return mvms_store_verify_ex(out, st, &o);
}

int mvms_store_verify_ex(mvms_verify_result *out, mvms_store *st, const mvms_verify_options *opts)
{
	MVMS_TRANSPORT_CALL(st, verify, (out, st, opts));
	verify_ctx c;
	int64_t *rows = NULL;
	mvms_oid *pids = NULL;
	size_t n = 0, i;
	uint64_t total = 0, done_bytes = 0;
	int error = 0;

	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	c.st = st;
	c.o = opts;
	c.cb = opts->cb;
	c.payload = opts->payload;
	c.res = out;
	MVMS_TRY(mvms_codec_new(&c.codec, 0));
	mvms_bases__attach(st, c.codec); /* a delta is checked through its base */
	/* Read the pack list first: reporting runs other statements. */
	MVMS_TRY(mvms_inventory_packs(&rows, &pids, &n, &total, st->db));
	for (i = 0; i < n; i++)
		MVMS_TRY(verify_pack(&c, rows[i], &pids[i], opts->progress, &done_bytes, total));
	MVMS_TRY(verify_chunk_lists(&c));
	MVMS_TRY(verify_manifests(&c));
	MVMS_TRY(find_orphans(&c));
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
