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
	int error = mvms_store_open(out, cli_store_dir(), 1);

	return error < 0 ? cli_fail(error) : 0;
}

int cli_open_remote(mvms_remote **out)
{
	int error = mvms_remote_open(out, cli.remote, cli.token, NULL);

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

const char *cli_time(char *buf, size_t n, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm))
		snprintf(buf, n, "%lld", (long long)t);
	else
		strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
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

cJSON *cli_version_json(const mvms_version_info *v)
{
	cJSON *o = cJSON_CreateObject(), *a, *p;
	char tbuf[32];
	size_t i;

	cJSON_AddStringToObject(o, "model", v->model);
	cJSON_AddNumberToObject(o, "version", (double)v->number);
	cJSON_AddStringToObject(o, "id", v->id);
	cJSON_AddStringToObject(o, "message", v->message);
	cJSON_AddStringToObject(o, "author", v->author);
	cJSON_AddStringToObject(o, "created_at", cli_time(tbuf, sizeof(tbuf), v->created_at));
	cJSON_AddNumberToObject(o, "files", (double)v->file_count);
	cJSON_AddNumberToObject(o, "logical_bytes", (double)v->logical_bytes);
	a = cJSON_AddArrayToObject(o, "parents");
	for (i = 0; i < v->parent_count; i++) {
		p = cJSON_CreateObject();
		cJSON_AddStringToObject(p, "model", v->parents[i].model);
		cJSON_AddNumberToObject(p, "version", (double)v->parents[i].number);
		cJSON_AddStringToObject(p, "id", v->parents[i].id);
		cJSON_AddItemToArray(a, p);
	}
	p = cJSON_AddObjectToObject(o, "meta");
	for (i = 0; i < v->meta_count; i++)
		cJSON_AddStringToObject(p, v->meta_keys[i], v->meta_values[i]);
	a = cJSON_AddArrayToObject(o, "refs");
	for (i = 0; i < v->ref_count; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(v->refs[i]));
	return o;
}
