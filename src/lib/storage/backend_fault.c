/* SPDX-License-Identifier: MIT */
/*
 * The fault-injecting backend (backend_fault.h): forwards every call to the backend it
 * wraps, counts it, sleeps first when asked, and fails the calls its rules name instead of
 * forwarding them. It does no I/O of its own and keeps no data. Thread-safe (push writes
 * packs from several threads): one mutex guards the counts and the rules.
 */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include "common.h"
#include "backend_fault.h"

typedef struct fault_backend {
	mvms_backend parent;
	mvms_backend *inner;
	pthread_mutex_t lock;
	mvms_fault_options opts;
	mvms_fault_counts counts;
	uint64_t writes, gets, removes; /* calls since the rules were set */
} fault_backend;

typedef struct fault_writer {
	mvms_backend_writer parent;
	mvms_backend_writer *inner;
} fault_writer;

enum { F_WRITE, F_GET, F_REMOVE, F_OTHER };

/* Counts a call in @counter, sleeps, and says whether the rule of @kind fails it. */
static int enter(fault_backend *f, uint64_t *counter, int kind)
{
	const mvms_fault_rule *r = NULL;
	uint64_t *seen = NULL;
	unsigned sleep_ms;
	int fail = 0;

	pthread_mutex_lock(&f->lock);
	(*counter)++;
	if (kind == F_WRITE)
		r = &f->opts.write, seen = &f->writes;
	else if (kind == F_GET)
		r = &f->opts.get, seen = &f->gets;
	else if (kind == F_REMOVE)
		r = &f->opts.remove, seen = &f->removes;
	if (r) {
		uint64_t n = ++*seen;
		fail = r->nth && n >= r->nth && (r->count == 0 || n < (uint64_t)r->nth + r->count);
		if (fail)
			f->counts.injected++;
	}
	sleep_ms = f->opts.sleep_ms;
	pthread_mutex_unlock(&f->lock);
	if (sleep_ms) {
		struct timespec ts = { (time_t)(sleep_ms / 1000), (long)(sleep_ms % 1000) * 1000000L };
		while (nanosleep(&ts, &ts) != 0)
			;
	}
	return fail;
}

static int write_fault(fault_backend *f, const char *what, const char *key)
{
	return mvms_error_set(MVMS_ERROR, "fault: %s%s%s: %s", what, key ? " " : "",
			      key ? key : "", f->opts.write_enospc ? "No space left on device"
								: "Input/output error");
}

static int fault_writer_open(mvms_backend_writer **out, mvms_backend *be)
{
	fault_backend *f = (fault_backend *)be;
	fault_writer *w;
	int error;

	*out = NULL;
	enter(f, &f->counts.writer_open, F_OTHER);
	w = calloc(1, sizeof(*w));
	if (!w)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	if ((error = mvms_backend_writer_open(&w->inner, f->inner)) < 0) {
		free(w);
		return error;
	}
	w->parent.be = be;
	*out = &w->parent;
	return 0;
}

static int fault_writer_write(mvms_backend_writer *bw, const void *data, size_t len)
{
	fault_backend *f = (fault_backend *)bw->be;

	if (enter(f, &f->counts.writer_write, F_WRITE))
		return write_fault(f, "write", NULL);
	return mvms_backend_writer_write(((fault_writer *)bw)->inner, data, len);
}

/* As every commit, frees the writer whatever the result; a failed one drops the object. */
static int fault_writer_commit(mvms_backend_writer *bw, const char *key)
{
	fault_backend *f = (fault_backend *)bw->be;
	fault_writer *w = (fault_writer *)bw;
	int error;

	if (enter(f, &f->counts.writer_commit, F_WRITE)) {
		error = write_fault(f, "commit", key);
		mvms_backend_writer_abort(w->inner);
	} else {
		error = mvms_backend_writer_commit(w->inner, key);
	}
	free(w);
	return error;
}

static void fault_writer_abort(mvms_backend_writer *bw)
{
	fault_backend *f;

	if (!bw)
		return;
	f = (fault_backend *)bw->be;
	enter(f, &f->counts.writer_abort, F_OTHER);
	mvms_backend_writer_abort(((fault_writer *)bw)->inner);
	free(bw);
}

static int fault_get(mvms_backend *be, const char *key, uint64_t offset, void *buf, size_t len)
{
	fault_backend *f = (fault_backend *)be;

	if (enter(f, &f->counts.get, F_GET))
		return mvms_error_set(MVMS_ERROR, "fault: get %s: short object: 0 of %zu bytes at "
				      "offset %llu", key, len, (unsigned long long)offset);
	return mvms_backend_get(f->inner, key, offset, buf, len);
}

static int fault_stat(uint64_t *out, mvms_backend *be, const char *key)
{
	fault_backend *f = (fault_backend *)be;

	enter(f, &f->counts.stat, F_OTHER);
	return mvms_backend_stat(out, f->inner, key);
}

static int fault_stat_time(uint64_t *size, int64_t *mtime, mvms_backend *be, const char *key)
{
	fault_backend *f = (fault_backend *)be;

	enter(f, &f->counts.stat_time, F_OTHER);
	return mvms_backend_stat_time(size, mtime, f->inner, key);
}

static int fault_list(mvms_backend *be, const char *prefix, mvms_backend_list_cb cb, void *payload)
{
	fault_backend *f = (fault_backend *)be;

	enter(f, &f->counts.list, F_OTHER);
	return mvms_backend_list(f->inner, prefix, cb, payload);
}

static int fault_put_if_absent(mvms_backend *be, const char *key, const void *data, size_t len)
{
	fault_backend *f = (fault_backend *)be;

	enter(f, &f->counts.put_if_absent, F_OTHER);
	return mvms_backend_put_if_absent(f->inner, key, data, len);
}

static int fault_scan(mvms_backend *be, const char *prefix, mvms_backend_scan_cb cb, void *payload)
{
	fault_backend *f = (fault_backend *)be;

	enter(f, &f->counts.scan, F_OTHER);
	return mvms_backend_scan(f->inner, prefix, cb, payload);
}

static int fault_remove(mvms_backend *be, const char *key)
{
	fault_backend *f = (fault_backend *)be;

	if (enter(f, &f->counts.remove, F_REMOVE))
		return mvms_error_set(MVMS_ERROR, "fault: remove %s: Input/output error", key);
	return mvms_backend_remove(f->inner, key);
}

static int fault_open_fd(int *fd, mvms_backend *be, const char *key)
{
	fault_backend *f = (fault_backend *)be;

	enter(f, &f->counts.open_fd, F_OTHER);
	return mvms_backend_open_fd(fd, f->inner, key);
}

static void fault_free(mvms_backend *be)
{
	fault_backend *f = (fault_backend *)be;

	if (!f)
		return;
	pthread_mutex_destroy(&f->lock);
	free(f);
}

int mvms_fault__backend(mvms_backend **out, mvms_backend *inner, const mvms_fault_options *opts)
{
	fault_backend *f;

	*out = NULL;
	if (!inner)
		return mvms_error_set(MVMS_EINVALID, "fault: no backend to wrap");
	f = calloc(1, sizeof(*f));
	if (!f)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	pthread_mutex_init(&f->lock, NULL);
	f->inner = inner;
	if (opts)
		f->opts = *opts;
	f->parent.version = MVMS_BACKEND_VERSION;
	/* Not the inner name: code that casts a backend after checking its name (the S3 calls
	 * outside the table) must not take this one for the real thing. */
	f->parent.name = "fault";
	f->parent.caps = inner->caps;
	f->parent.writer_open = fault_writer_open;
	f->parent.writer_write = fault_writer_write;
	f->parent.writer_commit = fault_writer_commit;
	f->parent.writer_abort = fault_writer_abort;
	f->parent.get = fault_get;
	f->parent.stat = fault_stat;
	/* Only what the inner backend has, so the capabilities derived from the table match. */
	f->parent.list = inner->list ? fault_list : NULL;
	f->parent.remove = inner->remove ? fault_remove : NULL;
	f->parent.open_fd = inner->open_fd ? fault_open_fd : NULL;
	f->parent.scan = inner->scan ? fault_scan : NULL;
	f->parent.stat_time = inner->stat_time ? fault_stat_time : NULL;
	f->parent.put_if_absent = inner->put_if_absent ? fault_put_if_absent : NULL;
	f->parent.free = fault_free;
	*out = &f->parent;
	return 0;
}

void mvms_fault__set(mvms_backend *be, const mvms_fault_options *opts)
{
	fault_backend *f = (fault_backend *)be;

	pthread_mutex_lock(&f->lock);
	memset(&f->opts, 0, sizeof(f->opts));
	if (opts)
		f->opts = *opts;
	f->writes = f->gets = f->removes = 0;
	pthread_mutex_unlock(&f->lock);
}

void mvms_fault__counts(mvms_fault_counts *out, mvms_backend *be)
{
	fault_backend *f = (fault_backend *)be;

	pthread_mutex_lock(&f->lock);
	*out = f->counts;
	pthread_mutex_unlock(&f->lock);
}
