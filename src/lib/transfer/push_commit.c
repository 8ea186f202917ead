/* SPDX-License-Identifier: MIT */
/*
 * A push's commit, once every file's chunks are stored: no version when the files equal
 * the head's; otherwise the whole commit is checked (validate.c), the chunk lists
 * (files/) and the manifest (manifests/) are written, and one SQLite transaction adds the
 * contents (contents.c), the version's rows (commit.c) and moves the branch under
 * compare-and-swap (refs.c). gc removes only under that same write lock, so what the
 * version needs is checked to be there inside the transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "push_int.h"
#include "commit.h"
#include "contents.h"
#include "hash.h"
#include "tree.h"
#include "validate.h"
#include "log_int.h"
#include "clists.h"
#include "push_lists.h"

/*
 * In the commit's write transaction: an object the new version needs must be there. gc
 * removes objects only while holding that same lock, and only objects no row names, so one
 * that is there now stays: either gc ran before this commit and the push must start over,
 * or it runs after and sees the version.
 */
static int need_object(push_ctx *c, const char *kind, const mvms_oid *id, const char *what)
{
	char key[MVMS_KEY_MAX];
	uint64_t size;
	int error;

	mvms_object_key(key, sizeof(key), kind, id);
	error = mvms_backend_stat(&size, c->st->be, key);
	if (error == MVMS_ENOTFOUND)
		error = push_gone(c, mvms_error_set(MVMS_ECONFLICT, "push: a gc removed %s (%s) while this "
					       "push ran; nothing was committed: push again", key, what));
	return error;
}

/* The chunk list of one file content: header and (chunk id, u64 length) entries; its hash
 * is the file id. Format in docs/formats.md. */
int mvms_push__filemap_encode(mvms_buf *out, const push_file *f)
{
	unsigned char hdr[32], rec[40];
	size_t i;
	int error = 0;

	memcpy(hdr, "MVMSFMAP", 8);
	mvms_le32_put(hdr + 8, 1);
	mvms_le32_put(hdr + 12, 0);
	mvms_le64_put(hdr + 16, f->size);
	mvms_le64_put(hdr + 24, f->nchunks);
	MVMS_TRY(mvms_buf_grow(out, sizeof(hdr) + f->nchunks * sizeof(rec)));
	MVMS_TRY(mvms_buf_put(out, hdr, sizeof(hdr)));
	for (i = 0; i < f->nchunks; i++) {
		memcpy(rec, f->chunks[i].id.id, MVMS_OID_RAWSZ);
		mvms_le64_put(rec + 32, f->chunks[i].len);
		MVMS_TRY(mvms_buf_put(out, rec, sizeof(rec)));
	}
done:
	return error;
}

/* "files/ab/<file id>", so that the database can be rebuilt from the object store.
 * Written even when it is there already: no row names it (the content is new), so it may
 * be an old orphan that a gc is about to remove; written anew it is young, and this
 * push's lease keeps it. */
static int write_filemap(push_ctx *c, const push_file *f)
{
	char key[MVMS_KEY_MAX];
	mvms_backend *be = c->st->be;
	mvms_buf enc = MVMS_BUF_INIT;
	int error = 0;

	mvms_object_key(key, sizeof(key), "files", &f->id);
	MVMS_TRY(mvms_push__filemap_encode(&enc, f));
	error = mvms_backend_put(be, key, enc.ptr, enc.size);
done:
	mvms_buf_dispose(&enc);
	return error;
}

static int insert_content(int64_t *out, push_ctx *c, const push_file *f)
{
	if (!f->abs && !f->chunks) {
		/* A content the caller said the store has (merge, sync): it must still be there,
		 * a gc may have run since it was checked. */
		int error = mvms_contents__row(out, c->st, &f->id);
		if (error == MVMS_ENOTFOUND)
			error = push_gone(c, mvms_error_set(MVMS_ECONFLICT, "push: the content of %s "
						       "vanished (a gc ran meanwhile): push again",
						       f->path));
		return error;
	}
	return push_gone(c, mvms_contents__add(out, c->st, &f->id, f->size, f->chunks, f->nchunks,
						f->st, f->tensor_ids));
}


/* 1 when the files equal those of version @row (same paths, modes and contents). */
static int same_as_version(push_ctx *c, int64_t row, mvms_version_info **head)
{
	mvms_file_info *hf = NULL;
	mvms_tree_entry *a = NULL, *b = NULL;
	size_t nh = 0, i;
	int error = 0;

	MVMS_TRY(mvms_version__load(head, c->st, row));
	MVMS_TRY(mvms_version_files(&hf, &nh, c->st, *head));
	a = calloc(nh + 1, sizeof(*a));
	b = calloc(c->nfiles + 1, sizeof(*b));
	MVMS_CHECK_ALLOC(a, error);
	MVMS_CHECK_ALLOC(b, error);
	for (i = 0; i < nh; i++) {
		a[i].path = hf[i].path;
		a[i].mode = hf[i].mode;
		MVMS_TRY(mvms_oid_parse(&a[i].id, hf[i].id));
	}
	for (i = 0; i < c->nfiles; i++) {
		b[i].path = c->files[i].path;
		b[i].mode = c->files[i].mode;
		b[i].id = c->files[i].id;
	}
	error = mvms_tree_same(a, nh, b, c->nfiles);
done:
	free(a);
	free(b);
	mvms_file_list_free(hf, nh);
	return error;
}

/* Chunk lists are written by this many threads at once: each is a small durable object (a
 * write, an fsync, a rename and the directory's fsync), and concurrent fsyncs share the
 * file system's journal commits, so 10,000 small files no longer cost 20,000 journal
 * commits one after the other (or, remote, 10,000 round trips). Each object is as durable
 * as before when the commit starts. */
#define FILEMAP_WRITERS 16

typedef struct filemap_job {
	push_ctx *c;
	size_t *which;          /* indices into c->files */
	int *errors;
	char (*msgs)[256];
} filemap_job;

static void filemap_one(size_t i, unsigned worker, void *ctx)
{
	filemap_job *j = ctx;

	MVMS_UNUSED(worker);
	j->errors[i] = write_filemap(j->c, &j->c->files[j->which[i]]);
	if (j->errors[i] < 0)
		snprintf(j->msgs[i], sizeof(j->msgs[i]), "%s", mvms_error_last());
}

/* The chunk lists of the new contents: most into list packs (@lists), a large one as its
 * own object, those in parallel; the first failure (in file order). */
static int write_filemaps(push_ctx *c, push_lists *lists)
{
	filemap_job j;
	mvms_pool *pool = NULL;
	int64_t content;
	size_t i, n = 0, npacked = 0, *packed = NULL;
	int error = 0, have, began = 0;

	memset(&j, 0, sizeof(j));
	j.c = c;
	j.which = calloc(c->nfiles + 1, sizeof(*j.which));
	packed = calloc(c->nfiles + 1, sizeof(*packed));
	MVMS_CHECK_ALLOC(j.which, error);
	MVMS_CHECK_ALLOC(packed, error);
	/* One read transaction: no lock taken and released per lookup. */
	MVMS_TRY(mvms_db_read_begin(c->st->db, &began));
	for (i = 0; i < c->nfiles; i++) {
		/* Only with the chunk list in hand (a content said to be here has none). */
		if (!c->files[i].abs && !c->files[i].chunks)
			continue;
		have = mvms_contents__row(&content, c->st, &c->files[i].id);
		if (have == MVMS_ENOTFOUND && mvms_push__list_packable(&c->files[i]))
			packed[npacked++] = i;
		else if (have == MVMS_ENOTFOUND)
			j.which[n++] = i;
		else if (have < 0)
			MVMS_TRY(have);
	}
	mvms_db_read_end(c->st->db, began);
	began = 0;
	mvms_error_clear();
	MVMS_TRY(mvms_push__lists_write(lists, c, packed, npacked));
	if (n == 0)
		goto done;
	j.errors = calloc(n, sizeof(*j.errors));
	j.msgs = calloc(n, sizeof(*j.msgs));
	MVMS_CHECK_ALLOC(j.errors, error);
	MVMS_CHECK_ALLOC(j.msgs, error);
	MVMS_TRY(mvms_pool_new(&pool, n < FILEMAP_WRITERS ? (unsigned)n : FILEMAP_WRITERS));
	mvms_pool_run(pool, n, filemap_one, &j);
	for (i = 0; i < n; i++)
		if (j.errors[i] < 0) {
			error = mvms_error_set(j.errors[i], "%s", j.msgs[i]);
			goto done;
		}
done:
	mvms_db_read_end(c->st->db, began);
	mvms_pool_free(pool);
	free(packed);
	free(j.which);
	free(j.errors);
	free(j.msgs);
	return error;
}

/* Before the transaction: the chunk lists of new contents and the manifest, as objects.
 * *vid is the new version's id. */
static int write_objects(mvms_oid *vid, push_ctx *c, mvms_manifest *m, push_lists *lists)
{
	mvms_buf enc = MVMS_BUF_INIT;
	char key[MVMS_KEY_MAX];
	int error = 0;

	MVMS_TRY(mvms_manifest_sort(m));
	MVMS_TRY(mvms_manifest_encode(&enc, m));
	mvms_oid_hash(vid, enc.ptr, enc.size);
	MVMS_TRY(write_filemaps(c, lists));
	mvms_object_key(key, sizeof(key), "manifests", vid);
	MVMS_TRY(mvms_backend_put(c->st->be, key, enc.ptr, enc.size));
done:
	mvms_buf_dispose(&enc);
	return error;
}

/* In the write transaction: the model (a first push registers it with its first version,
 * so a push that fails registers nothing; losing a race for the name is a conflict), and
 * the branch head the push built on. */
static int check_target(int64_t *model_id, push_ctx *c, const push_spec *ps, mvms_manifest *m)
{
	int64_t head = 0;
	int error = 0;

	if (*model_id == 0) {
		error = mvms_store__model_id(model_id, c->st, ps->model);
		if (error == 0) {
			error = mvms_error_set(MVMS_ECONFLICT,
					       "push: model %s was registered by another push meanwhile; "
					       "nothing was committed: push again", ps->model);
			goto done;
		}
		if (error != MVMS_ENOTFOUND)
			goto done;
		mvms_error_clear();
		MVMS_TRY(mvms_store__model_create(model_id, c->st, ps->model, m->model_uid, NULL));
	}
	error = mvms_refs__branch_head(&head, c->st, *model_id, ps->branch);
	if (error == MVMS_ENOTFOUND) {
		mvms_error_clear();
		error = 0;
	}
	if (error < 0)
		goto done;
	if (head != ps->head)
		error = mvms_error_set(MVMS_ECONFLICT,
				       "push: branch '%s' of %s moved while pushing; nothing was "
				       "committed: push again to build on the new head",
				       ps->branch, ps->model);
done:
	return error;
}

/* In the write transaction: each file's content row (added when new), after the place of
 * its chunk list when a list pack holds it, and files row. */
static int add_files(push_ctx *c, int64_t row, const push_lists *lists)
{
	int64_t content;
	size_t i;
	int error = 0, have;

	MVMS_TRY(mvms_push__lists_check(c, lists));
	for (i = 0; i < c->nfiles; i++) {
		/* A content row that exists now keeps its chunk list from gc; a new one needs it. */
		have = mvms_contents__row(&content, c->st, &c->files[i].id);
		if (have < 0 && have != MVMS_ENOTFOUND) {
			error = have;
			goto done;
		}
		if (have == MVMS_ENOTFOUND && lists->placed && lists->placed[i])
			MVMS_TRY(mvms_clists__add(c->st, &c->files[i].id, &lists->pack[i],
						  lists->off[i]));
		MVMS_TRY(insert_content(&content, c, &c->files[i]));
		if (have == MVMS_ENOTFOUND && !(lists->placed && lists->placed[i]))
			MVMS_TRY(need_object(c, "files", &c->files[i].id, c->files[i].path));
		MVMS_TRY(mvms_commit__add_file(c->st, row, c->files[i].path, c->files[i].mode,
					       content));
	}
done:
	return error;
}

static int commit_version(push_ctx *c, const push_spec *ps, mvms_manifest *m)
{
	mvms_db *db = c->st->db;
	mvms_commit__version v;
	push_lists lists;
	int64_t number = 0, row = 0, model_id = ps->model_id;
	mvms_oid vid;
	size_t i;
	int error = 0, began = 0;
	uint64_t logical = 0;
	unsigned attempt = 0;

	memset(&lists, 0, sizeof(lists));
	for (i = 0; i < c->nfiles; i++)
		logical += c->files[i].size;
	MVMS_TRY(write_objects(&vid, c, m, &lists));
	if (c->st->before_commit)
		c->st->before_commit(c->st, c->st->before_commit_arg);
again:
	MVMS_TRY(mvms_db_begin(db));
	began = 1;
	/* Under the write lock, which gc holds while it removes: what this version needs is
	 * there now, or the push starts over (docs/formats.md, "Garbage collection"). */
	MVMS_TRY(push_gone(c, mvms_lease__check(c->st)));
	MVMS_TRY(need_object(c, "manifests", &vid, "the manifest of the new version"));
	MVMS_TRY(check_target(&model_id, c, ps, m));
	mvms_oid_fmt(c->res->id, &vid);
	memset(&v, 0, sizeof(v));
	v.model_id = model_id;
	v.id = c->res->id;
	v.message = m->message;
	v.author = m->author;
	v.time = m->time;
	v.file_count = c->nfiles;
	v.logical_bytes = logical;
	v.parents = ps->parents;
	v.nparents = ps->nparents;
	v.meta_keys = m->meta_keys;
	v.meta_values = m->meta_values;
	v.meta_count = m->meta_count;
	MVMS_TRY(mvms_commit__add_version(&row, &number, c->st, &v));
	MVMS_TRY(add_files(c, row, &lists));
	/* check_target compared the head in this transaction: the swap cannot fail here. */
	MVMS_TRY(mvms_refs__move_branch(c->st, model_id, ps->branch, ps->head, row));
	MVMS_TRY(mvms_db_commit(db));
	began = 0;
	c->res->created = 1;
	c->res->number = number;
	c->res->logical_bytes = logical;
done:
	if (began)
		mvms_db_rollback(db);
	/* Another server committed first: caught up, the checks run again on its changes. */
	if (began && mvms_log__retry(c->st, error, &attempt)) {
		began = 0;
		error = 0;
		goto again;
	}
	mvms_push__lists_dispose(&lists);
	return error;
}

static int validate_commit(push_ctx *c, const push_spec *ps)
{
	mvms_commit_plan plan;
	mvms_commit_file *cf = calloc(c->nfiles + 1, sizeof(*cf));
	size_t i;
	int error = 0;

	MVMS_CHECK_ALLOC(cf, error);
	for (i = 0; i < c->nfiles; i++) {
		const push_file *f = &c->files[i];
		cf[i].path = f->path;
		cf[i].mode = f->mode;
		cf[i].size = f->size;
		cf[i].id = f->id;
		cf[i].source = f->abs ? MVMS_COMMIT_CHUNKS : MVMS_COMMIT_STORED;
		cf[i].chunks = f->chunks;
		cf[i].nchunks = f->nchunks;
	}
	memset(&plan, 0, sizeof(plan));
	plan.model_id = ps->model_id;
	plan.branch = ps->branch;
	plan.files = cf;
	plan.nfiles = c->nfiles;
	plan.parents = ps->parents;
	plan.nparents = ps->nparents;
	error = mvms_validate_commit(c->st, &plan);
done:
	free(cf);
	return error;
}

/* The manifest of a version made here: model, author, message, time, parents and files
 * (paths borrowed from c->files: the caller clears them before freeing @m). */
static int build_manifest(mvms_manifest *m, push_ctx *c, const push_spec *ps)
{
	mvms_version_info *pv = NULL;
	size_t i;
	int error = 0;

	if (ps->model_id)
		MVMS_TRY(mvms_store__model_uid(m->model_uid, c->st, ps->model_id));
	else
		mvms_store__new_uid(m->model_uid);
	m->model_name = strdup(ps->model);
	m->author = strdup(ps->author ? ps->author : mvms_store__default_author());
	m->message = strdup(ps->message ? ps->message : "");
	MVMS_CHECK_ALLOC(m->model_name, error);
	MVMS_CHECK_ALLOC(m->author, error);
	MVMS_CHECK_ALLOC(m->message, error);
	m->time = ps->time ? ps->time : (int64_t)time(NULL);
	m->parents = calloc(ps->nparents + 1, sizeof(mvms_oid));
	MVMS_CHECK_ALLOC(m->parents, error);
	for (i = 0; i < ps->nparents; i++) {
		MVMS_TRY(mvms_version__load(&pv, c->st, ps->parents[i]));
		error = mvms_oid_parse(&m->parents[i], pv->id);
		mvms_version_info_free(pv);
		pv = NULL;
		if (error < 0)
			goto done;
	}
	m->parent_count = ps->nparents;
	m->files = calloc(c->nfiles + 1, sizeof(*m->files));
	MVMS_CHECK_ALLOC(m->files, error);
	for (i = 0; i < c->nfiles; i++) {
		m->files[i].path = c->files[i].path; /* borrowed */
		m->files[i].mode = c->files[i].mode;
		m->files[i].size = c->files[i].size;
		m->files[i].id = c->files[i].id;
		m->files[i].mtime = c->files[i].mtime;
		m->files[i].mtime_ns = c->files[i].mtime_ns;
	}
	m->file_count = c->nfiles;
done:
	return error;
}

int mvms_push__commit(push_ctx *c, const push_spec *ps, mvms_manifest *m)
{
	mvms_version_info *hv = NULL;
	size_t i;
	int error = 0;

	if (ps->check_identical && ps->head) {
		MVMS_TRY(same_as_version(c, ps->head, &hv));
		if (error == 1) {
			c->res->created = 0;
			c->res->number = hv->number;
			snprintf(c->res->id, sizeof(c->res->id), "%s", hv->id);
			error = 0;
			goto done;
		}
	}
	MVMS_TRY(push_gone(c, validate_commit(c, ps)));
	if (ps->manifest) {
		/* A manifest made elsewhere (a client): commit its exact bytes, so the id the
		 * client computed is the id stored. */
		error = commit_version(c, ps, (mvms_manifest *)ps->manifest);
		goto done;
	}
	error = build_manifest(m, c, ps);
	if (error == 0)
		error = commit_version(c, ps, m);
	for (i = 0; m->files && i < m->file_count; i++)
		m->files[i].path = NULL;
done:
	mvms_version_info_free(hv);
	return error;
}
