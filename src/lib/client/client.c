/* SPDX-License-Identifier: MIT */
/*
 * A store handle over HTTP: mvms_store_connect opens a server's store as an mvms_store whose
 * transport table (meta/transport.h) sends each operation to the server's API, so that the
 * command line and any other caller run the same code on a local store and on a remote one.
 * This file holds the connection, the table and the request helpers; the operations are in
 * client_read.c and client_write.c, push and pull in transfer/remote*.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common.h"
#include "client_int.h"
#include "mvms/remote.h"

static int vpath(char **out, const char *fmt, va_list ap)
{
	mvms_buf b = MVMS_BUF_INIT;
	const char *p;
	char *e = NULL;
	int error = 0;

	*out = NULL;
	for (p = fmt; *p; p++) {
		if (*p != '%' || !p[1]) {
			MVMS_TRY(mvms_buf_put(&b, p, 1));
			continue;
		}
		switch (*++p) {
		case 's':
			MVMS_TRY(mvms_remote_escape(&e, va_arg(ap, const char *)));
			MVMS_TRY(mvms_buf_puts(&b, e));
			free(e);
			e = NULL;
			break;
		case 'R':
			MVMS_TRY(mvms_buf_puts(&b, va_arg(ap, const char *)));
			break;
		case 'L':
			MVMS_TRY(mvms_buf_printf(&b, "%lld", (long long)va_arg(ap, int64_t)));
			break;
		default:
			MVMS_TRY(mvms_buf_put(&b, p - 1, 2));
		}
	}
	MVMS_TRY(mvms_buf_put(&b, "", 1));
	*out = mvms_buf_detach(&b);
done:
	free(e);
	mvms_buf_dispose(&b);
	return error;
}

int mvms_client__path(char **out, const char *fmt, ...)
{
	va_list ap;
	int error;

	va_start(ap, fmt);
	error = vpath(out, fmt, ap);
	va_end(ap);
	return error;
}

int mvms_client__get(cJSON **out, mvms_store *st, const char *what, const char *fmt, ...)
{
	char *path = NULL;
	va_list ap;
	int error;

	*out = NULL;
	va_start(ap, fmt);
	error = vpath(&path, fmt, ap);
	va_end(ap);
	if (error == 0)
		error = mvms_client__call(out, st, "GET", path, NULL, what);
	free(path);
	return error;
}

int mvms_client__call(cJSON **out, mvms_store *st, const char *method, const char *path,
		      const cJSON *body, const char *what)
{
	mvms_buf resp = MVMS_BUF_INIT;
	char *text = NULL;
	int error = 0;

	if (out)
		*out = NULL;
	if (!path) /* mvms_client__path failed: its message stands */
		return MVMS_ERROR;
	if (body) {
		text = cJSON_PrintUnformatted(body);
		MVMS_CHECK_ALLOC(text, error);
	}
	st->remote->plain_errors = 1;
	error = mvms_http__call(st->remote, method, path, text, text ? strlen(text) : 0,
				text ? "application/json" : NULL, &resp, what);
	st->remote->plain_errors = 0;
	if (error < 0) {
		/* An error document may say more than its message (a merge's conflicts). */
		if (out && resp.size && !mvms_json_has_nul(resp.ptr, resp.size))
			*out = cJSON_ParseWithLength(resp.ptr, resp.size);
		goto done;
	}
	if (out && !(*out = mvms_http__parse_json(&resp, what)))
		error = MVMS_ERROR;
done:
	free(text);
	mvms_buf_dispose(&resp);
	return error;
}

static void client_close(mvms_store *st)
{
	mvms_remote_free(st->remote);
	free(st->path);
	free(st);
}

static int client_push(mvms_push_result *out, mvms_store *st, const char *model,
		       const char *path, const mvms_push_options *opts)
{
	return mvms_remote_push(out, st->remote, model, path, opts);
}

static int client_pull(mvms_pull_result *out, mvms_store *st, const char *spec,
		       const char *dir, const mvms_pull_options *opts)
{
	return mvms_remote_pull(out, st->remote, spec, dir, opts);
}

static mvms_transport http_transport = { .name = "HTTP", .close = client_close };

static const mvms_transport *transport(void)
{
	static int filled;

	/* Filled once; every field is a constant function address, so a second thread
	 * filling it at the same time writes the same values. */
	if (!__atomic_load_n(&filled, __ATOMIC_ACQUIRE)) {
		http_transport.push = client_push;
		http_transport.pull = client_pull;
		mvms_client__read_ops(&http_transport);
		mvms_client__write_ops(&http_transport);
		mvms_client__history_ops(&http_transport);
		mvms_client__file_ops(&http_transport);
		mvms_client__admin_ops(&http_transport);
		mvms_client__rollout_ops(&http_transport);
		__atomic_store_n(&filled, 1, __ATOMIC_RELEASE);
	}
	return &http_transport;
}

int mvms_store_connect(mvms_store **out, const char *url, const char *token,
		       const char *cache_dir)
{
	mvms_store *st = NULL;
	mvms_store_info info;
	int error = 0;

	*out = NULL;
	st = calloc(1, sizeof(*st));
	MVMS_CHECK_ALLOC(st, error);
	MVMS_TRY(mvms_remote_open(&st->remote, url, token, cache_dir));
	st->path = strdup(st->remote->url);
	MVMS_CHECK_ALLOC(st->path, error);
	/* The server's parameters, as its /v1/store said them (the cache was made with them). */
	mvms_store_get_info(&info, st->remote->cache);
	snprintf(st->backend_name, sizeof(st->backend_name), "%s", st->remote->url);
	st->chunker.min_size = info.chunk_min;
	st->chunker.avg_size = info.chunk_avg;
	st->chunker.max_size = info.chunk_max;
	st->level = info.level;
	st->pack_size = st->remote->pack_size;
	st->tp = transport();
	*out = st;
	st = NULL;
done:
	if (st) {
		mvms_remote_free(st->remote);
		free(st->path);
		free(st);
	}
	return error;
}

int mvms_store_is_remote(const mvms_store *st)
{
	return st && st->tp != NULL;
}
