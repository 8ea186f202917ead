/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for a file moving as its stored chunk records (the remote pull's records
 * stream): the pack writer taking a run of records whole (same pack as record by record; a
 * cut or bad record adds nothing), the receiver (pieces of any size give back the file and
 * fill the cache; corrupt, misordered, short, long and oversized records fail with a message
 * and let go cleanly), and the server's records reader over a local store (runs read or
 * handed out as descriptors give the same stream, which the receiver turns back into the file).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "tap.h"
#include "testfs.h"
#include "testdata.h"
#include "store_int.h"
#include "common.h"
#include "hash.h"
#include "codec.h"
#include "pack.h"
#include "mvms/backend.h"
#include "mvms/sync.h"

static char dir[] = "/tmp/mvms-test-recv-XXXXXX";

/* ---- test data ---- */

/* A file cut into chunks, as the chunk list, as the raw bytes and as its records stream. */
typedef struct corpus {
	size_t n;
	mvms_oid *ids;
	uint32_t *raw_len, *stored_len;
	uint8_t *codec;
	size_t *rec_off;          /* where each record starts in recs */
	unsigned char *file;
	size_t file_len;
	unsigned char *recs;
	size_t recs_len;
	unsigned char *fm;        /* the chunk list object */
	size_t fm_len;
	mvms_oid file_id;
	size_t nraw, nzstd;
} corpus;

#define NCH 160
#define DUP_FROM 20  /* chunk DUP_AT repeats chunk DUP_FROM (a file may hold a chunk twice) */
#define DUP_AT 100

static const uint32_t chunk_sizes[] = { 1, 7, 41, 42, 1000, 4096, 65536, 204800, 150000,
					99999, 131072, 8191, 2, 40 };
#define NSIZES (sizeof(chunk_sizes) / sizeof(*chunk_sizes))

static int corpus_make(corpus *c)
{
	mvms_codec *codec = NULL;
	mvms_hasher h;
	size_t i, off = 0, roff = 0, total = 0, rtotal = 0;
	int error = -1;

	memset(c, 0, sizeof(*c));
	c->n = NCH;
	c->ids = calloc(NCH, sizeof(*c->ids));
	c->raw_len = calloc(NCH, sizeof(*c->raw_len));
	c->stored_len = calloc(NCH, sizeof(*c->stored_len));
	c->codec = calloc(NCH, 1);
	c->rec_off = calloc(NCH, sizeof(*c->rec_off));
	if (!c->ids || !c->raw_len || !c->stored_len || !c->codec || !c->rec_off)
		goto done;
	for (i = 0; i < NCH; i++) {
		c->raw_len[i] = chunk_sizes[(i * 7 + i / 5) % NSIZES];
		if (i == DUP_AT)
			c->raw_len[i] = c->raw_len[DUP_FROM];
		total += c->raw_len[i];
		rtotal += MVMS_PACK_RECORD_HDR + mvms_codec_bound(c->raw_len[i]);
	}
	c->file = malloc(total);
	c->recs = malloc(rtotal);
	c->fm_len = 32 + (size_t)NCH * 40;
	c->fm = malloc(c->fm_len);
	if (!c->file || !c->recs || !c->fm || mvms_codec_new(&codec, 3) < 0)
		goto done;
	memcpy(c->fm, "MVMSFMAP", 8);
	mvms_le32_put(c->fm + 8, 1);
	mvms_le32_put(c->fm + 12, 0);
	mvms_le64_put(c->fm + 16, total);
	mvms_le64_put(c->fm + 24, NCH);
	mvms_hasher_init(&h);
	for (i = 0; i < NCH; i++) {
		unsigned char *raw = c->file + off, *rec = c->recs + roff;
		size_t stored = 0;
		uint8_t cd = 0;
		uint32_t seed = (uint32_t)(i == DUP_AT ? DUP_FROM : i);

		/* Random bytes (zstd gives up: raw), text (zstd), and text kept raw. */
		if (seed % 3 == 0)
			fill_random(raw, c->raw_len[i], seed);
		else
			fill_text(raw, c->raw_len[i], seed);
		mvms_oid_hash(&c->ids[i], raw, c->raw_len[i]);
		if (seed % 3 == 2) {
			memcpy(rec + MVMS_PACK_RECORD_HDR, raw, c->raw_len[i]);
			stored = c->raw_len[i];
			cd = MVMS_CODEC_RAW;
		} else if (mvms_codec_encode(codec, &cd, &stored, rec + MVMS_PACK_RECORD_HDR,
					     mvms_codec_bound(c->raw_len[i]), raw,
					     c->raw_len[i]) < 0) {
			goto done;
		}
		rec[0] = cd;
		mvms_le32_put(rec + 1, c->raw_len[i]);
		mvms_le32_put(rec + 5, (uint32_t)stored);
		memcpy(rec + 9, c->ids[i].id, MVMS_OID_RAWSZ);
		memcpy(c->fm + 32 + i * 40, c->ids[i].id, MVMS_OID_RAWSZ);
		mvms_le64_put(c->fm + 32 + i * 40 + 32, c->raw_len[i]);
		mvms_hasher_add_chunk(&h, &c->ids[i], c->raw_len[i]);
		c->codec[i] = cd;
		c->stored_len[i] = (uint32_t)stored;
		c->rec_off[i] = roff;
		if (cd == MVMS_CODEC_RAW)
			c->nraw++;
		else
			c->nzstd++;
		off += c->raw_len[i];
		roff += MVMS_PACK_RECORD_HDR + stored;
	}
	mvms_hasher_final(&h, &c->file_id);
	c->file_len = off;
	c->recs_len = roff;
	error = 0;
done:
	mvms_codec_free(codec);
	return error;
}

static void corpus_free(corpus *c)
{
	free(c->ids);
	free(c->raw_len);
	free(c->stored_len);
	free(c->codec);
	free(c->rec_off);
	free(c->file);
	free(c->recs);
	free(c->fm);
}

static size_t rec_len(const corpus *c, size_t i)
{
	return MVMS_PACK_RECORD_HDR + c->stored_len[i];
}

/* The first chunk at or after @from stored with @codec and at least @min stored bytes. */
static size_t find_chunk(const corpus *c, size_t from, uint8_t codec, uint32_t min)
{
	size_t i;

	for (i = from; i < c->n; i++)
		if (c->codec[i] == codec && c->stored_len[i] >= min && i != DUP_FROM && i != DUP_AT)
			return i;
	return c->n;
}

static unsigned char *dup_bytes(const void *p, size_t len)
{
	unsigned char *d = malloc(len ? len : 1);

	if (d && len)
		memcpy(d, p, len);
	return d;
}

/* ---- helpers ---- */

static int new_store(mvms_store **out, const char *name, uint64_t pack_size)
{
	mvms_store_options o = MVMS_STORE_OPTIONS_INIT;
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	o.pack_size = pack_size;
	return mvms_store_init(out, path, &o);
}

/* mvms_store_verify's result: 0 and no problem. */
static int verify_clean(mvms_store *st, uint64_t *problems)
{
	mvms_verify_result vr;
	int rc;

	memset(&vr, 0, sizeof(vr));
	rc = mvms_store_verify(&vr, st, NULL, NULL, NULL);
	*problems = vr.problems;
	return rc == 0 && vr.problems == 0;
}

static size_t count_missing(mvms_store *st, const mvms_oid *ids, size_t n)
{
	unsigned char *m = calloc(n + 1, 1);
	size_t i, k = 0;

	if (!m || mvms_sync_missing(m, st, ids, n) < 0) {
		free(m);
		return (size_t)-1;
	}
	for (i = 0; i < n; i++)
		k += m[i] != 0;
	free(m);
	return k;
}

/* ---- running a receiver ---- */

typedef struct recv_res {
	int rc;             /* the first error, or 0 */
	int at_finish;      /* 1: finish reported it (else an add) */
	size_t fed;         /* bytes handed to add before the error */
	uint64_t done;      /* mvms_sync__recv_done */
	char msg[600];
} recv_res;

/* Piece sizes when @piece is 0: a mix that cuts headers and payloads anywhere. */
static const size_t mix[] = { 1, 7, 41, 1000, 65536, 3, 40, 42, 777777, 2, 4095, 123457 };
#define NMIX (sizeof(mix) / sizeof(*mix))

/*
 * Feeds @stream to a receiver for chunk list @fm (@n chunks) writing to @out_path, in pieces
 * of @piece bytes (SIZE_MAX: all at once; 0: the mix), then finishes against @want unless an
 * add failed. @sink is the caller's (finished or freed by it).
 */
static void run_recv_p(recv_res *res, mvms_chunk_sink *sink, const void *fm, size_t n,
		       const mvms_oid *want, const unsigned char *stream, size_t len, size_t piece,
		       const char *out_path, mvms_progress_cb progress, void *payload,
		       uint64_t done0, uint64_t total)
{
	mvms_sync__recv *rv = NULL;
	size_t off = 0, k = 0;
	int fd;

	memset(res, 0, sizeof(*res));
	mvms_error_clear();
	fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		res->rc = MVMS_ERROR;
		snprintf(res->msg, sizeof(res->msg), "test: cannot create %s", out_path);
		return;
	}
	res->rc = mvms_sync__recv_new(&rv, fd, "f.bin", fm, n, sink, progress, payload, done0,
				      total);
	while (res->rc == 0 && off < len) {
		size_t take = piece == SIZE_MAX ? len : piece ? piece : mix[k++ % NMIX];
		if (take > len - off)
			take = len - off;
		res->rc = mvms_sync__recv_add(rv, stream + off, take);
		if (res->rc == 0)
			off += take;
	}
	res->fed = off;
	if (res->rc == 0) {
		res->rc = mvms_sync__recv_finish(rv, want);
		res->at_finish = res->rc < 0;
		res->done = mvms_sync__recv_done(rv);
	}
	if (res->rc < 0)
		snprintf(res->msg, sizeof(res->msg), "%s", mvms_error_last());
	mvms_sync__recv_free(rv);
	close(fd);
}

static void run_recv(recv_res *res, mvms_chunk_sink *sink, const void *fm, size_t n,
		     const mvms_oid *want, const unsigned char *stream, size_t len, size_t piece,
		     const char *out_path)
{
	run_recv_p(res, sink, fm, n, want, stream, len, piece, out_path, NULL, NULL, 0, 0);
}

/* What the receiver's progress callback saw (it runs on the decoder thread, and the test
 * reads it only after the receiver is freed). */
typedef struct prog_seen {
	unsigned calls, backwards;
	uint64_t last_done, last_total;
} prog_seen;

static void prog_cb(uint64_t done, uint64_t total, void *payload)
{
	prog_seen *p = payload;

	if (p->calls && done < p->last_done)
		p->backwards++;
	p->calls++;
	p->last_done = done;
	p->last_total = total;
}

/* Receives @stream in pieces of @piece into a new cache @name; checks everything. */
static void recv_ok(const corpus *c, const char *name, size_t piece)
{
	mvms_store *cache = NULL;
	mvms_chunk_sink *sink = NULL;
	char out[256];
	unsigned char *got = NULL;
	size_t got_len = 0;
	uint64_t problems = 0;
	recv_res res;

	snprintf(out, sizeof(out), "%s/%s.out", dir, name);
	if (new_store(&cache, name, 0) < 0 || mvms_chunk_sink_new(&sink, cache) < 0) {
		ok(0, "%s: set up a cache: %s", name, mvms_error_last());
		mvms_store_free(cache);
		return;
	}
	run_recv(&res, sink, c->fm, c->n, &c->file_id, c->recs, c->recs_len, piece, out);
	if (!ok(res.rc == 0, "%s: the records arrive and finish accepts the file", name))
		diag("rc %d after %zu bytes (%s): %s", res.rc, res.fed,
		     res.at_finish ? "finish" : "add", res.msg);
	ok(read_whole(&got, &got_len, out) == 0 && got_len == c->file_len &&
	   memcmp(got, c->file, c->file_len) == 0, "%s: the output is the original file", name);
	is_int(res.done, c->file_len, "recv_done is the file size");
	is_int(mvms_chunk_sink_finish(sink), 0, "the cache took every record");
	mvms_chunk_sink_free(sink);
	is_int(count_missing(cache, c->ids, c->n), 0, "no chunk is missing from the cache");
	ok(verify_clean(cache, &problems), "the cache verifies (%llu problems)",
	   (unsigned long long)problems);
	free(got);
	mvms_store_free(cache);
	unlink(out);
}

/*
 * Receives a damaged @stream: it must fail with a negative code and a message (containing
 * @needle when not NULL), at finish when @want_finish is 1, at an add when 0 (-1: either),
 * and the receiver and sink must let go. Returns the result for further checks.
 */
static void recv_bad(recv_res *res, const corpus *c, mvms_store *cache, const char *what,
		     const unsigned char *stream, size_t len, size_t piece, int want_finish,
		     const char *needle)
{
	mvms_chunk_sink *sink = NULL;
	char out[256];

	snprintf(out, sizeof(out), "%s/bad.out", dir);
	if (mvms_chunk_sink_new(&sink, cache) < 0) {
		ok(0, "%s: a sink starts", what);
		return;
	}
	run_recv(res, sink, c->fm, c->n, &c->file_id, stream, len, piece, out);
	if (!ok(res->rc < 0 && res->rc >= MVMS_EMERGE && res->msg[0] != '\0',
		"%s: refused with an error code and a message", what))
		diag("rc %d: '%s'", res->rc, res->msg);
	else
		diag("%s: %d at %s after %zu bytes: %s", what, res->rc,
		     res->at_finish ? "finish" : "add", res->fed, res->msg);
	if (want_finish >= 0)
		is_int(res->at_finish, want_finish, want_finish ? "  ... reported by finish"
								: "  ... reported by add");
	if (needle)
		ok(strstr(res->msg, needle) != NULL, "  ... and the message says '%s'", needle);
	mvms_chunk_sink_free(sink);
	unlink(out);
}

/* ---- 1: the pack writer takes a run of records ---- */

static int pack_bytes(unsigned char **out, size_t *len, mvms_backend *be, const mvms_oid *id)
{
	char key[MVMS_KEY_MAX];
	void *p = NULL;
	int rc;

	mvms_object_key(key, sizeof(key), "packs", id);
	rc = mvms_backend_get_all(&p, len, be, key, 1u << 30);
	*out = p;
	return rc;
}

/* Finishes @w and returns its whole pack object (malloc()ed) and id. */
static int finish_pack(unsigned char **out, size_t *len, mvms_oid *id, size_t *count,
		       mvms_pack_writer *w, mvms_backend *be)
{
	const mvms_pack_entry *e = NULL;
	uint64_t size = 0;
	int rc;

	*out = NULL;
	if ((rc = mvms_pack_writer_finish(id, &size, &e, count, w)) < 0)
		return rc;
	if ((rc = pack_bytes(out, len, be, id)) < 0)
		return rc;
	return *len == size ? 0 : -1;
}

static void test_pack_runs(const corpus *c)
{
	mvms_backend *be1 = NULL, *be2 = NULL, *be3 = NULL, *be4 = NULL;
	mvms_pack_writer *w1 = NULL, *w2 = NULL, *w3 = NULL, *w4 = NULL;
	unsigned char *p1 = NULL, *p2 = NULL, *p3 = NULL, *p4 = NULL, *bad = NULL;
	size_t l1 = 0, l2 = 0, l3 = 0, l4 = 0, n1 = 0, n2 = 0, n3 = 0, n4 = 0, i, cut, bad_n = 0;
	size_t three = c->rec_off[3], r, before;
	mvms_oid id1, id2, id3, id4;
	mvms_pack_entry *idx = NULL;
	size_t nidx = 0;
	uint64_t psize = 0;
	char key[MVMS_KEY_MAX];

	if (mvms_backend_mem(&be1) < 0 || mvms_backend_mem(&be2) < 0 ||
	    mvms_backend_mem(&be3) < 0 || mvms_backend_mem(&be4) < 0 ||
	    mvms_pack_writer_new(&w1, be1) < 0 ||
	    mvms_pack_writer_new(&w2, be2) < 0 || mvms_pack_writer_new(&w3, be3) < 0 ||
	    mvms_pack_writer_new(&w4, be4) < 0) {
		printf("Bail out! pack writers: %s\n", mvms_error_last());
		exit(1);
	}

	/* The same records, one by one and as runs (three small, then > 1 MiB without copy). */
	for (i = 0, r = 0; i < c->n; i++)
		if (mvms_pack_writer_add(w1, &c->ids[i], c->codec[i], c->raw_len[i],
					 c->recs + c->rec_off[i] + MVMS_PACK_RECORD_HDR,
					 c->stored_len[i]) < 0)
			r++;
	is_int(r, 0, "pack: every record added one by one");
	is_int(mvms_pack_writer_add_records(w2, c->recs, three), 0, "pack: a run of three records");
	is_int(mvms_pack_writer_count(w2), 3, "pack: ... counts three");
	is_int(mvms_pack_writer_add_records(w2, c->recs, 0), 0, "pack: an empty run is a no-op");
	is_int(mvms_pack_writer_add_records(w2, c->recs + three, c->recs_len - three), 0,
	       "pack: a run of all the others (several MiB)");
	is_int(mvms_pack_writer_count(w2), c->n, "pack: ... counts them all");
	is_int(mvms_pack_writer_size(w2), mvms_pack_writer_size(w1),
	       "pack: as many bytes as added one by one");
	ok(finish_pack(&p1, &l1, &id1, &n1, w1, be1) == 0 &&
	   finish_pack(&p2, &l2, &id2, &n2, w2, be2) == 0, "pack: both packs commit");
	ok(n1 == c->n && n2 == c->n && mvms_oid_cmp(&id1, &id2) == 0,
	   "pack: from a run it has the same pack id (index hash)");
	ok(p1 && p2 && l1 == l2 && memcmp(p1, p2, l1) == 0, "pack: and the same bytes");
	mvms_object_key(key, sizeof(key), "packs", &id2);
	is_int(mvms_pack_read_index(&idx, &nidx, &psize, be2, key, &id2), 0,
	       "pack: the run-written pack's index reads back");
	ok(nidx == c->n && idx && idx[5].offset == MVMS_PACK_HEADER_SIZE + c->rec_off[5] &&
	   idx[5].stored_len == c->stored_len[5] && idx[5].codec == c->codec[5],
	   "pack: its entries point at the records");
	free(idx);

	/* A run cut short, or holding a bad record, is refused whole: w3 must end up the same
	 * pack as w4, which only ever got the good runs. */
	is_int(mvms_pack_writer_add_records(w3, c->recs, three), 0, "pack: bad runs: a good start");
	is_int(mvms_pack_writer_add_records(w4, c->recs, three), 0, "pack: (the reference too)");
	before = (size_t)mvms_pack_writer_size(w3);
	cut = c->rec_off[10] + MVMS_PACK_RECORD_HDR + c->stored_len[10] / 2;
	is_int(mvms_pack_writer_add_records(w3, c->recs + three, cut - three), MVMS_EINVALID,
	       "pack: a run cut inside a payload is refused");
	is_int(mvms_pack_writer_count(w3), 3, "pack: ... and adds no record");
	is_int(mvms_pack_writer_size(w3), before, "pack: ... and no byte");
	cut = c->rec_off[10] + 20;
	is_int(mvms_pack_writer_add_records(w3, c->recs + three, cut - three), MVMS_EINVALID,
	       "pack: a run cut inside a header is refused");
	is_int(mvms_pack_writer_add_records(w3, c->recs + three, MVMS_PACK_RECORD_HDR - 1),
	       MVMS_EINVALID, "pack: a run shorter than a header is refused");
	is_int(mvms_pack_writer_count(w3), 3, "pack: ... still three records");

	/* Bad records in the middle of a run of three (records 3, 4, 5). */
	{
		size_t at = c->rec_off[4] - three, run = c->rec_off[6] - three;
		size_t z = find_chunk(c, 0, MVMS_CODEC_ZSTD, 2);
		size_t rw = find_chunk(c, 0, MVMS_CODEC_RAW, 2);
		unsigned char *one;

		bad = dup_bytes(c->recs + three, run);
		bad[at] = 7;
		if (mvms_pack_writer_add_records(w3, bad, run) == MVMS_EINVALID)
			bad_n++;
		memcpy(bad, c->recs + three, run);
		mvms_le32_put(bad + at + 1, 0); /* raw_len 0 */
		if (mvms_pack_writer_add_records(w3, bad, run) == MVMS_EINVALID)
			bad_n++;
		memcpy(bad, c->recs + three, run);
		mvms_le32_put(bad + at + 1, MVMS_CHUNKER_AVG_MAX * 2u + 1); /* too long a chunk */
		if (mvms_pack_writer_add_records(w3, bad, run) == MVMS_EINVALID)
			bad_n++;
		is_int(bad_n, 3, "pack: runs with a bad codec or raw length inside are refused");
		/* A raw record whose stored length is not its raw length; a zstd record of 0
		 * stored bytes or more than the codec bound (lengths consistent for the walk). */
		bad_n = 0;
		if (rw < c->n) {
			one = dup_bytes(c->recs + c->rec_off[rw], rec_len(c, rw));
			mvms_le32_put(one + 1, c->raw_len[rw] - 1);
			if (mvms_pack_writer_add_records(w3, one, rec_len(c, rw)) == MVMS_EINVALID)
				bad_n++;
			free(one);
		}
		if (z < c->n) {
			one = dup_bytes(c->recs + c->rec_off[z], MVMS_PACK_RECORD_HDR);
			mvms_le32_put(one + 5, 0);
			r = MVMS_PACK_RECORD_HDR;
			if (mvms_pack_writer_add_records(w3, one, r) == MVMS_EINVALID)
				bad_n++;
			free(one);
			r = MVMS_PACK_RECORD_HDR + mvms_codec_bound(c->raw_len[z]) + 1;
			one = calloc(1, r);
			memcpy(one, c->recs + c->rec_off[z], MVMS_PACK_RECORD_HDR);
			mvms_le32_put(one + 5, (uint32_t)(r - MVMS_PACK_RECORD_HDR));
			if (mvms_pack_writer_add_records(w3, one, r) == MVMS_EINVALID)
				bad_n++;
			free(one);
		}
		is_int(bad_n, 3, "pack: raw and zstd records with impossible lengths are refused");
		is_int(mvms_pack_writer_count(w3), 3, "pack: ... none of those added a thing");
	}

	/* Later runs still work, and the pack is exactly the good runs'. */
	is_int(mvms_pack_writer_add_records(w3, c->recs + three, c->recs_len - three), 0,
	       "pack: after the refusals a good run is taken");
	is_int(mvms_pack_writer_add_records(w4, c->recs + three, c->recs_len - three), 0,
	       "pack: (the reference too)");
	ok(finish_pack(&p3, &l3, &id3, &n3, w3, be3) == 0 &&
	   finish_pack(&p4, &l4, &id4, &n4, w4, be4) == 0, "pack: both commit");
	ok(n3 == c->n && mvms_oid_cmp(&id3, &id4) == 0 && mvms_oid_cmp(&id3, &id1) == 0 &&
	   l3 == l4 && memcmp(p3, p4, l3) == 0,
	   "pack: the refused runs left no trace (same id and bytes as without them)");

	free(bad);
	free(p1);
	free(p2);
	free(p3);
	free(p4);
	mvms_pack_writer_free(w1);
	mvms_pack_writer_free(w2);
	mvms_pack_writer_free(w3);
	mvms_pack_writer_free(w4);
	mvms_backend_free(be1);
	mvms_backend_free(be2);
	mvms_backend_free(be3);
	mvms_backend_free(be4);
}

/* ---- 2: the receiver ---- */

static void test_recv(const corpus *c)
{
	mvms_store *cache = NULL;
	unsigned char *s = NULL;
	size_t z, rw, k, last = c->n - 1;
	uint64_t problems = 0;
	recv_res res;

	ok(c->nraw >= 10 && c->nzstd >= 10 && c->recs_len > 4u * 1024 * 1024,
	   "recv: the test file has raw and zstd records (%zu, %zu), %zu bytes of records", c->nraw,
	   c->nzstd, c->recs_len);

	recv_ok(c, "whole", SIZE_MAX);
	recv_ok(c, "bytes", 1);
	recv_ok(c, "sevens", 7);
	recv_ok(c, "headers", MVMS_PACK_RECORD_HDR);
	recv_ok(c, "thousands", 1000);
	recv_ok(c, "64k", 65536);
	recv_ok(c, "mixed", 0);

	/* Progress comes from the decoder thread, block by block, after the bytes done before. */
	{
		prog_seen seen;
		mvms_chunk_sink *sink = NULL;
		char out[256];

		memset(&seen, 0, sizeof(seen));
		snprintf(out, sizeof(out), "%s/progress.out", dir);
		if (new_store(&cache, "progress", 0) < 0 || mvms_chunk_sink_new(&sink, cache) < 0) {
			printf("Bail out! cache: %s\n", mvms_error_last());
			exit(1);
		}
		run_recv_p(&res, sink, c->fm, c->n, &c->file_id, c->recs, c->recs_len, 65536, out,
			   prog_cb, &seen, 1000, 1000 + c->file_len);
		ok(res.rc == 0 && seen.calls >= 4 && seen.backwards == 0,
		   "recv: progress is reported %u times, never backwards", seen.calls);
		ok(seen.last_done == 1000 + c->file_len && seen.last_total == 1000 + c->file_len,
		   "recv: it ends at the bytes before plus the file, of the total given");
		diag("recv_done with 1000 bytes done before: %llu", (unsigned long long)res.done);
		mvms_chunk_sink_free(sink);
		mvms_store_free(cache);
		cache = NULL;
		unlink(out);
	}

	/* A valid zstd frame the pack writer would refuse (1-byte raw blocks: larger than the
	 * codec bound). It decodes and hashes right; whatever takes it, the cache must not end
	 * up without the chunk while everything reports success, nor become unsound. */
	{
		unsigned char raw[100], rec[MVMS_PACK_RECORD_HDR + 6 + 400], fm1[72];
		mvms_oid cid, fid;
		mvms_hasher h;
		mvms_chunk_sink *sink = NULL;
		char out[256];
		unsigned char miss = 1;
		size_t o = MVMS_PACK_RECORD_HDR, i;
		int sink_rc;

		for (i = 0; i < sizeof(raw); i++)
			raw[i] = (unsigned char)(i * 7 + 1);
		mvms_oid_hash(&cid, raw, sizeof(raw));
		rec[o++] = 0x28; /* zstd magic, LE */
		rec[o++] = 0xb5;
		rec[o++] = 0x2f;
		rec[o++] = 0xfd;
		rec[o++] = 0x20; /* single segment, 1-byte content size */
		rec[o++] = (unsigned char)sizeof(raw);
		for (i = 0; i < sizeof(raw); i++) {
			/* a raw block of 1 byte, the last one flagged */
			rec[o++] = (unsigned char)(1u << 3 | (i == sizeof(raw) - 1));
			rec[o++] = 0;
			rec[o++] = 0;
			rec[o++] = raw[i];
		}
		rec[0] = MVMS_CODEC_ZSTD;
		mvms_le32_put(rec + 1, sizeof(raw));
		mvms_le32_put(rec + 5, (uint32_t)(o - MVMS_PACK_RECORD_HDR));
		memcpy(rec + 9, cid.id, MVMS_OID_RAWSZ);
		memcpy(fm1, c->fm, 16);
		mvms_le64_put(fm1 + 16, sizeof(raw));
		mvms_le64_put(fm1 + 24, 1);
		memcpy(fm1 + 32, cid.id, MVMS_OID_RAWSZ);
		mvms_le64_put(fm1 + 64, sizeof(raw));
		mvms_hasher_init(&h);
		mvms_hasher_add_chunk(&h, &cid, sizeof(raw));
		mvms_hasher_final(&h, &fid);
		snprintf(out, sizeof(out), "%s/bound.out", dir);
		if (new_store(&cache, "bound", 0) < 0 || mvms_chunk_sink_new(&sink, cache) < 0) {
			printf("Bail out! cache: %s\n", mvms_error_last());
			exit(1);
		}
		run_recv(&res, sink, fm1, 1, &fid, rec, o, SIZE_MAX, out);
		sink_rc = mvms_chunk_sink_finish(sink);
		diag("a %zu-byte zstd frame for %zu bytes (bound %zu): receiver %d (%s), "
		     "cache %d (%s)",
		     o - MVMS_PACK_RECORD_HDR, sizeof(raw), mvms_codec_bound(sizeof(raw)), res.rc,
		     res.msg, sink_rc, sink_rc < 0 ? mvms_error_last() : "");
		mvms_chunk_sink_free(sink);
		ok(mvms_sync_missing(&miss, cache, &cid, 1) == 0 &&
		   (res.rc < 0 || sink_rc < 0 || miss == 0),
		   "recv: a zstd frame beyond the codec bound is refused somewhere or cached");
		ok(verify_clean(cache, &problems), "recv: that cache verifies");
		mvms_store_free(cache);
		cache = NULL;
		unlink(out);
	}

	/* The empty file: no record, and its id is the hash of no entries. */
	{
		unsigned char fm0[32];
		mvms_oid id0;
		mvms_hasher h;
		mvms_chunk_sink *sink = NULL;
		char out[256];

		memcpy(fm0, c->fm, 16);
		memset(fm0 + 16, 0, 16);
		mvms_hasher_init(&h);
		mvms_hasher_final(&h, &id0);
		snprintf(out, sizeof(out), "%s/empty.out", dir);
		if (new_store(&cache, "empty", 0) < 0 || mvms_chunk_sink_new(&sink, cache) < 0) {
			printf("Bail out! cache: %s\n", mvms_error_last());
			exit(1);
		}
		run_recv(&res, sink, fm0, 0, &id0, NULL, 0, SIZE_MAX, out);
		ok(res.rc == 0 && res.done == 0, "recv: an empty file arrives with no record (%s)",
		   res.msg);
		run_recv(&res, sink, fm0, 0, &id0, c->recs, rec_len(c, 0), SIZE_MAX, out);
		ok(res.rc < 0 && !res.at_finish && res.msg[0],
		   "recv: a record for an empty file is refused at once (%s)", res.msg);
		is_int(mvms_chunk_sink_finish(sink), 0, "recv: its sink finishes");
		mvms_chunk_sink_free(sink);
		mvms_store_free(cache);
		cache = NULL;
		unlink(out);
	}

	/* The damaged streams go through one cache, which must stay sound. */
	if (new_store(&cache, "bad-cache", 0) < 0) {
		printf("Bail out! cache: %s\n", mvms_error_last());
		exit(1);
	}
	z = find_chunk(c, 0, MVMS_CODEC_ZSTD, 64);
	rw = find_chunk(c, 0, MVMS_CODEC_RAW, 64);
	if (z >= c->n || rw >= c->n) {
		printf("Bail out! no zstd or raw record to damage\n");
		exit(1);
	}
	s = malloc(c->recs_len + 2 * MVMS_PACK_RECORD_HDR + 4096);

	/* A flipped byte inside a zstd payload, early (the decoder fails while adds go on). */
	memcpy(s, c->recs, c->recs_len);
	s[c->rec_off[z] + MVMS_PACK_RECORD_HDR + c->stored_len[z] / 2] ^= 0x10;
	recv_bad(&res, c, cache, "a flipped byte in zstd bytes", s, c->recs_len, 1000, -1,
		 "corrupt");
	/* The same with everything handed over at once. */
	recv_bad(&res, c, cache, "a flipped byte in zstd bytes, one add", s, c->recs_len, SIZE_MAX,
		 -1, "corrupt");

	/* A flipped byte inside a raw payload. */
	memcpy(s, c->recs, c->recs_len);
	s[c->rec_off[rw] + MVMS_PACK_RECORD_HDR + c->stored_len[rw] - 1] ^= 0x01;
	recv_bad(&res, c, cache, "a flipped byte in raw bytes", s, c->recs_len, 65536, -1,
		 "corrupt");

	/* A corrupt record in the last block: what came before may be cached, not it. */
	k = find_chunk(c, c->n - 8, MVMS_CODEC_ZSTD, 64);
	if (k >= c->n)
		k = find_chunk(c, c->n - 8, MVMS_CODEC_RAW, 64);
	if (k < c->n) {
		mvms_chunk_sink *sink = NULL;
		char out[256];
		unsigned char miss = 0;

		memcpy(s, c->recs, c->recs_len);
		s[c->rec_off[k] + MVMS_PACK_RECORD_HDR + c->stored_len[k] / 3] ^= 0x80;
		snprintf(out, sizeof(out), "%s/late.out", dir);
		if (mvms_chunk_sink_new(&sink, cache) == 0) {
			run_recv(&res, sink, c->fm, c->n, &c->file_id, s, c->recs_len, 4096, out);
			ok(res.rc < 0 && res.msg[0] && strstr(res.msg, "corrupt"),
			   "recv: a corrupt record near the end fails (%s)", res.msg);
			is_int(mvms_chunk_sink_finish(sink), 0,
			       "recv: the sink still stores what was checked before it");
			mvms_chunk_sink_free(sink);
			ok(mvms_sync_missing(&miss, cache, &c->ids[k], 1) == 0 && miss == 1,
			   "recv: the corrupt chunk did not reach the cache");
			ok(count_missing(cache, c->ids, c->n) < c->n, "recv: earlier chunks did");
		}
		unlink(out);
	}

	/* Records in the wrong order: the first header names another chunk. */
	memcpy(s, c->recs + c->rec_off[1], rec_len(c, 1));
	memcpy(s + rec_len(c, 1), c->recs, rec_len(c, 0));
	memcpy(s + c->rec_off[2], c->recs + c->rec_off[2], c->recs_len - c->rec_off[2]);
	recv_bad(&res, c, cache, "records swapped", s, c->recs_len, 7, 0, NULL);
	is_int(res.fed, 35, "  ... refused as soon as the header is in");

	/* Two records further on swapped (after several blocks went to the decoder). */
	k = c->n - 5;
	memcpy(s, c->recs, c->recs_len);
	memcpy(s + c->rec_off[k], c->recs + c->rec_off[k + 1], rec_len(c, k + 1));
	memcpy(s + c->rec_off[k] + rec_len(c, k + 1), c->recs + c->rec_off[k], rec_len(c, k));
	recv_bad(&res, c, cache, "records swapped near the end", s, c->recs_len, 65536, 0, NULL);

	/* A header whose raw length differs from the chunk list (payload unchanged). */
	memcpy(s, c->recs, c->recs_len);
	mvms_le32_put(s + c->rec_off[rw] + 1, c->raw_len[rw] + 1);
	recv_bad(&res, c, cache, "a raw_len that differs from the chunk list", s, c->recs_len,
		 SIZE_MAX, 0, NULL);
	is_int(res.fed, 0, "  ... the one add is refused");

	/* A bad codec byte: the header checks pass, the decoder refuses it. */
	memcpy(s, c->recs, c->recs_len);
	s[c->rec_off[rw]] = 7;
	recv_bad(&res, c, cache, "an unknown codec", s, c->recs_len, 1000, -1, NULL);

	/* A raw record one byte shorter than its chunk (stored_len too), the rest shifted. */
	memcpy(s, c->recs, c->rec_off[rw] + MVMS_PACK_RECORD_HDR + c->stored_len[rw] - 1);
	mvms_le32_put(s + c->rec_off[rw] + 5, c->stored_len[rw] - 1);
	memcpy(s + c->rec_off[rw] + rec_len(c, rw) - 1, c->recs + c->rec_off[rw + 1],
	       c->recs_len - c->rec_off[rw + 1]);
	recv_bad(&res, c, cache, "a raw record one byte short", s, c->recs_len - 1, 41, -1, NULL);

	/* More bytes after the last record: a whole record again, or a few bytes. */
	memcpy(s, c->recs, c->recs_len);
	memcpy(s + c->recs_len, c->recs, MVMS_PACK_RECORD_HDR + 8);
	recv_bad(&res, c, cache, "a record after the last one", s,
		 c->recs_len + MVMS_PACK_RECORD_HDR + 8, 65536, 0, NULL);
	ok(strstr(res.msg, "more bytes") != NULL, "  ... the message says there is too much");
	recv_bad(&res, c, cache, "5 bytes after the last record", s, c->recs_len + 5, SIZE_MAX, 1,
		 NULL);

	/* The stream stops: inside the last payload, inside a header, or a chunk short. */
	recv_bad(&res, c, cache, "the stream stops mid-payload", c->recs, c->recs_len - 10, 1000, 1,
		 NULL);
	recv_bad(&res, c, cache, "the stream stops mid-header", c->recs, c->rec_off[last] + 20,
		 SIZE_MAX, 1, NULL);
	recv_bad(&res, c, cache, "the last chunk never comes", c->recs, c->rec_off[last], 7777, 1,
		 NULL);
	recv_bad(&res, c, cache, "nothing comes", c->recs, 0, SIZE_MAX, 1, NULL);

	/* An absurd stored length is refused on the header, not buffered for. */
	memcpy(s, c->recs, c->recs_len);
	mvms_le32_put(s + 5, 0xffffffffu);
	recv_bad(&res, c, cache, "stored_len 4 GiB", s, MVMS_PACK_RECORD_HDR, SIZE_MAX, 0, NULL);
	is_int(res.fed, 0, "  ... refused with only the header in");
	memcpy(s, c->recs, c->recs_len);
	mvms_le32_put(s + c->rec_off[z] + 5,
		      c->raw_len[z] + (c->raw_len[z] >> 7) + 4096 + 1);
	recv_bad(&res, c, cache, "stored_len just past what a codec makes", s,
		 c->rec_off[z] + MVMS_PACK_RECORD_HDR, 1, 0, NULL);
	is_int(res.fed, c->rec_off[z] + MVMS_PACK_RECORD_HDR - 1,
	       "  ... refused on the header's last byte");

	/* After all that the cache holds only sound records. */
	ok(verify_clean(cache, &problems), "recv: the failures' cache verifies (%llu problems)",
	   (unsigned long long)problems);

	free(s);
	mvms_store_free(cache);
}

/* ---- 3: the server's records reader ---- */

static int write_file(const char *path, const unsigned char *p, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), rc;

	if (fd < 0)
		return -1;
	rc = len ? mvms_write_full(fd, p, len, path) : 0;
	close(fd);
	return rc;
}

/* The stream length from the index: sum of 41 + stored_len over the file's chunks. */
static uint64_t stream_len_from_db(mvms_store *st, const mvms_oid *chunks, size_t n)
{
	sqlite3_stmt *q = mvms_db_stmt(st->db, "SELECT stored_len FROM chunks WHERE oid = ?1");
	uint64_t total = 0;
	size_t i;

	if (!q)
		return 0;
	for (i = 0; i < n; i++) {
		mvms_db_bind_oid(q, 1, &chunks[i]);
		if (sqlite3_step(q) == SQLITE_ROW)
			total += MVMS_PACK_RECORD_HDR + (uint64_t)sqlite3_column_int64(q, 0);
		else
			total += (uint64_t)1 << 40; /* makes the comparison fail */
		sqlite3_reset(q);
	}
	return total;
}

/* Reads big.bin of @st's model "m" as records three ways, checks the three streams and feeds
 * one to a receiver. *stream_out (malloc()ed) is the stream, for comparing stores. */
static void reader_check(unsigned char **stream_out, size_t *len_out, const char *label,
			 mvms_store *st, const unsigned char *file, size_t file_len)
{
	mvms_store *cache = NULL;
	mvms_file_reader *r = NULL;
	mvms_chunk_sink *sink = NULL;
	char path[300], name[64], idhex[MVMS_OID_HEXSZ + 1];
	unsigned char *a = NULL, *b = NULL, *cc = NULL, *got = NULL;
	void *fm = NULL;
	size_t fm_len = 0, nch = 0, la = 0, lb = 0, lc = 0, runs = 0, fd_runs = 0, got_len = 0;
	size_t len, i, max_run = 0;
	mvms_oid *chunks = NULL, fid;
	uint64_t bytes = 0, fsize = 0, problems = 0;
	int rc, fd, bad = 0;
	recv_res res;

	*stream_out = NULL;
	*len_out = 0;
	is_int(mvms_file_reader_open_records(&r, &bytes, idhex, st, "m", "big.bin"), 0,
	       "reader: open big.bin for records");
	if (!r) {
		printf("Bail out! %s\n", mvms_error_last());
		exit(1);
	}
	rc = mvms_oid_parse(&fid, idhex) == 0 &&
	     mvms_sync_get_object(&fm, &fm_len, st, "files", &fid) == 0 &&
	     mvms_sync_parse_filemap(&chunks, &nch, &fsize, fm, fm_len, &fid) == 0 &&
	     fsize == file_len;
	ok(rc, "reader (%s): its chunk list reads back (%zu chunks)", label, nch);
	is_int(bytes, stream_len_from_db(st, chunks, nch),
	       "reader: the byte count is the sum of 41 + stored_len over its chunks");

	/* All runs with read_run. */
	a = malloc(bytes ? bytes : 1);
	while ((rc = mvms_file_reader_next_run(&len, r)) == 0 && len > 0) {
		if (la + len > bytes || mvms_file_reader_read_run(a + la, r) < 0) {
			bad++;
			break;
		}
		la += len;
		runs++;
		if (len > max_run)
			max_run = len;
	}
	ok(rc == 0 && bad == 0 && la == bytes, "reader (%s): next_run + read_run give %zu bytes "
	   "in %zu runs (the longest %zu)", label, la, runs, max_run);
	ok(runs >= 3, "reader: ... in several runs (packs, the dedup and the run limit cut them)");
	rc = 0;
	for (i = 0; i < 3 && rc == 0; i++)
		if ((rc = mvms_file_reader_next_run(&len, r)) == 0 && len != 0)
			rc = -1;
	is_int(rc, 0, "reader: next_run after the end keeps giving 0, it does not start over");
	len = 1;
	{
		const void *d = NULL;
		is_int(mvms_file_reader_next(&d, &len, r), 0, "reader: next after the end is fine");
		is_int(len, 0, "reader: ... and no bytes");
	}
	mvms_file_reader_free(r);
	r = NULL;

	/* All runs with run_fd and pread. */
	b = malloc(bytes ? bytes : 1);
	bad = 0;
	if (mvms_file_reader_open_records(&r, NULL, NULL, st, "m", "big.bin") < 0) {
		printf("Bail out! %s\n", mvms_error_last());
		exit(1);
	}
	while ((rc = mvms_file_reader_next_run(&len, r)) == 0 && len > 0) {
		uint64_t at = 0;
		fd = -1;
		if (lb + len > bytes || mvms_file_reader_run_fd(&fd, &at, r) < 0 || fd < 0) {
			bad++;
			if (fd >= 0)
				close(fd);
			break;
		}
		if (mvms_read_full(fd, b + lb, len, at, "pack") < 0)
			bad++;
		close(fd);
		lb += len;
		fd_runs++;
	}
	ok(rc == 0 && bad == 0 && lb == bytes && fd_runs == runs,
	   "reader: next_run + run_fd give %zu bytes in %zu runs", lb, fd_runs);
	ok(la == lb && memcmp(a, b, la) == 0, "reader: the same stream either way");
	mvms_file_reader_free(r);
	r = NULL;

	/* All of it with mvms_file_reader_next on a records reader. */
	cc = malloc(bytes ? bytes : 1);
	bad = 0;
	if (mvms_file_reader_open_records(&r, NULL, NULL, st, "m", "big.bin") < 0) {
		printf("Bail out! %s\n", mvms_error_last());
		exit(1);
	}
	for (;;) {
		const void *d = NULL;
		if ((rc = mvms_file_reader_next(&d, &len, r)) < 0 || len == 0)
			break;
		if (lc + len > bytes) {
			bad++;
			break;
		}
		memcpy(cc + lc, d, len);
		lc += len;
	}
	ok(rc == 0 && bad == 0 && lc == la && memcmp(a, cc, lc) == 0,
	   "reader: mvms_file_reader_next gives the same stream (%zu bytes)", lc);
	mvms_file_reader_free(r);
	r = NULL;

	/* The receiver turns the stream back into the file, and into a cache that verifies. */
	snprintf(path, sizeof(path), "%s/big.out", dir);
	snprintf(name, sizeof(name), "cache-%s", label);
	for (i = 0; name[i]; i++)
		if (name[i] == ' ')
			name[i] = '-';
	if (new_store(&cache, name, 0) < 0 || mvms_chunk_sink_new(&sink, cache) < 0) {
		printf("Bail out! cache: %s\n", mvms_error_last());
		exit(1);
	}
	run_recv(&res, sink, fm, nch, &fid, a, la, 0, path);
	ok(res.rc == 0 && res.done == file_len, "reader: the receiver takes the stream (%s)",
	   res.msg);
	ok(read_whole(&got, &got_len, path) == 0 && got_len == file_len &&
	   memcmp(got, file, file_len) == 0, "reader: and writes the original big.bin");
	is_int(mvms_chunk_sink_finish(sink), 0, "reader: its cache took the records");
	mvms_chunk_sink_free(sink);
	is_int(count_missing(cache, chunks, nch), 0, "reader: no chunk is missing from that cache");
	ok(verify_clean(cache, &problems), "reader: that cache verifies (%llu problems)",
	   (unsigned long long)problems);
	unlink(path);

	*stream_out = a;
	*len_out = la;
	free(b);
	free(cc);
	free(got);
	free(fm);
	free(chunks);
	mvms_store_free(cache);
}

static void test_reader(void)
{
	mvms_store *st = NULL, *st2 = NULL;
	mvms_push_options po = MVMS_PUSH_OPTIONS_INIT;
	mvms_push_result pr;
	mvms_file_reader *r = NULL;
	char tree[256], path[300];
	unsigned char *file = NULL, *a = NULL, *s1 = NULL, *s2 = NULL;
	size_t len, file_len, l1 = 0, l2 = 0;
	uint64_t bytes = 0;
	int rc;
	/* big.bin: random, text, the same random again (its chunks dedup, so their records are
	 * not where the file's others are), then more random than one run holds (4 MiB). */
	const size_t R1 = 1536 * 1024, T = 2 * 1024 * 1024, R2 = 4608 * 1024 + 12345;

	file_len = R1 + T + R1 + R2;
	if (!(file = malloc(file_len))) {
		printf("Bail out! out of memory\n");
		exit(1);
	}
	fill_random(file, R1, 1);
	fill_text(file + R1, T, 2);
	memcpy(file + R1 + T, file, R1);
	fill_random(file + 2 * R1 + T, R2, 3);
	snprintf(tree, sizeof(tree), "%s/tree", dir);
	snprintf(path, sizeof(path), "%s/sub", tree);
	if (mkdir(tree, 0755) < 0 || mkdir(path, 0755) < 0) {
		printf("Bail out! mkdir %s\n", path);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/big.bin", tree);
	rc = write_file(path, file, file_len);
	snprintf(path, sizeof(path), "%s/sub/small.txt", tree);
	rc |= write_file(path, (const unsigned char *)"hello records\n", 14);
	snprintf(path, sizeof(path), "%s/empty", tree);
	rc |= write_file(path, NULL, 0);
	/* The same model in packs of 1 MiB (the file spans several) and of the default size. */
	if (rc < 0 || new_store(&st, "server", 1024 * 1024) < 0 ||
	    new_store(&st2, "server2", 0) < 0) {
		printf("Bail out! setup: %s\n", mvms_error_last());
		exit(1);
	}
	po.message = "records";
	po.author = "tester";
	po.time = 1700000000;
	is_int(mvms_push(&pr, st, "m", tree, &po), 0, "reader: a model pushed to a local store");
	ok(pr.packs >= 3, "reader: its chunks are in several packs (%llu)",
	   (unsigned long long)pr.packs);
	is_int(mvms_push(&pr, st2, "m", tree, &po), 0, "reader: and to a store of large packs");

	reader_check(&s1, &l1, "small packs", st, file, file_len);
	reader_check(&s2, &l2, "large packs", st2, file, file_len);
	ok(s1 && s2 && l1 == l2 && memcmp(s1, s2, l1) == 0,
	   "reader: the stream does not depend on how the store packed the chunks");

	/* A small file, an empty file, and a path that is not there. */
	is_int(mvms_file_reader_open_records(&r, &bytes, NULL, st, "m", "sub/small.txt"), 0,
	       "reader: open sub/small.txt");
	rc = r && mvms_file_reader_next_run(&len, r) == 0;
	ok(rc && len == bytes && bytes == MVMS_PACK_RECORD_HDR + 14,
	   "reader: one run of one raw record (%llu bytes)", (unsigned long long)bytes);
	a = malloc(MVMS_PACK_RECORD_HDR + 14);
	ok(r && mvms_file_reader_read_run(a, r) == 0 && a[0] == MVMS_CODEC_RAW &&
	   memcmp(a + MVMS_PACK_RECORD_HDR, "hello records\n", 14) == 0,
	   "reader: ... holding the file");
	ok(r && mvms_file_reader_next_run(&len, r) == 0 && len == 0, "reader: then the end");
	mvms_file_reader_free(r);
	r = NULL;

	is_int(mvms_file_reader_open_records(&r, &bytes, NULL, st, "m", "empty"), 0,
	       "reader: open the empty file");
	is_int(bytes, 0, "reader: 0 bytes of records");
	ok(r && mvms_file_reader_next_run(&len, r) == 0 && len == 0 &&
	   mvms_file_reader_next_run(&len, r) == 0 && len == 0, "reader: next_run is 0 right away");
	mvms_file_reader_free(r);
	r = NULL;

	mvms_error_clear();
	is_int(mvms_file_reader_open_records(&r, &bytes, NULL, st, "m", "nope.bin"), MVMS_ENOTFOUND,
	       "reader: a path not in the version is MVMS_ENOTFOUND");
	ok(r == NULL && mvms_error_last()[0], "reader: ... with a message and no reader (%s)",
	   mvms_error_last());

	/* next_run on a reader for bytes is refused. */
	if (mvms_file_reader_open(&r, NULL, NULL, st, "m", "big.bin", 0, 0) == 0) {
		is_int(mvms_file_reader_next_run(&len, r), MVMS_EINVALID,
		       "reader: next_run on a reader for bytes is MVMS_EINVALID");
		mvms_file_reader_free(r);
		r = NULL;
	}

	free(file);
	free(a);
	free(s1);
	free(s2);
	mvms_store_free(st);
	mvms_store_free(st2);
}

int main(void)
{
	corpus c;

	if (!mkdtemp(dir) || corpus_make(&c) < 0) {
		printf("Bail out! setup\n");
		return 1;
	}
	test_pack_runs(&c);
	test_recv(&c);
	test_reader();
	corpus_free(&c);
	rm_rf(dir);
	return done_testing();
}
