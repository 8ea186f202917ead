/* SPDX-License-Identifier: MIT */
/*
 * Element types of tensor data, independent of the file format that names them: the hint a
 * push gives the codec for each chunk (a chunk cut inside one tensor has that tensor's
 * dtype), so 16- and 32-bit floats can be stored as byte planes. Format parsers map their own
 * names or type codes to it (safetensors: mvms_dtype_from_name).
 */
#ifndef MVMS_DTYPE_H
#define MVMS_DTYPE_H

/* Small numbers: a push keeps one per chunk in a uint8_t. UNKNOWN (0) is what a chunk
 * outside every tensor, or of a file of unknown layout, gets. */
enum mvms_dtype {
	MVMS_DTYPE_UNKNOWN = 0,
	MVMS_DTYPE_BF16,
	MVMS_DTYPE_F16,
	MVMS_DTYPE_F32,
	MVMS_DTYPE_F64,
	MVMS_DTYPE_F8,   /* both 8-bit float layouts (E4M3, E5M2): stored as plain bytes */
	MVMS_DTYPE_I8,
	MVMS_DTYPE_U8,
	MVMS_DTYPE_I16,
	MVMS_DTYPE_U16,
	MVMS_DTYPE_I32,
	MVMS_DTYPE_U32,
	MVMS_DTYPE_I64,
	MVMS_DTYPE_U64,
	MVMS_DTYPE_BOOL,
	MVMS_DTYPE_COUNT
};

/** The dtype of a safetensors dtype name ("BF16", "F32", ...); UNKNOWN for any other. */
enum mvms_dtype mvms_dtype_from_name(const char *name);

#endif
