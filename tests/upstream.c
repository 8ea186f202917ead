/* SPDX-License-Identifier: MIT */
/*
 * A stand-in inference server for the /predict tests: answers every POST with
 * {"version": NAME, "bytes": N} (N = request body size), after an optional delay, or fails on
 * purpose (--status 500, or --close to drop the connection), or a share of requests
 * (--error-rate R: request k fails when floor(k*R) grows, so exactly R of them, spread
 * evenly). A test changes the behaviour while it runs with GET /_control?error_rate=R&
 * delay_ms=MS&status=CODE (any of them): a version that starts failing mid-rollout.
 * Listens on 127.0.0.1, port 0 by default, writes the port to --port-file, stops on SIGTERM.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <sys/socket.h>

static const char *name = "v0";
static int status = 200, delay_ms, close_conn;
static double error_rate;
static unsigned long long served;

struct pending {
	struct evhttp_request *req;
	struct event *ev;
};

static void answer(struct evhttp_request *req)
{
	struct evbuffer *b = evbuffer_new();
	size_t n = evbuffer_get_length(evhttp_request_get_input_buffer(req));
	int code = status;

	served++;
	if (error_rate > 0 && (unsigned long long)((double)served * error_rate) >
				      (unsigned long long)((double)(served - 1) * error_rate))
		code = 500;
	evbuffer_add_printf(b, "{\"version\":\"%s\",\"bytes\":%zu}", name, n);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
	evhttp_send_reply(req, code, code == 200 ? "OK" : "Error", b);
	evbuffer_free(b);
}

/* GET /_control?error_rate=R&delay_ms=MS&status=CODE: 1 when @req was one (answered). */
static int control(struct evhttp_request *req)
{
	const char *uri = evhttp_request_get_uri(req), *v;
	struct evkeyvalq q;
	struct evbuffer *b;

	if (strncmp(uri, "/_control", 9) != 0)
		return 0;
	memset(&q, 0, sizeof(q));
	evhttp_parse_query(uri, &q);
	if ((v = evhttp_find_header(&q, "error_rate")))
		error_rate = atof(v);
	if ((v = evhttp_find_header(&q, "delay_ms")))
		delay_ms = atoi(v);
	if ((v = evhttp_find_header(&q, "status")))
		status = atoi(v);
	evhttp_clear_headers(&q);
	served = 0;
	b = evbuffer_new();
	evbuffer_add_printf(b, "{\"error_rate\":%g,\"delay_ms\":%d,\"status\":%d}\n", error_rate,
			    delay_ms, status);
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
	return 1;
}

static void later(evutil_socket_t fd, short what, void *arg)
{
	struct pending *p = arg;

	(void)fd;
	(void)what;
	answer(p->req);
	event_free(p->ev);
	free(p);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct event_base *base = arg;

	if (control(req))
		return;
	if (close_conn) {
		evhttp_connection_free(evhttp_request_get_connection(req));
		return;
	}
	if (delay_ms > 0) {
		struct pending *p = malloc(sizeof(*p));
		struct timeval tv = { delay_ms / 1000, (delay_ms % 1000) * 1000 };
		if (!p)
			return;
		p->req = req;
		p->ev = evtimer_new(base, later, p);
		evtimer_add(p->ev, &tv);
		return;
	}
	answer(req);
}

static void on_signal(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

int main(int argc, char **argv)
{
	struct event_base *base;
	struct evhttp *http;
	struct evhttp_bound_socket *sock;
	struct event *sig;
	const char *port_file = NULL;
	int i, port = 0;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--name") && i + 1 < argc)
			name = argv[++i];
		else if (!strcmp(argv[i], "--port-file") && i + 1 < argc)
			port_file = argv[++i];
		else if (!strcmp(argv[i], "--port") && i + 1 < argc)
			port = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--status") && i + 1 < argc)
			status = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--delay-ms") && i + 1 < argc)
			delay_ms = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--error-rate") && i + 1 < argc)
			error_rate = atof(argv[++i]);
		else if (!strcmp(argv[i], "--close"))
			close_conn = 1;
		else {
			fprintf(stderr, "usage: upstream [--name V] [--port-file F] [--port P] "
					"[--status CODE] [--delay-ms MS] [--error-rate R] [--close]\n");
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	http = evhttp_new(base);
	evhttp_set_gencb(http, on_request, base);
	sock = evhttp_bind_socket_with_handle(http, "127.0.0.1", (unsigned short)port);
	if (!sock) {
		fprintf(stderr, "upstream: cannot listen\n");
		return 1;
	}
	if (port_file) {
		FILE *f = fopen(port_file, "w");
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *)&ss, &len);
		if (f) {
			fprintf(f, "%d\n", ntohs(((struct sockaddr_in *)&ss)->sin_port));
			fclose(f);
		}
	}
	sig = evsignal_new(base, SIGTERM, on_signal, base);
	event_add(sig, NULL);
	event_base_dispatch(base);
	event_free(sig);
	evhttp_free(http);
	event_base_free(base);
	return 0;
}
