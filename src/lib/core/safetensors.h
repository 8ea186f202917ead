/* SPDX-License-Identifier: MIT */
/*
 * safetensors probe: reads a file's 8-byte header length and JSON header (cJSON) and
 * returns its tensors, so the chunker can cut at the header end and at every tensor
 * boundary and the store can record each tensor. It never trusts the header: any
 * inconsistency (offsets outside the file, overlaps, sizes that do not match dtype and
 * shape, bad JSON) makes the file plain bytes. It does not read tensor data.
 */
#ifndef MVMS_SAFETENSORS_H
#define MVMS_SAFETENSORS_H

#include <stdint.h>
#include <stddef.h>
#include "tlayout.h"

/* The format caps the header at 100 MB; larger headers are treated as plain bytes. */
#define MVMS_SAFETENSORS_HEADER_MAX (100u * 1000u * 1000u)

/* A safetensors file's layout (tlayout.h) with format MVMS_TFORMAT_SAFETENSORS: header_end
 * is 8 + N, where tensor data begins; metadata_json is "__metadata__" printed compactly. */
typedef mvms_tlayout mvms_safetensors;

/**
 * Probes an open file of @file_size bytes (reads with pread, does not move the offset).
 * @return 0 with *out set for a valid safetensors file; MVMS_ENOTFOUND with *out NULL when
 * the file is not one (plain bytes, malformed or inconsistent header); MVMS_ERROR on an
 * I/O error. The caller frees *out with mvms_safetensors_free().
 */
int mvms_safetensors_probe(mvms_safetensors **out, int fd, uint64_t file_size);

/**
 * Same as mvms_safetensors_probe on an in-memory prefix of a file: @head holds the first
 * @head_len bytes of a file of @file_size bytes. MVMS_EBUFS when head_len is too short
 * for the header (then *needed is the number of bytes required).
 */
int mvms_safetensors_parse(mvms_safetensors **out, size_t *needed, const void *head,
			   size_t head_len, uint64_t file_size);

/**
 * 1 when the tensors fill the data area exactly: the first starts at the header's end, each
 * next where the last ended, and the last ends at @file_size; 0 when bytes lie outside every
 * tensor (gaps, or trailing bytes), which a file rebuilt from its tensors would lose.
 */
int mvms_safetensors_dense(const mvms_safetensors *st, uint64_t file_size);

/** Bytes per element of a safetensors dtype ("BF16" -> 2), 0 if unknown. */
unsigned mvms_safetensors_dtype_size(const char *dtype);

void mvms_safetensors_free(mvms_safetensors *st);

#endif
