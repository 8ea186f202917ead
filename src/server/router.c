/* SPDX-License-Identifier: MIT */
/*
 * Routing: one table of {method, pattern, handler, scope, authz}; cross-cutting checks
 * first (read-only mode, authentication with bearer tokens, scope, and the model glob for
 * routes whose first capture is the model), then the handler. Patterns match raw path
 * segments; captures are decoded after matching. A model name ({m}) is one segment, or two
 * for an org/name written without %2F: a path is read with a one-segment name first, and
 * with a two-segment one only when no route has that shape, so the route words (versions,
 * branches, ...) win over a model's second segment (docs/http-api.md, "Model names in
 * paths"). Every request is answered exactly once.
 */
#include <fnmatch.h>
#include <sys/queue.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include "server.h"


#define M_GET (EVHTTP_REQ_GET | EVHTTP_REQ_HEAD)
#define M_POST EVHTTP_REQ_POST
#define M_PUT EVHTTP_REQ_PUT
#define M_DELETE EVHTTP_REQ_DELETE

/*
 * Every route says how it is kept to the token's models (enum srv_authz, server.h): one
 * without a declaration is refused at dispatch, and tests/test-authz walks this table with
 * tokens of every scope and model glob.
 */
static const srv_route routes[] = {
	{ M_GET, "/healthz", srv_handle_healthz, SRV_SCOPE_NONE, SRV_AUTHZ_PUBLIC },
	{ M_GET, "/metrics", srv_handle_metrics, SRV_SCOPE_NONE, SRV_AUTHZ_FILTERED },
	{ M_GET, "/v1/store", srv_store_info, SRV_SCOPE_READ, SRV_AUTHZ_STORE },
	{ M_GET, "/v1/models", srv_models_list, SRV_SCOPE_READ, SRV_AUTHZ_FILTERED },
	{ M_POST, "/v1/models", srv_models_create, SRV_SCOPE_WRITE, SRV_AUTHZ_NAMED },
	{ M_GET, "/v1/models/{m}", srv_model_get, SRV_SCOPE_READ, SRV_AUTHZ_MODEL },
	{ M_GET, "/v1/models/{m}/versions", srv_versions_list, SRV_SCOPE_READ, SRV_AUTHZ_MODEL },
	{ M_POST, "/v1/models/{m}/versions", srv_version_commit, SRV_SCOPE_WRITE, SRV_AUTHZ_MODEL },
	{ M_GET, "/v1/models/{m}/versions/{ref}", srv_version_get,
	  SRV_SCOPE_READ, SRV_AUTHZ_MODEL },
	{ M_GET, "/v1/models/{m}/versions/{ref}/lineage", srv_lineage,
	  SRV_SCOPE_READ, SRV_AUTHZ_MODEL },
	{ M_GET, "/v1/models/{m}/versions/{ref}/files", srv_files_list,
	  SRV_SCOPE_READ, SRV_AUTHZ_MODEL },
	{ M_GET, "/v1/models/{m}/versions/{ref}/files/{path*}", srv_file_get,
	  SRV_SCOPE_READ, SRV_AUTHZ_MODEL },
	{ M_GET, "/v1/models/{m}/diff", srv_diff, SRV_SCOPE_READ, SRV_AUTHZ_MODEL },
	{ M_GET, "/v1/models/{m}/merge-base", srv_merge_base, SRV_SCOPE_READ, SRV_AUTHZ_MODEL },
	{ M_POST, "/v1/models/{m}/merge", srv_merge, SRV_SCOPE_WRITE, SRV_AUTHZ_MODEL },
	{ M_GET, "/v1/models/{m}/branches", srv_branches_list, SRV_SCOPE_READ, SRV_AUTHZ_MODEL },
	{ M_POST, "/v1/models/{m}/branches", srv_branch_create, SRV_SCOPE_WRITE, SRV_AUTHZ_MODEL },
	{ M_DELETE, "/v1/models/{m}/branches/{name}", srv_branch_delete,
	  SRV_SCOPE_WRITE, SRV_AUTHZ_MODEL },
	/* Editing history (h_history.c). Deleting a whole model takes admin (checked in
	 * srv_model_delete: its dry run only needs write). */
	{ M_PUT, "/v1/models/{m}/branches/{name}", srv_branch_move, SRV_SCOPE_WRITE, SRV_AUTHZ_MODEL },
	{ M_POST, "/v1/models/{m}/branches/{name}/rename", srv_branch_rename,
	  SRV_SCOPE_WRITE, SRV_AUTHZ_MODEL },
	{ M_GET, "/v1/models/{m}/default-branch", srv_branch_default, SRV_SCOPE_READ, SRV_AUTHZ_MODEL },
	{ M_PUT, "/v1/models/{m}/default-branch", srv_branch_default, SRV_SCOPE_WRITE, SRV_AUTHZ_MODEL },
	{ M_DELETE, "/v1/models/{m}/tags/{name}", srv_tag_delete, SRV_SCOPE_WRITE, SRV_AUTHZ_MODEL },
	{ M_DELETE, "/v1/models/{m}/versions/{ref}", srv_version_delete,
	  SRV_SCOPE_WRITE, SRV_AUTHZ_MODEL },
	{ M_DELETE, "/v1/models/{m}", srv_model_delete, SRV_SCOPE_WRITE, SRV_AUTHZ_MODEL },
	{ M_POST, "/v1/models/{m}/prune", srv_prune, SRV_SCOPE_WRITE, SRV_AUTHZ_MODEL },
	{ M_GET, "/v1/models/{m}/tags", srv_tags_list, SRV_SCOPE_READ, SRV_AUTHZ_MODEL },
	{ M_POST, "/v1/models/{m}/tags", srv_tag_create, SRV_SCOPE_WRITE, SRV_AUTHZ_MODEL },
	{ M_PUT | M_POST, "/v1/models/{m}/upload", srv_upload, SRV_SCOPE_WRITE, SRV_AUTHZ_MODEL },
	{ M_GET, "/v1/models/{m}/deployments", srv_deployments_list,
	  SRV_SCOPE_READ, SRV_AUTHZ_MODEL },
	{ M_GET, "/v1/models/{m}/deployments/{env}", srv_deployment_get,
	  SRV_SCOPE_READ, SRV_AUTHZ_MODEL },
	{ M_POST, "/v1/models/{m}/deployments/{env}", srv_deployment_deploy,
	  SRV_SCOPE_WRITE, SRV_AUTHZ_MODEL },
	{ M_POST, "/v1/models/{m}/deployments/{env}/undeploy", srv_deployment_undeploy,
	  SRV_SCOPE_WRITE, SRV_AUTHZ_MODEL },
	{ M_POST, "/v1/models/{m}/deployments/{env}/rollback", srv_deployment_rollback,
	  SRV_SCOPE_WRITE, SRV_AUTHZ_MODEL },
	{ M_GET, "/v1/models/{m}/deployments/{env}/history", srv_deployment_history,
	  SRV_SCOPE_READ, SRV_AUTHZ_MODEL },
	{ M_GET, "/v1/models/{m}/deployments/{env}/status", srv_deployment_status,
	  SRV_SCOPE_READ, SRV_AUTHZ_MODEL },
	{ M_GET, "/v1/models/{m}/deployments/{env}/rollout", srv_rollout_get,
	  SRV_SCOPE_READ, SRV_AUTHZ_MODEL },
	{ M_POST, "/v1/models/{m}/deployments/{env}/rollout", srv_rollout_start,
	  SRV_SCOPE_WRITE, SRV_AUTHZ_MODEL },
	{ M_POST, "/v1/models/{m}/deployments/{env}/rollout/{action}", srv_rollout_control,
	  SRV_SCOPE_WRITE, SRV_AUTHZ_MODEL },
	{ M_GET | M_POST | M_PUT, "/v1/models/{m}/deployments/{env}/predict", srv_predict,
	  SRV_SCOPE_READ, SRV_AUTHZ_MODEL },
	{ M_GET | M_POST | M_PUT, "/predict/{m}/{env}", srv_predict, SRV_SCOPE_READ, SRV_AUTHZ_MODEL },
	{ M_POST, "/v1/chunks/missing", srv_chunks_missing, SRV_SCOPE_WRITE, SRV_AUTHZ_UPLOAD },
	{ M_POST, "/v1/chunks", srv_chunks_get, SRV_SCOPE_READ, SRV_AUTHZ_CONTENT },
	{ M_PUT, "/v1/packs/{id}", srv_pack_put, SRV_SCOPE_WRITE, SRV_AUTHZ_UPLOAD },
	{ M_GET, "/v1/models/{m}/versions/{ref}/bases/{path*}", srv_file_bases,
	  SRV_SCOPE_READ, SRV_AUTHZ_MODEL },
	/* Leases hold gc back store-wide and name nothing of any model. */
	{ M_POST, "/v1/leases", srv_lease_create, SRV_SCOPE_WRITE, SRV_AUTHZ_STORE },
	{ M_POST, "/v1/leases/{id}", srv_lease_renew, SRV_SCOPE_WRITE, SRV_AUTHZ_STORE },
	{ M_DELETE, "/v1/leases/{id}", srv_lease_release, SRV_SCOPE_WRITE, SRV_AUTHZ_STORE },
	{ M_GET, "/v1/objects/{kind}/{id}", srv_object_get, SRV_SCOPE_READ, SRV_AUTHZ_CONTENT },
	/* Administration: about every model, so for tokens of all models only (h_admin.c). */
	{ M_GET, "/v1/stats", srv_stats, SRV_SCOPE_READ, SRV_AUTHZ_ALL },
	{ M_POST, "/v1/verify", srv_verify, SRV_SCOPE_ADMIN, SRV_AUTHZ_ALL },
	{ M_POST, "/v1/gc", srv_gc, SRV_SCOPE_ADMIN, SRV_AUTHZ_ALL },
	{ M_GET, "/v1/tokens", srv_tokens_list, SRV_SCOPE_ADMIN, SRV_AUTHZ_ALL },
	{ M_POST, "/v1/tokens", srv_token_create, SRV_SCOPE_ADMIN, SRV_AUTHZ_ALL },
	{ M_DELETE, "/v1/tokens/{id}", srv_token_revoke, SRV_SCOPE_ADMIN, SRV_AUTHZ_ALL },
	/* The Hugging Face Hub's read API (h_hf.c, hf_tree.c, hf_resolve.c): a model the token
	 * does not cover is not found, as on the Hub. */
	{ M_GET, "/api/models", srv_hf_models_list, SRV_SCOPE_READ, SRV_AUTHZ_FILTERED },
	{ M_GET, "/api/models/{m}", srv_hf_model_info, SRV_SCOPE_READ, SRV_AUTHZ_HIDDEN },
	{ M_GET, "/api/models/{m}/revision/{rev}", srv_hf_model_info, SRV_SCOPE_READ,
	  SRV_AUTHZ_HIDDEN },
	{ M_GET, "/api/models/{m}/refs", srv_hf_refs, SRV_SCOPE_READ, SRV_AUTHZ_HIDDEN },
	{ M_GET, "/api/models/{m}/commits/{rev}", srv_hf_commits, SRV_SCOPE_READ, SRV_AUTHZ_HIDDEN },
	{ M_GET, "/api/models/{m}/tree/{rev}", srv_hf_tree, SRV_SCOPE_READ, SRV_AUTHZ_HIDDEN },
	{ M_GET, "/api/models/{m}/tree/{rev}/{path*}", srv_hf_tree, SRV_SCOPE_READ, SRV_AUTHZ_HIDDEN },
	/* A read whose body names the paths. */
	{ M_POST, "/api/models/{m}/paths-info/{rev}", srv_hf_paths_info, SRV_SCOPE_READ,
	  SRV_AUTHZ_HIDDEN },
	{ M_GET, "/{m}/resolve/{rev}/{path*}", srv_hf_resolve, SRV_SCOPE_READ, SRV_AUTHZ_HIDDEN },
	/* The web page (h_web.c): its files show nothing of any model; whoami answers about
	 * the caller's own token only. */
	{ M_GET, "/", srv_web_index, SRV_SCOPE_NONE, SRV_AUTHZ_PUBLIC },
	{ M_GET, "/ui/{file}", srv_web_asset, SRV_SCOPE_NONE, SRV_AUTHZ_PUBLIC },
	{ M_GET, "/v1/whoami", srv_whoami, SRV_SCOPE_NONE, SRV_AUTHZ_FILTERED },
	/* Signed releases (h_sign.c): a policy names no model but binds every model's
	 * environment of its name, so changing one is for tokens of all models only. */
	{ M_GET, "/v1/models/{m}/versions/{ref}/signatures", srv_signatures_list,
	  SRV_SCOPE_READ, SRV_AUTHZ_MODEL },
	{ M_POST, "/v1/models/{m}/versions/{ref}/signatures", srv_signature_add,
	  SRV_SCOPE_WRITE, SRV_AUTHZ_MODEL },
	{ M_GET, "/v1/env-policies/{env}", srv_env_policy_get, SRV_SCOPE_READ, SRV_AUTHZ_STORE },
	{ M_PUT | M_DELETE, "/v1/env-policies/{env}", srv_env_policy_set,
	  SRV_SCOPE_ADMIN, SRV_AUTHZ_ALL },
};

const srv_route *srv_routes(size_t *count)
{
	*count = sizeof(routes) / sizeof(routes[0]);
	return routes;
}

/* Matches @path against @pattern; captures raw segments (not yet decoded). With
 * @model_segs 2, {m} takes two segments ("org/name"), both non-empty. */
static int match(const char *pattern, const char *path, char **caps, size_t *ncaps,
		 int model_segs)
{
	const char *p = pattern, *s = path;

	*ncaps = 0;
	while (*p && *s) {
		if (*p == '{') {
			const char *close = strchr(p, '}');
			int rest = close && close > p && close[-1] == '*';
			const char *end = rest ? s + strlen(s) : strchrnul(s, '/');
			if (close && model_segs == 2 && strncmp(p, "{m}", 3) == 0 && end != s) {
				if (*end != '/' || end[1] == '/' || end[1] == '\0')
					return 0;
				end = strchrnul(end + 1, '/');
			}
			if (!close || end == s || *ncaps >= 4)
				return 0;
			caps[(*ncaps)++] = strndup(s, (size_t)(end - s));
			p = close + 1;
			s = end;
			continue;
		}
		if (*p != *s)
			return 0;
		p++;
		s++;
	}
	return *p == '\0' && *s == '\0';
}

static void free_caps(char **caps, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(caps[i]);
		caps[i] = NULL;
	}
}

const char *srv_query(srv_req *r, const char *key)
{
	return evhttp_find_header(&r->query, key);
}

void srv_body(const unsigned char **data, size_t *len, srv_req *r)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(r->req);

	*len = evbuffer_get_length(in);
	*data = *len ? evbuffer_pullup(in, -1) : (const unsigned char *)"";
}

cJSON *srv_body_json(srv_req *r)
{
	const unsigned char *data;
	size_t len;
	cJSON *doc;

	srv_body(&data, &len, r);
	if (len > r->opts->max_json) {
		srv_reply_error(r, 413, "too_large", "JSON body over %llu bytes",
				(unsigned long long)r->opts->max_json);
		return NULL;
	}
	{
		const char *end = NULL;
		doc = cJSON_ParseWithLengthOpts((const char *)data, len, &end, 0);
		/* Nothing but white space may follow the object. */
		while (doc && end && end < (const char *)data + len &&
		       (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
			end++;
		if (doc && end != (const char *)data + len) {
			cJSON_Delete(doc);
			doc = NULL;
		}
	}
	if (!doc || !cJSON_IsObject(doc)) {
		cJSON_Delete(doc);
		srv_reply_error(r, 400, "bad_json", "the body is not a JSON object");
		return NULL;
	}
	/* cJSON would cut a string at an escaped NUL: {"name":"a\u0000b"} would name "a". */
	if (mvms_json_has_nul((const char *)data, len)) {
		cJSON_Delete(doc);
		srv_reply_error(r, 400, "bad_json",
				"a string in the body holds a NUL (\\u0000), which is not accepted");
		return NULL;
	}
	return doc;
}

int srv_require(srv_req *r, int scope, const char *model)
{
	if (scope >= SRV_SCOPE_WRITE && r->opts->read_only) {
		srv_reply_error(r, 403, "read_only", "this server is read-only");
		return -1;
	}
	if ((r->scope == SRV_SCOPE_NONE || r->anonymous) && scope > r->scope) {
		evhttp_add_header(evhttp_request_get_output_headers(r->req), "WWW-Authenticate",
				  "Bearer realm=\"mvms-store\"");
		srv_reply_error(r, 401, "unauthorized",
				"a token is needed (Authorization: Bearer TOKEN)");
		return -1;
	}
	if (r->scope < scope) {
		srv_reply_error(r, 403, "forbidden", "the token's scope does not allow this");
		return -1;
	}
	if (model && r->token_models && fnmatch(r->token_models, model, 0) != 0) {
		srv_reply_error(r, 403, "forbidden", "the token does not cover model '%s'", model);
		return -1;
	}
	return 0;
}

/* A read whose client asks for the newest refs ("Cache-Control: no-cache", or max-age=0):
 * a remote push reads its branch's head so, since the commit that follows will check it
 * against the newest refs anyway (docs/backends.md, several servers on one bucket). */
static int wants_fresh(const srv_req *r)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(r->req),
					   "Cache-Control");

	return h && (strstr(h, "no-cache") || strstr(h, "max-age=0"));
}

/* Sets r->scope from the Authorization header (or anonymity). 0, or -1 after replying. */
static int authenticate(srv_req *r)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(r->req), "Authorization");
	mvms_token_info *t = NULL;
	int error;

	if (!h) {
		r->anonymous = 1;
		r->scope = r->opts->allow_anonymous_read ? SRV_SCOPE_READ : SRV_SCOPE_NONE;
		return 0;
	}
	if (strncasecmp(h, "Bearer ", 7) != 0) {
		srv_reply_error(r, 401, "unauthorized", "only Bearer tokens are accepted");
		return -1;
	}
	if ((error = mvms_token_verify(&t, r->st, h + 7)) < 0) {
		srv_reply_error(r, 401, "unauthorized", "%s", mvms_error_last());
		return -1;
	}
	r->scope = t->scope;
	r->token_models = strdup(t->models);
	mvms_token_info_free(t);
	return 0;
}

void srv_req_detach(srv_req *dst, const srv_req *r)
{
	*dst = *r;
	memset(dst->caps, 0, sizeof(dst->caps));
	dst->ncaps = 0;
	dst->token_models = NULL;
	dst->counted_upload = 0;
}

void srv_dispatch(struct evhttp_request *req, void *arg)
{
	srv_worker *w = arg;
	srv_req r;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
	char *caps[4] = { NULL, NULL, NULL, NULL };
	size_t ncaps = 0, i, k;
	int method_seen = 0, error, segs;
	const srv_route *rt = NULL;

	memset(&r, 0, sizeof(r));
	r.req = req;
	r.w = w;
	r.st = srv_worker_store(w);
	r.opts = srv_worker_options(w);
	r.method = evhttp_request_get_command(req);
	r.t0 = srv_now();
	r.bytes_in = evbuffer_get_length(evhttp_request_get_input_buffer(req));
	TAILQ_INIT(&r.query);
	mvms_error_clear();
	if (!path || !*path)
		path = "/";
	{
		/* A request the gate refused before libevent could answer it with HTML. */
		const char *why, *code;
		int status;
		if (srv_gate_refusal(req, &status, &code, &why)) {
			r.route = "-";
			evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
			srv_reply_error(&r, status, code, "%s", why);
			goto done;
		}
	}
	/* A NUL in a decoded value would silently cut it short ("a%00b" -> "a"): refuse. */
	if (q && (strstr(q, "%00") || evhttp_parse_query_str(q, &r.query) < 0)) {
		srv_reply_error(&r, 400, "bad_query", "malformed query string");
		goto done;
	}
	/* One-segment model names first; org/name only when no route has the path's shape. */
	for (segs = 1; segs <= 2 && !rt && !method_seen; segs++) {
		for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
			if (!match(routes[i].pattern, path, caps, &ncaps, segs)) {
				free_caps(caps, ncaps);
				continue;
			}
			if (!(routes[i].methods & (unsigned)r.method)) {
				method_seen = 1;
				free_caps(caps, ncaps);
				continue;
			}
			rt = &routes[i];
			break;
		}
	}
	if (!rt) {
		if (method_seen)
			srv_reply_error(&r, 405, "method_not_allowed", "%s does not take this method", path);
		else
			srv_reply_error(&r, 404, "no_route", "no such endpoint: %s (a model name in a "
					"path is one segment, or two for org/name; write any other '/' "
					"in it as %%2F, e.g. /v1/models/a%%2Fb%%2Fc/versions)", path);
		goto done;
	}
	r.route = rt->pattern;
	/* The Hub's routes answer errors as the Hub does (reply.c). */
	r.hub_errors = rt->authz == SRV_AUTHZ_HIDDEN ? 2 : strncmp(rt->pattern, "/api/", 5) == 0;
	/* Fail closed: a route must say how it keeps to the token's models (authz.c). */
	if (rt->authz == SRV_AUTHZ_UNDECLARED ||
	    ((rt->authz == SRV_AUTHZ_MODEL || rt->authz == SRV_AUTHZ_HIDDEN) && ncaps == 0)) {
		srv_reply_error(&r, 500, "error", "route %s declares no authorization", rt->pattern);
		goto done;
	}
	for (k = 0; k < ncaps; k++) {
		/* Decoded with '+' kept literal: these are path segments, not form fields. */
		size_t declen = 0;
		char *dec = evhttp_uridecode(caps[k], 0, &declen);
		if (!dec || strlen(dec) != declen) { /* %00 inside a segment */
			free(dec);
			srv_reply_error(&r, 400, "bad_path", "malformed path segment");
			goto done;
		}
		r.caps[k] = dec;
		r.ncaps++;
	}
	/* The database is a cache of the bucket's log (docs/formats.md): a write works on the
	 * newest refs, a read on refs at most --refresh seconds old; a token made on another
	 * server is found once caught up. */
	if ((error = mvms_store_refresh(r.st, (r.method == EVHTTP_REQ_GET ||
					       r.method == EVHTTP_REQ_HEAD) && !wants_fresh(&r)
					      ? r.opts->refresh : 0)) < 0 &&
	    r.method != EVHTTP_REQ_GET && r.method != EVHTTP_REQ_HEAD) {
		srv_reply_mvms(&r, error);
		goto done;
	}
	/* A filtered answer needs no token, but one presented decides what it shows. */
	if ((rt->scope > SRV_SCOPE_NONE || rt->authz == SRV_AUTHZ_FILTERED) && authenticate(&r) < 0)
		goto done;
	if (rt->scope > SRV_SCOPE_NONE &&
	    srv_require(&r, rt->scope, rt->authz == SRV_AUTHZ_MODEL ? r.caps[0] : NULL) < 0)
		goto done;
	if (rt->authz == SRV_AUTHZ_HIDDEN && !srv_authz_covers(&r, r.caps[0])) {
		srv_reply_hidden(&r);
		goto done;
	}
	error = rt->handler(&r);
	if (error < 0 && !r.replied)
		srv_reply_mvms(&r, error);
	else if (!r.replied)
		srv_reply_error(&r, 500, "error", "the handler did not reply");
done:
	if (r.counted_upload)
		srv_metrics_uploads(-1);
	free_caps(caps, ncaps);
	for (k = 0; k < r.ncaps; k++)
		free(r.caps[k]);
	free(r.token_models);
	evhttp_clear_headers(&r.query);
}

int srv_upload_begin(srv_req *r)
{
	if (!srv_metrics_upload_try((int)r->opts->max_uploads)) {
		evhttp_add_header(evhttp_request_get_output_headers(r->req), "Retry-After", "1");
		srv_reply_error(r, 429, "too_many_uploads", "%u uploads are running; retry later",
				r->opts->max_uploads);
		return -1;
	}
	r->counted_upload = 1;
	return 0;
}

int srv_handle_healthz(srv_req *r)
{
	cJSON *doc = cJSON_CreateObject();

	cJSON_AddStringToObject(doc, "status", "ok");
	srv_reply_json(r, 200, doc);
	return 0;
}
