/* SPDX-License-Identifier: MIT */
/*
 * Per-tensor merge of a tensor file (GGUF, ONNX, an ONNX data file, a safetensors file that
 * cannot be rebuilt from its tensors) changed on both sides, when both sides have the same
 * layout: the same tensors (name, dtype, shape) at the same offsets, and the same bytes
 * outside them (header, metadata, padding: compared chunk by chunk, since chunks are cut at
 * tensor boundaries). The result is ours' file with each tensor's bytes taken, verified,
 * from the side that changed it: a valid file of its format, built without knowing the
 * format. A layout that differs (a tensor added, removed or reshaped, metadata changed) is
 * left to the whole-file rules of merge.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "merge_int.h"
#include "locate.h"
#include "mvms/dag.h"

static int same_tensor(const mvms_vtensor *a, const mvms_vtensor *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a->dtype, b->dtype) == 0 && strcmp(a->shape, b->shape) == 0 &&
	       mvms_oid_cmp(&a->oid, &b->oid) == 0;
}

static int cmp_offset(const void *x, const void *y)
{
	const mvms_vtensor *const *a = x, *const *b = y;

	if ((*a)->offset != (*b)->offset)
		return (*a)->offset < (*b)->offset ? -1 : 1;
	return strcmp((*a)->name, (*b)->name);
}

/* 1 when @off lies inside a tensor of @by (sorted by offset), scanning forward from *k. */
static int inside(const mvms_vtensor *const *by, size_t n, size_t *k, uint64_t off)
{
	while (*k < n && by[*k]->offset + by[*k]->length <= off)
		(*k)++;
	return *k < n && by[*k]->offset <= off && by[*k]->length > 0;
}

/* The chunks of a content outside its tensors, in file order: (id, offset) pairs. */
typedef struct outside {
	mvms_chunk_loc *loc;
	size_t n, cap;
} outside;

static int outside_chunks(outside *out, mvms_store *st, const mvms_vfile *f,
			  const mvms_vtensor *const *by, size_t nt)
{
	mvms_locate_cursor *cur = NULL;
	mvms_chunk_loc loc;
	size_t k = 0;
	int error = 0, rc;

	MVMS_TRY(mvms_locate__open(&cur, st, f->content, 0, f->size));
	while ((rc = mvms_locate__next(&loc, cur)) > 0) {
		if (inside(by, nt, &k, loc.file_off))
			continue;
		if (out->n == out->cap) {
			size_t ncap = out->cap ? out->cap * 2 : 16;
			mvms_chunk_loc *t = realloc(out->loc, ncap * sizeof(*t));
			MVMS_CHECK_ALLOC(t, error);
			out->loc = t;
			out->cap = ncap;
		}
		out->loc[out->n++] = loc;
	}
	error = rc;
done:
	mvms_locate__close(cur);
	return error;
}

/* Same tensors at the same places, and the same bytes between them. */
static int same_layout(int *out, mvms_store *st, const mvms_vfile *o, const mvms_vfile *t,
		       const mvms_vtensor *to, size_t no, const mvms_vtensor *tt, size_t nt,
		       const mvms_vtensor *const *by)
{
	outside ao = { NULL, 0, 0 }, at = { NULL, 0, 0 };
	size_t i;
	int error = 0;

	*out = 0;
	if (o->size != t->size || no != nt)
		goto done;
	for (i = 0; i < no; i++) /* both sorted by name */
		if (strcmp(to[i].name, tt[i].name) || strcmp(to[i].dtype, tt[i].dtype) ||
		    strcmp(to[i].shape, tt[i].shape) || to[i].offset != tt[i].offset ||
		    to[i].length != tt[i].length)
			goto done;
	MVMS_TRY(outside_chunks(&ao, st, o, by, no));
	MVMS_TRY(outside_chunks(&at, st, t, by, no));
	if (ao.n != at.n)
		goto done;
	for (i = 0; i < ao.n; i++)
		if (ao.loc[i].file_off != at.loc[i].file_off || ao.loc[i].raw_len != at.loc[i].raw_len ||
		    mvms_oid_cmp(&ao.loc[i].id, &at.loc[i].id) != 0)
			goto done;
	*out = 1;
done:
	free(ao.loc);
	free(at.loc);
	return error;
}

typedef struct fd_out {
	int fd;
	const char *path;
} fd_out;

static int to_fd(const void *data, size_t len, void *payload)
{
	fd_out *w = payload;

	return mvms_write_full(w->fd, data, len, w->path);
}

/* Writes ours' file with the tensors whose pick[] is theirs taken from theirs. */
static int build(char **out, mvms_store *st, const mvms_vfile *o, const mvms_vfile *t,
		 const mvms_vtensor *const *by, const unsigned char *theirs, size_t n)
{
	char *path = NULL;
	fd_out w = { -1, NULL };
	uint64_t pos = 0;
	size_t i;
	int error = 0;

	*out = NULL;
	if (asprintf(&path, "%s/tmp-merge-XXXXXX", st->path) < 0) {
		path = NULL;
		error = mvms_error_set(MVMS_ERROR, "out of memory");
		goto done;
	}
	w.fd = mkostemp(path, O_CLOEXEC);
	w.path = path;
	if (w.fd < 0) {
		error = mvms_error_set(MVMS_ERROR, "merge: create %s: %s", path, strerror(errno));
		goto done;
	}
	for (i = 0; i < n; i++) {
		if (by[i]->length == 0)
			continue;
		if (by[i]->offset > pos)
			MVMS_TRY(mvms_pull__content_range(st, &o->oid, pos, by[i]->offset - pos, to_fd, &w));
		MVMS_TRY(mvms_pull__content_range(st, theirs[i] ? &t->oid : &o->oid, by[i]->offset,
						  by[i]->length, to_fd, &w));
		pos = by[i]->offset + by[i]->length;
	}
	if (o->size > pos)
		MVMS_TRY(mvms_pull__content_range(st, &o->oid, pos, o->size - pos, to_fd, &w));
	if (close(w.fd) < 0) {
		w.fd = -1;
		error = mvms_error_set(MVMS_ERROR, "merge: %s: %s", path, strerror(errno));
		goto done;
	}
	w.fd = -1;
	*out = path;
	path = NULL;
done:
	if (w.fd >= 0)
		close(w.fd);
	if (path) {
		unlink(path);
		free(path);
	}
	return error;
}

/* The tensor of @name in @list (sorted by name), or NULL. */
static const mvms_vtensor *find(const mvms_vtensor *list, size_t n, const char *name)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(list[mid].name, name);
		if (c == 0)
			return &list[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int mvms_merge__same_layout(int *merged, merge_ctx *c, const mvms_vfile *b, const mvms_vfile *o,
			    const mvms_vfile *t)
{
	mvms_store *st = mvms_merge__store(c);
	mvms_vtensor *tb = NULL, *to = NULL, *tt = NULL;
	const mvms_vtensor **by = NULL;
	unsigned char *theirs = NULL;
	size_t nb = 0, no = 0, nt = 0, i, from_theirs = 0, before = mvms_merge__conflicts(c);
	char idb[MVMS_OID_HEXSZ + 1], ido[MVMS_OID_HEXSZ + 1], idt[MVMS_OID_HEXSZ + 1];
	char *built = NULL;
	int error = 0, same = 0, strategy = mvms_merge__strategy(c);

	*merged = 0;
	MVMS_TRY(mvms_dag__load_tensors(&tb, &nb, st, b->content));
	MVMS_TRY(mvms_dag__load_tensors(&to, &no, st, o->content));
	MVMS_TRY(mvms_dag__load_tensors(&tt, &nt, st, t->content));
	by = calloc(no + 1, sizeof(*by));
	theirs = calloc(no + 1, 1);
	MVMS_CHECK_ALLOC(by, error);
	MVMS_CHECK_ALLOC(theirs, error);
	for (i = 0; i < no; i++)
		by[i] = &to[i];
	if (no > 1)
		qsort(by, no, sizeof(*by), cmp_offset);
	MVMS_TRY(same_layout(&same, st, o, t, to, no, tt, nt, by));
	if (!same)
		goto done;
	*merged = 1;
	for (i = 0; i < no; i++) {
		const mvms_vtensor *xo = by[i], *xt = find(tt, nt, xo->name);
		const mvms_vtensor *xb = find(tb, nb, xo->name);
		if (same_tensor(xo, xt) || same_tensor(xt, xb))
			continue; /* ours */
		if (same_tensor(xo, xb) || strategy == MVMS_MERGE_THEIRS) {
			theirs[i] = 1;
			from_theirs++;
		} else if (strategy != MVMS_MERGE_OURS) {
			if (xb)
				mvms_oid_fmt(idb, &xb->oid);
			else
				idb[0] = '\0';
			mvms_oid_fmt(ido, &xo->oid);
			mvms_oid_fmt(idt, &xt->oid);
			MVMS_TRY(mvms_merge__conflict(c, o->path, xo->name, "tensor", idb, ido, idt));
		}
	}
	if (mvms_merge__conflicts(c) > before)
		goto done;
	if (from_theirs == 0) {
		error = mvms_merge__take(c, o);
		goto done;
	}
	MVMS_TRY(build(&built, st, o, t, by, theirs, no));
	error = mvms_merge__take_built(c, o, built, o->size);
	built = NULL;
done:
	free(built);
	free(theirs);
	free(by);
	mvms_dag__free_tensors(tb, nb);
	mvms_dag__free_tensors(to, no);
	mvms_dag__free_tensors(tt, nt);
	return error;
}
