/* SPDX-License-Identifier: MIT */
/*
 * Tensor layouts: what safetensors, GGUF and ONNX files have in common for the store. A
 * layout is the list of a file's tensors (name, dtype, shape, where their bytes are), sorted
 * by offset and never overlapping, so that the chunker cuts at every tensor boundary, the
 * store records each tensor, and diff and merge work tensor by tensor. The format is
 * detected in one place (mvms_tlayout_probe): "GGUF" magic, then a safetensors header, then
 * an ONNX protobuf for a name ending in ".onnx". Every parser reads through a bounded reader
 * (mvms_tl_src) and treats any doubt about the file as "plain bytes" (MVMS_ENOTFOUND).
 */
#ifndef MVMS_TLAYOUT_H
#define MVMS_TLAYOUT_H

#include <stddef.h>
#include <stdint.h>
#include "dtype.h"

/* At most this many tensors per file (a bound on memory, ~100 bytes each plus names). */
#define MVMS_TLAYOUT_TENSORS_MAX (1u << 20)

typedef enum mvms_tformat {
	MVMS_TFORMAT_NONE = 0,
	MVMS_TFORMAT_SAFETENSORS,
	MVMS_TFORMAT_GGUF,
	MVMS_TFORMAT_ONNX,
	MVMS_TFORMAT_ONNX_DATA   /* a side file holding an ONNX model's external tensors */
} mvms_tformat;

typedef struct mvms_tensor_info {
	char *name;      /* tensor name, as in the file */
	char dtype[16];  /* the format's own name: "BF16", "Q4_K", "FLOAT", ... */
	char *shape;     /* canonical JSON array of dims: "[4096,4096]" ("[]" for a scalar) */
	uint64_t offset; /* absolute offset of the data in the file */
	uint64_t length; /* bytes of data */
	int dtype_id;    /* enum mvms_dtype (dtype.h): the codec's hint, UNKNOWN for quantized */
	char *location;  /* ONNX external data: the side file's path as written in the model
			  * (relative to the model's folder); NULL for data in this file */
} mvms_tensor_info;

typedef struct mvms_tlayout {
	int format;                 /* mvms_tformat */
	uint64_t header_end;        /* a cut point where the header ends (0: none) */
	size_t count;               /* number of tensors in this file */
	mvms_tensor_info *tensors;  /* sorted by offset (then name), not overlapping */
	char *metadata_json;        /* safetensors: "__metadata__" printed compactly, or NULL */
	size_t ext_count;           /* ONNX: tensors whose data is in side files */
	mvms_tensor_info *ext;      /* ONNX: each with location, offset and length in its file */
} mvms_tlayout;

/* Reads exactly @len bytes at @off (the parsers never ask beyond the size they were given):
 * 0, or a negative MVMS_E* with the message set. */
typedef int (*mvms_tl_read_fn)(void *ctx, void *buf, size_t len, uint64_t off);

typedef struct mvms_tl_src {
	mvms_tl_read_fn read;
	void *ctx;
	uint64_t size;   /* the file's size: every offset and length is checked against it */
} mvms_tl_src;

/**
 * Detects a file's format and parses its tensor layout. @name (may be NULL) is the file's
 * path, used only for ONNX (".onnx"). 0 with *out set; MVMS_ENOTFOUND with *out NULL when
 * the file is plain bytes (no known format, or a malformed or inconsistent one); another
 * negative MVMS_E* on a read error. Free with mvms_tlayout_free().
 */
int mvms_tlayout_probe(mvms_tlayout **out, const char *name, const mvms_tl_src *src);
/* The same on an open file (pread; the file offset does not move). */
int mvms_tlayout_probe_fd(mvms_tlayout **out, const char *name, int fd, uint64_t size);
/* The same on bytes in memory (tests, fuzzing). */
int mvms_tlayout_probe_mem(mvms_tlayout **out, const char *name, const void *data, size_t size);

/**
 * The layout of a side file of @size bytes from the external tensors of one or more ONNX
 * models that point into it (@ext, @n: offsets and lengths in the side file). MVMS_ENOTFOUND
 * when they do not fit (outside the file, overlapping, one name twice with two places).
 */
int mvms_tlayout_external(mvms_tlayout **out, const mvms_tensor_info *const *ext, size_t n,
			  uint64_t size);

/* The files of a version (a push, a commit), to find the side files of its ONNX models. */
typedef struct mvms_tl_files {
	size_t count;
	const char *const *paths;           /* each file's path in the version */
	const uint64_t *sizes;
	const int *want;                    /* 1: a file that may get a side-file layout */
	const mvms_tlayout *const *models;  /* each file's own layout, or NULL */
} mvms_tl_files;

/**
 * Sets out[i] (count entries, NULL on entry) to the layout of the external tensors that the
 * ONNX models among the files keep in file i, for each wanted file that a model names and
 * whose size holds them; files no model names, or whose tensors do not fit, stay NULL.
 */
int mvms_tlayout_sides(mvms_tlayout **out, const mvms_tl_files *fs);
/* The path of a side file: @loc (an external data location, checked by onnx.c) in the
 * folder of the model at @model_path, "." segments dropped; NULL when out of memory. */
char *mvms_tl_side_path(const char *model_path, const char *loc);

/* "safetensors", "gguf", "onnx", "onnx-data" (the contents table's format column), "" */
const char *mvms_tformat_name(int format);
void mvms_tlayout_free(mvms_tlayout *l);

/* ---- for the parsers (gguf.c, onnx.c, safetensors.c) ---- */

/* Strict UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF) and no NUL: the
 * formats say names are UTF-8, and names end up in canonical manifests. */
int mvms_tl_valid_utf8(const unsigned char *s, size_t len);
/* Sorts the tensors by offset then name and checks that they do not overlap and that a
 * zero-length tensor is not strictly inside another: 0 or MVMS_ENOTFOUND (message from @fmt). */
int mvms_tl_sort_check(mvms_tensor_info *t, size_t n, const char *fmt);
/* "[a,b,c]" from @dims. */
char *mvms_tl_shape(const uint64_t *dims, size_t n);

/* A forward reader with a small buffer over a mvms_tl_src: reads never go past src->size. */
typedef struct mvms_tl_cursor {
	const mvms_tl_src *src;
	uint64_t pos;              /* file offset of the next byte */
	unsigned char buf[16384];
	uint64_t buf_off;          /* file offset of buf[0] */
	size_t buf_len;
} mvms_tl_cursor;

void mvms_tl_cursor_init(mvms_tl_cursor *c, const mvms_tl_src *src, uint64_t pos);
/* Copies @n bytes from the cursor: MVMS_ENOTFOUND when the file ends first. */
int mvms_tl_get(mvms_tl_cursor *c, void *dst, size_t n, const char *fmt);
/* Skips @n bytes: MVMS_ENOTFOUND when that is past the end of the file. */
int mvms_tl_skip(mvms_tl_cursor *c, uint64_t n, const char *fmt);
/* MVMS_ENOTFOUND with the message "<fmt>: <why>". */
int mvms_tl_reject(const char *fmt, const char *why);

#endif
