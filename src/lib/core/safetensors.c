/* SPDX-License-Identifier: MIT */
/*
 * safetensors probe: validates a file's header (8-byte little-endian length N, then N bytes
 * of JSON) against the file size and returns its tensors sorted by offset, so that the
 * chunker can cut at tensor boundaries. Any doubt makes the file plain bytes
 * (MVMS_ENOTFOUND): it never trusts the header, and it never reads tensor data.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "common.h"
#include "safetensors.h"
#include "tlayout.h"

/* The largest integer a JSON number (a double in cJSON) holds exactly. */
#define EXACT_INT_MAX 9007199254740992.0 /* 2^53 */

static int not_safetensors(const char *why)
{
	return mvms_error_set(MVMS_ENOTFOUND, "safetensors: %s", why);
}

unsigned mvms_safetensors_dtype_size(const char *dtype)
{
	static const struct {
		const char *name;
		unsigned size;
	} types[] = {
		{ "BOOL", 1 }, { "U8", 1 },  { "I8", 1 },  { "F8_E4M3", 1 }, { "F8_E5M2", 1 },
		{ "I16", 2 },  { "U16", 2 }, { "F16", 2 }, { "BF16", 2 },    { "I32", 4 },
		{ "U32", 4 },  { "F32", 4 }, { "I64", 8 }, { "U64", 8 },     { "F64", 8 },
	};
	size_t i;

	if (!dtype)
		return 0;
	for (i = 0; i < MVMS_ARRAY_SIZE(types); i++)
		if (strcmp(dtype, types[i].name) == 0)
			return types[i].size;
	return 0;
}

void mvms_safetensors_free(mvms_safetensors *st)
{
	mvms_tlayout_free(st);
}

/* A JSON number that is a non-negative integer we hold exactly. */
static int get_u64(uint64_t *out, const cJSON *item)
{
	double v;

	if (!cJSON_IsNumber(item))
		return 0;
	v = item->valuedouble;
	/* Written so that NaN fails every comparison and is refused. */
	if (!(v >= 0.0 && v <= EXACT_INT_MAX) || v != (double)(uint64_t)v)
		return 0;
	*out = (uint64_t)v;
	return 1;
}

static int cmp_str_ptr(const void *a, const void *b)
{
	const char *const *x = a, *const *y = b;

	return strcmp(*x, *y);
}

/*
 * MVMS_ENOTFOUND when @obj has two members with one name (parsers disagree on which one
 * wins), 0 when the names are unique, MVMS_ERROR when out of memory. Sorts, so that a
 * header of a million keys costs n log n, not n^2.
 */
static int check_unique_keys(const cJSON *obj)
{
	const char **keys = NULL;
	const cJSON *m;
	size_t n = 0, i;
	int error = 0;

	cJSON_ArrayForEach(m, obj)
		n++;
	if (n < 2)
		goto done;
	keys = malloc(n * sizeof(*keys));
	MVMS_CHECK_ALLOC(keys, error);
	i = 0;
	cJSON_ArrayForEach(m, obj)
		keys[i++] = m->string;
	qsort(keys, n, sizeof(*keys), cmp_str_ptr);
	for (i = 1; i < n; i++) {
		if (strcmp(keys[i - 1], keys[i]) == 0) {
			error = not_safetensors("duplicate key");
			goto done;
		}
	}

done:
	free(keys);
	return error;
}

/*
 * Fills @t from one header entry {"dtype": s, "shape": [n...], "data_offsets": [b, e]}.
 * @return 0, MVMS_ENOTFOUND when the entry is malformed, MVMS_ERROR when out of memory.
 */
static int parse_tensor(mvms_tensor_info *t, const cJSON *entry, uint64_t data_size,
			uint64_t header_end)
{
	mvms_buf shape = MVMS_BUF_INIT;
	const cJSON *dtype, *dims, *offs, *d;
	uint64_t elems = 1, bytes, begin, end, n;
	unsigned esize;
	int error = 0;

	if (!cJSON_IsObject(entry)) {
		error = not_safetensors("tensor entry is not an object");
		goto done;
	}
	/* Exactly the three members: no extras, and no duplicate for parsers to disagree on. */
	dtype = cJSON_GetObjectItemCaseSensitive(entry, "dtype");
	dims = cJSON_GetObjectItemCaseSensitive(entry, "shape");
	offs = cJSON_GetObjectItemCaseSensitive(entry, "data_offsets");
	if (!cJSON_IsString(dtype) || !cJSON_IsArray(dims) || !cJSON_IsArray(offs) ||
	    cJSON_GetArraySize(entry) != 3 || cJSON_GetArraySize(offs) != 2) {
		error = not_safetensors("tensor entry is not {dtype, shape, data_offsets}");
		goto done;
	}
	esize = mvms_safetensors_dtype_size(dtype->valuestring);
	if (esize == 0 || strlen(dtype->valuestring) >= sizeof(t->dtype)) {
		error = not_safetensors("unknown dtype");
		goto done;
	}
	memcpy(t->dtype, dtype->valuestring, strlen(dtype->valuestring) + 1);
	t->dtype_id = (int)mvms_dtype_from_name(t->dtype);

	MVMS_TRY(mvms_buf_puts(&shape, "["));
	cJSON_ArrayForEach(d, dims) {
		if (!get_u64(&n, d)) {
			error = not_safetensors("shape holds a non-integer or negative dimension");
			goto done;
		}
		if (mvms_mul_overflow(&elems, elems, n)) {
			error = not_safetensors("shape overflows");
			goto done;
		}
		MVMS_TRY(mvms_buf_printf(&shape, "%s%" PRIu64, d == dims->child ? "" : ",", n));
	}
	MVMS_TRY(mvms_buf_puts(&shape, "]"));

	if (!get_u64(&begin, offs->child) || !get_u64(&end, offs->child->next)) {
		error = not_safetensors("data_offsets are not non-negative integers");
		goto done;
	}
	if (begin > end || end > data_size) {
		error = not_safetensors("data_offsets outside the data area");
		goto done;
	}
	if (mvms_mul_overflow(&bytes, elems, esize) || bytes != end - begin) {
		error = not_safetensors("tensor length does not match dtype and shape");
		goto done;
	}
	t->offset = header_end + begin;
	t->length = end - begin;
	t->shape = mvms_buf_detach(&shape);

done:
	mvms_buf_dispose(&shape);
	return error;
}

static int cmp_offset_name(const void *a, const void *b)
{
	const mvms_tensor_info *x = a, *y = b;

	if (x->offset != y->offset)
		return x->offset < y->offset ? -1 : 1;
	return strcmp(x->name, y->name);
}

/*
 * Tensors sorted by offset must not overlap. A zero-length tensor may sit on a boundary
 * (the start or end of another tensor) but not strictly inside one, where it would force
 * a cut in the middle of a tensor.
 */
static int check_layout(const mvms_safetensors *st)
{
	uint64_t last_begin = 0, last_end = 0;
	size_t i;
	int error = 0;

	for (i = 0; i < st->count; i++) {
		const mvms_tensor_info *t = &st->tensors[i];

		if (t->length > 0) {
			if (t->offset < last_end) {
				error = not_safetensors("tensors overlap");
				goto done;
			}
			last_begin = t->offset;
			last_end = t->offset + t->length;
		} else if (t->offset < last_end && t->offset != last_begin) {
			error = not_safetensors("empty tensor inside another tensor");
			goto done;
		}
	}

done:
	return error;
}

int mvms_safetensors_dense(const mvms_safetensors *st, uint64_t file_size)
{
	uint64_t pos = st->header_end;
	size_t i;

	/* Sorted by offset, non-empty tensors do not overlap (check_layout); an empty one
	 * sits on a boundary and covers nothing. */
	for (i = 0; i < st->count; i++) {
		if (st->tensors[i].length == 0)
			continue;
		if (st->tensors[i].offset != pos)
			return 0;
		pos += st->tensors[i].length;
	}
	return pos == file_size;
}

/* "__metadata__" is an object of strings; it is kept printed compactly. */
static int parse_metadata(mvms_safetensors *st, const cJSON *meta)
{
	const cJSON *m;
	char *printed = NULL;
	int error = 0;

	if (!cJSON_IsObject(meta)) {
		error = not_safetensors("__metadata__ is not an object");
		goto done;
	}
	MVMS_TRY(check_unique_keys(meta));
	cJSON_ArrayForEach(m, meta) {
		if (!cJSON_IsString(m)) {
			error = not_safetensors("__metadata__ holds a value that is not a string");
			goto done;
		}
	}
	printed = cJSON_PrintUnformatted(meta);
	MVMS_CHECK_ALLOC(printed, error);
	/* Copied so that callers free with free(), whatever allocator cJSON was given. */
	st->metadata_json = strdup(printed);
	MVMS_CHECK_ALLOC(st->metadata_json, error);

done:
	cJSON_free(printed);
	return error;
}

int mvms_safetensors_parse(mvms_safetensors **out, size_t *needed, const void *head,
			   size_t head_len, uint64_t file_size)
{
	const unsigned char *p = head;
	mvms_safetensors *st = NULL;
	cJSON *root = NULL;
	const cJSON *item;
	const char *json, *parse_end = NULL;
	uint64_t n, data_size;
	size_t count = 0;
	int error = 0;

	if (!out || (!head && head_len > 0)) {
		error = mvms_error_set(MVMS_EINVALID, "safetensors: bad arguments");
		goto done;
	}
	*out = NULL;
	if (file_size < 8) {
		error = not_safetensors("file shorter than 8 bytes");
		goto done;
	}
	if (head_len < 8) {
		if (needed)
			*needed = 8;
		error = mvms_error_set(MVMS_EBUFS, "safetensors: need 8 bytes of header");
		goto done;
	}
	n = mvms_le64_get(p);
	if (n == 0 || n > MVMS_SAFETENSORS_HEADER_MAX || n > file_size - 8) {
		error = not_safetensors("header length out of range");
		goto done;
	}
	if (head_len - 8 < n) {
		if (needed)
			*needed = (size_t)(8 + n);
		error = mvms_error_set(MVMS_EBUFS, "safetensors: need %" PRIu64 " bytes of header",
				       8 + n);
		goto done;
	}
	json = (const char *)p + 8;
	if (json[0] != '{' || !mvms_tl_valid_utf8((const unsigned char *)json, (size_t)n)) {
		error = not_safetensors("header is not a UTF-8 JSON object");
		goto done;
	}
	root = cJSON_ParseWithLengthOpts(json, (size_t)n, &parse_end, 0);
	if (!cJSON_IsObject(root) || !parse_end) {
		error = not_safetensors("header is not valid JSON");
		goto done;
	}
	/* Writers pad the header with spaces to align the data; anything else is junk. */
	for (; parse_end < json + n; parse_end++) {
		if (*parse_end != ' ' && *parse_end != '\t' && *parse_end != '\r' &&
		    *parse_end != '\n') {
			error = not_safetensors("junk after the header object");
			goto done;
		}
	}

	/* Unique keys also rule out a second "__metadata__" and two tensors of one name. */
	MVMS_TRY(check_unique_keys(root));
	data_size = file_size - 8 - n;
	cJSON_ArrayForEach(item, root) {
		if (strcmp(item->string, "__metadata__") != 0)
			count++;
	}
	st = calloc(1, sizeof(*st));
	MVMS_CHECK_ALLOC(st, error);
	st->format = MVMS_TFORMAT_SAFETENSORS;
	st->header_end = 8 + n;
	if (count > 0) {
		st->tensors = calloc(count, sizeof(*st->tensors));
		MVMS_CHECK_ALLOC(st->tensors, error);
	}
	cJSON_ArrayForEach(item, root) {
		mvms_tensor_info *t;

		if (strcmp(item->string, "__metadata__") == 0) {
			MVMS_TRY(parse_metadata(st, item));
			continue;
		}
		/* Counted before parsing, so mvms_safetensors_free() sees a half-filled entry. */
		t = &st->tensors[st->count++];
		t->name = strdup(item->string);
		MVMS_CHECK_ALLOC(t->name, error);
		MVMS_TRY(parse_tensor(t, item, data_size, st->header_end));
	}
	if (st->count > 1)
		qsort(st->tensors, st->count, sizeof(*st->tensors), cmp_offset_name);
	MVMS_TRY(check_layout(st));
	*out = st;
	st = NULL;

done:
	cJSON_Delete(root);
	mvms_safetensors_free(st);
	return error;
}

int mvms_safetensors_probe(mvms_safetensors **out, int fd, uint64_t file_size)
{
	unsigned char len8[8];
	unsigned char *head = NULL;
	size_t needed = 0;
	int error = 0;

	if (!out) {
		error = mvms_error_set(MVMS_EINVALID, "safetensors: bad arguments");
		goto done;
	}
	*out = NULL;
	if (file_size < 8) {
		error = not_safetensors("file shorter than 8 bytes");
		goto done;
	}
	MVMS_TRY(mvms_read_full(fd, len8, sizeof(len8), 0, "safetensors header"));
	error = mvms_safetensors_parse(out, &needed, len8, sizeof(len8), file_size);
	if (error != MVMS_EBUFS)
		goto done;
	head = malloc(needed);
	MVMS_CHECK_ALLOC(head, error);
	MVMS_TRY(mvms_read_full(fd, head, needed, 0, "safetensors header"));
	error = mvms_safetensors_parse(out, NULL, head, needed, file_size);

done:
	free(head);
	return error;
}
