/* SPDX-License-Identifier: MIT */
/*
 * ONNX tensor layout (onnx.h): a protobuf reader for the fields the store needs. Each
 * message is read between its start and its end (checked against the enclosing message and
 * the file); a field is a varint tag (number << 3 | wire type) then a varint (0), 8 bytes
 * (1), a varint length and that many bytes (2) or 4 bytes (5). Groups (3, 4) are refused.
 * Protobuf would merge a repeated singular field; here one given twice is a malformed file.
 * Subgraphs recurse (read_graph -> read_node -> read_attribute -> read_graph), bounded by
 * MVMS_ONNX_GRAPH_DEPTH, so a hostile file cannot exhaust the stack.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common.h"
#include "onnx.h"

#define FMT "onnx"

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };
enum { LOC_DEFAULT = 0, LOC_EXTERNAL = 1 };

static const struct onnx_type {
	const char *name;
	unsigned bits;
	enum mvms_dtype dtype;
} types[] = {
	[1] = { "FLOAT", 32, MVMS_DTYPE_F32 },       [2] = { "UINT8", 8, MVMS_DTYPE_U8 },
	[3] = { "INT8", 8, MVMS_DTYPE_I8 },          [4] = { "UINT16", 16, MVMS_DTYPE_U16 },
	[5] = { "INT16", 16, MVMS_DTYPE_I16 },       [6] = { "INT32", 32, MVMS_DTYPE_I32 },
	[7] = { "INT64", 64, MVMS_DTYPE_I64 },       [9] = { "BOOL", 8, MVMS_DTYPE_BOOL },
	[10] = { "FLOAT16", 16, MVMS_DTYPE_F16 },    [11] = { "DOUBLE", 64, MVMS_DTYPE_F64 },
	[12] = { "UINT32", 32, MVMS_DTYPE_U32 },     [13] = { "UINT64", 64, MVMS_DTYPE_U64 },
	[14] = { "COMPLEX64", 64, MVMS_DTYPE_UNKNOWN }, [15] = { "COMPLEX128", 128, MVMS_DTYPE_UNKNOWN },
	[16] = { "BFLOAT16", 16, MVMS_DTYPE_BF16 },  [17] = { "FLOAT8E4M3FN", 8, MVMS_DTYPE_F8 },
	[18] = { "FLOAT8E4M3FNUZ", 8, MVMS_DTYPE_F8 }, [19] = { "FLOAT8E5M2", 8, MVMS_DTYPE_F8 },
	[20] = { "FLOAT8E5M2FNUZ", 8, MVMS_DTYPE_F8 }, [21] = { "UINT4", 4, MVMS_DTYPE_UNKNOWN },
	[22] = { "INT4", 4, MVMS_DTYPE_UNKNOWN },      [23] = { "FLOAT4E2M1", 4, MVMS_DTYPE_UNKNOWN },
	[24] = { "FLOAT8E8M0", 8, MVMS_DTYPE_F8 },
};

int mvms_onnx_type(uint32_t type, const char **name, unsigned *bits, enum mvms_dtype *dtype)
{
	if (type >= MVMS_ARRAY_SIZE(types) || !types[type].name)
		return MVMS_ENOTFOUND;
	if (name)
		*name = types[type].name;
	if (bits)
		*bits = types[type].bits;
	if (dtype)
		*dtype = types[type].dtype;
	return 0;
}

/* The reader's state: the tensors found so far. */
typedef struct onnx_ctx {
	mvms_tl_cursor c;
	mvms_tlayout *l;
	size_t cap, ext_cap;
	uint64_t name_bytes;
} onnx_ctx;

/* A varint of at most 10 bytes, none of them past @end. */
static int get_varint(uint64_t *v, mvms_tl_cursor *c, uint64_t end)
{
	unsigned char b;
	unsigned shift = 0;
	int error = 0;

	*v = 0;
	for (;;) {
		if (c->pos >= end)
			return mvms_tl_reject(FMT, "truncated varint");
		MVMS_TRY(mvms_tl_get(c, &b, 1, FMT));
		if (shift == 63 && b > 1)
			return mvms_tl_reject(FMT, "varint overflows");
		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			break;
		shift += 7;
		if (shift > 63)
			return mvms_tl_reject(FMT, "varint too long");
	}
done:
	return error;
}

static int get_tag(uint32_t *field, unsigned *wire, mvms_tl_cursor *c, uint64_t end)
{
	uint64_t v;
	int error = get_varint(&v, c, end);

	if (error < 0)
		return error;
	if (v >> 3 == 0 || v >> 3 > 0x1fffffff)
		return mvms_tl_reject(FMT, "bad field number");
	*field = (uint32_t)(v >> 3);
	*wire = (unsigned)(v & 7);
	return 0;
}

/* A length-delimited field's length, which must fit before @end. */
static int get_len(uint64_t *len, mvms_tl_cursor *c, uint64_t end)
{
	int error = get_varint(len, c, end);

	if (error < 0)
		return error;
	if (*len > end - c->pos)
		return mvms_tl_reject(FMT, "field longer than its message");
	return 0;
}

static int skip_field(mvms_tl_cursor *c, unsigned wire, uint64_t end)
{
	uint64_t v;
	int error = 0;

	switch (wire) {
	case WT_VARINT:
		return get_varint(&v, c, end);
	case WT_I64:
		v = 8;
		break;
	case WT_I32:
		v = 4;
		break;
	case WT_LEN:
		MVMS_TRY(get_len(&v, c, end));
		break;
	default:
		return mvms_tl_reject(FMT, "unsupported wire type");
	}
	if (v > end - c->pos)
		return mvms_tl_reject(FMT, "field longer than its message");
	MVMS_TRY(mvms_tl_skip(c, v, FMT));
done:
	return error;
}

/* A string field's bytes (NUL-terminated copy), at most @max bytes of UTF-8. */
static int get_string(char **out, mvms_tl_cursor *c, uint64_t end, size_t max)
{
	uint64_t len;
	char *s = NULL;
	int error = 0;

	MVMS_TRY(get_len(&len, c, end));
	if (len > max)
		return mvms_tl_reject(FMT, "string too long");
	s = malloc((size_t)len + 1);
	MVMS_CHECK_ALLOC(s, error);
	MVMS_TRY(mvms_tl_get(c, s, (size_t)len, FMT));
	s[len] = 0;
	if (!mvms_tl_valid_utf8((const unsigned char *)s, (size_t)len)) {
		error = mvms_tl_reject(FMT, "string is not UTF-8");
		goto done;
	}
	*out = s;
	s = NULL;
done:
	free(s);
	return error;
}

/* One initializer as read, before it becomes a tensor. */
typedef struct raw_tensor {
	char *name;
	uint64_t dims[MVMS_ONNX_DIMS_MAX];
	unsigned ndims;
	uint64_t data_type;
	int has_type, has_raw, location;
	uint64_t raw_off, raw_len;
	unsigned typed;          /* 4 or 10: the bytes are packed float_data or double_data */
	int typed_split;         /* that field came in pieces (legal, not one run of bytes) */
	char *ext_location;
	int has_ext_off, has_ext_len;
	uint64_t ext_off, ext_len;
	int ext_seen;
} raw_tensor;

static int add_dim(raw_tensor *t, uint64_t v)
{
	/* dims are int64: a negative one (a varint with the top bit) is not a size. */
	if (v > INT64_MAX)
		return mvms_tl_reject(FMT, "negative dimension");
	if (t->ndims >= MVMS_ONNX_DIMS_MAX)
		return mvms_tl_reject(FMT, "too many dimensions");
	t->dims[t->ndims++] = v;
	return 0;
}

/* A decimal number of an external_data value ("offset", "length"). */
static int parse_decimal(uint64_t *out, const char *s)
{
	uint64_t v = 0;

	if (!*s)
		return mvms_tl_reject(FMT, "external data offset or length is empty");
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || mvms_mul_overflow(&v, v, 10) ||
		    mvms_add_overflow(&v, v, (uint64_t)(*s - '0')))
			return mvms_tl_reject(FMT, "external data offset or length is not a number");
	}
	*out = v;
	return 0;
}

/* A location must stay inside the model's folder: relative, no "..", no empty segment. */
static int location_ok(const char *s)
{
	const char *seg = s;

	if (!*s || *s == '/' || strchr(s, '\\'))
		return 0;
	for (;;) {
		const char *slash = strchr(seg, '/');
		size_t n = slash ? (size_t)(slash - seg) : strlen(seg);
		if (n == 0 || (n == 2 && seg[0] == '.' && seg[1] == '.'))
			return 0;
		if (!slash)
			return 1;
		seg = slash + 1;
	}
}

/* StringStringEntryProto {1: key, 2: value} of external_data. */
static int read_ext_entry(raw_tensor *t, mvms_tl_cursor *c, uint64_t end)
{
	char *key = NULL, *value = NULL;
	uint32_t field = 0;
	unsigned wire = 0;
	int error = 0;

	while (c->pos < end) {
		MVMS_TRY(get_tag(&field, &wire, c, end));
		if ((field == 1 || field == 2) && wire == WT_LEN) {
			char **dst = field == 1 ? &key : &value;
			if (*dst) {
				error = mvms_tl_reject(FMT, "external data entry field given twice");
				goto done;
			}
			MVMS_TRY(get_string(dst, c, end, MVMS_ONNX_LOCATION_MAX));
		} else {
			MVMS_TRY(skip_field(c, wire, end));
		}
	}
	if (!key || !value) {
		error = mvms_tl_reject(FMT, "external data entry without key or value");
		goto done;
	}
	t->ext_seen = 1;
	if (strcmp(key, "location") == 0) {
		if (t->ext_location || !location_ok(value)) {
			error = mvms_tl_reject(FMT, "bad or repeated external data location");
			goto done;
		}
		t->ext_location = value;
		value = NULL;
	} else if (strcmp(key, "offset") == 0 || strcmp(key, "length") == 0) {
		int *has = key[0] == 'o' ? &t->has_ext_off : &t->has_ext_len;
		if (*has) {
			error = mvms_tl_reject(FMT, "external data offset or length given twice");
			goto done;
		}
		*has = 1;
		MVMS_TRY(parse_decimal(key[0] == 'o' ? &t->ext_off : &t->ext_len, value));
	}
	/* Other keys ("checksum", ...) say nothing about where the bytes are. */
done:
	free(key);
	free(value);
	return error;
}

/* Scalar and packed dims (field 1), data_type (2), name (8), raw_data (9), external_data
 * (13), data_location (14), and packed float_data (4) and double_data (10): a packed
 * repeated float or double is its values' little-endian bytes back to back, the layout of
 * raw_data (older exporters write those). Every other field is skipped, among them the
 * varint-coded int32_data and int64_data, whose bytes are no tensor's. */
static int read_tensor_fields(raw_tensor *t, mvms_tl_cursor *c, uint64_t end)
{
	uint64_t v, len, stop;
	uint32_t field = 0;
	unsigned wire = 0;
	int error = 0;

	while (c->pos < end) {
		MVMS_TRY(get_tag(&field, &wire, c, end));
		if (field == 1 && wire == WT_VARINT) {
			MVMS_TRY(get_varint(&v, c, end));
			MVMS_TRY(add_dim(t, v));
		} else if (field == 1 && wire == WT_LEN) {
			MVMS_TRY(get_len(&len, c, end));
			stop = c->pos + len;
			while (c->pos < stop) {
				MVMS_TRY(get_varint(&v, c, stop));
				MVMS_TRY(add_dim(t, v));
			}
		} else if ((field == 2 || field == 14) && wire == WT_VARINT) {
			MVMS_TRY(get_varint(&v, c, end));
			if (field == 2) {
				if (t->has_type++)
					return mvms_tl_reject(FMT, "data_type given twice");
				t->data_type = v;
			} else {
				if (v != LOC_DEFAULT && v != LOC_EXTERNAL)
					return mvms_tl_reject(FMT, "unknown data_location");
				t->location = (int)v;
			}
		} else if (field == 8 && wire == WT_LEN) {
			if (t->name)
				return mvms_tl_reject(FMT, "tensor name given twice");
			MVMS_TRY(get_string(&t->name, c, end, MVMS_ONNX_NAME_MAX));
		} else if (field == 9 && wire == WT_LEN) {
			if (t->has_raw && t->typed)
				return mvms_tl_reject(FMT, "raw_data and typed data both given");
			if (t->has_raw++)
				return mvms_tl_reject(FMT, "raw_data given twice");
			MVMS_TRY(get_len(&t->raw_len, c, end));
			t->raw_off = c->pos;
			MVMS_TRY(mvms_tl_skip(c, t->raw_len, FMT));
		} else if ((field == 4 || field == 10) && wire == WT_LEN) {
			if (t->has_raw && !t->typed)
				return mvms_tl_reject(FMT, "raw_data and typed data both given");
			if (t->has_raw++)
				t->typed_split = 1; /* a packed field may come in pieces */
			t->typed = field;
			MVMS_TRY(get_len(&t->raw_len, c, end));
			t->raw_off = c->pos;
			MVMS_TRY(mvms_tl_skip(c, t->raw_len, FMT));
		} else if (field == 13 && wire == WT_LEN) {
			MVMS_TRY(get_len(&len, c, end));
			MVMS_TRY(read_ext_entry(t, c, c->pos + len));
		} else {
			MVMS_TRY(skip_field(c, wire, end));
		}
	}
done:
	return error;
}

static int grow(mvms_tensor_info **list, size_t *cap, size_t n)
{
	mvms_tensor_info *p;
	size_t ncap;

	if (n < *cap)
		return 0;
	if (n >= MVMS_TLAYOUT_TENSORS_MAX)
		return mvms_tl_reject(FMT, "too many tensors");
	ncap = *cap ? *cap * 2 : 16;
	p = realloc(*list, ncap * sizeof(*p));
	if (!p)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	memset(p + *cap, 0, (ncap - *cap) * sizeof(*p));
	*list = p;
	*cap = ncap;
	return 0;
}

/* Turns a read initializer into a tensor of this file or of a side file, or nothing (one
 * with varint-coded typed fields, or none, instead of raw bytes). */
static int add_tensor(onnx_ctx *x, raw_tensor *t)
{
	mvms_tensor_info *d;
	const char *tname = NULL;
	unsigned bits = 0;
	enum mvms_dtype dt = MVMS_DTYPE_UNKNOWN;
	uint64_t elems = 1, bytes = 0;
	char unknown[16];
	unsigned i;
	int error = 0, known, external = t->location == LOC_EXTERNAL;

	if (!t->name || !t->has_type || t->data_type == 0 || t->data_type > UINT32_MAX)
		return mvms_tl_reject(FMT, "initializer without name or data_type");
	if (t->ext_seen != external || (external && (!t->ext_location || t->has_raw)))
		return mvms_tl_reject(FMT, "external data inconsistent with data_location");
	if (!t->has_raw && !external)
		return 0;
	/* Packed floats (1 FLOAT, 14 COMPLEX64) or doubles (11 DOUBLE, 15 COMPLEX128) in one
	 * piece are raw bytes; in pieces, or under another type, they are left to the chunks. */
	if (t->typed && (t->typed_split ||
			 (t->typed == 4 ? t->data_type != 1 && t->data_type != 14
					: t->data_type != 11 && t->data_type != 15)))
		return 0;
	for (i = 0; i < t->ndims; i++)
		if (mvms_mul_overflow(&elems, elems, t->dims[i]))
			return mvms_tl_reject(FMT, "dimensions overflow");
	known = mvms_onnx_type((uint32_t)t->data_type, &tname, &bits, &dt) == 0;
	if (known) {
		if (mvms_mul_overflow(&bytes, elems, bits) || bytes > UINT64_MAX - 7)
			return mvms_tl_reject(FMT, "tensor size overflows");
		bytes = (bytes + 7) / 8;
	} else if (t->data_type == 8) {
		return mvms_tl_reject(FMT, "a STRING tensor has no raw bytes");
	} else {
		/* A type newer than this reader: the framing still gives the length. */
		snprintf(unknown, sizeof(unknown), "TYPE%" PRIu64, t->data_type);
		tname = unknown;
	}
	if (external) {
		if (t->has_ext_len && known && t->ext_len != bytes)
			return mvms_tl_reject(FMT, "external data length does not match dims and type");
		if (!t->has_ext_len && !known)
			return mvms_tl_reject(FMT, "external data of an unknown type without a length");
		if (t->has_ext_len)
			bytes = t->ext_len;
	} else if (known && t->raw_len != bytes) {
		return mvms_tl_reject(FMT, "raw_data length does not match dims and type");
	}
	if ((x->name_bytes += strlen(t->name)) > MVMS_ONNX_NAMES_TOTAL)
		return mvms_tl_reject(FMT, "names too long in all");
	if (external) {
		MVMS_TRY(grow(&x->l->ext, &x->ext_cap, x->l->ext_count));
		d = &x->l->ext[x->l->ext_count++];
		d->offset = t->has_ext_off ? t->ext_off : 0;
		d->length = bytes;
		d->location = t->ext_location;
		t->ext_location = NULL;
	} else {
		MVMS_TRY(grow(&x->l->tensors, &x->cap, x->l->count));
		d = &x->l->tensors[x->l->count++];
		d->offset = t->raw_off;
		d->length = t->raw_len;
	}
	d->name = t->name;
	t->name = NULL;
	snprintf(d->dtype, sizeof(d->dtype), "%s", tname);
	d->dtype_id = (int)dt;
	d->shape = mvms_tl_shape(t->dims, t->ndims);
	MVMS_CHECK_ALLOC(d->shape, error);
done:
	return error;
}

static int read_graph(onnx_ctx *x, uint64_t end, unsigned depth);

/* Reads one TensorProto of @len bytes at the cursor and adds it, named @name when that is
 * not NULL (a node's tensor: the TensorProto's own name is read but not used). Unless
 * @any_size (the model graph's initializers), one with fewer than MVMS_ONNX_NODE_TENSOR_MIN
 * bytes of raw_data is read and left out. */
static int read_tensor(onnx_ctx *x, uint64_t len, const char *name, int any_size)
{
	raw_tensor t;
	int error = 0;

	memset(&t, 0, sizeof(t));
	MVMS_TRY(read_tensor_fields(&t, &x->c, x->c.pos + len));
	/* A small tensor of a node or a subgraph is a graph constant (a shape, an axis, a
	 * scalar), not a weight: it stays plain bytes, so that hundreds of cut points around
	 * a few bytes each do not break the file into chunks too small to compress
	 * (docs/formats.md). The model graph's initializers were all tensors before nodes
	 * and subgraphs were read, and stay so: the same files keep the same cuts. */
	if (!any_size && t.has_raw && t.raw_len < MVMS_ONNX_NODE_TENSOR_MIN)
		goto done;
	if (name) {
		free(t.name);
		t.name = strdup(name);
		MVMS_CHECK_ALLOC(t.name, error);
	}
	MVMS_TRY(add_tensor(x, &t));
done:
	free(t.name);
	free(t.ext_location);
	return error;
}

/* The name of a node's tensor number @k: its first output, which ONNX keeps unique in the
 * whole model (a Constant's tensor is the value of that name); "#k" after it from the
 * second on. NULL when out of memory. */
static char *node_tensor_name(const char *out0, unsigned k)
{
	size_t n = strlen(out0) + 16;
	char *s = malloc(n);

	if (s && k == 0)
		snprintf(s, n, "%s", out0);
	else if (s)
		snprintf(s, n, "%s#%u", out0, k);
	return s;
}

/* AttributeProto: t (5) and tensors (10) are the node's tensors, g (6) and graphs (11)
 * subgraphs (an If's branches, a Loop's body) read as graphs one level deeper. A node
 * without outputs has no name for its tensors: they stay plain bytes. */
static int read_attribute(onnx_ctx *x, uint64_t end, const char *out0, unsigned *k,
			  unsigned depth)
{
	mvms_tl_cursor *c = &x->c;
	uint64_t len;
	uint32_t field = 0;
	unsigned wire = 0;
	char *name = NULL;
	int error = 0;

	while (c->pos < end) {
		MVMS_TRY(get_tag(&field, &wire, c, end));
		if (wire == WT_LEN && (field == 5 || field == 10) && out0) {
			MVMS_TRY(get_len(&len, c, end));
			name = node_tensor_name(out0, (*k)++);
			MVMS_CHECK_ALLOC(name, error);
			MVMS_TRY(read_tensor(x, len, name, 0));
			free(name);
			name = NULL;
		} else if (wire == WT_LEN && (field == 6 || field == 11)) {
			MVMS_TRY(get_len(&len, c, end));
			MVMS_TRY(read_graph(x, c->pos + len, depth + 1));
		} else {
			MVMS_TRY(skip_field(c, wire, end));
		}
	}
done:
	free(name);
	return error;
}

/* NodeProto: output (2; the first one names the node's tensors) and attribute (5). Two
 * passes over the node's bytes, because protobuf does not promise that the outputs come
 * before the attributes; the first pass skips every attribute by its length. */
static int read_node(onnx_ctx *x, uint64_t end, unsigned depth)
{
	mvms_tl_cursor *c = &x->c;
	uint64_t start = c->pos, len;
	uint32_t field = 0;
	unsigned wire = 0, k = 0;
	char *out0 = NULL;
	int error = 0, long_name = 0;

	while (c->pos < end) {
		MVMS_TRY(get_tag(&field, &wire, c, end));
		if (field == 2 && wire == WT_LEN && !out0 && !long_name) {
			/* A name too long for a tensor name leaves the node's tensors unnamed
			 * (plain bytes) rather than the whole file. */
			uint64_t at = c->pos;
			MVMS_TRY(get_len(&len, c, end));
			long_name = len > MVMS_ONNX_NAME_MAX;
			c->pos = at;
			if (long_name)
				MVMS_TRY(skip_field(c, wire, end));
			else
				MVMS_TRY(get_string(&out0, c, end, MVMS_ONNX_NAME_MAX));
		} else {
			MVMS_TRY(skip_field(c, wire, end));
		}
	}
	if (out0 && !*out0) { /* an empty output is an omitted optional one: no name */
		free(out0);
		out0 = NULL;
	}
	c->pos = start;
	while (c->pos < end) {
		MVMS_TRY(get_tag(&field, &wire, c, end));
		if (field == 5 && wire == WT_LEN) {
			MVMS_TRY(get_len(&len, c, end));
			MVMS_TRY(read_attribute(x, c->pos + len, out0, &k, depth));
		} else {
			MVMS_TRY(skip_field(c, wire, end));
		}
	}
done:
	free(out0);
	return error;
}

/* GraphProto: initializer (5) and node (1), whose attributes hold Constant tensors and
 * subgraphs; @depth counts the graphs around this one (0: the model's graph). */
static int read_graph(onnx_ctx *x, uint64_t end, unsigned depth)
{
	mvms_tl_cursor *c = &x->c;
	uint64_t len;
	uint32_t field = 0;
	unsigned wire = 0;
	int error = 0;

	if (depth >= MVMS_ONNX_GRAPH_DEPTH)
		return mvms_tl_reject(FMT, "subgraphs nested too deep");
	while (c->pos < end) {
		MVMS_TRY(get_tag(&field, &wire, c, end));
		if (field == 5 && wire == WT_LEN) {
			MVMS_TRY(get_len(&len, c, end));
			MVMS_TRY(read_tensor(x, len, NULL, depth == 0));
		} else if (field == 1 && wire == WT_LEN) {
			MVMS_TRY(get_len(&len, c, end));
			MVMS_TRY(read_node(x, c->pos + len, depth));
		} else {
			MVMS_TRY(skip_field(c, wire, end));
		}
	}
done:
	return error;
}

int mvms_onnx_parse(mvms_tlayout **out, const mvms_tl_src *src)
{
	onnx_ctx *x = NULL;
	uint64_t len, end = src->size;
	uint32_t field = 0;
	unsigned wire = 0;
	int error = 0, graphs = 0;

	*out = NULL;
	x = calloc(1, sizeof(*x));
	MVMS_CHECK_ALLOC(x, error);
	x->l = calloc(1, sizeof(*x->l));
	MVMS_CHECK_ALLOC(x->l, error);
	x->l->format = MVMS_TFORMAT_ONNX;
	mvms_tl_cursor_init(&x->c, src, 0);
	while (x->c.pos < end) {
		MVMS_TRY(get_tag(&field, &wire, &x->c, end));
		if (field == 7 && wire == WT_LEN) {
			if (graphs++) {
				error = mvms_tl_reject(FMT, "two graphs");
				goto done;
			}
			MVMS_TRY(get_len(&len, &x->c, end));
			MVMS_TRY(read_graph(x, x->c.pos + len, 0));
		} else {
			MVMS_TRY(skip_field(&x->c, wire, end));
		}
	}
	if (!graphs) {
		error = mvms_tl_reject(FMT, "no graph");
		goto done;
	}
	MVMS_TRY(mvms_tl_sort_check(x->l->tensors, x->l->count, FMT));
	*out = x->l;
	x->l = NULL;
done:
	if (x)
		mvms_tlayout_free(x->l);
	free(x);
	return error;
}
