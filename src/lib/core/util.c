/* SPDX-License-Identifier: MIT */
/*
 * Small shared helpers: growing buffers, canonical JSON string escaping, object keys,
 * full reads and writes on file descriptors, a monotonic clock, the check for an escaped NUL
 * in JSON text.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include "common.h"
#include "mvms/remote.h"

void *mvms_array_room(void *items, size_t *cap, size_t n, size_t elem, size_t first)
{
	size_t ncap, bytes;
	void *p;

	if (n < *cap)
		return items;
	ncap = *cap ? *cap * 2 : first;
	if (ncap <= n || __builtin_mul_overflow(ncap, elem, &bytes) ||
	    !(p = realloc(items, bytes))) {
		mvms_error_set(MVMS_ERROR, "out of memory");
		return NULL;
	}
	*cap = ncap;
	return p;
}

int mvms_buf_grow(mvms_buf *b, size_t extra)
{
	size_t need, nsize;
	char *p;

	if (__builtin_add_overflow(b->size, extra, &need) || need == SIZE_MAX)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	need += 1;
	if (need <= b->asize)
		return 0;
	nsize = b->asize ? b->asize : 64;
	while (nsize < need) {
		if (nsize > SIZE_MAX / 2) {
			nsize = need;
			break;
		}
		nsize *= 2;
	}
	p = realloc(b->ptr, nsize);
	if (!p)
		return mvms_error_set(MVMS_ERROR, "out of memory");
	b->ptr = p;
	b->asize = nsize;
	return 0;
}

int mvms_buf_put(mvms_buf *b, const void *data, size_t len)
{
	int error;

	if ((error = mvms_buf_grow(b, len)) < 0)
		return error;
	if (len)
		memcpy(b->ptr + b->size, data, len);
	b->size += len;
	b->ptr[b->size] = '\0';
	return 0;
}

int mvms_buf_puts(mvms_buf *b, const char *s)
{
	return mvms_buf_put(b, s, strlen(s));
}

int mvms_buf_printf(mvms_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, error;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return mvms_error_set(MVMS_ERROR, "format error");
	if ((error = mvms_buf_grow(b, (size_t)n)) < 0)
		return error;
	va_start(ap, fmt);
	vsnprintf(b->ptr + b->size, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->size += (size_t)n;
	return 0;
}

/* Canonical escaping: ", \ and control characters only; everything else (UTF-8 included)
 * is copied as is, so the same string always gives the same bytes. */
int mvms_buf_put_json_string(mvms_buf *b, const char *s)
{
	int error = 0;
	const unsigned char *p;

	MVMS_TRY(mvms_buf_put(b, "\"", 1));
	for (p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\') {
			char esc[2] = { '\\', (char)*p };
			MVMS_TRY(mvms_buf_put(b, esc, 2));
		} else if (*p < 0x20) {
			MVMS_TRY(mvms_buf_printf(b, "\\u%04x", *p));
		} else {
			MVMS_TRY(mvms_buf_put(b, p, 1));
		}
	}
	MVMS_TRY(mvms_buf_put(b, "\"", 1));
done:
	return error;
}

void mvms_buf_clear(mvms_buf *b)
{
	b->size = 0;
	if (b->ptr)
		b->ptr[0] = '\0';
}

void mvms_buf_dispose(mvms_buf *b)
{
	free(b->ptr);
	b->ptr = NULL;
	b->size = b->asize = 0;
}

char *mvms_buf_detach(mvms_buf *b)
{
	char *p = b->ptr;

	if (!p)
		p = calloc(1, 1);
	b->ptr = NULL;
	b->size = b->asize = 0;
	return p;
}

void mvms_object_key(char *out, size_t out_size, const char *kind, const mvms_oid *id)
{
	char hex[MVMS_OID_HEXSZ + 1];

	mvms_oid_fmt(hex, id);
	snprintf(out, out_size, "%s/%.2s/%s", kind, hex, hex);
}

int mvms_read_full(int fd, void *buf, size_t len, uint64_t offset, const char *what)
{
	unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = pread(fd, p, len, (off_t)offset);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return mvms_error_set(MVMS_ERROR, "read %s: %s", what, strerror(errno));
		if (n == 0)
			return mvms_error_set(MVMS_ERROR, "read %s: unexpected end of file", what);
		p += n;
		len -= (size_t)n;
		offset += (uint64_t)n;
	}
	return 0;
}

int mvms_write_full(int fd, const void *buf, size_t len, const char *what)
{
	const unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return mvms_error_set(MVMS_ERROR, "write %s: %s", what, strerror(errno));
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

double mvms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int mvms_json_has_nul(const char *data, size_t len)
{
	size_t i;

	/* Outside strings a backslash is not JSON at all, so no need to track quotes; each
	 * escape is skipped whole, so "\\u0000" (a backslash, then text) is not a NUL. */
	for (i = 0; i + 1 < len; i++) {
		if (data[i] != '\\')
			continue;
		if (data[i + 1] == 'u' && len - i >= 6 && memcmp(data + i + 2, "0000", 4) == 0)
			return 1;
		i++;
	}
	return 0;
}
