/* SPDX-License-Identifier: MIT */
/*
 * Helpers over any backend's function table: whole-object put and get, and free. They
 * only sequence the table's calls; the backends do the I/O and name the keys in errors.
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
