/* SPDX-License-Identifier: MIT */
/*
 * Leases over HTTP (docs/http-api.md, "Leases"): a remote push takes one before it asks
 * which chunks are missing, names it in an Mvms-Lease header on the requests that write
 * (chunks/missing, pack uploads, the commit), and the server runs those writes under it:
 * each renews it, gc keeps what was written since it was taken, and the commit checks it
 * is still held and releases it. A client that fails releases it; one that is killed lets
 * it expire.
 */
#include <stdio.h>
#include <string.h>
#include <event2/http.h>
#include "server.h"

static cJSON *lease_json(const char *id, int64_t expires_at)
{
	cJSON *doc = cJSON_CreateObject();

	cJSON_AddStringToObject(doc, "lease", id);
	cJSON_AddNumberToObject(doc, "expires_at", (double)expires_at);
	cJSON_AddNumberToObject(doc, "ttl", (double)mvms_lease_ttl());
	return doc;
}

int srv_lease_create(srv_req *r)
{
	char id[MVMS_LEASE_ID_HEXSZ + 1];
	int64_t exp;
	int error;

	if ((error = mvms_lease_create(id, &exp, r->st, "remote push")) < 0)
		return error;
	srv_reply_json(r, 201, lease_json(id, exp));
	return 0;
}

int srv_lease_renew(srv_req *r)
{
	int64_t exp;
	int error = mvms_lease_renew(&exp, r->st, r->caps[0]);

	if (error == MVMS_ECONFLICT)
		return srv_reply_error(r, 409, "lease_expired", "%s", mvms_error_last());
	if (error < 0)
		return error;
	srv_reply_json(r, 200, lease_json(r->caps[0], exp));
	return 0;
}

int srv_lease_release(srv_req *r)
{
	cJSON *doc;
	int error = mvms_lease_release(r->st, r->caps[0]);

	if (error < 0)
		return error;
	doc = cJSON_CreateObject();
	cJSON_AddBoolToObject(doc, "released", 1);
	srv_reply_json(r, 200, doc);
	return 0;
}

int srv_lease_enter(srv_req *r)
{
	const char *id = evhttp_find_header(evhttp_request_get_input_headers(r->req), "Mvms-Lease");
	int error;

	if (!id)
		return 0;
	error = mvms_lease_renew(NULL, r->st, id);
	if (error == MVMS_ECONFLICT) {
		srv_reply_error(r, 409, "lease_expired", "%s", mvms_error_last());
		return -1;
	}
	if (error == MVMS_EINVALID) {
		srv_reply_error(r, 400, "bad_lease", "%s", mvms_error_last());
		return -1;
	}
	if (error < 0) {
		srv_reply_mvms(r, error);
		return -1;
	}
	mvms_store_use_lease(r->st, id);
	return 0;
}

void srv_lease_leave(srv_req *r)
{
	mvms_store_use_lease(r->st, NULL);
}

void srv_lease_end(srv_req *r, const char *id)
{
	int code = mvms_error_last_code();
	char msg[1024];

	if (!id)
		return;
	/* Best effort (an unreleased lease only expires); the request's own error stays. */
	snprintf(msg, sizeof(msg), "%s", mvms_error_last());
	mvms_lease_release(r->st, id);
	if (code)
		mvms_error_set(code, "%s", msg);
	else
		mvms_error_clear();
}
