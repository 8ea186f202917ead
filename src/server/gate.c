/* SPDX-License-Identifier: MIT */
/*
 * The gate: every byte a client sends passes here before libevent's HTTP parser sees it,
 * so that what libevent 2.1 would refuse with its own HTML page (a head or a body over the
 * limits, a request line or header it cannot parse, a method it does not implement) is
 * refused with our JSON error instead: libevent 2.1 has no error hook (evhttp_set_errorcb
 * came in 2.2).
 *
 * How: a callback on each connection's input buffer runs when bytes arrive, before
 * evhttp's read callback. It takes the new bytes out and follows the framing of the stream
 * exactly as evhttp_read_* will: a head is held back until it is whole and checked, then
 * released; body bytes pass through, counted (Content-Length) or followed chunk by chunk
 * (each size line checked and released); trailers like heads. A refused request becomes a
 * stand-in that evhttp can read (a bare "GET /-/refused", or the end of the chunked body it
 * was in) and the gate drops everything after it. The gate counts the requests it lets
 * through; the dispatcher asks it about each request it gets, in the same order, and
 * answers the refused one with the JSON error and Connection: close.
 *
 * Per-connection state lives in a per-worker table indexed by descriptor (libevent gives
 * no hook when a connection's buffer goes away, so nothing is allocated per connection);
 * the first callback of a new connection resets its slot. It does not route, authenticate
 * or read bodies' contents.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include "server.h"

/* A head (request line, headers, and later trailers) may be this large. libevent's own
 * limit (64 KiB, set in server.c) stays as a backstop that the gate always reaches first. */
#define GATE_HEAD_MAX (48u * 1024)
/* A chunk-size line may be this long. */
#define GATE_LINE_MAX 1024u
/* libevent moves at most 16 KiB per read or write call by default: a 1 GiB download was
 * 51k writev calls and as many epoll_waits. Connections get larger steps. */
#define SOCKET_STEP (1u << 20)

enum gate_state {
	G_HEAD,        /* holding a head until its empty line */
	G_BODY,        /* passing `left` body bytes */
	G_CHUNK_LINE,  /* holding a chunk-size line */
	G_CHUNK_DATA,  /* passing `left` bytes of a chunk */
	G_TRAILER,     /* holding trailer lines until the empty one */
	G_DISCARD,     /* after a refusal: dropping everything */
};

typedef struct gate_conn {
	struct evbuffer *hold;     /* bytes held back: part of a head or of a line */
	size_t scan;               /* where the line being looked for starts in hold */
	size_t lscan;              /* how far that line has been searched */
	enum gate_state state;
	uint64_t left, body;       /* bytes to pass; chunked body bytes so far */
	size_t head;               /* head and trailer bytes of this request */
	int busy;                  /* our own changes to the buffer call us again */
	unsigned released;         /* requests let through to evhttp */
	unsigned dispatched;       /* requests the dispatcher has asked about */
	unsigned refused_at;       /* the refused one's number (1-based), 0 if none */
	int status;                /* why */
	char code[24], msg[160];
} gate_conn;

struct srv_gate {
	gate_conn *conns;          /* by descriptor */
	size_t nconns;
	uint64_t max_body;
	struct evbuffer *front, *fresh;
};

static _Thread_local srv_gate *tl_gate;

int srv_gate_new(srv_gate **out, uint64_t max_body)
{
	srv_gate *g = calloc(1, sizeof(*g));

	*out = NULL;
	if (!g)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	g->max_body = max_body;
	g->front = evbuffer_new();
	g->fresh = evbuffer_new();
	if (!g->front || !g->fresh) {
		srv_gate_free(g);
		return mvms_error_set(MVMS_ERROR, "out of memory");
	}
	*out = g;
	return 0;
}

void srv_gate_free(srv_gate *g)
{
	size_t i;

	if (!g)
		return;
	for (i = 0; i < g->nconns; i++)
		if (g->conns[i].hold)
			evbuffer_free(g->conns[i].hold);
	free(g->conns);
	if (g->front)
		evbuffer_free(g->front);
	if (g->fresh)
		evbuffer_free(g->fresh);
	free(g);
}

void srv_gate_enter(srv_gate *g)
{
	tl_gate = g;
}

/* ---- reading a head the way evhttp will ---- */

typedef struct head_verdict {
	int status;                /* 0: fine */
	const char *code;
	char msg[160];
	int chunked;
	uint64_t length;
} head_verdict;

static int refuse(head_verdict *v, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int refuse(head_verdict *v, int status, const char *code, const char *fmt, ...)
{
	va_list ap;

	v->status = status;
	v->code = code;
	va_start(ap, fmt);
	vsnprintf(v->msg, sizeof(v->msg), fmt, ap);
	va_end(ap);
	return -1;
}

/* evhttp keeps a header value without leading spaces and trailing white space. */
static void header_value(const char **v, size_t *n)
{
	while (*n && **v == ' ')
		(*v)++, (*n)--;
	while (*n && strchr(" \t\r\n", (*v)[*n - 1]))
		(*n)--;
}

/* A framing header of a head: the value of its first occurrence, and how many there were. */
typedef struct header_seen {
	const char *val;
	size_t len;
	unsigned count;
} header_seen;

/* The body's framing from its headers, refusing whatever two readers could frame two
 * ways (RFC 9112 6.3): a front proxy and evhttp must agree where a request ends, or a
 * request can hide inside another's body. evhttp looks at the first Content-Length only,
 * takes "+5" or " 5" for 5, and any Transfer-Encoding but a lone "chunked" for none; so
 * Content-Length with Transfer-Encoding, either one twice, a Content-Length that is not
 * all digits, and a Transfer-Encoding other than "chunked" are all refused. */
static int check_framing(head_verdict *v, const header_seen *clh, const header_seen *teh,
			 uint64_t max_body)
{
	const char *cl = clh->val, *te = teh->val;
	size_t cl_len = clh->len, te_len = teh->len;
	unsigned ncl = clh->count, nte = teh->count;
	char buf[32];
	unsigned long long val;
	size_t i;

	if (ncl && nte)
		return refuse(v, 400, "bad_request",
			      "Content-Length and Transfer-Encoding together: the body's end is ambiguous");
	if (ncl > 1)
		return refuse(v, 400, "bad_request", "more than one Content-Length header");
	if (nte > 1)
		return refuse(v, 400, "bad_request", "more than one Transfer-Encoding header");
	if (nte) {
		if (te_len == 7 && strncasecmp(te, "chunked", 7) == 0) {
			v->chunked = 1;
			return 0;
		}
		return refuse(v, 501, "not_implemented",
			      "Transfer-Encoding '%.*s' is not supported (only chunked)",
			      (int)(te_len < 32 ? te_len : 32), te);
	}
	if (!ncl)
		return 0;
	for (i = 0; i < cl_len; i++)
		if (cl[i] < '0' || cl[i] > '9')
			break;
	if (cl_len == 0 || i < cl_len)
		return refuse(v, 400, "bad_request", "Content-Length is not a number");
	while (cl_len > 1 && *cl == '0') /* leading zeros say nothing */
		cl++, cl_len--;
	if (cl_len >= sizeof(buf))
		return refuse(v, 413, "too_large", "the body is larger than --max-body (%llu bytes)",
			      (unsigned long long)max_body);
	memcpy(buf, cl, cl_len);
	buf[cl_len] = '\0';
	errno = 0;
	val = strtoull(buf, NULL, 10);
	if (errno == ERANGE || val > max_body)
		return refuse(v, 413, "too_large", "the body is larger than --max-body (%llu bytes)",
			      (unsigned long long)max_body);
	v->length = (uint64_t)val;
	return 0;
}

/* Checks @h (@n bytes through the empty line, NUL-free) as evhttp_parse_firstline_ and
 * evhttp_parse_headers_ would, and decides the body's framing as evhttp_get_body will. */
static int check_head(head_verdict *v, const char *h, size_t n, uint64_t max_body)
{
	static const char *const known[] = { "GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS",
					     "TRACE", "CONNECT", "PATCH" };
	const char *line = h, *end = h + n, *nl, *sp1, *sp2, *ex = NULL;
	size_t len, ex_len = 0, i;
	header_seen cl = { NULL, 0, 0 }, te = { NULL, 0, 0 };
	int is_head = 0, first = 1, known_method = 0, http11 = 0;
	struct evhttp_uri *uri;

	memset(v, 0, sizeof(*v));
	for (; line < end; line = nl + 1) {
		nl = memchr(line, '\n', (size_t)(end - line));
		len = (size_t)(nl - line);
		if (len && line[len - 1] == '\r')
			len--;
		if (memchr(line, '\r', len))
			return refuse(v, 400, "bad_request", "a carriage return inside a header line");
		if (first) {
			first = 0;
			sp1 = len ? memchr(line, ' ', len) : NULL;
			sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(line + len - sp1 - 1)) : NULL;
			if (!sp1 || !sp2 || sp1 == line || sp2 == sp1 + 1 || sp2 + 1 == line + len ||
			    memchr(sp2 + 1, ' ', (size_t)(line + len - sp2 - 1)))
				return refuse(v, 400, "bad_request",
					      "the request line is not METHOD SP TARGET SP HTTP/1.x");
			for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
				if ((size_t)(sp1 - line) == strlen(known[i]) &&
				    memcmp(line, known[i], strlen(known[i])) == 0)
					break;
			known_method = i < sizeof(known) / sizeof(known[0]);
			if (!known_method || i > 4)
				return refuse(v, 501, "not_implemented", "method %.*s is not implemented",
					      (int)(sp1 - line < 32 ? sp1 - line : 32), line);
			is_head = i == 2;
			len -= (size_t)(sp2 + 1 - line);
			if (len != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0 ||
			    (sp2[8] != '0' && sp2[8] != '1')) {
				if (len == 8 && memcmp(sp2 + 1, "HTTP/", 5) == 0)
					return refuse(v, 505, "http_version",
						      "only HTTP/1.0 and HTTP/1.1 are served");
				return refuse(v, 400, "bad_request", "the request line has no HTTP version");
			}
			http11 = sp2[8] == '1';
			{
				char *target = strndup(sp1 + 1, (size_t)(sp2 - sp1 - 1));
				uri = target ? evhttp_uri_parse_with_flags(target, EVHTTP_URI_NONCONFORMANT)
					     : NULL;
				free(target);
				if (!uri)
					return refuse(v, 400, "bad_request", "the request target is not a URI");
				evhttp_uri_free(uri);
			}
			continue;
		}
		if (len == 0)
			break;
		if (line[0] == ' ' || line[0] == '\t')
			return refuse(v, 400, "bad_request", "folded header lines are not accepted");
		{
			const char *colon = memchr(line, ':', len), *val_p;
			size_t val_n;
			if (!colon)
				return refuse(v, 400, "bad_request", "a header line without ':'");
			/* "Content-Length : 5" is no Content-Length to evhttp, but may be one to a
			 * proxy in front (RFC 9112 5.1: refuse white space before the colon). */
			if (colon == line || memchr(line, ' ', (size_t)(colon - line)) ||
			    memchr(line, '\t', (size_t)(colon - line)))
				return refuse(v, 400, "bad_request", "a header name that is empty or has white space");
			val_p = colon + 1;
			val_n = (size_t)(line + len - val_p);
			header_value(&val_p, &val_n);
			if (colon - line == 14 && strncasecmp(line, "Content-Length", 14) == 0 &&
			    cl.count++ == 0) {
				cl.val = val_p;
				cl.len = val_n;
			}
			if (colon - line == 17 && strncasecmp(line, "Transfer-Encoding", 17) == 0 &&
			    te.count++ == 0) {
				te.val = val_p;
				te.len = val_n;
			}
			if (!ex && colon - line == 6 && strncasecmp(line, "Expect", 6) == 0) {
				ex = val_p;
				ex_len = val_n;
			}
		}
	}
	/* Ambiguous framing is refused even where evhttp reads no body (HEAD): a proxy in
	 * front may read one. */
	if (check_framing(v, &cl, &te, max_body) < 0)
		return -1;
	if (is_head) {
		/* evhttp reads no body after HEAD, whatever the headers say */
		v->chunked = 0;
		v->length = 0;
		return 0;
	}
	/* evhttp_get_body answers any other expectation with its own 417 page. */
	if (http11 && ex && !(ex_len == 12 && strncasecmp(ex, "100-continue", 12) == 0))
		return refuse(v, 417, "expectation_failed", "only Expect: 100-continue is understood");
	return 0;
}

/* ---- the stream ---- */

/* Puts what stands in for a refused request where its next bytes would go (so evhttp
 * finishes reading it, or reads a bare one in its place), remembers why, and drops the
 * rest of the connection's input from now on. */
static void gate_refuse(gate_conn *c, struct evbuffer *out, const head_verdict *v)
{
	if (c->state == G_HEAD) {
		evbuffer_add_printf(out, "GET /-/refused HTTP/1.1\r\n\r\n");
		c->released++;
	} else if (c->state == G_CHUNK_LINE || c->state == G_CHUNK_DATA) {
		evbuffer_add_printf(out, "0\r\n\r\n");
	} else if (c->state == G_TRAILER) {
		evbuffer_add_printf(out, "\r\n");
	}
	c->refused_at = c->released;
	c->status = v->status;
	snprintf(c->code, sizeof(c->code), "%s", v->code);
	snprintf(c->msg, sizeof(c->msg), "%s", v->msg);
	c->state = G_DISCARD;
	evbuffer_drain(c->hold, evbuffer_get_length(c->hold));
	c->scan = c->lscan = 0;
}

/* Finds the end of the line that starts at c->scan in the held bytes: the position after
 * its end of line, with *empty set when the line has nothing before it; 0 when the line is
 * not whole yet. Bytes searched once are not searched again when more arrive (a head sent
 * a byte at a time costs no more than one sent at once); a trailing "\r" is looked at again
 * in case its "\n" comes next. */
static size_t find_eol(gate_conn *c, int *empty)
{
	struct evbuffer_ptr p, e;
	size_t eol = 0, from = c->lscan > c->scan ? c->lscan : c->scan, n;

	*empty = 0;
	if (evbuffer_ptr_set(c->hold, &p, from, EVBUFFER_PTR_SET) < 0)
		return 0;
	e = evbuffer_search_eol(c->hold, &p, &eol, EVBUFFER_EOL_CRLF);
	if (e.pos < 0) {
		n = evbuffer_get_length(c->hold);
		c->lscan = n > c->scan + 1 ? n - 1 : c->scan;
		return 0;
	}
	*empty = (size_t)e.pos == c->scan;
	c->scan = c->lscan = (size_t)e.pos + eol;
	return c->scan;
}

/* Where the head that starts the held bytes ends (through its empty line), 0 if not yet. */
static size_t head_end(gate_conn *c)
{
	size_t end;
	int empty;

	while ((end = find_eol(c, &empty)) != 0)
		if (empty)
			return end;
	return 0;
}

/* G_HEAD: holds bytes until the head is whole, checks it, and releases it with its framing
 * set for the body. 1 to go on with what is left of @in, 0 to wait (or after a refusal). */
static int feed_head(srv_gate *g, gate_conn *c, struct evbuffer *out, struct evbuffer *in)
{
	head_verdict v;
	unsigned char *p;
	size_t n;

	evbuffer_add_buffer(c->hold, in);
	n = head_end(c);
	if (n == 0 && evbuffer_get_length(c->hold) <= GATE_HEAD_MAX)
		return 0; /* more to come */
	if (n == 0 || n > GATE_HEAD_MAX) {
		refuse(&v, 431, "header_too_large", "the request head is larger than %u bytes",
		       GATE_HEAD_MAX);
		gate_refuse(c, out, &v);
		return 0;
	}
	p = evbuffer_pullup(c->hold, (ev_ssize_t)n);
	if (!p || memchr(p, '\0', n)) {
		refuse(&v, 400, "bad_request", "a NUL byte in the request head");
		gate_refuse(c, out, &v);
		return 0;
	}
	if (check_head(&v, (const char *)p, n, g->max_body) < 0) {
		gate_refuse(c, out, &v);
		return 0;
	}
	evbuffer_remove_buffer(c->hold, out, n);
	c->released++;
	evbuffer_add_buffer(in, c->hold); /* what came after the head, in order */
	c->scan = c->lscan = 0;
	c->head = n;
	c->body = 0;
	c->left = v.length;
	c->state = v.chunked ? G_CHUNK_LINE : v.length ? G_BODY : G_HEAD;
	return 1;
}

/* A whole chunk-size line @p of @len bytes (its end of line excluded). As
 * evhttp_handle_chunked_read: empty lines (after chunk data) are skipped; a size is hex,
 * optionally followed by a space and more. 0, or -1 with @v saying why it is refused. */
static int chunk_size_line(srv_gate *g, gate_conn *c, head_verdict *v, const unsigned char *p,
			   size_t len)
{
	char line[GATE_LINE_MAX + 1], *e;
	long long size;

	if (len == 0)
		return 0;
	if (len > GATE_LINE_MAX)
		return refuse(v, 400, "bad_request", "a chunk-size line is too long");
	memcpy(line, p, len);
	line[len] = '\0';
	errno = 0;
	size = strtoll(line, &e, 16);
	if ((*e != '\0' && *e != ' ') || size < 0)
		return refuse(v, 400, "bad_request", "a chunk size is not hex");
	if (errno == ERANGE || (uint64_t)size > g->max_body - c->body)
		return refuse(v, 413, "too_large", "the body is larger than --max-body (%llu bytes)",
			      (unsigned long long)g->max_body);
	c->body += (uint64_t)size;
	c->left = (uint64_t)size;
	c->state = size ? G_CHUNK_DATA : G_TRAILER;
	return 0;
}

/* A whole trailer line @p: @n bytes with its end of line, @len without. The empty one ends
 * the request. 0, or -1 with @v saying why it is refused. */
static int trailer_line(gate_conn *c, head_verdict *v, const unsigned char *p, size_t n,
			size_t len)
{
	if (c->head + n > GATE_HEAD_MAX)
		return refuse(v, 431, "header_too_large",
			      "the request head and trailers are larger than %u bytes", GATE_HEAD_MAX);
	if (len > 0 && (p[0] == ' ' || p[0] == '\t' || !memchr(p, ':', len) ||
			memchr(p, '\r', len)))
		return refuse(v, 400, "bad_request", "a malformed trailer line");
	c->head += n;
	if (len == 0)
		c->state = G_HEAD;
	return 0;
}

/* G_CHUNK_LINE and G_TRAILER: holds bytes until a line is whole, checks it and releases it.
 * 1 to go on with what is left of @in, 0 to wait (or after a refusal). */
static int feed_line(srv_gate *g, gate_conn *c, struct evbuffer *out, struct evbuffer *in)
{
	head_verdict v;
	unsigned char *p;
	size_t n, len;
	int empty, rc;

	evbuffer_add_buffer(c->hold, in);
	n = find_eol(c, &empty);
	if (n == 0) {
		len = evbuffer_get_length(c->hold);
		if (c->state == G_CHUNK_LINE && len > GATE_LINE_MAX) {
			refuse(&v, 400, "bad_request", "a chunk-size line is too long");
			gate_refuse(c, out, &v);
		} else if (c->state == G_TRAILER && c->head + len > GATE_HEAD_MAX) {
			refuse(&v, 431, "header_too_large",
			       "the request head and trailers are larger than %u bytes", GATE_HEAD_MAX);
			gate_refuse(c, out, &v);
		}
		return 0;
	}
	p = evbuffer_pullup(c->hold, (ev_ssize_t)n);
	if (!p || memchr(p, '\0', n)) {
		refuse(&v, 400, "bad_request", "a NUL byte in a chunked body's framing");
		gate_refuse(c, out, &v);
		return 0;
	}
	len = n - (n >= 2 && p[n - 2] == '\r' ? 2 : 1);
	rc = c->state == G_CHUNK_LINE ? chunk_size_line(g, c, &v, p, len)
				      : trailer_line(c, &v, p, n, len);
	if (rc < 0) {
		gate_refuse(c, out, &v);
		return 0;
	}
	evbuffer_remove_buffer(c->hold, out, n);
	evbuffer_add_buffer(in, c->hold);
	c->scan = c->lscan = 0;
	return 1;
}

static void gate_feed(srv_gate *g, gate_conn *c, struct evbuffer *out, struct evbuffer *in)
{
	size_t n, len;

	while ((len = evbuffer_get_length(in)) > 0) {
		switch (c->state) {
		case G_DISCARD:
			evbuffer_drain(in, len);
			break;
		case G_BODY:
		case G_CHUNK_DATA:
			n = c->left < len ? (size_t)c->left : len;
			evbuffer_remove_buffer(in, out, n);
			c->left -= n;
			if (c->left == 0)
				c->state = c->state == G_BODY ? G_HEAD : G_CHUNK_LINE;
			break;
		case G_HEAD:
			if (!feed_head(g, c, out, in))
				return;
			break;
		case G_CHUNK_LINE:
		case G_TRAILER:
			if (!feed_line(g, c, out, in))
				return;
			break;
		}
	}
}

static gate_conn *gate_slot(srv_gate *g, evutil_socket_t fd)
{
	if (fd < 0)
		return NULL;
	if ((size_t)fd >= g->nconns) {
		size_t n = (size_t)fd + 64;
		gate_conn *t = realloc(g->conns, n * sizeof(*t));
		if (!t)
			return NULL;
		memset(t + g->nconns, 0, (n - g->nconns) * sizeof(*t));
		g->conns = t;
		g->nconns = n;
	}
	if (!g->conns[fd].hold && !(g->conns[fd].hold = evbuffer_new()))
		return NULL;
	return &g->conns[fd];
}

void srv_gate_feed(srv_gate *g, int fd, const void *data, size_t len, struct evbuffer *out)
{
	gate_conn *c = gate_slot(g, fd);

	if (!c)
		return;
	evbuffer_add(g->fresh, data, len);
	gate_feed(g, c, out, g->fresh);
	evbuffer_drain(g->fresh, evbuffer_get_length(g->fresh));
}

static void gate_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	srv_gate *g = tl_gate;
	gate_conn *c;
	size_t len, n = info->n_added, pass;

	if (!g || n == 0)
		return;
	c = gate_slot(g, bufferevent_getfd(arg));
	if (!c || c->busy)
		return;
	/* Body bytes stay where they are: evhttp keeps a Content-Length body in this buffer
	 * until all of it is in, and moving it out and back on every read made a 64 MiB upload
	 * quadratic. */
	if ((c->state == G_BODY || c->state == G_CHUNK_DATA) && c->left > 0) {
		pass = c->left < n ? (size_t)c->left : n;
		c->left -= pass;
		n -= pass;
		if (c->left == 0)
			c->state = c->state == G_BODY ? G_HEAD : G_CHUNK_LINE;
		if (n == 0)
			return;
	}
	c->busy = 1;
	/* The bytes to look at are the last n: take them out, keep the rest where it is. */
	len = evbuffer_get_length(buf);
	evbuffer_remove_buffer(buf, g->front, len - n);
	evbuffer_remove_buffer(buf, g->fresh, n);
	evbuffer_add_buffer(buf, g->front);
	gate_feed(g, c, buf, g->fresh);
	evbuffer_drain(g->fresh, evbuffer_get_length(g->fresh));
	c->busy = 0;
}

/* The first bytes of a connection: its slot may hold a closed one's state. */
static void gate_first_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	srv_gate *g = tl_gate;
	gate_conn *c;

	if (!g || info->n_added == 0)
		return;
	c = gate_slot(g, bufferevent_getfd(arg));
	if (c) {
		evbuffer_drain(c->hold, evbuffer_get_length(c->hold));
		c->scan = c->lscan = 0;
		c->state = G_HEAD;
		c->left = c->body = 0;
		c->head = 0;
		c->busy = 0;
		c->released = c->dispatched = c->refused_at = 0;
	}
	evbuffer_remove_cb(buf, gate_first_cb, arg);
	if (evbuffer_add_cb(buf, gate_cb, arg))
		gate_cb(buf, info, arg);
}

struct bufferevent *srv_gate_bev(struct event_base *base, void *arg)
{
	struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);

	(void)arg;
	if (!bev)
		return NULL;
	bufferevent_set_max_single_read(bev, SOCKET_STEP);
	bufferevent_set_max_single_write(bev, SOCKET_STEP);
	if (!evbuffer_add_cb(bufferevent_get_input(bev), gate_first_cb, bev)) {
		bufferevent_free(bev);
		return NULL;
	}
	return bev;
}

int srv_gate_refusal(struct evhttp_request *req, int *status, const char **code,
		     const char **msg)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
	evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
	gate_conn *c;

	if (!tl_gate || fd < 0 || (size_t)fd >= tl_gate->nconns)
		return 0;
	c = &tl_gate->conns[fd];
	if (++c->dispatched != c->refused_at)
		return 0;
	*status = c->status;
	*code = c->code;
	*msg = c->msg;
	return 1;
}
