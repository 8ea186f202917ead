/* SPDX-License-Identifier: MIT */
/*
 * ONNX tensor layout from a small protobuf reader of our own: ModelProto.graph (field 7) ->
 * GraphProto.initializer (field 5) -> TensorProto: name, dims, data_type, and where the bytes
 * are: raw_data (field 9) inside the file, or external_data (field 13: location, offset,
 * length) in a side file. Only the main graph's initializers that hold raw bytes are tensors
 * here; typed fields (float_data, ...) and subgraphs are skipped. No recursion: the reader
 * follows exactly those four levels of nesting, and skips every other field by its length.
 */
#ifndef MVMS_ONNX_H
#define MVMS_ONNX_H

#include <stdint.h>
#include "tlayout.h"

#define MVMS_ONNX_NAME_MAX 1024u          /* bytes in a tensor name */
#define MVMS_ONNX_DIMS_MAX 32u            /* dims of one tensor */
#define MVMS_ONNX_LOCATION_MAX 1024u      /* bytes in an external data location */
#define MVMS_ONNX_NAMES_TOTAL (64u << 20) /* bytes of all names of one file */

/* The name ("FLOAT16"), bits per element and enum mvms_dtype of an ONNX TensorProto.DataType;
 * 0, or MVMS_ENOTFOUND (no message) for UNDEFINED, STRING and ids this reader does not know. */
int mvms_onnx_type(uint32_t type, const char **name, unsigned *bits, enum mvms_dtype *dtype);

/* Parses an ONNX model: 0 with *out (format MVMS_TFORMAT_ONNX; tensors with raw_data in
 * this file, ext the tensors in side files), MVMS_ENOTFOUND when it is not a well-formed
 * model, another MVMS_E* on a read error. */
int mvms_onnx_parse(mvms_tlayout **out, const mvms_tl_src *src);

#endif
