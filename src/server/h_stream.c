/* SPDX-License-Identifier: MIT */
/*
 * A stored file's bytes over HTTP, streamed a piece at a time as the client reads them
 * (back-pressure from libevent's write callback), every chunk verified by the library's
 * file reader:
 *   GET|HEAD /v1/models/{m}/versions/{ref}/files/{path}   Range (one range), ETag, 304;
 *                                                         ?format=records: the pack records
 * srv_stream_file and srv_parse_range serve other routes that answer a file's bytes
 * (hf_resolve.c). It does not resolve refs or check access: the router and the library do.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include "server.h"

#define STREAM_PIECE (1u << 20)     /* bytes queued per write while streaming a file */
#define SENDFILE_MIN (256u << 10)   /* a records run this long is sent with sendfile */

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
int srv_parse_range(uint64_t *start, uint64_t *end, const char *h, uint64_t size)
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
	ranged = srv_parse_range(&start, &end, evhttp_find_header(ih, "Range"), size);
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

