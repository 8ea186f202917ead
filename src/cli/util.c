/* SPDX-License-Identifier: MIT */
/*
 * Command-line helpers: choosing and opening the store, mapping library errors to exit
 * codes and messages, sizes and times for people, JSON output.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cli.h"

static char default_store[4096];

const char *cli_store_dir(void)
{
	const char *e;

	if (cli.store && *cli.store)
		return cli.store;
	e = getenv("MVMS_STORE");
	if (e && *e)
		return e;
	e = cli_config_get("store");
	if (e && *e) {
		const char *home = getenv("HOME");
		if (strncmp(e, "~/", 2) != 0 || !home || !*home)
			return e;
		snprintf(default_store, sizeof(default_store), "%s%s", home, e + 1);
		return default_store;
	}
	e = getenv("XDG_DATA_HOME");
	if (e && *e) {
		snprintf(default_store, sizeof(default_store), "%s/mvms-store", e);
		return default_store;
	}
	e = getenv("HOME");
	snprintf(default_store, sizeof(default_store), "%s/.local/share/mvms-store",
		 e && *e ? e : ".");
	return default_store;
}

/* The one place that opens the selected store, for reading (@create 0) or for a command that
 * may make it (push). A missing store is not made by a command that only reads: a typo in
 * --store would otherwise leave an empty store behind and answer "nothing here". */
static int open_store(mvms_store **out, int create)
{
	const char *dir = cli_store_dir();
	int error;

	*out = NULL;
	/* With --remote the same handle runs every operation on the server. */
	if (cli.remote) {
		error = mvms_store_connect(out, cli.remote, cli.token, NULL);
		return error < 0 ? cli_fail(error) : 0;
	}
	error = mvms_store_open(out, dir, create);
	if (error == MVMS_ENOTFOUND && !create)
		return cli_error(EXIT_NOTFOUND, mvms_error_name(error),
				 "no store at %s (mvms-store init creates one)", dir);
	return error < 0 ? cli_fail(error) : 0;
}

int cli_open_store(mvms_store **out)
{
	return open_store(out, 0);
}

int cli_open_store_create(mvms_store **out)
{
	return open_store(out, 1);
}

int cli_local_store_exists(void)
{
	const char *dir = cli_store_dir();
	mvms_store *st = NULL;
	int error = mvms_store_open(&st, dir, 0);

	mvms_store_free(st);
	if (error == MVMS_ENOTFOUND)
		return cli_error(EXIT_NOTFOUND, mvms_error_name(error),
				 "no store at %s (mvms-store init creates one)", dir);
	return error < 0 ? cli_fail(error) : 0;
}

int cli_local_only(const char *cmd)
{
	if (!cli.remote || !cli.remote_explicit)
		return 0;
	return cli_error(EXIT_USAGE, "usage", "%s cannot run remotely (--remote %s): run it on the "
			 "machine that holds the store", cmd, cli.remote);
}

/* With --json: the one error document on stdout. */
static void json_error(const char *code, const char *msg)
{
	cJSON *doc, *err;

	if (!cli.json)
		return;
	doc = cJSON_CreateObject();
	err = cJSON_AddObjectToObject(doc, "error");
	cJSON_AddStringToObject(err, "code", code);
	cJSON_AddStringToObject(err, "message", msg);
	cli_print_json(doc);
}

int cli_exit_code(int code)
{
	switch (code) {
	case MVMS_ENOTFOUND:
		return EXIT_NOTFOUND;
	case MVMS_EEXISTS:
	case MVMS_ECONFLICT:
	case MVMS_EMERGE:
	case MVMS_EPOLICY: /* refused by a policy: the store's state says no, as a conflict */
		return EXIT_CONFLICT;
	default:
		return EXIT_ERROR;
	}
}

int cli_fail(int code)
{
	const char *msg = mvms_error_last();

	msg = msg && *msg ? msg : "error";
	json_error(mvms_error_name(code), msg);
	fprintf(stderr, "mvms-store: %s\n", msg);
	return cli_exit_code(code);
}

int cli_error(int exit_code, const char *code, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_error(code, msg);
	fprintf(stderr, "mvms-store: %s\n", msg);
	return exit_code;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	const cli_cmd *c = cmd ? cli_find(cmd) : NULL;
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_error("usage", msg);
	fprintf(stderr, "mvms-store%s%s: %s\n", cmd ? " " : "", cmd ? cmd : "", msg);
	if (c)
		fprintf(stderr, "usage: mvms-store %s%s%s%s (more: mvms-store help %s)\n", c->name,
			*c->usage ? " " : "", c->usage, c->opts[0].name ? " [OPTIONS]" : "", c->name);
	return EXIT_USAGE;
}

int cli_parse_duration(int64_t *out, const char *s, int zero_ok)
{
	char *end;
	long long v;
	int64_t mul = 1;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || v < 0 || (v == 0 && !zero_ok))
		return -1;
	if (*end) {
		if (end[1])
			return -1;
		switch (*end) {
		case 's': mul = 1; break;
		case 'm': mul = 60; break;
		case 'h': mul = 3600; break;
		case 'd': mul = 86400; break;
		case 'w': mul = 7 * 86400; break;
		default: return -1;
		}
	}
	/* Ten thousand years is past any sensible duration and far from overflowing int64. */
	if (v > 10000LL * 366 * 86400 / mul)
		return -1;
	*out = (int64_t)v * mul;
	return 0;
}

int cli_parse_size(uint64_t *out, const char *s)
{
	char *end;
	unsigned long long v;
	uint64_t mul = 1;

	if (!s || !*s || *s == '-')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	if (*end) {
		switch (*end) {
		case 'k': case 'K': mul = 1024ull; break;
		case 'm': case 'M': mul = 1024ull * 1024; break;
		case 'g': case 'G': mul = 1024ull * 1024 * 1024; break;
		default: return -1;
		}
		end++;
		if (strcmp(end, "") != 0 && strcmp(end, "B") != 0 && strcmp(end, "iB") != 0 &&
		    strcmp(end, "b") != 0)
			return -1;
	}
	if (v > UINT64_MAX / mul)
		return -1;
	*out = (uint64_t)v * mul;
	return 0;
}

const char *cli_human(char *buf, size_t n, uint64_t bytes)
{
	static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)bytes;
	size_t u = 0;

	while (v >= 1024.0 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024.0;
		u++;
	}
	if (u == 0)
		snprintf(buf, n, "%llu B", (unsigned long long)bytes);
	else
		snprintf(buf, n, "%.1f %s", v, units[u]);
	return buf;
}

void cli_print_json(cJSON *doc)
{
	char *s = cJSON_Print(doc);

	if (s) {
		fputs(s, stdout);
		fputc('\n', stdout);
		cJSON_free(s);
	}
	cJSON_Delete(doc);
}

