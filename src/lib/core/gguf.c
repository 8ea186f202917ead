/* SPDX-License-Identifier: MIT */
/*
 * GGUF tensor layout (gguf.h). Layout of a file (little-endian):
 *   "GGUF", u32 version (2 or 3), u64 tensor_count, u64 kv_count,
 *   kv_count x { string key, u32 value_type, value },
 *   tensor_count x { string name, u32 n_dims, u64 dims[n_dims], u32 ggml_type, u64 offset },
 *   padding to general.alignment (default 32), then the data section; each tensor's offset is
 *   relative to the data section and a multiple of the alignment.
 * A string is u64 length + bytes; an array is u32 element type + u64 count + elements.
 * Every count and length is checked against the bytes left in the file before anything is
 * allocated or skipped, nested arrays are followed at most MVMS_GGUF_NEST_MAX deep.
 */
#include <stdlib.h>
#include <string.h>
#include "common.h"
#include "gguf.h"

#define FMT "gguf"

enum { T_U8, T_I8, T_U16, T_I16, T_U32, T_I32, T_F32, T_BOOL, T_STRING, T_ARRAY, T_U64, T_I64,
       T_F64, T_COUNT };

/* Bytes of one value of a fixed-size metadata type; 0 for string and array. */
static const unsigned kv_size[T_COUNT] = { 1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8 };

static const struct ggml_type {
	const char *name;
	unsigned block, bytes;
	enum mvms_dtype dtype;
} types[] = {
	[0] = { "F32", 1, 4, MVMS_DTYPE_F32 },       [1] = { "F16", 1, 2, MVMS_DTYPE_F16 },
	[2] = { "Q4_0", 32, 18, MVMS_DTYPE_UNKNOWN },  [3] = { "Q4_1", 32, 20, MVMS_DTYPE_UNKNOWN },
	[6] = { "Q5_0", 32, 22, MVMS_DTYPE_UNKNOWN },  [7] = { "Q5_1", 32, 24, MVMS_DTYPE_UNKNOWN },
	[8] = { "Q8_0", 32, 34, MVMS_DTYPE_UNKNOWN },  [9] = { "Q8_1", 32, 36, MVMS_DTYPE_UNKNOWN },
	[10] = { "Q2_K", 256, 84, MVMS_DTYPE_UNKNOWN }, [11] = { "Q3_K", 256, 110, MVMS_DTYPE_UNKNOWN },
	[12] = { "Q4_K", 256, 144, MVMS_DTYPE_UNKNOWN }, [13] = { "Q5_K", 256, 176, MVMS_DTYPE_UNKNOWN },
	[14] = { "Q6_K", 256, 210, MVMS_DTYPE_UNKNOWN }, [15] = { "Q8_K", 256, 292, MVMS_DTYPE_UNKNOWN },
	[16] = { "IQ2_XXS", 256, 66, MVMS_DTYPE_UNKNOWN }, [17] = { "IQ2_XS", 256, 74, MVMS_DTYPE_UNKNOWN },
	[18] = { "IQ3_XXS", 256, 98, MVMS_DTYPE_UNKNOWN }, [19] = { "IQ1_S", 256, 50, MVMS_DTYPE_UNKNOWN },
	[20] = { "IQ4_NL", 32, 18, MVMS_DTYPE_UNKNOWN },  [21] = { "IQ3_S", 256, 110, MVMS_DTYPE_UNKNOWN },
	[22] = { "IQ2_S", 256, 82, MVMS_DTYPE_UNKNOWN },  [23] = { "IQ4_XS", 256, 136, MVMS_DTYPE_UNKNOWN },
	[24] = { "I8", 1, 1, MVMS_DTYPE_I8 },         [25] = { "I16", 1, 2, MVMS_DTYPE_I16 },
	[26] = { "I32", 1, 4, MVMS_DTYPE_I32 },       [27] = { "I64", 1, 8, MVMS_DTYPE_I64 },
	[28] = { "F64", 1, 8, MVMS_DTYPE_F64 },       [29] = { "IQ1_M", 256, 56, MVMS_DTYPE_UNKNOWN },
	[30] = { "BF16", 1, 2, MVMS_DTYPE_BF16 },
	[34] = { "TQ1_0", 256, 54, MVMS_DTYPE_UNKNOWN }, [35] = { "TQ2_0", 256, 66, MVMS_DTYPE_UNKNOWN },
	[39] = { "MXFP4", 32, 17, MVMS_DTYPE_UNKNOWN },  [40] = { "NVFP4", 64, 36, MVMS_DTYPE_UNKNOWN },
	[41] = { "Q1_0", 128, 18, MVMS_DTYPE_UNKNOWN },  [42] = { "Q2_0", 64, 18, MVMS_DTYPE_UNKNOWN },
};

int mvms_gguf_type(uint32_t type, const char **name, unsigned *block, unsigned *bytes,
		   enum mvms_dtype *dtype)
{
	if (type >= MVMS_ARRAY_SIZE(types) || !types[type].name)
		return MVMS_ENOTFOUND;
	if (name)
		*name = types[type].name;
	if (block)
		*block = types[type].block;
	if (bytes)
		*bytes = types[type].bytes;
	if (dtype)
		*dtype = types[type].dtype;
	return 0;
}

static int get_u32(uint32_t *v, mvms_tl_cursor *c)
{
	unsigned char b[4];
	int error = mvms_tl_get(c, b, 4, FMT);

	if (error == 0)
		*v = mvms_le32_get(b);
	return error;
}

static int get_u64(uint64_t *v, mvms_tl_cursor *c)
{
	unsigned char b[8];
	int error = mvms_tl_get(c, b, 8, FMT);

	if (error == 0)
		*v = mvms_le64_get(b);
	return error;
}

static uint64_t left(const mvms_tl_cursor *c)
{
	return c->pos <= c->src->size ? c->src->size - c->pos : 0;
}

/* Skips one metadata value of @type; arrays of arrays at most MVMS_GGUF_NEST_MAX deep. */
static int skip_value(mvms_tl_cursor *c, uint32_t type, unsigned depth)
{
	uint64_t n, i, bytes;
	uint32_t et;
	int error = 0;

	if (type >= T_COUNT)
		return mvms_tl_reject(FMT, "unknown metadata value type");
	if (kv_size[type])
		return mvms_tl_skip(c, kv_size[type], FMT);
	if (type == T_STRING) {
		MVMS_TRY(get_u64(&n, c));
		return mvms_tl_skip(c, n, FMT);
	}
	if (depth >= MVMS_GGUF_NEST_MAX)
		return mvms_tl_reject(FMT, "metadata arrays nested too deep");
	MVMS_TRY(get_u32(&et, c));
	MVMS_TRY(get_u64(&n, c));
	if (et >= T_COUNT)
		return mvms_tl_reject(FMT, "unknown metadata array type");
	if (kv_size[et]) {
		if (mvms_mul_overflow(&bytes, n, kv_size[et]))
			return mvms_tl_reject(FMT, "metadata array too long");
		return mvms_tl_skip(c, bytes, FMT);
	}
	/* A string takes at least 8 bytes and an array 12: a count the file cannot hold is
	 * refused before the loop, so a loop is bounded by the file size. */
	if (n > left(c) / (et == T_STRING ? 8 : 12))
		return mvms_tl_reject(FMT, "metadata array count beyond the file");
	for (i = 0; i < n; i++)
		MVMS_TRY(skip_value(c, et, depth + 1));
done:
	return error;
}

/* The key/values: only general.alignment matters for the layout. */
static int read_kvs(uint32_t *align, mvms_tl_cursor *c, uint64_t count)
{
	static const char align_key[] = "general.alignment";
	char key[sizeof(align_key)];
	uint64_t i, klen;
	uint32_t type;
	int error = 0, seen = 0;

	if (count > left(c) / 13)
		return mvms_tl_reject(FMT, "key/value count beyond the file");
	for (i = 0; i < count; i++) {
		int is_align = 0;
		MVMS_TRY(get_u64(&klen, c));
		if (klen == 0 || klen > MVMS_GGUF_KEY_MAX)
			return mvms_tl_reject(FMT, "bad key length");
		if (klen == sizeof(align_key) - 1) {
			MVMS_TRY(mvms_tl_get(c, key, (size_t)klen, FMT));
			is_align = memcmp(key, align_key, (size_t)klen) == 0;
		} else {
			MVMS_TRY(mvms_tl_skip(c, klen, FMT));
		}
		MVMS_TRY(get_u32(&type, c));
		if (!is_align) {
			MVMS_TRY(skip_value(c, type, 0));
			continue;
		}
		if (seen++)
			return mvms_tl_reject(FMT, "general.alignment given twice");
		if (type != T_U32)
			return mvms_tl_reject(FMT, "general.alignment is not a u32");
		MVMS_TRY(get_u32(align, c));
		if (*align == 0 || (*align & (*align - 1)) || *align > MVMS_GGUF_ALIGN_MAX)
			return mvms_tl_reject(FMT, "general.alignment is not a power of two");
	}
done:
	return error;
}

/* One tensor info; the offset is relative to the data section until parse() adds its start. */
static int read_tensor(mvms_tensor_info *t, mvms_tl_cursor *c, uint32_t align)
{
	unsigned char name[MVMS_GGUF_NAME_MAX];
	uint64_t nlen, dims[MVMS_GGUF_DIMS_MAX], elems = 1, rows, bytes;
	uint32_t nd, type, i;
	const char *tname;
	unsigned block, bsize;
	enum mvms_dtype dt;
	int error = 0;

	MVMS_TRY(get_u64(&nlen, c));
	if (nlen == 0 || nlen > MVMS_GGUF_NAME_MAX)
		return mvms_tl_reject(FMT, "bad tensor name length");
	MVMS_TRY(mvms_tl_get(c, name, (size_t)nlen, FMT));
	if (!mvms_tl_valid_utf8(name, (size_t)nlen))
		return mvms_tl_reject(FMT, "tensor name is not UTF-8");
	MVMS_TRY(get_u32(&nd, c));
	if (nd == 0 || nd > MVMS_GGUF_DIMS_MAX)
		return mvms_tl_reject(FMT, "bad number of dimensions");
	for (i = 0; i < nd; i++) {
		MVMS_TRY(get_u64(&dims[i], c));
		/* ggml holds dims as int64. */
		if (dims[i] > INT64_MAX || mvms_mul_overflow(&elems, elems, dims[i]) || elems > INT64_MAX)
			return mvms_tl_reject(FMT, "dimensions overflow");
	}
	MVMS_TRY(get_u32(&type, c));
	if (mvms_gguf_type(type, &tname, &block, &bsize, &dt) < 0)
		return mvms_tl_reject(FMT, "unknown ggml type");
	if (dims[0] % block)
		return mvms_tl_reject(FMT, "first dimension is not a whole number of blocks");
	rows = dims[0] ? elems / dims[0] : 0;
	if (mvms_mul_overflow(&bytes, dims[0] / block, bsize) || mvms_mul_overflow(&bytes, bytes, rows))
		return mvms_tl_reject(FMT, "tensor size overflows");
	MVMS_TRY(get_u64(&t->offset, c));
	if (t->offset % align)
		return mvms_tl_reject(FMT, "tensor data is not aligned");
	t->length = bytes;
	t->dtype_id = (int)dt;
	memcpy(t->dtype, tname, strlen(tname) + 1);
	t->name = strndup((const char *)name, (size_t)nlen);
	t->shape = mvms_tl_shape(dims, nd);
	if (!t->name || !t->shape)
		return mvms_error_set(MVMS_ERROR, "out of memory");
done:
	return error;
}

int mvms_gguf_parse(mvms_tlayout **out, const mvms_tl_src *src)
{
	mvms_tl_cursor *c = NULL;
	mvms_tlayout *l = NULL;
	unsigned char magic[4];
	uint32_t version, align = MVMS_GGUF_ALIGN_DEFAULT;
	uint64_t ntensors, nkv, start, i;
	int error = 0;

	*out = NULL;
	c = malloc(sizeof(*c));
	l = calloc(1, sizeof(*l));
	MVMS_CHECK_ALLOC(c, error);
	MVMS_CHECK_ALLOC(l, error);
	l->format = MVMS_TFORMAT_GGUF;
	mvms_tl_cursor_init(c, src, 0);
	MVMS_TRY(mvms_tl_get(c, magic, 4, FMT));
	if (memcmp(magic, "GGUF", 4) != 0) {
		error = mvms_tl_reject(FMT, "no GGUF magic");
		goto done;
	}
	MVMS_TRY(get_u32(&version, c));
	if (version != 2 && version != 3) {
		error = mvms_tl_reject(FMT, "unsupported version (2 and 3 are read)");
		goto done;
	}
	MVMS_TRY(get_u64(&ntensors, c));
	MVMS_TRY(get_u64(&nkv, c));
	MVMS_TRY(read_kvs(&align, c, nkv));
	/* A tensor info takes at least 33 bytes (8 + 1 + 4 + 8 + 4 + 8). */
	if (ntensors > left(c) / 33 || ntensors > MVMS_TLAYOUT_TENSORS_MAX) {
		error = mvms_tl_reject(FMT, "tensor count beyond the file");
		goto done;
	}
	l->tensors = calloc((size_t)ntensors + 1, sizeof(*l->tensors));
	MVMS_CHECK_ALLOC(l->tensors, error);
	for (i = 0; i < ntensors; i++) {
		l->count = (size_t)i + 1; /* so that a half-filled entry is freed */
		MVMS_TRY(read_tensor(&l->tensors[i], c, align));
	}
	start = c->pos + (align - c->pos % align) % align;
	if (start > src->size) {
		/* Padding cut short: only a file with no tensor data may end here. */
		for (i = 0; i < l->count; i++)
			if (l->tensors[i].length) {
				error = mvms_tl_reject(FMT, "truncated before the data section");
				goto done;
			}
		start = src->size;
	}
	for (i = 0; i < l->count; i++) {
		mvms_tensor_info *t = &l->tensors[i];
		if (t->offset > src->size - start || t->length > src->size - start - t->offset) {
			error = mvms_tl_reject(FMT, "tensor data outside the file");
			goto done;
		}
		t->offset += start;
	}
	l->header_end = start;
	MVMS_TRY(mvms_tl_sort_check(l->tensors, l->count, FMT));
	*out = l;
	l = NULL;
done:
	free(c);
	mvms_tlayout_free(l);
	return error;
}
