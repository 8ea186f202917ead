/* SPDX-License-Identifier: MIT */
/*
 * Every route against tokens of every scope and model glob. A store holds models alpha and
 * team/y (team/y@v1 has --parent alpha@v1), each with two versions, a tag and a deployment;
 * `$MVMS serve` runs on it. The test walks the server's own route table (srv_routes(), linked
 * from src/server) and, for every route and method, fills the captures, query and body with
 * real values of one model (alpha, then team/y) and sends the request with 13 callers: no
 * token, and read, write and admin tokens for each glob of globs[] below (all models, the
 * team/ prefix, alpha alone, none). For each case it checks:
 *   - the status: 401 without a token, 403 below the route's scope; then by the route's
 *     declared authz class: a model the token does not cover is 403 (by path or body) or
 *     404 (reads by hash), a route about every model (stats, verify, gc, tokens) is 403 for
 *     a token that does not cover every model; a covered one gets the route's normal answer
 *     (201 for a commit, 502 no_endpoint for /predict, ...);
 *   - no leak: no reply (status line, headers, body) carries a secret of a model the token
 *     does not cover (its name, messages, author, metadata, file bytes, the ids of its
 *     versions, files and chunks) unless the request itself did. The one exception is the id
 *     of a version next to a covered one in the DAG (alpha@v1 for team/y), which the covered
 *     manifest lists anyway and which shows in stubs (see src/server/authz.c).
 * A route that declares no authz class fails the test (and the router refuses it).
 * The store, tokens and server are tests/authz-fixture.c's. Needs MVMS (the mvms-store
 * binary) and MKMODEL (tests/mkmodel).
 */
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <sodium.h>
#include "tap.h"
#include "mvms.h"
#include "server.h"
#include "authz-fixture.h"

/* ---- one request for each route, method and variant ---- */

typedef struct req {
	const char *method;
	char url[3072];       /* path and query as sent */
	char text[3072];      /* the same, decoded: a secret the request names is no leak */
	char *body;
	size_t len;
	long ok;              /* the status when everything is allowed; 0: any but 401/403/404 */
	const model *also;    /* another model it needs (a parent, the other side of a diff) */
	const char *named;    /* the model a NAMED route's body names */
	char want[160];       /* with everything allowed, the body holds this */
} req;

static void set_body(req *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_body(req *q, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&q->body, fmt, ap);
	va_end(ap);
	if (n < 0)
		bail("out of memory");
	q->len = (size_t)n;
}

/* An admin request that must succeed: the state a case needs (a branch to delete, ...). */
static void admin_post(CURL *h, const model *m, const char *suffix, const char *body)
{
	char path[512];
	cJSON *doc;

	snprintf(path, sizeof(path), "/v1/models/%s%s", m->enc, suffix);
	if (!(doc = get_json(h, admin, "POST", path, body, 201)))
		bail("setting up: POST %s %s", path, body);
	cJSON_Delete(doc);
}

/* A commit of a new version of @m on branch c-SEQ, whose parent is @parent's v1. */
static void commit_body(req *q, const model *m, const model *parent, int seq)
{
	cJSON *doc = cJSON_CreateObject(), *fm;
	char *man = NULL, *text, branch[32];

	if (asprintf(&man, "{\"format\":1,\"model\":{\"uid\":\"%s\",\"name\":\"%s\"},\"parents\":"
		     "[\"%s\"],\"author\":\"authz\",\"time\":%d,\"message\":\"commit %d\",\"meta\":{},"
		     "\"files\":[{\"path\":\"%s\",\"mode\":420,\"size\":%llu,\"id\":\"%s\"}]}\n",
		     m->uid, m->name, parent->v1, 1700000000 + seq, seq, m->notes, m->notes_size,
		     m->notes_id) < 0)
		bail("out of memory");
	cJSON_AddStringToObject(doc, "manifest", man);
	fm = cJSON_AddObjectToObject(doc, "filemaps");
	cJSON_AddStringToObject(fm, m->notes_id, m->notes_b64);
	snprintf(branch, sizeof(branch), "c-%d", seq);
	cJSON_AddStringToObject(doc, "branch", branch);
	cJSON_AddStringToObject(doc, "expected_head", "");
	text = cJSON_PrintUnformatted(doc);
	set_body(q, "%s", text);
	free(text);
	free(man);
	cJSON_Delete(doc);
}

/* The path of @rt with @m's values in its captures ({kind} and {id} by @variant). */
static void fill_path(req *q, const srv_route *rt, const model *m, int variant, int seq)
{
	const char *p = rt->pattern;
	char *u = q->url, *t = q->text;
	const size_t nu = sizeof(q->url), nt = sizeof(q->text);

	q->url[0] = q->text[0] = '\0';
	while (*p) {
		const char *close = p[0] == '{' ? strchr(p, '}') : NULL;
		char name[32], val[128], dec[128];
		if (!close) {
			snprintf(u + strlen(u), nu - strlen(u), "%c", *p);
			snprintf(t + strlen(t), nt - strlen(t), "%c", *p);
			p++;
			continue;
		}
		snprintf(name, sizeof(name), "%.*s", (int)(close - p - 1), p + 1);
		snprintf(val, sizeof(val), "%s", m->enc);
		if (!strcmp(name, "ref"))
			snprintf(val, sizeof(val), "v1");
		else if (!strcmp(name, "path*"))
			snprintf(val, sizeof(val), "%s", m->notes);
		else if (!strcmp(name, "name"))
			snprintf(val, sizeof(val), "d-%d", seq);
		else if (!strcmp(name, "env"))
			snprintf(val, sizeof(val), "prod");
		else if (!strcmp(name, "action"))
			snprintf(val, sizeof(val), "pause");
		else if (!strcmp(name, "kind"))
			snprintf(val, sizeof(val), "%s", variant ? "manifests" : "files");
		else if (!strcmp(name, "id"))
			snprintf(val, sizeof(val), "%s",
				 strstr(rt->pattern, "/packs/") ? m->pack_id
				 : strstr(rt->pattern, "/{kind}/") && !variant ? m->only_file : m->v2);
		snprintf(dec, sizeof(dec), "%s", strcmp(val, m->enc) ? val : m->name);
		snprintf(u + strlen(u), nu - strlen(u), "%s", val);
		snprintf(t + strlen(t), nt - strlen(t), "%s", dec);
		p = close + 1;
	}
}

static void add_query(req *q, const char *query)
{
	char *t = q->text + strlen(q->text), *p;

	snprintf(q->url + strlen(q->url), sizeof(q->url) - strlen(q->url), "%s", query);
	snprintf(t, sizeof(q->text) - strlen(q->text), "%s", query);
	/* Decoded as the server reads it: team%2Fy is team/y. */
	while ((p = strstr(t, "%2F")))
		*p = '/', memmove(p + 1, p + 3, strlen(p + 3) + 1);
}

/*
 * Variant @variant of a request to @rt with @method about model @m (@other: the other
 * model); 0 when the route has no such variant. Routes this test does not know get their
 * captures filled by name and no body, and any answer but a refusal when allowed.
 */
static int build(req *q, CURL *h, const srv_route *rt, const char *method, int variant,
		 const model *m, const model *other, int seq)
{
	const char *pat = rt->pattern;
	int post = !strcmp(method, "POST") || !strcmp(method, "PUT");
	char tmp[600];

	memset(q, 0, sizeof(*q));
	q->method = method;
	fill_path(q, rt, m, variant, seq);
	q->ok = strcmp(method, "HEAD") && post ? 201 : 200;
#define IS(x) (!strcmp(pat, (x)))
	if (IS("/healthz") || IS("/metrics") || IS("/v1/store")) {
		if (variant)
			return 0;
		/* A caller's deployment gauges: its models' only. */
		if (IS("/metrics"))
			snprintf(q->want, sizeof(q->want), "mvms_deployment_revision{model=\"%s\"",
				 m->name);
	} else if (IS("/v1/models") && !post) {
		if (variant)
			return 0;
		snprintf(q->want, sizeof(q->want), "\"model\":\"%s\"", m->name);
	} else if (IS("/v1/models")) {
		/* alpha exists (409 when allowed); a new team/ model is created. */
		if (variant)
			return 0;
		if (m == &models[0]) {
			q->named = "alpha";
			set_body(q, "{\"name\":\"alpha\"}");
			q->ok = 409;
		} else {
			q->named = "team/new";
			set_body(q, "{\"name\":\"team/new-%d\"}", seq);
		}
	} else if (IS("/v1/models/{m}/versions") && post) {
		/* Own parent; and for team/y, a parent in alpha (the token needs both). */
		if (variant > 1 || (variant == 1 && m != &models[1]))
			return 0;
		commit_body(q, m, variant ? other : m, seq);
		q->also = variant ? other : NULL;
	} else if (IS("/v1/models/{m}/versions")) {
		if (variant > 1)
			return 0;
		if (variant)
			add_query(q, "?branch=main");
	} else if (IS("/v1/models/{m}/versions/{ref}/lineage")) {
		static const char *const qs[] = { "?direction=both", "?direction=both&format=text",
						   "?format=dot", "?format=mermaid" };
		if (variant > 3)
			return 0;
		add_query(q, qs[variant]);
	} else if (IS("/v1/models/{m}/versions/{ref}/files/{path*}")) {
		if (variant > 1)
			return 0;
		if (variant)
			add_query(q, "?format=records");
		else
			snprintf(q->want, sizeof(q->want), "%s", m->secret);
	} else if (IS("/v1/models/{m}/diff") || IS("/v1/models/{m}/merge-base")) {
		int diff = IS("/v1/models/{m}/diff");
		if (variant > 1)
			return 0;
		if (variant) {
			snprintf(tmp, sizeof(tmp), diff ? "?from=%s@v1&to=v2" : "?a=%s@v1&b=v2", other->enc);
			q->also = other;
		} else {
			snprintf(tmp, sizeof(tmp), diff ? "?from=v1&to=v2" : "?a=v1&b=v2");
		}
		add_query(q, tmp);
	} else if (IS("/v1/models/{m}/branches") && post) {
		/* From its own v1; from the other model's (refused: 403 unless the token covers
		 * both, then 400, a branch stays within its model). */
		if (variant > 1)
			return 0;
		if (variant) {
			set_body(q, "{\"name\":\"b-%d\",\"from\":\"%s@v1\"}", seq, other->name);
			q->also = other;
			q->ok = 400;
		} else {
			set_body(q, "{\"name\":\"b-%d\",\"from\":\"v1\"}", seq);
		}
	} else if (IS("/v1/models/{m}/branches/{name}") ||
		   IS("/v1/models/{m}/branches/{name}/rename")) {
		/* Delete, move (PUT) or rename a branch made for the case. */
		if (variant)
			return 0;
		snprintf(tmp, sizeof(tmp), "{\"name\":\"d-%d\"}", seq);
		admin_post(h, m, "/branches", tmp);
		if (!strcmp(method, "PUT"))
			set_body(q, "{\"to\":\"v1\"}");
		else if (post)
			set_body(q, "{\"to\":\"r-%d\"}", seq);
		q->ok = 200;
	} else if (IS("/v1/models/{m}/default-branch") && post) {
		if (variant)
			return 0;
		set_body(q, "{\"name\":\"main\"}");
		q->ok = 200;
	} else if (IS("/v1/models/{m}/tags/{name}")) {
		if (variant)
			return 0;
		snprintf(tmp, sizeof(tmp), "{\"name\":\"d-%d\",\"ref\":\"v1\"}", seq);
		admin_post(h, m, "/tags", tmp);
		q->ok = 200;
	} else if (IS("/v1/models/{m}/versions/{ref}") && !strcmp(method, "DELETE")) {
		/* A dry run: the fixture's versions stay (a branch at v1 may refuse it: 409). */
		if (variant)
			return 0;
		add_query(q, "?dry_run=1&force=1");
		q->ok = 0;
	} else if (IS("/v1/models/{m}") && !strcmp(method, "DELETE")) {
		/* A dry run (write); deleting for real takes admin, which history-remote.sh tries. */
		if (variant)
			return 0;
		add_query(q, "?dry_run=1");
		q->ok = 0; /* alpha's v1 is team/y's parent: 409 for alpha */
	} else if (IS("/v1/models/{m}/prune")) {
		if (variant)
			return 0;
		set_body(q, "{\"keep_last\":100,\"dry_run\":true}");
		q->ok = 200;
	} else if (IS("/v1/models/{m}/tags") && post) {
		if (variant)
			return 0;
		set_body(q, "{\"name\":\"t-%d\",\"ref\":\"v1\"}", seq);
	} else if (IS("/v1/models/{m}/upload")) {
		if (variant)
			return 0;
		snprintf(tmp, sizeof(tmp), "?path=up-%d.txt", seq);
		add_query(q, tmp);
		set_body(q, "upload %d\n", seq);
	} else if (IS("/v1/models/{m}/deployments/{env}") && post) {
		/* Its own v1; the other model's v1 is no ref of this model (404). */
		if (variant > 1)
			return 0;
		if (variant) {
			set_body(q, "{\"ref\":\"%s@v1\"}", other->name);
			q->ok = 404;
		} else {
			set_body(q, "{\"ref\":\"v1\"}");
		}
	} else if (IS("/v1/models/{m}/deployments/{env}/undeploy")) {
		if (variant)
			return 0;
		/* v2 alongside v1 first: the last version cannot go. */
		snprintf(tmp, sizeof(tmp), "{\"ref\":\"v2\",\"weight\":%d}", 1 + seq % 1000);
		admin_post(h, m, "/deployments/prod", tmp);
		set_body(q, "{\"ref\":\"v2\"}");
	} else if (IS("/v1/models/{m}/deployments/{env}/rollback")) {
		if (variant)
			return 0;
		admin_post(h, m, "/deployments/prod", "{\"ref\":\"v2\"}");
		set_body(q, "{}");
	} else if (IS("/v1/models/{m}/deployments/{env}/rollout") ||
		   IS("/v1/models/{m}/deployments/{env}/rollout/{action}")) {
		/* The fixture's environments never had a rollout: not_found, past every check;
		 * a start with no steps is a 400 past every check (starting one is rollout.sh's,
		 * so that no rollout runs under the other routes' feet). */
		if (variant)
			return 0;
		if (post && strstr(rt->pattern, "{action}"))
			set_body(q, "{}");
		else if (post)
			set_body(q, "{\"ref\":\"v2\",\"steps\":[]}");
		q->ok = post && !strstr(rt->pattern, "{action}") ? 400 : 404;
	} else if (IS("/v1/models/{m}/deployments/{env}/predict") || IS("/predict/{m}/{env}")) {
		if (variant)
			return 0;
		set_body(q, "{\"inputs\":[1]}");
		q->ok = 502; /* no version has an endpoint: no_endpoint, past every check */
	} else if (IS("/v1/chunks/missing") || IS("/v1/chunks")) {
		size_t i;
		char *p = tmp;
		if (variant)
			return 0;
		p += sprintf(p, "{\"ids\":[");
		for (i = 0; i < m->nchunks && i < 8; i++)
			p += sprintf(p, "%s\"%s\"", i ? "," : "", m->chunks[i]);
		sprintf(p, "]}");
		set_body(q, "%s", tmp);
		q->ok = 200;
	} else if (IS("/v1/packs/{id}")) {
		if (variant)
			return 0;
		if (!(q->body = malloc(m->pack_len)))
			bail("out of memory");
		memcpy(q->body, m->pack, m->pack_len);
		q->len = m->pack_len;
	} else if (IS("/v1/objects/{kind}/{id}")) {
		if (variant > 1)
			return 0;
	} else if (IS("/v1/stats") || (IS("/v1/tokens") && !post)) {
		if (variant)
			return 0;
		snprintf(q->want, sizeof(q->want), "%s", IS("/v1/stats") ? "\"versions\":" : "\"scope\":");
	} else if (IS("/v1/verify") || IS("/v1/gc")) {
		/* A quick verify; a gc that removes nothing (the walk's writes are young). */
		if (variant)
			return 0;
		set_body(q, "%s", IS("/v1/verify") ? "{\"quick\":true}" : "{\"dry_run\":true}");
		snprintf(q->want, sizeof(q->want), "%s", IS("/v1/verify") ? "\"ok\":true" : "\"items\":");
		q->ok = 200;
	} else if (IS("/v1/tokens")) {
		if (variant)
			return 0;
		set_body(q, "{\"scope\":\"read\",\"models\":\"alpha\",\"description\":\"authz %d\"}", seq);
		snprintf(q->want, sizeof(q->want), "\"token\":\"mvms_");
	} else if (IS("/v1/tokens/{id}")) {
		/* A token of its own to revoke: not one of the callers'. */
		cJSON *doc;
		const char *id;
		if (variant)
			return 0;
		if (!(doc = get_json(h, admin, "POST", "/v1/tokens", "{\"scope\":\"read\"}", 201)) ||
		    !(id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "id"))))
			bail("setting up: POST /v1/tokens");
		snprintf(q->url, sizeof(q->url), "/v1/tokens/%s", id);
		snprintf(q->text, sizeof(q->text), "/v1/tokens/%s", id);
		cJSON_Delete(doc);
		snprintf(q->want, sizeof(q->want), "\"revoked\":true");
		q->ok = 200;
	} else if (!strncmp(pat, "/v1/models/{m}", 14) && !post && rt->scope <= SRV_SCOPE_READ) {
		/* The other reads of one model: one plain request. */
		if (variant)
			return 0;
	} else {
		if (variant)
			return 0;
		q->ok = 0;
		if (post)
			set_body(q, "{}");
	}
#undef IS
	if (!strcmp(method, "HEAD"))
		q->want[0] = '\0';
	return 1;
}

/* ---- the walk ---- */

static int covers(const caller *c, const char *name)
{
	return c->glob && fnmatch(c->glob, name, 0) == 0;
}

/* The status @c must get (*any: any status but a refusal will do). */
static long expect(const srv_route *rt, const req *q, const caller *c, const model *m, int *any)
{
	*any = 0;
	if (rt->scope > SRV_SCOPE_NONE) {
		if (!c->glob)
			return 401;
		if (c->scope < rt->scope)
			return 403;
	}
	if (rt->authz == SRV_AUTHZ_MODEL &&
	    (!covers(c, m->name) || (q->also && !covers(c, q->also->name))))
		return 403;
	if (rt->authz == SRV_AUTHZ_NAMED && !covers(c, q->named))
		return 403;
	if (rt->authz == SRV_AUTHZ_CONTENT && !covers(c, m->name))
		return 404;
	/* About every model: for tokens of every model only. */
	if (rt->authz == SRV_AUTHZ_ALL && strcmp(c->glob, "*") != 0)
		return 403;
	*any = q->ok == 0;
	return q->ok;
}

/* A secret of a model @c does not cover in the reply and not in the request, or NULL. */
static const char *leak(const reply *r, const req *q, const caller *c)
{
	size_t k, i;

	for (k = 0; k < 2; k++) {
		const model *m = &models[k];
		if (covers(c, m->name))
			continue;
		for (i = 0; i < m->nmarkers; i++) {
			const char *s = m->markers[i];
			size_t n = strlen(s);
			/* v1s are each other's neighbours: a stub of one is on the other's lineage. */
			if (i == 2 && covers(c, models[1 - k].name))
				continue;
			if (strstr(q->text, s) || (q->body && memmem(q->body, q->len, s, n)))
				continue;
			if ((r->body.data && memmem(r->body.data, r->body.len, s, n)) ||
			    (r->head.data && memmem(r->head.data, r->head.len, s, n)))
				return s;
		}
	}
	return NULL;
}

/* A route's declaration: a class, a scope it fits and, for MODEL, the model capture. */
static int declared(const srv_route *rt)
{
	if (rt->authz <= SRV_AUTHZ_UNDECLARED || rt->authz > SRV_AUTHZ_ALL)
		return 0;
	if (rt->authz == SRV_AUTHZ_MODEL && !strstr(rt->pattern, "/{m}"))
		return 0;
	if (rt->authz == SRV_AUTHZ_MODEL && strchr(rt->pattern, '{') != strstr(rt->pattern, "{m}"))
		return 0;
	/* Only what shows nothing of a model, or filters, goes without a token. */
	if (rt->scope == SRV_SCOPE_NONE)
		return rt->authz == SRV_AUTHZ_PUBLIC || rt->authz == SRV_AUTHZ_FILTERED;
	return rt->authz != SRV_AUTHZ_PUBLIC;
}

static const struct {
	unsigned bit;
	const char *name;
} methods[] = {
	{ EVHTTP_REQ_GET, "GET" },   { EVHTTP_REQ_HEAD, "HEAD" },     { EVHTTP_REQ_POST, "POST" },
	{ EVHTTP_REQ_PUT, "PUT" },   { EVHTTP_REQ_DELETE, "DELETE" }, { EVHTTP_REQ_PATCH, "PATCH" },
	{ EVHTTP_REQ_OPTIONS, "OPTIONS" },
};

static size_t cases;

/* Whether the reply to a case is right: its status, no leak, and what it should show. */
static int judge(const reply *r, const req *q, const caller *c, const model *m, long want, int any,
		 const char **leaked)
{
	*leaked = leak(r, q, c);
	if (*leaked)
		return 0;
	if (any)
		return r->status > 0 && r->status != 401 && r->status != 403 && r->status != 404;
	if (r->status != want)
		return 0;
	/* What an allowed request shows; a refusal shows none of it. */
	return want >= 300 || !q->want[0] || !covers(c, m->name) || (r->body.data && strstr(r->body.data, q->want));
}

/* Every caller, about each model, for one variant: one TAP line. 0 when no such variant.
 * team/y is sent twice: as team%2Fy and as team/y (an org/name path without %2F, which the
 * router reads as one model name): both must keep to the token's models alike. */
static int walk_one(CURL *h, const srv_route *rt, const char *method, int variant, int *seq)
{
	size_t k, ci, bad = 0, ran = 0;
	model raw = models[1];
	const model *ms[3] = { &models[0], &models[1], &raw }, *os[3] = { &models[1], &models[0],
									 &models[0] };
	req q;

	raw.enc = "team/y";
	for (k = 0; k < 3; k++)
		for (ci = 0; ci < NCALLERS; ci++) {
			const caller *c = &callers[ci];
			const char *l;
			reply r;
			long want;
			int any;
			if (!build(&q, h, rt, method, variant, ms[k], os[k], ++*seq))
				break; /* no such variant for this model */
			ran++;
			cases++;
			want = expect(rt, &q, c, ms[k], &any);
			if (http(h, &r, c, method, q.url, q.body, q.len) < 0)
				r.status = -1;
			if (!judge(&r, &q, c, ms[k], want, any, &l) && bad++ < 4)
				diag("%s %s as %s: got %ld, want %ld%s%s%s: %.200s", method, q.text,
				     c->label, r.status, want, any ? " (or anything but a refusal)" : "",
				     l ? "; LEAKS " : "", l ? l : "",
				     r.body.data && r.body.data[0] == '{' ? r.body.data : "");
			reply_free(&r);
			free(q.body);
		}
	if (ran)
		ok(bad == 0, "%s %s (variant %d): %zu cases", method, rt->pattern, variant, ran);
	return ran > 0;
}

/* ---- what the walk does not show by itself ---- */

/* @text with every @id in it replaced by "ID". */
static char *without(const char *text, const char *id)
{
	char *out = strdup(text ? text : ""), *p;

	if (!out)
		bail("out of memory");
	while ((p = strstr(out, id)))
		memmove(p + 2, p + strlen(id), strlen(p + strlen(id)) + 1), memcpy(p, "ID", 2);
	return out;
}

/* An object of another model answers exactly as one that does not exist. */
static void same_as_missing(CURL *h, const caller *c)
{
	const model *a = &models[0];
	char fake[65], path[2][256], body[2][200];
	const char *real[3] = { a->v2, a->only_file, a->chunks[0] };
	int k, j;

	for (k = 0; k < 3; k++) {
		reply r[2];
		char *t[2];
		snprintf(fake, sizeof(fake), "%.63s%c", real[k], real[k][63] == '0' ? '1' : '0');
		for (j = 0; j < 2; j++) {
			const char *id = j ? fake : real[k];
			snprintf(path[j], sizeof(path[j]), "/v1/objects/%s/%s", k ? "files" : "manifests", id);
			snprintf(body[j], sizeof(body[j]), "{\"ids\":[\"%s\"]}", id);
			if (k < 2 ? http(h, &r[j], c, "GET", path[j], NULL, 0)
				  : http(h, &r[j], c, "POST", "/v1/chunks", body[j], strlen(body[j])))
				bail("request failed");
			t[j] = without(r[j].body.data, id);
		}
		ok(r[0].status == 404 && r[1].status == 404 && !strcmp(t[0], t[1]),
		   "as %s, alpha's %s answers exactly as a missing one", c->label,
		   k == 0 ? "manifest" : k == 1 ? "chunk list" : "chunk");
		if (strcmp(t[0], t[1]))
			diag("alpha's: %ld %s", r[0].status, t[0]), diag("missing: %ld %s", r[1].status, t[1]);
		for (j = 0; j < 2; j++) {
			free(t[j]);
			reply_free(&r[j]);
		}
	}
}

static int version_count(CURL *h, const model *m)
{
	char path[256];
	cJSON *doc;
	int n;

	snprintf(path, sizeof(path), "/v1/models/%s/versions", m->enc);
	if (!(doc = get_json(h, admin, "GET", path, NULL, 200)))
		bail("GET %s", path);
	n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "versions"));
	cJSON_Delete(doc);
	return n;
}

/* A writer for team/ models only cannot build on alpha: 403 and nothing committed. */
static void no_parent_in_alpha(CURL *h, const caller *c)
{
	char path[256];
	int before = version_count(h, &models[1]);
	reply r;
	req q;

	memset(&q, 0, sizeof(q));
	commit_body(&q, &models[1], &models[0], 999999);
	snprintf(path, sizeof(path), "/v1/models/%s/versions", models[1].enc);
	if (http(h, &r, c, "POST", path, q.body, q.len) < 0)
		bail("POST %s", path);
	ok(r.status == 403 && r.body.data && strstr(r.body.data, "\"forbidden\""),
	   "as %s, a commit of team/y with a parent in alpha is 403 forbidden", c->label);
	is_int(version_count(h, &models[1]), before, "and nothing was committed");
	reply_free(&r);
	free(q.body);
}

int main(void)
{
	static const srv_route undeclared = { EVHTTP_REQ_GET, "/v1/new", NULL, SRV_SCOPE_READ, 0 };
	static const srv_route open_content = { EVHTTP_REQ_GET, "/v1/x/{id}", NULL, SRV_SCOPE_NONE,
						SRV_AUTHZ_CONTENT };
	const srv_route *routes;
	size_t nroutes, i, k, bad = 0;
	int seq = 0, variant, status = -1, rc;
	CURL *h;
	reply r;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || !(h = curl_easy_init()))
		bail("sodium_init / curl");

	routes = srv_routes(&nroutes);
	for (i = 0; i < nroutes; i++)
		if (!declared(&routes[i]) && bad++ < 8)
			diag("route %s declares no fitting authz class (%d)", routes[i].pattern,
			     routes[i].authz);
	ok(nroutes > 0 && bad == 0, "each of the %zu routes declares how it keeps to the token's "
	   "models", nroutes);
	ok(!declared(&undeclared) && !declared(&open_content),
	   "a route without a class, or reads by hash without a token, would fail that");

	fixture_setup(h);
	for (i = 0; i < nroutes; i++)
		for (k = 0; k < sizeof(methods) / sizeof(methods[0]); k++) {
			if (!(routes[i].methods & methods[k].bit))
				continue;
			for (variant = 0; variant < 8; variant++)
				if (!walk_one(h, &routes[i], methods[k].name, variant, &seq))
					break;
			ok(variant > 0, "%s %s was walked", methods[k].name, routes[i].pattern);
		}
	diag("%zu cases: %zu routes, each method and variant, %d callers, 2 models", cases, nroutes,
	     NCALLERS);

	same_as_missing(h, &callers[1]);      /* read, team/ models */
	same_as_missing(h, &callers[3]);      /* read 'nomatch-*' */
	no_parent_in_alpha(h, &callers[NGLOBS + 1]);  /* write, team/ models */
	{
		caller bogus = { .token = "mvms_0000000000000000_x", .label = "a bad token" };
		if (http(h, &r, &bogus, "GET", "/metrics", NULL, 0) < 0)
			bail("GET /metrics");
		is_int(r.status, 401, "/metrics with a bad token is 401 (no token: 200)");
		reply_free(&r);
	}

	curl_easy_cleanup(h);
	rc = fixture_stop(&status);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the server exits 0 (status %d)", status);
	is_int(rc, 0, "verify is clean after the walk");
	curl_global_cleanup();
	fixture_cleanup();
	return done_testing();
}
