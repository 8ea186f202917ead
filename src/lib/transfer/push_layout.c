/* SPDX-License-Identifier: MIT */
/*
 * The tensor layout of each file a push reads (core/tlayout.c detects the format), so that
 * push.c cuts chunks at tensor boundaries and records tensors. ONNX models are probed first,
 * before any file is read (a model the store already has, from its stored chunks): an ONNX
 * model may keep its tensors in side files ("external data"), and a side file is cut at
 * those tensors' boundaries, which only the model says.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "push_int.h"
#include "sync_int.h"

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

int mvms_push__layouts(push_ctx *c)
{
	mvms_tl_files fs;
	const char **paths = NULL;
	const mvms_tlayout **models = NULL;
	mvms_tlayout **sides = NULL;
	uint64_t *sizes = NULL;
	int *want = NULL, fd = -1, error = 0, any = 0, reads = 0;
	struct stat sb;
	size_t i;

	for (i = 0; i < c->nfiles; i++)
		reads |= c->files[i].abs != NULL;
	if (!reads)
		return 0; /* a commit of stored contents (sync, merge): no file to cut */
	for (i = 0; i < c->nfiles; i++) {
		push_file *f = &c->files[i];
		if (f->probed || !ends_with(f->path, ".onnx"))
			continue;
		if (!f->abs) {
			/* A model the store has (a partial upload keeps it): its side files of
			 * this push are still cut at its tensors. */
			MVMS_TRY(mvms_sync__stored_layout(&f->st, c->st, &f->id, f->path, f->size));
			f->probed = 1;
			any |= f->st && f->st->ext_count;
			continue;
		}
		fd = open(f->abs, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &sb) < 0) {
			error = mvms_error_set(MVMS_ERROR, "push: %s: %s", f->abs, strerror(errno));
			goto done;
		}
		f->size = (uint64_t)sb.st_size; /* an upload's entries do not know it yet */
		MVMS_TRY(probe_fd(f, fd));
		close(fd);
		fd = -1;
		any |= f->st && f->st->ext_count;
	}
	if (!any)
		goto done;
	paths = calloc(c->nfiles, sizeof(*paths));
	models = calloc(c->nfiles, sizeof(*models));
	sides = calloc(c->nfiles, sizeof(*sides));
	sizes = calloc(c->nfiles, sizeof(*sizes));
	want = calloc(c->nfiles, sizeof(*want));
	if (!paths || !models || !sides || !sizes || !want) {
		error = mvms_error_set(MVMS_ERROR, "out of memory");
		goto done;
	}
	for (i = 0; i < c->nfiles; i++) {
		paths[i] = c->files[i].path;
		/* Its size now (an upload's entries do not know it yet); push.c checks again. */
		sizes[i] = c->files[i].abs && stat(c->files[i].abs, &sb) == 0 ? (uint64_t)sb.st_size
									   : c->files[i].size;
		models[i] = c->files[i].st;
		/* Not a model (nor a file with its own format: none is probed yet), and read by
		 * this push. */
		want[i] = c->files[i].abs && !c->files[i].probed;
	}
	fs.count = c->nfiles;
	fs.paths = paths;
	fs.sizes = sizes;
	fs.want = want;
	fs.models = models;
	MVMS_TRY(mvms_tlayout_sides(sides, &fs));
	for (i = 0; i < c->nfiles; i++)
		if (sides[i]) {
			c->files[i].st = sides[i];
			c->files[i].probed = 1;
			sides[i] = NULL;
		}
done:
	if (fd >= 0)
		close(fd);
	for (i = 0; sides && i < c->nfiles; i++)
		mvms_tlayout_free(sides[i]);
	free(sides);
	free(paths);
	free(models);
	free(sizes);
	free(want);
	return error;
}
