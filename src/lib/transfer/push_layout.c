/* SPDX-License-Identifier: MIT */
/*
 * The tensor layout of each file a push reads (core/tlayout.c detects the format), so that
 * push.c cuts chunks at tensor boundaries and records tensors. ONNX models are probed first,
 * before any file is read: an ONNX model may keep its tensors in side files ("external
 * data"), and a side file is cut at those tensors' boundaries, which only the model says.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "push_int.h"

/* One external tensor of a model in the push, and the file of the push it points into. */
typedef struct ext_ref {
	size_t file;
	const mvms_tensor_info *t;
} ext_ref;

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Probes one file: 0 with f->st set or left NULL (plain bytes), <0 on a read error. */
static int probe_fd(push_file *f, int fd)
{
	int error = mvms_tlayout_probe_fd(&f->st, f->path, fd, f->size);

	if (error == MVMS_ENOTFOUND) {
		mvms_error_clear();
		error = 0;
	}
	f->probed = 1;
	return error;
}

int mvms_push__probe(push_file *f, int fd)
{
	size_t i;

	if (!f->probed)
		return probe_fd(f, fd);
	/* Probed before the push read it: a file that shrank since loses its layout. */
	for (i = 0; f->st && i < f->st->count; i++)
		if (f->st->tensors[i].offset + f->st->tensors[i].length > f->size) {
			mvms_tlayout_free(f->st);
			f->st = NULL;
		}
	return 0;
}

/* The push path of @loc written in the model at @model_path, or NULL (out of memory). The
 * location is relative to the model's folder; "." segments are dropped (onnx.c refused
 * "..", absolute paths and empty segments). */
static char *side_path(const char *model_path, const char *loc)
{
	const char *slash = strrchr(model_path, '/');
	size_t dir = slash ? (size_t)(slash - model_path) + 1 : 0;
	char *out = malloc(dir + strlen(loc) + 1), *w;
	const char *seg = loc;

	if (!out)
		return NULL;
	memcpy(out, model_path, dir);
	w = out + dir;
	for (;;) {
		const char *end = strchr(seg, '/');
		size_t n = end ? (size_t)(end - seg) : strlen(seg);
		if (!(n == 1 && seg[0] == '.')) {
			memcpy(w, seg, n);
			w += n;
			*w++ = '/';
		}
		if (!end)
			break;
		seg = end + 1;
	}
	if (w > out)
		w--; /* the last '/' */
	*w = 0;
	return out;
}

static int cmp_ref(const void *a, const void *b)
{
	const ext_ref *x = a, *y = b;

	return x->file < y->file ? -1 : x->file > y->file;
}

/* Gives each side file the layout of the external tensors that point into it. */
static int attach_side_files(push_ctx *c, ext_ref *refs, size_t n)
{
	const mvms_tensor_info **group = NULL;
	size_t i, j, k;
	int error = 0;

	if (n == 0)
		return 0;
	qsort(refs, n, sizeof(*refs), cmp_ref);
	group = malloc(n * sizeof(*group));
	MVMS_CHECK_ALLOC(group, error);
	for (i = 0; i < n; i = j) {
		push_file *f = &c->files[refs[i].file];
		for (j = i, k = 0; j < n && refs[j].file == refs[i].file; j++)
			group[k++] = refs[j].t;
		if (f->probed)
			continue; /* itself a model, or a file with its own format */
		error = mvms_tlayout_external(&f->st, group, k, f->size);
		if (error == MVMS_ENOTFOUND) {
			/* Tensors that do not fit the file: it is plain bytes. */
			mvms_error_clear();
			error = 0;
		}
		if (error < 0)
			goto done;
		f->probed = 1;
	}
done:
	free(group);
	return error;
}

/* Collects the external tensors of @m (the model at file @mi) whose side file is in the push. */
static int collect_refs(ext_ref **refs, size_t *n, size_t *cap, push_ctx *c, size_t mi)
{
	const mvms_tlayout *l = c->files[mi].st;
	const char *last = NULL;
	size_t i, f = c->nfiles;
	char *path = NULL;
	int error = 0;

	for (i = 0; i < l->ext_count; i++) {
		if (!last || strcmp(last, l->ext[i].location) != 0) {
			/* Entries usually come grouped by location: one look-up per group. */
			last = l->ext[i].location;
			free(path);
			path = side_path(c->files[mi].path, last);
			MVMS_CHECK_ALLOC(path, error);
			for (f = 0; f < c->nfiles; f++)
				if (c->files[f].abs && f != mi && strcmp(c->files[f].path, path) == 0)
					break;
		}
		if (f == c->nfiles)
			continue;
		if (*n == *cap) {
			size_t ncap = *cap ? *cap * 2 : 64;
			ext_ref *tmp = realloc(*refs, ncap * sizeof(*tmp));
			MVMS_CHECK_ALLOC(tmp, error);
			*refs = tmp;
			*cap = ncap;
		}
		(*refs)[*n].file = f;
		(*refs)[*n].t = &l->ext[i];
		(*n)++;
	}
done:
	free(path);
	return error;
}

int mvms_push__layouts(push_ctx *c)
{
	ext_ref *refs = NULL;
	size_t i, n = 0, cap = 0;
	int error = 0, fd = -1;

	for (i = 0; i < c->nfiles; i++) {
		push_file *f = &c->files[i];
		if (!f->abs || f->probed || !ends_with(f->path, ".onnx"))
			continue;
		fd = open(f->abs, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			error = mvms_error_set(MVMS_ERROR, "push: %s: %s", f->abs, strerror(errno));
			goto done;
		}
		MVMS_TRY(probe_fd(f, fd));
		close(fd);
		fd = -1;
	}
	for (i = 0; i < c->nfiles; i++)
		if (c->files[i].st && c->files[i].st->ext_count)
			MVMS_TRY(collect_refs(&refs, &n, &cap, c, i));
	MVMS_TRY(attach_side_files(c, refs, n));
done:
	if (fd >= 0)
		close(fd);
	free(refs);
	return error;
}
