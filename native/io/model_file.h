// Opening a model from disk the way every CLI subcommand does: the ONNX file (with its
// external-data side files), `--input_shapes` text, and an optional `--mlir` file whose
// loc names become the authority for layer names.
#pragma once
#include <string>

#include "mixq/analysis.h"

namespace mixq::native {

// Options for analyze_model(); throws mixq::Error on bad --input_shapes or an unreadable .mlir.
AnalyzeOptions analyze_options_for(const std::string& model_path, const std::string& input_shapes_text,
                                   const std::string& mlir_path);
// Reads and analyzes `model_path`; throws mixq::Error naming the file on any problem.
AnalyzedModel analyze_model_file(const std::string& model_path, const std::string& input_shapes_text,
                                 const std::string& mlir_path);

// Local time as TPU-MLIR's generator headers write it ("2024-01-01 12:00:00.000000").
std::string generated_time_now();

}  // namespace mixq::native
