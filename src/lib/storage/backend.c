/* SPDX-License-Identifier: MIT */
/*
 * The backend front door: every caller in libmvms reaches a backend through these
 * functions, never through its table, so retries, metrics or fault injection have one
 * place to live; capabilities (mvms_backend_caps) replace comparisons of backend names.
 * Also whole-object put and get, and free. They only sequence the table's calls; the
 * backends do the I/O and name the keys in errors.
 */
#include <stdlib.h>
#include "common.h"
#include "mvms/backend.h"

int mvms_backend_put(mvms_backend *be, const char *key, const void *data, size_t len)
{
	int error = 0;
	mvms_backend_writer *w = NULL;

	MVMS_TRY(be->writer_open(&w, be));
	if (len > 0 && (error = be->writer_write(w, data, len)) < 0)
		goto done;
	/* commit frees the writer whether or not it succeeds. */
	error = be->writer_commit(w, key);
	w = NULL;
done:
	if (w)
		be->writer_abort(w);
	return error;
}

int mvms_backend_get_all(void **out, size_t *out_len, mvms_backend *be, const char *key,
			 size_t max_len)
{
	int error = 0;
	uint64_t size;
	void *buf = NULL;

	*out = NULL;
	*out_len = 0;
	MVMS_TRY(be->stat(&size, be, key));
	if (size > max_len) {
		error = mvms_error_set(MVMS_EINVALID, "object %s: %llu bytes, limit %zu", key,
				       (unsigned long long)size, max_len);
		goto done;
	}
	/* malloc(0) may return NULL; one spare byte keeps "success" and "no memory" apart. */
	buf = malloc(size ? (size_t)size : 1);
	MVMS_CHECK_ALLOC(buf, error);
	MVMS_TRY(be->get(be, key, 0, buf, (size_t)size));
	*out = buf;
	*out_len = (size_t)size;
	buf = NULL;
done:
	free(buf);
	return error;
}

void mvms_backend_free(mvms_backend *be)
{
	if (be && be->free)
		be->free(be);
}

/* ---- the front door ---- */

static int unsupported(const mvms_backend *be, const char *what)
{
	return mvms_error_set(MVMS_ENOTSUPPORTED, "the %s backend cannot %s", be->name, what);
}

int mvms_backend_get(mvms_backend *be, const char *key, uint64_t offset, void *buf, size_t len)
{
	return be->get(be, key, offset, buf, len);
}

int mvms_backend_stat(uint64_t *out, mvms_backend *be, const char *key)
{
	return be->stat(out, be, key);
}

int mvms_backend_stat_time(uint64_t *size, int64_t *mtime, mvms_backend *be, const char *key)
{
	return be->stat_time ? be->stat_time(size, mtime, be, key)
			     : unsupported(be, "tell when an object was written");
}

int mvms_backend_list(mvms_backend *be, const char *prefix, mvms_backend_list_cb cb, void *payload)
{
	return be->list ? be->list(be, prefix, cb, payload) : unsupported(be, "list objects");
}

int mvms_backend_scan(mvms_backend *be, const char *prefix, mvms_backend_scan_cb cb, void *payload)
{
	return be->scan ? be->scan(be, prefix, cb, payload)
			: unsupported(be, "list objects with their write times");
}

int mvms_backend_remove(mvms_backend *be, const char *key)
{
	return be->remove ? be->remove(be, key) : unsupported(be, "remove objects");
}

int mvms_backend_put_if_absent(mvms_backend *be, const char *key, const void *data, size_t len)
{
	return be->put_if_absent ? be->put_if_absent(be, key, data, len)
				 : unsupported(be, "create an object only if it is absent");
}

int mvms_backend_open_fd(int *fd, mvms_backend *be, const char *key)
{
	*fd = -1;
	return be->open_fd ? be->open_fd(fd, be, key) : unsupported(be, "open objects as files");
}

int mvms_backend_writer_open(mvms_backend_writer **out, mvms_backend *be)
{
	return be->writer_open(out, be);
}

int mvms_backend_writer_write(mvms_backend_writer *w, const void *data, size_t len)
{
	return w->be->writer_write(w, data, len);
}

int mvms_backend_writer_commit(mvms_backend_writer *w, const char *key)
{
	return w->be->writer_commit(w, key);
}

void mvms_backend_writer_abort(mvms_backend_writer *w)
{
	if (w)
		w->be->writer_abort(w);
}

unsigned mvms_backend_caps(const mvms_backend *be)
{
	unsigned caps = be->caps;

	if (be->open_fd)
		caps |= MVMS_BACKEND_CAP_FD;
	if (be->list)
		caps |= MVMS_BACKEND_CAP_LIST;
	if (be->scan && be->stat_time)
		caps |= MVMS_BACKEND_CAP_SCAN;
	if (be->remove)
		caps |= MVMS_BACKEND_CAP_REMOVE;
	return caps;
}

const char *mvms_backend_name(const mvms_backend *be)
{
	return be->name;
}
