/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the chunk sink (the worker thread that fills a pull's cache while the
 * download runs): every chunk handed over ends up stored once and reads back checked,
 * duplicates within and across batches are harmless, more than the queue's bound passes
 * through without deadlock, and a sink abandoned mid-way lets go cleanly.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "tap.h"
#include "testfs.h"
#include "testdata.h"
#include "store_int.h"
#include "hash.h"
#include "mvms/sync.h"

static int64_t count_rows(mvms_store *st, const char *sql)
{
	sqlite3_stmt *s = mvms_db_stmt(st->db, sql);
	int64_t n = -1;

	if (s && sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	if (s)
		sqlite3_reset(s);
	return n;
}

int main(void)
{
	char dir[] = "/tmp/mvms-test-sync-XXXXXX", path[64];
	mvms_store_options o = MVMS_STORE_OPTIONS_INIT;
	mvms_store *st = NULL;
	mvms_chunk_sink *sink = NULL;
	enum { SMALL = 3000, SMALL_LEN = 4096, BIG = 80, BIG_LEN = 1024 * 1024 };
	unsigned char *buf = malloc(BIG_LEN), *missing = calloc(SMALL + BIG, 1);
	mvms_oid *ids = calloc(SMALL + BIG, sizeof(*ids));
	size_t i, nmissing = 0, bad_add = 0;
	void *pack = NULL;
	size_t plen = 0;

	if (!buf || !missing || !ids || !mkdtemp(dir)) {
		printf("Bail out! setup\n");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/store", dir);
	o.pack_size = 8u * 1024 * 1024;   /* several packs */
	if (mvms_store_init(&st, path, &o) < 0) {
		printf("Bail out! init: %s\n", mvms_error_last());
		return 1;
	}

	/* Small chunks, each handed over twice (once right away, once 500 chunks later, so
	 * the copies land in the same batch and in different ones), then chunks of 1 MiB:
	 * 80 MiB, more than the sink queues before the producer has to wait. */
	ok(mvms_chunk_sink_new(&sink, st) == 0, "a sink starts");
	for (i = 0; i < SMALL + 500; i++) {
		size_t k = i < SMALL ? i : i - SMALL;
		if (i < SMALL) {
			fill_random(buf, SMALL_LEN, k);
			mvms_oid_hash(&ids[k], buf, SMALL_LEN);
			if (mvms_chunk_sink_add(sink, &ids[k], buf, SMALL_LEN) < 0)
				bad_add++;
		}
		if (i >= 500) {
			size_t d = i - 500;
			fill_random(buf, SMALL_LEN, d);
			if (mvms_chunk_sink_add(sink, &ids[d], buf, SMALL_LEN) < 0)
				bad_add++;
		}
	}
	for (i = 0; i < BIG; i++) {
		fill_random(buf, BIG_LEN, SMALL + i);
		mvms_oid_hash(&ids[SMALL + i], buf, BIG_LEN);
		if (mvms_chunk_sink_add(sink, &ids[SMALL + i], buf, BIG_LEN) < 0)
			bad_add++;
	}
	is_int((int)bad_add, 0, "every add was accepted");
	ok(mvms_chunk_sink_finish(sink) == 0, "finish: the worker stored everything (%s)",
	   mvms_error_last());
	mvms_chunk_sink_free(sink);
	sink = NULL;

	ok(mvms_sync_missing(missing, st, ids, SMALL + BIG) == 0, "look up every chunk");
	for (i = 0; i < SMALL + BIG; i++)
		nmissing += missing[i];
	is_int((int)nmissing, 0, "no chunk is missing from the cache");
	is_int((int)count_rows(st, "SELECT count(*) FROM chunks"), SMALL + BIG,
	       "each chunk is indexed once, duplicates or not");
	ok(count_rows(st, "SELECT count(*) FROM packs") >= 10, "in several packs (%lld)",
	   (long long)count_rows(st, "SELECT count(*) FROM packs"));
	/* Read back through the export path, and checked the way a receiver checks them. */
	ok(mvms_sync_export_chunks(&pack, &plen, NULL, st, ids, SMALL + BIG) == 0,
	   "all of them read back through export");
	{
		mvms_store *other = NULL;
		char opath[80];
		snprintf(opath, sizeof(opath), "%s/other", dir);
		ok(mvms_store_init(&other, opath, &o) == 0 &&
			   mvms_sync_receive_pack(NULL, other, pack, plen, NULL) == 0,
		   "and another store takes the pack: every chunk decodes to its id (%s)",
		   mvms_error_last());
		mvms_store_free(other);
	}
	free(pack);

	/* A sink dropped mid-way (a failed pull): no hang, no leak (ASan), and the store takes
	 * the next sink's chunks. */
	ok(mvms_chunk_sink_new(&sink, st) == 0, "a second sink starts");
	bad_add = 0;
	for (i = 0; i < 40; i++) {
		fill_random(buf, BIG_LEN, 100000 + i);
		mvms_oid_hash(&ids[0], buf, BIG_LEN);
		if (mvms_chunk_sink_add(sink, &ids[0], buf, BIG_LEN) < 0)
			bad_add++;
	}
	is_int((int)bad_add, 0, "it takes 40 MiB before it is dropped");
	mvms_chunk_sink_free(sink);
	sink = NULL;
	ok(count_rows(st, "SELECT count(*) FROM chunks") >= SMALL + BIG,
	   "what was stored before stays stored");
	fill_random(buf, SMALL_LEN, 200000);
	mvms_oid_hash(&ids[0], buf, SMALL_LEN);
	ok(mvms_chunk_sink_new(&sink, st) == 0 &&
		   mvms_chunk_sink_add(sink, &ids[0], buf, SMALL_LEN) == 0 &&
		   mvms_chunk_sink_finish(sink) == 0,
	   "after the abandoned sink, a third one stores a chunk (%s)", mvms_error_last());
	mvms_chunk_sink_free(sink);
	sink = NULL;
	ok(mvms_sync_missing(missing, st, ids, 1) == 0 && !missing[0], "and it is in the store");

	mvms_store_free(st);
	rm_rf(dir);
	free(buf);
	free(missing);
	free(ids);
	return done_testing();
}
