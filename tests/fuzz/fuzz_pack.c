/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the pack receiver, mvms_sync_receive_pack (trailer, index, then every
 * record decoded and hashed), into a store made once per process in a temporary directory
 * ($TMPDIR; run.sh points it at its own work directory and removes it).
 *
 * Input: one flags byte, then the pack bytes. A random index almost never matches the
 * index hash in the trailer, so with flag 1 the harness first writes the right hash into
 * the trailer (when the trailer's index offset and count fit the input), which lets the
 * fuzzer reach the index and record checks; with flag 2 it also passes that hash as the
 * expected pack id, and with flag 4 a different id (which must be refused).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <unistd.h>
#include "mvms/errors.h"
#include "mvms/oid.h"
#include "mvms/store.h"
#include "mvms/sync.h"

#define HEADER 16
#define TRAILER 56
#define INDEX_ENTRY 49

static mvms_store *store;
static char tmpdir[4096];

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void cleanup(void)
{
	mvms_store_free(store);
	store = NULL;
	if (tmpdir[0])
		nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *t = getenv("TMPDIR");
	char dir[4200];

	(void)argc;
	(void)argv;
	snprintf(tmpdir, sizeof(tmpdir), "%s/mvms-fuzz-pack.XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("fuzz_pack: mkdtemp");
		abort();
	}
	snprintf(dir, sizeof(dir), "%s/store", tmpdir);
	if (mvms_store_init(&store, dir, NULL) < 0) {
		fprintf(stderr, "fuzz_pack: store init: %s\n", mvms_error_last());
		abort();
	}
	atexit(cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t flags, *pack;
	size_t len;
	mvms_oid id, expect, *want = NULL;
	int rc, have_hash = 0;

	if (size < 1)
		return 0;
	flags = data[0];
	len = size - 1;
	/* An exact-size copy: ASan sees any read past the end of the pack. */
	pack = malloc(len ? len : 1);
	if (!pack)
		abort();
	memcpy(pack, data + 1, len);
	if (len >= HEADER + TRAILER) {
		const uint8_t *tr = pack + len - TRAILER;
		uint64_t off = le64(tr), n = (uint64_t)tr[8] | (uint64_t)tr[9] << 8 |
					     (uint64_t)tr[10] << 16 | (uint64_t)tr[11] << 24;

		if (off >= HEADER && off <= len - TRAILER &&
		    n * INDEX_ENTRY == (uint64_t)(len - TRAILER) - off) {
			if (flags & 1) {
				mvms_oid_hash(&id, pack + off, (size_t)(n * INDEX_ENTRY));
				memcpy(pack + len - TRAILER + 16, id.id, MVMS_OID_RAWSZ);
			}
			memcpy(expect.id, tr + 16, MVMS_OID_RAWSZ);
			have_hash = 1;
		}
	}
	if (have_hash && (flags & 6)) {
		if (flags & 4)
			expect.id[31] ^= 0x80;
		want = &expect;
	}
	rc = mvms_sync_receive_pack(&id, store, pack, len, want);
	if (rc == 0 && want && memcmp(id.id, want->id, MVMS_OID_RAWSZ) != 0)
		__builtin_trap();
	if (rc == 0 && want && (flags & 4))
		__builtin_trap();
	mvms_error_clear();
	free(pack);
	return 0;
}
