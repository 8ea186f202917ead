/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for fine-tune deltas (core/codec_delta.c, meta/bases.c, transfer/push_delta.c):
 * delta records round-trip for bf16, f16 and f32 drift (odd lengths too) and are refused
 * cleanly when bad (too short, not shorter than raw, unknown transform, raw or delta inner
 * codec, corrupt inner bytes, no base, a base of another length); in a store, a drifted v2
 * is stored as deltas under 0.35x raw and pulls byte-identical, a v2 with 10% of its tensors
 * changed costs no more than without deltas, gc keeps the bases after v1 is deleted, and a
 * store from before deltas (schema level 7) is upgraded in place and takes deltas.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>
#include "tap.h"
#include "testfs.h"
#include "codec.h"
#include "pack.h"
#include "store_int.h"
#include "mvms/gc.h"
#include "mvms/history.h"
#include "mvms/sync.h"
#define MKDELTA_LIB
#include "mkdelta.c"

static char dir[256];

/* ---- the codec ---- */

typedef struct base_src {
	const unsigned char *bytes;
	size_t len;
	int calls;
	int fail;            /* return this error instead */
} base_src;

static int base_cb(void *ctx, mvms_codec *c, const mvms_oid *id, size_t raw_len, void *out)
{
	base_src *b = ctx;

	(void)c;
	(void)id;
	b->calls++;
	if (b->fail)
		return mvms_error_set(b->fail, "test: no base");
	if (raw_len != b->len)
		return mvms_error_set(MVMS_EMISMATCH, "test: base of %zu bytes, want %zu", b->len,
				      raw_len);
	memcpy(out, b->bytes, raw_len);
	return 0;
}

/* Elements of @dtype drifted by @drift relative: @a the parent's, @b the new ones. */
static void drifted(unsigned char *a, unsigned char *b, size_t len, const char *dtype,
		    double drift, uint64_t seed)
{
	size_t esz = strcmp(dtype, "F32") == 0 ? 4 : 2, i;
	unsigned char e[4];

	rs = seed * 0x9e3779b97f4a7c15ull | 1;
	for (i = 0; i + esz <= len; i += esz) {
		double v = 0.02 * gauss();
		put(a + i, dtype, v);
		put(b + i, dtype, v * (1 + drift * gauss()));
	}
	for (; i < len; i++) {
		put(e, dtype, 0.01);
		a[i] = b[i] = (unsigned char)(i * 7);
	}
}

static void test_round_trips(void)
{
	static const struct { const char *name; enum mvms_dtype dt; } types[] = {
		{ "BF16", MVMS_DTYPE_BF16 }, { "F16", MVMS_DTYPE_F16 }, { "F32", MVMS_DTYPE_F32 },
	};
	static const size_t lens[] = { 65536, 65537, 65539, 8192 };
	size_t cap = 70000, i, j, n, full;
	unsigned char *a = malloc(cap), *b = malloc(cap), *enc = malloc(cap * 2), *dec = malloc(cap);
	mvms_codec *c = NULL;
	mvms_oid id;
	base_src src;
	uint8_t codec;

	memset(&id, 0x42, sizeof(id));
	if (!a || !b || !enc || !dec || mvms_codec_new(&c, 3) < 0) {
		ok(0, "round trips: set up");
		goto done;
	}
	for (i = 0; i < MVMS_ARRAY_SIZE(types); i++) {
		for (j = 0; j < MVMS_ARRAY_SIZE(lens); j++) {
			size_t len = lens[j];
			int good;
			drifted(a, b, len, types[i].name, 0.01, 11 + i * 10 + j);
			mvms_codec_encode_as(c, types[i].dt, &codec, &full, enc, cap * 2, b, len);
			if (mvms_codec_encode_delta(c, types[i].dt, &id, a, &n, enc, len, b, len) < 0 ||
			    n == 0) {
				ok(0, "%s, %zu bytes: a delta is made", types[i].name, len);
				continue;
			}
			memset(&src, 0, sizeof(src));
			src.bytes = a;
			src.len = len;
			mvms_codec_set_base(c, base_cb, &src);
			memset(dec, 0xa5, len);
			good = mvms_codec_stored_ok(MVMS_CODEC_DELTA, len, n) &&
			       memcmp(enc, id.id, 32) == 0 &&
			       mvms_codec_decode(c, dec, len, MVMS_CODEC_DELTA, enc, n) == 0 &&
			       memcmp(dec, b, len) == 0 && src.calls == 1;
			ok(good, "%s, %zu bytes: the delta (%zu bytes, full record %zu) decodes back "
			   "through its base", types[i].name, len, n, full);
			/* float32's low mantissa bytes are noise either way: less to gain. */
			ok(types[i].dt == MVMS_DTYPE_F32 ? n * 4 < full * 3 : n * 2 < full,
			   "%s, %zu bytes: 1%% drift: the delta is under %s the full record",
			   types[i].name, len, types[i].dt == MVMS_DTYPE_F32 ? "3/4 of" : "half");
			/* The same base again: read once, kept. */
			ok(mvms_codec_decode(c, dec, len, MVMS_CODEC_DELTA, enc, n) == 0 &&
			   src.calls == 1, "%s: the last base is kept for the next delta on it",
			   types[i].name);
		}
	}
	/* An XOR record (transform 0, inner zstd), as a writer may make one, decodes too. */
	{
		size_t len = 4096, z;
		unsigned char *x = malloc(len), *frame = malloc(ZSTD_compressBound(len) + 34);
		drifted(a, b, len, "BF16", 0.01, 77);
		for (z = 0; z < len; z++)
			x[z] = a[z] ^ b[z];
		memcpy(frame, id.id, 32);
		frame[32] = 0;
		frame[33] = MVMS_CODEC_ZSTD;
		z = ZSTD_compress(frame + 34, ZSTD_compressBound(len), x, len, 3);
		memset(&src, 0, sizeof(src));
		src.bytes = a;
		src.len = len;
		mvms_codec_set_base(c, base_cb, &src);
		ok(!ZSTD_isError(z) && z + 34 < len &&
		   mvms_codec_decode(c, dec, len, MVMS_CODEC_DELTA, frame, z + 34) == 0 &&
		   memcmp(dec, b, len) == 0, "an XOR delta record decodes through its base");
		free(x);
		free(frame);
	}
	/* Other dtypes get no delta, nor does a limit the delta cannot meet. */
	ok(mvms_codec_encode_delta(c, MVMS_DTYPE_I8, &id, a, &n, enc, 65536, b, 65536) == 0 &&
	   n == 0, "no delta for int8 bytes");
	ok(mvms_codec_encode_delta(c, MVMS_DTYPE_BF16, &id, a, &n, enc, 100, b, 65536) == 0 &&
	   n == 0, "no delta when it would not fit the limit");
done:
	mvms_codec_free(c);
	free(a);
	free(b);
	free(enc);
	free(dec);
}

static void test_bad_records(void)
{
	size_t len = 65536, n = 0;
	unsigned char *a = malloc(len), *b = malloc(len), *enc = malloc(len), *bad = malloc(len),
		      *dec = malloc(len);
	mvms_codec *c = NULL;
	mvms_oid id;
	base_src src;
	int rc;

	memset(&id, 7, sizeof(id));
	if (!a || !b || !enc || !bad || !dec || mvms_codec_new(&c, 3) < 0) {
		ok(0, "bad records: set up");
		goto done;
	}
	drifted(a, b, len, "BF16", 0.01, 5);
	if (mvms_codec_encode_delta(c, MVMS_DTYPE_BF16, &id, a, &n, enc, len, b, len) < 0 || !n) {
		ok(0, "bad records: a delta to spoil");
		goto done;
	}
	/* No way to read bases: refused, not guessed. */
	ok(mvms_codec_decode(c, dec, len, MVMS_CODEC_DELTA, enc, n) == MVMS_EINVALID,
	   "a codec without a store refuses a delta (EINVALID)");
	memset(&src, 0, sizeof(src));
	src.bytes = a;
	src.len = len;
	mvms_codec_set_base(c, base_cb, &src);
	ok(!mvms_codec_stored_ok(MVMS_CODEC_DELTA, len, 34) &&
	   !mvms_codec_stored_ok(MVMS_CODEC_DELTA, len, len) &&
	   mvms_codec_stored_ok(MVMS_CODEC_DELTA, len, 35) && mvms_codec_known(MVMS_CODEC_DELTA) &&
	   !mvms_codec_known(6), "a delta record is longer than its header and shorter than raw");
	ok(mvms_codec_decode(c, dec, len, MVMS_CODEC_DELTA, enc, 34) == MVMS_EMISMATCH,
	   "a record of its header alone is refused");
	ok(mvms_codec_decode(c, dec, 40, MVMS_CODEC_DELTA, enc, 40) == MVMS_EMISMATCH,
	   "a record as long as its raw length is refused");
	memcpy(bad, enc, n);
	bad[32] = 9;
	ok(mvms_codec_decode(c, dec, len, MVMS_CODEC_DELTA, bad, n) == MVMS_EMISMATCH,
	   "an unknown transform is refused");
	memcpy(bad, enc, n);
	bad[33] = MVMS_CODEC_RAW;
	ok(mvms_codec_decode(c, dec, len, MVMS_CODEC_DELTA, bad, n) == MVMS_EMISMATCH,
	   "a raw inner payload is refused");
	bad[33] = MVMS_CODEC_DELTA;
	ok(mvms_codec_decode(c, dec, len, MVMS_CODEC_DELTA, bad, n) == MVMS_EMISMATCH,
	   "a delta inside a delta (a chain) is refused");
	memcpy(bad, enc, n);
	bad[35] = 0x7f; /* the plane table's first method */
	ok(mvms_codec_decode(c, dec, len, MVMS_CODEC_DELTA, bad, n) == MVMS_EMISMATCH,
	   "a corrupt plane table inside is refused");
	memcpy(bad, enc, n);
	bad[n - 1] ^= 0x55;
	rc = mvms_codec_decode(c, dec, len, MVMS_CODEC_DELTA, bad, n);
	ok(rc == MVMS_EMISMATCH || (rc == 0 && memcmp(dec, b, len) != 0),
	   "a flipped byte inside decodes to an error or to other bytes (the hash check's)");
	ok(mvms_codec_decode(c, dec, len - 2, MVMS_CODEC_DELTA, enc, n) == MVMS_EMISMATCH,
	   "a base of another length is refused");
	src.fail = MVMS_ENOTFOUND;
	memset(&id, 8, sizeof(id));
	memcpy(bad, enc, n);
	memcpy(bad, id.id, 32);
	ok(mvms_codec_decode(c, dec, len, MVMS_CODEC_DELTA, bad, n) == MVMS_ENOTFOUND,
	   "a missing base is MVMS_ENOTFOUND");
done:
	mvms_codec_free(c);
	free(a);
	free(b);
	free(enc);
	free(bad);
	free(dec);
}

/* ---- in a store ---- */

/* The bytes of a pack of @st holding delta records (malloc()ed), or NULL. */
static unsigned char *delta_pack(size_t *len, mvms_store *st)
{
	static const char q[] = "SELECT p.oid FROM packs p JOIN chunks c ON c.pack_id = p.id "
				"WHERE c.codec = 5 LIMIT 1";
	sqlite3_stmt *s = NULL;
	char key[MVMS_KEY_MAX];
	mvms_oid id;
	void *data = NULL;

	if (sqlite3_prepare_v2(mvms_db_handle(st->db), q, -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW && mvms_db_column_oid(&id, s, 0) == 0) {
		mvms_object_key(key, sizeof(key), "packs", &id);
		if (mvms_backend_get_all(&data, len, st->be, key, 1u << 30) < 0)
			data = NULL;
	}
	sqlite3_finalize(s);
	return data;
}

/* mkdelta into @name/model.safetensors (argv after the output path). */
static const char *model(const char *name, const char *args)
{
	static char paths[16][600];
	static unsigned next;
	char *path = paths[next++ % 16], file[700], buf[400], *argv[24];
	int argc = 0;
	char *tok, *save = NULL;

	snprintf(path, sizeof(paths[0]), "%s/%s", dir, name);
	mkdir(path, 0755);
	snprintf(file, sizeof(file), "%s/model.safetensors", path);
	snprintf(buf, sizeof(buf), "%s", args);
	argv[argc++] = "mkdelta";
	argv[argc++] = file;
	for (tok = strtok_r(buf, " ", &save); tok && argc < 23; tok = strtok_r(NULL, " ", &save))
		argv[argc++] = tok;
	argv[argc] = NULL;
	return mkdelta_run(argc, argv) == 0 ? path : "/nonexistent";
}

static int push(mvms_push_result *r, mvms_store *st, const char *m, const char *path)
{
	mvms_push_options o = MVMS_PUSH_OPTIONS_INIT;

	return mvms_push(r, st, m, path, &o);
}

static int pulls_same(mvms_store *st, const char *spec, const char *src)
{
	mvms_pull_options po = MVMS_PULL_OPTIONS_INIT;
	mvms_pull_result pr;
	char out[600], cmd[1400];
	static int k;

	snprintf(out, sizeof(out), "%s/pulled-%d", dir, k++);
	if (mvms_pull(&pr, st, spec, out, &po) < 0) {
		diag("pull %s: %s", spec, mvms_error_last());
		return 0;
	}
	snprintf(cmd, sizeof(cmd), "cmp -s '%s/model.safetensors' '%s/model.safetensors'", src, out);
	return system(cmd) == 0;
}

static int verify_ok(mvms_store *st)
{
	mvms_verify_result vr;

	return mvms_store_verify(&vr, st, NULL, NULL, NULL) == 0 && vr.problems == 0;
}

/* A server (another store) checks a pack of deltas on arrival: refused, saying why, when it
 * lacks their bases; taken once it holds them (v1). */
static void test_receive(mvms_store *st, const char *v1)
{
	char d2[300];
	mvms_store *other = NULL;
	mvms_push_result r;
	unsigned char *pack;
	size_t len = 0;
	int rc;

	snprintf(d2, sizeof(d2), "%s/server", dir);
	if (!(pack = delta_pack(&len, st)) || mvms_store_init(&other, d2, NULL) < 0) {
		ok(0, "receive: set up");
		goto done;
	}
	rc = mvms_sync_receive_pack(NULL, other, pack, len, NULL);
	ok(rc < 0 && strstr(mvms_error_last(), "base") != NULL,
	   "a store without the bases refuses a pack of deltas (%s)", mvms_error_last());
	ok(push(&r, other, "acme/m", v1) == 0 &&
	   mvms_sync_receive_pack(NULL, other, pack, len, NULL) == 0,
	   "and takes it once it holds them (v1)");
	ok(verify_ok(other), "which then verifies");
done:
	free(pack);
	mvms_store_free(other);
}

static size_t zstd3(const char *path)
{
	char file[700];
	FILE *f;
	unsigned char *in, *out;
	size_t n, z;

	snprintf(file, sizeof(file), "%s/model.safetensors", path);
	if (!(f = fopen(file, "rb")))
		return 0;
	in = malloc(16u << 20);
	out = malloc(ZSTD_compressBound(16u << 20));
	n = fread(in, 1, 16u << 20, f);
	fclose(f);
	z = ZSTD_compress(out, ZSTD_compressBound(n), in, n, 3);
	free(in);
	free(out);
	return ZSTD_isError(z) ? 0 : z;
}

/* A base is not hashed when a delta is decoded through it (the delta's own hash covers it):
 * a damaged base must still fail the pull, never give other bytes, and verify finds it. */
static void test_damaged_base(mvms_store *st, const char *v2)
{
	sqlite3_stmt *q = mvms_db_stmt(st->db,
		"SELECT lower(hex(p.oid)), b.offset, b.stored_len FROM chunks d "
		"JOIN chunks b ON b.oid = d.base JOIN packs p ON p.id = b.pack_id "
		"WHERE d.base IS NOT NULL AND b.codec <> 0 ORDER BY b.stored_len DESC LIMIT 1");
	char path[700];
	long long at = -1;
	unsigned char byte = 0, flipped;
	FILE *f = NULL;

	if (q && sqlite3_step(q) == SQLITE_ROW) {
		const char *hex = (const char *)sqlite3_column_text(q, 0);
		snprintf(path, sizeof(path), "%s/objects/packs/%.2s/%s", dir, hex, hex);
		/* The record's last byte: inside its last plane or frame. */
		at = sqlite3_column_int64(q, 1) + MVMS_PACK_RECORD_HDR + sqlite3_column_int64(q, 2) - 1;
	}
	if (q)
		sqlite3_reset(q);
	if (at < 0 || !(f = fopen(path, "r+b")) || fseek(f, at, SEEK_SET) != 0 ||
	    fread(&byte, 1, 1, f) != 1) {
		ok(0, "damaged base: found a base record to damage");
		if (f)
			fclose(f);
		return;
	}
	flipped = (unsigned char)(byte ^ 0x5a);
	fseek(f, at, SEEK_SET);
	fwrite(&flipped, 1, 1, f);
	fflush(f);
	ok(!pulls_same(st, "acme/m@v2", v2), "damaged base: the pull of a delta on it fails (%s)",
	   mvms_error_last());
	ok(!verify_ok(st), "damaged base: verify reports it");
	fseek(f, at, SEEK_SET);
	fwrite(&byte, 1, 1, f);
	fclose(f);
	ok(pulls_same(st, "acme/m@v2", v2) && verify_ok(st), "mended: v2 pulls and verifies again");
}

static void test_store(void)
{
	mvms_store *st = NULL;
	mvms_push_result r, rf, rj;
	mvms_gc_result gr;
	mvms_model_delete_result mr;
	const char *v1, *v2, *v3, *junk;
	uint64_t raw;

	if (mvms_store_init(&st, dir, NULL) < 0) {
		ok(0, "init: %s", mvms_error_last());
		return;
	}
	v1 = model("v1", "--size 2097152 --tensors 8 --seed 1");
	ok(push(&r, st, "acme/m", v1) == 0 && r.delta_chunks == 0, "push v1: no parent, no delta");
	v2 = model("v2", "--size 2097152 --tensors 8 --seed 1 --drift 1");
	ok(push(&r, st, "acme/m", v2) == 0, "push v2 (every value drifted 1%%)");
	raw = r.logical_bytes;
	ok(r.delta_chunks > 0 && r.delta_chunks == r.new_chunks,
	   "every new chunk of v2 is a delta (%llu of %llu; the header is the same)",
	   (unsigned long long)r.delta_chunks, (unsigned long long)r.new_chunks);
	/* The same bytes as a model of their own (no parent): float tensors are cut on a grid
	 * whatever the parent, so every chunk is there already. */
	ok(push(&rf, st, "acme/full", v2) == 0 && rf.new_chunks == 0,
	   "v2 again as another model: deduplicated (its cuts do not depend on the parent)");
	{
		/* What the full plane records cost: v2 alone in a store of its own. */
		char d2[300];
		mvms_store *alone = NULL;
		snprintf(d2, sizeof(d2), "%s/alone", dir);
		ok(mvms_store_init(&alone, d2, NULL) == 0 && push(&rf, alone, "m", v2) == 0 &&
		   rf.delta_chunks == 0, "v2 in a store of its own: full records");
		mvms_store_free(alone);
	}
	junk = model("junk", "--size 262144 --tensors 2 --seed 77");
	ok(push(&rj, st, "acme/junk", junk) == 0, "push an unrelated model (gc will take it)");
	diag("drift 1%%: raw %llu, zstd -3 %zu, full planes %llu, delta %llu (%.3fx raw)",
	     (unsigned long long)raw, zstd3(v2), (unsigned long long)rf.new_stored_bytes,
	     (unsigned long long)r.new_stored_bytes, (double)r.new_stored_bytes / (double)raw);
	ok(r.new_stored_bytes * 100 <= raw * 35, "v2 stores at most 0.35x raw (%llu of %llu)",
	   (unsigned long long)r.new_stored_bytes, (unsigned long long)raw);
	ok(pulls_same(st, "acme/m@v2", v2), "v2 pulls byte-identical");
	ok(pulls_same(st, "acme/m@v1", v1), "v1 pulls byte-identical");
	ok(verify_ok(st), "verify decodes every delta through its base");
	test_receive(st, v1);

	/* v3 on v2: v2's chunks are deltas, so v3 diffs against their bases (no chains). */
	v3 = model("v3", "--size 2097152 --tensors 8 --seed 1 --drift 1 --drift-seed 9");
	ok(push(&r, st, "acme/m", v3) == 0 && r.delta_chunks > 0, "push v3: deltas against v1's "
	   "records (v2's bases)");
	ok(pulls_same(st, "acme/m@v3", v3), "v3 pulls byte-identical");

	/* gc: v1 and the other model go; their chunks are bases of v2's and v3's deltas. */
	ok(mvms_version_delete_ex(NULL, st, "acme/m@v1", NULL, 0) == 0 &&
	   mvms_model_delete(&mr, st, "acme/full", 0) == 0 &&
	   mvms_model_delete(&mr, st, "acme/junk", 0) == 0, "delete v1, acme/full and acme/junk");
	/* Everything two hours old, so gc may take whatever is unused (and rewrite v1's pack,
	 * which holds the header chunk v2 shares). */
	age_tree(dir, 7200);
	ok(mvms_db_exec(st->db, "UPDATE contents SET created_at = strftime('%s','now') - 7200; "
			"UPDATE packs SET created_at = strftime('%s','now') - 7200") == 0 &&
	   mvms_store_gc(&gr, st, 0, 0) == 0 && gr.chunks > 0,
	   "gc --grace 0 removes what only the deleted ones held");
	ok(pulls_same(st, "acme/m@v2", v2) && pulls_same(st, "acme/m@v3", v3),
	   "v2 and v3 still pull: gc kept the bases their deltas need");
	ok(verify_ok(st), "and verify finds nothing missing");
	test_damaged_base(st, v2);
	mvms_store_free(st);
}

static void test_changed_tensors(void)
{
	char d2[300], d3[300];
	mvms_store *st = NULL, *st2 = NULL;
	mvms_push_result r, r1, r2;
	const char *v1, *v2;

	snprintf(d2, sizeof(d2), "%s/chg", dir);
	snprintf(d3, sizeof(d3), "%s/chg2", dir);
	v1 = model("c1", "--size 4194304 --tensors 40 --seed 2");
	v2 = model("c2", "--size 4194304 --tensors 40 --seed 2 --change 10 --drift-seed 4");
	if (mvms_store_init(&st, d2, NULL) < 0 || mvms_store_init(&st2, d3, NULL) < 0) {
		ok(0, "init: %s", mvms_error_last());
		goto done;
	}
	ok(push(&r1, st, "base", v1) == 0 && push(&r, st, "base", v2) == 0,
	   "a 40-tensor model, then v2 with 10%% of its tensors changed on it");
	ok(push(&r1, st2, "a", v1) == 0 && push(&r2, st2, "b", v2) == 0,
	   "in another store, that v2 as an unrelated model (no parent: no delta)");
	diag("10%% of tensors changed: raw %llu, zstd -3 %zu, new stored without parent %llu "
	     "(%llu chunks), with %llu (%llu chunks, %llu deltas)",
	     (unsigned long long)r.logical_bytes, zstd3(v2), (unsigned long long)r2.new_stored_bytes,
	     (unsigned long long)r2.new_chunks, (unsigned long long)r.new_stored_bytes,
	     (unsigned long long)r.new_chunks, (unsigned long long)r.delta_chunks);
	ok(r.new_chunks * 5 < r.chunks, "unchanged tensors deduplicate (%llu of %llu chunks new)",
	   (unsigned long long)r.new_chunks, (unsigned long long)r.chunks);
	ok(r.new_stored_bytes <= r2.new_stored_bytes,
	   "a 10%%-changed v2 costs no more with deltas (%llu) than without (%llu)",
	   (unsigned long long)r.new_stored_bytes, (unsigned long long)r2.new_stored_bytes);
	ok(pulls_same(st, "base@v2", v2), "it pulls byte-identical");
done:
	mvms_store_free(st);
	mvms_store_free(st2);
}

/* A store of schema level 7 (before deltas: no chunks.base) is upgraded in place. */
static void test_old_store(void)
{
	char d2[300], dbp[320];
	mvms_store *st = NULL;
	sqlite3 *h = NULL;
	mvms_push_result r;
	const char *v1, *v2;
	int rc;

	snprintf(d2, sizeof(d2), "%s/old", dir);
	if (mvms_store_init(&st, d2, NULL) < 0) {
		ok(0, "init: %s", mvms_error_last());
		return;
	}
	v1 = model("o1", "--size 1048576 --tensors 4 --seed 3");
	ok(push(&r, st, "m", v1) == 0, "push v1");
	mvms_store_free(st);
	st = NULL;
	/* On a connection of its own: the store's has the log's temporary triggers, which name
	 * rollouts' columns, and SQLite refuses to drop a column a trigger uses. */
	snprintf(dbp, sizeof(dbp), "%s/store.db", d2);
	rc = sqlite3_open(dbp, &h);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(h, "DROP INDEX chunks_base; ALTER TABLE chunks DROP COLUMN base; "
				  "PRAGMA user_version = 7;", NULL, NULL, NULL);
	/* Level 13's columns too: its ALTER TABLE runs again on the way up. */
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(h, "ALTER TABLE rollouts DROP COLUMN shadow_first; ALTER TABLE "
				  "rollouts DROP COLUMN max_diff_rate; ALTER TABLE rollouts DROP "
				  "COLUMN shadowing;", NULL, NULL, NULL);
	sqlite3_close(h);
	ok(rc == SQLITE_OK, "make it a store from before deltas (level 7, no chunks.base)");
	ok(mvms_store_open(&st, d2, 0) == 0, "reopen: the schema is upgraded in place");
	if (!st)
		return;
	ok(pulls_same(st, "m@v1", v1) && verify_ok(st), "its records (codecs 0 to 4) read and verify");
	v2 = model("o2", "--size 1048576 --tensors 4 --seed 3 --drift 1");
	ok(push(&r, st, "m", v2) == 0 && r.delta_chunks > 0, "a drifted v2 is stored as deltas");
	ok(pulls_same(st, "m@v2", v2) && pulls_same(st, "m@v1", v1) && verify_ok(st),
	   "both versions pull and verify");
	mvms_store_free(st);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/mvms-test-delta-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	test_round_trips();
	test_bad_records();
	test_store();
	test_changed_tensors();
	test_old_store();
	rm_rf(dir);
	return done_testing();
}
