/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the canonical manifest decoder (mvms_manifest_decode), which reads the
 * manifest a client pushes. A manifest it accepts must re-encode to exactly the input
 * bytes (that is what makes the version id the hash of the bytes): checked here too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mvms_manifest *m = NULL;
	mvms_buf again = MVMS_BUF_INIT;
	size_t i;

	if (mvms_manifest_decode(&m, (const char *)data, size) == 0) {
		if (!m || mvms_manifest_encode(&again, m) < 0 || again.size != size ||
		    memcmp(again.ptr, data, size) != 0)
			__builtin_trap();
		for (i = 0; i < m->file_count; i++)
			if (mvms_path_check(m->files[i].path) < 0)
				__builtin_trap();
		mvms_buf_dispose(&again);
		mvms_manifest_free(m);
	} else if (m) {
		__builtin_trap();
	}
	mvms_error_clear();
	return 0;
}
