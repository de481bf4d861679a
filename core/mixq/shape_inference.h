// Shape inference with concrete input shapes, and folding of constant sub-graphs.
//
// Given the model and the input shapes (as model_transform.py --input_shapes), every
// tensor gets an element type and a shape; a node whose inputs are all constant (weights,
// or folded shape arithmetic such as Shape->Gather->Unsqueeze->Concat) is evaluated by
// const_eval and its outputs become constants, as TPU-MLIR's constant folding does.
// Dims that stay unknown are -1; messages name the node and what was expected.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "mixq/model.h"

namespace mixq {

struct ValueState {
  DType dtype = DType::Undefined;
  bool rank_known = false;
  Shape shape;                     // -1 = unknown dim
  std::optional<Tensor> constant;  // weights and folded values
  bool shape_known() const;        // rank known and no -1
};

struct ShapeInfo {
  std::map<std::string, ValueState> values;  // every tensor of the main graph
  std::vector<bool> node_folded;             // per node (graph order): all outputs constant
  std::vector<std::string> warnings;         // e.g. "input 'x': dim 0 'batch' set to 1"
  const ValueState* find(const std::string& tensor) const;
};

// input_shapes: by graph input name; inputs not given use their declared shape with a
// dynamic batch dim set to 1 and other dynamic dims left unknown (recorded in warnings). A given shape of the wrong
// rank is a mixq::Error. Shapes are checked against op contracts (e.g. Conv channels).
ShapeInfo infer_shapes(const Model& model, const std::map<std::string, Shape>& input_shapes = {});

// Parses model_transform.py's --input_shapes text "[[1,3,640,640],[1,10]]" (or a single
// "[1,3,640,640]"); throws mixq::Error naming the position on malformed text.
std::vector<Shape> parse_input_shapes(const std::string& text);

// Numpy-style broadcast of two shapes; throws mixq::Error naming `what` if incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b, const std::string& what);

}  // namespace mixq
