#include "mixq/analysis.h"

#include "mixq/error.h"

namespace mixq {

AnalyzedModel analyze_model(std::span<const uint8_t> onnx_bytes, const AnalyzeOptions& options) {
  return analyze_model(load_onnx(onnx_bytes, options.load), options);
}

AnalyzedModel analyze_model(Model model, const AnalyzeOptions& options) {
  AnalyzedModel am;
  am.source_name = options.load.source_name;
  am.model = std::move(model);
  std::map<std::string, Shape> shapes;
  const auto& inputs = am.model.graph.inputs;
  require(options.input_shapes.size() <= inputs.size(),
          "--input_shapes: " + std::to_string(options.input_shapes.size()) + " shapes given, the model has " +
              std::to_string(inputs.size()) + " input(s)");
  for (size_t i = 0; i < options.input_shapes.size(); ++i) shapes[inputs[i].name] = options.input_shapes[i];
  try {
    am.shapes = infer_shapes(am.model, shapes);
  } catch (const Error& e) {
    throw Error(am.source_name + ": " + e.what());
  }
  am.warnings = am.shapes.warnings;
  am.layers = build_layers(am.model, am.shapes);
  if (options.mlir_text) {
    apply_mlir_names(am.layers, am.model, parse_mlir_names(*options.mlir_text, options.mlir_source));
    if (!am.layers.mlir_unmatched.empty())
      am.warnings.push_back(options.mlir_source + ": " + std::to_string(am.layers.mlir_unmatched.size()) +
                            " loc names match no predicted layer (e.g. '" + am.layers.mlir_unmatched[0] + "')");
  }
  return am;
}

int64_t parameter_count(const Model& model) {
  int64_t n = 0;
  for (const auto& [name, t] : model.graph.weights) n += t.numel();
  return n;
}

}  // namespace mixq
