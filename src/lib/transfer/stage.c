/* SPDX-License-Identifier: MIT */
/*
 * The local half of a remote push: the files are chunked, hashed and packed into the
 * client's cache by the push pipeline (push.c) without making a version, and handed back
 * with their chunk lists (float tensors as deltas against the server's parent files when
 * the caller says where those are: remote_delta.c); and the check against the server's head, by the same rule as a
 * local push (tree.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "push_int.h"
#include "stage.h"
#include "tree.h"

int mvms_sync_stage(mvms_sync_file **out, size_t *count, mvms_store *st, const char *path,
		    mvms_progress_cb progress, void *payload)
{
	mvms_push_options opts = MVMS_PUSH_OPTIONS_INIT;

	opts.progress = progress;
	opts.payload = payload;
	return mvms_sync_stage_opts(out, count, st, path, &opts);
}

int mvms_sync_stage_opts(mvms_sync_file **out, size_t *count, mvms_store *st, const char *path,
			 const mvms_push_options *po)
{
	return mvms_stage__run(out, count, st, path, po, NULL, NULL, NULL);
}

int mvms_stage__run(mvms_sync_file **out, size_t *count, mvms_store *st, const char *path,
		    const mvms_push_options *po,
		    int (*parent_fn)(struct mvms_bases_parent **, void *, const char *), void *ctx,
		    const mvms_push__base_hooks *hooks)
{
	mvms_push_options opts = MVMS_PUSH_OPTIONS_INIT;
	mvms_push_result res;
	mvms_sync_file *files = NULL;
	mvms_buf enc = MVMS_BUF_INIT;
	push_ctx c;
	push_spec ps;
	mvms_manifest m;
	size_t i, k, n = 0;
	int error = 0;

	*out = NULL;
	*count = 0;
	memset(&c, 0, sizeof(c));
	memset(&m, 0, sizeof(m));
	memset(&ps, 0, sizeof(ps));
	memset(&res, 0, sizeof(res));
	opts.progress = po->progress;
	opts.payload = po->payload;
	opts.exclude = po->exclude;
	opts.exclude_count = po->exclude_count;
	opts.follow_symlinks = po->follow_symlinks;
	c.st = st;
	c.opts = &opts;
	c.res = &res;
	ps.stage_only = 1;
	ps.parent_fn = parent_fn;
	ps.parent_ctx = ctx;
	ps.base_hooks = hooks;
	MVMS_TRY(mvms_push__collect(&c, path));
	MVMS_TRY(mvms_push__run(&c, &ps, &m));
	files = calloc(c.nfiles + 1, sizeof(*files));
	MVMS_CHECK_ALLOC(files, error);
	for (i = 0; i < c.nfiles; i++) {
		push_file *f = &c.files[i];
		mvms_sync_file *o = &files[n++];
		o->path = strdup(f->path);
		MVMS_CHECK_ALLOC(o->path, error);
		o->mode = f->mode;
		o->size = f->size;
		o->id = f->id;
		o->tensors = f->st ? f->st->count : 0;
		o->mtime = f->mtime;
		o->mtime_ns = f->mtime_ns;
		mvms_buf_clear(&enc);
		MVMS_TRY(mvms_push__filemap_encode(&enc, f));
		o->filemap_len = enc.size;
		o->filemap = mvms_buf_detach(&enc);
		o->chunks = calloc(f->nchunks + 1, sizeof(*o->chunks));
		MVMS_CHECK_ALLOC(o->chunks, error);
		for (k = 0; k < f->nchunks; k++)
			o->chunks[k] = f->chunks[k].id;
		o->nchunks = f->nchunks;
	}
	*out = files;
	*count = n;
	files = NULL;
done:
	mvms_sync_files_free(files, n);
	mvms_buf_dispose(&enc);
	mvms_push__dispose(&c, &m);
	return error;
}

void mvms_sync_files_free(mvms_sync_file *files, size_t count)
{
	size_t i;

	if (!files)
		return;
	for (i = 0; i < count; i++) {
		free(files[i].path);
		free(files[i].filemap);
		free(files[i].chunks);
	}
	free(files);
}

int mvms_stage__same_as_head(const struct cJSON *head, const mvms_sync_file *files, size_t n)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(head, "file_list"), *it;
	mvms_tree_entry *a = NULL, *b = NULL;
	size_t i = 0, nh;
	int same = 0;

	if (!cJSON_IsArray(list))
		return 0;
	nh = (size_t)cJSON_GetArraySize(list);
	a = calloc(nh + 1, sizeof(*a));
	b = calloc(n + 1, sizeof(*b));
	if (!a || !b)
		goto done; /* not known to be the same: the push goes on and makes a version */
	cJSON_ArrayForEach(it, list) {
		const cJSON *mode = cJSON_GetObjectItemCaseSensitive(it, "mode");
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(it, "path");
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
		if (!cJSON_IsString(p) || !cJSON_IsString(id) || !cJSON_IsNumber(mode) ||
		    mvms_oid_parse(&a[i].id, id->valuestring) < 0) {
			mvms_error_clear();
			goto done;
		}
		a[i].path = p->valuestring;
		a[i].mode = (unsigned)mode->valuedouble;
		i++;
	}
	for (i = 0; i < n; i++) {
		b[i].path = files[i].path;
		b[i].mode = files[i].mode;
		b[i].id = files[i].id;
	}
	same = mvms_tree_same(a, nh, b, n);
done:
	free(a);
	free(b);
	return same;
}
