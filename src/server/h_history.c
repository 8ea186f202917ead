/* SPDX-License-Identifier: MIT */
/*
 * Editing history over HTTP (docs/http-api.md): moving and renaming branches, the default
 * branch, deleting tags, versions (tombstones) and models, and prune. Each calls the public
 * function of mvms/history.h and answers the JSON `--json` prints for the same command.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "server.h"
#include "views.h"

/* A string member of @doc into *out (absent or null: NULL); -1 after replying 400. */
static int opt_string(const char **out, srv_req *r, const cJSON *doc, const char *key)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(doc, key);

	*out = NULL;
	if (!x || cJSON_IsNull(x))
		return 0;
	if (!cJSON_IsString(x) || !*x->valuestring)
		return srv_reply_error(r, 400, "bad_field", "%s must be a non-empty string", key) - 1;
	*out = x->valuestring;
	return 0;
}

/* A boolean query parameter: "1" or "true" is set; anything else but "0"/"false" is 400. */
static int query_flag(int *out, srv_req *r, const char *key)
{
	const char *v = srv_query(r, key);

	*out = 0;
	if (!v || !strcmp(v, "0") || !strcmp(v, "false"))
		return 0;
	if (!strcmp(v, "1") || !strcmp(v, "true")) {
		*out = 1;
		return 0;
	}
	return srv_reply_error(r, 400, "bad_query", "%s is 1 or 0", key) - 1;
}

/* MODEL@REF for a REF of this route's model; another model's version is refused here (a
 * branch of m only ever points at versions of m). NULL after replying. */
static char *own_spec(srv_req *r, const char *ref, const char *what)
{
	const char *at = strchr(ref, '@');
	size_t ml = strlen(r->caps[0]);
	char *spec = NULL;

	if (at && ((size_t)(at - ref) != ml || strncmp(ref, r->caps[0], ml) != 0)) {
		srv_reply_error(r, 400, "bad_ref", "%s '%s' is not a version of model '%s'", what,
				ref, r->caps[0]);
		return NULL;
	}
	if (asprintf(&spec, "%s@%s", r->caps[0], at ? at + 1 : ref) < 0) {
		srv_reply_error(r, 500, "error", "out of memory");
		return NULL;
	}
	return spec;
}

static cJSON *branch_doc(const char *model, const char *branch)
{
	cJSON *doc = cJSON_CreateObject();

	cJSON_AddStringToObject(doc, "model", model);
	cJSON_AddStringToObject(doc, "branch", branch);
	cJSON_AddBoolToObject(doc, "deleted", 0);
	return doc;
}

int srv_branch_move(srv_req *r)
{
	cJSON *doc = srv_body_json(r), *reply;
	const char *to, *expect;
	char *spec = NULL;
	int error = 0;

	if (!doc)
		return 0;
	if (opt_string(&to, r, doc, "to") < 0 || opt_string(&expect, r, doc, "expect") < 0)
		goto done;
	if (!to) {
		srv_reply_error(r, 400, "bad_request", "want {\"to\": REF, \"expect\": REF or null}");
		goto done;
	}
	if (!(spec = own_spec(r, to, "to")))
		goto done;
	if ((error = mvms_branch_move(r->st, r->caps[0], r->caps[1], spec, expect)) < 0)
		goto done;
	reply = branch_doc(r->caps[0], r->caps[1]);
	cJSON_AddStringToObject(reply, "to", to);
	srv_reply_json(r, 200, reply);
done:
	free(spec);
	cJSON_Delete(doc);
	return error;
}

int srv_branch_rename(srv_req *r)
{
	cJSON *doc = srv_body_json(r), *reply;
	const char *to;
	int error = 0;

	if (!doc)
		return 0;
	if (opt_string(&to, r, doc, "to") < 0)
		goto done;
	if (!to) {
		srv_reply_error(r, 400, "bad_request", "want {\"to\": NEW_NAME}");
		goto done;
	}
	if ((error = mvms_branch_rename(r->st, r->caps[0], r->caps[1], to)) < 0)
		goto done;
	reply = branch_doc(r->caps[0], to);
	cJSON_AddStringToObject(reply, "from", r->caps[1]);
	srv_reply_json(r, 200, reply);
done:
	cJSON_Delete(doc);
	return error;
}

int srv_branch_default(srv_req *r)
{
	cJSON *doc = NULL, *reply;
	const char *name = NULL;
	char *def = NULL;
	int error = 0;

	if (r->method == EVHTTP_REQ_PUT) {
		if (!(doc = srv_body_json(r)))
			return 0;
		if (opt_string(&name, r, doc, "name") < 0)
			goto done;
		if (!name) {
			srv_reply_error(r, 400, "bad_request", "want {\"name\": BRANCH}");
			goto done;
		}
		if ((error = mvms_branch_set_default(r->st, r->caps[0], name)) < 0)
			goto done;
	}
	if ((error = mvms_branch_get_default(&def, r->st, r->caps[0])) < 0)
		goto done;
	reply = cJSON_CreateObject();
	cJSON_AddStringToObject(reply, "model", r->caps[0]);
	cJSON_AddStringToObject(reply, "default", def);
	srv_reply_json(r, 200, reply);
done:
	free(def);
	cJSON_Delete(doc);
	return error;
}

int srv_tag_delete(srv_req *r)
{
	cJSON *doc;
	int error;

	if ((error = mvms_tag_delete(r->st, r->caps[0], r->caps[1])) < 0)
		return error;
	doc = cJSON_CreateObject();
	cJSON_AddStringToObject(doc, "tag", r->caps[1]);
	cJSON_AddStringToObject(doc, "model", r->caps[0]);
	cJSON_AddBoolToObject(doc, "deleted", 1);
	srv_reply_json(r, 200, doc);
	return 0;
}

int srv_version_delete(srv_req *r)
{
	mvms_delete_result *d = NULL;
	unsigned flags = 0;
	int force, no_move, dry, error = 0;
	char *spec = NULL;

	if (query_flag(&force, r, "force") < 0 || query_flag(&no_move, r, "no_move") < 0 ||
	    query_flag(&dry, r, "dry_run") < 0)
		return 0;
	flags = (force ? MVMS_HISTORY_FORCE : 0) | (no_move ? MVMS_HISTORY_NO_MOVE : 0) |
		(dry ? MVMS_HISTORY_DRY_RUN : 0);
	if (!(spec = own_spec(r, r->caps[1], "ref")))
		return 0;
	error = mvms_version_delete_ex(&d, r->st, spec,
				       srv_query(r, "author") ? srv_query(r, "author") : "api", flags);
	if (error == 0)
		srv_reply_json(r, 200, view_delete(d, dry));
	mvms_delete_result_free(d);
	free(spec);
	return error;
}

int srv_model_delete(srv_req *r)
{
	mvms_model_delete_result res;
	int dry, error;

	if (query_flag(&dry, r, "dry_run") < 0)
		return 0;
	/* Saying what would go is a read of the model; deleting it takes admin. */
	if (!dry && srv_require(r, SRV_SCOPE_ADMIN, r->caps[0]) < 0)
		return 0;
	if ((error = mvms_model_delete(&res, r->st, r->caps[0], dry ? MVMS_HISTORY_DRY_RUN : 0)) < 0)
		return error;
	srv_reply_json(r, 200, view_model_delete(&res, r->caps[0], dry));
	return 0;
}

/* A number member >= 0 of @doc (absent: 0); -1 after replying 400. */
static int opt_count(int64_t *out, srv_req *r, const cJSON *doc, const char *key)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(doc, key);

	*out = 0;
	if (!x)
		return 0;
	if (!cJSON_IsNumber(x) || x->valuedouble < 0 || x->valuedouble > 1e15)
		return srv_reply_error(r, 400, "bad_field", "%s must be a number >= 0", key) - 1;
	*out = (int64_t)x->valuedouble;
	return 0;
}

int srv_prune(srv_req *r)
{
	mvms_prune_options o = MVMS_PRUNE_OPTIONS_INIT;
	mvms_prune_result *p = NULL;
	cJSON *doc = srv_body_json(r);
	size_t i;
	int error = 0;

	if (!doc)
		return 0;
	if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(doc, "keep_last"))) {
		srv_reply_error(r, 400, "bad_request", "want {\"keep_last\": N, ...}");
		goto done;
	}
	if (opt_count(&o.keep_last, r, doc, "keep_last") < 0 ||
	    opt_count(&o.older_than, r, doc, "older_than") < 0 ||
	    opt_string(&o.branch, r, doc, "branch") < 0 || opt_string(&o.author, r, doc, "author") < 0)
		goto done;
	o.keep_tagged = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "keep_tagged"));
	o.keep_deployed = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "keep_deployed"));
	o.dry_run = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "dry_run"));
	if (!o.author)
		o.author = "api";
	if ((error = mvms_prune(&p, r->st, r->caps[0], &o)) < 0)
		goto done;
	/* A pruned version's parent may be another model's the token does not cover. */
	for (i = 0; i < p->count; i++)
		srv_authz_redact_version(r, p->versions[i]);
	srv_reply_json(r, 200, view_prune(p, r->caps[0], o.dry_run));
done:
	mvms_prune_result_free(p);
	cJSON_Delete(doc);
	return error;
}
