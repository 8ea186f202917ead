/* SPDX-License-Identifier: MIT */
/*
 * The files of a push: a file or a directory tree walked into a list sorted by path, each
 * path checked; symbolic links and special files are refused rather than followed.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "push_int.h"

int mvms_push__add_file(push_ctx *c, const char *rel, const char *abs, const struct stat *sb)
{
	push_file *f;
	int error = 0;

	if (c->nfiles == c->cfiles) {
		size_t ncap = c->cfiles ? c->cfiles * 2 : 16;
		push_file *tmp = realloc(c->files, ncap * sizeof(*tmp));
		MVMS_CHECK_ALLOC(tmp, error);
		c->files = tmp;
		c->cfiles = ncap;
	}
	f = &c->files[c->nfiles];
	memset(f, 0, sizeof(*f));
	f->path = strdup(rel);
	f->abs = strdup(abs);
	if (!f->path || !f->abs) {
		free(f->path);
		free(f->abs);
		error = mvms_error_set(MVMS_ERROR, "out of memory");
		goto done;
	}
	f->mode = (sb->st_mode & 0111) ? 0755 : 0644;
	f->size = (uint64_t)sb->st_size;
	c->nfiles++;
	MVMS_TRY(mvms_path_check(rel));
done:
	return error;
}

static int walk(push_ctx *c, const char *abs, const char *rel, int depth)
{
	DIR *d = NULL;
	struct dirent *de;
	struct stat sb;
	char *cabs = NULL, *crel = NULL;
	int error = 0;

	if (depth > 256)
		return mvms_error_set(MVMS_EINVALID, "push: %s: directories nested too deep", abs);
	d = opendir(abs);
	if (!d) {
		error = mvms_error_set(MVMS_ERROR, "push: %s: %s", abs, strerror(errno));
		goto done;
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		free(cabs);
		free(crel);
		cabs = crel = NULL;
		if (asprintf(&cabs, "%s/%s", abs, de->d_name) < 0 ||
		    asprintf(&crel, "%s%s%s", rel, *rel ? "/" : "", de->d_name) < 0) {
			cabs = crel = NULL;
			error = mvms_error_set(MVMS_ERROR, "out of memory");
			goto done;
		}
		if (lstat(cabs, &sb) < 0) {
			error = mvms_error_set(MVMS_ERROR, "push: %s: %s", cabs, strerror(errno));
			goto done;
		}
		if (S_ISDIR(sb.st_mode))
			MVMS_TRY(walk(c, cabs, crel, depth + 1));
		else if (S_ISREG(sb.st_mode))
			MVMS_TRY(mvms_push__add_file(c, crel, cabs, &sb));
		else if (S_ISLNK(sb.st_mode)) {
			error = mvms_error_set(MVMS_EINVALID,
					       "push: %s: symbolic links are not supported "
					       "(copy the file it points to)", cabs);
			goto done;
		} else {
			error = mvms_error_set(MVMS_EINVALID,
					       "push: %s: not a regular file or directory", cabs);
			goto done;
		}
	}
	if (errno) {
		error = mvms_error_set(MVMS_ERROR, "push: %s: %s", abs, strerror(errno));
		goto done;
	}
done:
	if (d)
		closedir(d);
	free(cabs);
	free(crel);
	return error;
}

static int cmp_push_file(const void *a, const void *b)
{
	return strcmp(((const push_file *)a)->path, ((const push_file *)b)->path);
}

void mvms_push__sort_files(push_ctx *c)
{
	if (c->nfiles > 1)
		qsort(c->files, c->nfiles, sizeof(*c->files), cmp_push_file);
}

int mvms_push__collect(push_ctx *c, const char *path)
{
	struct stat sb;
	const char *base;
	size_t i;
	int error = 0;

	if (lstat(path, &sb) < 0) {
		error = mvms_error_set(errno == ENOENT ? MVMS_ENOTFOUND : MVMS_ERROR,
				       "push: %s: %s", path, strerror(errno));
		goto done;
	}
	if (S_ISLNK(sb.st_mode)) {
		error = mvms_error_set(MVMS_EINVALID, "push: %s: symbolic links are not supported", path);
		goto done;
	}
	if (S_ISREG(sb.st_mode)) {
		base = strrchr(path, '/');
		base = base ? base + 1 : path;
		MVMS_TRY(mvms_push__add_file(c, base, path, &sb));
	} else if (S_ISDIR(sb.st_mode)) {
		MVMS_TRY(walk(c, path, "", 0));
	} else {
		error = mvms_error_set(MVMS_EINVALID, "push: %s: not a regular file or directory", path);
		goto done;
	}
	if (c->nfiles == 0) {
		error = mvms_error_set(MVMS_EINVALID, "push: %s: no files to push", path);
		goto done;
	}
	mvms_push__sort_files(c);
	for (i = 0; i < c->nfiles; i++)
		c->bytes_total += c->files[i].size;
done:
	return error;
}

