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

const char *mvms_error_name(int code)
{
	switch (code) {
	case MVMS_OK: return "ok";
	case MVMS_ENOTFOUND: return "not_found";
	case MVMS_EEXISTS: return "exists";
	case MVMS_EAMBIGUOUS: return "ambiguous";
	case MVMS_EBUFS: return "buffer_too_small";
	case MVMS_EUSER: return "stopped";
	case MVMS_EINVALID: return "invalid";
	case MVMS_ECONFLICT: return "conflict";
	case MVMS_EMISMATCH: return "corrupt";
	case MVMS_EAUTH: return "unauthorized";
	case MVMS_ETIMEOUT: return "timeout";
	case MVMS_ENOTSUPPORTED: return "not_supported";
	case MVMS_EMERGE: return "merge_conflict";
	default: return "error";
	}
}
