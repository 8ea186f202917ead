/* SPDX-License-Identifier: MIT */
/*
 * The push and pull protocol over HTTP, and one-request uploads:
 *   GET  /v1/store                      chunking parameters a client must use
 *   POST /v1/chunks/missing             which of these chunks are missing here
 *   PUT  /v1/packs/{id}                 a pack of chunks, every one checked on arrival
 *   POST /v1/models/{m}/versions        commit a manifest (409 when the branch moved)
 *   POST /v1/chunks                     a pack of the asked chunks (pull)
 *   GET  /v1/objects/{kind}/{id}        a manifest or a chunk list, checked
 *   GET  /v1/models/{m}/versions/{ref}/files/{path}   a file's bytes, streamed, Range, ETag
 *   PUT|POST /v1/models/{m}/upload?path=...           a file (or a tar) as a new version
 * Everything here goes through libmvms's sync API; bytes are never trusted, only checked.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include "server.h"
#include "tar.h"

#define MAX_IDS (1u << 20)          /* ids in one missing-chunks question */
#define MAX_FETCH_IDS 4096          /* chunks in one fetch */
#define STREAM_PIECE (1u << 20)     /* bytes queued per write while streaming a file */
#define SENDFILE_MIN (256u << 10)   /* a records run this long is sent with sendfile */


int srv_store_info(srv_req *r)
{
	mvms_store_info info;
	cJSON *doc = cJSON_CreateObject();

	mvms_store_get_info(&info, r->st);
	cJSON_AddNumberToObject(doc, "api", 1);
	cJSON_AddStringToObject(doc, "backend", info.backend);
	cJSON_AddStringToObject(doc, "chunker", "fastcdc-gear-v1");
	cJSON_AddNumberToObject(doc, "chunk_min", info.chunk_min);
	cJSON_AddNumberToObject(doc, "chunk_avg", info.chunk_avg);
	cJSON_AddNumberToObject(doc, "chunk_max", info.chunk_max);
	cJSON_AddNumberToObject(doc, "zstd_level", info.level);
	cJSON_AddNumberToObject(doc, "pack_size", (double)info.pack_size);
	cJSON_AddNumberToObject(doc, "max_body", (double)r->opts->max_body);
	srv_reply_json(r, 200, doc);
	return 0;
}

/* Reads {"ids": ["hex", ...]} into an array. Replies 400 itself and returns -1 on bad input. */
static int read_ids(mvms_oid **out, size_t *n, srv_req *r, size_t max)
{
	cJSON *doc = srv_body_json(r), *ids, *it;
	mvms_oid *list = NULL;
	size_t k = 0, count;

	*out = NULL;
	*n = 0;
	if (!doc)
		return -1;
	ids = cJSON_GetObjectItemCaseSensitive(doc, "ids");
	if (!cJSON_IsArray(ids)) {
		cJSON_Delete(doc);
		return srv_reply_error(r, 400, "bad_request", "want {\"ids\": [hex chunk ids]}") - 1;
	}
	count = (size_t)cJSON_GetArraySize(ids);
	if (count > max) {
		cJSON_Delete(doc);
		return srv_reply_error(r, 413, "too_many", "at most %zu ids per request", max) - 1;
	}
	list = calloc(count + 1, sizeof(*list));
	if (!list) {
		cJSON_Delete(doc);
		return srv_reply_error(r, 500, "error", "out of memory") - 1;
	}
	cJSON_ArrayForEach(it, ids) {
		if (!cJSON_IsString(it) || mvms_oid_parse(&list[k], it->valuestring) < 0) {
			free(list);
			cJSON_Delete(doc);
			return srv_reply_error(r, 400, "bad_id", "ids must be 64 hex digits") - 1;
		}
		k++;
	}
	cJSON_Delete(doc);
	*out = list;
	*n = k;
	return 0;
}

int srv_chunks_missing(srv_req *r)
{
	mvms_oid *ids = NULL;
	unsigned char *missing = NULL;
	char hex[MVMS_OID_HEXSZ + 1];
	size_t n = 0, i;
	cJSON *doc, *arr;
	int error;

	if (read_ids(&ids, &n, r, MAX_IDS) < 0)
		return 0;
	/* Only renews the push's lease (its answer is what gc must not take away). */
	if (srv_lease_enter(r) < 0) {
		free(ids);
		return 0;
	}
	srv_lease_leave(r);
	missing = calloc(n + 1, 1);
	if (!missing) {
		free(ids);
		return mvms_error_set(MVMS_ERROR, "out of memory");
	}
	if ((error = mvms_sync_missing(missing, r->st, ids, n)) < 0) {
		free(ids);
		free(missing);
		return error;
	}
	doc = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(doc, "missing");
	for (i = 0; i < n; i++)
		if (missing[i]) {
			mvms_oid_fmt(hex, &ids[i]);
			cJSON_AddItemToArray(arr, cJSON_CreateString(hex));
		}
	free(ids);
	free(missing);
	srv_reply_json(r, 200, doc);
	return 0;
}

int srv_pack_put(srv_req *r)
{
	const unsigned char *data;
	size_t len;
	mvms_oid want, got;
	char hex[MVMS_OID_HEXSZ + 1];
	cJSON *doc;
	int error;

	if (mvms_oid_parse(&want, r->caps[0]) < 0)
		return srv_reply_error(r, 400, "bad_id", "pack id must be 64 hex digits");
	if (srv_upload_begin(r) < 0 || srv_lease_enter(r) < 0)
		return 0;
	srv_body(&data, &len, r);
	error = mvms_sync_receive_pack(&got, r->st, data, len, &want);
	srv_lease_leave(r);
	if (error == MVMS_ECONFLICT)
		/* A gc took an old copy of this pack as it arrived: the push starts over. */
		return srv_reply_error(r, 409, "gc_conflict", "%s", mvms_error_last());
	if (error < 0)
		return error == MVMS_EMISMATCH
			       ? srv_reply_error(r, 400, "corrupt_pack", "%s; nothing was kept",
						 mvms_error_last())
			       : error;
	mvms_oid_fmt(hex, &got);
	doc = cJSON_CreateObject();
	cJSON_AddStringToObject(doc, "pack", hex);
	cJSON_AddNumberToObject(doc, "bytes", (double)len);
	srv_reply_json(r, 201, doc);
	return 0;
}

int srv_chunks_get(srv_req *r)
{
	mvms_oid *ids = NULL, pid;
	void *pack = NULL;
	size_t n = 0, len = 0;
	char hex[MVMS_OID_HEXSZ + 1];
	int error;

	if (read_ids(&ids, &n, r, MAX_FETCH_IDS) < 0)
		return 0;
	if (n == 0) {
		free(ids);
		return srv_reply_error(r, 400, "bad_request", "no chunk ids");
	}
	/* Chunks of the covered models only; any other answers as a missing one. */
	if (srv_authz_objects(r, "chunks", ids, n) < 0) {
		free(ids);
		return 0;
	}
	error = mvms_sync_export_chunks(&pack, &len, &pid, r->st, ids, n);
	free(ids);
	if (error < 0)
		return error;
	mvms_oid_fmt(hex, &pid);
	evhttp_add_header(evhttp_request_get_output_headers(r->req), "X-Pack-Id", hex);
	srv_reply_bytes(r, 200, "application/octet-stream", pack, len);
	free(pack);
	return 0;
}

int srv_object_get(srv_req *r)
{
	mvms_oid id;
	void *data = NULL;
	size_t len = 0;
	char etag[MVMS_OID_HEXSZ + 3];
	int error;

	if (strcmp(r->caps[0], "manifests") != 0 && strcmp(r->caps[0], "files") != 0)
		return srv_reply_error(r, 404, "not_found", "no object kind '%s'", r->caps[0]);
	if (mvms_oid_parse(&id, r->caps[1]) < 0)
		return srv_reply_error(r, 400, "bad_id", "object id must be 64 hex digits");
	if (srv_authz_objects(r, r->caps[0], &id, 1) < 0)
		return 0;
	if ((error = mvms_sync_get_object(&data, &len, r->st, r->caps[0], &id)) < 0)
		return error == MVMS_EMISMATCH ? srv_reply_error(r, 500, "corrupt", "%s", mvms_error_last())
					       : error;
	snprintf(etag, sizeof(etag), "\"%s\"", r->caps[1]);
	evhttp_add_header(evhttp_request_get_output_headers(r->req), "ETag", etag);
	srv_reply_bytes(r, 200, strcmp(r->caps[0], "manifests") == 0 ? "application/json"
									 : "application/octet-stream",
			data, len);
	free(data);
	return 0;
}

static cJSON *push_result_json(const char *model, const mvms_push_result *res)
{
	cJSON *doc = cJSON_CreateObject();

	cJSON_AddStringToObject(doc, "model", model);
	cJSON_AddNumberToObject(doc, "version", (double)res->number);
	cJSON_AddStringToObject(doc, "id", res->id);
	cJSON_AddBoolToObject(doc, "created", res->created);
	cJSON_AddNumberToObject(doc, "files", (double)res->files);
	cJSON_AddNumberToObject(doc, "logical_bytes", (double)res->logical_bytes);
	cJSON_AddNumberToObject(doc, "new_stored_bytes", (double)res->new_stored_bytes);
	return doc;
}

int srv_version_commit(srv_req *r)
{
	cJSON *doc = srv_body_json(r), *man, *fms, *br, *eh, *it, *name;
	const void **maps = NULL;
	size_t *lens = NULL, nmaps = 0, i;
	unsigned char **bufs = NULL;
	mvms_push_result res;
	int error = 0;

	if (!doc)
		return 0;
	man = cJSON_GetObjectItemCaseSensitive(doc, "manifest");
	fms = cJSON_GetObjectItemCaseSensitive(doc, "filemaps");
	br = cJSON_GetObjectItemCaseSensitive(doc, "branch");
	eh = cJSON_GetObjectItemCaseSensitive(doc, "expected_head");
	if (!cJSON_IsString(man) || (fms && !cJSON_IsObject(fms)) || (br && !cJSON_IsString(br)) ||
	    !cJSON_IsString(eh)) {
		error = srv_reply_error(r, 400, "bad_request",
					"want {\"manifest\": string, \"filemaps\": {file id: base64}, "
					"\"branch\": string, \"expected_head\": version id or \"\"}");
		goto done;
	}
	/* The manifest must be for the model named in the path (the token was checked for it). */
	{
		cJSON *mdoc = cJSON_Parse(man->valuestring), *mm;
		mm = cJSON_GetObjectItemCaseSensitive(mdoc, "model");
		name = cJSON_GetObjectItemCaseSensitive(mm, "name");
		if (!cJSON_IsString(name) || strcmp(name->valuestring, r->caps[0]) != 0) {
			cJSON_Delete(mdoc);
			error = srv_reply_error(r, 400, "invalid_manifest",
						"the manifest is not for model '%s'", r->caps[0]);
			goto done;
		}
		/* Nor may it build on a version the token cannot read (403, nothing committed). */
		if (srv_authz_parents(r, mdoc) < 0) {
			cJSON_Delete(mdoc);
			goto done;
		}
		cJSON_Delete(mdoc);
	}
	nmaps = fms ? (size_t)cJSON_GetArraySize(fms) : 0;
	maps = calloc(nmaps + 1, sizeof(*maps));
	lens = calloc(nmaps + 1, sizeof(*lens));
	bufs = calloc(nmaps + 1, sizeof(*bufs));
	if (!maps || !lens || !bufs) {
		error = mvms_error_set(MVMS_ERROR, "out of memory");
		goto done;
	}
	i = 0;
	if (fms)
		cJSON_ArrayForEach(it, fms) {
			size_t blen = 0, cap;
			if (!cJSON_IsString(it)) {
				error = srv_reply_error(r, 400, "bad_request", "filemaps values must be base64");
				goto done;
			}
			cap = strlen(it->valuestring) / 4 * 3 + 3;
			bufs[i] = malloc(cap);
			if (!bufs[i] ||
			    sodium_base642bin(bufs[i], cap, it->valuestring, strlen(it->valuestring), NULL,
					      &blen, NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
				error = srv_reply_error(r, 400, "bad_request", "filemap for %s is not base64",
							it->string);
				i++;
				goto done;
			}
			maps[i] = bufs[i];
			lens[i] = blen;
			i++;
		}
	/* A bad branch name is "invalid"; past it, anything refused is the commit itself. */
	if ((error = mvms_ref_name_check(br ? br->valuestring : "main")) < 0)
		goto done;
	if (srv_lease_enter(r) < 0)
		goto done;
	error = mvms_sync_commit(&res, r->st, br ? br->valuestring : "main", eh->valuestring,
				 man->valuestring, strlen(man->valuestring), maps, lens, nmaps);
	srv_lease_leave(r);
	if (error == 0)
		/* Committed: the push is over (a failed commit keeps it for the retry). */
		srv_lease_end(r, evhttp_find_header(evhttp_request_get_input_headers(r->req),
						    "Mvms-Lease"));
	if (error == MVMS_ECONFLICT && res.gc_conflict) {
		/* Not a moved branch: a new push (the client starts over once) succeeds. */
		error = srv_reply_error(r, 409, "gc_conflict", "%s", mvms_error_last());
		goto done;
	}
	if (error == MVMS_EINVALID || error == MVMS_EMISMATCH) {
		/* The library validated the commit whole: its first problem, nothing committed. */
		error = srv_reply_error(r, 400, "invalid_manifest", "%s", mvms_error_last());
		goto done;
	}
	if (error < 0)
		goto done;
	srv_reply_json(r, 201, push_result_json(r->caps[0], &res));
done:
	for (i = 0; bufs && i < nmaps; i++)
		free(bufs[i]);
	free(bufs);
	free(maps);
	free(lens);
	cJSON_Delete(doc);
	return error;
}

/* ---- streaming a file ---- */

typedef struct stream {
	srv_req r;                 /* a copy for the access log and metrics at the end */
	struct evhttp_request *req;
	struct evhttp_connection *evcon;
	mvms_file_reader *reader;
	int records;               /* the reader gives runs of records */
} stream;

static void stream_free(stream *s)
{
	mvms_file_reader_free(s->reader);
	srv_worker_inflight(s->r.w, -1);
	free(s);
}

static void stream_closed(struct evhttp_connection *evcon, void *arg)
{
	stream *s = arg;

	(void)evcon;
	/* The client went away mid-reply: count it as what it was, and let go. libevent has
	 * detached the unfinished request from the connection it frees (it waits for our
	 * evhttp_send_reply_end, which will not come), so the request is ours to free; one
	 * still attached (the server shutting down) goes with its connection. */
	s->r.status = 499;
	srv_request_done(&s->r);
	if (!evhttp_request_get_connection(s->req))
		evhttp_request_free(s->req);
	stream_free(s);
}

/* Adds the next run of records of @r to @b (*len its length, 0 at the end). A long run of a
 * local pack goes to the socket with sendfile, no copy through us; a short one (records
 * scattered over packs) is read straight into the reply's memory and sent with the others,
 * as a sendfile each would cost a write call and a loop turn each. */
static int add_run(struct evbuffer *b, size_t *len, mvms_file_reader *r)
{
	struct evbuffer_file_segment *seg;
	struct evbuffer_iovec v;
	uint64_t at;
	int fd = -1, error = 0;

	if ((error = mvms_file_reader_next_run(len, r)) < 0 || *len == 0)
		goto done;
	if (*len >= SENDFILE_MIN && (error = mvms_file_reader_run_fd(&fd, &at, r)) < 0)
		goto done;
	if (fd >= 0) {
		seg = evbuffer_file_segment_new(fd, (ev_off_t)at, (ev_off_t)*len, EVBUF_FS_CLOSE_ON_FREE);
		if (!seg) {
			close(fd);
			error = mvms_error_set(MVMS_ERROR, "cannot map a pack for sending");
			goto done;
		}
		if (evbuffer_add_file_segment(b, seg, 0, (ev_off_t)*len) < 0)
			error = mvms_error_set(MVMS_ERROR, "out of memory");
		evbuffer_file_segment_free(seg);
		goto done;
	}
	if (evbuffer_reserve_space(b, (ev_ssize_t)*len, &v, 1) < 1 || v.iov_len < *len) {
		error = mvms_error_set(MVMS_ERROR, "out of memory");
		goto done;
	}
	if ((error = mvms_file_reader_read_run(v.iov_base, r)) < 0)
		goto done;
	v.iov_len = *len;
	evbuffer_commit_space(b, &v, 1);
done:
	return error;
}

static void stream_pump(struct evhttp_connection *evcon, void *arg)
{
	stream *s = arg;
	struct evbuffer *b = evbuffer_new();
	const void *data;
	size_t len, queued = 0;
	int error = 0;

	(void)evcon;
	/* Only ever moved whole into the connection's output, which drains to the socket: so
	 * file segments stay sendfile(2) chains instead of being mapped into memory. */
	if (b)
		evbuffer_set_flags(b, EVBUFFER_FLAG_DRAINS_TO_FD);
	while (b && queued < STREAM_PIECE) {
		if (s->records) {
			if ((error = add_run(b, &len, s->reader)) < 0 || len == 0)
				break;
		} else {
			if ((error = mvms_file_reader_next(&data, &len, s->reader)) < 0 || len == 0)
				break;
			evbuffer_add(b, data, len);
		}
		queued += len;
	}
	s->r.bytes_out += queued;
	if (error < 0 || !b) {
		/* Headers are gone already: the only honest signal left is a cut connection. */
		fprintf(stderr, "mvms-store: serve: %s\n", error < 0 ? mvms_error_last() : "out of memory");
		if (b)
			evbuffer_free(b);
		evhttp_connection_set_closecb(s->evcon, NULL, NULL);
		s->r.status = 500;
		srv_request_done(&s->r);
		evhttp_send_reply_end(s->req);
		evhttp_connection_free(s->evcon);
		stream_free(s);
		return;
	}
	if (queued == 0) {
		evbuffer_free(b);
		evhttp_connection_set_closecb(s->evcon, NULL, NULL);
		srv_request_done(&s->r);
		evhttp_send_reply_end(s->req);
		stream_free(s);
		return;
	}
	evhttp_send_reply_chunk_with_cb(s->req, b, stream_pump, s);
	evbuffer_free(b);
}

static int stream_start(srv_req *r, mvms_file_reader *reader, uint64_t len, int ranged,
			int records);

/* Parses a single "bytes=a-b" / "bytes=a-" / "bytes=-n" range. 1 with [*start, *end) set,
 * 0 without a usable header, -1 when unsatisfiable. */
static int parse_range(uint64_t *start, uint64_t *end, const char *h, uint64_t size)
{
	unsigned long long a, b;
	char tail;

	if (!h || strncmp(h, "bytes=", 6) != 0 || strchr(h, ','))
		return 0;
	h += 6;
	if (h[0] == '-') {
		if (sscanf(h + 1, "%llu%c", &a, &tail) != 1 || a == 0)
			return -1;
		*start = a >= size ? 0 : size - a;
		*end = size;
	} else if (sscanf(h, "%llu-%llu%c", &a, &b, &tail) == 2) {
		if (a > b || a >= size)
			return -1;
		*start = a;
		*end = b + 1 > size ? size : b + 1;
	} else if (sscanf(h, "%llu-%c", &a, &tail) == 1 && h[strlen(h) - 1] == '-') {
		if (a >= size)
			return -1;
		*start = a;
		*end = size;
	} else {
		return 0;
	}
	return 1;
}

int srv_file_get(srv_req *r)
{
	struct evkeyvalq *oh = evhttp_request_get_output_headers(r->req);
	struct evkeyvalq *ih = evhttp_request_get_input_headers(r->req);
	mvms_file_reader *reader = NULL;
	char spec[512], id[MVMS_OID_HEXSZ + 1], etag[MVMS_OID_HEXSZ + 5], cr[96];
	uint64_t size = 0, start = 0, end = 0;
	const char *inm, *format = srv_query(r, "format");
	int error, ranged, records = 0;

	snprintf(spec, sizeof(spec), "%s@%s", r->caps[0], r->caps[1]);
	if (format && strcmp(format, "records") == 0)
		records = 1;
	else if (format && strcmp(format, "bytes") != 0)
		return srv_reply_error(r, 400, "bad_format", "format must be 'bytes' or 'records'");
	if (records && evhttp_find_header(ih, "Range"))
		return srv_reply_error(r, 400, "bad_range", "a records stream is sent whole: no Range");
	/* Open once for the size and id; the range decides where to start. */
	error = records ? mvms_file_reader_open_records(&reader, &size, id, r->st, spec, r->caps[2])
			: mvms_file_reader_open(&reader, &size, id, r->st, spec, r->caps[2], 0, 0);
	if (error < 0)
		return error;
	if (records) {
		/* Another representation of the file: its own ETag, never a Range. */
		snprintf(etag, sizeof(etag), "\"%.64s.r\"", id);
		evhttp_add_header(oh, "ETag", etag);
		return stream_start(r, reader, size, 0, 1);
	}
	mvms_file_reader_free(reader);
	reader = NULL;
	snprintf(etag, sizeof(etag), "\"%s\"", id);
	evhttp_add_header(oh, "ETag", etag);
	evhttp_add_header(oh, "Accept-Ranges", "bytes");
	inm = evhttp_find_header(ih, "If-None-Match");
	if (inm && (strcmp(inm, etag) == 0 || strcmp(inm, "*") == 0)) {
		srv_reply_bytes(r, 304, NULL, NULL, 0);
		return 0;
	}
	ranged = parse_range(&start, &end, evhttp_find_header(ih, "Range"), size);
	if (ranged < 0) {
		snprintf(cr, sizeof(cr), "bytes */%" PRIu64, size);
		evhttp_add_header(oh, "Content-Range", cr);
		return srv_reply_error(r, 416, "bad_range", "the range is outside the file (%" PRIu64
				       " bytes)", size);
	}
	if (!ranged) {
		start = 0;
		end = size;
	}
	if ((error = mvms_file_reader_open(&reader, NULL, NULL, r->st, spec, r->caps[2], start, end)) < 0)
		return error;
	if (ranged) {
		snprintf(cr, sizeof(cr), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, start, end - 1, size);
		evhttp_add_header(oh, "Content-Range", cr);
	}
	return stream_start(r, reader, end - start, ranged, 0);
}

/* Answers with @len bytes from @reader (which it takes), streamed a piece at a time. */
static int stream_start(srv_req *r, mvms_file_reader *reader, uint64_t len, int ranged,
			int records)
{
	struct evkeyvalq *oh = evhttp_request_get_output_headers(r->req);
	char num[64];
	stream *s;

	snprintf(num, sizeof(num), "%" PRIu64, len);
	evhttp_add_header(oh, "Content-Length", num);
	evhttp_add_header(oh, "Content-Type",
			  records ? "application/vnd.mvms.records" : "application/octet-stream");
	if (r->method == EVHTTP_REQ_HEAD || len == 0) {
		mvms_file_reader_free(reader);
		r->replied = 1;
		r->status = ranged ? 206 : 200;
		evhttp_send_reply(r->req, r->status, ranged ? "Partial Content" : "OK", NULL);
		srv_request_done(r);
		return 0;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		mvms_file_reader_free(reader);
		return mvms_error_set(MVMS_ERROR, "out of memory");
	}
	srv_req_detach(&s->r, r);
	s->r.status = ranged ? 206 : 200;
	s->req = r->req;
	s->evcon = evhttp_request_get_connection(r->req);
	s->reader = reader;
	s->records = records;
	r->replied = 1;
	srv_worker_inflight(r->w, 1);
	evhttp_connection_set_closecb(s->evcon, stream_closed, s);
	evhttp_send_reply_start(r->req, s->r.status, ranged ? "Partial Content" : "OK");
	stream_pump(s->evcon, s);
	return 0;
}

/* For other routes that serve a file's bytes (hf_resolve.c): the same streaming and Range
 * reading as the file route. */
int srv_stream_file(srv_req *r, mvms_file_reader *reader, uint64_t len, int ranged)
{
	return stream_start(r, reader, len, ranged, 0);
}

int srv_parse_range(uint64_t *start, uint64_t *end, const char *header, uint64_t size)
{
	return parse_range(start, end, header, size);
}

/* ---- one-request uploads ---- */

static int write_temp(char **path_out, const char *dir, const unsigned char *data, size_t len)
{
	char *path = NULL;
	int fd, error = 0;
	size_t off = 0;

	if (asprintf(&path, "%s/upload-XXXXXX", dir) < 0)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0) {
		free(path);
		return mvms_error_set(MVMS_ERROR, "upload: temp file: %s", strerror(errno));
	}
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			error = mvms_error_set(MVMS_ERROR, "upload: write: %s", strerror(errno));
			break;
		}
		off += (size_t)w;
	}
	close(fd);
	if (error < 0) {
		unlink(path);
		free(path);
		return error;
	}
	*path_out = path;
	return 0;
}

/* Collects the regular files under @dir (extracted from a tar) as upload entries. */
static int collect_tree(mvms_upload_file **files, char ***paths, size_t *n, size_t *cap,
			const char *root, const char *rel)
{
	char *abs = NULL;
	struct dirent **list = NULL;
	int k, count, error = 0;

	if (asprintf(&abs, "%s%s%s", root, *rel ? "/" : "", rel) < 0)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	count = scandir(abs, &list, NULL, alphasort);
	if (count < 0) {
		error = mvms_error_set(MVMS_ERROR, "upload: %s: %s", abs, strerror(errno));
		goto done;
	}
	for (k = 0; k < count; k++) {
		char *crel = NULL, *cabs = NULL;
		struct stat sb;
		if (!strcmp(list[k]->d_name, ".") || !strcmp(list[k]->d_name, ".."))
			continue;
		if (asprintf(&crel, "%s%s%s", rel, *rel ? "/" : "", list[k]->d_name) < 0 ||
		    asprintf(&cabs, "%s/%s", abs, list[k]->d_name) < 0) {
			free(crel);
			error = mvms_error_set(MVMS_ERROR, "out of memory");
			goto done;
		}
		if (lstat(cabs, &sb) == 0 && S_ISDIR(sb.st_mode)) {
			error = collect_tree(files, paths, n, cap, root, crel);
			free(crel);
			free(cabs);
			if (error < 0)
				goto done;
			continue;
		}
		if (*n == *cap) {
			size_t nc = *cap ? *cap * 2 : 16;
			mvms_upload_file *tf = realloc(*files, nc * sizeof(*tf));
			char **tp = tf ? realloc(*paths, 2 * nc * sizeof(*tp)) : NULL;
			if (tf)
				*files = tf;
			if (tp)
				*paths = tp;
			if (!tf || !tp) {
				free(crel);
				free(cabs);
				error = mvms_error_set(MVMS_ERROR, "out of memory");
				goto done;
			}
			*cap = nc;
		}
		(*paths)[2 * *n] = crel;
		(*paths)[2 * *n + 1] = cabs;
		(*files)[*n].path = crel;
		(*files)[*n].abs = cabs;
		(*files)[*n].mode = (sb.st_mode & 0111) ? 0755 : 0644;
		(*n)++;
	}
done:
	for (k = 0; list && k < count; k++)
		free(list[k]);
	free(list);
	free(abs);
	return error;
}

static void rm_tree(const char *path)
{
	struct dirent **list = NULL;
	int k, count = scandir(path, &list, NULL, NULL);

	for (k = 0; k < count; k++) {
		char *child = NULL;
		struct stat sb;
		if (strcmp(list[k]->d_name, ".") && strcmp(list[k]->d_name, "..") &&
		    asprintf(&child, "%s/%s", path, list[k]->d_name) >= 0) {
			if (lstat(child, &sb) == 0 && S_ISDIR(sb.st_mode))
				rm_tree(child);
			else
				unlink(child);
			free(child);
		}
		free(list[k]);
	}
	free(list);
	rmdir(path);
}

int srv_upload(srv_req *r)
{
	const char *path = srv_query(r, "path"), *branch = srv_query(r, "branch");
	const char *message = srv_query(r, "message"), *author = srv_query(r, "author");
	const char *ctype = evhttp_find_header(evhttp_request_get_input_headers(r->req), "Content-Type");
	mvms_store_info info;
	mvms_push_result res;
	mvms_upload_file one, *files = NULL;
	char **paths = NULL, *tmp = NULL, *tmpdir = NULL, err[256];
	char lease[MVMS_LEASE_ID_HEXSZ + 1] = "";
	const unsigned char *data;
	size_t len, n = 0, cap = 0, i;
	int tar = ctype && strncmp(ctype, "application/x-tar", 17) == 0, error = 0;

	if (!tar && !path)
		return srv_reply_error(r, 400, "bad_request",
				       "want ?path=FILE_PATH (or Content-Type: application/x-tar)");
	if (path && !tar) {
		/* Checked here too, so a bad path costs no disk write. */
		if (!*path || path[0] == '/' || strstr(path, "..") || strchr(path, '\\'))
			return srv_reply_error(r, 400, "bad_path",
					       "bad path '%s': relative, no '..', no backslash", path);
	}
	if (srv_upload_begin(r) < 0)
		return 0;
	/* Before the temp files: gc leaves them, and what the upload stores, alone. */
	if ((error = mvms_lease_create(lease, NULL, r->st, "upload")) < 0) {
		lease[0] = '\0';
		goto done;
	}
	mvms_store_use_lease(r->st, lease);
	srv_body(&data, &len, r);
	mvms_store_get_info(&info, r->st);
	if (tar) {
		if (asprintf(&tmpdir, "%s/upload-XXXXXX", info.path) < 0 || !mkdtemp(tmpdir)) {
			error = mvms_error_set(MVMS_ERROR, "upload: temp dir: %s", strerror(errno));
			goto done;
		}
		if (srv_tar_extract(data, len, tmpdir, err, sizeof(err)) < 0) {
			error = srv_reply_error(r, 400, "bad_tar", "%s; nothing was stored", err);
			goto done;
		}
		if ((error = collect_tree(&files, &paths, &n, &cap, tmpdir, "")) < 0)
			goto done;
		if (n == 0) {
			error = srv_reply_error(r, 400, "bad_tar", "the tar holds no regular file");
			goto done;
		}
	} else {
		if ((error = write_temp(&tmp, info.path, data, len)) < 0)
			goto done;
		one.path = path;
		one.abs = tmp;
		one.mode = 0644;
		files = &one;
		n = 1;
	}
	error = mvms_sync_upload(&res, r->st, r->caps[0], branch ? branch : "main",
				 message ? message : "", author ? author : "upload", files, n, tar);
	if (error < 0)
		goto done;
	/* The same files as the head: no new version, as with push ("created": false). */
	srv_reply_json(r, res.created ? 201 : 200, push_result_json(r->caps[0], &res));
done:
	if (tmp) {
		unlink(tmp);
		free(tmp);
	}
	if (tmpdir) {
		rm_tree(tmpdir);
		free(tmpdir);
	}
	for (i = 0; paths && i < 2 * n; i++)
		free(paths[i]);
	free(paths);
	if (files != &one)
		free(files);
	if (lease[0]) {
		srv_lease_leave(r);
		srv_lease_end(r, lease);
	}
	return error;
}
