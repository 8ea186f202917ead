/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the ONNX tensor layout (mvms_onnx_parse, through mvms_tlayout_probe as
 * push and the server call it, for a file named model.onnx), and the side-file layout of its
 * external tensors (mvms_tlayout_external). The input is a whole file; it is also probed
 * as the head of a longer file (data beyond the bytes given is never read) and as a file
 * whose last bytes are missing (a short read must fail cleanly). Build and run: tests/fuzz/run.sh.
 */
#include <stdint.h>
#include <stdlib.h>
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

/* 1 when a path has a ".." segment. */
static int dotdot(const char *s)
{
	for (;;) {
		const char *e = strchr(s, '/');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		if (n == 2 && s[0] == '.' && s[1] == '.')
			return 1;
		if (!e)
			return 0;
		s = e + 1;
	}
}

static void check(const mvms_tlayout *l, uint64_t size)
{
	size_t i;

	if (l->format != MVMS_TFORMAT_ONNX || l->header_end > size)
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
	/* External tensors: a location that stays in the model's folder, and a side-file
	 * layout made of them is sorted and checked as well. */
	for (i = 0; i < l->ext_count; i++) {
		const mvms_tensor_info *t = &l->ext[i];
		if (!t->name || !t->shape || !t->location || !t->location[0] ||
		    t->location[0] == '/' || dotdot(t->location))
			__builtin_trap();
	}
	if (l->ext_count) {
		const mvms_tensor_info **p = malloc(l->ext_count * sizeof(*p));
		mvms_tlayout *side = NULL;
		if (!p)
			return;
		for (i = 0; i < l->ext_count; i++)
			p[i] = &l->ext[i];
		if (mvms_tlayout_external(&side, p, l->ext_count, 1u << 20) == 0)
			for (i = 1; i < side->count; i++)
				if (side->tensors[i - 1].offset + side->tensors[i - 1].length > side->tensors[i].offset &&
				    side->tensors[i].length && side->tensors[i - 1].length)
					__builtin_trap();
		mvms_tlayout_free(side);
		free(p);
	}
}

static void probe(const uint8_t *data, size_t have, uint64_t size)
{
	src_ctx s = { data, have };
	mvms_tl_src src = { rd, &s, size };
	mvms_tlayout *l = NULL;
	int rc = mvms_tlayout_probe(&l, "model.onnx", &src);

	if (rc == 0) {
		if (l->format == MVMS_TFORMAT_ONNX)
			check(l, size);
	} else if (l) {
		__builtin_trap();
	}
	mvms_tlayout_free(l);
	mvms_error_clear();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	probe(data, size, size);
	probe(data, size, (uint64_t)size + 65536);
	if (size > 8)
		probe(data, size - size / 4, size);
	return 0;
}
