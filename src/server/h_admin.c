/* SPDX-License-Identifier: MIT */
/*
 * The administration over HTTP: store statistics (GET /v1/stats), verify (POST /v1/verify),
 * gc (POST /v1/gc) and API tokens (GET/POST /v1/tokens, DELETE /v1/tokens/{id}). Each runs
 * the library's operation on the server's store and answers the document the command line
 * prints with --json (src/common/views.c), lists included: what a verify found and what a gc
 * removed, so that a remote client can hand each item to its caller's callback.
 *
 * These routes are SRV_AUTHZ_ALL: what they show or change concerns every model (counts
 * over all models, the versions a damaged pack breaks, tokens for any glob), so a token
 * limited to some models may not use them, whatever its scope; the handlers check that
 * first (covers_all). Scopes are the route table's: read for stats, admin for the rest.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "server.h"
#include "views.h"

/* The gc grace period when the request names none: the command line's default. */
#define GC_GRACE_DEFAULT 3600

/* SRV_AUTHZ_ALL: 0 when the caller's token covers every model, else -1 after a 403. */
static int covers_all(srv_req *r, const char *what)
{
	if (srv_authz_all(r))
		return 0;
	srv_reply_error(r, 403, "forbidden", "%s concerns every model: it needs a token whose "
			"models are '*' (this one's are '%s')", what,
			r->token_models ? r->token_models : "");
	return -1;
}

enum field_type { F_BOOL, F_NUMBER, F_STRING, F_TIME };

typedef struct field {
	const char *name;
	enum field_type type;
	const cJSON *value;   /* out: NULL when absent or null */
} field;

static const char *type_name(enum field_type t)
{
	switch (t) {
	case F_BOOL: return "true or false";
	case F_NUMBER: return "a number";
	case F_STRING: return "a string";
	default: return "a number (Unix seconds) or a time like 2026-12-31T00:00:00Z";
	}
}

/*
 * The request body as a JSON object of the fields @f (no others, each of its type, null as
 * absent); an empty body is an empty object. NULL after replying 400/413, else the document
 * (free with cJSON_Delete) that f[i].value borrow from.
 */
static cJSON *body_fields(srv_req *r, field *f, size_t n)
{
	const unsigned char *data;
	const cJSON *it;
	size_t len, i;
	cJSON *doc;

	srv_body(&data, &len, r);
	doc = len ? srv_body_json(r) : cJSON_CreateObject();
	if (!doc)
		return NULL;
	cJSON_ArrayForEach(it, doc) {
		for (i = 0; i < n; i++)
			if (it->string && strcmp(it->string, f[i].name) == 0)
				break;
		if (i == n) {
			srv_reply_error(r, 400, "bad_field", "unknown field '%s'",
					it->string ? it->string : "");
			goto bad;
		}
	}
	for (i = 0; i < n; i++) {
		it = cJSON_GetObjectItemCaseSensitive(doc, f[i].name);
		f[i].value = NULL;
		if (!it || cJSON_IsNull(it))
			continue;
		if ((f[i].type == F_BOOL && !cJSON_IsBool(it)) ||
		    (f[i].type == F_NUMBER && !cJSON_IsNumber(it)) ||
		    (f[i].type == F_STRING && !cJSON_IsString(it)) ||
		    (f[i].type == F_TIME && !cJSON_IsNumber(it) && !cJSON_IsString(it))) {
			srv_reply_error(r, 400, "bad_field", "the field '%s' must be %s", f[i].name,
					type_name(f[i].type));
			goto bad;
		}
		f[i].value = it;
	}
	return doc;
bad:
	cJSON_Delete(doc);
	return NULL;
}

int srv_stats(srv_req *r)
{
	mvms_stats s;
	int error;

	if (covers_all(r, "store statistics") < 0)
		return 0;
	if ((error = mvms_store_stats(&s, r->st)) < 0)
		return error;
	srv_reply_json(r, 200, view_stats(&s));
	return 0;
}

/* The lists of a verify: [0] problems, [1] orphans. */
static int on_problem(const mvms_verify_problem *p, void *payload)
{
	return cJSON_AddItemToArray(((cJSON **)payload)[0], view_verify_problem(p)) ? 0 : -1;
}

static int on_orphan(const mvms_verify_problem *p, void *payload)
{
	return cJSON_AddItemToArray(((cJSON **)payload)[1], view_verify_orphan(p)) ? 0 : -1;
}

int srv_verify(srv_req *r)
{
	field f[] = { { "quick", F_BOOL, NULL } };
	cJSON *doc, *lists[2] = { NULL, NULL };
	mvms_verify_options o;
	mvms_verify_result res;
	int error;

	if (covers_all(r, "verify") < 0 || !(doc = body_fields(r, f, 1)))
		return 0;
	lists[0] = cJSON_CreateArray();
	lists[1] = cJSON_CreateArray();
	memset(&o, 0, sizeof(o));
	o.quick = cJSON_IsTrue(f[0].value);
	o.cb = on_problem;
	o.orphan = on_orphan;
	o.payload = lists;
	/* Damage found is the answer, not a failure of the request: 200 with "ok": false. */
	error = mvms_store_verify_ex(&res, r->st, &o);
	if (error < 0 && error != MVMS_EMISMATCH) {
		cJSON_Delete(lists[0]);
		cJSON_Delete(lists[1]);
	} else {
		srv_reply_json(r, 200, view_verify(&res, o.quick, lists[0], lists[1]));
		error = 0;
	}
	cJSON_Delete(doc);
	return error;
}

static int on_gc_item(const mvms_gc_item *it, void *payload)
{
	return cJSON_AddItemToArray(payload, view_gc_item(it)) ? 0 : -1;
}

int srv_gc(srv_req *r)
{
	field f[] = { { "grace_seconds", F_NUMBER, NULL }, { "dry_run", F_BOOL, NULL },
		      { "items", F_BOOL, NULL } };
	cJSON *doc, *items = NULL;
	mvms_gc_options o;
	mvms_gc_result res;
	int error = 0;

	if (covers_all(r, "gc") < 0 || !(doc = body_fields(r, f, 3)))
		return 0;
	memset(&o, 0, sizeof(o));
	o.grace_seconds = GC_GRACE_DEFAULT;
	if (f[0].value) {
		double g = f[0].value->valuedouble;
		/* Up to about 30 years: past that a grace period is a typo. */
		if (!(g >= 0 && g <= 1e9) || g != (double)(int64_t)g) {
			srv_reply_error(r, 400, "bad_field",
					"grace_seconds is a whole number of seconds, 0 to 1000000000");
			goto done;
		}
		o.grace_seconds = (int64_t)g;
	}
	o.dry_run = cJSON_IsTrue(f[1].value);
	/* The items, when asked for; by default those of a dry run (what it is for). */
	if (f[2].value ? cJSON_IsTrue(f[2].value) : o.dry_run) {
		items = cJSON_CreateArray();
		o.cb = on_gc_item;
		o.payload = items;
	}
	if ((error = mvms_store_gc_ex(&res, r->st, &o)) < 0)
		goto done;
	srv_reply_json(r, 200, view_gc(&res, o.dry_run, items));
	items = NULL;
done:
	cJSON_Delete(items);
	cJSON_Delete(doc);
	return error;
}

/* ---- tokens ---- */

int srv_tokens_list(srv_req *r)
{
	mvms_token_info *list = NULL;
	size_t n = 0;
	int error;

	if (covers_all(r, "the token list") < 0)
		return 0;
	if ((error = mvms_token_list(&list, &n, r->st)) < 0)
		return error;
	srv_reply_json(r, 200, view_token_list(list, n));
	mvms_token_list_free(list, n);
	return 0;
}

static int scope_from_name(const char *s)
{
	if (strcmp(s, "read") == 0)
		return MVMS_SCOPE_READ;
	if (strcmp(s, "write") == 0)
		return MVMS_SCOPE_WRITE;
	if (strcmp(s, "admin") == 0)
		return MVMS_SCOPE_ADMIN;
	return -1;
}

/* "expires_at": Unix seconds or an ISO 8601 UTC time, in the future. 0, or -1 after a 400. */
static int expiry(int64_t *out, srv_req *r, const cJSON *v)
{
	struct tm tm;
	const char *end;

	*out = 0;
	if (!v)
		return 0;
	if (cJSON_IsNumber(v)) {
		if (v->valuedouble >= 1 && v->valuedouble < 1e12 &&
		    v->valuedouble == (double)(int64_t)v->valuedouble)
			*out = (int64_t)v->valuedouble;
	} else {
		memset(&tm, 0, sizeof(tm));
		end = strptime(v->valuestring, "%Y-%m-%dT%H:%M:%SZ", &tm);
		if (end && !*end)
			*out = (int64_t)timegm(&tm);
	}
	if (*out <= 0)
		return srv_reply_error(r, 400, "bad_field", "expires_at is a time: Unix seconds "
				       "or like 2026-12-31T00:00:00Z"), -1;
	if (*out <= (int64_t)time(NULL))
		return srv_reply_error(r, 400, "bad_field", "expires_at is in the past"), -1;
	return 0;
}

int srv_token_create(srv_req *r)
{
	field f[] = { { "scope", F_STRING, NULL }, { "models", F_STRING, NULL },
		      { "expires_at", F_TIME, NULL }, { "description", F_STRING, NULL } };
	mvms_token_info *info = NULL;
	char *token = NULL;
	int64_t expires_at;
	int error = 0, scope;
	cJSON *doc;

	if (covers_all(r, "creating a token") < 0 || !(doc = body_fields(r, f, 4)))
		return 0;
	if (!f[0].value || (scope = scope_from_name(f[0].value->valuestring)) < 0) {
		srv_reply_error(r, 400, "bad_field", "scope is read, write or admin");
		goto done;
	}
	if (expiry(&expires_at, r, f[2].value) < 0)
		goto done;
	if ((error = mvms_token_create(&token, &info, r->st, scope,
				       f[1].value ? f[1].value->valuestring : "*", expires_at,
				       f[3].value ? f[3].value->valuestring : "")) < 0)
		goto done;
	srv_reply_json(r, 201, view_token_created(token, info));
done:
	if (token) {
		memset(token, 0, strlen(token));
		free(token);
	}
	mvms_token_info_free(info);
	cJSON_Delete(doc);
	return error;
}

int srv_token_revoke(srv_req *r)
{
	int error;

	if (covers_all(r, "revoking a token") < 0)
		return 0;
	if ((error = mvms_token_revoke(r->st, r->caps[0])) < 0)
		return error;
	srv_reply_json(r, 200, view_token_revoked(r->caps[0]));
	return 0;
}
