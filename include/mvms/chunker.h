/* SPDX-License-Identifier: MIT */
/*
 * Content-defined chunking: gear-hash FastCDC with normalised chunking (level 1).
 * The function is pure: it finds the first cut point in a buffer. The caller owns the
 * streaming (see mvms_chunker_next) and the forced cut points at tensor boundaries.
 * The gear table, masks and rules are frozen and documented in docs/formats.md:
 * changing any of them changes every chunk id of every store.
 */
#ifndef MVMS_CHUNKER_H
#define MVMS_CHUNKER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MVMS_CHUNKER_AVG_DEFAULT (64u * 1024u) /* as Hugging Face's Xet */
#define MVMS_CHUNKER_AVG_MIN     (1u * 1024u)
#define MVMS_CHUNKER_AVG_MAX     (16u * 1024u * 1024u)

typedef struct mvms_chunker_params {
	uint32_t min_size; /* no cut before this many bytes: avg / 8 */
	uint32_t avg_size; /* the normal size: a power of two */
	uint32_t max_size; /* forced cut at this many bytes: avg * 2 */
	uint64_t mask_s;   /* stricter mask used before avg_size */
	uint64_t mask_l;   /* looser mask used from avg_size on */
} mvms_chunker_params;

/**
 * Fills @p out for an average size @p avg (0 means MVMS_CHUNKER_AVG_DEFAULT).
 * @return 0, or MVMS_EINVALID when avg is not a power of two in [AVG_MIN, AVG_MAX].
 */
int mvms_chunker_params_init(mvms_chunker_params *out, uint32_t avg);

/**
 * Returns the length of the first chunk of data[0..len), a value in [1, len] (0 only
 * when len is 0). The caller must pass len = min(bytes available, max_size, bytes to the
 * next forced boundary) and must only pass fewer than max_size bytes at end of input or
 * at a forced boundary: then the cut points do not depend on how the input was read.
 * When no content-defined cut is found, len is returned.
 */
size_t mvms_chunker_next(const mvms_chunker_params *p, const unsigned char *data, size_t len);

/** The frozen 256-entry gear table (for tests and docs). */
const uint64_t *mvms_chunker_gear(void);

#ifdef __cplusplus
}
#endif
#endif
