// const_eval: exact evaluation of a node on constant inputs, used by shape inference to
// fold shape arithmetic and all-weight sub-graphs. Integers are computed in int64,
// floats in double, then stored in the node's output type. Small and general, not fast.
#pragma once
#include <optional>
#include <vector>

#include "mixq/model.h"

namespace mixq {

// Maximum number of elements a folded output may have (larger: left to the executor).
constexpr int64_t kMaxFoldElements = int64_t(1) << 24;

// Returns the outputs, or nullopt when the op is not foldable here. Throws mixq::Error
// when the inputs contradict the op's contract (message names the node).
std::optional<std::vector<Tensor>> const_eval(const Node& node, const std::vector<const Tensor*>& inputs,
                                              int64_t opset);

// The value of an ONNX Shape node (with opset-15 start/end) for an input of shape `s`.
Shape shape_op_result(const Node& n, const Shape& s);

// ONNX Slice (opset 10+) normalization: clamps starts/ends per axis and returns the
// per-dim start, step and output shape. Returns false when a sliced dim is unknown (-1).
bool slice_params(const Shape& in, std::vector<int64_t> starts, std::vector<int64_t> ends, std::vector<int64_t> axes,
                  std::vector<int64_t> steps, const Node& n, std::vector<int64_t>& out_start,
                  std::vector<int64_t>& out_step, Shape& out_shape);

}  // namespace mixq
