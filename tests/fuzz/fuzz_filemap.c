/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the chunk-list ("files" object) parser, mvms_sync_parse_filemap, which
 * reads the chunk lists a client sends with a push. Each input is parsed without an id,
 * with its own id (the hash of its entries: must give the same answer) and with a wrong id
 * (must be refused).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "mvms/errors.h"
#include "mvms/sync.h"

static int parse(uint64_t *size, size_t *count, const uint8_t *data, size_t len,
		 const mvms_oid *id)
{
	mvms_oid *chunks = NULL;
	int rc;

	*size = 0;
	*count = 0;
	rc = mvms_sync_parse_filemap(&chunks, count, size, data, len, id);
	if (rc == 0) {
		/* Header 32 bytes, then 40 per chunk; every chunk id is in the list. */
		if (!chunks || 32 + *count * 40 != len)
			__builtin_trap();
		if (*count && memcmp(chunks[*count - 1].id, data + 32 + (*count - 1) * 40,
				     MVMS_OID_RAWSZ) != 0)
			__builtin_trap();
	} else if (chunks) {
		__builtin_trap();
	}
	free(chunks);
	mvms_error_clear();
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	uint64_t size1, size2;
	size_t count1, count2;
	mvms_oid id;
	int rc1, rc2;

	rc1 = parse(&size1, &count1, data, len, NULL);
	if (mvms_sync_object_id(&id, "files", data, len) == 0) {
		rc2 = parse(&size2, &count2, data, len, &id);
		if ((rc1 == 0) != (rc2 == 0) || (rc1 == 0 && (size1 != size2 || count1 != count2)))
			__builtin_trap();
		id.id[0] ^= 1;
		if (parse(&size2, &count2, data, len, &id) == 0)
			__builtin_trap();
	}
	mvms_error_clear();
	return 0;
}
