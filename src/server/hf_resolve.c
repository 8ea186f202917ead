/* SPDX-License-Identifier: MIT */
/*
 * GET and HEAD /{m}/resolve/{rev}/{path}: a file of a revision as the Hub serves it to
 * hf_hub_download, downloadFile and transformers.js. The headers the clients read:
 *   ETag, X-Linked-Etag   the store's file id (quoted); clients key their caches by it
 *   X-Linked-Size         the whole file's size, also on a 206 (where Content-Length is the
 *                         range's); every file gets the X-Linked-* pair: the Hub sends it
 *                         for files kept outside git, and here every file is kept by content
 *   X-Repo-Commit         the version id the revision named (a snapshot's "commit")
 *   Accept-Ranges, Content-Range   one range (206), or 416 outside the file
 * The bytes stream through the store's file reader, every chunk checked against its id as
 * for GET /v1/models/{m}/versions/{ref}/files/{path} (h_stream.c). A missing path is 404
 * EntryNotFound; revisions as hf_open reads them.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "hf.h"

int srv_hf_resolve(srv_req *r)
{
	struct evkeyvalq *oh = evhttp_request_get_output_headers(r->req);
	struct evkeyvalq *ih = evhttp_request_get_input_headers(r->req);
	mvms_version_info *v = NULL;
	mvms_file_reader *reader = NULL;
	char spec[600], id[MVMS_OID_HEXSZ + 1], etag[MVMS_OID_HEXSZ + 3], num[32], cr[96];
	uint64_t size = 0, start = 0, end = 0;
	const char *inm;
	int error = 0, ranged;

	if (hf_open(&v, r, r->caps[1]) < 0)
		return 0;
	/* The version hf_open found, by id: a branch that moves meanwhile changes nothing. */
	snprintf(spec, sizeof(spec), "%s@%s", r->caps[0], v->id);
	error = mvms_file_reader_open(&reader, &size, id, r->st, spec, r->caps[2], 0, 0);
	mvms_file_reader_free(reader);
	reader = NULL;
	if (error == MVMS_ENOTFOUND) {
		evhttp_add_header(oh, "X-Repo-Commit", v->id);
		error = hf_error(r, 404, "EntryNotFound", "%s does not exist on \"%s\"", r->caps[2],
				 r->caps[1]);
		goto done;
	}
	if (error < 0)
		goto done;
	snprintf(etag, sizeof(etag), "\"%s\"", id);
	snprintf(num, sizeof(num), "%" PRIu64, size);
	evhttp_add_header(oh, "ETag", etag);
	evhttp_add_header(oh, "X-Linked-Etag", etag);
	evhttp_add_header(oh, "X-Linked-Size", num);
	evhttp_add_header(oh, "X-Repo-Commit", v->id);
	evhttp_add_header(oh, "Accept-Ranges", "bytes");
	inm = evhttp_find_header(ih, "If-None-Match");
	if (inm && (strcmp(inm, etag) == 0 || strcmp(inm, "*") == 0)) {
		srv_reply_bytes(r, 304, NULL, NULL, 0);
		goto done;
	}
	/* An empty file has no byte to range over: sent whole (200), as RFC 9110 allows,
	 * rather than 416 to a client probing with bytes=0-0. */
	ranged = size ? srv_parse_range(&start, &end, evhttp_find_header(ih, "Range"), size) : 0;
	if (ranged < 0) {
		snprintf(cr, sizeof(cr), "bytes */%" PRIu64, size);
		evhttp_add_header(oh, "Content-Range", cr);
		error = hf_error(r, 416, NULL, "the range is outside the file (%" PRIu64 " bytes)",
				 size);
		goto done;
	}
	if (!ranged) {
		start = 0;
		end = size;
	}
	if ((error = mvms_file_reader_open(&reader, NULL, NULL, r->st, spec, r->caps[2], start,
					   end)) < 0)
		goto done;
	if (ranged) {
		snprintf(cr, sizeof(cr), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, start, end - 1, size);
		evhttp_add_header(oh, "Content-Range", cr);
	}
	error = srv_stream_file(r, reader, end - start, ranged);
done:
	mvms_version_info_free(v);
	return error;
}
