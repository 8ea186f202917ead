/* SPDX-License-Identifier: MIT */
/*
 * Push, the pipeline: files (walk.c) -> chunks (FastCDC, cut at tensor boundaries:
 * push_layout.c, each with its tensor's dtype) -> BLAKE2b ids -> dedup against the store ->
 * codec (zstd, or byte planes for float tensors) -> packs, each indexed
 * (packs.c) once durable; then push_commit.c's one SQLite transaction adds the version,
 * its files, parents and the branch move (compare-and-swap). Packs are durable and indexed
 * before that transaction, so a push killed at any point leaves at most unreferenced packs;
 * a re-run finds their chunks and does not write them again.
 * Each byte is read once and hashed once; hashing and compression run on a thread pool
 * over batches of chunks, while the calling thread cuts the next batch. Also the entry
 * points: mvms_push (with its one retry after a gc conflict) and mvms_push__entries.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "history.h"
#include "push_int.h"
#include "hash.h"
#include "packs.h"
#include "tree.h"
#include "transport.h"

/* The uploader's callback: a pack whose upload is done is indexed, and counted. */
static int pack_uploaded(void *arg, const mvms_oid *pid, uint64_t size,
			 const mvms_pack_entry *entries, size_t count)
{
	push_ctx *c = arg;
	int error;

	/* Called on an uploader thread: the push thread uses the same database handle. */
	mvms_push__lock_db(c, 1);
	error = push_gone(c, mvms_packs__index(c->st, pid, size, entries, count));
	mvms_push__lock_db(c, 0);
	if (error == 0) {
		c->res->packs++;
		c->res->new_stored_bytes += size;
	}
	return error;
}

int mvms_push__flush_pack(push_ctx *c)
{
	mvms_pack_writer *w = c->pack;
	const mvms_pack_entry *entries;
	size_t count;
	uint64_t size;
	mvms_oid pid;
	int error = 0;

	if (!w)
		return 0;
	c->pack = NULL;
	if (c->up)
		return mvms_uploader_add(c->up, w, pack_uploaded, c);
	/* Written and made durable while the workers go on; only the index takes the lock
	 * they look chunks up under. */
	MVMS_TRY(mvms_pack_writer_finish(&pid, &size, &entries, &count, w));
	error = pack_uploaded(c, &pid, size, entries, count);
done:
	mvms_pack_writer_free(w);
	return error;
}

static int parse_meta(mvms_manifest *m, const mvms_push_options *o)
{
	size_t i;
	int error = 0;

	m->meta_keys = calloc(o->meta_count + 1, sizeof(char *));
	m->meta_values = calloc(o->meta_count + 1, sizeof(char *));
	MVMS_CHECK_ALLOC(m->meta_keys, error);
	MVMS_CHECK_ALLOC(m->meta_values, error);
	for (i = 0; i < o->meta_count; i++) {
		const char *eq = strchr(o->meta[i], '=');
		if (!eq || eq == o->meta[i]) {
			error = mvms_error_set(MVMS_EINVALID, "push: metadata '%s' is not KEY=VALUE",
					       o->meta[i]);
			goto done;
		}
		m->meta_keys[i] = strndup(o->meta[i], (size_t)(eq - o->meta[i]));
		m->meta_values[i] = strdup(eq + 1);
		m->meta_count = i + 1;
		if (!m->meta_keys[i] || !m->meta_values[i]) {
			error = mvms_error_set(MVMS_ERROR, "out of memory");
			goto done;
		}
	}
done:
	return error;
}

/* Reads and stores the files that are not in the store yet, then commits the version. */
int mvms_push__run(push_ctx *c, const push_spec *ps, mvms_manifest *m)
{
	mvms_store *st = c->st;
	mvms_push_result *out = c->res;
	size_t i;
	int error = 0, leased = 0;
	unsigned w;
	char holder[300];

	/* Before any object is written: gc keeps what is written from now on (lease.c). */
	snprintf(holder, sizeof(holder), "%s %s", ps->stage_only ? "stage" : "push",
		 ps->model ? ps->model : "");
	MVMS_TRY(mvms_lease__hold(&leased, st, holder));
	/* One worker per core: the calling thread reads and packs meanwhile (push_pipe.c). */
	MVMS_TRY(mvms_pool_new(&c->pool, mvms_pool_threads_async()));
	c->codecs = calloc(mvms_pool_size(c->pool), sizeof(*c->codecs));
	MVMS_CHECK_ALLOC(c->codecs, error);
	for (w = 0; w < mvms_pool_size(c->pool); w++)
		MVMS_TRY(mvms_codec_new(&c->codecs[w], st->level));
	MVMS_TRY(mvms_push__delta_start(c, ps));
	/* Full packs are finished (made durable: an upload, or a local fsync that waits for
	 * 64 MiB to reach the disk) by background threads while the pipeline goes on; on a
	 * local disk the fsyncs of a multi-GiB push were the pipeline's longest stalls. */
	MVMS_TRY(mvms_uploader_start(&c->up));
	MVMS_TRY(mvms_push__layouts(c));
	error = mvms_push__store_files(c);
	/* No worker runs from here on: the database handle is this thread's again. */
	mvms_push__pipe_free(c);
	if (error < 0)
		goto done;
	MVMS_TRY(mvms_push__flush_pack(c));
	if (c->up) {
		error = mvms_uploader_harvest(c->up, 1);
		if (error < 0)
			goto done;
	}
	if (c->opts && c->opts->progress)
		c->opts->progress(c->bytes_done, c->bytes_total, c->opts->payload);
	out->files = c->nfiles;
	for (i = 0; i < c->nfiles; i++)
		out->logical_bytes += c->files[i].size;
	if (!ps->stage_only)
		error = mvms_push__commit(c, ps, m);
done:
	if (error < 0 && c->up) {
		/* Uploads still in flight: wait, and index those that completed (see harvest). */
		int saved = mvms_error_last_code();
		char msg[1024];
		snprintf(msg, sizeof(msg), "%s", mvms_error_last());
		mvms_uploader_harvest(c->up, 1);
		mvms_error_set(saved ? saved : error, "%s", msg);
	}
	mvms_lease__drop(st, leased);
	return error;
}

void mvms_push__dispose(push_ctx *c, mvms_manifest *m)
{
	size_t i;
	unsigned w;

	free(m->files);
	free(m->model_name);
	free(m->parents);
	free(m->author);
	free(m->message);
	for (i = 0; i < m->meta_count; i++) {
		free(m->meta_keys[i]);
		free(m->meta_values[i]);
	}
	free(m->meta_keys);
	free(m->meta_values);
	mvms_push__pipe_free(c);
	mvms_pack_writer_free(c->pack);
	mvms_uploader_stop(c->up);
	mvms_push__delta_end(c);
	for (w = 0; c->codecs && w < mvms_pool_size(c->pool); w++)
		mvms_codec_free(c->codecs[w]);
	free(c->codecs);
	mvms_pool_free(c->pool);
	for (i = 0; i < c->nfiles; i++) {
		free(c->files[i].path);
		free(c->files[i].abs);
		free(c->files[i].chunks);
		mvms_tlayout_free(c->files[i].st);
		free(c->files[i].tensor_ids);
	}
	free(c->files);
	mvms_oidset_dispose(&c->pending);
}

static int push_once(mvms_push_result *out, mvms_store *st, const char *model, const char *path,
		     const mvms_push_options *opts)
{
	mvms_push_options defaults = MVMS_PUSH_OPTIONS_INIT;
	push_ctx c;
	push_spec ps;
	mvms_manifest m;
	int64_t model_id = 0, head = 0, base = 0, *parent_rows = NULL;
	size_t nparents = 0, i, j;
	const char *branch;
	double t0 = mvms_now();
	int error = 0;

	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	memset(&m, 0, sizeof(m));
	if (!opts)
		opts = &defaults;
	c.st = st;
	c.opts = opts;
	c.res = out;
	branch = opts->branch ? opts->branch : "main";
	MVMS_TRY(mvms_model_name_check(model));
	MVMS_TRY(mvms_ref_name_check(branch));
	MVMS_TRY(parse_meta(&m, opts));

	/* Where this version attaches: the branch head, or main's head for a new branch. */
	error = mvms_store__model_id(&model_id, st, model);
	if (error == MVMS_ENOTFOUND) {
		/* A new model: the commit registers it together with its first version. */
		model_id = 0;
		error = 0;
	} else if (error == 0) {
		error = mvms_refs__branch_head(&head, st, model_id, branch);
		if (error == MVMS_ENOTFOUND)
			error = mvms_refs__branch_head(&base, st, model_id, "main");
		else
			base = head;
		if (error == MVMS_ENOTFOUND)
			error = 0;
	}
	if (error < 0)
		goto done;
	mvms_error_clear();
	parent_rows = calloc(opts->parent_count + 2, sizeof(*parent_rows));
	MVMS_CHECK_ALLOC(parent_rows, error);
	if (base)
		parent_rows[nparents++] = base;
	for (i = 0; i < opts->parent_count; i++) {
		int64_t row;
		MVMS_TRY(mvms_refs__resolve_row(&row, NULL, st, opts->parents[i]));
		MVMS_TRY(mvms_history__live(st, row));
		for (j = 0; j < nparents && parent_rows[j] != row; j++)
			;
		if (j == nparents)
			parent_rows[nparents++] = row;
	}
	MVMS_TRY(mvms_push__collect(&c, path));

	memset(&ps, 0, sizeof(ps));
	ps.model = model;
	ps.model_id = model_id;
	ps.branch = branch;
	ps.head = head;
	ps.parents = parent_rows;
	ps.nparents = nparents;
	ps.message = opts->message;
	ps.author = opts->author;
	ps.time = opts->time;
	ps.check_identical = mvms_tree_skip_identical(opts);
	error = mvms_push__run(&c, &ps, &m);
done:
	out->seconds = mvms_now() - t0;
	mvms_push__dispose(&c, &m);
	free(parent_rows);
	return error;
}

int mvms_push(mvms_push_result *out, mvms_store *st, const char *model, const char *path,
	      const mvms_push_options *opts)
{
	MVMS_TRANSPORT_CALL(st, push, (out, st, model, path, opts));
	char holder[300];
	int error, leased = 0;

	/* One lease over both tries: what the first one wrote stays for the second. */
	snprintf(holder, sizeof(holder), "push %s", model ? model : "");
	if ((error = mvms_lease__hold(&leased, st, holder)) < 0) {
		memset(out, 0, sizeof(*out));
		return error;
	}
	error = push_once(out, st, model, path, opts);
	if (error == MVMS_ECONFLICT && out->gc_conflict) {
		/* A gc removed something this push reused (or dropped its lease, if it stalled
		 * longer than the lease lives): once more, with a lease that is surely live. */
		mvms_lease__gc_wait(st); /* the gc that took it has seen all its garbage */
		if (leased && mvms_lease__tick(st, 1) < 0) {
			mvms_lease__drop(st, leased);
			if ((error = mvms_lease__hold(&leased, st, holder)) < 0)
				return error;
		}
		error = push_once(out, st, model, path, opts);
		out->retries = 1;
	}
	mvms_lease__drop(st, leased);
	return error;
}

int mvms_push__entries(mvms_push_result *out, mvms_store *st, const mvms_push__request *rq)
{
	const mvms_push__entry *entries = rq->entries;
	push_ctx c;
	push_spec ps;
	mvms_manifest m;
	struct stat sb;
	size_t i;
	double t0 = mvms_now();
	int error = 0;

	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	memset(&m, 0, sizeof(m));
	c.st = st;
	c.res = out;
	memset(&ps, 0, sizeof(ps));
	ps.model = rq->model;
	ps.manifest = rq->manifest;
	error = mvms_store__model_id(&ps.model_id, st, rq->model);
	if (error == MVMS_ENOTFOUND) {
		/* A new model arrives with its first version; the commit registers it. */
		ps.model_id = 0;
		error = 0;
		mvms_error_clear();
	}
	if (error < 0)
		goto done;
	for (i = 0; i < rq->count; i++) {
		memset(&sb, 0, sizeof(sb));
		sb.st_mode = entries[i].mode == 0755 ? 0755 : 0644;
		sb.st_size = (off_t)entries[i].size;
		MVMS_TRY(mvms_push__add_file(&c, entries[i].path, entries[i].abs ? entries[i].abs : "", &sb));
		if (!entries[i].abs) {
			/* Already in the store: nothing to read, the content row exists. */
			free(c.files[c.nfiles - 1].abs);
			c.files[c.nfiles - 1].abs = NULL;
			c.files[c.nfiles - 1].id = entries[i].content;
		} else {
			c.bytes_total += entries[i].size;
		}
	}
	mvms_push__sort_files(&c);
	ps.branch = rq->branch;
	ps.head = rq->expected_head;
	ps.parents = rq->parents;
	ps.nparents = rq->nparents;
	ps.message = rq->message;
	ps.author = rq->author;
	ps.time = rq->when;
	ps.check_identical = rq->check_identical;
	error = mvms_push__run(&c, &ps, &m);
done:
	out->seconds = mvms_now() - t0;
	mvms_push__dispose(&c, &m);
	return error;
}
