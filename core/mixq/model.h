// Model: mixq's own in-memory form of an ONNX model, independent of protobuf.
//
// load_onnx() parses ModelProto bytes (protobuf-lite, code generated from Debian's
// onnx.proto) and checks everything a user file can get wrong: element types, dims,
// data lengths, external data, duplicate producers, dangling inputs and cycles.
// Weights from initializers AND from Constant nodes (paddle2onnx) end up in
// Graph::weights; a Constant node's name is kept in Graph::constant_nodes.
// Nodes are stored in a valid topological order.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "mixq/tensor.h"

namespace mixq {

struct Graph;

struct Attribute {
  enum class Kind { Undefined, Float, Int, String, Tensor, Graph, Floats, Ints, Strings, Tensors, Graphs, Other };
  Kind kind = Kind::Undefined;
  float f = 0;
  int64_t i = 0;
  std::string s;
  Tensor t;
  std::vector<float> floats;
  std::vector<int64_t> ints;
  std::vector<std::string> strings;
  std::vector<Tensor> tensors;
  std::vector<std::shared_ptr<Graph>> graphs;  // GRAPH / GRAPHS (If/Loop/Scan bodies)
};

struct Node {
  std::string name;  // as in the file; may be empty
  std::string op_type;
  std::string domain;                // "" or "ai.onnx" for the default domain
  std::vector<std::string> inputs;   // "" = omitted optional input
  std::vector<std::string> outputs;  // "" = omitted optional output
  std::map<std::string, Attribute> attrs;

  bool has_attr(const std::string& key) const { return attrs.count(key) != 0; }
  // Typed attribute reads; a present attribute of the wrong kind is a mixq::Error
  // naming the node and attribute.
  int64_t attr_int(const std::string& key, int64_t fallback) const;
  float attr_float(const std::string& key, float fallback) const;
  std::string attr_string(const std::string& key, const std::string& fallback) const;
  std::vector<int64_t> attr_ints(const std::string& key, std::vector<int64_t> fallback = {}) const;
  std::vector<float> attr_floats(const std::string& key, std::vector<float> fallback = {}) const;
  const Tensor* attr_tensor(const std::string& key) const;
  // "Conv 'Conv_12'" or "Conv (output '949')" for messages.
  std::string describe() const;
};

// A value's declared type: element type and dims (-1 = unknown), with the symbolic
// name of a dim where the file gives one (e.g. "batch", "p2o.DynamicDimension.0").
struct ValueInfo {
  std::string name;
  DType dtype = DType::Undefined;
  bool has_shape = false;
  Shape dims;
  std::vector<std::string> dim_names;
};

struct Graph {
  std::string name;
  std::vector<Node> nodes;        // topological order
  std::vector<ValueInfo> inputs;  // real inputs (initializer-backed inputs removed)
  std::vector<ValueInfo> outputs;
  std::map<std::string, ValueInfo> value_info;
  std::map<std::string, Tensor> weights;              // initializers + Constant node values
  std::map<std::string, std::string> constant_nodes;  // weight name -> Constant node name

  bool is_weight(const std::string& tensor) const { return weights.count(tensor) != 0; }
  // Index of the node producing `tensor`, or -1 (graph input, weight, unknown).
  int producer(const std::string& tensor) const;
  // Rebuilds the producer index after nodes change.
  void index();

 private:
  std::map<std::string, int> producer_;
};

struct OpsetImport {
  std::string domain;
  int64_t version = 0;
};

struct Model {
  int64_t ir_version = 0;
  std::string producer_name, producer_version;
  std::vector<OpsetImport> opsets;
  Graph graph;
  // Version of the default ("" / "ai.onnx") domain, 0 if absent.
  int64_t opset() const;
};

// Reads an external-data tensor: (location, offset, length or -1 for "to the end").
// Throws mixq::Error when the file is missing or short.
using ExternalDataReader =
    std::function<std::vector<uint8_t>(const std::string& location, int64_t offset, int64_t length)>;

struct LoadOptions {
  std::string source_name = "model";  // used in every message ("yolo.onnx: ...")
  ExternalDataReader external_data;   // empty: external tensors are an error
};

// Parses and validates ONNX ModelProto bytes. Throws mixq::Error with a message naming
// source_name and the offending node/tensor/field.
Model load_onnx(std::span<const uint8_t> bytes, const LoadOptions& options = {});

// Serializes back to ONNX bytes (weights as initializers). For tests and tools.
std::vector<uint8_t> save_onnx(const Model& model);

}  // namespace mixq
