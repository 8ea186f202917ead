/* SPDX-License-Identifier: MIT */
/*
 * An in-memory backend: objects live in a list of buffers. The sync layer uses it to check
 * a pack that arrived over the network with the same reader as packs on disk, and to build
 * packs for the wire with the same writer; tests use it too. Not for large data sets.
 */
#include <stdlib.h>
#include <time.h>
#include "common.h"
#include "mvms/backend.h"

typedef struct mem_object {
	struct mem_object *next;
	char *key;
	unsigned char *data;
	size_t len;
	int borrowed;              /* data is the caller's: never freed here */
	int64_t mtime;             /* when it was stored (scan, stat_time) */
} mem_object;

typedef struct mem_backend {
	mvms_backend parent;
	mem_object *objects;
} mem_backend;

typedef struct mem_writer {
	mvms_backend_writer parent;
	mvms_buf buf;
} mem_writer;

static mem_object *find(mem_backend *m, const char *key)
{
	mem_object *o;

	for (o = m->objects; o; o = o->next)
		if (strcmp(o->key, key) == 0)
			return o;
	return NULL;
}

/* Takes ownership of @data (malloc()ed) unless @borrowed. */
static int mem_store(mem_backend *m, const char *key, unsigned char *data, size_t len,
		     int borrowed)
{
	mem_object *o = find(m, key);

	if (o) {
		if (!borrowed)
			free(data); /* keys are content hashes: same key, same bytes */
		return 0;
	}
	o = calloc(1, sizeof(*o));
	if (!o || !(o->key = strdup(key))) {
		free(o);
		if (!borrowed)
			free(data);
		return mvms_error_set(MVMS_ERROR, "out of memory");
	}
	o->data = data;
	o->len = len;
	o->borrowed = borrowed;
	o->mtime = (int64_t)time(NULL);
	o->next = m->objects;
	m->objects = o;
	return 0;
}

static int mem_backend__writer_open(mvms_backend_writer **out, mvms_backend *be)
{
	mem_writer *w = calloc(1, sizeof(*w));

	*out = NULL;
	if (!w)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	w->parent.be = be;
	*out = &w->parent;
	return 0;
}

static int mem_backend__writer_write(mvms_backend_writer *bw, const void *data, size_t len)
{
	return mvms_buf_put(&((mem_writer *)bw)->buf, data, len);
}

static int mem_backend__writer_commit(mvms_backend_writer *bw, const char *key)
{
	mem_writer *w = (mem_writer *)bw;
	size_t len = w->buf.size;
	unsigned char *data = (unsigned char *)mvms_buf_detach(&w->buf);
	int error = data ? mem_store((mem_backend *)bw->be, key, data, len, 0)
			 : mvms_error_set(MVMS_ERROR, "out of memory");

	free(w);
	return error;
}

static void mem_backend__writer_abort(mvms_backend_writer *bw)
{
	if (!bw)
		return;
	mvms_buf_dispose(&((mem_writer *)bw)->buf);
	free(bw);
}

static int mem_backend__get(mvms_backend *be, const char *key, uint64_t offset, void *buf,
			    size_t len)
{
	mem_object *o = find((mem_backend *)be, key);

	if (!o)
		return mvms_error_set(MVMS_ENOTFOUND, "object %s: not found", key);
	if (offset > o->len || len > o->len - offset)
		return mvms_error_set(MVMS_ERROR, "object %s: read past its end", key);
	memcpy(buf, o->data + offset, len);
	return 0;
}

static int mem_backend__stat(uint64_t *out, mvms_backend *be, const char *key)
{
	mem_object *o = find((mem_backend *)be, key);

	if (!o)
		return mvms_error_set(MVMS_ENOTFOUND, "object %s: not found", key);
	*out = o->len;
	return 0;
}

static int mem_backend__stat_time(uint64_t *out, int64_t *mtime, mvms_backend *be,
				  const char *key)
{
	mem_object *o = find((mem_backend *)be, key);

	*out = 0;
	*mtime = 0;
	if (!o)
		return mvms_error_set(MVMS_ENOTFOUND, "object %s: not found", key);
	*out = o->len;
	*mtime = o->mtime;
	return 0;
}

/* No temporary files here: a writer's bytes are in memory until commit. */
static int mem_backend__scan(mvms_backend *be, const char *prefix, mvms_backend_scan_cb cb,
			     void *payload)
{
	mem_object *o;
	int rc;

	for (o = ((mem_backend *)be)->objects; o; o = o->next)
		if (strncmp(o->key, prefix, strlen(prefix)) == 0 &&
		    (rc = cb(o->key, o->len, o->mtime, payload)))
			return rc;
	return 0;
}

static int mem_backend__list(mvms_backend *be, const char *prefix, mvms_backend_list_cb cb,
			     void *payload)
{
	mem_object *o;
	int rc;

	for (o = ((mem_backend *)be)->objects; o; o = o->next)
		if (strncmp(o->key, prefix, strlen(prefix)) == 0 && (rc = cb(o->key, o->len, payload)))
			return rc;
	return 0;
}

static int mem_backend__remove(mvms_backend *be, const char *key)
{
	mem_backend *m = (mem_backend *)be;
	mem_object **pp, *o;

	for (pp = &m->objects; (o = *pp); pp = &o->next)
		if (strcmp(o->key, key) == 0) {
			*pp = o->next;
			free(o->key);
			if (!o->borrowed)
				free(o->data);
			free(o);
			break;
		}
	return 0;
}

static void mem_backend__free(mvms_backend *be)
{
	mem_backend *m = (mem_backend *)be;
	mem_object *o, *n;

	for (o = m->objects; o; o = n) {
		n = o->next;
		free(o->key);
		if (!o->borrowed)
			free(o->data);
		free(o);
	}
	free(m);
}

static int mem_backend__put_if_absent(mvms_backend *be, const char *key, const void *data,
				      size_t len)
{
	unsigned char *copy;

	if (find((mem_backend *)be, key))
		return mvms_error_set(MVMS_EEXISTS, "mem: %s exists", key);
	if (!(copy = malloc(len ? len : 1)))
		return mvms_error_set(MVMS_ERROR, "out of memory");
	if (len)
		memcpy(copy, data, len);
	return mem_store((mem_backend *)be, key, copy, len, 0);
}

int mvms_backend_mem(mvms_backend **out)
{
	mem_backend *m = calloc(1, sizeof(*m));

	*out = NULL;
	if (!m)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	m->parent.version = MVMS_BACKEND_VERSION;
	m->parent.name = "mem";
	m->parent.writer_open = mem_backend__writer_open;
	m->parent.writer_write = mem_backend__writer_write;
	m->parent.writer_commit = mem_backend__writer_commit;
	m->parent.writer_abort = mem_backend__writer_abort;
	m->parent.get = mem_backend__get;
	m->parent.stat = mem_backend__stat;
	m->parent.list = mem_backend__list;
	m->parent.remove = mem_backend__remove;
	m->parent.free = mem_backend__free;
	m->parent.scan = mem_backend__scan;
	m->parent.stat_time = mem_backend__stat_time;
	m->parent.put_if_absent = mem_backend__put_if_absent;
	m->parent.caps = MVMS_BACKEND_CAP_PUT_IF_ABSENT;
	*out = &m->parent;
	return 0;
}

int mvms_backend_mem_put_owned(mvms_backend *be, const char *key, void *data, size_t len)
{
	return mem_store((mem_backend *)be, key, data, len, 0);
}

int mvms_backend_mem_put_borrowed(mvms_backend *be, const char *key, const void *data, size_t len)
{
	return mem_store((mem_backend *)be, key, (unsigned char *)data, len, 1);
}

int mvms_backend_mem_take(void **out, size_t *len, mvms_backend *be, const char *key)
{
	mem_backend *m = (mem_backend *)be;
	mem_object **pp, *o;

	for (pp = &m->objects; (o = *pp); pp = &o->next)
		if (strcmp(o->key, key) == 0) {
			if (o->borrowed) {
				void *copy = malloc(o->len ? o->len : 1);
				if (!copy)
					return mvms_error_set(MVMS_ERROR, "out of memory");
				memcpy(copy, o->data, o->len);
				o->data = copy;
				o->borrowed = 0;
			}
			*pp = o->next;
			*out = o->data;
			*len = o->len;
			free(o->key);
			free(o);
			return 0;
		}
	return mvms_error_set(MVMS_ENOTFOUND, "object %s: not found", key);
}
