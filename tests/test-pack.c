/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the codec (zstd/raw round trips, level checks, corrupt frames) and for
 * packs written to and read from a local backend in a temporary directory: round trip,
 * pack id, and detection of corrupt records, index, trailer and truncation.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sodium.h>
#include "tap.h"
#include "testfs.h"
#include "testdata.h"
#include "common.h"
#include "hash.h"
#include "codec.h"
#include "pack.h"
#include "mvms/backend.h"

#define NCHUNKS 200

static int count_cb(const char *key, uint64_t size, void *payload)
{
	(void)key;
	(void)size;
	(*(int *)payload)++;
	return 0;
}

static int count_keys(mvms_backend *be, const char *prefix)
{
	int n = 0;

	if (be->list(be, prefix, count_cb, &n) < 0)
		return -1;
	return n;
}

static void test_codec(void)
{
	mvms_codec *c = NULL;
	unsigned char *src, *dst, *back;
	size_t len = 256 * 1024, out_len = 0;
	uint8_t codec = 99;

	is_int(mvms_codec_new(&c, 23), MVMS_EINVALID, "codec: level 23 rejected");
	ok(c == NULL, "codec: *out is NULL on error");
	is_int(mvms_codec_new(&c, -1), MVMS_EINVALID, "codec: level -1 rejected");
	is_int(mvms_codec_new(&c, 22), 0, "codec: level 22 accepted");
	mvms_codec_free(c);
	is_int(mvms_codec_new(&c, 1), 0, "codec: level 1 accepted");
	mvms_codec_free(c);
	mvms_codec_free(NULL);
	is_int(mvms_codec_new(&c, 0), 0, "codec: level 0 means default");
	ok(mvms_codec_bound(len) >= len, "codec: bound >= input");

	src = malloc(len);
	dst = malloc(mvms_codec_bound(len));
	back = malloc(len);

	fill_text(src, len, 1);
	is_int(mvms_codec_encode(c, &codec, &out_len, dst, mvms_codec_bound(len), src, len), 0,
	       "codec: encode text");
	is_int(codec, MVMS_CODEC_ZSTD, "codec: text is stored as zstd");
	ok(out_len < len / 4, "codec: text shrinks (%zu -> %zu)", len, out_len);
	is_int(mvms_codec_decode(c, back, len, codec, dst, out_len), 0, "codec: decode text");
	is_mem(back, src, len, "codec: text round trip");

	/* The same context again: contexts are reused across chunks. */
	is_int(mvms_codec_decode(c, back, len, codec, dst, out_len), 0, "codec: decode twice");
	is_int(mvms_codec_decode(c, back, len - 1, codec, dst, out_len), MVMS_EMISMATCH,
	       "codec: wrong raw length -> EMISMATCH");
	is_int(mvms_codec_decode(c, back, len, codec, dst, out_len - 1), MVMS_EMISMATCH,
	       "codec: truncated frame -> EMISMATCH");
	dst[0] ^= 0xff;
	is_int(mvms_codec_decode(c, back, len, codec, dst, out_len), MVMS_EMISMATCH,
	       "codec: bad frame magic -> EMISMATCH");
	ok(strncmp(mvms_error_last(), "codec: ", 7) == 0, "codec: message '%s'", mvms_error_last());
	dst[0] ^= 0xff;
	memset(dst + out_len / 2, 0xa5, out_len - out_len / 2);
	is_int(mvms_codec_decode(c, back, len, codec, dst, out_len), MVMS_EMISMATCH,
	       "codec: garbage in the frame body -> EMISMATCH");

	randombytes_buf(src, len);
	is_int(mvms_codec_encode(c, &codec, &out_len, dst, mvms_codec_bound(len), src, len), 0,
	       "codec: encode random");
	is_int(codec, MVMS_CODEC_RAW, "codec: random data stays raw");
	is_int(out_len, len, "codec: raw length");
	is_int(mvms_codec_decode(c, back, len, codec, dst, out_len), 0, "codec: decode raw");
	is_mem(back, src, len, "codec: raw round trip");
	is_int(mvms_codec_decode(c, back, len, codec, dst, len - 1), MVMS_EMISMATCH,
	       "codec: raw with wrong length -> EMISMATCH");
	is_int(mvms_codec_decode(c, back, len, 7, dst, len), MVMS_EINVALID,
	       "codec: unknown codec -> EINVALID");

	is_int(mvms_codec_encode(c, &codec, &out_len, dst, 16, src, 0), 0, "codec: empty input");
	ok(codec == MVMS_CODEC_RAW && out_len == 0, "codec: empty input is raw, 0 bytes");
	is_int(mvms_codec_encode(c, &codec, &out_len, dst, 10, src, 100), MVMS_EINVALID,
	       "codec: capacity below input -> EINVALID");

	free(src);
	free(dst);
	free(back);
	mvms_codec_free(c);
}

typedef struct {
	mvms_oid id;
	unsigned char *data;
	uint32_t len;
} chunk;

/* Rewrites index entry @i's offset inside @pack and fixes the trailer hash, so that only the
 * structural checks (not the hash) can catch it. */
static void forge_offset(unsigned char *pack, size_t size, uint32_t i, uint64_t offset)
{
	uint64_t index_offset = mvms_le64_get(pack + size - MVMS_PACK_TRAILER_SIZE);
	uint32_t n = mvms_le32_get(pack + size - MVMS_PACK_TRAILER_SIZE + 8);
	mvms_oid h;

	mvms_le64_put(pack + index_offset + (uint64_t)i * MVMS_PACK_INDEX_ENTRY + 32, offset);
	mvms_oid_hash(&h, pack + index_offset, (size_t)n * MVMS_PACK_INDEX_ENTRY);
	memcpy(pack + size - MVMS_PACK_TRAILER_SIZE + 16, h.id, MVMS_OID_RAWSZ);
}

static void test_pack(const char *dir)
{
	mvms_backend *be = NULL;
	mvms_codec *c = NULL;
	mvms_pack_writer *w = NULL;
	chunk ch[NCHUNKS];
	unsigned char *stored = NULL, *pack = NULL, *copy = NULL, *rec = NULL, *out = NULL;
	const mvms_pack_entry *we = NULL;
	mvms_pack_entry *re = NULL;
	size_t wcount = 0, rcount = 0, pack_len = 0, i;
	uint64_t size = 0, rsize = 0, index_offset, stat_size = 0;
	mvms_oid id, h, wrong;
	char key[MVMS_KEY_MAX], tmpdir[4096];
	int nraw = 0, nzstd = 0, good, err;
	uint32_t max_len = 0;

	snprintf(tmpdir, sizeof(tmpdir), "%s/tmp", dir);
	if (!ok(mvms_backend_local(&be, dir) == 0, "pack: local backend"))
		return;
	mvms_codec_new(&c, 0);

	for (i = 0; i < NCHUNKS; i++) {
		uint32_t len = 1 + (uint32_t)(randombytes_uniform(64 * 1024));
		/* Entry 1 is checked to be stored as zstd below: a few bytes of text would not
		 * shrink, so give it enough to compress. */
		if (i == 1 && len < 4096)
			len = 4096;

		if (i == 17)
			len = 3 * 1024 * 1024; /* bigger than the staging buffer */
		ch[i].len = len;
		ch[i].data = malloc(len);
		switch (i % 3) {
		case 0: randombytes_buf(ch[i].data, len); break;
		case 1: fill_text(ch[i].data, len, (unsigned)i); break;
		default: memset(ch[i].data, (int)i, len); break;
		}
		mvms_oid_hash(&ch[i].id, ch[i].data, len);
		if (len > max_len)
			max_len = len;
	}
	stored = malloc(mvms_codec_bound(max_len));
	out = malloc(max_len);

	is_int(mvms_pack_writer_new(&w, be), 0, "pack: writer_new");
	is_int(mvms_pack_writer_size(w), MVMS_PACK_HEADER_SIZE, "pack: size starts at header");
	good = 1;
	for (i = 0; i < NCHUNKS; i++) {
		uint8_t codec;
		size_t n;

		good &= mvms_codec_encode(c, &codec, &n, stored, mvms_codec_bound(ch[i].len),
					  ch[i].data, ch[i].len) == 0;
		good &= mvms_pack_writer_add(w, &ch[i].id, codec, ch[i].len, stored,
					     (uint32_t)n) == 0;
		if (codec == MVMS_CODEC_RAW)
			nraw++;
		else
			nzstd++;
	}
	ok(good, "pack: %d chunks added", NCHUNKS);
	ok(nraw > 0 && nzstd > 0, "pack: mixed codecs (%d raw, %d zstd)", nraw, nzstd);
	is_int(mvms_pack_writer_count(w), NCHUNKS, "pack: writer_count");
	is_int(mvms_pack_writer_add(w, &ch[0].id, 5, 1, "x", 1), MVMS_EINVALID,
	       "pack: add with unknown codec -> EINVALID");
	is_int(mvms_pack_writer_add(w, &ch[0].id, MVMS_CODEC_RAW, 2, "x", 1), MVMS_EINVALID,
	       "pack: raw add with stored != raw -> EINVALID");
	is_int(count_dir(tmpdir), 1, "pack: one temp file while writing");
	is_int(mvms_pack_writer_finish(&id, &size, &we, &wcount, w), 0, "pack: finish");
	is_int(wcount, NCHUNKS, "pack: finish count");
	is_int(count_dir(tmpdir), 0, "pack: no temp file after finish");
	is_int(mvms_pack_writer_finish(&id, &size, &we, &wcount, w), MVMS_EINVALID,
	       "pack: finish twice -> EINVALID");
	is_int(mvms_pack_writer_add(w, &ch[0].id, MVMS_CODEC_RAW, 1, "x", 1), MVMS_EINVALID,
	       "pack: add after finish -> EINVALID");

	mvms_object_key(key, sizeof(key), "packs", &id);
	is_int(be->stat(&stat_size, be, key), 0, "pack: committed under packs/<id>");
	is_int(stat_size, size, "pack: size matches");

	is_int(mvms_pack_read_index(&re, &rcount, &rsize, be, key, &id), 0, "pack: read_index");
	is_int(rcount, NCHUNKS, "pack: read_index count");
	is_int(rsize, size, "pack: read_index size");
	good = re != NULL && rcount == wcount;
	for (i = 0; good && i < rcount; i++)
		good = !mvms_oid_cmp(&re[i].id, &we[i].id) && re[i].offset == we[i].offset &&
		       re[i].raw_len == we[i].raw_len && re[i].stored_len == we[i].stored_len &&
		       re[i].codec == we[i].codec && !mvms_oid_cmp(&re[i].id, &ch[i].id);
	ok(good, "pack: read_index entries equal the writer's");

	good = 1;
	for (i = 0; good && i < rcount; i++) {
		size_t rl = MVMS_PACK_RECORD_HDR + re[i].stored_len;

		rec = malloc(rl);
		good = be->get(be, key, re[i].offset, rec, rl) == 0 &&
		       mvms_pack_decode_record(c, out, re[i].raw_len, &re[i].id, rec, rl) == 0 &&
		       memcmp(out, ch[i].data, ch[i].len) == 0;
		if (!good)
			diag("chunk %zu: %s", i, mvms_error_last());
		free(rec);
		rec = NULL;
	}
	ok(good, "pack: every record decodes to its chunk");

	/* The pack id is the hash of the index bytes, and the trailer carries it too. */
	is_int(mvms_backend_get_all((void **)&pack, &pack_len, be, key, SIZE_MAX), 0,
	       "pack: get_all");
	index_offset = mvms_le64_get(pack + pack_len - MVMS_PACK_TRAILER_SIZE);
	mvms_oid_hash(&h, pack + index_offset, pack_len - MVMS_PACK_TRAILER_SIZE - index_offset);
	ok(!mvms_oid_cmp(&h, &id), "pack: id is BLAKE2b-256 of the index");
	is_int(pack_len - MVMS_PACK_TRAILER_SIZE - index_offset,
	       (uint64_t)NCHUNKS * MVMS_PACK_INDEX_ENTRY, "pack: index is count * 49 bytes");
	is_mem(pack + pack_len - MVMS_PACK_TRAILER_SIZE + 16, id.id, 32, "pack: trailer hash");
	is_mem(pack, "MVMSPACK\1\0\0\0\0\0\0\0", 16, "pack: header bytes");
	is_mem(pack + pack_len - 8, "MVMSPEND", 8, "pack: trailer magic");

	/* decode_record: wrong chunk, short buffers, corrupt bytes. */
	{
		const mvms_pack_entry *e = &re[1]; /* text: zstd */
		const mvms_pack_entry *r = &re[0]; /* random: raw */
		size_t el = MVMS_PACK_RECORD_HDR + e->stored_len;
		size_t rl = MVMS_PACK_RECORD_HDR + r->stored_len;

		is_int(e->codec, MVMS_CODEC_ZSTD, "pack: entry 1 is zstd");
		is_int(r->codec, MVMS_CODEC_RAW, "pack: entry 0 is raw");
		copy = malloc(pack_len);
		memcpy(copy, pack, pack_len);
		is_int(mvms_pack_decode_record(c, out, e->raw_len, &e->id, copy + e->offset,
					       pack_len - e->offset), 0,
		       "pack: decode with extra bytes after the record");
		is_int(mvms_pack_decode_record(c, out, e->raw_len, &e->id, copy + e->offset,
					       el - 1), MVMS_EMISMATCH,
		       "pack: record cut short -> EMISMATCH");
		is_int(mvms_pack_decode_record(c, out, e->raw_len, &e->id, copy + e->offset, 40),
		       MVMS_EMISMATCH, "pack: header cut short -> EMISMATCH");
		is_int(mvms_pack_decode_record(c, out, e->raw_len, &r->id, copy + e->offset, el),
		       MVMS_EMISMATCH, "pack: record of another chunk -> EMISMATCH");
		is_int(mvms_pack_decode_record(c, out, e->raw_len + 1, &e->id, copy + e->offset,
					       el), MVMS_EMISMATCH,
		       "pack: wrong raw length -> EMISMATCH");

		copy[r->offset + MVMS_PACK_RECORD_HDR + r->stored_len / 2] ^= 1;
		err = mvms_pack_decode_record(c, out, r->raw_len, &r->id, copy + r->offset, rl);
		is_int(err, MVMS_EMISMATCH, "pack: flipped byte in raw record -> EMISMATCH");
		ok(strstr(mvms_error_last(), "hash mismatch") != NULL, "pack: message '%s'",
		   mvms_error_last());
		copy[e->offset + MVMS_PACK_RECORD_HDR + e->stored_len / 2] ^= 1;
		err = mvms_pack_decode_record(c, out, e->raw_len, &e->id, copy + e->offset, el);
		is_int(err, MVMS_EMISMATCH, "pack: flipped byte in zstd record -> EMISMATCH");
		ok(strncmp(mvms_error_last(), "pack: chunk ", 12) == 0, "pack: message '%s'",
		   mvms_error_last());
		memcpy(copy, pack, pack_len);
		copy[e->offset] = 9;
		is_int(mvms_pack_decode_record(c, out, e->raw_len, &e->id, copy + e->offset, el),
		       MVMS_EMISMATCH, "pack: unknown codec in record -> EMISMATCH");
	}

	/* read_index on damaged copies, each stored under its own key. */
	{
		mvms_pack_entry *bad = NULL;
		size_t bn = 7;
		uint64_t bs = 7;

		memset(&wrong, 0x42, sizeof(wrong));
		is_int(mvms_pack_read_index(&bad, &bn, &bs, be, key, &wrong), MVMS_EMISMATCH,
		       "pack: wrong expect_id -> EMISMATCH");

		memcpy(copy, pack, pack_len);
		copy[index_offset + 3 * MVMS_PACK_INDEX_ENTRY + 40] ^= 0x10;
		mvms_backend_put(be, "packs/zz/flipindex", copy, pack_len);
		err = mvms_pack_read_index(&bad, &bn, &bs, be, "packs/zz/flipindex", NULL);
		is_int(err, MVMS_EMISMATCH, "pack: flipped byte in index -> EMISMATCH");
		ok(bad == NULL && bn == 0, "pack: no entries on error");
		ok(strstr(mvms_error_last(), "packs/zz/flipindex") != NULL,
		   "pack: message names the key: '%s'", mvms_error_last());

		mvms_backend_put(be, "packs/zz/trunc", pack, pack_len - 1);
		is_int(mvms_pack_read_index(&bad, &bn, &bs, be, "packs/zz/trunc", NULL),
		       MVMS_EMISMATCH, "pack: truncated by one byte -> EMISMATCH");
		mvms_backend_put(be, "packs/zz/trunc2", pack, pack_len / 2);
		is_int(mvms_pack_read_index(&bad, &bn, &bs, be, "packs/zz/trunc2", NULL),
		       MVMS_EMISMATCH, "pack: truncated by half -> EMISMATCH");
		mvms_backend_put(be, "packs/zz/tiny", pack, 50);
		is_int(mvms_pack_read_index(&bad, &bn, &bs, be, "packs/zz/tiny", NULL),
		       MVMS_EMISMATCH, "pack: 50-byte object -> EMISMATCH");

		memcpy(copy, pack, pack_len);
		copy[pack_len - 1] = 'X';
		mvms_backend_put(be, "packs/zz/magic", copy, pack_len);
		is_int(mvms_pack_read_index(&bad, &bn, &bs, be, "packs/zz/magic", NULL),
		       MVMS_EMISMATCH, "pack: bad trailer magic -> EMISMATCH");

		memcpy(copy, pack, pack_len);
		copy[8] = 2;
		mvms_backend_put(be, "packs/zz/version", copy, pack_len);
		is_int(mvms_pack_read_index(&bad, &bn, &bs, be, "packs/zz/version", NULL),
		       MVMS_EMISMATCH, "pack: version 2 -> EMISMATCH");

		memcpy(copy, pack, pack_len);
		mvms_le32_put(copy + pack_len - MVMS_PACK_TRAILER_SIZE + 8, NCHUNKS - 1);
		mvms_backend_put(be, "packs/zz/count", copy, pack_len);
		is_int(mvms_pack_read_index(&bad, &bn, &bs, be, "packs/zz/count", NULL),
		       MVMS_EMISMATCH, "pack: count inconsistent with index offset -> EMISMATCH");

		/* Structural checks with a valid index hash. */
		memcpy(copy, pack, pack_len);
		forge_offset(copy, pack_len, 5, re[4].offset + 1);
		mvms_backend_put(be, "packs/zz/overlap", copy, pack_len);
		is_int(mvms_pack_read_index(&bad, &bn, &bs, be, "packs/zz/overlap", NULL),
		       MVMS_EMISMATCH, "pack: overlapping records -> EMISMATCH");
		memcpy(copy, pack, pack_len);
		forge_offset(copy, pack_len, 0, 4);
		mvms_backend_put(be, "packs/zz/inheader", copy, pack_len);
		is_int(mvms_pack_read_index(&bad, &bn, &bs, be, "packs/zz/inheader", NULL),
		       MVMS_EMISMATCH, "pack: record inside the header -> EMISMATCH");
		memcpy(copy, pack, pack_len);
		forge_offset(copy, pack_len, NCHUNKS - 1, index_offset - 10);
		mvms_backend_put(be, "packs/zz/intoindex", copy, pack_len);
		is_int(mvms_pack_read_index(&bad, &bn, &bs, be, "packs/zz/intoindex", NULL),
		       MVMS_EMISMATCH, "pack: record running into the index -> EMISMATCH");
		memcpy(copy, pack, pack_len);
		forge_offset(copy, pack_len, 0, UINT64_MAX - 5);
		mvms_backend_put(be, "packs/zz/huge", copy, pack_len);
		is_int(mvms_pack_read_index(&bad, &bn, &bs, be, "packs/zz/huge", NULL),
		       MVMS_EMISMATCH, "pack: offset near UINT64_MAX -> EMISMATCH");

		is_int(mvms_pack_read_index(&bad, &bn, &bs, be, "packs/zz/none", NULL),
		       MVMS_ENOTFOUND, "pack: missing pack -> ENOTFOUND");
	}

	/* Empty and abandoned writers leave nothing behind. */
	mvms_pack_writer_free(w);
	w = NULL;
	is_int(count_keys(be, "packs/"), 12, "pack: 1 pack + 11 damaged copies");
	is_int(mvms_pack_writer_new(&w, be), 0, "pack: second writer");
	is_int(mvms_pack_writer_finish(&id, &size, &we, &wcount, w), MVMS_EINVALID,
	       "pack: empty pack -> EINVALID");
	mvms_pack_writer_free(w);
	is_int(mvms_pack_writer_new(&w, be), 0, "pack: third writer");
	is_int(mvms_pack_writer_add(w, &ch[1].id, MVMS_CODEC_RAW, ch[1].len, ch[1].data,
				    ch[1].len), 0, "pack: add one chunk");
	mvms_pack_writer_free(w);
	w = NULL;
	mvms_pack_writer_free(NULL);
	is_int(count_keys(be, "packs/"), 12, "pack: unfinished writers commit nothing");
	is_int(count_dir(tmpdir), 0, "pack: unfinished writers leave no temp file");

	for (i = 0; i < NCHUNKS; i++)
		free(ch[i].data);
	free(re);
	free(stored);
	free(out);
	free(pack);
	free(copy);
	mvms_codec_free(c);
	mvms_backend_free(be);
}

int main(void)
{
	char dir[] = "/tmp/mvms-test-pack-XXXXXX";

	if (sodium_init() < 0 || !mkdtemp(dir)) {
		printf("Bail out! setup\n");
		return 1;
	}
	test_codec();
	test_pack(dir);
	rm_rf(dir);
	return done_testing();
}
