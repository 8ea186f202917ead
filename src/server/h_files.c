/* SPDX-License-Identifier: MIT */
/*
 * GET /v1/models/{m}/versions/{ref}/files[?path=P&tensors=1]: a version's file listing,
 * the document `mvms-store ls --json` prints (both render mvms_version_ls with views.c).
 */
#include <stdio.h>
#include <string.h>
#include "server.h"
#include "views.h"

int srv_files_list(srv_req *r)
{
	const char *tq = srv_query(r, "tensors"), *path = srv_query(r, "path");
	char spec[512];
	mvms_listing *l = NULL;
	int error;

	if (strchr(r->caps[1], '@'))
		return srv_reply_error(r, 400, "bad_ref", "the ref in the path may not contain '@'");
	if (tq && strcmp(tq, "0") != 0 && strcmp(tq, "1") != 0)
		return srv_reply_error(r, 400, "bad_query", "tensors must be 0 or 1");
	snprintf(spec, sizeof(spec), "%s@%s", r->caps[0], r->caps[1]);
	if ((error = mvms_version_ls(&l, r->st, spec, path, tq && strcmp(tq, "1") == 0)) < 0)
		return error;
	srv_reply_json(r, 200, view_listing(l, tq && strcmp(tq, "1") == 0));
	mvms_listing_free(l);
	return 0;
}
