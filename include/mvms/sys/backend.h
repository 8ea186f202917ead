/* SPDX-License-Identifier: MIT */
/*
 * The object-store backend table, for people who write a backend (local directory,
 * S3, GCS). Backends are dumb byte stores keyed by strings such as
 * "packs/ab/ab12…" and "manifests/ab/ab12…": hashing, compression, verification and
 * dedup all live above them, in the store. Keys are content hashes, so a commit of an
 * existing key is a success (idempotent).
 */
#ifndef MVMS_SYS_BACKEND_H
#define MVMS_SYS_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MVMS_BACKEND_VERSION 1

typedef struct mvms_backend mvms_backend;
typedef struct mvms_backend_writer mvms_backend_writer;

/** Called once per key by list(); return non-zero to stop (that value is returned). */
typedef int (*mvms_backend_list_cb)(const char *key, uint64_t size, void *payload);
/** Called once per key by scan(): as list's, with when the object was last written (Unix
 * seconds; 0 when the backend cannot tell). */
typedef int (*mvms_backend_scan_cb)(const char *key, uint64_t size, int64_t mtime, void *payload);

/* A writer streams one new object. Implementations embed this struct first. */
struct mvms_backend_writer {
	mvms_backend *be; /* the backend that opened it */
};

struct mvms_backend {
	unsigned int version; /* MVMS_BACKEND_VERSION */
	const char *name;     /* "local", "s3", "gcs" */

	/* Required. Starts a new object whose key is only known at commit (packs are named by
	 * the hash of their index). Nothing is visible until commit. */
	int (*writer_open)(mvms_backend_writer **out, mvms_backend *be);
	/* Required. Appends bytes. */
	int (*writer_write)(mvms_backend_writer *w, const void *data, size_t len);
	/* Required. Makes the object durable and visible under @key, atomically (local:
	 * fsync, rename, fsync dir). Frees @w whatever the result. */
	int (*writer_commit)(mvms_backend_writer *w, const char *key);
	/* Required. Drops the object; frees @w. Accepts NULL. */
	void (*writer_abort)(mvms_backend_writer *w);

	/* Required. Reads exactly @len bytes at @offset into @buf. MVMS_ENOTFOUND when the key
	 * does not exist; MVMS_ERROR (with a message naming the key) on a short object. */
	int (*get)(mvms_backend *be, const char *key, uint64_t offset, void *buf, size_t len);
	/* Required. Sets *out to the object's size; MVMS_ENOTFOUND when absent. */
	int (*stat)(uint64_t *out, mvms_backend *be, const char *key);
	/* Optional (verify, gc). Calls @cb for each key starting with @prefix, any order. */
	int (*list)(mvms_backend *be, const char *prefix, mvms_backend_list_cb cb, void *payload);
	/* Optional (gc). Removes a key; an absent key is a success. */
	int (*remove)(mvms_backend *be, const char *key);
	/* Required. Frees the backend. */
	void (*free)(mvms_backend *be);
	/* Optional (the server's records stream). Opens the object for reading and sets *fd
	 * (the caller closes it), so its bytes can go to a socket with sendfile(2) instead of
	 * through user memory. MVMS_ENOTFOUND when the key does not exist. */
	int (*open_fd)(int *fd, mvms_backend *be, const char *key);
	/* Optional (gc, verify: without it gc removes no object, since it cannot tell how old
	 * one is). As list, with each object's write time. The prefix "tmp/" lists the
	 * backend's own temporary files instead (local: DIR/tmp/<random>.tmp of writers that
	 * never committed), whose keys remove() accepts. */
	int (*scan)(mvms_backend *be, const char *prefix, mvms_backend_scan_cb cb, void *payload);
	/* Optional (gc). As stat, and *mtime is when the object was last written (0: unknown). */
	int (*stat_time)(uint64_t *size, int64_t *mtime, mvms_backend *be, const char *key);
	/* What the backend is, beyond which optional calls it has: MVMS_BACKEND_CAP_REMOTE
	 * and MVMS_BACKEND_CAP_PUT_IF_ABSENT (include/mvms/backend.h). The front door adds
	 * the flags that follow from the table (mvms_backend_caps). */
	unsigned caps;
	/* Optional (the store's log, with MVMS_BACKEND_CAP_PUT_IF_ABSENT). Writes a whole object
	 * under @key only if no object has that key, atomically: MVMS_EEXISTS when one has
	 * (local: link(2); S3: If-None-Match: *), MVMS_ENOTSUPPORTED when the server refuses
	 * conditional writes. */
	int (*put_if_absent)(mvms_backend *be, const char *key, const void *data, size_t len);
};

#ifdef __cplusplus
}
#endif
#endif
