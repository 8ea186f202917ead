/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the GGUF and ONNX tensor layouts and of format detection (tlayout.c):
 * valid files made by tests/tfgen.h, every truncation point, bad counts and lengths,
 * misaligned data, unknown types, the side-file layout of ONNX external data, and a few
 * thousand random mutations (run under ASan).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "mvms/errors.h"
#include "common.h"
#include "gguf.h"
#include "onnx.h"
#include "tlayout.h"
#include "tap.h"
#include "tfgen.h"

/* What every layout promises (the fuzz targets check the same). */
static int sane(const mvms_tlayout *l, uint64_t size)
{
	size_t i;

	if (l->header_end > size)
		return 0;
	for (i = 0; i < l->count; i++) {
		const mvms_tensor_info *t = &l->tensors[i];
		if (!t->name || !t->shape || t->offset > size || t->length > size - t->offset)
			return 0;
		if (i && l->tensors[i - 1].length && t->length &&
		    l->tensors[i - 1].offset + l->tensors[i - 1].length > t->offset)
			return 0;
	}
	return 1;
}

static int probe(mvms_tlayout **l, const char *name, const tf_buf *b, size_t n)
{
	int rc = mvms_tlayout_probe_mem(l, name, b->p, n);

	if (rc == 0 && !sane(*l, n))
		return -1000;
	return rc;
}

static void refused(const char *name, const tf_buf *b, const char *what)
{
	mvms_tlayout *l = NULL;
	int rc = probe(&l, name, b, b->n);

	ok(rc == MVMS_ENOTFOUND && l == NULL, "refused: %s (%s)", what, mvms_error_last());
	mvms_tlayout_free(l);
	mvms_error_clear();
}

/* Every prefix of a valid file is refused, and none crashes. */
static void truncations(const char *name, const tf_buf *b, const char *what)
{
	size_t k, bad = 0;

	for (k = 0; k < b->n; k++) {
		mvms_tlayout *l = NULL;
		int rc = probe(&l, name, b, k);
		if (rc != MVMS_ENOTFOUND || l) {
			if (!bad)
				diag("%s: prefix of %zu bytes: rc %d", what, k, rc);
			bad++;
		}
		mvms_tlayout_free(l);
		mvms_error_clear();
	}
	ok(bad == 0, "%s: each of %zu truncation points refused", what, b->n);
}

/* Random byte changes: whatever the parser says, it keeps its promises. */
static void mutations(const char *name, const tf_buf *b, unsigned rounds)
{
	unsigned char *p = malloc(b->n);
	unsigned r, seed = 12345, broken = 0, accepted = 0;

	if (!p)
		exit(99);
	for (r = 0; r < rounds; r++) {
		mvms_tlayout *l = NULL;
		unsigned k, changes = 1 + r % 4;
		int rc;
		memcpy(p, b->p, b->n);
		for (k = 0; k < changes; k++) {
			seed = seed * 1103515245u + 12345u;
			p[(seed >> 8) % b->n] = (unsigned char)(seed >> 20);
		}
		rc = mvms_tlayout_probe_mem(&l, name, p, b->n);
		if (rc == 0) {
			accepted++;
			if (!sane(l, b->n))
				broken++;
		} else if (rc != MVMS_ENOTFOUND || l) {
			broken++;
		}
		mvms_tlayout_free(l);
		mvms_error_clear();
	}
	ok(broken == 0, "%s: %u mutations keep the promises (%u accepted)", name, rounds, accepted);
	free(p);
}

/* ---- GGUF ---- */

static const gguf_tensor gt[] = {
	{ "token_embd.weight", 0, 2, { 8, 3 }, 8 * 3 * 4 },      /* F32 */
	{ "blk.0.attn_q.weight", 12, 2, { 512, 2 }, 2 * 2 * 144 }, /* Q4_K */
	{ "blk.0.ffn_norm.weight", 1, 1, { 5 }, 10 },             /* F16 */
	{ "output.weight", 30, 3, { 4, 2, 2 }, 32 },              /* BF16 */
	{ "q8", 8, 1, { 64 }, 2 * 34 },                           /* Q8_0 */
};

static void gguf_valid(void)
{
	tf_buf b = { 0 };
	mvms_tlayout *l = NULL;
	int rc;

	gguf_build(&b, gt, 5, 0);
	rc = probe(&l, "x.bin", &b, b.n); /* the name does not matter for GGUF */
	ok(rc == 0 && l && l->format == MVMS_TFORMAT_GGUF && l->count == 5, "GGUF parsed: 5 tensors");
	if (rc == 0) {
		const mvms_tensor_info *t = l->tensors;
		ok(l->header_end % 32 == 0 && t[0].offset == l->header_end, "data starts 32-aligned");
		ok(strcmp(t[0].name, "token_embd.weight") == 0 && strcmp(t[0].dtype, "F32") == 0 &&
		   strcmp(t[0].shape, "[8,3]") == 0 && t[0].length == 96 &&
		   t[0].dtype_id == MVMS_DTYPE_F32, "F32 tensor: name, dtype, shape, length");
		ok(strcmp(t[1].dtype, "Q4_K") == 0 && t[1].length == 576 && t[1].dtype_id == MVMS_DTYPE_UNKNOWN &&
		   t[1].offset == l->header_end + 96, "Q4_K tensor: 256-element blocks of 144 bytes");
		ok(strcmp(t[2].dtype, "F16") == 0 && t[2].dtype_id == MVMS_DTYPE_F16 &&
		   t[2].offset % 32 == 0, "F16 tensor aligned after the one before");
		ok(strcmp(t[3].dtype, "BF16") == 0 && t[3].dtype_id == MVMS_DTYPE_BF16 &&
		   strcmp(t[3].shape, "[4,2,2]") == 0, "BF16 tensor of 3 dims");
		ok(t[4].offset + t[4].length == b.n && strcmp(t[4].dtype, "Q8_0") == 0,
		   "last tensor ends the file");
		ok(b.p[t[1].offset] == (unsigned char)((0 + 2 * 7919u) & 0xff), "offset points at the data");
	}
	mvms_tlayout_free(l);
	truncations("g.gguf", &b, "GGUF");
	mutations("g.gguf", &b, 3000);
	free(b.p);

	memset(&b, 0, sizeof(b));
	gguf_build(&b, gt, 5, 64);
	l = NULL;
	rc = probe(&l, NULL, &b, b.n);
	ok(rc == 0 && l->header_end % 64 == 0 && l->tensors[2].offset % 64 == 0 &&
	   l->tensors[2].offset != l->header_end + 96 + 576, "general.alignment 64 is followed");
	mvms_tlayout_free(l);
	free(b.p);

	/* The newest ggml types: MXFP4 (39), NVFP4 (40), Q1_0 (41), Q2_0 (42). */
	{
		static const gguf_tensor nt[] = {
			{ "mx", 39, 1, { 64 }, 2 * 17 }, { "nv", 40, 2, { 128, 2 }, 4 * 36 },
			{ "q1", 41, 1, { 256 }, 2 * 18 }, { "q2", 42, 1, { 64 }, 18 },
		};
		memset(&b, 0, sizeof(b));
		gguf_build(&b, nt, 4, 0);
		l = NULL;
		rc = probe(&l, NULL, &b, b.n);
		ok(rc == 0 && l->count == 4 && strcmp(l->tensors[1].dtype, "NVFP4") == 0 &&
		   l->tensors[1].length == 144 && strcmp(l->tensors[3].dtype, "Q2_0") == 0,
		   "MXFP4, NVFP4, Q1_0 and Q2_0 blocks");
		mvms_tlayout_free(l);
		free(b.p);
	}

	memset(&b, 0, sizeof(b));
	gguf_build(&b, gt, 0, 0);
	l = NULL;
	rc = probe(&l, NULL, &b, b.n);
	ok(rc == 0 && l->count == 0, "GGUF with no tensors (header only)");
	mvms_tlayout_free(l);
	free(b.p);
}

/* Offset of the first tensor info's field: after the header and the key/values. */
static size_t gguf_info_off(const tf_buf *b, int align)
{
	/* 4 + 4 + 8 + 8, "general.architecture"="llama", the token array, alignment. */
	size_t n = 24 + (8 + 20 + 4 + 8 + 5) + (8 + 21 + 4 + 4 + 8 + 9 + 10 + 11);

	if (align)
		n += 8 + 17 + 4 + 4;
	(void)b;
	return n;
}

static void gguf_bad(void)
{
	gguf_tensor one[2] = { { "a", 0, 1, { 8 }, 32 }, { "b", 0, 1, { 8 }, 32 } };
	tf_buf b = { 0 };
	size_t info;

	gguf_build(&b, one, 2, 0);
	info = gguf_info_off(&b, 0);
	if (!ok(memcmp(b.p + info + 8, "a", 1) == 0, "test knows where the tensor infos are"))
		return;
#define MUT(stmt, what)                                                                   \
	do {                                                                              \
		tf_buf m = { 0 };                                                         \
		tf_put(&m, b.p, b.n);                                                     \
		stmt;                                                                     \
		refused("m.gguf", &m, what);                                              \
		free(m.p);                                                                \
	} while (0)
	MUT(mvms_le32_put(m.p + 4, 1), "version 1");
	MUT(mvms_le32_put(m.p + 4, 4), "version 4");
	MUT(mvms_le64_put(m.p + 8, (uint64_t)1 << 40), "tensor count 2^40");
	MUT(mvms_le64_put(m.p + 8, 3), "tensor count one more than the infos");
	MUT(mvms_le64_put(m.p + 16, (uint64_t)1 << 40), "key/value count 2^40");
	MUT(mvms_le64_put(m.p + 24, UINT64_MAX), "key length 2^64-1");
	MUT(mvms_le64_put(m.p + 24 + 8 + 20 + 4, (uint64_t)1 << 50), "string value length 2^50");
	MUT(mvms_le32_put(m.p + 24 + 8 + 20, 13), "unknown value type 13");
	MUT(mvms_le64_put(m.p + 69 + 8 + 21 + 4 + 4, (uint64_t)1 << 61), "array count 2^61");
	MUT(mvms_le32_put(m.p + 69 + 8 + 21 + 4, 42), "unknown array element type");
	MUT(mvms_le64_put(m.p + info, 0), "empty tensor name");
	MUT(mvms_le64_put(m.p + info, 1u << 20), "tensor name 1 MiB long");
	MUT(m.p[info + 8] = 0xff, "tensor name not UTF-8");
	MUT(mvms_le32_put(m.p + info + 9, 0), "0 dimensions");
	MUT(mvms_le32_put(m.p + info + 9, 5), "5 dimensions");
	MUT(mvms_le64_put(m.p + info + 13, UINT64_MAX), "dimension 2^64-1");
	MUT(mvms_le32_put(m.p + info + 21, 4), "removed ggml type 4 (Q4_2)");
	MUT(mvms_le32_put(m.p + info + 21, 1000), "unknown ggml type 1000");
	MUT(mvms_le32_put(m.p + info + 21, 2), "Q4_0 with 8 elements (not a whole block)");
	MUT(mvms_le64_put(m.p + info + 25, 8), "misaligned tensor offset");
	MUT(mvms_le64_put(m.p + info + 25, 1024), "tensor data past the end of the file");
	MUT(mvms_le64_put(m.p + info + 33 + 25, 0), "two tensors at one offset (overlap)");
	MUT(m.p[info + 33 + 8] = 'a', "two tensors of one name");
#undef MUT
	free(b.p);

	/* general.alignment: not a power of two, not a u32, twice. */
	{
		static const uint32_t bad_align[] = { 48, 0, 3 };
		size_t i, at;
		for (i = 0; i < 3; i++) {
			memset(&b, 0, sizeof(b));
			gguf_build(&b, one, 2, 64);
			at = gguf_info_off(&b, 1) - 4;
			mvms_le32_put(b.p + at, bad_align[i]);
			refused("m.gguf", &b, "general.alignment not a power of two");
			if (i == 0) {
				mvms_le32_put(b.p + at, 64);
				mvms_le32_put(b.p + at - 4, 5); /* i32 */
				refused("m.gguf", &b, "general.alignment not a u32");
			}
			free(b.p);
		}
	}
	/* Arrays of arrays: followed 8 deep, refused deeper. */
	{
		int depth;
		for (depth = 7; depth <= 9; depth += 2) {
			mvms_tlayout *l = NULL;
			int d, rc;
			memset(&b, 0, sizeof(b));
			tf_put(&b, "GGUF", 4);
			tf_u32(&b, 3);
			tf_u64(&b, 0);
			tf_u64(&b, 1);
			gguf_str(&b, "nested");
			tf_u32(&b, 9);
			for (d = 1; d < depth; d++) {
				tf_u32(&b, 9);
				tf_u64(&b, 1);
			}
			tf_u32(&b, 4);
			tf_u64(&b, 1);
			tf_u32(&b, 7);
			rc = probe(&l, NULL, &b, b.n);
			if (depth == 7)
				ok(rc == 0, "arrays nested 7 deep are read");
			else
				ok(rc == MVMS_ENOTFOUND, "arrays nested 9 deep are refused");
			mvms_tlayout_free(l);
			mvms_error_clear();
			free(b.p);
		}
	}
}

/* ---- ONNX ---- */

static void onnx_file(tf_buf *b, int external)
{
	tf_buf g = { 0 };
	static const uint64_t d23[] = { 2, 3 }, d4[] = { 4 }, d5[] = { 5 };

	onnx_raw_tensor(&g, "conv.weight", 1, d23, 2, 24, 1);
	onnx_raw_tensor(&g, "half", 10, d4, 1, 8, 2);
	onnx_raw_tensor(&g, "bf", 16, d5, 1, 10, 3);
	onnx_raw_tensor(&g, "scalar", 7, NULL, 0, 8, 4);
	if (external) {
		onnx_ext_tensor(&g, "ext.a", 1, d23, 2, "model.onnx.data", "0", "24");
		onnx_ext_tensor(&g, "ext.b", 10, d4, 1, "./model.onnx.data", "4096", NULL);
	}
	onnx_model(b, &g);
}

static void onnx_valid(void)
{
	tf_buf b = { 0 };
	mvms_tlayout *l = NULL;
	int rc;

	onnx_file(&b, 1);
	rc = probe(&l, "dir/model.onnx", &b, b.n);
	ok(rc == 0 && l->format == MVMS_TFORMAT_ONNX && l->count == 4 && l->ext_count == 2,
	   "ONNX parsed: 4 raw tensors, 2 external, the int64_data one skipped");
	if (rc == 0) {
		const mvms_tensor_info *t = l->tensors;
		ok(strcmp(t[0].name, "conv.weight") == 0 && strcmp(t[0].dtype, "FLOAT") == 0 &&
		   strcmp(t[0].shape, "[2,3]") == 0 && t[0].length == 24 && t[0].dtype_id == MVMS_DTYPE_F32,
		   "FLOAT tensor: name, dtype, shape, length");
		ok(b.p[t[0].offset] == (unsigned char)(7919u & 0xff) &&
		   b.p[t[1].offset] == (unsigned char)((2 * 7919u) & 0xff), "offsets point at raw_data");
		ok(strcmp(t[1].dtype, "FLOAT16") == 0 && t[1].dtype_id == MVMS_DTYPE_F16 &&
		   strcmp(t[2].dtype, "BFLOAT16") == 0 && t[2].dtype_id == MVMS_DTYPE_BF16,
		   "FLOAT16 and BFLOAT16");
		ok(strcmp(t[3].shape, "[]") == 0 && strcmp(t[3].dtype, "INT64") == 0, "a scalar");
		ok(strcmp(l->ext[0].location, "model.onnx.data") == 0 && l->ext[0].offset == 0 &&
		   l->ext[0].length == 24 && l->ext[1].offset == 4096 && l->ext[1].length == 8 &&
		   strcmp(l->ext[1].shape, "[4]") == 0, "external data: location, offset, length (computed)");
	}
	mvms_tlayout_free(l);
	l = NULL;
	ok(probe(&l, "dir/model.bin", &b, b.n) == MVMS_ENOTFOUND && !l,
	   "the same bytes not named .onnx are plain bytes");
	mvms_error_clear();
	truncations("m.onnx", &b, "ONNX");
	mutations("m.onnx", &b, 3000);
	free(b.p);
}

/* Packed float_data and double_data are raw bytes (older exporters write them); in pieces
 * or under another type they are left to the chunks; with raw_data too, refused. */
static void typed_tensor(tf_buf *g, const char *name, unsigned dtype, unsigned field,
			 size_t len, int pieces)
{
	tf_buf t = { 0 }, raw = { 0 };
	static const uint64_t dims[] = { 8 };

	pb_uint(&t, 1, dims[0]);
	pb_uint(&t, 2, dtype);
	pb_str(&t, 8, name);
	tf_pattern(&raw, len, 5);
	if (pieces) {
		pb_bytes(&t, field, raw.p, len / 2);
		pb_bytes(&t, field, raw.p + len / 2, len - len / 2);
	} else {
		pb_bytes(&t, field, raw.p, len);
	}
	free(raw.p);
	pb_msg(g, 5, &t);
}

static void onnx_typed(void)
{
	tf_buf b = { 0 }, g = { 0 };
	mvms_tlayout *l = NULL;
	size_t fo;
	int rc;

	typed_tensor(&g, "f", 1, 4, 32, 0);        /* FLOAT, float_data */
	typed_tensor(&g, "d", 11, 10, 64, 0);      /* DOUBLE, double_data */
	typed_tensor(&g, "split", 1, 4, 32, 1);    /* float_data in two pieces */
	typed_tensor(&g, "odd", 6, 4, 32, 0);      /* float_data under INT32 */
	onnx_model(&b, &g);
	rc = probe(&l, "t.onnx", &b, b.n);
	ok(rc == 0 && l->count == 2, "packed float_data and double_data are tensors; in pieces "
	   "or under another type they are not (%zu)", l ? l->count : 0);
	if (rc == 0 && l->count == 2) {
		const mvms_tensor_info *t = l->tensors;
		fo = (size_t)t[0].offset;
		ok(strcmp(t[0].name, "f") == 0 && strcmp(t[0].dtype, "FLOAT") == 0 &&
		   t[0].length == 32 && t[0].dtype_id == MVMS_DTYPE_F32 && fo + 32 <= b.n &&
		   b.p[fo] == (unsigned char)(5 * 7919u & 0xff), "float_data: FLOAT, its bytes");
		ok(strcmp(t[1].name, "d") == 0 && strcmp(t[1].dtype, "DOUBLE") == 0 &&
		   t[1].length == 64, "double_data: DOUBLE, 64 bytes");
	}
	mvms_tlayout_free(l);
	l = NULL;
	free(b.p);
	memset(&b, 0, sizeof(b));
	typed_tensor(&g, "f", 1, 4, 24, 0);        /* 6 floats for dims [8] */
	onnx_model(&b, &g);
	ok(probe(&l, "t.onnx", &b, b.n) < 0 && !l, "float_data shorter than dims x type: refused");
	mvms_error_clear();
	free(b.p);
	memset(&b, 0, sizeof(b));
	{
		tf_buf t = { 0 }, raw = { 0 };
		pb_uint(&t, 1, 8);
		pb_uint(&t, 2, 1);
		pb_str(&t, 8, "both");
		tf_pattern(&raw, 32, 6);
		pb_bytes(&t, 9, raw.p, 32);
		pb_bytes(&t, 4, raw.p, 32);
		free(raw.p);
		pb_msg(&g, 5, &t);
	}
	onnx_model(&b, &g);
	ok(probe(&l, "t.onnx", &b, b.n) < 0 && !l, "raw_data and float_data both: refused");
	mvms_error_clear();
	mutations("t.onnx", &b, 500);
	free(b.p);
}

static void onnx_bad(void)
{
	static const uint64_t d23[] = { 2, 3 }, neg[] = { UINT64_MAX }, big[] = { 1u << 31, 1u << 31, 1u << 31 };
	tf_buf g = { 0 }, m = { 0 }, t = { 0 };
	uint64_t dims[40];
	unsigned i;

#define ONE(build, what)                                                                  \
	do {                                                                              \
		memset(&g, 0, sizeof(g));                                                 \
		memset(&m, 0, sizeof(m));                                                 \
		build;                                                                    \
		onnx_model(&m, &g);                                                       \
		refused("m.onnx", &m, what);                                              \
		free(m.p);                                                                \
	} while (0)
	ONE(onnx_raw_tensor(&g, "w", 1, d23, 2, 20, 1), "raw_data shorter than dims x type");
	ONE(onnx_raw_tensor(&g, "w", 1, neg, 1, 4, 1), "negative dimension");
	ONE(onnx_raw_tensor(&g, "w", 1, big, 3, 4, 1), "dimensions overflow");
	for (i = 0; i < 40; i++)
		dims[i] = 1;
	ONE(onnx_raw_tensor(&g, "w", 1, dims, 40, 4, 1), "40 dimensions");
	ONE(onnx_raw_tensor(&g, "w", 8, d23, 2, 24, 1), "a STRING tensor with raw_data");
	ONE(onnx_raw_tensor(&g, "w", 0, d23, 2, 24, 1), "data_type UNDEFINED");
	ONE((onnx_raw_tensor(&g, "w", 1, d23, 2, 24, 1), onnx_raw_tensor(&g, "w", 1, d23, 2, 24, 2)),
	    "two initializers of one name");
	ONE(onnx_ext_tensor(&g, "w", 1, d23, 2, "../w.bin", "0", "24"), "external location with ..");
	ONE(onnx_ext_tensor(&g, "w", 1, d23, 2, "/etc/w.bin", "0", "24"), "absolute external location");
	ONE(onnx_ext_tensor(&g, "w", 1, d23, 2, "a//w.bin", "0", "24"), "empty path segment");
	ONE(onnx_ext_tensor(&g, "w", 1, d23, 2, "w.bin", "12x", "24"), "offset not a number");
	ONE(onnx_ext_tensor(&g, "w", 1, d23, 2, "w.bin", "99999999999999999999999", "24"),
	    "offset overflows");
	ONE(onnx_ext_tensor(&g, "w", 1, d23, 2, "w.bin", "0", "25"), "external length not dims x type");
	ONE(onnx_ext_tensor(&g, "w", 200, d23, 2, "w.bin", "0", NULL), "unknown type, no length");
	/* A name given twice, raw_data and external data together, a group, a long varint. */
	ONE((pb_uint(&t, 2, 1), pb_str(&t, 8, "a"), pb_str(&t, 8, "b"), pb_msg(&g, 5, &t)),
	    "tensor name given twice");
	ONE((pb_uint(&t, 2, 2), pb_str(&t, 8, "a"), pb_bytes(&t, 9, "x", 1), onnx_kv(&t, "location", "w"),
	     pb_uint(&t, 14, 1), pb_msg(&g, 5, &t)), "raw_data and external data");
	ONE((pb_uint(&t, 2, 2), pb_str(&t, 8, "a"), onnx_kv(&t, "location", "w"), pb_msg(&g, 5, &t)),
	    "external data without data_location EXTERNAL");
	ONE((pb_tag(&g, 9, 3), pb_tag(&g, 9, 4)), "a group (wire type 3)");
	ONE((pb_tag(&g, 2, 0), tf_put(&g, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11)),
	    "an 11-byte varint");
	ONE((pb_tag(&g, 2, 2), pb_varint(&g, (uint64_t)1 << 40)), "a length past the file");
#undef ONE
	/* No graph, two graphs. */
	memset(&m, 0, sizeof(m));
	pb_uint(&m, 1, 8);
	refused("m.onnx", &m, "a model without a graph");
	memset(&g, 0, sizeof(g));
	pb_str(&g, 2, "g");
	pb_msg(&m, 7, &g);
	pb_str(&g, 2, "g");
	pb_msg(&m, 7, &g);
	refused("m.onnx", &m, "two graphs");
	free(m.p);

	/* A type newer than the reader: its raw_data length still gives the boundary. */
	{
		mvms_tlayout *l = NULL;
		memset(&g, 0, sizeof(g));
		memset(&m, 0, sizeof(m));
		onnx_raw_tensor(&g, "w", 200, d23, 2, 7, 1);
		onnx_model(&m, &g);
		ok(probe(&l, "m.onnx", &m, m.n) == 0 && l->count == 1 && strcmp(l->tensors[0].dtype, "TYPE200") == 0 &&
		   l->tensors[0].length == 7 && l->tensors[0].dtype_id == MVMS_DTYPE_UNKNOWN,
		   "unknown data_type: kept as TYPE200 with its raw_data length");
		mvms_tlayout_free(l);
		free(m.p);
	}
}

/* ---- ONNX: tensors of nodes (Constant) and of subgraphs (If branches) ---- */

/* A TensorProto of @len bytes of raw_data (pattern @seed), own name @tname. */
static void node_tensor(tf_buf *t, unsigned dtype, uint64_t dim, size_t len, unsigned seed,
			const char *tname)
{
	tf_buf d = { 0 }, raw = { 0 };

	pb_varint(&d, dim);
	pb_msg(t, 1, &d);
	pb_uint(t, 2, dtype);
	pb_str(t, 8, tname);
	tf_pattern(&raw, len, seed);
	pb_bytes(t, 9, raw.p, raw.n);
	free(raw.p);
}

/* A Constant node with output @out (none if NULL) holding @len bytes of FLOAT; @late: the
 * attribute is written before the output. */
static void const_node(tf_buf *g, const char *out, size_t len, unsigned seed, int late)
{
	tf_buf node = { 0 }, attr = { 0 }, t = { 0 };

	node_tensor(&t, 1, len / 4, len, seed, "w");
	pb_str(&attr, 1, "value");
	pb_uint(&attr, 20, 4);
	pb_msg(&attr, 5, &t);
	if (out && !late)
		pb_str(&node, 2, out);
	pb_str(&node, 4, "Constant");
	pb_msg(&node, 5, &attr);
	if (out && late)
		pb_str(&node, 2, out);
	pb_msg(g, 1, &node);
}

/* An If node whose two branches are @then_g and @else_g. */
static void if_node(tf_buf *g, tf_buf *then_g, tf_buf *else_g)
{
	tf_buf node = { 0 }, a = { 0 };

	pb_str(&node, 1, "cond");
	pb_str(&node, 2, "if.out");
	pb_str(&node, 4, "If");
	pb_str(&a, 1, "then_branch");
	pb_msg(&a, 6, then_g);
	pb_msg(&node, 5, &a);
	if (else_g) {
		pb_str(&a, 1, "else_branch");
		pb_msg(&a, 6, else_g);
		pb_msg(&node, 5, &a);
	}
	pb_msg(g, 1, &node);
}

/* Graphs nested @levels deep below the model's graph, a Constant in the innermost. */
static void nested(tf_buf *m, unsigned levels)
{
	tf_buf g = { 0 }, outer;
	unsigned k;

	const_node(&g, "deep", 1024, 9, 0);
	for (k = 0; k < levels; k++) {
		memset(&outer, 0, sizeof(outer));
		if_node(&outer, &g, NULL);
		g = outer;
	}
	memset(m, 0, sizeof(*m));
	onnx_model(m, &g);
}

static void onnx_nodes(void)
{
	static const uint64_t d64[] = { 64 }, d300[] = { 300 };
	tf_buf g = { 0 }, m = { 0 }, then_g = { 0 }, else_g = { 0 }, node = { 0 }, attr = { 0 };
	tf_buf t = { 0 };
	mvms_tlayout *l = NULL;
	int rc;

	const_node(&g, "main.w", 4096, 1, 0);
	const_node(&g, "late.w", 1024, 2, 1);        /* attribute before output; 1 KiB: kept */
	const_node(&g, "shape", 1020, 3, 0);         /* under 1 KiB: a graph constant */
	const_node(&g, NULL, 2048, 4, 0);            /* no output: no name */
	/* Two tensors in one node: a "tensors" attribute (field 10). */
	node_tensor(&t, 1, 512, 2048, 5, "a");
	pb_msg(&attr, 10, &t);
	node_tensor(&t, 10, 1024, 2048, 6, "b");
	pb_msg(&attr, 10, &t);
	pb_str(&node, 2, "multi");
	pb_msg(&node, 5, &attr);
	pb_msg(&g, 1, &node);
	/* Branches whose Constants repeat the TensorProto name "w", and subgraph initializers. */
	const_node(&then_g, "then.w", 2048, 7, 0);
	onnx_raw_tensor(&then_g, "then.init", 1, d300, 1, 1200, 8);
	const_node(&else_g, "else.w", 2048, 10, 0);
	onnx_raw_tensor(&else_g, "else.init", 1, d64, 1, 256, 11); /* under 1 KiB: left out */
	if_node(&g, &then_g, &else_g);
	onnx_model(&m, &g);
	rc = probe(&l, "m.onnx", &m, m.n);
	ok(rc == 0 && l->count == 7 && l->ext_count == 0,
	   "Constant and subgraph tensors found: 7 (%s)", rc ? mvms_error_last() : "");
	if (rc == 0) {
		static const char *const names[] = { "main.w", "late.w", "multi", "multi#1",
						     "then.w", "then.init", "else.w" };
		static const size_t lens[] = { 4096, 1024, 2048, 2048, 2048, 1200, 2048 };
		static const unsigned seeds[] = { 1, 2, 5, 6, 7, 8, 10 };
		size_t i, good = 0;
		for (i = 0; i < 7; i++) {
			const mvms_tensor_info *x = &l->tensors[i];
			if (strcmp(x->name, names[i]) == 0 && x->length == lens[i] &&
			    m.p[x->offset] == (unsigned char)((seeds[i] * 7919u) & 0xff))
				good++;
			else
				diag("tensor %zu: %s, %llu bytes", i, x->name,
				     (unsigned long long)x->length);
		}
		ok(good == 7, "named by the node's output (#1 for its second), in file order, "
		   "offsets at raw_data; a small Constant, a small subgraph initializer and a "
		   "Constant without output left out");
		ok(strcmp(l->tensors[0].dtype, "FLOAT") == 0 && l->tensors[0].dtype_id == MVMS_DTYPE_F32 &&
		   strcmp(l->tensors[0].shape, "[1024]") == 0 && l->tensors[3].dtype_id == MVMS_DTYPE_F16,
		   "a node's tensor has its dtype and shape");
	}
	mvms_tlayout_free(l);
	l = NULL;
	mvms_error_clear();
	truncations("m.onnx", &m, "ONNX with nodes");
	mutations("m.onnx", &m, 3000);
	free(m.p);

	/* Subgraphs at most MVMS_ONNX_GRAPH_DEPTH graphs deep, the model's counted. */
	nested(&m, MVMS_ONNX_GRAPH_DEPTH - 1);
	rc = probe(&l, "m.onnx", &m, m.n);
	ok(rc == 0 && l->count == 1 && strcmp(l->tensors[0].name, "deep") == 0,
	   "%u nested graphs are read", MVMS_ONNX_GRAPH_DEPTH);
	mvms_tlayout_free(l);
	l = NULL;
	free(m.p);
	nested(&m, MVMS_ONNX_GRAPH_DEPTH);
	refused("m.onnx", &m, "subgraphs one level deeper");
	free(m.p);

	/* A first output longer than a tensor name may be: that node's tensor is left out,
	 * the others are read. */
	{
		char big[MVMS_ONNX_NAME_MAX + 2];
		memset(big, 'n', sizeof(big) - 1);
		big[sizeof(big) - 1] = 0;
		memset(&g, 0, sizeof(g));
		memset(&m, 0, sizeof(m));
		const_node(&g, big, 2048, 1, 0);
		const_node(&g, "ok.w", 2048, 2, 0);
		onnx_model(&m, &g);
		rc = probe(&l, "m.onnx", &m, m.n);
		ok(rc == 0 && l->count == 1 && strcmp(l->tensors[0].name, "ok.w") == 0,
		   "a node whose output name is too long keeps its tensor as plain bytes");
		mvms_tlayout_free(l);
		l = NULL;
		free(m.p);
	}

	/* Two nodes whose first output is the same name: two tensors of one name. */
	memset(&g, 0, sizeof(g));
	memset(&m, 0, sizeof(m));
	const_node(&g, "x.w", 2048, 1, 0);
	const_node(&g, "x.w", 2048, 2, 0);
	onnx_model(&m, &g);
	refused("m.onnx", &m, "two Constants with one output name");
	free(m.p);
}

static void side_files(void)
{
	mvms_tensor_info t[3];
	const mvms_tensor_info *p[3] = { &t[0], &t[1], &t[2] };
	mvms_tlayout *l = NULL;

	memset(t, 0, sizeof(t));
	t[0].name = "a";
	t[0].shape = "[4]";
	t[0].offset = 100;
	t[0].length = 16;
	t[1] = t[0];
	t[1].name = "b";
	t[1].offset = 0;
	t[2] = t[0]; /* the same tensor named by a second model */
	ok(mvms_tlayout_external(&l, p, 3, 116) == 0 && l->count == 2 && l->format == MVMS_TFORMAT_ONNX_DATA &&
	   strcmp(l->tensors[0].name, "b") == 0 && l->tensors[1].offset == 100,
	   "side file: sorted, a tensor named twice kept once");
	mvms_tlayout_free(l);
	l = NULL;
	ok(mvms_tlayout_external(&l, p, 3, 115) == MVMS_ENOTFOUND && !l, "side file: tensor past its end refused");
	mvms_error_clear();
	t[1].offset = 90;
	ok(mvms_tlayout_external(&l, p, 2, 200) == MVMS_ENOTFOUND && !l, "side file: overlapping tensors refused");
	mvms_error_clear();
	t[1].offset = 0;
	t[2].offset = 50;
	ok(mvms_tlayout_external(&l, p, 3, 200) == MVMS_ENOTFOUND && !l,
	   "side file: one name at two places refused");
	mvms_error_clear();
}

static void through_fd(void)
{
	char path[] = "/tmp/test-tformats-XXXXXX";
	tf_buf b = { 0 };
	mvms_tlayout *l = NULL;
	int fd = mkstemp(path), rc;

	gguf_build(&b, gt, 5, 0);
	if (fd < 0 || write(fd, b.p, b.n) != (ssize_t)b.n) {
		ok(0, "temporary file");
		return;
	}
	rc = mvms_tlayout_probe_fd(&l, path, fd, b.n);
	ok(rc == 0 && l->count == 5, "GGUF probed through a file descriptor");
	mvms_tlayout_free(l);
	l = NULL;
	/* A file that is shorter than the size given: a read error, not plain bytes. */
	rc = mvms_tlayout_probe_fd(&l, path, fd, b.n + 100000);
	ok(rc == MVMS_ENOTFOUND || rc == MVMS_ERROR, "a size beyond the file fails cleanly (%d)", rc);
	mvms_tlayout_free(l);
	mvms_error_clear();
	close(fd);
	unlink(path);
	free(b.p);
}

int main(void)
{
	ok(strcmp(mvms_tformat_name(MVMS_TFORMAT_GGUF), "gguf") == 0 &&
	   strcmp(mvms_tformat_name(MVMS_TFORMAT_ONNX_DATA), "onnx-data") == 0, "format names");
	gguf_valid();
	gguf_bad();
	onnx_valid();
	onnx_typed();
	onnx_bad();
	onnx_nodes();
	side_files();
	through_fd();
	done_testing();
	return tap_failed ? 1 : 0;
}
