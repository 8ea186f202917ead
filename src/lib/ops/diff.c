/* SPDX-License-Identifier: MIT */
/*
 * Diff of two versions (of one model or two): files added, removed, modified, renamed and
 * re-moded; per file the bytes shared with the other version and the bytes a pull of the new
 * side costs; tensor by tensor for tensor files (safetensors, GGUF, ONNX and its side files)
 * on both sides, from the tensors table (no pack reads);
 * and metadata changes; and the stored (compressed) bytes of B's distinct chunks, in all and
 * in those A lacks. It reads the database only.
 */
#include <stdio.h>
#include <stdlib.h>
#include "history.h"
#include "store_int.h"
#include "mvms/dag.h"
#include "dag_int.h"
#include "dagq.h"
#include "transport.h"

/* A set of chunk row ids. */
typedef struct id_set {
	int64_t *keys;
	size_t cap, count;
} id_set;

static int ids_add(id_set *s, int64_t k)
{
	size_t i;

	if ((s->count + 1) * 2 > s->cap) {
		id_set b = { NULL, s->cap ? s->cap * 2 : 1024, 0 };
		b.keys = calloc(b.cap, sizeof(*b.keys));
		if (!b.keys)
			return mvms_error_set(MVMS_ERROR, "out of memory");
		for (i = 0; i < s->cap; i++)
			if (s->keys[i])
				ids_add(&b, s->keys[i]);
		free(s->keys);
		*s = b;
	}
	for (i = ((uint64_t)k * 0x9e3779b97f4a7c15ull >> 17) & (s->cap - 1); s->keys[i];
	     i = (i + 1) & (s->cap - 1))
		if (s->keys[i] == k)
			return 0;
	s->keys[i] = k;
	s->count++;
	return 0;
}

static int ids_has(const id_set *s, int64_t k)
{
	size_t i;

	if (!s->cap)
		return 0;
	for (i = ((uint64_t)k * 0x9e3779b97f4a7c15ull >> 17) & (s->cap - 1); s->keys[i];
	     i = (i + 1) & (s->cap - 1))
		if (s->keys[i] == k)
			return 1;
	return 0;
}

static int tensor_entry(mvms_diff_file *f, char status, const mvms_vtensor *a, const mvms_vtensor *b)
{
	mvms_diff_tensor *t = realloc(f->tensors, (f->tensor_count + 1) * sizeof(*t));

	if (!t)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	f->tensors = t;
	t = &t[f->tensor_count++];
	memset(t, 0, sizeof(*t));
	t->status = status;
	t->name = strdup(b ? b->name : a->name);
	if (a) {
		t->old_dtype = strdup(a->dtype);
		t->old_shape = strdup(a->shape);
		t->old_length = a->length;
	}
	if (b) {
		t->new_dtype = strdup(b->dtype);
		t->new_shape = strdup(b->shape);
		t->new_length = b->length;
	}
	if (!t->name || (a && (!t->old_dtype || !t->old_shape)) || (b && (!t->new_dtype || !t->new_shape)))
		return mvms_error_set(MVMS_ERROR, "out of memory");
	return 0;
}

/* Both lists are sorted by name: one merge pass. */
static int diff_tensors(mvms_diff_file *f, mvms_store *st, int64_t ca, int64_t cb, int list)
{
	mvms_vtensor *ta = NULL, *tb = NULL;
	size_t na = 0, nb = 0, i = 0, j = 0;
	int error = 0, c;

	MVMS_TRY(mvms_dag__load_tensors(&ta, &na, st, ca));
	MVMS_TRY(mvms_dag__load_tensors(&tb, &nb, st, cb));
	f->tensor_diff = 1;
	f->tensors_total = nb;
	for (j = 0; j < nb; j++)
		f->bytes_total += tb[j].length;
	j = 0;
	while (i < na || j < nb) {
		c = i >= na ? 1 : j >= nb ? -1 : strcmp(ta[i].name, tb[j].name);
		if (c < 0) {
			f->tensors_removed++;
			if (list)
				MVMS_TRY(tensor_entry(f, 'D', &ta[i], NULL));
			i++;
		} else if (c > 0) {
			f->tensors_added++;
			f->bytes_changed += tb[j].length;
			if (list)
				MVMS_TRY(tensor_entry(f, 'A', NULL, &tb[j]));
			j++;
		} else {
			int shape = strcmp(ta[i].dtype, tb[j].dtype) || strcmp(ta[i].shape, tb[j].shape);
			if (shape || mvms_oid_cmp(&ta[i].oid, &tb[j].oid) != 0) {
				f->tensors_changed++;
				f->bytes_changed += tb[j].length;
				if (list)
					MVMS_TRY(tensor_entry(f, shape ? 'S' : 'M', &ta[i], &tb[j]));
			} else {
				f->tensors_unchanged++;
			}
			i++;
			j++;
		}
	}
done:
	mvms_dag__free_tensors(ta, na);
	mvms_dag__free_tensors(tb, nb);
	return error;
}

/* Bytes of a content in chunks a version has, and in chunks it lacks. */
typedef struct cost_sum {
	const id_set *a_chunks;
	uint64_t shared, fresh;
} cost_sum;

static int on_cost_chunk(int64_t chunk, uint64_t len, void *payload)
{
	cost_sum *c = payload;

	if (ids_has(c->a_chunks, chunk))
		c->shared += len;
	else
		c->fresh += len;
	return 0;
}

/* Bytes of content @cb in chunks that @a_chunks has, and in chunks it lacks. */
static int cost(uint64_t *shared, uint64_t *fresh, mvms_store *st, const id_set *a_chunks,
		int64_t cb)
{
	cost_sum c = { a_chunks, 0, 0 };
	int error = mvms_dagq_content_chunks(st->db, cb, on_cost_chunk, &c);

	*shared = c.shared;
	*fresh = c.fresh;
	return error;
}

static int on_version_chunk(int64_t chunk, void *payload)
{
	return ids_add(payload, chunk);
}

static int version_chunks(id_set *out, mvms_store *st, int64_t row)
{
	return mvms_dagq_version_chunks(st->db, row, on_version_chunk, out);
}

/* B's stored bytes, and those in chunks A lacks. */
typedef struct stored_sum {
	const id_set *a_chunks;
	mvms_diff *d;
} stored_sum;

static int on_stored_chunk(int64_t chunk, uint64_t stored_len, void *payload)
{
	stored_sum *c = payload;

	c->d->stored_bytes += stored_len;
	if (!ids_has(c->a_chunks, chunk))
		c->d->new_stored_bytes += stored_len;
	return 0;
}

static int add_file(mvms_diff *d, char status, const mvms_vfile *a, const mvms_vfile *b)
{
	mvms_diff_file *f = realloc(d->files, (d->file_count + 1) * sizeof(*f));

	if (!f)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	d->files = f;
	f = &f[d->file_count++];
	memset(f, 0, sizeof(*f));
	f->status = status;
	f->path = strdup(b ? b->path : a->path);
	if (!f->path)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	if (a) {
		f->old_mode = a->mode;
		f->old_size = a->size;
		mvms_oid_fmt(f->old_id, &a->oid);
	}
	if (b) {
		f->new_mode = b->mode;
		f->new_size = b->size;
		mvms_oid_fmt(f->new_id, &b->oid);
	}
	if (status == MVMS_DIFF_RENAMED && !(f->old_path = strdup(a->path)))
		return mvms_error_set(MVMS_ERROR, "out of memory");
	return 0;
}

static int cmp_diff_file(const void *x, const void *y)
{
	return strcmp(((const mvms_diff_file *)x)->path, ((const mvms_diff_file *)y)->path);
}

static int diff_meta(mvms_diff *d)
{
	const mvms_version_info *a = d->from, *b = d->to;
	size_t i = 0, j = 0;
	int c;

	while (i < a->meta_count || j < b->meta_count) {
		mvms_diff_meta *m;
		c = i >= a->meta_count ? 1 : j >= b->meta_count ? -1
				: strcmp(a->meta_keys[i], b->meta_keys[j]);
		if (c == 0 && strcmp(a->meta_values[i], b->meta_values[j]) == 0) {
			i++;
			j++;
			continue;
		}
		m = realloc(d->meta, (d->meta_count + 1) * sizeof(*m));
		if (!m)
			return mvms_error_set(MVMS_ERROR, "out of memory");
		d->meta = m;
		m = &m[d->meta_count++];
		memset(m, 0, sizeof(*m));
		m->key = strdup(c <= 0 ? a->meta_keys[i] : b->meta_keys[j]);
		if (c <= 0)
			m->old_value = strdup(a->meta_values[i++]);
		if (c >= 0)
			m->new_value = strdup(b->meta_values[j++]);
		if (!m->key)
			return mvms_error_set(MVMS_ERROR, "out of memory");
	}
	return 0;
}

int mvms_diff_get(mvms_diff **out, mvms_store *st, const char *a, const char *b, unsigned flags)
{
	MVMS_TRANSPORT_CALL(st, diff_get, (out, st, a, b, flags));
	mvms_diff *d = NULL;
	mvms_vfile *fa = NULL, *fb = NULL;
	size_t na = 0, nb = 0, i, j, k;
	int64_t ra, rb;
	id_set a_chunks = { NULL, 0, 0 };
	stored_sum stored;
	int error = 0, c;

	*out = NULL;
	d = calloc(1, sizeof(*d));
	MVMS_CHECK_ALLOC(d, error);
	MVMS_TRY(mvms_refs__resolve_row(&ra, &d->from, st, a));
	MVMS_TRY(mvms_refs__resolve_row(&rb, &d->to, st, b));
	/* A deleted version has no files to compare: saying so beats "everything removed". */
	MVMS_TRY(mvms_history__live_info(d->from));
	MVMS_TRY(mvms_history__live_info(d->to));
	MVMS_TRY(mvms_dag__load_files(&fa, &na, st, ra));
	MVMS_TRY(mvms_dag__load_files(&fb, &nb, st, rb));
	MVMS_TRY(version_chunks(&a_chunks, st, ra));

	/* Same path on both sides. */
	for (i = 0, j = 0; i < na && j < nb;) {
		c = strcmp(fa[i].path, fb[j].path);
		if (c < 0) {
			i++;
		} else if (c > 0) {
			j++;
		} else {
			fa[i].matched = fb[j].matched = 1;
			if (mvms_oid_cmp(&fa[i].oid, &fb[j].oid) != 0)
				MVMS_TRY(add_file(d, MVMS_DIFF_MODIFIED, &fa[i], &fb[j]));
			else if (fa[i].mode != fb[j].mode)
				MVMS_TRY(add_file(d, MVMS_DIFF_MODE, &fa[i], &fb[j]));
			else
				d->unchanged_files++;
			if (mvms_oid_cmp(&fa[i].oid, &fb[j].oid) != 0 && fa[i].tensors && fb[j].tensors)
				MVMS_TRY(diff_tensors(&d->files[d->file_count - 1], st, fa[i].content,
						      fb[j].content, flags & MVMS_DIFF_TENSORS));
			i++;
			j++;
		}
	}
	/* Renames: an added path whose content a removed path had. */
	for (j = 0; j < nb; j++) {
		if (fb[j].matched)
			continue;
		for (k = 0; k < na; k++)
			if (!fa[k].matched && mvms_oid_cmp(&fa[k].oid, &fb[j].oid) == 0)
				break;
		if (k < na) {
			fa[k].matched = fb[j].matched = 1;
			MVMS_TRY(add_file(d, MVMS_DIFF_RENAMED, &fa[k], &fb[j]));
		} else {
			MVMS_TRY(add_file(d, MVMS_DIFF_ADDED, NULL, &fb[j]));
		}
	}
	for (i = 0; i < na; i++)
		if (!fa[i].matched)
			MVMS_TRY(add_file(d, MVMS_DIFF_REMOVED, &fa[i], NULL));

	/* What a pull of B costs someone who has A. */
	for (j = 0; j < nb; j++) {
		uint64_t shared, fresh;
		MVMS_TRY(cost(&shared, &fresh, st, &a_chunks, fb[j].content));
		d->shared_bytes += shared;
		d->new_bytes += fresh;
		for (k = 0; k < d->file_count; k++)
			if (d->files[k].status != MVMS_DIFF_REMOVED &&
			    strcmp(d->files[k].path, fb[j].path) == 0) {
				d->files[k].shared_bytes = shared;
				d->files[k].new_bytes = fresh;
			}
	}
	stored.a_chunks = &a_chunks;
	stored.d = d;
	MVMS_TRY(mvms_dagq_version_chunks_stored(st->db, rb, on_stored_chunk, &stored));
	if (d->file_count > 1)
		qsort(d->files, d->file_count, sizeof(*d->files), cmp_diff_file);
	MVMS_TRY(diff_meta(d));
	*out = d;
	d = NULL;
done:
	free(a_chunks.keys);
	mvms_dag__free_files(fa, na);
	mvms_dag__free_files(fb, nb);
	mvms_diff_free(d);
	return error;
}

void mvms_diff_free(mvms_diff *d)
{
	size_t i, j;

	if (!d)
		return;
	mvms_version_info_free(d->from);
	mvms_version_info_free(d->to);
	for (i = 0; i < d->file_count; i++) {
		mvms_diff_file *f = &d->files[i];
		free(f->path);
		free(f->old_path);
		for (j = 0; j < f->tensor_count; j++) {
			free(f->tensors[j].name);
			free(f->tensors[j].old_dtype);
			free(f->tensors[j].new_dtype);
			free(f->tensors[j].old_shape);
			free(f->tensors[j].new_shape);
		}
		free(f->tensors);
	}
	free(d->files);
	for (i = 0; i < d->meta_count; i++) {
		free(d->meta[i].key);
		free(d->meta[i].old_value);
		free(d->meta[i].new_value);
	}
	free(d->meta);
	free(d);
}
