/* SPDX-License-Identifier: MIT */
/*
 * GGUF (llama.cpp's model files, versions 2 and 3) tensor layout: header, metadata key/values
 * (only general.alignment is read, the rest skipped with every length checked), the tensor
 * info table (name, dims, ggml type, offset) and the aligned data section. Quantized blocks
 * are not decoded: a tensor's length comes from its type's block size and bytes per block.
 */
#ifndef MVMS_GGUF_H
#define MVMS_GGUF_H

#include <stdint.h>
#include "tlayout.h"

/* Bounds beyond which a file is treated as plain bytes (llama.cpp allows less). */
#define MVMS_GGUF_NAME_MAX 256u         /* bytes in a tensor name (llama.cpp: 63) */
#define MVMS_GGUF_KEY_MAX 65535u        /* bytes in a metadata key */
#define MVMS_GGUF_DIMS_MAX 4u           /* GGML_MAX_DIMS */
#define MVMS_GGUF_NEST_MAX 8u           /* arrays of arrays, this deep */
#define MVMS_GGUF_ALIGN_DEFAULT 32u
#define MVMS_GGUF_ALIGN_MAX (1u << 30)

/* What a ggml type id means: its name ("Q4_K"), elements per block and bytes per block, and
 * its enum mvms_dtype (UNKNOWN for quantized blocks). 0, or MVMS_ENOTFOUND (no message) for
 * an id this parser does not know. */
int mvms_gguf_type(uint32_t type, const char **name, unsigned *block, unsigned *bytes,
		   enum mvms_dtype *dtype);

/* Parses a GGUF file (the caller has seen the magic): 0 with *out (format
 * MVMS_TFORMAT_GGUF, header_end where the data section starts), MVMS_ENOTFOUND when it is
 * malformed or inconsistent, another MVMS_E* on a read error. */
int mvms_gguf_parse(mvms_tlayout **out, const mvms_tl_src *src);

#endif
