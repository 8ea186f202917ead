/* SPDX-License-Identifier: MIT */
/*
 * prune: a retention rule in one step. The live versions of a model (or of one of its
 * branches), newest first: the first keep_last stay, branch heads stay, and (as asked)
 * tagged ones, deployed ones and ones younger than older_than; every other one is deleted
 * through the same tombstone path as 'delete' (ops/history.c), all in one transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "history_int.h"
#include "history.h"
#include "transport.h"

void mvms_prune_result_free(mvms_prune_result *r)
{
	size_t i;

	if (!r)
		return;
	mvms_version_list_free(r->versions, r->count);
	mvms_history__strv_free(r->why, r->count);
	for (i = 0; i < r->moved_count; i++)
		free(r->moved[i].branch);
	free(r->moved);
	free(r);
}

/* Whether candidate @c (the @i-th newest) stays under @o. */
static int kept(const mvms_history__cand *c, size_t i, const mvms_prune_options *o, int64_t now)
{
	if ((int64_t)i < o->keep_last || c->head)
		return 1;
	if ((o->keep_tagged && c->tag) || (o->keep_deployed && c->env))
		return 1;
	return o->older_than > 0 && c->created_at > now - o->older_than;
}

/* Appends the version of row @row and why it went to @r. */
static int record(mvms_prune_result *r, mvms_store *st, const mvms_history__cand *c,
		  const mvms_delete_result *d)
{
	mvms_version_info **v;
	char **w, why[256] = "";
	mvms_branch_moved *m;
	size_t i;

	if (!(v = realloc(r->versions, (r->count + 1) * sizeof(*v))))
		return mvms_error_set(MVMS_ERROR, "out of memory");
	r->versions = v;
	if (!(w = realloc(r->why, (r->count + 1) * sizeof(*w))))
		return mvms_error_set(MVMS_ERROR, "out of memory");
	r->why = w;
	if (c->tag && c->env)
		snprintf(why, sizeof(why), "tag %s, deployment %s", c->tag, c->env);
	else if (c->tag || c->env)
		snprintf(why, sizeof(why), "%s %s", c->tag ? "tag" : "deployment",
			 c->tag ? c->tag : c->env);
	if (!(w[r->count] = strdup(why)))
		return mvms_error_set(MVMS_ERROR, "out of memory");
	if (mvms_version__load(&v[r->count], st, c->row) < 0) {
		free(w[r->count]);
		return MVMS_ERROR;
	}
	r->count++;
	if (d->moved_count) {
		if (!(m = realloc(r->moved, (r->moved_count + d->moved_count) * sizeof(*m))))
			return mvms_error_set(MVMS_ERROR, "out of memory");
		r->moved = m;
		for (i = 0; i < d->moved_count; i++) {
			m[r->moved_count] = d->moved[i];
			if (!(m[r->moved_count].branch = strdup(d->moved[i].branch)))
				return mvms_error_set(MVMS_ERROR, "out of memory");
			r->moved_count++;
		}
	}
	return 0;
}

/* Deletes what @o does not keep, in the caller's transaction. */
static int prune_rows(mvms_prune_result *r, mvms_store *st, int64_t model_id, int64_t head,
		      const mvms_prune_options *o)
{
	mvms_history__cand *c = NULL;
	mvms_delete_result *d = NULL;
	const char *author = o->author && *o->author ? o->author : mvms_store__default_author();
	int64_t now = o->now > 0 ? o->now : (int64_t)time(NULL);
	size_t n = 0, i;
	int error = 0;

	MVMS_TRY(mvms_history__candidates(&c, &n, st, model_id, head));
	for (i = 0; i < n; i++) {
		if (kept(&c[i], i, o, now)) {
			r->kept++;
			continue;
		}
		mvms_delete_result_free(d);
		d = calloc(1, sizeof(*d));
		MVMS_CHECK_ALLOC(d, error);
		MVMS_TRY(mvms_history__delete_row(d, st, c[i].row, author, MVMS_HISTORY_FORCE, now));
		MVMS_TRY(record(r, st, &c[i], d));
	}
done:
	mvms_delete_result_free(d);
	mvms_history__candidates_free(c, n);
	return error;
}

int mvms_prune(mvms_prune_result **out, mvms_store *st, const char *model,
	       const mvms_prune_options *opts)
{
	MVMS_TRANSPORT_CALL(st, prune, (out, st, model, opts));
	mvms_prune_result *r = NULL;
	int64_t model_id, head = 0;
	int error = 0, began = 0;

	*out = NULL;
	if (!opts || opts->version != MVMS_PRUNE_OPTIONS_VERSION)
		return mvms_error_set(MVMS_EINVALID, "prune: options of an unknown version");
	if (opts->keep_last < 0 || opts->older_than < 0)
		return mvms_error_set(MVMS_EINVALID, "prune: --keep-last and --older-than must not "
				      "be negative");
	r = calloc(1, sizeof(*r));
	MVMS_CHECK_ALLOC(r, error);
	MVMS_TRY(mvms_db_begin(st->db));
	began = 1;
	MVMS_TRY(mvms_store__model_id(&model_id, st, model));
	if (opts->branch)
		MVMS_TRY(mvms_refs__branch_head(&head, st, model_id, opts->branch));
	MVMS_TRY(prune_rows(r, st, model_id, head, opts));
	if (opts->dry_run)
		mvms_db_rollback(st->db);
	else
		MVMS_TRY(mvms_db_commit(st->db));
	began = 0;
	*out = r;
	r = NULL;
done:
	if (began)
		mvms_db_rollback(st->db);
	mvms_prune_result_free(r);
	return error;
}
