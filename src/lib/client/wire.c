/* SPDX-License-Identifier: MIT */
/*
 * The client's reading of the server's JSON documents back into the library's structs
 * (wire.h). Counts come from the arrays as received, never from a number in the document;
 * a missing member reads as empty or zero, a document of the wrong kind as an error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "common.h"
#include "wire.h"

const char *mvms_wire__str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) && v->valuestring ? v->valuestring : "";
}

int64_t mvms_wire__int(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : 0;
}

int64_t mvms_wire__time(const cJSON *o, const char *key)
{
	const char *s = mvms_wire__str(o, key);
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (!*s || !strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm))
		return 0;
	return (int64_t)timegm(&tm);
}

/* strdup of a string member ("" when absent); NULL only when out of memory. */
static char *dup_str(const cJSON *o, const char *key)
{
	return strdup(mvms_wire__str(o, key));
}

static void copy_id(char *dst, size_t n, const cJSON *o, const char *key)
{
	snprintf(dst, n, "%s", mvms_wire__str(o, key));
}

static size_t array_len(const cJSON *a)
{
	return cJSON_IsArray(a) || cJSON_IsObject(a) ? (size_t)cJSON_GetArraySize(a) : 0;
}

static int oom(void)
{
	return mvms_error_set(MVMS_ERROR, "out of memory");
}

static int version_parents(mvms_version_info *v, const cJSON *arr)
{
	const cJSON *it;

	v->parents = calloc(array_len(arr) + 1, sizeof(*v->parents));
	if (!v->parents)
		return oom();
	cJSON_ArrayForEach(it, arr) {
		mvms_version_parent *p = &v->parents[v->parent_count++];
		copy_id(p->id, sizeof(p->id), it, "id");
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "redacted")))
			continue; /* a parent the reader may not see: model NULL */
		p->number = mvms_wire__int(it, "version");
		if (!(p->model = dup_str(it, "model")))
			return oom();
	}
	return 0;
}

static int version_meta_refs(mvms_version_info *v, const cJSON *meta, const cJSON *refs)
{
	const cJSON *it;

	v->meta_keys = calloc(array_len(meta) + 1, sizeof(char *));
	v->meta_values = calloc(array_len(meta) + 1, sizeof(char *));
	v->refs = calloc(array_len(refs) + 1, sizeof(char *));
	if (!v->meta_keys || !v->meta_values || !v->refs)
		return oom();
	if (cJSON_IsObject(meta))
		cJSON_ArrayForEach(it, meta) {
			v->meta_keys[v->meta_count] = strdup(it->string ? it->string : "");
			v->meta_values[v->meta_count] =
				strdup(cJSON_IsString(it) ? it->valuestring : "");
			v->meta_count++;
			if (!v->meta_keys[v->meta_count - 1] || !v->meta_values[v->meta_count - 1])
				return oom();
		}
	if (cJSON_IsArray(refs))
		cJSON_ArrayForEach(it, refs) {
			if (!(v->refs[v->ref_count++] = strdup(cJSON_IsString(it) ? it->valuestring : "")))
				return oom();
		}
	return 0;
}

mvms_version_info *mvms_wire__version(const cJSON *o)
{
	mvms_version_info *v = NULL;
	int error = 0;

	if (!cJSON_IsObject(o) || !*mvms_wire__str(o, "id")) {
		error = mvms_error_set(MVMS_ERROR, "remote: the server sent a version without an id");
		goto done;
	}
	v = calloc(1, sizeof(*v));
	MVMS_CHECK_ALLOC(v, error);
	copy_id(v->id, sizeof(v->id), o, "id");
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "redacted")))
		goto done; /* a version the token may not see: its id only (model NULL) */
	v->number = mvms_wire__int(o, "version");
	v->created_at = mvms_wire__time(o, "created_at");
	v->file_count = (uint64_t)mvms_wire__int(o, "files");
	v->logical_bytes = (uint64_t)mvms_wire__int(o, "logical_bytes");
	if (!(v->model = dup_str(o, "model")) || !(v->message = dup_str(o, "message")) ||
	    !(v->author = dup_str(o, "author"))) {
		error = oom();
		goto done;
	}
	MVMS_TRY(version_parents(v, cJSON_GetObjectItemCaseSensitive(o, "parents")));
	MVMS_TRY(version_meta_refs(v, cJSON_GetObjectItemCaseSensitive(o, "meta"),
				   cJSON_GetObjectItemCaseSensitive(o, "refs")));
done:
	if (error < 0) {
		mvms_version_info_free(v);
		v = NULL;
	}
	return v;
}

int mvms_wire__version_list(mvms_version_info ***out, size_t *count, const cJSON *doc,
			    const char *key)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(doc, key), *it;
	mvms_version_info **list = NULL;
	size_t n = 0;
	int error = 0;

	*out = NULL;
	*count = 0;
	if (!cJSON_IsArray(arr)) {
		error = mvms_error_set(MVMS_ERROR, "remote: the server's reply has no '%s' list", key);
		goto done;
	}
	list = calloc(array_len(arr) + 1, sizeof(*list));
	MVMS_CHECK_ALLOC(list, error);
	cJSON_ArrayForEach(it, arr) {
		if (!(list[n] = mvms_wire__version(it))) {
			error = MVMS_ERROR;
			goto done;
		}
		n++;
	}
	*out = list;
	*count = n;
	list = NULL;
done:
	mvms_version_list_free(list, n);
	return error;
}

int mvms_wire__model(mvms_model_info *m, const cJSON *o)
{
	memset(m, 0, sizeof(*m));
	if (!cJSON_IsObject(o) || !*mvms_wire__str(o, "model"))
		return mvms_error_set(MVMS_ERROR, "remote: the server sent a model without a name");
	copy_id(m->uid, sizeof(m->uid), o, "uid");
	m->created_at = mvms_wire__time(o, "created_at");
	m->versions = mvms_wire__int(o, "versions");
	m->name = dup_str(o, "model");
	m->description = dup_str(o, "description");
	if (!m->name || !m->description) {
		free(m->name);
		free(m->description);
		memset(m, 0, sizeof(*m));
		return oom();
	}
	return 0;
}

int mvms_wire__refs(mvms_ref_info **out, size_t *count, const cJSON *arr)
{
	mvms_ref_info *list = NULL;
	const cJSON *it;
	size_t n = 0;
	int error = 0;

	*out = NULL;
	*count = 0;
	list = calloc(array_len(arr) + 1, sizeof(*list));
	MVMS_CHECK_ALLOC(list, error);
	cJSON_ArrayForEach(it, arr) {
		mvms_ref_info *r = &list[n++];
		r->number = mvms_wire__int(it, "version");
		r->updated_at = mvms_wire__time(it, "updated_at");
		copy_id(r->id, sizeof(r->id), it, "id");
		if (!(r->name = dup_str(it, "name"))) {
			error = oom();
			goto done;
		}
	}
	*out = list;
	*count = n;
	list = NULL;
done:
	mvms_ref_list_free(list, n);
	return error;
}

int mvms_wire__files(mvms_file_info **out, size_t *count, const cJSON *arr)
{
	mvms_file_info *list = NULL;
	const cJSON *it;
	size_t n = 0;
	int error = 0;

	*out = NULL;
	*count = 0;
	list = calloc(array_len(arr) + 1, sizeof(*list));
	MVMS_CHECK_ALLOC(list, error);
	cJSON_ArrayForEach(it, arr) {
		mvms_file_info *f = &list[n++];
		f->mode = (unsigned)mvms_wire__int(it, "mode");
		f->size = (uint64_t)mvms_wire__int(it, "size");
		f->chunks = (uint64_t)mvms_wire__int(it, "chunks");
		f->tensor_count = (uint64_t)mvms_wire__int(it, "tensors");
		copy_id(f->id, sizeof(f->id), it, "id");
		if (!(f->path = dup_str(it, "path")) || !(f->format = dup_str(it, "format"))) {
			error = oom();
			goto done;
		}
	}
	*out = list;
	*count = n;
	list = NULL;
done:
	mvms_file_list_free(list, n);
	return error;
}

/* The index of the node with id @id among l->nodes[0..node_count), or -1. */
static long node_index(const mvms_lineage *l, const char *id)
{
	size_t i;

	for (i = 0; i < l->node_count; i++)
		if (strcmp(l->nodes[i].id, id) == 0)
			return (long)i;
	return -1;
}

mvms_lineage *mvms_wire__lineage(const cJSON *doc)
{
	const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(doc, "nodes");
	const cJSON *edges = cJSON_GetObjectItemCaseSensitive(doc, "edges"), *it;
	mvms_lineage *l = NULL;
	int error = 0;

	if (!cJSON_IsArray(nodes) || array_len(nodes) == 0) {
		error = mvms_error_set(MVMS_ERROR, "remote: the server's lineage has no nodes");
		goto done;
	}
	l = calloc(1, sizeof(*l));
	MVMS_CHECK_ALLOC(l, error);
	l->nodes = calloc(array_len(nodes), sizeof(*l->nodes));
	l->edges = calloc(array_len(edges) + 1, sizeof(*l->edges));
	if (!l->nodes || !l->edges) {
		error = oom();
		goto done;
	}
	cJSON_ArrayForEach(it, nodes) {
		mvms_lineage_node *n = &l->nodes[l->node_count++];
		copy_id(n->id, sizeof(n->id), it, "id");
		n->depth = (int)mvms_wire__int(it, "depth");
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "redacted")))
			continue;
		n->number = mvms_wire__int(it, "version");
		n->created_at = mvms_wire__time(it, "created_at");
		if (!(n->model = dup_str(it, "model")) || !(n->message = dup_str(it, "message"))) {
			error = oom();
			goto done;
		}
	}
	cJSON_ArrayForEach(it, edges) {
		long c = node_index(l, mvms_wire__str(it, "child"));
		long p = node_index(l, mvms_wire__str(it, "parent"));
		if (c < 0 || p < 0) {
			error = mvms_error_set(MVMS_ERROR, "remote: a lineage edge names a node the "
							   "server did not send");
			goto done;
		}
		l->edges[l->edge_count].child = (size_t)c;
		l->edges[l->edge_count].parent = (size_t)p;
		l->edges[l->edge_count].position = (int)mvms_wire__int(it, "position");
		l->edge_count++;
	}
done:
	if (error < 0) {
		mvms_lineage_free(l);
		l = NULL;
	}
	return l;
}
