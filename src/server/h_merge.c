/* SPDX-License-Identifier: MIT */
/*
 * POST /v1/models/{m}/merge: the server side of `mvms-store merge` (mvms_merge with the
 * options of the request body). A merge refused for its conflicts answers 409
 * merge_conflict with the conflicts listed beside the error, as `merge --json` prints them.
 */
#include <stdlib.h>
#include <string.h>
#include "server.h"
#include "views.h"

/* A string member of @doc into *out (absent: NULL); -1 after replying 400. */
static int opt_string(const char **out, srv_req *r, const cJSON *doc, const char *key)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(doc, key);

	*out = NULL;
	if (!x || cJSON_IsNull(x))
		return 0;
	if (!cJSON_IsString(x))
		return srv_reply_error(r, 400, "bad_field", "%s must be a string", key) - 1;
	*out = x->valuestring;
	return 0;
}

static int side_of(const char *s)
{
	return !s ? -1 : !strcmp(s, "ours") ? MVMS_MERGE_OURS : !strcmp(s, "theirs") ? MVMS_MERGE_THEIRS : -1;
}

/* "resolve": [{"path": P, "side": "ours"|"theirs"}, ...] into @o (@res: the caller's array of
 * that many). -1 after replying 400. */
static int read_resolve(mvms_merge_options *o, mvms_merge_resolution **res, srv_req *r,
			const cJSON *doc)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(doc, "resolve"), *it;

	*res = NULL;
	if (!arr)
		return 0;
	if (!cJSON_IsArray(arr))
		return srv_reply_error(r, 400, "bad_field", "resolve is a list of {path, side}") - 1;
	*res = calloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof(**res));
	if (!*res)
		return srv_reply_error(r, 500, "error", "out of memory") - 1;
	cJSON_ArrayForEach(it, arr) {
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(it, "path");
		const cJSON *s = cJSON_GetObjectItemCaseSensitive(it, "side");
		int side = cJSON_IsString(s) ? side_of(s->valuestring) : -1;
		if (!cJSON_IsString(p) || !*p->valuestring || side < 0)
			return srv_reply_error(r, 400, "bad_field", "each resolve entry is {\"path\": "
					       "PATH, \"side\": \"ours\" or \"theirs\"}") - 1;
		(*res)[o->resolve_count].path = p->valuestring;
		(*res)[o->resolve_count].side = side;
		o->resolve_count++;
	}
	o->resolve = *res;
	return 0;
}

/* Fills @o from the request; -1 after replying 400 (or 403 for a source the token may not
 * read). */
static int read_options(mvms_merge_options *o, const char **source, mvms_merge_resolution **res,
			srv_req *r, const cJSON *doc)
{
	const char *strategy = NULL, *at;
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(doc, "time");

	if (opt_string(source, r, doc, "source") < 0 || opt_string(&o->into, r, doc, "into") < 0 ||
	    opt_string(&o->message, r, doc, "message") < 0 ||
	    opt_string(&o->author, r, doc, "author") < 0 ||
	    opt_string(&strategy, r, doc, "strategy") < 0)
		return -1;
	if (!*source || !**source)
		return srv_reply_error(r, 400, "bad_request", "want {\"source\": BRANCH or MODEL@REF, "
				       "...}") - 1;
	if (strategy && side_of(strategy) < 0)
		return srv_reply_error(r, 400, "bad_field", "strategy is ours or theirs") - 1;
	o->strategy = strategy ? side_of(strategy) : MVMS_MERGE_NONE;
	if (t && (!cJSON_IsNumber(t) || t->valuedouble < 0))
		return srv_reply_error(r, 400, "bad_field", "time is Unix seconds") - 1;
	o->time = t ? (int64_t)t->valuedouble : 0;
	if (!o->author)
		o->author = "api";
	/* A source in another model is read from it: the token must cover that model too. */
	if ((at = strchr(*source, '@')) && ((size_t)(at - *source) != strlen(r->caps[0]) ||
					     strncmp(*source, r->caps[0], (size_t)(at - *source)))) {
		char *other = strndup(*source, (size_t)(at - *source));
		int ok = other && srv_require(r, SRV_SCOPE_READ, other) == 0;
		free(other);
		if (!ok)
			return -1;
	}
	return read_resolve(o, res, r, doc);
}

int srv_merge(srv_req *r)
{
	mvms_merge_options o = MVMS_MERGE_OPTIONS_INIT;
	mvms_merge_resolution *res = NULL;
	mvms_merge_result *m = NULL;
	cJSON *doc = srv_body_json(r), *reply;
	const char *source = NULL;
	int error = 0;

	if (!doc)
		return 0;
	if (read_options(&o, &source, &res, r, doc) < 0)
		goto done;
	error = mvms_merge(&m, r->st, r->caps[0], source, &o);
	if (error == MVMS_EMERGE && m) {
		reply = cJSON_CreateObject();
		cJSON *err = cJSON_AddObjectToObject(reply, "error");
		cJSON_AddStringToObject(err, "code", mvms_error_name(error));
		cJSON_AddStringToObject(err, "message", mvms_error_last());
		cJSON_AddItemToObject(reply, "conflicts", view_merge_conflicts(m));
		srv_reply_json(r, 409, reply);
		error = 0;
		goto done;
	}
	if (error < 0)
		goto done;
	srv_reply_json(r, m->created ? 201 : 200, view_merge(m, r->caps[0], source, o.into));
done:
	mvms_merge_result_free(m);
	free(res);
	cJSON_Delete(doc);
	return error;
}
