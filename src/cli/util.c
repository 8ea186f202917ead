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

int cli_open_store(mvms_store **out)
{
	/* With --remote the same handle runs every operation on the server. */
	int error = cli.remote ? mvms_store_connect(out, cli.remote, cli.token, NULL)
			       : mvms_store_open(out, cli_store_dir(), 1);

	return error < 0 ? cli_fail(error) : 0;
}

int cli_fail(int code)
{
	const char *msg = mvms_error_last();

	if (cli.json) {
		cJSON *doc = cJSON_CreateObject(), *err = cJSON_AddObjectToObject(doc, "error");
		cJSON_AddStringToObject(err, "code", mvms_error_name(code));
		cJSON_AddStringToObject(err, "message", msg && *msg ? msg : "error");
		cli_print_json(doc);
	}
	fprintf(stderr, "mvms-store: %s\n", msg && *msg ? msg : "error");
	switch (code) {
	case MVMS_ENOTFOUND:
		return EXIT_NOTFOUND;

	case MVMS_ECONFLICT:
	case MVMS_EMERGE:
		return EXIT_CONFLICT;
	default:
		return EXIT_ERROR;
	}
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	const cli_cmd *c = cli_find(cmd);
	va_list ap;

	fprintf(stderr, "mvms-store %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	if (c)
		fprintf(stderr, "usage: mvms-store %s %s\n", c->name, c->usage);
	return EXIT_USAGE;
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

