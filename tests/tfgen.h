/* SPDX-License-Identifier: MIT */
/*
 * Small in-memory writers of GGUF files and ONNX protobufs for the unit tests and the fuzz
 * seeds: just enough of each format to describe tensors, with knobs for the malformed
 * variants the tests need. Header-only; exits on out of memory.
 */
#ifndef MVMS_TFGEN_H
#define MVMS_TFGEN_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct tf_buf {
	unsigned char *p;
	size_t n, cap;
} tf_buf;

static void tf_put(tf_buf *b, const void *d, size_t n)
{
	if (b->n + n > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;
		while (cap < b->n + n)
			cap *= 2;
		b->p = realloc(b->p, cap);
		if (!b->p)
			exit(99);
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->n, d, n);
	b->n += n;
}

static void tf_u8(tf_buf *b, unsigned v)
{
	unsigned char c = (unsigned char)v;
	tf_put(b, &c, 1);
}

static void tf_u32(tf_buf *b, uint32_t v)
{
	int i;
	for (i = 0; i < 4; i++)
		tf_u8(b, (v >> (8 * i)) & 0xff);
}

static void tf_u64(tf_buf *b, uint64_t v)
{
	int i;
	for (i = 0; i < 8; i++)
		tf_u8(b, (unsigned)(v >> (8 * i)) & 0xff);
}

static void tf_pad(tf_buf *b, size_t align, unsigned char fill)
{
	while (b->n % align)
		tf_u8(b, fill);
}

/* Deterministic bytes for tensor data: depends on (seed, position). */
static void tf_pattern(tf_buf *b, size_t n, unsigned seed)
{
	size_t i;
	for (i = 0; i < n; i++)
		tf_u8(b, (unsigned)((i * 131u + seed * 7919u + (i >> 8)) & 0xff));
}

/* ---- GGUF ---- */

static void gguf_str(tf_buf *b, const char *s)
{
	tf_u64(b, strlen(s));
	tf_put(b, s, strlen(s));
}

typedef struct gguf_tensor {
	const char *name;
	uint32_t type;
	unsigned ndims;
	uint64_t dims[4];
	uint64_t length;      /* bytes of data (the caller computes it) */
} gguf_tensor;

/* A GGUF v3 file: a string key/value, general.alignment when @align is not 0, @nt tensors
 * laid out one after another at aligned offsets, each filled with a pattern. */
static void gguf_build(tf_buf *b, const gguf_tensor *t, size_t nt, uint32_t align)
{
	uint64_t off = 0;
	uint32_t a = align ? align : 32;
	size_t i;

	tf_put(b, "GGUF", 4);
	tf_u32(b, 3);
	tf_u64(b, nt);
	tf_u64(b, align ? 3 : 2);
	gguf_str(b, "general.architecture");
	tf_u32(b, 8);
	gguf_str(b, "llama");
	gguf_str(b, "tokenizer.ggml.tokens"); /* an array of strings */
	tf_u32(b, 9);
	tf_u32(b, 8);
	tf_u64(b, 3);
	gguf_str(b, "a");
	gguf_str(b, "bc");
	gguf_str(b, "def");
	if (align) {
		gguf_str(b, "general.alignment");
		tf_u32(b, 4);
		tf_u32(b, align);
	}
	for (i = 0; i < nt; i++) {
		unsigned d;
		gguf_str(b, t[i].name);
		tf_u32(b, t[i].ndims);
		for (d = 0; d < t[i].ndims; d++)
			tf_u64(b, t[i].dims[d]);
		tf_u32(b, t[i].type);
		tf_u64(b, off);
		off += t[i].length;
		off = (off + a - 1) / a * a;
	}
	tf_pad(b, a, 0);
	for (i = 0; i < nt; i++) {
		size_t start = b->n;
		tf_pattern(b, (size_t)t[i].length, (unsigned)i + 1);
		if (i + 1 < nt)
			while ((b->n - start) % a)
				tf_u8(b, 0);
	}
}

/* ---- protobuf / ONNX ---- */

static void pb_varint(tf_buf *b, uint64_t v)
{
	while (v >= 0x80) {
		tf_u8(b, (unsigned)(v & 0x7f) | 0x80);
		v >>= 7;
	}
	tf_u8(b, (unsigned)v);
}

static void pb_tag(tf_buf *b, unsigned field, unsigned wire)
{
	pb_varint(b, (uint64_t)field << 3 | wire);
}

static void pb_bytes(tf_buf *b, unsigned field, const void *d, size_t n)
{
	pb_tag(b, field, 2);
	pb_varint(b, n);
	tf_put(b, d, n);
}

static void pb_str(tf_buf *b, unsigned field, const char *s)
{
	pb_bytes(b, field, s, strlen(s));
}

static void pb_uint(tf_buf *b, unsigned field, uint64_t v)
{
	pb_tag(b, field, 0);
	pb_varint(b, v);
}

static void pb_msg(tf_buf *b, unsigned field, tf_buf *m)
{
	pb_bytes(b, field, m->p, m->n);
	free(m->p);
	memset(m, 0, sizeof(*m));
}

/* An initializer with @len bytes of raw_data (pattern @seed), dims packed. */
static void onnx_raw_tensor(tf_buf *graph, const char *name, unsigned dtype, const uint64_t *dims,
			    unsigned nd, size_t len, unsigned seed)
{
	tf_buf t = { 0 }, d = { 0 }, raw = { 0 };
	unsigned i;

	for (i = 0; i < nd; i++)
		pb_varint(&d, dims[i]);
	if (nd)
		pb_msg(&t, 1, &d);
	pb_uint(&t, 2, dtype);
	pb_str(&t, 8, name);
	tf_pattern(&raw, len, seed);
	pb_bytes(&t, 9, raw.p, raw.n);
	free(raw.p);
	pb_msg(graph, 5, &t);
}

static void onnx_kv(tf_buf *t, const char *k, const char *v)
{
	tf_buf e = { 0 };
	pb_str(&e, 1, k);
	pb_str(&e, 2, v);
	pb_msg(t, 13, &e);
}

/* An initializer whose bytes are in @location at @offset (length given as a string). */
static void onnx_ext_tensor(tf_buf *graph, const char *name, unsigned dtype, const uint64_t *dims,
			    unsigned nd, const char *location, const char *offset, const char *length)
{
	tf_buf t = { 0 };
	unsigned i;

	for (i = 0; i < nd; i++) /* unpacked dims, the other encoding */
		pb_uint(&t, 1, dims[i]);
	pb_uint(&t, 2, dtype);
	pb_str(&t, 8, name);
	onnx_kv(&t, "location", location);
	if (offset)
		onnx_kv(&t, "offset", offset);
	if (length)
		onnx_kv(&t, "length", length);
	pb_uint(&t, 14, 1);
	pb_msg(graph, 5, &t);
}

/* ModelProto { ir_version, producer_name, opset_import, graph } around @graph (a node and a
 * float_data initializer are added first, to be skipped). */
static void onnx_model(tf_buf *out, tf_buf *graph_initializers)
{
	tf_buf g = { 0 }, node = { 0 }, fd = { 0 }, opset = { 0 };
	static const unsigned char one[] = { 1 }; /* the varint 1 */

	pb_str(&node, 1, "x");
	pb_str(&node, 2, "y");
	pb_str(&node, 4, "Relu");
	pb_msg(&g, 1, &node);
	pb_str(&g, 2, "g");
	pb_uint(&fd, 1, 1);
	pb_uint(&fd, 2, 7);
	pb_bytes(&fd, 7, one, sizeof(one)); /* int64_data, packed varints: not raw bytes */
	pb_str(&fd, 8, "typed");
	pb_msg(&g, 5, &fd);
	tf_put(&g, graph_initializers->p, graph_initializers->n);
	free(graph_initializers->p);
	memset(graph_initializers, 0, sizeof(*graph_initializers));
	pb_uint(out, 1, 8);
	pb_str(out, 2, "tfgen");
	pb_uint(&opset, 2, 17);
	pb_msg(out, 8, &opset);
	pb_msg(out, 7, &g);
}

#endif
