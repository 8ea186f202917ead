/* SPDX-License-Identifier: MIT */
/*
 * What the tensor-layout fuzz targets (fuzz_gguf.c, fuzz_onnx.c) share: a read callback over
 * the input that may declare a larger file than the bytes given, the checks every tensor
 * table must pass, and the three probes of each input (the whole file, the head of a longer
 * one, a file whose last bytes are missing). Each target includes it once and gives the file
 * name it probes as, the format it expects and its own further checks.
 */
#ifndef FUZZ_TLAYOUT_H
#define FUZZ_TLAYOUT_H

#include <stdint.h>
#include <string.h>
#include "tlayout.h"
#include "mvms/errors.h"

typedef struct src_ctx {
	const uint8_t *p;
	size_t have;     /* bytes really there; the declared size may be larger */
} src_ctx;

static int rd(void *ctx, void *buf, size_t len, uint64_t off)
{
	src_ctx *s = ctx;

	if (off > s->have || len > s->have - off)
		return mvms_error_set(MVMS_ERROR, "short read");
	memcpy(buf, s->p + off, len);
	return 0;
}

/* The tensors of @l are named, typed, inside a file of @size bytes after the header, sorted
 * by offset and not overlapping; anything else traps. */
static void check_tensors(const mvms_tlayout *l, uint64_t size)
{
	size_t i;

	if (l->header_end > size)
		__builtin_trap();
	for (i = 0; i < l->count; i++) {
		const mvms_tensor_info *t = &l->tensors[i];
		if (!t->name || !t->shape || !t->dtype[0] || t->offset < l->header_end ||
		    t->offset > size || t->length > size - t->offset)
			__builtin_trap();
		if (i && l->tensors[i - 1].offset > t->offset)
			__builtin_trap();
		if (i && t->length && l->tensors[i - 1].length &&
		    l->tensors[i - 1].offset + l->tensors[i - 1].length > t->offset)
			__builtin_trap();
	}
}

/* Probes @have bytes of @data as a file of @size bytes named @name; a layout of @format is
 * checked by @check, a failure must leave no layout behind. */
static void probe(const uint8_t *data, size_t have, uint64_t size, const char *name, int format,
		  void (*check)(const mvms_tlayout *l, uint64_t size))
{
	src_ctx s = { data, have };
	mvms_tl_src src = { rd, &s, size };
	mvms_tlayout *l = NULL;
	int rc = mvms_tlayout_probe(&l, name, &src);

	if (rc == 0) {
		if (l->format == format)
			check(l, size);
	} else if (l) {
		__builtin_trap();
	}
	mvms_tlayout_free(l);
	mvms_error_clear();
}

/* The three probes of one input. */
static void probe_all(const uint8_t *data, size_t size, const char *name, int format,
		      void (*check)(const mvms_tlayout *l, uint64_t size))
{
	probe(data, size, size, name, format, check);
	probe(data, size, (uint64_t)size + 65536, name, format, check);
	if (size > 8)
		probe(data, size - size / 4, size, name, format, check);
}

#endif
