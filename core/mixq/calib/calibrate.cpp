// [SECTION] sample loading and batching  [SECTION] statistics collection
// [SECTION] thresholds and warnings  [SECTION] result conversion
#include "mixq/calib/calibrate.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "mixq/calib/batches.h"
#include "mixq/calib/prefetch.h"
#include "mixq/calib/statistics.h"
#include "mixq/calib/tune.h"
#include "mixq/error.h"
#include "mixq/exec/executor.h"
#include "mixq/exec/thread_pool.h"
#include "mixq/log.h"

namespace mixq::calib {

namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

// [SECTION] thresholds and warnings ----------------------------------------------------------

std::string check_input_range(const std::string& input_name, double min, double max, bool is_image_input,
                              const PreprocessOptions& pre) {
  std::ostringstream w;
  if (is_image_input && max > 32 && min >= -1) {
    w << "input '" << input_name << "' spans [" << min << ", " << max
      << "]: raw 0..255 pixel values reach the model (--scale is " << pre.scale[0]
      << "). Most models expect 0..1 or normalized inputs; if inference scales by 1/255, pass --scale "
         "0.0039216,0.0039216,0.0039216 (and the matching --mean), or the table will not match deployment.";
  } else if (!is_image_input && max - min > 0 && max > 64) {
    w << "input '" << input_name << "' spans [" << min << ", " << max
      << "]: check that the npy/npz data is preprocessed exactly as at inference time.";
  } else if (max - min == 0) {
    w << "input '" << input_name << "' is constant (" << min << ") over all samples: the data looks wrong.";
  }
  return w.str();
}

CaliTable CalibrationResult::table() const {
  CaliTable t;
  for (const auto& l : layers) {
    t.rows.push_back({l.layer, l.threshold, l.min, l.max});
    if (l.int4_threshold > 0)
      t.int4_rows.push_back({l.layer, l.int4_threshold, -l.int4_threshold * 8 / 7, l.int4_threshold});
    if (l.asymmetric) t.asym_ops.push_back(l.layer);
  }
  return t;
}

std::vector<TensorRange> CalibrationResult::tensor_ranges() const {
  std::vector<TensorRange> r;
  for (const auto& l : layers) r.push_back({l.tensor, l.threshold, l.min, l.max});
  return r;
}

// [SECTION] statistics collection ----------------------------------------------------------

namespace {
const CalibrateOptions& validated(const CalibrateOptions& options) {
  validate(options.preprocess);
  require(options.histogram_bins >= 2 && options.histogram_bins <= (1 << 22),
          "--histogram_bin_num: expected 2..4194304, got " + std::to_string(options.histogram_bins));
  require(options.tune_num >= 0, "--tune_num: expected >= 0");
  return options;
}
// The tap observes only the layers' tensors (graph inputs and each layer's outputs[0]):
// Conv epilogue fusion stays on wherever it hides none of them.
// Layers that only reorder the values of another layer's tensor (one ONNX node: Reshape,
// Flatten, Squeeze, Unsqueeze, Transpose, Identity): their statistics can be copied from
// that layer's (TensorStats::add_permutation_of says when).
std::vector<int> permuting_layers(const AnalyzedModel& am, const std::map<std::string, int>& layer_of_tensor) {
  static const std::set<std::string> kReorders = {"Reshape",   "Flatten",   "Squeeze",
                                                  "Unsqueeze", "Transpose", "Identity"};
  const auto& layers = am.layers.layers;
  std::vector<int> src(layers.size(), -1);
  for (size_t i = 0; i < layers.size(); i++) {
    const Layer& l = layers[i];
    if (l.main_node < 0 || l.onnx_nodes.size() != 1 || !kReorders.count(l.op_type)) continue;
    const Node& n = am.model.graph.nodes[static_cast<size_t>(l.main_node)];
    if (n.inputs.empty() || l.outputs.empty() || n.outputs.empty() || n.outputs[0] != l.outputs[0]) continue;
    auto it = layer_of_tensor.find(n.inputs[0]);
    if (it != layer_of_tensor.end() && it->second != static_cast<int>(i)) src[i] = it->second;
  }
  return src;
}

// Sample lanes: with more than one thread (natively) and more than one sample, `lanes`
// executors run consecutive batches at once, each adding its tensors' statistics itself.
// A layer's statistics still take the samples one at a time in sample order (a per-layer
// turn: batch k+1 waits until batch k has added that layer), so the results are those of
// one executor; lanes only wait when they catch up with the batch before. Up to
// kMaxLanes lanes share the threads (natively all cores by default): memory is one set of
// activations (and of prepared weights) per lane. Against one executor on both threads of
// this 2-core machine (intra-op parallel, statistics on idle workers), farm-bench, pairs
// of whole `mixq calibrate` runs, npy samples: fastestdet (300) kl 0.92x, max 0.87x of
// the wall time; yolov5n-face (60) kl 0.90x; PP-OCRv4-det 640 (30) kl 0.83x; peak memory
// 36 -> 46, 85 -> 122, 180 -> 271 MB.
constexpr int kMaxLanes = 4;
struct LaneSplit {
  int lanes = 1;
  int threads_per_lane = 0;  // ExecOptions::threads
};
LaneSplit lane_split(const CalibrateOptions& options, const DataSelection& data) {
  const int threads = ThreadPool(options.threads).size();  // 1 in wasm
  if (threads < 2 || data.samples.size() < 2) return {1, options.threads};
  const int lanes = std::min(threads, kMaxLanes);
  return {lanes, std::max(1, threads / lanes)};
}

ExecOptions exec_options(const AnalyzedModel& am, const CalibrateOptions& options, const LaneSplit& split) {
  const int lanes = split.lanes;
  ExecOptions eo;
  eo.threads = split.threads_per_lane;
  eo.observe = calibrated_tensors(am);
  // Statistics on idle workers while inference goes on, where they are heavy (histograms,
  // percentile extremes, per-value sums). The max method's min/max are cheap: there a
  // worker taking tap calls before it joins a job costs more (its share of each kernel,
  // which it would find in its cache, moves to the other core) than it saves; measured
  // inline against background on 100 samples, 2 threads: fastestdet 255-268 against
  // 186-225 samples/s, yolov5n-face 45-49 against 44-45; kl about even or background
  // ahead (fastestdet 142-158 against 160-179). Tables are identical either way. (Sample
  // lanes tap inline: a lane's statistics run on its own threads.)
  eo.background_tap = lanes == 1 && (options.method != CaliMethod::Max || options.int4_th || options.part_asymmetric);
  return eo;
}

// Thrown in a lane whose turn will not come (an earlier batch failed).
struct LaneStopped {};
}  // namespace

std::set<std::string> calibrated_tensors(const AnalyzedModel& am) {
  std::set<std::string> names;
  for (const Layer& l : am.layers.layers) {
    if (l.is_input())
      names.insert(l.name);
    else if (!l.outputs.empty())
      names.insert(l.outputs[0]);
  }
  return names;
}

struct Calibration::State {
  State(const AnalyzedModel& am_in, const DataSelection& data_in, ReadSampleFile read_in, const CalibrateOptions& o)
      : am(am_in),
        read(std::move(read_in)),
        options(validated(o)),
        split(lane_split(options, data_in)),
        eo(exec_options(am_in, options, split)),
        exec(am, eo),
        inputs(exec.inputs()),
        data(data_in) {
    for (int l = 1; l < split.lanes; l++) lane_execs.push_back(std::make_unique<Executor>(am, eo));
  }

  // Time and copies of one lane's (or the single executor's) statistics.
  struct Tally {
    double seconds = 0;
    int64_t copied = 0;
  };
  // One executor: taps arrive one at a time in production order.
  void tap(const std::string& tensor, const Tensor& value);
  // Sample lanes: the tap of batch `run`, after that layer's turn.
  // `pool`: the lane executor's workers, idle during the call.
  void tap_in_order(int64_t run, const std::string& tensor, const Tensor& value, ThreadPool* pool, Tally& tally);
  // Adds `value` to layer li's statistics; `pool` for parallel work (nullptr: serial);
  // `source_lock` guards the statistics of the layer it may copy from (lanes).
  void observe(int li, const std::string& tensor, const Tensor& value, ThreadPool* pool, std::mutex* source_lock,
               Tally& tally);
  bool step_lanes();
  void stop_lanes();

  const AnalyzedModel& am;
  ReadSampleFile read;
  CalibrateOptions options;
  const LaneSplit split;  // split.lanes executors: `exec`, then lane_execs
  ExecOptions eo;
  Executor exec;                                      // lane 0 (the only executor with one lane)
  std::vector<std::unique_ptr<Executor>> lane_execs;  // lanes 1..
  struct LayerTurn {
    std::mutex m;
    std::condition_variable cv;
    std::atomic<int64_t> next{0};  // the batch whose statistics this layer takes next (set under m)
  };
  std::unique_ptr<LayerTurn[]> turns;
  std::atomic<bool> stopped{false};
  std::vector<Executor::InputSpec> inputs;
  DataSelection data;
  CalibrationResult result;
  int num_layers = 0;
  std::map<std::string, int> layer_of_tensor;  // layers keyed by the ONNX tensor they publish
  std::vector<bool> asym;
  std::vector<std::unique_ptr<TensorStats>> stats;
  std::vector<int> permutes;                  // layer whose tensor holds the same values reordered (-1: none)
  std::vector<std::vector<int>> permuted_by;  // the layers whose `permutes` is this one
  std::vector<std::string> layer_tensor;
  int64_t runs_expected = 0;
  int64_t extremes_runs = 0;  // runs the percentile extremes are sized for (shard_total_samples)
  int runs = 0;
  Tally tally;  // statistics time and layer samples copied (permuting_layers), all lanes
  std::unique_ptr<BatchStream> stream;
  std::unique_ptr<BatchPrefetcher> prefetch;  // after `stream`: destroyed (joined) first
  bool exhausted = false, finished = false;
};

void Calibration::State::tap(const std::string& tensor, const Tensor& value) {
  auto it = layer_of_tensor.find(tensor);
  if (it == layer_of_tensor.end()) return;
  observe(it->second, tensor, value, &exec.thread_pool(), nullptr, tally);  // parallel unless on a worker
}

void Calibration::State::tap_in_order(int64_t run, const std::string& tensor, const Tensor& value, ThreadPool* pool,
                                      Tally& lane_tally) {
  auto it = layer_of_tensor.find(tensor);
  if (it == layer_of_tensor.end()) return;
  const int li = it->second;
  LayerTurn& turn = turns[li];
  // Layer li takes batch `run` after batch run-1, and after the layers that copy their
  // statistics from it have copied batch run-1's (so that they always can: the copies do
  // not depend on timing).
  auto ready = [&] {
    if (turn.next.load() != run) return false;
    for (int c : permuted_by[li])
      if (turns[c].next.load() < run) return false;
    return true;
  };
  std::unique_lock<std::mutex> lock(turn.m);
  turn.cv.wait(lock, [&] { return ready() || stopped.load(); });
  if (!ready()) throw LaneStopped();
  const int src = permutes[li];
  observe(li, tensor, value, pool, src >= 0 ? &turns[src].m : nullptr, lane_tally);
  turn.next = run + 1;
  lock.unlock();
  turn.cv.notify_all();
  if (src >= 0) {  // the source may wait for this layer (under its mutex: no lost wake-up)
    std::lock_guard<std::mutex> source_lock(turns[src].m);
    turns[src].cv.notify_all();
  }
}

void Calibration::State::stop_lanes() {
  stopped = true;
  for (int i = 0; i < num_layers; i++) {
    std::lock_guard<std::mutex> lock(turns[i].m);  // no waiter misses the wake-up
    turns[i].cv.notify_all();
  }
}

void Calibration::State::observe(int li, const std::string& tensor, const Tensor& value, ThreadPool* pool,
                                 std::mutex* source_lock, Tally& t) {
  const double tap_start = now_seconds();
  if (!stats[li]) {
    int64_t keep = 0;
    if (options.method == CaliMethod::Percentile9999 || asym[li]) {
      keep = percentile_keep(percentile_for_layer(li, num_layers), extremes_runs, value.numel());
    }
    StatsConfig cfg = stats_config_for(options.method, options.histogram_bins, keep);
    cfg.percentile_keep = keep;
    cfg.histogram = cfg.histogram || options.int4_th;
    stats[li] = std::make_unique<TensorStats>(cfg);
    layer_tensor[li] = tensor;
  }
  const int src = permutes[li];
  bool copied = false;
  if (src >= 0 && value.dtype() == DType::Float32) {
    std::unique_lock<std::mutex> lock;
    if (source_lock) lock = std::unique_lock<std::mutex>(*source_lock);
    // (the source holds this batch's statistics: with lanes it waits for this layer)
    copied = stats[src] && stats[li]->add_permutation_of(*stats[src], value.f32());
  }
  if (copied) {
    t.copied++;
  } else if (value.dtype() == DType::Float32) {
    stats[li]->add(value.f32(), pool);
  } else {
    stats[li]->add(value.to_f32(), pool);
  }
  t.seconds += now_seconds() - tap_start;
}

Calibration::Calibration(const AnalyzedModel& am, const DataSelection& data, ReadSampleFile read,
                         const CalibrateOptions& options)
    : state_(std::make_unique<State>(am, data, std::move(read), options)) {
  State& s = *state_;
  check_selection(s.data, s.inputs.size(), "calibration data");
  s.result.samples = static_cast<int>(s.data.samples.size());
  if (s.data.kind == DataKind::Image) {
    for (const auto& in : s.inputs) s.result.preprocess_description += describe(s.options.preprocess, in.shape) + "\n";
  }
  // Number of executor runs, known up front (percentile9999 sizes its buffers with it).
  const int64_t batch = s.inputs.empty() || s.inputs[0].shape.empty() ? 1 : std::max<int64_t>(1, s.inputs[0].shape[0]);
  const auto& layers = am.layers.layers;
  s.num_layers = static_cast<int>(layers.size());
  for (int i = 0; i < s.num_layers; i++) {
    const Layer& l = layers[i];
    if (l.is_input()) {
      s.layer_of_tensor[l.name] = i;
    } else if (!l.outputs.empty()) {
      s.layer_of_tensor.emplace(l.outputs[0], i);
    }
  }
  s.asym = s.options.part_asymmetric ? asymmetric_layers(am.layers) : std::vector<bool>(s.num_layers, false);
  s.permutes = permuting_layers(am, s.layer_of_tensor);
  s.permuted_by.resize(s.num_layers);
  for (int i = 0; i < s.num_layers; i++)
    if (s.permutes[i] >= 0) s.permuted_by[s.permutes[i]].push_back(i);
  s.stats.resize(s.num_layers);
  s.layer_tensor.resize(s.num_layers);
  s.turns = std::make_unique<State::LayerTurn[]>(static_cast<size_t>(s.num_layers));
  // Runs known up front: images are single items grouped by the batch size; npy/npz
  // samples are assumed to be whole batches when the batch is 1 (exact) or larger.
  s.runs_expected = s.data.kind == DataKind::Image ? (static_cast<int64_t>(s.data.samples.size()) + batch - 1) / batch
                                                   : static_cast<int64_t>(s.data.samples.size());
  s.extremes_runs = s.runs_expected;
  if (s.options.shard_total_samples > 0) {
    const int64_t n = s.options.shard_total_samples;
    s.extremes_runs = std::max(s.runs_expected, s.data.kind == DataKind::Image ? (n + batch - 1) / batch : n);
  }
  s.stream = std::make_unique<BatchStream>(s.inputs, s.data, s.read, s.options.preprocess);
  s.prefetch = std::make_unique<BatchPrefetcher>(*s.stream, s.split.lanes);
}

Calibration::~Calibration() = default;

size_t Calibration::batches_done() const {
  return static_cast<size_t>(state_->runs);
}
size_t Calibration::batches_total() const {
  return static_cast<size_t>(state_->runs_expected);
}

bool Calibration::State::step_lanes() {
  const double t0 = now_seconds();
  // A batch per lane: each lane takes the next batch as soon as it is free (batches in
  // stream order, so the lowest batch running never waits for a turn). (Up to 8 batches
  // per lane a step, fewer barriers: the same samples/s within noise, fastestdet.)
  std::mutex feed_mutex;  // prefetch, taken, errors, exhausted
  int64_t taken = 0;
  std::map<int64_t, std::exception_ptr> errors;  // by batch
  const int lanes = split.lanes;
  std::vector<Tally> tallies(static_cast<size_t>(lanes));
  auto fail = [&](int64_t run, std::exception_ptr e) {
    {
      std::lock_guard<std::mutex> lock(feed_mutex);
      errors.emplace(run, std::move(e));
      exhausted = true;
    }
    stop_lanes();
  };
  // Lanes 1.. on their own threads (not ThreadPool tasks: a lane's executor may use its
  // own workers), lane 0 on this one; a lane never throws (errors are collected).
  auto lane_loop = [&](int lane) {
    Executor& e = lane == 0 ? exec : *lane_execs[static_cast<size_t>(lane - 1)];
    for (;;) {
      std::map<std::string, Tensor> feed;
      int64_t run = 0;
      std::exception_ptr load_error;
      {
        std::lock_guard<std::mutex> lock(feed_mutex);
        if (exhausted || taken == lanes) return;
        run = runs + taken;
        try {
          if (!prefetch->next(&feed, &result.seconds_loading)) {
            exhausted = true;
            return;
          }
          taken++;
        } catch (...) {
          load_error = std::current_exception();
        }
      }
      if (load_error) return fail(run, load_error);
      try {
        e.run(feed, [&](const std::string& tensor, const Tensor& value) {
          tap_in_order(run, tensor, value, &e.thread_pool(), tallies[static_cast<size_t>(lane)]);
        });
      } catch (const LaneStopped&) {
        return;
      } catch (...) {
        fail(run, std::current_exception());
        return;
      }
    }
  };
  std::vector<std::thread> helpers;
  for (int l = 1; l < lanes; l++) helpers.emplace_back(lane_loop, l);
  lane_loop(0);
  for (auto& h : helpers) h.join();
  if (!errors.empty()) std::rethrow_exception(errors.begin()->second);  // the first batch that failed
  for (const Tally& t : tallies) tally.seconds += t.seconds, tally.copied += t.copied;
  runs += static_cast<int>(taken);
  result.seconds_inference += now_seconds() - t0;
  return taken > 0;
}

bool Calibration::step() {
  State& s = *state_;
  if (s.exhausted) return false;
  if (s.split.lanes > 1) return s.step_lanes();
  const double t0 = now_seconds();
  std::map<std::string, Tensor> feed;
  const bool more = s.prefetch->next(&feed, &s.result.seconds_loading);
  if (!more) {
    s.exhausted = true;
    return false;
  }
  s.exec.run(feed, [&s](const std::string& tensor, const Tensor& value) { s.tap(tensor, value); });
  s.runs++;
  s.result.seconds_inference += now_seconds() - t0;
  return true;
}

CalibrationStatistics Calibration::statistics() {
  State& s = *state_;
  require(!s.finished, "calibration: statistics() after finish()");
  while (step()) {
  }
  CalibrationStatistics st;
  st.method = s.options.method;
  st.histogram_bins = s.options.histogram_bins;
  st.int4_th = s.options.int4_th;
  st.part_asymmetric = s.options.part_asymmetric;
  st.kind = s.data.kind;
  st.preprocess_description = s.result.preprocess_description;
  st.samples = s.result.samples;
  st.runs = s.runs;
  st.planned_runs = s.runs_expected;
  st.extremes_runs = s.extremes_runs;
  for (int i = 0; i < s.num_layers; i++) {
    st.layers.push_back(s.am.layers.layers[i].name);
    st.tensors.push_back(s.layer_tensor[i]);
    st.stats.push_back(s.stats[i] ? std::optional<TensorStats>(*s.stats[i]) : std::nullopt);
  }
  return st;
}

CalibrationResult Calibration::finish() {
  State& s = *state_;
  require(!s.finished, "calibration: finish() was already called");
  CalibrationStatistics st = statistics();
  s.finished = true;
  s.stats.clear();  // the copies in `st` are used from here
  const double t1 = now_seconds();
  CalibrationResult result = thresholds_from_statistics(s.am, st, s.options);
  result.seconds_thresholds = now_seconds() - t1;
  result.samples = s.result.samples;
  result.batches = s.runs;
  result.preprocess_description = s.result.preprocess_description;
  result.seconds_inference = s.result.seconds_inference;
  result.seconds_loading = s.result.seconds_loading;
  result.seconds_statistics = s.tally.seconds;
  result.statistics_copied = s.tally.copied;
  if (s.options.tune_num > 0) {
    result.tune_samples = tune_thresholds(s.am, s.data, s.read, s.options, &result);
  }
  for (const auto& w : result.warnings) log_warning(w);
  return result;
}

CalibrationResult calibrate(const AnalyzedModel& am, const DataSelection& data, const ReadSampleFile& read,
                            const CalibrateOptions& options) {
  Calibration run(am, data, read, options);
  while (run.step()) {
    if (options.progress && !options.progress("inference", run.batches_done(), run.batches_total())) {
      throw Error("calibration cancelled");
    }
  }
  return run.finish();
}

}  // namespace mixq::calib
