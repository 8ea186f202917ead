/* SPDX-License-Identifier: MIT */
/*
 * The web page for people (docs/web-ui.md): GET / and GET /ui/{file} serve the HTML, CSS and
 * JavaScript of src/server/web, compiled into the binary (web_assets.h, made by
 * src/server/web/embed.sh), under a strict Content-Security-Policy; and GET /v1/whoami
 * tells a page what its token may do, so that it shows only the buttons that will work.
 * The page reads everything else from the /v1 JSON API with its token; the server enforces
 * every check there, whatever the page shows. No file is read from disk here.
 */
#include <fnmatch.h>
#include <string.h>
#include <event2/http.h>
#include "server.h"
#include "views.h"
#include "web_assets.h"

/*
 * Scripts and styles from this server's own files only: no inline script or style, no
 * eval, no other origin; the page is never framed and sends no referrer. Everything the page
 * draws is built with DOM calls (textContent), never from HTML strings.
 */
#define WEB_CSP "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " \
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; " \
	"frame-ancestors 'none'"

static int reply_asset(srv_req *r, const char *name)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);
	size_t i;

	for (i = 0; i < sizeof(web_assets) / sizeof(web_assets[0]); i++) {
		if (strcmp(web_assets[i].name, name) != 0)
			continue;
		evhttp_add_header(h, "Content-Security-Policy", WEB_CSP);
		evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
		evhttp_add_header(h, "X-Frame-Options", "DENY");
		evhttp_add_header(h, "Referrer-Policy", "no-referrer");
		/* The files change with the binary: a browser asks again rather than keep an old
		 * page beside a new server. */
		evhttp_add_header(h, "Cache-Control", "no-cache");
		srv_reply_bytes(r, 200, web_assets[i].type, web_assets[i].data, web_assets[i].len);
		return 0;
	}
	return srv_reply_error(r, 404, "not_found", "no such file of the web page: %s", name);
}

int srv_web_index(srv_req *r)
{
	return reply_asset(r, "index.html");
}

int srv_web_asset(srv_req *r)
{
	/* The page itself only at /, so that relative links resolve one way. */
	if (!strcmp(r->caps[0], "index.html"))
		return srv_reply_error(r, 404, "not_found", "the page is at /");
	return reply_asset(r, r->caps[0]);
}

/*
 * GET /v1/whoami[?model=M]: the caller's scope and model glob; with a model, what it may do
 * with that model (the same checks as srv_require, so a page never offers what the server
 * would refuse). A presented token that does not verify is a 401 before this (router.c).
 */
int srv_whoami(srv_req *r)
{
	const char *model = srv_query(r, "model");
	int scope = r->opts->read_only && r->scope > SRV_SCOPE_READ ? SRV_SCOPE_READ : r->scope;
	mvms_token_info me;
	cJSON *doc, *may;

	if (model && !*model)
		return srv_reply_error(r, 400, "bad_query", "the query parameter 'model' is empty");
	/* As token whoami --json prints it, then what only a server knows. */
	memset(&me, 0, sizeof(me));
	me.scope = r->scope;
	me.models = r->token_models ? r->token_models : r->scope > SRV_SCOPE_NONE ? (char *)"*" : NULL;
	doc = view_whoami(&me);
	cJSON_AddBoolToObject(doc, "anonymous", r->anonymous);
	cJSON_AddBoolToObject(doc, "read_only", r->opts->read_only);
	if (model) {
		int covered = r->scope > SRV_SCOPE_NONE &&
			(!r->token_models || fnmatch(r->token_models, model, 0) == 0);
		cJSON_AddStringToObject(doc, "model", model);
		may = cJSON_AddObjectToObject(doc, "may");
		cJSON_AddBoolToObject(may, "read", covered && scope >= SRV_SCOPE_READ);
		cJSON_AddBoolToObject(may, "write", covered && scope >= SRV_SCOPE_WRITE);
		cJSON_AddBoolToObject(may, "admin", covered && scope >= SRV_SCOPE_ADMIN);
	}
	srv_reply_json(r, 200, doc);
	return 0;
}
