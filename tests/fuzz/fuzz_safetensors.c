/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the safetensors header parser (mvms_safetensors_parse). The input is
 * the start of a file. It is parsed as a whole file, then as the head of a longer file
 * (tensor data beyond the bytes given), then as a prefix cut short (the EBUFS path the
 * server's probe takes). Build and run: tests/fuzz/run.sh.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "safetensors.h"
#include "mvms/errors.h"

static void check(const mvms_safetensors *st, uint64_t file_size)
{
	size_t i;

	/* What the parser promises to its callers (chunk cuts at these offsets). */
	if (st->header_end < 9 || st->header_end > file_size)
		__builtin_trap();
	for (i = 0; i < st->count; i++) {
		const mvms_tensor_info *t = &st->tensors[i];
		if (!t->name || !t->shape || t->offset < st->header_end ||
		    t->offset > file_size || t->length > file_size - t->offset)
			__builtin_trap();
		if (i && t->length && st->tensors[i - 1].length &&
		    st->tensors[i - 1].offset + st->tensors[i - 1].length > t->offset)
			__builtin_trap();
	}
}

static void parse(const uint8_t *data, size_t head_len, uint64_t file_size)
{
	mvms_safetensors *st = NULL;
	size_t needed = 0;
	int rc;

	rc = mvms_safetensors_parse(&st, &needed, data, head_len, file_size);
	if (rc == 0) {
		check(st, file_size);
		mvms_safetensors_free(st);
	} else if (rc == MVMS_EBUFS) {
		if (needed <= head_len)
			__builtin_trap();
	} else if (st) {
		__builtin_trap();
	}
	mvms_error_clear();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	parse(data, size, size);
	parse(data, size, (uint64_t)size + 4096);
	if (size > 8)
		parse(data, size / 2, size);
	return 0;
}
