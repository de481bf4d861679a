// The `mixq info` report as JSON (spec/cli.md): inputs, outputs, opset, op histogram,
// parameter count and the layer list with TPU-MLIR names. Shared by CLI and studio.
#pragma once
#include <nlohmann/json.hpp>

#include "mixq/analysis.h"

namespace mixq {

nlohmann::json info_json(const AnalyzedModel& am);
// Human-readable form of the same report.
std::string info_text(const AnalyzedModel& am, bool all_layers);

}  // namespace mixq
