/* SPDX-License-Identifier: MIT */
/*
 * mvms-store serve: binds one listening socket and runs N worker threads, each with its own
 * event loop, evhttp and store handle (SQLite connections are not shared between threads),
 * all accepting on that socket (each through its own duplicate of it: libevent closes the
 * descriptor it was given). SIGTERM/SIGINT stop accepting, let requests in flight finish
 * (bounded), then close. Out of descriptors (EMFILE, ENFILE), accept() fails at once and
 * the listening socket stays readable: a worker stops listening for a back-off that
 * doubles while nothing gets accepted, instead of spinning, and logs the episode once when
 * it starts and once when it ends. Request handling is router.c's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <fcntl.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <event2/util.h>
#include "server.h"

#define GRACE_SECONDS 30
/* Accepting paused after accept() failed: first pause, longest pause (also how long the
 * listener must go without a failure for the episode to end). */
#define PAUSE_MIN_MS 100
#define PAUSE_MAX_MS 1000

enum accept_state {
	ACCEPTING,        /* no trouble */
	PAUSED,           /* listener disabled until the resume timer fires */
	PROBING,          /* listening again; the episode ends after PAUSE_MAX_MS without a failure */
};

struct srv_worker {
	unsigned index;
	pthread_t thread;
	struct event_base *base;
	struct evhttp *http;
	struct evhttp_bound_socket *bound;
	srv_gate *gate;
	mvms_store *st;
	const srv_options *opts;
	int started;
	int inflight;                /* streaming replies still being sent */
	int stopping;
	struct evconnlistener *lev;  /* the listener of `bound` */
	struct event *resume;        /* ends a pause, then ends the episode */
	struct event *refresh;       /* catches the database up with the log now and then */
	enum accept_state accept;
	unsigned pause_ms;           /* the current pause */
	unsigned pauses;             /* pauses in this episode */
	unsigned long accepted;      /* connections accepted since the last pause */
	double episode_t0;
};

static _Thread_local srv_worker *tl_worker;
/* Workers in a back-off episode: the first to start one and the last to end one log it, so
 * an episode is two lines however many workers share the socket. */
static atomic_int episodes;

void srv_worker_inflight(srv_worker *w, int delta)
{
	w->inflight += delta;
	if (w->stopping && w->inflight <= 0)
		event_base_loopbreak(w->base);
}

const srv_options *srv_worker_options(srv_worker *w)
{
	return w->opts;
}

struct event_base *srv_worker_base(srv_worker *w)
{
	return w->base;
}

mvms_store *srv_worker_store(srv_worker *w)
{
	return w->st;
}

static void *worker_main(void *arg)
{
	srv_worker *w = arg;

	tl_worker = w;
	srv_gate_enter(w->gate);
	event_base_dispatch(w->base);
	return NULL;
}

/* evhttp's listener failed an accept() with an error that retrying at once cannot cure
 * (EMFILE, ENFILE, ENOBUFS, ENOMEM...): the socket stays readable, so listening on would
 * spin. Stop listening for a while: the pause doubles while accepting gets nowhere, and
 * starts again from the shortest when connections were accepted since the last one. */
static void accept_failed(struct evconnlistener *lev, void *arg)
{
	srv_worker *w = tl_worker;
	int err = EVUTIL_SOCKET_ERROR();
	struct timeval tv;

	(void)arg;
	if (!w || w->lev != lev || w->stopping)
		return;
	evconnlistener_disable(lev);
	if (w->accept == ACCEPTING) {
		w->pause_ms = PAUSE_MIN_MS;
		w->pauses = 0;
		w->episode_t0 = srv_now();
		if (atomic_fetch_add(&episodes, 1) == 0)
			fprintf(stderr,
				"mvms-store: serve: cannot accept connections: %s; pausing accepts "
				"(%d ms, doubling up to %d ms) until it works again\n",
				evutil_socket_error_to_string(err), PAUSE_MIN_MS, PAUSE_MAX_MS);
	} else if (w->accepted > 0) {
		w->pause_ms = PAUSE_MIN_MS;
	} else if ((w->pause_ms *= 2) > PAUSE_MAX_MS) {
		w->pause_ms = PAUSE_MAX_MS;
	}
	w->accept = PAUSED;
	w->pauses++;
	w->accepted = 0;
	tv.tv_sec = w->pause_ms / 1000;
	tv.tv_usec = (w->pause_ms % 1000) * 1000;
	event_add(w->resume, &tv);
}

/* The resume timer: listen again after a pause; after a quiet PAUSE_MAX_MS, the episode
 * is over. */
static void accept_resume(evutil_socket_t fd, short what, void *arg)
{
	srv_worker *w = arg;
	struct timeval tv = { PAUSE_MAX_MS / 1000, (PAUSE_MAX_MS % 1000) * 1000 };

	(void)fd;
	(void)what;
	if (w->stopping || !w->lev)
		return;
	if (w->accept == PAUSED) {
		w->accept = PROBING;
		evconnlistener_enable(w->lev);
		event_add(w->resume, &tv);
	} else if (w->accept == PROBING) {
		w->accept = ACCEPTING;
		if (atomic_fetch_sub(&episodes, 1) == 1)
			fprintf(stderr,
				"mvms-store: serve: accepting again after %.1f s (%u pause%s)\n",
				srv_now() - w->episode_t0, w->pauses, w->pauses == 1 ? "" : "s");
	}
}

/* Each connection's bufferevent (evhttp_set_bevcb): the gate's, counting accepts. */
static struct bufferevent *worker_bev(struct event_base *base, void *arg)
{
	srv_worker *w = arg;

	w->accepted++;
	return srv_gate_bev(base, NULL);
}

/* Runs in the worker's own loop: stop accepting; handlers reply before returning, so only
 * streaming replies can still be in flight: leave when they are done, or after the grace
 * period. */
static void stop_worker(evutil_socket_t fd, short what, void *arg)
{
	srv_worker *w = arg;
	struct timeval grace = { GRACE_SECONDS, 0 };

	(void)fd;
	(void)what;
	if (w->resume)
		event_del(w->resume);
	if (w->bound) {
		evhttp_del_accept_socket(w->http, w->bound);
		w->bound = NULL;
		w->lev = NULL;
	}
	w->stopping = 1;
	if (w->inflight <= 0)
		event_base_loopbreak(w->base);
	else
		event_base_loopexit(w->base, &grace);
}

static int parse_listen(struct sockaddr_storage *ss, socklen_t *len, const char *spec)
{
	char host[256];
	const char *colon = strrchr(spec, ':');
	long port;
	char *end;

	if (!colon || (size_t)(colon - spec) >= sizeof(host))
		return -1;
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end || end == colon + 1 || port < 0 || port > 65535)
		return -1;
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
		host[strlen(host) - 1] = '\0';
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host + 1, &a6->sin6_addr) != 1)
			return -1;
		*len = sizeof(*a6);
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		if (strcmp(host, "localhost") == 0)
			strcpy(host, "127.0.0.1");
		if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
			return -1;
		*len = sizeof(*a4);
	}
	return 0;
}

/* The address @fd is bound to, as "http://ADDR:PORT" (IPv6 in brackets), with a note
 * when it is a wildcard: what --listen asked for, with port 0 resolved. The port, or -1. */
static int bound_url(char *url, size_t n, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN];
	int port, any;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)&ss;
		port = ntohs(a6->sin6_port);
		any = IN6_IS_ADDR_UNSPECIFIED(&a6->sin6_addr);
		if (!inet_ntop(AF_INET6, &a6->sin6_addr, host, sizeof(host)))
			return -1;
		snprintf(url, n, "http://[%s]:%d%s", host, port, any ? " (all interfaces)" : "");
	} else {
		const struct sockaddr_in *a4 = (const struct sockaddr_in *)&ss;
		port = ntohs(a4->sin_port);
		any = a4->sin_addr.s_addr == htonl(INADDR_ANY);
		if (!inet_ntop(AF_INET, &a4->sin_addr, host, sizeof(host)))
			return -1;
		snprintf(url, n, "http://%s:%d%s", host, port, any ? " (all IPv4 interfaces)" : "");
	}
	return port;
}

/* The listening socket of --listen, non-blocking, into *@out_fd, and what it is bound to
 * into @url. 0, or the exit code after saying why on stderr (*@out_fd may be open). */
static int open_listener(int *out_fd, int *out_port, char *url, size_t url_size,
			 const srv_options *opts)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	int fd, one = 1;

	*out_fd = -1;
	if (parse_listen(&ss, &sslen, opts->listen) < 0) {
		fprintf(stderr, "mvms-store: serve: bad --listen '%s' (want ADDR:PORT)\n", opts->listen);
		return 2;
	}
	fd = *out_fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&ss, sslen) < 0 || listen(fd, 1024) < 0 ||
	    evutil_make_socket_nonblocking(fd) < 0) {
		fprintf(stderr, "mvms-store: serve: cannot listen on %s: %s\n", opts->listen,
			strerror(errno));
		return 1;
	}
	if ((*out_port = bound_url(url, url_size, fd)) < 0) {
		fprintf(stderr, "mvms-store: serve: cannot read the bound address: %s\n",
			strerror(errno));
		return 1;
	}
	return 0;
}

/* In the background, so a quiet server's first request finds its refs fresh; a failure
 * (the bucket unreachable) is retried at the next tick, and requests say it. */
static void refresh_tick(evutil_socket_t fd, short what, void *arg)
{
	srv_worker *w = arg;

	(void)fd;
	(void)what;
	if (mvms_store_refresh(w->st, 0) < 0)
		mvms_error_clear();
}

/* Worker @w: its own store handle, event base, evhttp with the gate and the limits, and its
 * own duplicate of the listening socket @fd. -1 when something could not be made (what
 * was made is freed by workers_free). */
static int worker_setup(srv_worker *w, unsigned index, const srv_options *opts, int fd)
{
	int wfd;

	w->index = index;
	w->opts = opts;
	if (mvms_store_open(&w->st, opts->store_dir, 1) < 0) {
		fprintf(stderr, "mvms-store: serve: %s\n", mvms_error_last());
		return -1;
	}
	w->base = event_base_new();
	w->http = w->base ? evhttp_new(w->base) : NULL;
	if (!w->http)
		return -1;
	evhttp_set_gencb(w->http, srv_dispatch, w);
	if (srv_gate_new(&w->gate, opts->max_body) < 0) {
		fprintf(stderr, "mvms-store: serve: %s\n", mvms_error_last());
		return -1;
	}
	evhttp_set_bevcb(w->http, worker_bev, w);
	evhttp_set_max_body_size(w->http, (ev_ssize_t)opts->max_body);
	evhttp_set_max_headers_size(w->http, 64 * 1024);
	evhttp_set_timeout(w->http, opts->timeout);
	evhttp_set_allowed_methods(w->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
					    EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD);
	/* libevent closes the descriptor of a listener it frees: each its own. */
	if ((wfd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0) {
		fprintf(stderr, "mvms-store: serve: %s\n", strerror(errno));
		return -1;
	}
	w->bound = evhttp_accept_socket_with_handle(w->http, wfd);
	if (!w->bound)
		return -1; /* wfd: libevent may have closed it; the process is ending */
	w->lev = evhttp_bound_socket_get_listener(w->bound);
	w->resume = evtimer_new(w->base, accept_resume, w);
	if (!w->resume)
		return -1;
	evconnlistener_set_error_cb(w->lev, accept_failed);
	if (opts->refresh > 0) {
		struct timeval tv;
		tv.tv_sec = (time_t)opts->refresh;
		tv.tv_usec = (suseconds_t)((opts->refresh - (double)tv.tv_sec) * 1e6);
		w->refresh = event_new(w->base, -1, EV_PERSIST, refresh_tick, w);
		if (!w->refresh || event_add(w->refresh, &tv) < 0)
			return -1;
	}
	return 0;
}

/* Frees what worker_setup made for the @n workers (their threads have ended). */
static void workers_free(srv_worker *workers, unsigned n)
{
	unsigned i;

	for (i = 0; workers && i < n; i++) {
		if (workers[i].resume)
			event_free(workers[i].resume);
		if (workers[i].refresh)
			event_free(workers[i].refresh);
		if (workers[i].http)
			evhttp_free(workers[i].http);
		if (workers[i].base)
			event_base_free(workers[i].base);
		srv_gate_free(workers[i].gate);
		mvms_store_free(workers[i].st);
	}
	free(workers);
}

int srv_run(const srv_options *opts)
{
	srv_worker *workers = NULL;
	sigset_t sigs;
	unsigned n = opts->threads, i;
	int fd = -1, port = -1, sig, rc;
	char url[INET6_ADDRSTRLEN + 64];
	FILE *pf;

	if (evthread_use_pthreads() < 0) {
		fprintf(stderr, "mvms-store: serve: libevent has no thread support\n");
		return 1;
	}
	if ((rc = open_listener(&fd, &port, url, sizeof(url), opts)) != 0)
		goto done;
	rc = 1;
	if (n == 0) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);
		n = c > 0 ? (unsigned)c : 1;
	}
	if (n > 64)
		n = 64;

	/* Signals go to the main thread's sigwait only: block them before threads exist. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	workers = calloc(n, sizeof(*workers));
	if (!workers)
		goto done;
	for (i = 0; i < n; i++)
		if (worker_setup(&workers[i], i, opts, fd) < 0)
			goto done;
	/* The stored counters are loaded before a worker takes a request. */
	if (srv_driver_start(opts, !opts->read_only) < 0)
		goto done;
	for (i = 0; i < n; i++) {
		if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0)
			goto stop;
		workers[i].started = 1;
	}
	fprintf(stderr, "mvms-store: serving %s on %s with %u thread%s%s\n", opts->store_dir, url,
		n, n == 1 ? "" : "s", opts->read_only ? " (read-only)" : "");
	if (opts->port_file && (pf = fopen(opts->port_file, "w"))) {
		fprintf(pf, "%d\n", port);
		fclose(pf);
	}
	do {
		if (sigwait(&sigs, &sig) != 0)
			sig = SIGTERM;
	} while (sig != SIGTERM && sig != SIGINT);
	fprintf(stderr, "mvms-store: shutting down: no new connections, finishing requests\n");
	rc = 0;
stop:
	for (i = 0; i < n; i++)
		if (workers[i].started)
			event_base_once(workers[i].base, -1, EV_TIMEOUT, stop_worker, &workers[i], NULL);
	for (i = 0; i < n; i++)
		if (workers[i].started)
			pthread_join(workers[i].thread, NULL);
	/* After the workers: their last counts are stored by the driver's last tick. */
	srv_driver_stop();
done:
	workers_free(workers, n);
	if (fd >= 0)
		close(fd);
	return rc;
}
