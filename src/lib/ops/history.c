/* SPDX-License-Identifier: MIT */
/*
 * Editing history: deleting versions as tombstones (branches that pointed at one move to
 * its first live ancestor), moving branches by compare-and-swap, renaming and deleting
 * branches, the default branch, deleting tags and models. Each runs in one write
 * transaction; the SQL is meta/history.c and meta/refs.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "history_int.h"
#include "history.h"
#include "mvms/gc.h"
#include "transport.h"

void mvms_delete_result_free(mvms_delete_result *r)
{
	size_t i;

	if (!r)
		return;
	free(r->model);
	free(r->deleted_by);
	for (i = 0; i < r->moved_count; i++)
		free(r->moved[i].branch);
	free(r->moved);
	mvms_history__strv_free(r->held, r->held_count);
	free(r);
}

/* "tag a, deployment prod" */
static void join(char *buf, size_t n, char **v, size_t count)
{
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < count && used < n; i++)
		used += (size_t)snprintf(buf + used, n - used, "%s%s", i ? ", " : "", v[i]);
}

/* Moves each branch in @names (at @row) to @to, recording it in @r. */
static int move_branches(mvms_delete_result *r, mvms_store *st, int64_t model_id, int64_t row,
			 int64_t to, char **names, size_t n)
{
	mvms_version_info *tv = NULL;
	mvms_branch_moved *m;
	size_t i;
	int error = 0;

	if (n == 0)
		return 0;
	MVMS_TRY(mvms_version__load(&tv, st, to));
	m = realloc(r->moved, (r->moved_count + n) * sizeof(*m));
	MVMS_CHECK_ALLOC(m, error);
	r->moved = m;
	for (i = 0; i < n; i++) {
		MVMS_TRY(mvms_refs__move_branch(st, model_id, names[i], row, to));
		m = &r->moved[r->moved_count];
		memset(m, 0, sizeof(*m));
		m->branch = strdup(names[i]);
		MVMS_CHECK_ALLOC(m->branch, error);
		m->number = tv->number;
		snprintf(m->id, sizeof(m->id), "%s", tv->id);
		r->moved_count++;
	}
done:
	mvms_version_info_free(tv);
	return error;
}

int mvms_history__delete_row(mvms_delete_result *r, mvms_store *st, int64_t row,
			     const char *author, unsigned flags, int64_t now)
{
	mvms_version_info *v = NULL;
	char **branches = NULL, what[512];
	size_t nb = 0;
	int64_t to = 0, model_id;
	int error = 0;

	MVMS_TRY(mvms_version__load(&v, st, row));
	MVMS_TRY(mvms_history__live(st, row));
	MVMS_TRY(mvms_version__model(&model_id, st, row));
	r->model = strdup(v->model);
	r->deleted_by = strdup(author);
	MVMS_CHECK_ALLOC(r->model && r->deleted_by ? r : NULL, error);
	r->number = v->number;
	r->deleted_at = now;
	snprintf(r->id, sizeof(r->id), "%s", v->id);
	MVMS_TRY(mvms_history__holders(&r->held, &r->held_count, st, row));
	if (r->held_count && !(flags & MVMS_HISTORY_FORCE)) {
		join(what, sizeof(what), r->held, r->held_count);
		error = mvms_error_set(MVMS_ECONFLICT, "delete: %s@v%lld is held by %s: delete or move "
				       "that first, or use --force", v->model, (long long)v->number,
				       what);
		goto done;
	}
	MVMS_TRY(mvms_history__branches_at(&branches, &nb, st, row));
	if (nb) {
		join(what, sizeof(what), branches, nb);
		if (flags & MVMS_HISTORY_NO_MOVE) {
			error = mvms_error_set(MVMS_ECONFLICT, "delete: branch%s %s point%s at %s@v%lld "
					       "(--no-move: not moved)", nb == 1 ? "" : "es", what,
					       nb == 1 ? "s" : "", v->model, (long long)v->number);
			goto done;
		}
		MVMS_TRY(mvms_history__live_ancestor(&to, st, row));
		if (!to) {
			error = mvms_error_set(MVMS_ECONFLICT, "delete: %s@v%lld has no live ancestor in "
					       "%s for branch%s %s to move to: delete the branch first "
					       "(branch -d --force)", v->model, (long long)v->number,
					       v->model, nb == 1 ? "" : "es", what);
			goto done;
		}
		MVMS_TRY(move_branches(r, st, model_id, row, to, branches, nb));
	}
	MVMS_TRY(mvms_history__tombstone(st, row, author, now));
done:
	mvms_history__strv_free(branches, nb);
	mvms_version_info_free(v);
	return error;
}

int mvms_version_delete_ex(mvms_delete_result **out, mvms_store *st, const char *spec,
			   const char *author, unsigned flags)
{
	MVMS_TRANSPORT_CALL(st, version_delete_ex, (out, st, spec, author, flags));
	mvms_delete_result *r = NULL;
	int64_t row;
	int error = 0, began = 0;

	if (out)
		*out = NULL;
	r = calloc(1, sizeof(*r));
	MVMS_CHECK_ALLOC(r, error);
	MVMS_TRY(mvms_db_begin(st->db));
	began = 1;
	MVMS_TRY(mvms_refs__resolve_row(&row, NULL, st, spec));
	MVMS_TRY(mvms_history__delete_row(r, st, row, author && *author ? author
					  : mvms_store__default_author(), flags, (int64_t)time(NULL)));
	if (flags & MVMS_HISTORY_DRY_RUN) {
		mvms_db_rollback(st->db);
	} else {
		MVMS_TRY(mvms_db_commit(st->db));
	}
	began = 0;
	if (out) {
		*out = r;
		r = NULL;
	}
done:
	if (began)
		mvms_db_rollback(st->db);
	mvms_delete_result_free(r);
	return error;
}

int mvms_version_delete(mvms_store *st, const char *spec)
{
	return mvms_version_delete_ex(NULL, st, spec, NULL, 0);
}

/* Runs @fn in a write transaction on model @model's id. */
typedef int (*model_fn)(mvms_store *st, int64_t model_id, const void *arg);

static int in_tx(mvms_store *st, const char *model, model_fn fn, const void *arg)
{
	int64_t model_id;
	int error = 0, began = 0;

	MVMS_TRY(mvms_db_begin(st->db));
	began = 1;
	MVMS_TRY(mvms_store__model_id(&model_id, st, model));
	MVMS_TRY(fn(st, model_id, arg));
	MVMS_TRY(mvms_db_commit(st->db));
	began = 0;
done:
	if (began)
		mvms_db_rollback(st->db);
	return error;
}

typedef struct move_args {
	const char *model, *name, *to, *expect;
} move_args;

/* The row of @spec, which must be a live version of @model_id ("MODEL@REF" or "REF"). */
static int version_of(int64_t *row, mvms_store *st, int64_t model_id, const char *model,
		      const char *spec, const char *what)
{
	char *full = NULL;
	int64_t vm;
	int error = 0;

	if (!strchr(spec, '@') && asprintf(&full, "%s@%s", model, spec) < 0)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	MVMS_TRY(mvms_refs__resolve_row(row, NULL, st, full ? full : spec));
	MVMS_TRY(mvms_version__model(&vm, st, *row));
	if (vm != model_id) {
		error = mvms_error_set(MVMS_EINVALID, "%s: %s is not a version of %s", what, spec, model);
		goto done;
	}
done:
	free(full);
	return error;
}

static int do_move(mvms_store *st, int64_t model_id, const void *arg)
{
	const move_args *a = arg;
	int64_t to, want = 0, head = 0;
	int error = 0, rc;

	MVMS_TRY(mvms_ref_name_check(a->name));
	MVMS_TRY(version_of(&to, st, model_id, a->model, a->to, "branch -f"));
	MVMS_TRY(mvms_history__live(st, to));
	if (a->expect)
		MVMS_TRY(version_of(&want, st, model_id, a->model, a->expect, "branch --expect"));
	rc = mvms_refs__branch_head(&head, st, model_id, a->name);
	if (rc == MVMS_ENOTFOUND) {
		mvms_error_clear();
		if (want) {
			error = mvms_error_set(MVMS_ECONFLICT, "branch '%s' is not at %s: it does not "
					       "exist", a->name, a->expect);
			goto done;
		}
		MVMS_TRY(mvms_refs__name_free(st, model_id, a->name, "branch"));
	} else if (rc < 0) {
		error = rc;
		goto done;
	} else if (want && head != want) {
		error = mvms_error_set(MVMS_ECONFLICT, "branch '%s' is not at %s: it moved; nothing "
				       "changed", a->name, a->expect);
		goto done;
	}
	MVMS_TRY(mvms_refs__move_branch(st, model_id, a->name, head, to));
done:
	return error;
}

int mvms_branch_move(mvms_store *st, const char *model, const char *name, const char *to,
		     const char *expect)
{
	MVMS_TRANSPORT_CALL(st, branch_move, (st, model, name, to, expect));
	move_args a = { model, name, to, expect };

	return in_tx(st, model, do_move, &a);
}

typedef struct remove_args {
	const char *name;
	unsigned flags;
} remove_args;

static int do_remove(mvms_store *st, int64_t model_id, const void *arg)
{
	const remove_args *a = arg;
	char *def = NULL;
	int64_t n;
	int error = 0;

	MVMS_TRY(mvms_history__default_branch(&def, st, model_id));
	if (strcmp(def, a->name) == 0 && !(a->flags & MVMS_HISTORY_FORCE)) {
		MVMS_TRY(mvms_history__branch_count(&n, st, model_id));
		if (n > 1) {
			error = mvms_error_set(MVMS_EINVALID, "branch '%s' is the default branch: it "
					       "cannot be deleted (make another the default with "
					       "'branch --default MODEL OTHER', or use --force)", a->name);
			goto done;
		}
	}
	MVMS_TRY(mvms_history__branch_drop(st, model_id, a->name));
	/* With the default gone, MODEL@latest names main again (a push to main makes it). */
	if (strcmp(def, a->name) == 0)
		MVMS_TRY(mvms_history__set_default(st, model_id, "main"));
done:
	free(def);
	return error;
}

int mvms_branch_remove(mvms_store *st, const char *model, const char *name, unsigned flags)
{
	MVMS_TRANSPORT_CALL(st, branch_remove, (st, model, name, flags));
	remove_args a = { name, flags };

	return in_tx(st, model, do_remove, &a);
}

int mvms_branch_delete(mvms_store *st, const char *model, const char *name)
{
	return mvms_branch_remove(st, model, name, 0);
}

static int do_rename(mvms_store *st, int64_t model_id, const void *arg)
{
	const char *const *names = arg;
	int64_t head;
	int error = 0;

	MVMS_TRY(mvms_ref_name_check(names[1]));
	MVMS_TRY(mvms_refs__branch_head(&head, st, model_id, names[0]));
	if (strcmp(names[0], names[1]) == 0)
		goto done;
	if (mvms_refs__branch_head(&head, st, model_id, names[1]) == 0) {
		error = mvms_error_set(MVMS_EEXISTS, "branch '%s' exists already", names[1]);
		goto done;
	}
	mvms_error_clear();
	MVMS_TRY(mvms_refs__name_free(st, model_id, names[1], "branch"));
	MVMS_TRY(mvms_history__branch_rename(st, model_id, names[0], names[1]));
done:
	return error;
}

int mvms_branch_rename(mvms_store *st, const char *model, const char *old_name,
		       const char *new_name)
{
	MVMS_TRANSPORT_CALL(st, branch_rename, (st, model, old_name, new_name));
	const char *names[2] = { old_name, new_name };

	return in_tx(st, model, do_rename, names);
}

static int do_default(mvms_store *st, int64_t model_id, const void *arg)
{
	int64_t head;
	int error = 0;

	MVMS_TRY(mvms_refs__branch_head(&head, st, model_id, arg));
	MVMS_TRY(mvms_history__set_default(st, model_id, arg));
done:
	return error;
}

int mvms_branch_set_default(mvms_store *st, const char *model, const char *name)
{
	MVMS_TRANSPORT_CALL(st, branch_set_default, (st, model, name));
	return in_tx(st, model, do_default, name);
}

int mvms_branch_get_default(char **out, mvms_store *st, const char *model)
{
	MVMS_TRANSPORT_CALL(st, branch_get_default, (out, st, model));
	int64_t model_id;
	int error = 0;

	*out = NULL;
	MVMS_TRY(mvms_store__model_id(&model_id, st, model));
	MVMS_TRY(mvms_history__default_branch(out, st, model_id));
done:
	return error;
}

static int do_tag_delete(mvms_store *st, int64_t model_id, const void *arg)
{
	return mvms_history__tag_drop(st, model_id, arg);
}

int mvms_tag_delete(mvms_store *st, const char *model, const char *name)
{
	MVMS_TRANSPORT_CALL(st, tag_delete, (st, model, name));
	return in_tx(st, model, do_tag_delete, name);
}

typedef struct model_args {
	const char *model;
	mvms_model_delete_result *out;
	unsigned flags;
} model_args;

static int do_model_delete(mvms_store *st, int64_t model_id, const void *arg)
{
	const model_args *a = arg;
	int64_t nv, nm;
	int error = 0;

	MVMS_TRY(mvms_history__model_counts(a->out, st, model_id));
	MVMS_TRY(mvms_history__model_dependents(&nv, &nm, st, model_id));
	if (nv) {
		/* Not which ones: a server's caller may not be allowed to see those models. */
		error = mvms_error_set(MVMS_ECONFLICT, "model delete: %lld version%s of %lld other "
				       "model%s %s made from versions of %s: delete those first ('mvms-store "
				       "lineage %s@vN --descendants' shows them)", (long long)nv,
				       nv == 1 ? "" : "s", (long long)nm, nm == 1 ? "" : "s",
				       nv == 1 ? "was" : "were", a->model, a->model);
		goto done;
	}
	if (!(a->flags & MVMS_HISTORY_DRY_RUN))
		MVMS_TRY(mvms_history__model_drop(st, model_id));
done:
	return error;
}

int mvms_model_delete(mvms_model_delete_result *out, mvms_store *st, const char *model,
		      unsigned flags)
{
	MVMS_TRANSPORT_CALL(st, model_delete, (out, st, model, flags));
	model_args a = { model, out, flags };

	memset(out, 0, sizeof(*out));
	if (mvms_model_name_check(model) < 0)
		return MVMS_EINVALID;
	return in_tx(st, model, do_model_delete, &a);
}
