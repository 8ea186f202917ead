/* SPDX-License-Identifier: MIT */
/*
 * The thread-local error message behind every MVMS_E* return. It formats and stores;
 * it does not log or print.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "common.h"

static _Thread_local char last_msg[1024];
static _Thread_local int last_code;

int mvms_error_set(int code, const char *fmt, ...)
{
	char msg[sizeof(last_msg)];
	va_list ap;

	/* Formatted aside first: callers may pass mvms_error_last() itself as an argument. */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	memcpy(last_msg, msg, sizeof(last_msg));
	last_code = code;
	return code;
}

const char *mvms_error_last(void)
{
	return last_msg;
}

int mvms_error_last_code(void)
{
	return last_code;
}

void mvms_error_clear(void)
{
	last_msg[0] = '\0';
	last_code = 0;
}

/* The one table of wire names: the server sends a code's name in {"error":{"code":NAME}}
 * and the client maps the name back, so a command over --remote fails with the code (and
 * exit status) the same command gets on a local store. The first row of a code is its name;
 * later rows are the other names the server sends for it (a server's own damage is
 * "store_damaged", a lost compare-and-swap of a branch "gc_conflict", ...). */
static const struct {
	int code;
	const char *name;
} wire_names[] = {
	{ MVMS_OK, "ok" },
	{ MVMS_ENOTFOUND, "not_found" },
	{ MVMS_EEXISTS, "exists" },
	{ MVMS_EAMBIGUOUS, "ambiguous" },
	{ MVMS_EBUFS, "buffer_too_small" },
	{ MVMS_EUSER, "stopped" },
	{ MVMS_EINVALID, "invalid" },
	{ MVMS_ECONFLICT, "conflict" },
	{ MVMS_EMISMATCH, "corrupt" },
	{ MVMS_EAUTH, "unauthorized" },
	{ MVMS_ETIMEOUT, "timeout" },
	{ MVMS_ENOTSUPPORTED, "not_supported" },
	{ MVMS_EMERGE, "merge_conflict" },
	{ MVMS_EPOLICY, "policy_refused" },
	{ MVMS_ERROR, "error" },
	/* Other names for the same codes. */
	{ MVMS_EMISMATCH, "store_damaged" },
	{ MVMS_EMISMATCH, "corrupt_pack" },
	{ MVMS_ECONFLICT, "gc_conflict" },
	{ MVMS_ECONFLICT, "lease_expired" },
	{ MVMS_EAUTH, "forbidden" },
	{ MVMS_EAUTH, "read_only" },
	{ MVMS_EINVALID, "invalid_manifest" },
};

const char *mvms_error_name(int code)
{
	size_t i;

	for (i = 0; i < sizeof(wire_names) / sizeof(wire_names[0]); i++)
		if (wire_names[i].code == code)
			return wire_names[i].name;
	return "error";
}

int mvms_error_from_name(const char *name)
{
	size_t i;

	for (i = 0; name && i < sizeof(wire_names) / sizeof(wire_names[0]); i++)
		if (strcmp(wire_names[i].name, name) == 0)
			return wire_names[i].code;
	return 0;
}
