/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the local directory backend in a temporary directory: put/get/stat,
 * ranges, missing keys, idempotent puts, list with prefixes, remove, key validation, and
 * that aborted or failed writers leave nothing in DIR/tmp.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "tap.h"
#include "testfs.h"
#include "common.h"
#include "mvms/backend.h"

/* Collects listed keys as "key=size\n" lines, sorted afterwards for comparison. */
typedef struct {
	char *keys[64];
	int n;
	int stop_at; /* return 7 on this call (1-based), 0 = never */
} listing;

static int collect_cb(const char *key, uint64_t size, void *payload)
{
	listing *l = payload;
	char line[256];

	snprintf(line, sizeof(line), "%s=%llu", key, (unsigned long long)size);
	if (l->n < 64)
		l->keys[l->n] = strdup(line);
	l->n++;
	return l->stop_at && l->n == l->stop_at ? 7 : 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists @prefix and returns the sorted keys joined by ' ' (static buffer). */
static const char *list_str(mvms_backend *be, const char *prefix, int *rc)
{
	static char out[2048];
	listing l = { { NULL }, 0, 0 };
	int i;

	*rc = be->list(be, prefix, collect_cb, &l);
	qsort(l.keys, (size_t)(l.n < 64 ? l.n : 64), sizeof(char *), cmp_str);
	out[0] = '\0';
	for (i = 0; i < l.n && i < 64; i++) {
		if (i)
			strncat(out, " ", sizeof(out) - strlen(out) - 1);
		strncat(out, l.keys[i], sizeof(out) - strlen(out) - 1);
		free(l.keys[i]);
	}
	return out;
}

int main(void)
{
	char dir[] = "/tmp/mvms-test-local-XXXXXX", tmpdir[256], path[512];
	mvms_backend *be = NULL, *be2 = NULL;
	mvms_backend_writer *w = NULL;
	const char *data = "0123456789abcdefghijklmnopqrstuvwxyz";
	size_t dlen = strlen(data), len = 0;
	char buf[64];
	void *all = NULL;
	uint64_t size = 0;
	int rc, i;
	FILE *f;
	static const char *bad_keys[] = { "../x", "/abs", "a//b", "", "a/../b", "a/./b", "a/",
					  "..", "tmp/x", "tmp" };

	if (!mkdtemp(dir)) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	snprintf(tmpdir, sizeof(tmpdir), "%s/store/tmp", dir);

	snprintf(path, sizeof(path), "%s/store/", dir);
	is_int(mvms_backend_local(&be, path), 0, "local: create with a missing directory");
	ok(be && !strcmp(be->name, "local"), "local: name");

	/* put, stat, get */
	is_int(mvms_backend_put(be, "objects/ab/abc", data, dlen), 0, "put");
	is_int(be->stat(&size, be, "objects/ab/abc"), 0, "stat");
	is_int(size, dlen, "stat size");
	memset(buf, 0, sizeof(buf));
	is_int(be->get(be, "objects/ab/abc", 0, buf, dlen), 0, "get whole");
	is_mem(buf, data, dlen, "get whole bytes");
	memset(buf, 0, sizeof(buf));
	is_int(be->get(be, "objects/ab/abc", 10, buf, 20), 0, "get range");
	is_mem(buf, data + 10, 20, "get range bytes");
	is_int(be->get(be, "objects/ab/abc", dlen, buf, 0), 0, "get 0 bytes at the end");
	is_int(be->get(be, "objects/ab/abc", 30, buf, 10), MVMS_ERROR, "get past end -> ERROR");
	ok(strstr(mvms_error_last(), "objects/ab/abc") != NULL, "short read names the key: '%s'",
	   mvms_error_last());
	is_int(be->get(be, "objects/ab/abc", UINT64_MAX - 2, buf, 10), MVMS_EINVALID,
	       "get at offset near UINT64_MAX -> EINVALID");
	is_int(be->get(be, "objects/ab/missing", 0, buf, 1), MVMS_ENOTFOUND,
	       "get missing -> ENOTFOUND");
	is_str(mvms_error_last(), "object objects/ab/missing: not found", "not found message");
	is_int(be->get(be, "objects/ab/abc/below", 0, buf, 1), MVMS_ENOTFOUND,
	       "get below a file -> ENOTFOUND");
	is_int(be->stat(&size, be, "objects/zz/missing"), MVMS_ENOTFOUND,
	       "stat missing -> ENOTFOUND");
	is_int(be->stat(&size, be, "objects"), MVMS_ENOTFOUND, "stat of a directory -> ENOTFOUND");

	is_int(mvms_backend_get_all(&all, &len, be, "objects/ab/abc", 1024), 0, "get_all");
	ok(all && len == dlen && !memcmp(all, data, dlen), "get_all bytes");
	free(all);
	all = NULL;
	is_int(mvms_backend_get_all(&all, &len, be, "objects/ab/abc", dlen - 1), MVMS_EINVALID,
	       "get_all above max_len -> EINVALID");
	ok(all == NULL, "get_all: *out NULL on error");
	is_int(mvms_backend_get_all(&all, &len, be, "objects/ab/none", 1024), MVMS_ENOTFOUND,
	       "get_all missing -> ENOTFOUND");

	/* Idempotent put: same key, same bytes. */
	is_int(mvms_backend_put(be, "objects/ab/abc", data, dlen), 0, "put same key again");
	is_int(be->stat(&size, be, "objects/ab/abc"), 0, "stat after second put");
	is_int(size, dlen, "size unchanged");
	is_int(mvms_backend_put(be, "empty", "", 0), 0, "put empty object");
	is_int(mvms_backend_get_all(&all, &len, be, "empty", 10), 0, "get_all empty object");
	ok(all != NULL && len == 0, "empty object: non-NULL buffer, 0 bytes");
	free(all);
	all = NULL;

	/* Writers: several writes, abort, temp files. */
	is_int(be->writer_open(&w, be), 0, "writer_open");
	is_int(count_dir(tmpdir), 1, "one temp file while writing");
	is_int(be->writer_write(w, data, 10), 0, "writer_write 1");
	is_int(be->writer_write(w, data + 10, dlen - 10), 0, "writer_write 2");
	is_int(be->writer_commit(w, "packs/aa/one"), 0, "writer_commit");
	is_int(be->stat(&size, be, "packs/aa/one"), 0, "committed object exists");
	is_int(size, dlen, "committed size");
	is_int(count_dir(tmpdir), 0, "no temp file after commit");
	is_int(be->writer_open(&w, be), 0, "writer_open (to abort)");
	is_int(be->writer_write(w, data, dlen), 0, "writer_write");
	be->writer_abort(w);
	be->writer_abort(NULL);
	is_int(count_dir(tmpdir), 0, "abort leaves no temp file");
	is_int(be->writer_open(&w, be), 0, "writer_open (bad key)");
	is_int(be->writer_commit(w, "../escape"), MVMS_EINVALID, "commit with a bad key -> EINVALID");
	is_int(count_dir(tmpdir), 0, "failed commit leaves no temp file");
	snprintf(path, sizeof(path), "%s/store/../escape", dir);
	ok(access(path, F_OK) != 0, "nothing written outside the store");

	/* list */
	mvms_backend_put(be, "packs/ab/two", "22", 2);
	mvms_backend_put(be, "packs/ab/three", "333", 3);
	mvms_backend_put(be, "manifests/aa/four", "4444", 4);
	is_int(be->writer_open(&w, be), 0, "writer open during list");
	is_str(list_str(be, "", &rc),
	       "empty=0 manifests/aa/four=4 objects/ab/abc=36 packs/aa/one=36 packs/ab/three=3 "
	       "packs/ab/two=2", "list all (tmp excluded)");
	is_int(rc, 0, "list rc");
	is_str(list_str(be, "packs/", &rc), "packs/aa/one=36 packs/ab/three=3 packs/ab/two=2",
	       "list packs/");
	is_str(list_str(be, "packs/ab", &rc), "packs/ab/three=3 packs/ab/two=2", "list packs/ab");
	is_str(list_str(be, "packs/ab/t", &rc), "packs/ab/three=3 packs/ab/two=2",
	       "list packs/ab/t");
	is_str(list_str(be, "packs/ab/tw", &rc), "packs/ab/two=2", "list packs/ab/tw");
	is_str(list_str(be, "pa", &rc), "packs/aa/one=36 packs/ab/three=3 packs/ab/two=2",
	       "list pa");
	is_str(list_str(be, "e", &rc), "empty=0", "list e");
	is_str(list_str(be, "zzz/", &rc), "", "list of a missing directory is empty");
	is_int(rc, 0, "list missing rc");
	is_str(list_str(be, "t", &rc), "", "list t does not see tmp");
	is_int(be->list(be, "../", collect_cb, &(listing){ { NULL }, 0, 0 }), MVMS_EINVALID,
	       "list ../ -> EINVALID");
	{
		listing l = { { NULL }, 0, 2 };

		is_int(be->list(be, "", collect_cb, &l), 7, "list stops with the callback's value");
		is_int(l.n, 2, "callback called twice");
		for (i = 0; i < l.n && i < 64; i++)
			free(l.keys[i]);
	}
	be->writer_abort(w);

	/* remove */
	is_int(be->remove(be, "packs/ab/two"), 0, "remove");
	is_int(be->stat(&size, be, "packs/ab/two"), MVMS_ENOTFOUND, "removed key is gone");
	is_int(be->remove(be, "packs/ab/two"), 0, "remove missing key is ok");
	is_int(be->remove(be, "nodir/x/y"), 0, "remove under a missing directory is ok");

	/* invalid keys */
	for (i = 0; i < (int)MVMS_ARRAY_SIZE(bad_keys); i++) {
		const char *k = bad_keys[i];
		int r1 = mvms_backend_put(be, k, "x", 1), r2 = be->get(be, k, 0, buf, 1);
		int r3 = be->stat(&size, be, k), r4 = be->remove(be, k);

		/* remove() takes the temp files scan("tmp/") names (gc), nothing else there. */
		if (strcmp(k, "tmp/x") == 0)
			r4 = MVMS_EINVALID;
		ok(r1 == MVMS_EINVALID && r2 == MVMS_EINVALID && r3 == MVMS_EINVALID &&
		   r4 == MVMS_EINVALID, "key '%s' rejected by put/get/stat/remove", k);
	}
	is_int(be->remove(be, "tmp/a/b"), MVMS_EINVALID, "remove: a path under tmp/ is refused");
	is_int(be->remove(be, "tmp/.."), MVMS_EINVALID, "remove: tmp/.. is refused");
	is_int(count_dir(tmpdir), 0, "rejected puts leave no temp file");

	/* A second backend on the same directory sees the same objects. */
	snprintf(path, sizeof(path), "%s/store", dir);
	is_int(mvms_backend_local(&be2, path), 0, "second backend on the same dir");
	is_int(be2->stat(&size, be2, "packs/ab/three"), 0, "second backend sees objects");
	mvms_backend_free(be2);

	/* A file where the directory should be. */
	snprintf(path, sizeof(path), "%s/afile", dir);
	f = fopen(path, "w");
	if (f)
		fclose(f);
	be2 = (mvms_backend *)1;
	is_int(mvms_backend_local(&be2, path), MVMS_ERROR, "backend on a file -> ERROR");
	ok(be2 == NULL, "*out NULL on error");

	mvms_backend_free(be);
	mvms_backend_free(NULL);
	rm_rf(dir);
	return done_testing();
}
