/* SPDX-License-Identifier: MIT */
/*
 * Read-side REST handlers (and the small writes that go with them): models, versions and
 * their manifests, diff, lineage, merge-base, branches and tags. JSON shapes follow the
 * CLI's --json output so that a remote client prints what a local one does. Only libmvms
 * is called; the push/pull protocol and uploads live in h_sync.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/buffer.h>
#include "server.h"
#include "views.h"

/* ---- small helpers ---- */

static const char *nz(const char *s)
{
	return s ? s : "";
}

static cJSON *ref_json(const char *model, const mvms_ref_info *ref)
{
	cJSON *o = cJSON_CreateObject();
	char tbuf[32];

	cJSON_AddStringToObject(o, "model", model);
	cJSON_AddStringToObject(o, "name", nz(ref->name));
	cJSON_AddNumberToObject(o, "version", (double)ref->number);
	cJSON_AddStringToObject(o, "id", ref->id);
	cJSON_AddStringToObject(o, "updated_at", view_time(tbuf, sizeof(tbuf), ref->updated_at));
	return o;
}

/* A required, non-empty query parameter; NULL after replying 400. */
static const char *need_query(srv_req *r, const char *key)
{
	const char *v = srv_query(r, key);

	if (!v || !*v) {
		srv_reply_error(r, 400, "bad_query", "the query parameter '%s' is required", key);
		return NULL;
	}
	return v;
}

/* A boolean query parameter (absent: 0). 0/1 in *out, or -1 after replying 400. */
static int bool_query(int *out, srv_req *r, const char *key)
{
	const char *v = srv_query(r, key);

	*out = 0;
	if (!v)
		return 0;
	if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes") || !*v)
		*out = 1;
	else if (strcmp(v, "0") && strcmp(v, "false") && strcmp(v, "no"))
		return srv_reply_error(r, 400, "bad_query",
				       "the query parameter '%s' is 0, 1, true or false, not '%s'", key,
				       v), -1;
	return 0;
}

/* A non-negative integer query parameter up to @max (absent: @def). -1 after replying. */
static int int_query(long *out, srv_req *r, const char *key, long def, long min, long max)
{
	const char *v = srv_query(r, key);
	char *end;
	long n;

	*out = def;
	if (!v)
		return 0;
	errno = 0;
	n = strtol(v, &end, 10);
	if (!*v || *end || errno || n < min || n > max)
		return srv_reply_error(r, 400, "bad_query",
				       "the query parameter '%s' wants an integer from %ld to %ld, not '%s'",
				       key, min, max, v), -1;
	*out = n;
	return 0;
}

/*
 * Builds the version spec for @ref given in the context of model @model: a plain ref
 * ("v3", "main", "a1b2c3") means @model@ref; a full "other@ref" is used as is after
 * checking that the caller may read @other. NULL after replying (400/403/500).
 */
static char *spec_for(srv_req *r, const char *model, const char *ref, const char *what)
{
	const char *at = strchr(ref, '@');
	char *spec = NULL, *other;

	if (!*ref) {
		srv_reply_error(r, 400, "bad_ref", "%s: empty ref", what);
		return NULL;
	}
	if (!at) {
		if (asprintf(&spec, "%s@%s", model, ref) < 0)
			spec = NULL;
	} else {
		if (at == ref || !at[1]) {
			srv_reply_error(r, 400, "bad_ref", "%s: '%s' is not MODEL@REF", what, ref);
			return NULL;
		}
		other = strndup(ref, (size_t)(at - ref));
		if (other && strcmp(other, model) != 0 && srv_require(r, SRV_SCOPE_READ, other) < 0) {
			free(other);
			return NULL;
		}
		free(other);
		spec = other ? strdup(ref) : NULL;
	}
	if (!spec)
		srv_reply_error(r, 500, "error", "out of memory");
	return spec;
}

/*
 * Checks a JSON body: only the @allowed fields, each a string (or null / absent when not
 * required). Fills @out[i] with the fields' values (NULL when absent or null). 0, or -1
 * after replying 400.
 */
static int check_strings(srv_req *r, const cJSON *doc, const char *const *allowed,
			 const int *required, const char **out, size_t n)
{
	const cJSON *it;
	size_t i;

	cJSON_ArrayForEach(it, doc) {
		for (i = 0; i < n; i++)
			if (it->string && !strcmp(it->string, allowed[i]))
				break;
		if (i == n)
			return srv_reply_error(r, 400, "bad_field", "unknown field '%s'",
					       it->string ? it->string : ""), -1;
	}
	for (i = 0; i < n; i++) {
		it = cJSON_GetObjectItemCaseSensitive(doc, allowed[i]);
		out[i] = NULL;
		if (!it || cJSON_IsNull(it)) {
			if (required[i])
				return srv_reply_error(r, 400, "bad_field",
						       "the field '%s' is required", allowed[i]), -1;
			continue;
		}
		if (!cJSON_IsString(it) || !it->valuestring)
			return srv_reply_error(r, 400, "bad_field", "the field '%s' must be a string",
					       allowed[i]), -1;
		if (required[i] && !*it->valuestring)
			return srv_reply_error(r, 400, "bad_field", "the field '%s' must not be empty",
					       allowed[i]), -1;
		out[i] = it->valuestring;
	}
	return 0;
}

/*
 * The request body as a JSON object of string fields (check_strings); @out[i] borrows from
 * the document. NULL after replying 400/413; free with cJSON_Delete.
 */
static cJSON *body_strings(srv_req *r, const char *const *allowed, const int *required,
			   const char **out, size_t n)
{
	cJSON *doc = srv_body_json(r);

	if (doc && check_strings(r, doc, allowed, required, out, n) < 0) {
		cJSON_Delete(doc);
		doc = NULL;
	}
	return doc;
}

/*
 * The version spec for the {ref} capture, a ref of the model in the path ('@' refused).
 * NULL after replying (400/403/500).
 */
static char *path_spec(srv_req *r)
{
	if (strchr(r->caps[1], '@')) {
		srv_reply_error(r, 400, "bad_ref", "the ref in the path may not contain '@'");
		return NULL;
	}
	return spec_for(r, r->caps[0], r->caps[1], "ref");
}

/* ---- models ---- */

int srv_models_list(srv_req *r)
{
	mvms_model_info *list = NULL;
	size_t n = 0, i;
	cJSON *doc, *arr;
	int error;

	if ((error = mvms_model_list(&list, &n, r->st)) < 0)
		return error;
	doc = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(doc, "models");
	for (i = 0; i < n; i++) {
		/* A token limited to some models sees only those. */
		if (!srv_authz_covers(r, list[i].name))
			continue;
		cJSON_AddItemToArray(arr, view_model(&list[i]));
	}
	mvms_model_list_free(list, n);
	srv_reply_json(r, 200, doc);
	return 0;
}

int srv_models_create(srv_req *r)
{
	static const char *const fields[] = { "name", "description" };
	static const int required[] = { 1, 0 };
	const char *v[2];
	mvms_model_info *m = NULL;
	cJSON *doc;
	int error = 0;

	if (!(doc = body_strings(r, fields, required, v, 2)))
		return 0;
	if ((error = mvms_model_name_check(v[0])) < 0)
		goto done;
	/* The route has no model capture: check the token's model glob here. */
	if (srv_require(r, SRV_SCOPE_WRITE, v[0]) < 0)
		goto done;
	if ((error = mvms_model_register(r->st, v[0], v[1])) < 0 ||
	    (error = mvms_model_get(&m, r->st, v[0])) < 0)
		goto done;
	srv_reply_json(r, 201, view_model(m));
done:
	mvms_model_info_free(m);
	cJSON_Delete(doc);
	return error;
}

int srv_model_get(srv_req *r)
{
	mvms_model_info *m = NULL;
	int error;

	if ((error = mvms_model_get(&m, r->st, r->caps[0])) < 0)
		return error;
	srv_reply_json(r, 200, view_model(m));
	mvms_model_info_free(m);
	return 0;
}

/* ---- versions ---- */

int srv_versions_list(srv_req *r)
{
	mvms_version_info **list = NULL;
	size_t n = 0, i;
	const char *branch = srv_query(r, "branch");
	long limit;
	cJSON *doc, *arr;
	int error;

	if (branch && !*branch)
		return srv_reply_error(r, 400, "bad_query", "the query parameter 'branch' is empty");
	if (int_query(&limit, r, "limit", 0, 1, 1000000000L) < 0)
		return 0;
	if ((error = mvms_version_log(&list, &n, r->st, r->caps[0], branch)) < 0)
		return error;
	doc = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(doc, "versions");
	/* With ?branch= the walk crosses into the models the branch came from. */
	srv_authz_redact_log(r, list, &n);
	for (i = 0; i < n && (limit == 0 || i < (size_t)limit); i++)
		cJSON_AddItemToArray(arr, view_version(list[i]));
	mvms_version_list_free(list, n);
	srv_reply_json(r, 200, doc);
	return 0;
}

int srv_version_get(srv_req *r)
{
	mvms_version_info *v = NULL;
	mvms_file_info *files = NULL;
	size_t n = 0;
	char *spec;
	cJSON *doc;
	int error;

	if (!(spec = path_spec(r)))
		return 0;
	if ((error = mvms_version_resolve(&v, r->st, spec)) < 0 ||
	    (error = mvms_version_files(&files, &n, r->st, v)) < 0)
		goto done;
	/* As `mvms-store show --json`: the version object ("files" is its file count) plus
	 * "file_list", the manifest. Parents of uncovered models are stubs. */
	srv_authz_redact_version(r, v);
	doc = view_version(v);
	cJSON_AddItemToObject(doc, "file_list", view_file_list(files, n));
	evhttp_add_header(evhttp_request_get_output_headers(r->req), "X-Mvms-Version-Id", v->id);
	srv_reply_json(r, 200, doc);
done:
	mvms_file_list_free(files, n);
	mvms_version_info_free(v);
	free(spec);
	return error;
}

/* ---- diff ---- */

/* The same document as `mvms-store diff --json` (cmd_diff.c diff_json). */
int srv_diff(srv_req *r)
{
	const char *from, *to;
	char *a = NULL, *b = NULL;
	mvms_diff *d = NULL;
	int tensors, error = 0;

	if (!(from = need_query(r, "from")) || !(to = need_query(r, "to")) ||
	    bool_query(&tensors, r, "tensors") < 0)
		return 0;
	if (!(a = spec_for(r, r->caps[0], from, "from")) || !(b = spec_for(r, r->caps[0], to, "to")))
		goto done;
	if ((error = mvms_diff_get(&d, r->st, a, b, tensors ? MVMS_DIFF_TENSORS : 0)) < 0)
		goto done;
	srv_authz_redact_version(r, d->from);
	srv_authz_redact_version(r, d->to);
	srv_reply_json(r, 200, view_diff(d, tensors));
done:
	mvms_diff_free(d);
	free(a);
	free(b);
	return error;
}

/* ---- lineage ---- */

int srv_lineage(srv_req *r)
{
	const char *dir = srv_query(r, "direction"), *format = srv_query(r, "format");
	int direction = MVMS_LINEAGE_ANCESTORS, error = 0;
	mvms_lineage *l = NULL;
	char *spec = NULL;
	long depth;

	if (dir && !strcmp(dir, "ancestors"))
		direction = MVMS_LINEAGE_ANCESTORS;
	else if (dir && !strcmp(dir, "descendants"))
		direction = MVMS_LINEAGE_DESCENDANTS;
	else if (dir && !strcmp(dir, "both"))
		direction = MVMS_LINEAGE_BOTH;
	else if (dir)
		return srv_reply_error(r, 400, "bad_query",
				       "direction is ancestors, descendants or both, not '%s'", dir);
	if (!format)
		format = "json";
	if (strcmp(format, "json") && strcmp(format, "dot") && strcmp(format, "mermaid") &&
	    strcmp(format, "text"))
		return srv_reply_error(r, 400, "bad_query",
				       "format is json, dot, mermaid or text, not '%s'", format);
	/* Absent: unlimited (-1), as the CLI without --depth. */
	if (int_query(&depth, r, "depth", -1, 0, 1000000000L) < 0)
		return 0;
	if (!(spec = path_spec(r)))
		return 0;
	if ((error = mvms_lineage_get(&l, r->st, spec, direction, (int)depth)) < 0)
		goto done;
	srv_authz_redact_lineage(r, l);
	if (!strcmp(format, "json")) {
		srv_reply_json(r, 200, view_lineage(l));
		goto done;
	}
	/* The text forms are the CLI's, rendered into memory. */
	{
		char *text = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&text, &len);
		if (!f) {
			srv_reply_error(r, 500, "error", "out of memory");
			goto done;
		}
		if (!strcmp(format, "dot"))
			view_lineage_dot(f, l);
		else if (!strcmp(format, "mermaid"))
			view_lineage_mermaid(f, l);
		else
			view_lineage_text(f, l);
		fclose(f);
		srv_reply_bytes(r, 200, !strcmp(format, "dot") ? "text/vnd.graphviz; charset=utf-8"
							 : "text/plain; charset=utf-8",
				text, len);
		free(text);
	}
done:
	mvms_lineage_free(l);
	free(spec);
	return error;
}

int srv_merge_base(srv_req *r)
{
	mvms_version_info **list = NULL;
	size_t n = 0, i;
	const char *qa, *qb;
	char *a = NULL, *b = NULL;
	cJSON *doc, *arr;
	int error = 0;

	if (!(qa = need_query(r, "a")) || !(qb = need_query(r, "b")))
		return 0;
	if (!(a = spec_for(r, r->caps[0], qa, "a")) || !(b = spec_for(r, r->caps[0], qb, "b")))
		goto done;
	if ((error = mvms_merge_base(&list, &n, r->st, a, b)) < 0)
		goto done;
	/* No shared history is an answer, not an error: an empty list. */
	doc = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(doc, "merge_bases");
	for (i = 0; i < n; i++) {
		/* Two covered versions may share an ancestor of a model the token does not cover:
		 * a stub without even its id, which nothing the caller reads names. */
		srv_authz_redact_unseen(r, list[i]);
		cJSON_AddItemToArray(arr, view_version(list[i]));
	}
	srv_reply_json(r, 200, doc);
done:
	mvms_version_list_free(list, n);
	free(a);
	free(b);
	return error;
}

/* ---- branches and tags ---- */

static int refs_list(srv_req *r, int tags)
{
	mvms_ref_info *list = NULL;
	size_t n = 0, i;
	cJSON *doc, *arr;
	int error;

	error = tags ? mvms_tag_list(&list, &n, r->st, r->caps[0])
		     : mvms_branch_list(&list, &n, r->st, r->caps[0]);
	if (error < 0)
		return error;
	doc = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(doc, tags ? "tags" : "branches");
	for (i = 0; i < n; i++)
		cJSON_AddItemToArray(arr, ref_json(r->caps[0], &list[i]));
	mvms_ref_list_free(list, n);
	srv_reply_json(r, 200, doc);
	return 0;
}

/* Replies 201 with the ref @name just created (listed again to report where it points). */
static int reply_created_ref(srv_req *r, int tags, const char *name)
{
	mvms_ref_info *list = NULL;
	size_t n = 0, i;
	int error;

	error = tags ? mvms_tag_list(&list, &n, r->st, r->caps[0])
		     : mvms_branch_list(&list, &n, r->st, r->caps[0]);
	if (error < 0)
		return error;
	for (i = 0; i < n && strcmp(list[i].name, name) != 0; i++)
		;
	if (i == n)
		error = mvms_error_set(MVMS_ENOTFOUND, "%s '%s' vanished after its creation",
				       tags ? "tag" : "branch", name);
	else
		srv_reply_json(r, 201, ref_json(r->caps[0], &list[i]));
	mvms_ref_list_free(list, n);
	return error;
}

int srv_branches_list(srv_req *r)
{
	return refs_list(r, 0);
}

int srv_tags_list(srv_req *r)
{
	return refs_list(r, 1);
}

int srv_branch_create(srv_req *r)
{
	static const char *const fields[] = { "name", "from" };
	static const int required[] = { 1, 0 };
	const char *v[2];
	char *spec = NULL;
	cJSON *doc;
	int error = 0;

	if (!(doc = body_strings(r, fields, required, v, 2)))
		return 0;
	/* "from" absent or null: the head of main. */
	if (v[1] && !(spec = spec_for(r, r->caps[0], v[1], "from")))
		goto done;
	if ((error = mvms_branch_create(r->st, r->caps[0], v[0], spec)) < 0)
		goto done;
	error = reply_created_ref(r, 0, v[0]);
done:
	free(spec);
	cJSON_Delete(doc);
	return error;
}

int srv_branch_delete(srv_req *r)
{
	cJSON *doc;
	int error;

	if ((error = mvms_branch_delete(r->st, r->caps[0], r->caps[1])) < 0)
		return error;
	doc = cJSON_CreateObject();
	cJSON_AddStringToObject(doc, "model", r->caps[0]);
	cJSON_AddStringToObject(doc, "branch", r->caps[1]);
	cJSON_AddBoolToObject(doc, "deleted", 1);
	srv_reply_json(r, 200, doc);
	return 0;
}

int srv_tag_create(srv_req *r)
{
	static const char *const fields[] = { "name", "ref" };
	static const int required[] = { 1, 1 };
	const char *v[2], *at;
	char *spec = NULL;
	cJSON *doc;
	int error = 0;

	if (!(doc = body_strings(r, fields, required, v, 2)))
		return 0;
	/* A tag belongs to the model of the version it names: that must be this model. */
	at = strchr(v[1], '@');
	if (at && ((size_t)(at - v[1]) != strlen(r->caps[0]) ||
		   strncmp(v[1], r->caps[0], (size_t)(at - v[1])) != 0)) {
		srv_reply_error(r, 400, "bad_ref", "ref '%s' is not a version of model '%s'", v[1],
				r->caps[0]);
		goto done;
	}
	if (!(spec = spec_for(r, r->caps[0], v[1], "ref")))
		goto done;
	if ((error = mvms_tag_create(r->st, spec, v[0])) < 0)
		goto done;
	error = reply_created_ref(r, 1, v[0]);
done:
	free(spec);
	cJSON_Delete(doc);
	return error;
}
