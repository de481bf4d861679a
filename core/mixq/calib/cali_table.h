// TPU-MLIR calibration table (spec/tpu-mlir-compat.md section 3), writer and checking
// reader, plus two foreign exports of the same thresholds.
//
// Written format (run_calibration.py's):
//   # mlir version: <tool>          # mlir: <model>          # genetated time: <time>
//   # histogram number: <bins>      # sample number: <n>     [# tune number: <k>]
//   ###
//   # op_name    threshold    min    max
//   <name> %.7f %.7f %.7f            one row per layer output, graph inputs included
//   [#int4_th   rows <name> th -th*8/7 th]   [#asym_op   one name a line]
// Numbers are always finite and written without exponent (the importer's row regex
// `\S+\s+[-0-9.e]+\s+[-0-9.e]+\s+[-0-9.e]+` silently drops anything else).
// Reading follows the importer: lines starting with '#' are comments or section
// switches (#int4_th, #weight_scale, #asym_op, #int4_op); other lines must match the row
// regex or TPU-MLIR silently drops them; we report each such line.
#pragma once
#include <string>
#include <vector>

#include "mixq/layers.h"

namespace mixq::calib {

struct CaliRow {
  std::string name;
  double threshold = 0, min = 0, max = 0;
};

struct CaliTable {
  std::vector<std::string> header;  // comment lines without the leading "# "
  std::vector<CaliRow> rows;
  std::vector<CaliRow> int4_rows;
  std::vector<std::string> asym_ops;
  std::vector<std::string> int4_ops;
};

struct CaliTableHeader {
  std::string tool_version = "mixq 0.1.0";
  std::string model_name;
  std::string generated_time;  // Python str(datetime.now()) style; caller provides
  int histogram_bins = 2048;
  int sample_number = 0;
  int tune_number = 0;  // 0 = no tune line
};

// "%.7f" with non-finite values clamped to +-3.4028235e38 (never inf/nan in a table).
std::string format_cali_number(double v);
std::string write_cali_table(const CaliTableHeader& header, const CaliTable& table);

struct CaliTableIssue {
  int line = 0;
  std::string name;
  std::string status;  // "dropped" (TPU-MLIR ignores the row), "unmatched", "vanished", "duplicate", "invalid"
  std::string message;
  std::string suggestion;  // layer name to use instead, or empty
};

struct CaliTableReport {
  CaliTable table;
  std::vector<CaliTableIssue> issues;
  std::vector<std::string> layers_without_row;  // layers (non-input) the table does not cover
};

// Parses `text` like TPU-MLIR's importer; never throws for bad rows (they are reported).
CaliTableReport read_cali_table(const std::string& text, const std::string& source_name);
// Adds name checks against `layers`: rows naming no layer (with the surviving name when
// the row names a vanished/ONNX name), and layers without a row.
void check_cali_table(CaliTableReport& report, const LayerGraph& layers);

// TensorRT calibration cache: "TRT-8601-EntropyCalibration2" then "<tensor>: <hex>" with
// the big-endian hex of float32 scale = threshold / 127, keyed by ONNX tensor names.
struct TensorRange {
  std::string tensor;
  double threshold, min, max;
};
std::string write_tensorrt_cache(const std::vector<TensorRange>& ranges);
// onnxruntime-style ranges JSON: {"<tensor>": [-threshold, threshold], ...} (symmetric, as
// onnxruntime's entropy/percentile calibrators produce) in layer order.
std::string write_onnxruntime_ranges(const std::vector<TensorRange>& ranges);

}  // namespace mixq::calib
