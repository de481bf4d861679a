// calibrate(): run_calibration.py in one call. Runs the FP32 executor over the selected
// samples (batched to the model's batch size, the last sample repeated to fill the last
// batch), feeds every layer output to streaming TensorStats (keyed by TPU-MLIR layer
// name: a layer's outputs[0] tensor; graph inputs by their bare name; weights never),
// then computes each layer's threshold with the chosen method (thresholds.h), optionally
// tunes them (tune.h), and returns the table rows in layer order.
//
// Natively with more than one thread (and more than one sample), one single-threaded
// executor per thread runs consecutive batches at once ("sample lanes"); each layer's
// statistics still take the batches one at a time in sample order, so the statistics are
// those of one executor. With one thread (and in wasm) a single executor runs.
// Byte-based: the host hands in the selection (dataset.h) and a reader from a sample's
// file name to its bytes (CLI: files; web: in-memory uploads). Natively the next batch is
// read and preprocessed on a producer thread while the current one runs (prefetch.h):
// the reader must be callable from another thread (never concurrently with itself). Memory does not grow with
// the number of samples (one batch of activations alive per lane, and as many loaded
// ahead; statistics are fixed size except percentile9999's 2*L extremes). Results are
// identical for any thread count.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "mixq/analysis.h"
#include "mixq/calib/cali_table.h"
#include "mixq/calib/dataset.h"
#include "mixq/calib/preprocess.h"
#include "mixq/calib/thresholds.h"

namespace mixq::calib {

using ReadSampleFile = std::function<std::vector<uint8_t>(const std::string& file_name)>;

struct CalibrateOptions {
  CaliMethod method = CaliMethod::Kl;
  int histogram_bins = 2048;
  int tune_num = 0;              // samples used by the tune step (0 = no tuning)
  int threads = 0;               // executor threads (0 = all cores natively)
  PreprocessOptions preprocess;  // for image samples (all image inputs)
  // #int4_th section: kl with 8 target bins (other methods: the int8 threshold), rows
  // "<name> th -th*8/7 th" (spec section 3).
  bool int4_th = false;
  // TPU-MLIR's --part_asymmetric: SiLU/GELU layers whose consumers are all Conv/MatMul get
  // asymmetric quantization (#asym_op section); their min/max/threshold come from the
  // percentile9999 statistics of the signed values.
  bool part_asymmetric = false;
  // Sharded runs (statistics.h): the total number of samples over all shards, so that
  // percentile9999 keeps the extremes the merged table needs (0 = this run's samples).
  int64_t shard_total_samples = 0;
  // Called after each batch (done, total) and during tuning; return false to cancel
  // (calibrate then throws mixq::Error("calibration cancelled")).
  std::function<bool(const std::string& stage, size_t done, size_t total)> progress;
};

struct CalibrationStatistics;  // statistics.h

struct LayerCalibration {
  std::string layer;   // TPU-MLIR name (table row)
  std::string tensor;  // ONNX tensor the statistics come from
  double threshold = 0, min = 0, max = 0;
  double absmax = 0;
  double untuned_threshold = 0;
  std::string warning;
  double int4_threshold = 0;
  bool asymmetric = false;
};

struct CalibrationResult {
  std::vector<LayerCalibration> layers;  // LayerGraph order (graph inputs first)
  int samples = 0;                       // samples used (before batch padding)
  int batches = 0;                       // executor runs
  int tune_samples = 0;
  std::vector<std::string> warnings;   // guards, suspicious input ranges, skipped values
  std::string preprocess_description;  // effective preprocessing per image input
  double seconds_inference = 0;        // wall time of the runs incl. loading and statistics
  double seconds_loading = 0;          // part of seconds_inference waiting for reading/decoding/preprocessing
  double seconds_statistics = 0;       // thread time in the statistics (overlaps the inference natively)
  double seconds_thresholds = 0;
  // Layer samples whose statistics were copied from the layer whose values they reorder
  // (Reshape/Transpose/...: the same multiset of values, exactly the same statistics).
  int64_t statistics_copied = 0;

  CaliTable table() const;
  std::vector<TensorRange> tensor_ranges() const;  // keyed by ONNX tensor names
};

CalibrationResult calibrate(const AnalyzedModel& am, const DataSelection& data, const ReadSampleFile& read,
                            const CalibrateOptions& options);

// The ONNX tensors calibration observes (ExecOptions::observe): graph inputs and each
// layer's outputs[0].
std::set<std::string> calibrated_tensors(const AnalyzedModel& am);

// The same calibration one executor batch at a time, for hosts that must stay responsive
// (the web studio runs a step per frame; dropping the object cancels):
//   Calibration run(am, data, read, options);  // validates; throws mixq::Error
//   while (run.step()) show(run.batches_done(), run.batches_total());
//   CalibrationResult r = run.finish();          // thresholds (+ tune); once
// calibrate() is exactly this loop (options.progress is not called by step()). `am` must
// outlive the object; results are identical to calibrate()'s.
class Calibration {
 public:
  Calibration(const AnalyzedModel& am, const DataSelection& data, ReadSampleFile read, const CalibrateOptions& options);
  ~Calibration();
  Calibration(const Calibration&) = delete;
  Calibration& operator=(const Calibration&) = delete;
  // Runs the next batch (with lanes: the next batch of each lane); false once every batch
  // ran. Throws mixq::Error naming the sample (the first that failed).
  bool step();
  size_t batches_done() const;
  size_t batches_total() const;
  CalibrationResult finish();  // runs any remaining batches first
  // The statistics collected so far (runs any remaining batches first), for
  // write_statistics / merge_statistics (statistics.h). finish() may still follow.
  CalibrationStatistics statistics();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Heuristic check of the data the model sees (the seed's "preprocessing must match
// inference"): given a graph input's statistics and the layer kinds that consume it,
// returns a warning when the range looks wrong (e.g. 0..255 pixels where 0..1 is usual).
std::string check_input_range(const std::string& input_name, double min, double max, bool is_image_input,
                              const PreprocessOptions& preprocess);

}  // namespace mixq::calib
