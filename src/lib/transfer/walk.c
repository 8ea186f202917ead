/* SPDX-License-Identifier: MIT */
/*
 * The files of a push: a file or a directory tree walked into a list sorted by path, each
 * path checked; what the root .mvmsignore and --exclude rules name (ignore.c) and any
 * ".git" directory are left out. Symbolic links are followed only when asked (-L), with
 * loops and dangling links refused; special files are always refused.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "push_int.h"
#include "ignore.h"

/* The walk: the rules, and the directories on the current path (a loop through links
 * comes back to one of them). */
typedef struct walk_state {
	push_ctx *c;
	mvms_ignore *ig;
	int follow;
	struct { dev_t dev; ino_t ino; } stack[258];
} walk_state;

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
	/* Kept to be restored by pull; a time before 1970 is not recorded. */
	if (sb->st_mtim.tv_sec >= 0) {
		f->mtime = (int64_t)sb->st_mtim.tv_sec;
		f->mtime_ns = (uint32_t)sb->st_mtim.tv_nsec;
	}
	c->nfiles++;
	MVMS_TRY(mvms_path_check(rel));
done:
	return error;
}

/* What @abs is, following a link when asked: *sb of the target. Errors name the link. */
static int stat_entry(struct stat *sb, const walk_state *w, const char *abs)
{
	if (lstat(abs, sb) < 0)
		return mvms_error_set(errno == ENOENT ? MVMS_ENOTFOUND : MVMS_ERROR, "push: %s: %s",
				      abs, strerror(errno));
	if (!S_ISLNK(sb->st_mode))
		return 0;
	if (!w->follow)
		return mvms_error_set(MVMS_EINVALID, "push: %s is a symbolic link: use -L "
				      "(--follow-symlinks) to store what it points to", abs);
	if (stat(abs, sb) < 0) {
		if (errno == ELOOP)
			return mvms_error_set(MVMS_EINVALID, "push: %s: symbolic link loop", abs);
		if (errno == ENOENT)
			return mvms_error_set(MVMS_EINVALID, "push: %s: dangling symbolic link (what "
					      "it points to does not exist)", abs);
		return mvms_error_set(MVMS_ERROR, "push: %s: %s", abs, strerror(errno));
	}
	return 0;
}

static int walk(walk_state *w, const char *abs, const char *rel, int depth)
{
	DIR *d = NULL;
	struct dirent *de;
	struct stat sb;
	char *cabs = NULL, *crel = NULL;
	int error = 0, i;

	if (depth > 256)
		return mvms_error_set(MVMS_EINVALID, "push: %s: directories nested too deep", abs);
	if (stat(abs, &sb) < 0)
		return mvms_error_set(MVMS_ERROR, "push: %s: %s", abs, strerror(errno));
	/* Through links, a directory can contain itself: refused rather than walked forever. */
	for (i = 0; i < depth; i++)
		if (w->stack[i].dev == sb.st_dev && w->stack[i].ino == sb.st_ino)
			return mvms_error_set(MVMS_EINVALID, "push: %s: symbolic link loop (it leads "
					      "back to a directory above it)", abs);
	w->stack[depth].dev = sb.st_dev;
	w->stack[depth].ino = sb.st_ino;
	d = opendir(abs);
	if (!d) {
		error = mvms_error_set(MVMS_ERROR, "push: %s: %s", abs, strerror(errno));
		goto done;
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		int is_dir;
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
		MVMS_TRY(stat_entry(&sb, w, cabs));
		is_dir = S_ISDIR(sb.st_mode);
		/* A git repository's own data is never part of a version. */
		if (is_dir && strcmp(de->d_name, ".git") == 0)
			continue;
		if (mvms_ignore_match(w->ig, crel, is_dir))
			continue;
		if (is_dir)
			MVMS_TRY(walk(w, cabs, crel, depth + 1));
		else if (S_ISREG(sb.st_mode))
			MVMS_TRY(mvms_push__add_file(w->c, crel, cabs, &sb));
		else {
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

/* The rules of a push: the root .mvmsignore of directory @dir (NULL: a file push has
 * none), then the --exclude ones. */
static int load_rules(walk_state *w, const char *dir)
{
	const mvms_push_options *o = w->c->opts;
	char *file = NULL;
	size_t i;
	int error = 0;

	MVMS_TRY(mvms_ignore_new(&w->ig));
	if (dir && asprintf(&file, "%s/.mvmsignore", dir) < 0) {
		file = NULL;
		error = mvms_error_set(MVMS_ERROR, "out of memory");
		goto done;
	}
	if (file)
		MVMS_TRY(mvms_ignore_load(w->ig, file));
	for (i = 0; o && i < o->exclude_count; i++)
		MVMS_TRY(mvms_ignore_add(w->ig, o->exclude[i]));
done:
	free(file);
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
	walk_state *w = calloc(1, sizeof(*w));
	struct stat sb;
	const char *base;
	size_t i;
	int error = 0;

	MVMS_CHECK_ALLOC(w, error);
	w->c = c;
	w->follow = c->opts && c->opts->follow_symlinks;
	MVMS_TRY(stat_entry(&sb, w, path));
	if (S_ISREG(sb.st_mode)) {
		base = strrchr(path, '/');
		base = base ? base + 1 : path;
		MVMS_TRY(load_rules(w, NULL));
		if (!mvms_ignore_match(w->ig, base, 0))
			MVMS_TRY(mvms_push__add_file(c, base, path, &sb));
	} else if (S_ISDIR(sb.st_mode)) {
		MVMS_TRY(load_rules(w, path));
		MVMS_TRY(walk(w, path, "", 0));
	} else {
		error = mvms_error_set(MVMS_EINVALID, "push: %s: not a regular file or directory", path);
		goto done;
	}
	if (c->nfiles == 0) {
		error = mvms_error_set(MVMS_EINVALID, "push: %s: no files to push (after "
				       ".mvmsignore and --exclude)", path);
		goto done;
	}
	mvms_push__sort_files(c);
	for (i = 0; i < c->nfiles; i++)
		c->bytes_total += c->files[i].size;
done:
	if (w)
		mvms_ignore_free(w->ig);
	free(w);
	return error;
}
