/* SPDX-License-Identifier: MIT */
/*
 * Private helpers shared by the modules of libmvms: allocation checks, growing byte
 * buffers, little-endian encoding, checked arithmetic. Nothing here is public API.
 */
#ifndef MVMS_COMMON_H
#define MVMS_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "mvms/errors.h"
#include "mvms/oid.h"

#define MVMS_UNUSED(x) ((void)(x))
#define MVMS_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* `if (!p) { error = oom(); goto done; }` in one line. */
#define MVMS_CHECK_ALLOC(p, err)                                                     \
	do {                                                                         \
		if ((p) == NULL) {                                                   \
			(err) = mvms_error_set(MVMS_ERROR, "out of memory");         \
			goto done;                                                   \
		}                                                                    \
	} while (0)

/* `if ((error = f()) < 0) goto done;` */
#define MVMS_TRY(expr)                                                               \
	do {                                                                         \
		if ((error = (expr)) < 0)                                            \
			goto done;                                                   \
	} while (0)

/* A growing byte string. ptr is NUL-terminated after each append (not counted in size). */
typedef struct mvms_buf {
	char *ptr;
	size_t size;
	size_t asize;
} mvms_buf;
#define MVMS_BUF_INIT { NULL, 0, 0 }

int mvms_buf_grow(mvms_buf *b, size_t extra);
int mvms_buf_put(mvms_buf *b, const void *data, size_t len);
int mvms_buf_puts(mvms_buf *b, const char *s);
int mvms_buf_printf(mvms_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Appends @s as a JSON string literal, quotes included (canonical escaping). */
int mvms_buf_put_json_string(mvms_buf *b, const char *s);
void mvms_buf_clear(mvms_buf *b);
void mvms_buf_dispose(mvms_buf *b);
/* Hands the bytes to the caller (free()) and resets the buffer. */
char *mvms_buf_detach(mvms_buf *b);

/* Room for element @n of the growing array @items (elements of @elem bytes, *cap of them
 * allocated): doubles it (to @first at first) when n == *cap. Returns the array, perhaps
 * moved, or NULL with an error message set (@items is then left as it was). */
void *mvms_array_room(void *items, size_t *cap, size_t n, size_t elem, size_t first);

static inline void mvms_le32_put(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24);
}
static inline void mvms_le64_put(unsigned char *p, uint64_t v)
{
	mvms_le32_put(p, (uint32_t)v);
	mvms_le32_put(p + 4, (uint32_t)(v >> 32));
}
static inline uint32_t mvms_le32_get(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t mvms_le64_get(const unsigned char *p)
{
	return (uint64_t)mvms_le32_get(p) | (uint64_t)mvms_le32_get(p + 4) << 32;
}

/* 1 when a*b overflows (then *out is unspecified). */
static inline int mvms_mul_overflow(uint64_t *out, uint64_t a, uint64_t b)
{
	return __builtin_mul_overflow(a, b, out);
}
static inline int mvms_add_overflow(uint64_t *out, uint64_t a, uint64_t b)
{
	return __builtin_add_overflow(a, b, out);
}

/* Writes 2*n lower-case hex digits and a NUL into @out (2*n+1 bytes). The library's only hex
 * encoder (oid.c); ids, digests and random names all go through it. */
void mvms_hex_encode(char *out, const void *in, size_t n);

/* Object keys of the store layout: "packs/ab/<64 hex>", "manifests/ab/<64 hex>", ... */
void mvms_object_key(char *out, size_t out_size, const char *kind, const mvms_oid *id);
#define MVMS_KEY_MAX 96

/* Reads/writes all bytes, retrying on EINTR and short transfers. 0 or MVMS_ERROR. */
int mvms_read_full(int fd, void *buf, size_t len, uint64_t offset, const char *what);
int mvms_write_full(int fd, const void *buf, size_t len, const char *what);

/* Monotonic seconds, for throughput figures. */
double mvms_now(void);

#endif
