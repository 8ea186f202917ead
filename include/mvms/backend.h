/* SPDX-License-Identifier: MIT */
/*
 * Object-store backends: constructors and the helpers every caller of a backend uses.
 * The function table itself is in mvms/sys/backend.h.
 */
#ifndef MVMS_BACKEND_H
#define MVMS_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include "mvms/sys/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * A backend over a local directory: key "a/b/c" is the file DIR/a/b/c. Writes go to
 * DIR/tmp/ (created on demand), are fsynced, then renamed into place.
 * @return 0, or MVMS_ERROR when @dir cannot be created or used.
 * The caller owns *out and frees it with mvms_backend_free().
 */
int mvms_backend_local(mvms_backend **out, const char *dir);

/** An in-memory backend (objects in malloc()ed buffers), for moving packs over the wire
 * and for tests. */
int mvms_backend_mem(mvms_backend **out);
/** Adds an object to a memory backend, taking ownership of @data (malloc()ed). */
int mvms_backend_mem_put_owned(mvms_backend *be, const char *key, void *data, size_t len);
/** Removes an object from a memory backend and hands its buffer to the caller (free()). */
int mvms_backend_mem_take(void **out, size_t *len, mvms_backend *be, const char *key);

/** Writes a whole object in one call (open, write, commit). */
int mvms_backend_put(mvms_backend *be, const char *key, const void *data, size_t len);

/**
 * Reads a whole object into a new buffer (*out, freed with free()).
 * @return 0, MVMS_ENOTFOUND, or MVMS_EINVALID when larger than @max_len.
 */
int mvms_backend_get_all(void **out, size_t *out_len, mvms_backend *be, const char *key,
			 size_t max_len);

/** Frees a backend; NULL is a no-op. */
void mvms_backend_free(mvms_backend *be);

#ifdef __cplusplus
}
#endif
#endif
