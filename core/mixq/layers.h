// LayerGraph: the layers the final TPU-MLIR top .mlir will have, with their names.
//
// Contract (spec/tpu-mlir-compat.md section 1): a layer is named
// "<first output tensor>_<ONNX op_type>"; graph inputs keep their bare name; weights and
// constant-folded sub-graphs are no layers; Identity/Dropout/Cast and identity
// Reshape/Squeeze/Unsqueeze/Flatten, Add 0 and Mul 1 vanish; BatchNormalization and bias
// Add after a Conv fold into it (the Conv keeps its name), a zero Pad folds into the
// Conv/Pool after it; HardSigmoid/HardSwish/GELU/LayerNorm chains fuse and take
// "<last output>_<NewType>"; a single-use Mul(x, Sigmoid(x)) becomes SiLU named after the
// Mul; a Relu/ReLU6 Clip after a single-use fusable producer gives the producer its name.
// Every name that vanishes is remembered with the layer that absorbed it, so a qtable
// line naming it can be traced. An .mlir file's loc names override predictions.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "mixq/model.h"
#include "mixq/shape_inference.h"

namespace mixq {

struct Layer {
  std::string name;                        // TPU-MLIR op name (top .mlir loc)
  std::string op_type;                     // ONNX op_type of the main node; "Input" for graph inputs
  std::string kind;                        // what it becomes: "Conv", "SiLU", "HardSwish", ... (op_type if unfused)
  int main_node = -1;                      // node index in Graph::nodes (-1 for inputs)
  std::vector<int> onnx_nodes;             // all ONNX nodes folded into this layer (graph order)
  std::vector<std::string> outputs;        // ONNX tensors it produces for its consumers
  std::vector<std::string> input_tensors;  // activation tensors it reads (weights excluded)
  std::vector<int> inputs;                 // producer layers (indices into LayerGraph::layers)
  std::vector<int> consumers;              // consumer layers
  std::vector<std::string> weights;        // weight tensors it reads
  Shape shape;                             // shape of outputs[0] (-1 = unknown)
  DType dtype = DType::Float32;
  bool is_output = false;  // produces a graph output
  bool is_input() const { return op_type == "Input"; }
};

// A name a user might write that is not a layer name of this model.
struct NameAlias {
  std::string name;
  int layer = -1;      // the layer it belongs to / was absorbed by (-1: none, e.g. a weight)
  std::string reason;  // "SiLU fusion: the Sigmoid is absorbed by '961_Mul'"
};

struct NameMatch {
  enum class How { None, Layer, NodeName, TensorName, Vanished };
  How how = How::None;
  int layer = -1;
  std::string reason;
};

class LayerGraph {
 public:
  std::vector<Layer> layers;                // topological order, graph inputs first
  std::vector<NameAlias> vanished;          // predicted names TPU-MLIR removes
  std::vector<std::string> mlir_unmatched;  // .mlir names no layer could take

  int find(const std::string& layer_name) const;  // exact TPU-MLIR name, -1 if none
  // Resolves any name a user may write: layer name, ONNX node name, ONNX tensor name,
  // or a vanished layer name. How::None when nothing matches.
  NameMatch resolve(const std::string& name) const;
  // All layer names, for "closest match" messages.
  std::vector<std::string> names() const;

  // Rebuilds the lookup indices after names change.
  void index(const Graph& graph);

 private:
  std::map<std::string, int> by_name_;
  std::map<std::string, int> by_node_name_;
  std::map<std::string, int> by_tensor_;
  std::map<std::string, int> by_vanished_;
};

// Predicts the TPU-MLIR layers of `model` (shapes/folding from `shapes`).
LayerGraph build_layers(const Model& model, const ShapeInfo& shapes);

// Names from a model_transform.py top .mlir text: every loc("...") string, in order of
// first appearance (fused locs contribute each name). Throws mixq::Error naming
// `source_name` if the text has no loc names at all.
std::vector<std::string> parse_mlir_names(const std::string& text, const std::string& source_name);

// Makes the .mlir names the authority: each layer whose predicted name is absent from
// `mlir_names` takes the mlir name of one of its own ONNX nodes' base names (or of a
// vanished alias) when exactly one is present; leftovers go to mlir_unmatched.
void apply_mlir_names(LayerGraph& layers, const Model& model, const std::vector<std::string>& mlir_names);

}  // namespace mixq
