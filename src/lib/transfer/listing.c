/* SPDX-License-Identifier: MIT */
/*
 * A version's file listing (`ls`, GET …/versions/{ref}/files): its files as the database
 * has them, their modification times from the version's manifest (read and checked against
 * the version id) and, asked for, their tensors.
 */
#include <stdio.h>
#include <stdlib.h>
#include "store_int.h"
#include "transport.h"
#include "pull_int.h"

/* @p is @dir or under it ('/'-separated); every path is under "" or NULL. */
static int in_path(const char *dir, const char *p)
{
	size_t n = dir ? strlen(dir) : 0;

	while (n > 0 && dir[n - 1] == '/')
		n--;
	return n == 0 || (strncmp(dir, p, n) == 0 && (p[n] == '\0' || p[n] == '/'));
}

int mvms_version_ls(mvms_listing **out, mvms_store *st, const char *spec, const char *path,
		    int tensors)
{
	mvms_version_info *v = NULL;
	mvms_file_info *files = NULL;
	mvms_listing *l = NULL;
	int64_t *times = NULL;
	size_t n = 0, i;
	int error = 0;

	MVMS_TRANSPORT_CALL(st, version_ls, (out, st, spec, path, tensors));
	*out = NULL;
	MVMS_TRY(mvms_version_resolve(&v, st, spec));
	MVMS_TRY(mvms_version_files(&files, &n, st, v));
	MVMS_TRY(mvms_version_file_times(&times, st, v, files, n));
	l = calloc(1, sizeof(*l));
	MVMS_CHECK_ALLOC(l, error);
	l->model = strdup(v->model);
	MVMS_CHECK_ALLOC(l->model, error);
	l->number = v->number;
	snprintf(l->id, sizeof(l->id), "%s", v->id);
	l->files = calloc(n + 1, sizeof(*l->files));
	MVMS_CHECK_ALLOC(l->files, error);
	for (i = 0; i < n; i++) {
		mvms_file_entry *e;
		if (!in_path(path, files[i].path))
			continue;
		e = &l->files[l->count++];
		/* Moved: the entry owns the strings from here on. */
		e->info = files[i];
		files[i].path = files[i].format = NULL;
		e->mtime = times[2 * i];
		e->mtime_ns = (uint32_t)times[2 * i + 1];
		if (tensors && e->info.tensor_count)
			MVMS_TRY(mvms_file_tensors(&e->tensors, &e->ntensors, st, e->info.id));
	}
	if (l->count == 0 && path && *path) {
		error = mvms_error_set(MVMS_ENOTFOUND, "%s has no file or directory '%s'", spec, path);
		goto done;
	}
	*out = l;
	l = NULL;
done:
	mvms_listing_free(l);
	free(times);
	mvms_file_list_free(files, n);
	mvms_version_info_free(v);
	return error;
}

void mvms_listing_free(mvms_listing *l)
{
	size_t i;

	if (!l)
		return;
	for (i = 0; l->files && i < l->count; i++) {
		free(l->files[i].info.path);
		free(l->files[i].info.format);
		mvms_tensor_list_free(l->files[i].tensors, l->files[i].ntensors);
	}
	free(l->files);
	free(l->model);
	free(l);
}
