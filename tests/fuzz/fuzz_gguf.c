/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the GGUF tensor layout (mvms_gguf_parse, through mvms_tlayout_probe as
 * push and the server call it). The input is a whole file; it is also probed as the head of
 * a longer file (data beyond the bytes given is never read) and as a file whose last bytes
 * are missing (a short read must fail cleanly). Build and run: tests/fuzz/run.sh.
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

static void check(const mvms_tlayout *l, uint64_t size)
{
	size_t i;

	if (l->format != MVMS_TFORMAT_GGUF || l->header_end > size || l->ext_count)
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

static void probe(const uint8_t *data, size_t have, uint64_t size)
{
	src_ctx s = { data, have };
	mvms_tl_src src = { rd, &s, size };
	mvms_tlayout *l = NULL;
	int rc = mvms_tlayout_probe(&l, "model.gguf", &src);

	if (rc == 0) {
		if (l->format == MVMS_TFORMAT_GGUF)
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
