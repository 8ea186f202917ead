/* SPDX-License-Identifier: MIT */
/*
 * ONNX tensor layout from a small protobuf reader of our own: ModelProto.graph (field 7) ->
 * GraphProto: initializer (field 5) and node (field 1) -> NodeProto.attribute (field 5) ->
 * AttributeProto: t (5) and tensors (10), the tensors of Constant nodes (exporters such as
 * PaddlePaddle's and torch's inlined If branches keep all weights there), and g (6) and
 * graphs (11), subgraphs read like the main graph, at most MVMS_ONNX_GRAPH_DEPTH deep.
 * A TensorProto gives name, dims, data_type and where the bytes are: raw_data (field 9)
 * inside the file, or external_data (field 13: location, offset, length) in a side file.
 * Only tensors that hold raw bytes are tensors here; typed fields (float_data, ...) are
 * skipped. A node's tensors are named by its first output (unique in a model; "#k" from
 * the second tensor of one node on), not by their own name, which inlined branches repeat.
 * A node's or a subgraph's tensor with less than MVMS_ONNX_NODE_TENSOR_MIN bytes of raw_data
 * (a shape, an axis) is not a tensor here, so that its bytes do not force two cuts; the
 * model graph's initializers are tensors whatever their size.
 */
#ifndef MVMS_ONNX_H
#define MVMS_ONNX_H

#include <stdint.h>
#include "tlayout.h"

#define MVMS_ONNX_NAME_MAX 1024u          /* bytes in a tensor name */
#define MVMS_ONNX_DIMS_MAX 32u            /* dims of one tensor */
#define MVMS_ONNX_LOCATION_MAX 1024u      /* bytes in an external data location */
#define MVMS_ONNX_NAMES_TOTAL (64u << 20) /* bytes of all names of one file */
#define MVMS_ONNX_NODE_TENSOR_MIN 1024u   /* raw_data bytes of a node's or subgraph's tensor */
#define MVMS_ONNX_GRAPH_DEPTH 16u         /* graphs nested in one another, the model's included */

/* The name ("FLOAT16"), bits per element and enum mvms_dtype of an ONNX TensorProto.DataType;
 * 0, or MVMS_ENOTFOUND (no message) for UNDEFINED, STRING and ids this reader does not know. */
int mvms_onnx_type(uint32_t type, const char **name, unsigned *bits, enum mvms_dtype *dtype);

/* Parses an ONNX model: 0 with *out (format MVMS_TFORMAT_ONNX; tensors with raw_data in
 * this file, ext the tensors in side files), MVMS_ENOTFOUND when it is not a well-formed
 * model, another MVMS_E* on a read error. */
int mvms_onnx_parse(mvms_tlayout **out, const mvms_tl_src *src);

#endif
