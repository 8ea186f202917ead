/* SPDX-License-Identifier: MIT */
/*
 * Naming versions: MODEL@REF resolution (full id, vN, tag, branch, environment, latest, id
 * prefix), and the branches and tags that point at versions. A ref never shadows a
 * version: names that read as an id, an id prefix or vN are refused when created, and a
 * REF that more than one reading matches (older stores) is an error naming them all.
 * Branches move by one compare-and-swap (mvms_refs__move_branch), used by push, sync and
 * merge; here too are the explicit create/delete/list commands.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "store_int.h"
#include "transport.h"

/* Shorter hex strings are names, never id prefixes (so "abc" or "123" stay usable). */
#define PREFIX_MIN 4
#define AMBIGUOUS_SHOW 8

static int is_hex(const char *s)
{
	for (; *s; s++)
		if (!isxdigit((unsigned char)*s))
			return 0;
	return 1;
}

/* "v" followed by one or more digits: how MODEL@vN names version numbers. */
static int is_vnum(const char *s)
{
	return s[0] == 'v' && s[1] && strspn(s + 1, "0123456789") == strlen(s + 1);
}

int mvms_ref_name_check(const char *name)
{
	size_t i, n = name ? strlen(name) : 0;

	if (n == 0 || n > 100)
		return mvms_error_set(MVMS_EINVALID, "ref name must be 1 to 100 characters");
	if (name[0] == '-' || name[0] == '.' || name[0] == '/' || name[n - 1] == '/' ||
	    name[n - 1] == '.' || strstr(name, "..") || strstr(name, "//"))
		return mvms_error_set(MVMS_EINVALID, "bad ref name '%s'", name);
	for (i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-' || c == '/'))
			return mvms_error_set(MVMS_EINVALID,
					      "bad ref name '%s': only letters, digits, '.', '_', "
					      "'-' and '/' are allowed", name);
	}
	/* Reserved: these would shadow version numbers, ids and the 'latest' alias. */
	if (strcmp(name, "latest") == 0)
		return mvms_error_set(MVMS_EINVALID, "ref name 'latest' is reserved (the head of main)");
	if (is_vnum(name))
		return mvms_error_set(MVMS_EINVALID,
				      "ref name '%s' is reserved: it reads as a version number", name);
	if (n >= PREFIX_MIN && is_hex(name))
		return mvms_error_set(MVMS_EINVALID,
				      "ref name '%s' could be read as a version id%s: names of %d or "
				      "more hex digits alone are reserved for ids", name,
				      n == MVMS_OID_HEXSZ ? "" : " prefix", PREFIX_MIN);
	return 0;
}

int mvms_refs__branch_head(int64_t *out, mvms_store *st, int64_t model_id, const char *branch)
{
	sqlite3_stmt *s = mvms_db_stmt(st->db, "SELECT version_id FROM branches "
					       "WHERE model_id = ? AND name = ?");
	int error = 0, rc;

	*out = 0;
	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, model_id);
	sqlite3_bind_text(s, 2, branch, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	else if (rc == SQLITE_DONE)
		error = mvms_error_set(MVMS_ENOTFOUND, "branch '%s' not found", branch);
	else
		error = mvms_db_error(st->db, rc, "read branch");
	sqlite3_reset(s);
	return error;
}

/* One statement each way, so the compare and the swap are one step even outside a
 * transaction: an UPDATE guarded by the expected head, or an INSERT that a row already
 * there turns into nothing. */
int mvms_refs__move_branch(mvms_store *st, int64_t model_id, const char *branch,
			   int64_t expected_row, int64_t new_row)
{
	sqlite3_stmt *s = mvms_db_stmt(st->db, expected_row
				       ? "UPDATE branches SET version_id = ?3, updated_at = ?4 "
					 "WHERE model_id = ?1 AND name = ?2 AND version_id = ?5"
				       : "INSERT OR IGNORE INTO branches(model_id, name, version_id, "
					 "updated_at) VALUES (?1, ?2, ?3, ?4)");
	int error = 0;

	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, model_id);
	sqlite3_bind_text(s, 2, branch, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, new_row);
	sqlite3_bind_int64(s, 4, (int64_t)time(NULL));
	if (expected_row)
		sqlite3_bind_int64(s, 5, expected_row);
	MVMS_TRY(mvms_db_step_done(st->db, s, "move branch"));
	if (mvms_db_changes(st->db) != 1)
		error = mvms_error_set(MVMS_ECONFLICT, "branch '%s' moved meanwhile", branch);
done:
	return error;
}

static int lookup_row(int64_t *out, mvms_store *st, const char *sql, int64_t model_id,
		      const char *text, int64_t num)
{
	sqlite3_stmt *s = mvms_db_stmt(st->db, sql);
	int rc, error = MVMS_ENOTFOUND;

	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, model_id);
	if (text)
		sqlite3_bind_text(s, 2, text, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int64(s, 2, num);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int64(s, 0);
		error = 0;
	} else if (rc != SQLITE_DONE) {
		error = mvms_db_error(st->db, rc, "resolve");
	}
	sqlite3_reset(s);
	return error;
}

static int resolve_prefix(int64_t *out, mvms_store *st, int64_t model_id, const char *model,
			  const char *prefix)
{
	static const char q[] =
		"SELECT id, oid, number FROM versions WHERE model_id = ? AND oid >= ? AND oid < ? "
		"ORDER BY number LIMIT 9";
	char lo[MVMS_OID_HEXSZ + 1], hi[MVMS_OID_HEXSZ + 2];
	sqlite3_stmt *s = mvms_db_stmt(st->db, q);
	mvms_buf cands = MVMS_BUF_INIT;
	size_t i, n = 0;
	int error = 0, rc;

	if (!s)
		return MVMS_ERROR;
	for (i = 0; prefix[i] && i < MVMS_OID_HEXSZ; i++)
		lo[i] = (char)tolower((unsigned char)prefix[i]);
	lo[i] = '\0';
	/* Every id with this prefix sorts below prefix + 'g' ('g' follows all hex digits). */
	snprintf(hi, sizeof(hi), "%sg", lo);
	sqlite3_bind_int64(s, 1, model_id);
	sqlite3_bind_text(s, 2, lo, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, hi, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == 0)
			*out = sqlite3_column_int64(s, 0);
		if (n < AMBIGUOUS_SHOW)
			mvms_buf_printf(&cands, "%s%s@v%lld (%.12s)", n ? ", " : "", model,
					(long long)sqlite3_column_int64(s, 2),
					(const char *)sqlite3_column_text(s, 1));
		n++;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		error = mvms_db_error(st->db, rc, "resolve prefix");
	else if (n == 0)
		error = MVMS_ENOTFOUND;
	else if (n > 1)
		error = mvms_error_set(MVMS_EAMBIGUOUS, "%s@%s is ambiguous: %s%s", model, prefix,
				       cands.ptr, n > AMBIGUOUS_SHOW ? ", ..." : "");
	mvms_buf_dispose(&cands);
	return error;
}

/* One reading of a REF that matched: what kind of name it is and the version it gives. */
typedef struct ref_hit {
	const char *kind;
	int64_t row;
	int named;                 /* a tag, branch or environment (not an id or number) */
} ref_hit;

#define HITS_MAX 8

/* Records the outcome @rc of one lookup: MVMS_ENOTFOUND is no hit, other errors stop. */
static int add_hit(ref_hit *hits, size_t *n, int rc, const char *kind, int64_t row, int named)
{
	if (rc == MVMS_ENOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	hits[*n].kind = kind;
	hits[*n].row = row;
	hits[*n].named = named;
	(*n)++;
	return 0;
}

/* The error for a REF that reads as more than one thing: every reading and its version. */
static int ambiguous_error(mvms_store *st, const char *model, const char *ref,
			   const ref_hit *hits, size_t n)
{
	sqlite3_stmt *s = mvms_db_stmt(st->db, "SELECT number, oid FROM versions WHERE id = ?");
	mvms_buf list = MVMS_BUF_INIT;
	size_t i;
	int error;

	for (i = 0; s && i < n; i++) {
		sqlite3_bind_int64(s, 1, hits[i].row);
		if (sqlite3_step(s) == SQLITE_ROW)
			mvms_buf_printf(&list, "%s%s -> %s@v%lld (%.12s)", i ? ", " : "", hits[i].kind,
					model, (long long)sqlite3_column_int64(s, 0),
					(const char *)sqlite3_column_text(s, 1));
		sqlite3_reset(s);
	}
	error = mvms_error_set(MVMS_EAMBIGUOUS,
			       "%s@%s is ambiguous: %s; name the version by number (%s@vN)", model,
			       ref, list.ptr ? list.ptr : "", model);
	mvms_buf_dispose(&list);
	return error;
}

/*
 * Every reading of @ref, in the documented order: full id, vN, tag, branch, environment,
 * latest, id prefix. Names that read as ids or numbers are refused when created, so in a
 * store made by this version at most one reading matches; where more do (a tag and a
 * branch of one name, or an older store's ref named like an id), the ref is an error,
 * never a silent pick.
 */
static int resolve_ref(int64_t *out, mvms_store *st, int64_t model_id, const char *model,
		       const char *ref)
{
	static const char q_number[] = "SELECT id FROM versions WHERE model_id = ? AND number = ?";
	static const char q_tag[] = "SELECT version_id FROM tags WHERE model_id = ? AND name = ?";
	static const char q_branch[] =
		"SELECT version_id FROM branches WHERE model_id = ? AND name = ?";
	/* MODEL@ENV: the environment's primary version (highest weight). */
	static const char q_env[] =
		"SELECT t.version_id FROM deployment_targets t "
		"JOIN versions v ON v.id = t.version_id "
		"WHERE t.model_id = ?1 AND t.env = ?2 AND t.revision = "
		"(SELECT max(revision) FROM deployment_revisions WHERE model_id = ?1 AND env = ?2) "
		"ORDER BY t.weight DESC, v.number DESC LIMIT 1";
	ref_hit hits[HITS_MAX];
	size_t n = 0, i, named = 0, len = strlen(ref);
	int hex = is_hex(ref), error = 0, rc;
	int64_t row = 0;

	if (hex && len == MVMS_OID_HEXSZ) {
		rc = resolve_prefix(&row, st, model_id, model, ref);
		MVMS_TRY(add_hit(hits, &n, rc, "id", row, 0));
	}
	if (is_vnum(ref)) {
		rc = len > 18 ? MVMS_ENOTFOUND
			      : lookup_row(&row, st, q_number, model_id, NULL, strtoll(ref + 1, NULL, 10));
		MVMS_TRY(add_hit(hits, &n, rc, "version number", row, 0));
	}
	rc = lookup_row(&row, st, q_tag, model_id, ref, 0);
	MVMS_TRY(add_hit(hits, &n, rc, "tag", row, 1));
	rc = lookup_row(&row, st, q_branch, model_id, ref, 0);
	MVMS_TRY(add_hit(hits, &n, rc, "branch", row, 1));
	rc = lookup_row(&row, st, q_env, model_id, ref, 0);
	MVMS_TRY(add_hit(hits, &n, rc, "environment", row, 1));
	if (n == 0 && strcmp(ref, "latest") == 0) {
		rc = lookup_row(&row, st, q_branch, model_id, "main", 0);
		MVMS_TRY(add_hit(hits, &n, rc, "latest", row, 0));
	}
	if (hex && len >= PREFIX_MIN && len < MVMS_OID_HEXSZ) {
		rc = resolve_prefix(&row, st, model_id, model, ref);
		MVMS_TRY(add_hit(hits, &n, rc, "id prefix", row, 0));
	}
	if (n == 0) {
		error = MVMS_ENOTFOUND;
		goto done;
	}
	for (i = 0; i < n; i++)
		named += (size_t)hits[i].named;
	for (i = 1; i < n && hits[i].row == hits[0].row; i++)
		;
	/* Two kinds of name are ambiguous even on one version today: a branch moves. */
	if (i < n || named > 1) {
		error = ambiguous_error(st, model, ref, hits, n);
		goto done;
	}
	*out = hits[0].row;
done:
	return error;
}

int mvms_refs__split_spec(char **model, const char **ref, const char *spec)
{
	const char *at = strchr(spec, '@');
	int error = 0;

	*model = at ? strndup(spec, (size_t)(at - spec)) : strdup(spec);
	MVMS_CHECK_ALLOC(*model, error);
	*ref = at ? at + 1 : "latest";
	if (!**ref) {
		error = mvms_error_set(MVMS_EINVALID, "'%s': empty ref after '@'", spec);
		goto done;
	}
	error = mvms_model_name_check(*model);
done:
	if (error < 0) {
		free(*model);
		*model = NULL;
	}
	return error;
}

int mvms_refs__resolve_row(int64_t *row_out, mvms_version_info **info_out, mvms_store *st,
			   const char *spec)
{
	char *model = NULL;
	const char *ref;
	int64_t model_id = 0, row = 0;
	int error = 0;

	if (info_out)
		*info_out = NULL;
	MVMS_TRY(mvms_refs__split_spec(&model, &ref, spec));
	MVMS_TRY(mvms_store__model_id(&model_id, st, model));
	error = resolve_ref(&row, st, model_id, model, ref);
	if (error == MVMS_ENOTFOUND) {
		error = mvms_error_set(MVMS_ENOTFOUND,
				       "%s@%s: no such version, branch, tag, environment or id prefix%s",
				       model, ref,
				       strlen(ref) < PREFIX_MIN && is_hex(ref)
					       ? " (id prefixes need at least 4 hex digits)"
					       : "");
		goto done;
	}
	if (error < 0)
		goto done;
	if (row_out)
		*row_out = row;
	if (info_out)
		MVMS_TRY(mvms_version__load(info_out, st, row));
done:
	free(model);
	return error;
}

int mvms_version_resolve(mvms_version_info **out, mvms_store *st, const char *spec)
{
	MVMS_TRANSPORT_CALL(st, version_resolve, (out, st, spec));
	return mvms_refs__resolve_row(NULL, out, st, spec);
}

static int model_of_row(int64_t *out, mvms_store *st, int64_t row)
{
	return lookup_row(out, st, "SELECT model_id FROM versions WHERE id = ?1 AND ?2 = 0", row,
			  NULL, 0);
}

int mvms_refs__name_free(mvms_store *st, int64_t model_id, const char *name, const char *kind)
{
	static const char *const kinds[] = { "tag", "branch", "environment" };
	static const char *const sql[] = {
		"SELECT version_id FROM tags WHERE model_id = ? AND name = ?",
		"SELECT version_id FROM branches WHERE model_id = ? AND name = ?",
		"SELECT revision FROM deployment_revisions WHERE model_id = ? AND env = ? LIMIT 1",
	};
	int64_t row;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strcmp(kinds[i], kind) == 0)
			continue;
		rc = lookup_row(&row, st, sql[i], model_id, name, 0);
		if (rc == 0)
			return mvms_error_set(MVMS_EEXISTS,
					      "%s '%s' exists already: a %s of the same name would make "
					      "MODEL@%s ambiguous", kinds[i], name, kind, name);
		if (rc != MVMS_ENOTFOUND)
			return rc;
	}
	return 0;
}

/* Adds a tag or branch: @sql inserts (model_id, name, version_id, time) into its table.
 * MVMS_EEXISTS when the name is taken. */
static int ref_insert(mvms_store *st, const char *sql, int64_t model_id, const char *name,
		      int64_t row, const char *what)
{
	sqlite3_stmt *s = mvms_db_stmt(st->db, sql);

	if (!s)
		return MVMS_ERROR;
	sqlite3_bind_int64(s, 1, model_id);
	sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, row);
	sqlite3_bind_int64(s, 4, (int64_t)time(NULL));
	return mvms_db_step_done(st->db, s, what);
}

int mvms_tag_create(mvms_store *st, const char *spec, const char *name)
{
	MVMS_TRANSPORT_CALL(st, tag_create, (st, spec, name));
	int64_t row, model_id;
	int error = 0;

	MVMS_TRY(mvms_ref_name_check(name));
	MVMS_TRY(mvms_refs__resolve_row(&row, NULL, st, spec));
	MVMS_TRY(model_of_row(&model_id, st, row));
	MVMS_TRY(mvms_refs__name_free(st, model_id, name, "tag"));
	error = ref_insert(st, "INSERT INTO tags(model_id, name, version_id, created_at) "
			       "VALUES (?, ?, ?, ?)", model_id, name, row, "create tag");
	if (error == MVMS_EEXISTS)
		error = mvms_error_set(MVMS_EEXISTS, "tag '%s' exists already (tags never move)", name);
done:
	return error;
}

int mvms_branch_create(mvms_store *st, const char *model, const char *name, const char *spec)
{
	MVMS_TRANSPORT_CALL(st, branch_create, (st, model, name, spec));
	int64_t row, model_id, spec_model;
	int error = 0;

	MVMS_TRY(mvms_ref_name_check(name));
	MVMS_TRY(mvms_store__model_id(&model_id, st, model));
	if (spec) {
		MVMS_TRY(mvms_refs__resolve_row(&row, NULL, st, spec));
		MVMS_TRY(model_of_row(&spec_model, st, row));
		if (spec_model != model_id) {
			error = mvms_error_set(MVMS_EINVALID,
					       "branch: %s is a version of another model; push with "
					       "--parent to start a model from it", spec);
			goto done;
		}
	} else {
		MVMS_TRY(mvms_refs__branch_head(&row, st, model_id, "main"));
	}
	MVMS_TRY(mvms_refs__name_free(st, model_id, name, "branch"));
	error = ref_insert(st, "INSERT INTO branches(model_id, name, version_id, updated_at) "
			       "VALUES (?, ?, ?, ?)", model_id, name, row, "create branch");
	if (error == MVMS_EEXISTS)
		error = mvms_error_set(MVMS_EEXISTS, "branch '%s' exists already", name);
done:
	return error;
}

int mvms_branch_delete(mvms_store *st, const char *model, const char *name)
{
	MVMS_TRANSPORT_CALL(st, branch_delete, (st, model, name));
	sqlite3_stmt *s;
	int64_t model_id;
	int error = 0;

	MVMS_TRY(mvms_store__model_id(&model_id, st, model));
	if (strcmp(name, "main") == 0) {
		error = mvms_error_set(MVMS_EINVALID, "branch 'main' cannot be deleted");
		goto done;
	}
	if (!(s = mvms_db_stmt(st->db, "DELETE FROM branches WHERE model_id = ? AND name = ?"))) {
		error = MVMS_ERROR;
		goto done;
	}
	sqlite3_bind_int64(s, 1, model_id);
	sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
	MVMS_TRY(mvms_db_step_done(st->db, s, "delete branch"));
	if (mvms_db_changes(st->db) == 0)
		error = mvms_error_set(MVMS_ENOTFOUND, "branch '%s' not found", name);
done:
	return error;
}

static int ref_list(mvms_ref_info **out, size_t *count, mvms_store *st, const char *model,
		    const char *sql)
{
	mvms_ref_info *list = NULL, *tmp;
	size_t n = 0;
	int64_t model_id;
	sqlite3_stmt *s;
	int error = 0, rc;

	*out = NULL;
	*count = 0;
	MVMS_TRY(mvms_store__model_id(&model_id, st, model));
	if (!(s = mvms_db_stmt(st->db, sql))) {
		error = MVMS_ERROR;
		goto done;
	}
	sqlite3_bind_int64(s, 1, model_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		tmp = realloc(list, (n + 1) * sizeof(*list));
		if (!tmp) {
			error = mvms_error_set(MVMS_ERROR, "out of memory");
			break;
		}
		list = tmp;
		list[n].name = mvms_db_column_strdup(s, 0);
		list[n].number = sqlite3_column_int64(s, 1);
		snprintf(list[n].id, sizeof(list[n].id), "%s", (const char *)sqlite3_column_text(s, 2));
		list[n].updated_at = sqlite3_column_int64(s, 3);
		n++;
	}
	sqlite3_reset(s);
	if (error == 0 && rc != SQLITE_DONE)
		error = mvms_db_error(st->db, rc, "list refs");
	if (error < 0)
		goto done;
	*out = list;
	*count = n;
	list = NULL;
done:
	mvms_ref_list_free(list, n);
	return error;
}

int mvms_tag_list(mvms_ref_info **out, size_t *count, mvms_store *st, const char *model)
{
	MVMS_TRANSPORT_CALL(st, tag_list, (out, count, st, model));
	return ref_list(out, count, st, model,
			"SELECT t.name, v.number, v.oid, t.created_at FROM tags t "
			"JOIN versions v ON v.id = t.version_id WHERE t.model_id = ? ORDER BY t.name");
}

int mvms_branch_list(mvms_ref_info **out, size_t *count, mvms_store *st, const char *model)
{
	MVMS_TRANSPORT_CALL(st, branch_list, (out, count, st, model));
	return ref_list(out, count, st, model,
			"SELECT b.name, v.number, v.oid, b.updated_at FROM branches b "
			"JOIN versions v ON v.id = b.version_id WHERE b.model_id = ? ORDER BY b.name");
}

void mvms_ref_list_free(mvms_ref_info *refs, size_t count)
{
	size_t i;

	if (!refs)
		return;
	for (i = 0; i < count; i++)
		free(refs[i].name);
	free(refs);
}
