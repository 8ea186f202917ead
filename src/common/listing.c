/* SPDX-License-Identifier: MIT */
/*
 * The file listing of a version, shared by `ls --json` and the server's files route: the
 * version's files (sizes, ids), their modification times from its manifest and, asked for,
 * their tensors. Reads through the public API only.
 */
#include <stdlib.h>
#include <string.h>
#include "listing.h"
#include "views.h"

/* @p is @dir or under it ('/'-separated). */
static int in_path(const char *dir, const char *p)
{
	size_t n = dir ? strlen(dir) : 0;

	while (n > 0 && dir[n - 1] == '/')
		n--;
	return n == 0 || (strncmp(dir, p, n) == 0 && (p[n] == '\0' || p[n] == '/'));
}

int listing_build(cJSON **out, mvms_store *st, const char *spec, const char *path, int tensors)
{
	mvms_version_info *v = NULL;
	mvms_file_info *files = NULL;
	mvms_tensor_summary *ts = NULL;
	int64_t *times = NULL;
	size_t n = 0, nt = 0, i, shown = 0;
	cJSON *doc = NULL, *arr;
	int error = 0;

	*out = NULL;
	if ((error = mvms_version_resolve(&v, st, spec)) < 0 ||
	    (error = mvms_version_files(&files, &n, st, v)) < 0 ||
	    (error = mvms_version_file_times(&times, st, v, files, n)) < 0)
		goto done;
	doc = cJSON_CreateObject();
	cJSON_AddStringToObject(doc, "model", v->model);
	cJSON_AddNumberToObject(doc, "version", (double)v->number);
	cJSON_AddStringToObject(doc, "id", v->id);
	arr = cJSON_AddArrayToObject(doc, "files");
	for (i = 0; i < n; i++) {
		cJSON *f;
		if (!in_path(path, files[i].path))
			continue;
		shown++;
		if (tensors && files[i].tensor_count &&
		    (error = mvms_file_tensors(&ts, &nt, st, files[i].id)) < 0)
			goto done;
		f = view_file(&files[i], times[2 * i], (uint32_t)times[2 * i + 1],
			      tensors ? ts : NULL, tensors ? nt : 0, tensors);
		cJSON_AddItemToArray(arr, f);
		mvms_tensor_list_free(ts, nt);
		ts = NULL;
		nt = 0;
	}
	if (shown == 0 && path && *path) {
		error = mvms_error_set(MVMS_ENOTFOUND, "%s has no file or directory '%s'", spec, path);
		goto done;
	}
	*out = doc;
	doc = NULL;
done:
	cJSON_Delete(doc);
	mvms_tensor_list_free(ts, nt);
	free(times);
	mvms_file_list_free(files, n);
	mvms_version_info_free(v);
	return error;
}
