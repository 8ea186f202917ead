/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the GGUF tensor layout (mvms_gguf_parse, through mvms_tlayout_probe as
 * push and the server call it). The input is a whole file; it is also probed as the head of
 * a longer file (data beyond the bytes given is never read) and as a file whose last bytes
 * are missing (a short read must fail cleanly). Build and run: tests/fuzz/run.sh.
 */
#include "fuzz_tlayout.h"

static void check(const mvms_tlayout *l, uint64_t size)
{
	if (l->format != MVMS_TFORMAT_GGUF || l->ext_count)
		__builtin_trap();
	check_tensors(l, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	probe_all(data, size, "model.gguf", MVMS_TFORMAT_GGUF, check);
	return 0;
}
