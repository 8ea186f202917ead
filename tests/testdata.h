/* SPDX-License-Identifier: MIT */
/*
 * Test data for the unit tests: reproducible bytes zstd cannot shrink (fill_random) or
 * shrinks well (fill_text), and reading a whole file back (read_whole).
 */
#ifndef MVMS_TESTDATA_H
#define MVMS_TESTDATA_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common.h"

/* xorshift32 bytes: different for every seed, incompressible. */
static inline void fill_random(unsigned char *p, size_t len, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;
	size_t k;

	for (k = 0; k < len; k++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[k] = (unsigned char)x;
	}
}

/* Text-like bytes that zstd shrinks well but not trivially. */
static inline void fill_text(unsigned char *p, size_t len, uint32_t seed)
{
	static const char *words[] = { "tensor ", "weight ", "bias ", "layer.", "attn ",
				       "0.125 ", "mlp ", "\n" };
	size_t i = 0;

	while (i < len) {
		const char *w = words[(seed = seed * 1103515245u + 12345u) >> 16 & 7];
		size_t n = strlen(w);

		if (n > len - i)
			n = len - i;
		memcpy(p + i, w, n);
		i += n;
	}
}

/* The whole of @path in a malloc()ed buffer (one byte more, for a NUL). 0 or -1. */
static inline int read_whole(unsigned char **out, size_t *len, const char *path)
{
	struct stat sb;
	int fd = open(path, O_RDONLY | O_CLOEXEC), error = -1;

	*out = NULL;
	*len = 0;
	if (fd < 0 || fstat(fd, &sb) < 0)
		goto done;
	if (!(*out = malloc((size_t)sb.st_size + 1)))
		goto done;
	if (sb.st_size && mvms_read_full(fd, *out, (size_t)sb.st_size, 0, path) < 0)
		goto done;
	*len = (size_t)sb.st_size;
	error = 0;
done:
	if (fd >= 0)
		close(fd);
	return error;
}

/* Writes @len bytes of fill_random(@seed) to @path: 0, or -1. */
static inline int write_random_file(const char *path, size_t len, uint32_t seed)
{
	unsigned char *p = malloc(len ? len : 1);
	FILE *f = fopen(path, "wb");
	int ok_ = p && f;

	if (ok_) {
		fill_random(p, len, seed);
		ok_ = fwrite(p, 1, len, f) == len;
	}
	if (f && fclose(f) != 0)
		ok_ = 0;
	free(p);
	return ok_ ? 0 : -1;
}

/* The directory @base/@name holding one random file, data.bin, of @len bytes; the returned
 * path lives until four more calls. */
static inline const char *random_tree(const char *base, const char *name, size_t len,
				      uint32_t seed)
{
	static char path[4][512];
	static int k;
	char file[600];
	char *p = path[k++ % 4];

	snprintf(p, 512, "%s/%s", base, name);
	mkdir(p, 0755);
	snprintf(file, sizeof(file), "%s/data.bin", p);
	if (write_random_file(file, len, seed) < 0)
		printf("Bail out! write %s\n", file);
	return p;
}

#endif
