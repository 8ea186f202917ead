/* SPDX-License-Identifier: MIT */
/*
 * Replies: JSON documents, JSON errors {"error":{"code","message"}}, raw bytes; the one
 * table that maps MVMS_E* codes to HTTP statuses (their "code" names are libmvms's table,
 * mvms_error_name, which clients map back); the access log line and metrics that
 * every finished reply records. A 500's message stays in the server's log under an error id:
 * what failed inside names the store's files, which are no business of a client's.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <event2/buffer.h>
#include "server.h"

double srv_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int srv_status_for(int code)
{
	switch (code) {
	case MVMS_ENOTFOUND: return 404;
	case MVMS_EEXISTS: return 409;
	case MVMS_ECONFLICT: return 409;
	case MVMS_EMERGE: return 409;
	case MVMS_EAMBIGUOUS: return 400;
	case MVMS_EINVALID: return 400;
	/* Bytes that do not match their hash reach here only from the server's own store (a
	 * client's upload that does not hash is answered 400 where it is checked): damage of
	 * the server's, not the client's fault. */
	case MVMS_EMISMATCH: return 500;
	case MVMS_EAUTH: return 401;
	case MVMS_ETIMEOUT: return 504;
	case MVMS_ENOTSUPPORTED: return 501;
	case MVMS_EPOLICY: return 403;
	default: return 500;
	}
}

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 414: return "URI Too Long";
	case 416: return "Range Not Satisfiable";
	case 417: return "Expectation Failed";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return status < 400 ? "OK" : "Error";
	}
}

/* Logs one line per request and counts it, once, when its reply is complete. */
void srv_request_done(srv_req *r)
{
	double secs = srv_now() - r->t0;

	srv_metrics_request(r, secs);
	if (r->opts->access_log) {
		const char *uri = evhttp_request_get_uri(r->req);
		cJSON *o = cJSON_CreateObject();
		char *line;
		time_t t = time(NULL);
		struct tm tm;
		char ts[32];

		gmtime_r(&t, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
		cJSON_AddStringToObject(o, "time", ts);
		cJSON_AddStringToObject(o, "method",
					r->method == EVHTTP_REQ_GET ? "GET" : r->method == EVHTTP_REQ_POST ? "POST"
					: r->method == EVHTTP_REQ_PUT ? "PUT" : r->method == EVHTTP_REQ_DELETE ? "DELETE"
					: r->method == EVHTTP_REQ_HEAD ? "HEAD" : "OTHER");
		cJSON_AddStringToObject(o, "uri", uri ? uri : "");
		cJSON_AddStringToObject(o, "route", r->route ? r->route : "");
		cJSON_AddNumberToObject(o, "status", r->status);
		cJSON_AddNumberToObject(o, "bytes_in", (double)r->bytes_in);
		cJSON_AddNumberToObject(o, "bytes_out", (double)r->bytes_out);
		cJSON_AddNumberToObject(o, "ms", (double)(int64_t)(secs * 1e6) / 1e3);
		line = cJSON_PrintUnformatted(o);
		if (line) {
			fprintf(stderr, "%s\n", line);
			cJSON_free(line);
		}
		cJSON_Delete(o);
	}
}

void srv_reply_bytes(srv_req *r, int status, const char *type, const void *data, size_t len)
{
	struct evbuffer *b = evbuffer_new();

	if (r->replied) {
		evbuffer_free(b);
		return;
	}
	r->replied = 1;
	r->status = status;
	if (type)
		evhttp_add_header(evhttp_request_get_output_headers(r->req), "Content-Type", type);
	if (r->method == EVHTTP_REQ_HEAD) {
		/* The headers a GET would get, no body: libevent 2.1 would send one after HEAD. */
		char num[32];
		snprintf(num, sizeof(num), "%zu", len);
		evhttp_add_header(evhttp_request_get_output_headers(r->req), "Content-Length", num);
		len = 0;
	}
	if (b && len)
		evbuffer_add(b, data, len);
	r->bytes_out = len;
	evhttp_send_reply(r->req, status, reason(status), b);
	if (b)
		evbuffer_free(b);
	srv_request_done(r);
}

void srv_reply_json(srv_req *r, int status, cJSON *doc)
{
	char *s = doc ? cJSON_PrintUnformatted(doc) : NULL;

	if (!s) {
		cJSON_Delete(doc);
		srv_reply_bytes(r, 500, "application/json",
				"{\"error\":{\"code\":\"error\",\"message\":\"out of memory\"}}", 52);
		return;
	}
	srv_reply_bytes(r, status, "application/json", s, strlen(s));
	cJSON_free(s);
	cJSON_Delete(doc);
}

/* What a client may learn of an internal error: the state of the server it runs into (a
 * full disk: it may retry elsewhere or tell someone), never a path. NULL when none. */
static const char *condition(const char *msg)
{
	static const struct {
		int err;
		const char *says;
	} known[] = {
		{ ENOSPC, "the server is out of disk space" },
		{ EDQUOT, "the server is out of disk quota" },
		{ EROFS, "the server's storage is read-only" },
		{ EMFILE, "the server is out of file descriptors" },
		{ ENFILE, "the server is out of file descriptors" },
		{ ENOMEM, "the server is out of memory" },
	};
	size_t i;

	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strstr(msg, strerror(known[i].err)))
			return known[i].says;
	if (strstr(msg, "database or disk is full"))
		return "the server is out of disk space";
	if (strstr(msg, "out of memory"))
		return "the server is out of memory";
	return NULL;
}

/* Logs @msg, the detail of an internal error, under a new id and puts in @msg what the
 * client gets instead. */
static void internal_error(srv_req *r, char *msg, size_t size)
{
	static atomic_ulong serial;
	const char *uri = evhttp_request_get_uri(r->req), *cond = condition(msg);
	char id[48];

	snprintf(id, sizeof(id), "E%ld-%lu", (long)getpid(), atomic_fetch_add(&serial, 1) + 1);
	fprintf(stderr, "mvms-store: serve: error %s: %s %s: %s\n", id,
		r->route ? r->route : "-", uri ? uri : "", msg);
	snprintf(msg, size, "internal error%s%s; the server's log has the details under %s",
		 cond ? ": " : "", cond ? cond : "", id);
}

void srv_reply_hub_error(srv_req *r, int status, const char *code, const char *msg)
{
	struct evkeyvalq *oh = evhttp_request_get_output_headers(r->req);
	char line[1024];
	cJSON *doc;
	size_t i;

	/* A header value holds no line breaks or other controls. */
	snprintf(line, sizeof(line), "%s", msg);
	for (i = 0; line[i]; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = ' ';
	if (code)
		evhttp_add_header(oh, "X-Error-Code", code);
	evhttp_add_header(oh, "X-Error-Message", line);
	doc = cJSON_CreateObject();
	cJSON_AddStringToObject(doc, "error", msg);
	srv_reply_json(r, status, doc);
}

int srv_reply_error(srv_req *r, int status, const char *code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	cJSON *doc, *err;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (status == 500)
		internal_error(r, msg, sizeof(msg));
	/* A Hub client reads "error" as a string; a 401 is RepoNotFound there, as the Hub says
	 * for a repository that a missing or bad token may not see. */
	if (r->hub_errors) {
		srv_reply_hub_error(r, status, status == 401 && r->hub_errors == 2 ? "RepoNotFound"
				    : NULL, msg);
		return 0;
	}
	doc = cJSON_CreateObject();
	err = cJSON_AddObjectToObject(doc, "error");
	cJSON_AddStringToObject(err, "code", code);
	cJSON_AddStringToObject(err, "message", msg);
	srv_reply_json(r, status, doc);
	return 0;
}

int srv_reply_mvms(srv_req *r, int code)
{
	const char *msg = mvms_error_last();

	/* The code's wire name (mvms_error_name, which clients map back with
	 * mvms_error_from_name); the server's own damage says so. */
	return srv_reply_error(r, srv_status_for(code),
			       code == MVMS_EMISMATCH ? "store_damaged" : mvms_error_name(code), "%s",
			       msg && *msg ? msg : "error");
}
