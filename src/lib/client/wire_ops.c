/* SPDX-License-Identifier: MIT */
/*
 * The client's reading of the server's larger documents (wire.h): a diff, a deployment and
 * its history, a token. Shapes as src/common/views.c writes them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common.h"
#include "wire.h"

static size_t array_len(const cJSON *a)
{
	return cJSON_IsArray(a) ? (size_t)cJSON_GetArraySize(a) : 0;
}

/* Back from view_diff_status(). */
static char diff_status(const char *s)
{
	static const struct { const char *name; char c; } map[] = {
		{ "added", 'A' }, { "removed", 'D' }, { "modified", 'M' },
		{ "renamed", 'R' }, { "mode", 'T' }, { "dtype/shape", 'S' },
	};
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i].name, s) == 0)
			return map[i].c;
	return '?';
}

/* A string member, or NULL when absent or JSON null (a side a tensor or key lacks). */
static int opt_str(char **out, const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	*out = NULL;
	if (!cJSON_IsString(v))
		return 0;
	return (*out = strdup(v->valuestring)) ? 0 : mvms_error_set(MVMS_ERROR, "out of memory");
}

/* A shape member (a JSON array) back into its JSON text, or NULL when absent. */
static int opt_json(char **out, const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	*out = NULL;
	if (!v || cJSON_IsNull(v))
		return 0;
	return (*out = cJSON_PrintUnformatted(v)) ? 0 : mvms_error_set(MVMS_ERROR, "out of memory");
}

static int diff_tensors(mvms_diff_file *f, const cJSON *t)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(t, "list"), *it;
	int error = 0;

	f->tensor_diff = 1;
	f->tensors_total = (uint64_t)mvms_wire__int(t, "total");
	f->tensors_changed = (uint64_t)mvms_wire__int(t, "changed");
	f->tensors_added = (uint64_t)mvms_wire__int(t, "added");
	f->tensors_removed = (uint64_t)mvms_wire__int(t, "removed");
	f->tensors_unchanged = (uint64_t)mvms_wire__int(t, "unchanged");
	f->bytes_total = (uint64_t)mvms_wire__int(t, "bytes_total");
	f->bytes_changed = (uint64_t)mvms_wire__int(t, "bytes_changed");
	f->tensors = calloc(array_len(list) + 1, sizeof(*f->tensors));
	MVMS_CHECK_ALLOC(f->tensors, error);
	cJSON_ArrayForEach(it, list) {
		mvms_diff_tensor *x = &f->tensors[f->tensor_count++];
		x->status = diff_status(mvms_wire__str(it, "status"));
		MVMS_TRY(opt_str(&x->name, it, "name"));
		MVMS_TRY(opt_str(&x->old_dtype, it, "old_dtype"));
		MVMS_TRY(opt_str(&x->new_dtype, it, "new_dtype"));
		MVMS_TRY(opt_json(&x->old_shape, it, "old_shape"));
		MVMS_TRY(opt_json(&x->new_shape, it, "new_shape"));
	}
done:
	return error;
}

static int diff_file(mvms_diff_file *f, const cJSON *o)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "tensors");
	int error = 0;

	f->status = diff_status(mvms_wire__str(o, "status"));
	f->old_size = (uint64_t)mvms_wire__int(o, "old_size");
	f->new_size = (uint64_t)mvms_wire__int(o, "new_size");
	f->old_mode = (unsigned)mvms_wire__int(o, "old_mode");
	f->new_mode = (unsigned)mvms_wire__int(o, "new_mode");
	f->shared_bytes = (uint64_t)mvms_wire__int(o, "shared_bytes");
	f->new_bytes = (uint64_t)mvms_wire__int(o, "new_bytes");
	snprintf(f->old_id, sizeof(f->old_id), "%s", mvms_wire__str(o, "old_id"));
	snprintf(f->new_id, sizeof(f->new_id), "%s", mvms_wire__str(o, "new_id"));
	MVMS_TRY(opt_str(&f->path, o, "path"));
	MVMS_TRY(opt_str(&f->old_path, o, "old_path"));
	if (!f->path)
		error = mvms_error_set(MVMS_ERROR, "remote: a file of the diff has no path");
	else if (cJSON_IsObject(t))
		error = diff_tensors(f, t);
done:
	return error;
}

mvms_diff *mvms_wire__diff(const cJSON *doc)
{
	const cJSON *files = cJSON_GetObjectItemCaseSensitive(doc, "files");
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(doc, "meta"), *it;
	mvms_diff *d = calloc(1, sizeof(*d));
	int error = 0;

	MVMS_CHECK_ALLOC(d, error);
	if (!(d->from = mvms_wire__version(cJSON_GetObjectItemCaseSensitive(doc, "from"))) ||
	    !(d->to = mvms_wire__version(cJSON_GetObjectItemCaseSensitive(doc, "to")))) {
		error = MVMS_ERROR;
		goto done;
	}
	d->unchanged_files = (uint64_t)mvms_wire__int(doc, "unchanged_files");
	d->shared_bytes = (uint64_t)mvms_wire__int(doc, "shared_bytes");
	d->new_bytes = (uint64_t)mvms_wire__int(doc, "new_bytes");
	d->stored_bytes = (uint64_t)mvms_wire__int(doc, "stored_bytes");
	d->new_stored_bytes = (uint64_t)mvms_wire__int(doc, "new_stored_bytes");
	d->files = calloc(array_len(files) + 1, sizeof(*d->files));
	d->meta = calloc(array_len(meta) + 1, sizeof(*d->meta));
	if (!d->files || !d->meta) {
		error = mvms_error_set(MVMS_ERROR, "out of memory");
		goto done;
	}
	cJSON_ArrayForEach(it, files)
		MVMS_TRY(diff_file(&d->files[d->file_count++], it));
	cJSON_ArrayForEach(it, meta) {
		mvms_diff_meta *m = &d->meta[d->meta_count++];
		MVMS_TRY(opt_str(&m->key, it, "key"));
		MVMS_TRY(opt_str(&m->old_value, it, "old"));
		MVMS_TRY(opt_str(&m->new_value, it, "new"));
	}
done:
	if (error < 0) {
		mvms_diff_free(d);
		d = NULL;
	}
	return d;
}

/* A deployment's shadow (none when @o is not an object). */
static int wire_shadow(mvms_deployment *d, const cJSON *o)
{
	mvms_deploy_shadow *sh;

	if (!cJSON_IsObject(o))
		return 0;
	if (!(sh = d->shadow = calloc(1, sizeof(*sh))))
		return mvms_error_set(MVMS_ERROR, "out of memory");
	sh->number = mvms_wire__int(o, "version");
	sh->percent = (int)mvms_wire__int(o, "percent");
	snprintf(sh->id, sizeof(sh->id), "%s", mvms_wire__str(o, "id"));
	sh->endpoint = strdup(mvms_wire__str(o, "endpoint"));
	sh->compare = strdup(mvms_wire__str(o, "compare"));
	return sh->endpoint && sh->compare ? 0 : mvms_error_set(MVMS_ERROR, "out of memory");
}

mvms_deployment *mvms_wire__deployment(const cJSON *o)
{
	const cJSON *targets = cJSON_GetObjectItemCaseSensitive(o, "targets"), *it;
	mvms_deployment *d = NULL;
	int error = 0;

	if (!cJSON_IsObject(o) || !*mvms_wire__str(o, "env")) {
		error = mvms_error_set(MVMS_ERROR, "remote: the server sent a deployment without "
						   "an environment");
		goto done;
	}
	d = calloc(1, sizeof(*d));
	MVMS_CHECK_ALLOC(d, error);
	d->revision = mvms_wire__int(o, "revision");
	d->from_revision = mvms_wire__int(o, "from_revision");
	d->created_at = mvms_wire__time(o, "created_at");
	MVMS_TRY(opt_str(&d->model, o, "model"));
	MVMS_TRY(opt_str(&d->env, o, "env"));
	MVMS_TRY(opt_str(&d->action, o, "action"));
	MVMS_TRY(opt_str(&d->author, o, "author"));
	MVMS_TRY(opt_str(&d->reason, o, "reason"));
	if (!d->model || !d->action || !d->author || !d->reason) {
		error = mvms_error_set(MVMS_ERROR, "remote: the server's deployment lacks a member");
		goto done;
	}
	d->targets = calloc(array_len(targets) + 1, sizeof(*d->targets));
	MVMS_CHECK_ALLOC(d->targets, error);
	cJSON_ArrayForEach(it, targets) {
		mvms_deploy_target *t = &d->targets[d->target_count++];
		t->number = mvms_wire__int(it, "version");
		t->weight = (int)mvms_wire__int(it, "weight");
		snprintf(t->id, sizeof(t->id), "%s", mvms_wire__str(it, "id"));
		MVMS_CHECK_ALLOC(t->endpoint = strdup(mvms_wire__str(it, "endpoint")), error);
	}
	MVMS_TRY(wire_shadow(d, cJSON_GetObjectItemCaseSensitive(o, "shadow")));
	d->timeout_ms = (int)mvms_wire__int(o, "timeout_ms");
	d->retries = (int)mvms_wire__int(o, "retries");
	if (!d->timeout_ms) { /* a server from before per-environment settings */
		d->timeout_ms = MVMS_DEPLOY_TIMEOUT_MS;
		d->retries = MVMS_DEPLOY_RETRIES;
	}
done:
	if (error < 0) {
		mvms_deployment_free(d);
		d = NULL;
	}
	return d;
}

int mvms_wire__deployment_list(mvms_deployment ***out, size_t *count, const cJSON *arr)
{
	mvms_deployment **list = NULL;
	const cJSON *it;
	size_t n = 0;
	int error = 0;

	*out = NULL;
	*count = 0;
	if (!cJSON_IsArray(arr)) {
		error = mvms_error_set(MVMS_ERROR, "remote: the server sent no list of deployments");
		goto done;
	}
	list = calloc(array_len(arr) + 1, sizeof(*list));
	MVMS_CHECK_ALLOC(list, error);
	cJSON_ArrayForEach(it, arr) {
		if (!(list[n] = mvms_wire__deployment(it))) {
			error = MVMS_ERROR;
			goto done;
		}
		n++;
	}
	*out = list;
	*count = n;
	list = NULL;
done:
	mvms_deployment_list_free(list, n);
	return error;
}
