/* SPDX-License-Identifier: MIT */
/*
 * Maps the dtype names of safetensors headers to enum mvms_dtype, the format-independent
 * hint the codec chooses byte planes by.
 */
#include <string.h>
#include "dtype.h"

enum mvms_dtype mvms_dtype_from_name(const char *name)
{
	static const struct {
		const char *name;
		enum mvms_dtype dtype;
	} names[] = {
		{ "BF16", MVMS_DTYPE_BF16 }, { "F16", MVMS_DTYPE_F16 },
		{ "F32", MVMS_DTYPE_F32 },   { "F64", MVMS_DTYPE_F64 },
		{ "F8_E4M3", MVMS_DTYPE_F8 }, { "F8_E5M2", MVMS_DTYPE_F8 },
		{ "I8", MVMS_DTYPE_I8 },     { "U8", MVMS_DTYPE_U8 },
		{ "I16", MVMS_DTYPE_I16 },   { "U16", MVMS_DTYPE_U16 },
		{ "I32", MVMS_DTYPE_I32 },   { "U32", MVMS_DTYPE_U32 },
		{ "I64", MVMS_DTYPE_I64 },   { "U64", MVMS_DTYPE_U64 },
		{ "BOOL", MVMS_DTYPE_BOOL },
	};
	size_t i;

	if (!name)
		return MVMS_DTYPE_UNKNOWN;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(name, names[i].name) == 0)
			return names[i].dtype;
	return MVMS_DTYPE_UNKNOWN;
}
