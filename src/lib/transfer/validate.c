/* SPDX-License-Identifier: MIT */
/*
 * Validating a commit in full before anything of it is written (validate.h): branch,
 * paths, parents, and each file's chunk list against its id, its declared size and the
 * chunks stored. Both a local push and the server's commit endpoint call this one
 * function, so a version that does not add up cannot be made by either.
 */
#include <stdio.h>
#include <stdlib.h>
#include "validate.h"
#include "hash.h"
#include "manifest.h"
#include "mvms/sync.h"
#include "contents.h"
#include "packs.h"
#include "history.h"

#define FILEMAP_HDR 32
#define FILEMAP_ENTRY 40

static int cmp_path_ptr(const void *a, const void *b)
{
	return strcmp((*(const mvms_commit_file *const *)a)->path,
		      (*(const mvms_commit_file *const *)b)->path);
}

/* 1 when @len bytes of @dir name a file of the sorted @v (binary search). */
static int is_file(const mvms_commit_file *const *v, size_t n, const char *dir, size_t len)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *p = v[mid]->path;
		int c = strncmp(p, dir, len);
		if (c == 0)
			c = p[len] == '\0' ? 0 : 1;
		if (c == 0)
			return 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

int mvms_validate_paths(const mvms_commit_file *files, size_t n)
{
	const mvms_commit_file **v = NULL;
	const char *p, *slash;
	size_t i;
	int error = 0;

	for (i = 0; i < n; i++) {
		if ((error = mvms_path_check(files[i].path)) < 0) {
			error = mvms_error_set(MVMS_EINVALID, "commit: %s", mvms_error_last());
			goto done;
		}
		if (files[i].mode != 0644 && files[i].mode != 0755) {
			error = mvms_error_set(MVMS_EINVALID, "commit: file '%s': mode %o (only 644 and "
					       "755 are kept)", files[i].path, files[i].mode);
			goto done;
		}
	}
	v = calloc(n + 1, sizeof(*v));
	MVMS_CHECK_ALLOC(v, error);
	for (i = 0; i < n; i++)
		v[i] = &files[i];
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_path_ptr);
	for (i = 1; i < n; i++)
		if (strcmp(v[i - 1]->path, v[i]->path) == 0) {
			error = mvms_error_set(MVMS_EINVALID, "commit: path '%s' is given twice",
					       v[i]->path);
			goto done;
		}
	/* Every directory above a file must not itself be a file ("a" with "a/b"): a pull
	 * could not write both. */
	for (i = 0; i < n; i++) {
		p = v[i]->path;
		for (slash = strchr(p, '/'); slash; slash = strchr(slash + 1, '/'))
			if (is_file(v, n, p, (size_t)(slash - p))) {
				error = mvms_error_set(MVMS_EINVALID,
						       "commit: '%.*s' is a file and also a directory of "
						       "'%s'", (int)(slash - p), p, p);
				goto done;
			}
	}
done:
	free(v);
	return error;
}

static int check_parents(mvms_store *st, const int64_t *parents, size_t n)
{
	size_t i, j;
	int rc;

	for (i = 0; i < n; i++) {
		for (j = 0; j < i; j++)
			if (parents[j] == parents[i])
				return mvms_error_set(MVMS_EINVALID, "commit: parent %zu is also parent %zu",
						      i + 1, j + 1);
		if ((rc = mvms_version__row_exists(st, parents[i])) < 0)
			return rc;
		if (rc == 0)
			return mvms_error_set(MVMS_EINVALID, "commit: parent %zu is not a version in this "
					      "store (deleted meanwhile?)", i + 1);
		/* A tombstone has no files: nothing may be made from it (as a local push checks
		 * when it resolves --parent); says who deleted it and when. */
		if ((rc = mvms_history__live(st, parents[i])) < 0)
			return rc;
	}
	return 0;
}

/* The chunk list @refs (in file order) hashes to @f's id, adds up to its size, and every
 * chunk is stored with that length. */
static int check_chunks(mvms_store *st, const mvms_commit_file *f, const mvms_chunk_ref *refs,
			size_t n)
{
	char hex[MVMS_OID_HEXSZ + 1];
	uint64_t total = 0;
	mvms_hasher h;
	mvms_oid got;
	size_t i;
	int rc;

	mvms_hasher_init(&h);
	for (i = 0; i < n; i++) {
		mvms_hasher_add_chunk(&h, &refs[i].id, refs[i].len);
		total += refs[i].len; /* u32 lengths: no overflow before 2^32 chunks */
	}
	mvms_hasher_final(&h, &got);
	if (mvms_oid_cmp(&got, &f->id) != 0)
		return mvms_error_set(MVMS_EINVALID, "commit: file '%s': its chunk list does not hash "
				      "to its file id", f->path);
	if (total != f->size)
		return mvms_error_set(MVMS_EINVALID, "commit: file '%s': its chunk lengths add up to %llu "
				      "bytes, but its declared size is %llu", f->path,
				      (unsigned long long)total, (unsigned long long)f->size);
	for (i = 0; i < n; i++) {
		uint64_t len = 0;
		if ((rc = mvms_packs__chunk_len(&len, st, &refs[i].id)) == 0 && len == refs[i].len)
			continue;
		mvms_oid_fmt(hex, &refs[i].id);
		if (rc == 0)
			return mvms_error_set(MVMS_EINVALID, "commit: file '%s': chunk %zu (%s) is %llu "
					      "bytes, but its chunk list says %u", f->path, i, hex,
					      (unsigned long long)len, refs[i].len);
		if (rc == MVMS_ENOTFOUND && st->lease[0])
			/* The writer found it stored, under a lease: a gc took its unused pack
			 * since (docs/formats.md, "Garbage collection and leases"). */
			return mvms_error_set(MVMS_ECONFLICT, "commit: file '%s': chunk %s is not stored "
					      "here any more (a gc removed it meanwhile); nothing was "
					      "committed: push again", f->path, hex);
		if (rc == MVMS_ENOTFOUND)
			return mvms_error_set(MVMS_EINVALID, "commit: file '%s': chunk %s is not stored "
					      "here: upload its pack before committing", f->path, hex);
		return rc;
	}
	return 0;
}

/* A chunk list sent as a "files" object: well formed (mvms_sync_parse_filemap), then as
 * any chunk list. */
static int check_filemap(mvms_store *st, const mvms_commit_file *f)
{
	const unsigned char *p = f->filemap;
	mvms_oid *ids = NULL;
	mvms_chunk_ref *refs = NULL;
	uint64_t total = 0;
	size_t n = 0, i;
	int error = 0;

	if ((error = mvms_sync_parse_filemap(&ids, &n, &total, f->filemap, f->filemap_len,
					     &f->id)) < 0) {
		error = mvms_error_set(MVMS_EINVALID, "commit: file '%s': %s", f->path,
				       mvms_error_last());
		goto done;
	}
	refs = calloc(n + 1, sizeof(*refs));
	MVMS_CHECK_ALLOC(refs, error);
	for (i = 0; i < n; i++) {
		refs[i].id = ids[i];
		/* Parsing bounded every length by the largest chunk a store can cut. */
		refs[i].len = (uint32_t)mvms_le64_get(p + FILEMAP_HDR + i * FILEMAP_ENTRY + 32);
	}
	error = check_chunks(st, f, refs, n);
done:
	free(refs);
	free(ids);
	return error;
}

/* A content the store has: its row must exist and have the declared size. */
static int check_stored(mvms_store *st, const mvms_commit_file *f)
{
	char hex[MVMS_OID_HEXSZ + 1];
	uint64_t size = 0;
	int rc = mvms_contents__size(&size, st, &f->id);

	if (rc == MVMS_ENOTFOUND) {
		mvms_oid_fmt(hex, &f->id);
		if (st->lease[0])
			return mvms_error_set(MVMS_ECONFLICT, "commit: file '%s': content %s is not "
					      "here any more (a gc removed it meanwhile); nothing was "
					      "committed: push again", f->path, hex);
		return mvms_error_set(MVMS_EINVALID, "commit: file '%s': content %s is not here and its "
				      "chunk list was not sent", f->path, hex);
	}
	if (rc < 0)
		return rc;
	if (size != f->size)
		return mvms_error_set(MVMS_EINVALID, "commit: file '%s': its declared size is %llu "
				      "bytes, but its content holds %llu", f->path,
				      (unsigned long long)f->size, (unsigned long long)size);
	return 0;
}

static int check_branch(mvms_store *st, int64_t model_id, const char *branch)
{
	int64_t head;
	int error = mvms_ref_name_check(branch);

	if (error < 0 || model_id == 0)
		return error;
	error = mvms_refs__branch_head(&head, st, model_id, branch);
	if (error == MVMS_ENOTFOUND) {
		mvms_error_clear();
		error = mvms_refs__name_free(st, model_id, branch, "branch");
	}
	return error;
}

int mvms_validate_commit(mvms_store *st, const mvms_commit_plan *plan)
{
	const mvms_commit_file *f;
	size_t i;
	int error = 0, began = 0;

	MVMS_TRY(check_branch(st, plan->model_id, plan->branch));
	MVMS_TRY(mvms_validate_paths(plan->files, plan->nfiles));
	/* One read transaction: one consistent view, and no lock taken per lookup. */
	MVMS_TRY(mvms_db_read_begin(st->db, &began));
	MVMS_TRY(check_parents(st, plan->parents, plan->nparents));
	for (i = 0; i < plan->nfiles; i++) {
		f = &plan->files[i];
		if (f->source == MVMS_COMMIT_FILEMAP)
			MVMS_TRY(check_filemap(st, f));
		else if (f->source == MVMS_COMMIT_CHUNKS)
			MVMS_TRY(check_chunks(st, f, f->chunks, f->nchunks));
		else
			MVMS_TRY(check_stored(st, f));
	}
done:
	mvms_db_read_end(st->db, began);
	return error;
}

static int cmp_sent(const void *a, const void *b)
{
	return mvms_oid_cmp(&((const mvms_validate__sent *)a)->id,
			    &((const mvms_validate__sent *)b)->id);
}

int mvms_validate__sent_index(mvms_validate__sent **out, const mvms_oid *ids, size_t n)
{
	size_t i;
	mvms_validate__sent *v = calloc(n + 1, sizeof(*v));

	*out = v;
	if (!v)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	for (i = 0; i < n; i++) {
		v[i].id = ids[i];
		v[i].i = i;
	}
	qsort(v, n, sizeof(*v), cmp_sent);
	return 0;
}

size_t mvms_validate__sent_find(const mvms_validate__sent *v, size_t n, const mvms_oid *id)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = mvms_oid_cmp(&v[mid].id, id);
		if (c == 0)
			return v[mid].i;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return n;
}

int mvms_validate_manifest(mvms_store *st, const mvms_manifest *m, int64_t model_id,
			   const char *branch, const int64_t *parents, const mvms_oid *fm_ids,
			   const void *const *filemaps, const size_t *filemap_lens, size_t nfilemaps)
{
	mvms_commit_plan plan;
	int64_t row;
	mvms_commit_file *cf = calloc(m->file_count + 1, sizeof(*cf));
	mvms_validate__sent *sorted = NULL;
	size_t i, j;
	int error = 0, rc;

	MVMS_CHECK_ALLOC(cf, error);
	MVMS_TRY(mvms_validate__sent_index(&sorted, fm_ids, nfilemaps));
	for (i = 0; i < m->file_count; i++) {
		cf[i].path = m->files[i].path;
		cf[i].mode = m->files[i].mode;
		cf[i].size = m->files[i].size;
		cf[i].id = m->files[i].id;
		cf[i].source = MVMS_COMMIT_STORED;
		rc = mvms_contents__row(&row, st, &m->files[i].id);
		if (rc < 0 && rc != MVMS_ENOTFOUND) {
			error = rc;
			goto done;
		}
		if (rc == MVMS_ENOTFOUND &&
		    (j = mvms_validate__sent_find(sorted, nfilemaps, &m->files[i].id)) < nfilemaps) {
			cf[i].source = MVMS_COMMIT_FILEMAP;
			cf[i].filemap = filemaps[j];
			cf[i].filemap_len = filemap_lens[j];
		}
	}
	memset(&plan, 0, sizeof(plan));
	plan.model_id = model_id;
	plan.branch = branch;
	plan.files = cf;
	plan.nfiles = m->file_count;
	plan.parents = parents;
	plan.nparents = m->parent_count;
	error = mvms_validate_commit(st, &plan);
done:
	free(sorted);
	free(cf);
	return error;
}

int mvms_validate_entry_paths(const mvms_push__entry *entries, size_t n)
{
	mvms_commit_file *cf = calloc(n + 1, sizeof(*cf));
	size_t i;
	int error;

	if (!cf)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	for (i = 0; i < n; i++) {
		cf[i].path = entries[i].path;
		cf[i].mode = entries[i].mode;
	}
	error = mvms_validate_paths(cf, n);
	free(cf);
	return error;
}
