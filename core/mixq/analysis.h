// AnalyzedModel: everything the tools know about one model — the parsed ONNX, shapes
// with constants folded, and the predicted (or .mlir-given) TPU-MLIR layers. The one
// entry point the CLI, the studio and the tests use to open a model.
#pragma once
#include <map>
#include <optional>
#include <span>
#include <string>

#include "mixq/layers.h"
#include "mixq/model.h"
#include "mixq/shape_inference.h"

namespace mixq {

struct AnalyzeOptions {
  LoadOptions load;
  std::vector<Shape> input_shapes;       // in graph-input order, as --input_shapes
  std::optional<std::string> mlir_text;  // top .mlir from model_transform.py
  std::string mlir_source = "model.mlir";
};

struct AnalyzedModel {
  std::string source_name;
  Model model;
  ShapeInfo shapes;
  LayerGraph layers;
  std::vector<std::string> warnings;
};

// Throws mixq::Error (message names the file and the offending field).
AnalyzedModel analyze_model(std::span<const uint8_t> onnx_bytes, const AnalyzeOptions& options);
// The same for a model already parsed with load_onnx(bytes, options.load).
AnalyzedModel analyze_model(Model model, const AnalyzeOptions& options);

// Number of weight elements (initializers and Constant nodes).
int64_t parameter_count(const Model& model);

}  // namespace mixq
