/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the ONNX tensor layout (mvms_onnx_parse, through mvms_tlayout_probe as
 * push and the server call it, for a file named model.onnx), and the side-file layout of its
 * external tensors (mvms_tlayout_external). The input is a whole file; it is also probed
 * as the head of a longer file (data beyond the bytes given is never read) and as a file
 * whose last bytes are missing (a short read must fail cleanly). Build and run: tests/fuzz/run.sh.
 */
#include <stdlib.h>
#include "fuzz_tlayout.h"

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

	if (l->format != MVMS_TFORMAT_ONNX)
		__builtin_trap();
	check_tensors(l, size);
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	probe_all(data, size, "model.onnx", MVMS_TFORMAT_ONNX, check);
	return 0;
}
