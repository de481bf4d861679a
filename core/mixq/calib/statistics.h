// CalibrationStatistics: what a calibration run collected (per-layer TensorStats plus the
// settings they depend on) — the input of the threshold step. Serialisable to bytes and
// mergeable across disjoint sample shards computed by different processes or machines:
//   shard k:  Calibration run(am, shard_k, read, options); bytes_k = write_statistics(run.statistics());
//   merge:    CalibrationStatistics all = merge_statistics({read_statistics(bytes_1, "s1"), ...}, names);
//             CalibrationResult r = thresholds_from_statistics(am, all, options);
// CLI: `mixq calibrate --save_stats FILE` and `--merge_stats F1,F2,...` (docs/calibration.md).
//
// A merge (shards in sample order) equals the single run over the concatenated samples:
//  - exactly: min/max, absmax, sample/run/non-finite counts, so the `max` method's table;
//    one shard merged alone gives that shard's own table byte for byte;
//  - percentile9999 (and --part_asymmetric rows): exactly when every shard kept the
//    extremes for the total (CalibrateOptions::shard_total_samples, `--shard_total_num`):
//    the L largest of the union of each shard's L largest are the L largest overall; a
//    shard sized for its own samples keeps too few, the result is then approximate and
//    says so in `warnings`;
//  - mse/aciq: the per-sample estimates are summed per shard and the shard sums added:
//    equal up to double rounding (a different order of additions);
//  - NOT exactly: histograms (kl, admm, --int4_th). A single run bins every sample into the
//    range grown by the samples before it (the extension depends on sample order); a
//    shard's histogram holds counts, not values, so each of its bins is spread over the
//    merged grid's bins in proportion to their overlap (the range extended first with
//    TPU-MLIR's combine_histogram rule as if the shard were one sample of its absmax, which
//    gives the single run's range and bin count); counts are conserved, values move
//    within their source bin; kl thresholds usually agree, some move (see the docs);
//  - batching: shards of batch-1 models concatenate exactly; with larger batches each shard
//    pads its own last batch by repeating its last sample.
//
// Byte format (little-endian), version 1:
//   "MIXQSTAT" u32 version; str method; u32 histogram_bins; u8 int4_th; u8 part_asymmetric;
//   u8 data kind; str preprocess; i64 samples; i64 runs; i64 planned_runs; i64 extremes_runs;
//   u32 layers; per layer: str name; u8 present; if present: str tensor; u32 bins;
//   u8 histogram, octav, aciq_gauss, aciq_laplace; i64 percentile_keep; i64 samples,
//   elements, nonfinite; f32 min, max; u64 bins n; f64 th; f64 width; u8 th_is_f32;
//   u8 restarted; n x uleb128 counts; f64 octav_sum, aciq_gauss_sum, aciq_laplace_sum;
//   u64 t, t x f32 top; u64 b, b x f32 bottom.  str = u32 length + bytes.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "mixq/calib/calibrate.h"
#include "mixq/calib/histogram.h"

namespace mixq::calib {

struct CalibrationStatistics {
  CaliMethod method = CaliMethod::Kl;
  int histogram_bins = 2048;
  bool int4_th = false;
  bool part_asymmetric = false;
  DataKind kind = DataKind::Image;
  std::string preprocess_description;
  int64_t samples = 0;               // samples (before batch padding)
  int64_t runs = 0;                  // executor runs
  int64_t planned_runs = 0;          // runs known up front (percentile9999's N)
  int64_t extremes_runs = 0;         // runs the kept percentile extremes were sized for (>= planned_runs: enough)
  std::vector<std::string> layers;   // layer names, LayerGraph order
  std::vector<std::string> tensors;  // ONNX tensor each layer's statistics come from
  std::vector<std::optional<TensorStats>> stats;  // nullopt: the layer produced no values
  std::vector<std::string> warnings;              // from merging (approximate parts)
};

std::vector<uint8_t> write_statistics(const CalibrationStatistics& stats);
// Throws mixq::Error "<file_name>: <field>: expected ..., got ..." on truncated, foreign
// or inconsistent bytes.
CalibrationStatistics read_statistics(std::span<const uint8_t> bytes, const std::string& file_name);

// Merges shards given in sample order (names[i] names shards[i] in messages). Throws
// mixq::Error naming the file and the field when the settings or layers differ.
CalibrationStatistics merge_statistics(const std::vector<CalibrationStatistics>& shards,
                                       const std::vector<std::string>& names);

// The threshold step of Calibration::finish() on given statistics (no tuning): method,
// --int4_th and --part_asymmetric come from `stats`; `options` gives threads and the
// preprocessing named in input-range warnings. Throws mixq::Error when the statistics'
// layers are not the model's.
CalibrationResult thresholds_from_statistics(const AnalyzedModel& am, const CalibrationStatistics& stats,
                                             const CalibrateOptions& options);

// Layers whose --part_asymmetric rows come from percentile statistics (SiLU/GELU layers
// whose consumers are all Conv/MatMul/Gemm).
std::vector<bool> asymmetric_layers(const LayerGraph& layers);

}  // namespace mixq::calib
