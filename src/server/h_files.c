/* SPDX-License-Identifier: MIT */
/*
 * GET /v1/models/{m}/versions/{ref}/files[?path=P&tensors=1]: a version's file listing,
 * the document `mvms-store ls --json` prints (listing.c builds both).
 */
#include <stdio.h>
#include <string.h>
#include "server.h"
#include "listing.h"

int srv_files_list(srv_req *r)
{
	const char *tq = srv_query(r, "tensors"), *path = srv_query(r, "path");
	char spec[512];
	cJSON *doc = NULL;
	int error;

	if (strchr(r->caps[1], '@'))
		return srv_reply_error(r, 400, "bad_ref", "the ref in the path may not contain '@'");
	if (tq && strcmp(tq, "0") != 0 && strcmp(tq, "1") != 0)
		return srv_reply_error(r, 400, "bad_query", "tensors must be 0 or 1");
	snprintf(spec, sizeof(spec), "%s@%s", r->caps[0], r->caps[1]);
	if ((error = listing_build(&doc, r->st, spec, path, tq && strcmp(tq, "1") == 0)) < 0)
		return error;
	srv_reply_json(r, 200, doc);
	return 0;
}
