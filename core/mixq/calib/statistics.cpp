// [SECTION] byte writer/reader  [SECTION] write/read  [SECTION] merge  [SECTION] thresholds
#include "mixq/calib/statistics.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>

#include "mixq/error.h"
#include "mixq/exec/thread_pool.h"

namespace mixq::calib {

// Private state of TensorStats for the codec and for trimming the kept extremes.
class StatisticsAccess {
 public:
  static StatsConfig& config(TensorStats& s) { return s.config_; }
  static int64_t& samples(TensorStats& s) { return s.samples_; }
  static int64_t& elements(TensorStats& s) { return s.elements_; }
  static int64_t& nonfinite(TensorStats& s) { return s.nonfinite_; }
  static float& min(TensorStats& s) { return s.min_; }
  static float& max(TensorStats& s) { return s.max_; }
  static Histogram& hist(TensorStats& s) { return s.hist_; }
  static double& octav(TensorStats& s) { return s.octav_sum_; }
  static double& aciq_gauss(TensorStats& s) { return s.aciq_gauss_sum_; }
  static double& aciq_laplace(TensorStats& s) { return s.aciq_laplace_sum_; }
  // The extremes sorted and cut to L (what is saved; a loaded list stays sorted).
  static std::vector<float>& top(TensorStats& s) {
    s.settle_extremes();
    return s.top_;
  }
  static std::vector<float>& bottom(TensorStats& s) {
    s.settle_extremes();
    return s.bottom_;
  }
  // Keeps the L largest / smallest.
  static void trim_extremes(TensorStats& s, int64_t L) {
    s.settle_extremes();
    s.config_.percentile_keep = L;
    if (static_cast<int64_t>(s.top_.size()) > L) s.top_.erase(s.top_.begin(), s.top_.end() - L);
    if (static_cast<int64_t>(s.bottom_.size()) > L) s.bottom_.resize(L);
  }
};

namespace {

// [SECTION] byte writer/reader -------------------------------------------------------------

constexpr char kMagic[8] = {'M', 'I', 'X', 'Q', 'S', 'T', 'A', 'T'};
constexpr uint32_t kVersion = 1;

class Writer {
 public:
  template <class T>
  void raw(T v) {
    uint8_t b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));  // little-endian hosts only (x86, wasm)
    out.insert(out.end(), b, b + sizeof(T));
  }
  void u8(bool v) { raw<uint8_t>(v ? 1 : 0); }
  void str(const std::string& v) {
    raw<uint32_t>(static_cast<uint32_t>(v.size()));
    out.insert(out.end(), v.begin(), v.end());
  }
  void uleb(uint64_t v) {
    do {
      uint8_t b = v & 0x7f;
      v >>= 7;
      out.push_back(static_cast<uint8_t>(b | (v ? 0x80 : 0)));
    } while (v);
  }
  std::vector<uint8_t> out;
};

class Reader {
 public:
  Reader(std::span<const uint8_t> bytes, const std::string& file) : bytes_(bytes), file_(file) {}
  [[noreturn]] void fail(const std::string& field, const std::string& what) const {
    throw Error(file_ + ": " + field + " (byte " + std::to_string(pos_) + "): " + what);
  }
  template <class T>
  T raw(const std::string& field) {
    if (bytes_.size() - pos_ < sizeof(T))
      fail(field, "expected " + std::to_string(sizeof(T)) + " more bytes, the file ends (truncated?)");
    T v;
    std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  bool flag(const std::string& field) {
    const uint8_t v = raw<uint8_t>(field);
    if (v > 1) fail(field, "expected 0 or 1, got " + std::to_string(v));
    return v == 1;
  }
  int64_t count(const std::string& field, int64_t max) {
    const int64_t v = raw<int64_t>(field);
    if (v < 0 || v > max) fail(field, "expected 0.." + std::to_string(max) + ", got " + std::to_string(v));
    return v;
  }
  std::string str(const std::string& field) {
    const uint32_t n = raw<uint32_t>(field + " length");
    if (bytes_.size() - pos_ < n) fail(field, "expected " + std::to_string(n) + " bytes of text, the file ends");
    std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), n);
    pos_ += n;
    return s;
  }
  uint64_t uleb(const std::string& field) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      const uint8_t b = raw<uint8_t>(field);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    fail(field, "expected a LEB128 count, got more than 10 bytes");
  }
  std::vector<float> floats(const std::string& field, int64_t max) {
    const int64_t n = count(field + " count", max);
    if (static_cast<int64_t>(bytes_.size() - pos_) / 4 < n)
      fail(field, "expected " + std::to_string(n) + " floats, the file ends");
    std::vector<float> v(n);
    std::memcpy(v.data(), bytes_.data() + pos_, n * 4);
    pos_ += n * 4;
    return v;
  }
  bool at_end() const { return pos_ == bytes_.size(); }
  size_t pos() const { return pos_; }

 private:
  std::span<const uint8_t> bytes_;
  std::string file_;
  size_t pos_ = 0;
};

}  // namespace

// [SECTION] write/read ---------------------------------------------------------------------

std::vector<uint8_t> write_statistics(const CalibrationStatistics& st) {
  Writer w;
  w.out.insert(w.out.end(), kMagic, kMagic + 8);
  w.raw<uint32_t>(kVersion);
  w.str(cali_method_name(st.method));
  w.raw<uint32_t>(static_cast<uint32_t>(st.histogram_bins));
  w.u8(st.int4_th);
  w.u8(st.part_asymmetric);
  w.raw<uint8_t>(static_cast<uint8_t>(st.kind));
  w.str(st.preprocess_description);
  w.raw<int64_t>(st.samples);
  w.raw<int64_t>(st.runs);
  w.raw<int64_t>(st.planned_runs);
  w.raw<int64_t>(st.extremes_runs);
  w.raw<uint32_t>(static_cast<uint32_t>(st.layers.size()));
  for (size_t i = 0; i < st.layers.size(); i++) {
    w.str(st.layers[i]);
    w.u8(st.stats[i].has_value());
    if (!st.stats[i]) continue;
    TensorStats s = *st.stats[i];
    using A = StatisticsAccess;
    w.str(st.tensors[i]);
    const StatsConfig& c = A::config(s);
    w.raw<uint32_t>(static_cast<uint32_t>(c.bins));
    w.u8(c.histogram);
    w.u8(c.octav);
    w.u8(c.aciq_gauss);
    w.u8(c.aciq_laplace);
    w.raw<int64_t>(c.percentile_keep);
    w.raw<int64_t>(A::samples(s));
    w.raw<int64_t>(A::elements(s));
    w.raw<int64_t>(A::nonfinite(s));
    w.raw<float>(A::min(s));
    w.raw<float>(A::max(s));
    const Histogram& h = A::hist(s);
    w.raw<uint64_t>(h.counts.size());
    w.raw<double>(h.th);
    w.raw<double>(h.width);
    w.u8(h.th_is_f32);
    w.u8(h.restarted);
    for (int64_t c : h.counts) w.uleb(static_cast<uint64_t>(c));
    w.raw<double>(A::octav(s));
    w.raw<double>(A::aciq_gauss(s));
    w.raw<double>(A::aciq_laplace(s));
    for (const auto* v : {&A::top(s), &A::bottom(s)}) {
      w.raw<uint64_t>(v->size());
      for (float f : *v) w.raw<float>(f);
    }
  }
  return std::move(w.out);
}

CalibrationStatistics read_statistics(std::span<const uint8_t> bytes, const std::string& file_name) {
  Reader r(bytes, file_name);
  if (bytes.size() < 8 || std::memcmp(bytes.data(), kMagic, 8) != 0) {
    throw Error(file_name +
                ": not a mixq statistics file (expected it to start with \"MIXQSTAT\", as written by "
                "mixq calibrate --save_stats)");
  }
  for (int i = 0; i < 8; i++) r.raw<uint8_t>("magic");
  const uint32_t version = r.raw<uint32_t>("version");
  if (version != kVersion)
    r.fail("version", "expected " + std::to_string(kVersion) + ", got " + std::to_string(version));
  CalibrationStatistics st;
  st.method = parse_cali_method(r.str("method"));
  st.histogram_bins = static_cast<int>(r.raw<uint32_t>("histogram_bins"));
  if (st.histogram_bins < 2 || st.histogram_bins > (1 << 22))
    r.fail("histogram_bins", "expected 2..4194304, got " + std::to_string(st.histogram_bins));
  st.int4_th = r.flag("int4_th");
  st.part_asymmetric = r.flag("part_asymmetric");
  const uint8_t kind = r.raw<uint8_t>("data kind");
  if (kind > static_cast<uint8_t>(DataKind::Image)) r.fail("data kind", "expected 0..2, got " + std::to_string(kind));
  st.kind = static_cast<DataKind>(kind);
  st.preprocess_description = r.str("preprocess");
  constexpr int64_t kMaxCount = int64_t{1} << 40;
  st.samples = r.count("samples", kMaxCount);
  st.runs = r.count("runs", kMaxCount);
  st.planned_runs = r.count("planned_runs", kMaxCount);
  st.extremes_runs = r.count("extremes_runs", kMaxCount);
  const uint32_t n_layers = r.raw<uint32_t>("layer count");
  if (n_layers > bytes.size())
    r.fail("layer count", "expected at most one layer per byte, got " + std::to_string(n_layers));
  for (uint32_t i = 0; i < n_layers; i++) {
    const std::string at = "layer " + std::to_string(i);
    st.layers.push_back(r.str(at + " name"));
    const std::string L = "layer '" + st.layers.back() + "'";
    if (!r.flag(L + " present")) {
      st.tensors.emplace_back();
      st.stats.emplace_back();
      continue;
    }
    st.tensors.push_back(r.str(L + " tensor"));
    StatsConfig c;
    c.bins = static_cast<int>(r.raw<uint32_t>(L + " bins"));
    if (c.bins != st.histogram_bins)
      r.fail(L + " bins", "expected the file's histogram_bins " + std::to_string(st.histogram_bins) + ", got " +
                              std::to_string(c.bins));
    c.histogram = r.flag(L + " histogram");
    c.octav = r.flag(L + " octav");
    c.aciq_gauss = r.flag(L + " aciq_gauss");
    c.aciq_laplace = r.flag(L + " aciq_laplace");
    c.percentile_keep = r.count(L + " percentile_keep", kMaxCount);
    TensorStats s(c);
    using A = StatisticsAccess;
    A::samples(s) = r.count(L + " samples", kMaxCount);
    A::elements(s) = r.count(L + " elements", kMaxCount);
    A::nonfinite(s) = r.count(L + " nonfinite", kMaxCount);
    A::min(s) = r.raw<float>(L + " min");
    A::max(s) = r.raw<float>(L + " max");
    if (!(A::min(s) <= A::max(s)) || !std::isfinite(A::min(s)) || !std::isfinite(A::max(s)))
      r.fail(L + " min/max", "expected finite min <= max");
    Histogram& h = A::hist(s);
    const uint64_t nb = r.raw<uint64_t>(L + " histogram size");
    if (nb > 8000000 || (nb != 0 && nb < 2))
      r.fail(L + " histogram size", "expected 0 or 2..8000000 bins, got " + std::to_string(nb));
    h.th = r.raw<double>(L + " histogram th");
    h.width = r.raw<double>(L + " histogram width");
    if (!(h.th >= 0) || !std::isfinite(h.th) || !(h.width >= 0) || !std::isfinite(h.width))
      r.fail(L + " histogram th/width", "expected finite values >= 0");
    h.th_is_f32 = r.flag(L + " histogram th_is_f32");
    h.restarted = r.flag(L + " histogram restarted");
    h.counts.resize(nb);
    for (uint64_t j = 0; j < nb; j++) {
      const uint64_t v = r.uleb(L + " histogram count");
      if (v > static_cast<uint64_t>(kMaxCount) * 1024)
        r.fail(L + " histogram count", "expected a count, got " + std::to_string(v));
      h.counts[j] = static_cast<int64_t>(v);
    }
    A::octav(s) = r.raw<double>(L + " octav_sum");
    A::aciq_gauss(s) = r.raw<double>(L + " aciq_gauss_sum");
    A::aciq_laplace(s) = r.raw<double>(L + " aciq_laplace_sum");
    A::top(s) = r.floats(L + " top", kMaxCount);
    A::bottom(s) = r.floats(L + " bottom", kMaxCount);
    if (!std::is_sorted(A::top(s).begin(), A::top(s).end()) ||
        !std::is_sorted(A::bottom(s).begin(), A::bottom(s).end()))
      r.fail(L + " top/bottom", "expected ascending extremes");
    st.stats.emplace_back(std::move(s));
  }
  if (!r.at_end())
    r.fail("end", "expected the end of the file, " + std::to_string(bytes.size() - r.pos()) + " bytes follow");
  return st;
}

// [SECTION] merge --------------------------------------------------------------------------

CalibrationStatistics merge_statistics(const std::vector<CalibrationStatistics>& shards,
                                       const std::vector<std::string>& names) {
  require(!shards.empty() && names.size() == shards.size(), "merge_statistics: expected one name per shard");
  const CalibrationStatistics& first = shards[0];
  CalibrationStatistics out;
  out.method = first.method;
  out.histogram_bins = first.histogram_bins;
  out.int4_th = first.int4_th;
  out.part_asymmetric = first.part_asymmetric;
  out.kind = first.kind;
  out.preprocess_description = first.preprocess_description;
  out.layers = first.layers;
  out.tensors = first.tensors;
  out.stats.resize(first.layers.size());
  auto same = [&](size_t k, const std::string& field, const std::string& got, const std::string& want) {
    if (got != want)
      throw Error(names[k] + ": " + field + ": expected " + want + " (as in " + names[0] + "), got " + got +
                  ": statistics of different runs cannot be merged");
  };
  for (size_t k = 0; k < shards.size(); k++) {
    const CalibrationStatistics& sh = shards[k];
    same(k, "method", cali_method_name(sh.method), cali_method_name(first.method));
    same(k, "histogram_bins", std::to_string(sh.histogram_bins), std::to_string(first.histogram_bins));
    same(k, "int4_th", std::to_string(sh.int4_th), std::to_string(first.int4_th));
    same(k, "part_asymmetric", std::to_string(sh.part_asymmetric), std::to_string(first.part_asymmetric));
    same(k, "data kind", data_kind_name(sh.kind), data_kind_name(first.kind));
    same(k, "preprocess", "'" + sh.preprocess_description + "'", "'" + first.preprocess_description + "'");
    same(k, "layer count", std::to_string(sh.layers.size()), std::to_string(first.layers.size()));
    for (size_t i = 0; i < sh.layers.size(); i++) same(k, "layer " + std::to_string(i), sh.layers[i], first.layers[i]);
    out.samples += sh.samples;
    out.runs += sh.runs;
    out.planned_runs += sh.planned_runs;
    for (const auto& w : sh.warnings) out.warnings.push_back(names[k] + ": " + w);
  }
  out.extremes_runs = out.planned_runs;
  bool extremes_short = false;
  for (size_t i = 0; i < out.layers.size(); i++) {
    // The kept extremes: as many as the largest shard kept (trimmed to what the table
    // needs by thresholds_from_statistics).
    int64_t keep = 0;
    for (const auto& sh : shards)
      if (sh.stats[i]) keep = std::max(keep, sh.stats[i]->config().percentile_keep);
    for (size_t k = 0; k < shards.size(); k++) {
      const auto& s = shards[k].stats[i];
      if (!s) continue;
      if (!out.stats[i]) {
        StatsConfig c = s->config();
        c.percentile_keep = keep;
        out.stats[i].emplace(c);
        out.tensors[i] = shards[k].tensors[i];
      } else if (out.tensors[i] != shards[k].tensors[i]) {
        same(k, "layer '" + out.layers[i] + "' tensor", shards[k].tensors[i], out.tensors[i]);
      }
      const StatsConfig& a = out.stats[i]->config();
      const StatsConfig& b = s->config();
      if (a.histogram != b.histogram || a.octav != b.octav || a.aciq_gauss != b.aciq_gauss ||
          a.aciq_laplace != b.aciq_laplace || (a.percentile_keep > 0) != (b.percentile_keep > 0)) {
        throw Error(names[k] + ": layer '" + out.layers[i] +
                    "': expected the statistics kinds of the first shard (histogram/octav/aciq/extremes), got others");
      }
      if (b.percentile_keep > 0 &&
          b.percentile_keep <
              percentile_keep(percentile_for_layer(static_cast<int>(i), static_cast<int>(out.layers.size())),
                              out.planned_runs, s->elements()))
        extremes_short = true;
      out.stats[i]->merge(*s);
    }
  }
  for (const auto& sh : shards) out.extremes_runs = std::min(out.extremes_runs, sh.extremes_runs);
  if (extremes_short) {
    std::ostringstream w;
    w << "percentile9999 statistics: a shard kept the extreme values for " << out.extremes_runs
      << " executor runs, the merged table needs them for " << out.planned_runs
      << ": those thresholds are approximate (calibrate each shard with --shard_total_num " << out.samples
      << " to merge exactly)";
    out.warnings.push_back(w.str());
  }
  if (out.method == CaliMethod::Kl || out.method == CaliMethod::Admm || out.int4_th) {
    if (shards.size() > 1)
      out.warnings.push_back(
          "merged histograms are re-binned by overlap: kl/admm thresholds approximate a single run's (see "
          "docs/calibration.md)");
  }
  return out;
}

// [SECTION] thresholds ---------------------------------------------------------------------

std::vector<bool> asymmetric_layers(const LayerGraph& graph) {
  const auto& layers = graph.layers;
  std::vector<bool> asym(layers.size(), false);
  for (size_t i = 0; i < layers.size(); i++) {
    const Layer& l = layers[i];
    if (l.kind != "SiLU" && l.kind != "GELU" && l.op_type != "Gelu") continue;
    bool all_mm = !l.consumers.empty();
    for (int c : l.consumers) {
      const std::string& k = layers[c].kind;
      all_mm = all_mm && (k == "Conv" || k == "MatMul" || k == "Gemm");
    }
    asym[i] = all_mm;
  }
  return asym;
}

CalibrationResult thresholds_from_statistics(const AnalyzedModel& am, const CalibrationStatistics& st,
                                             const CalibrateOptions& options) {
  const auto& layers = am.layers.layers;
  const int num_layers = static_cast<int>(layers.size());
  if (st.layers.size() != layers.size())
    throw Error("statistics: expected " + std::to_string(layers.size()) + " layers (the model's), got " +
                std::to_string(st.layers.size()) + ": statistics of another model?");
  for (int i = 0; i < num_layers; i++) {
    if (st.layers[i] != layers[i].name)
      throw Error("statistics: layer " + std::to_string(i) + ": expected '" + layers[i].name +
                  "' (the model's), got '" + st.layers[i] + "': statistics of another model?");
  }
  const std::vector<bool> asym = st.part_asymmetric ? asymmetric_layers(am.layers) : std::vector<bool>(num_layers);
  CalibrationResult result;
  result.samples = static_cast<int>(st.samples);
  result.batches = static_cast<int>(st.runs);
  result.preprocess_description = st.preprocess_description;
  result.warnings = st.warnings;
  const int runs = static_cast<int>(st.runs);

  // Percentile extremes kept for more runs than this table covers (a shard sized for the
  // total): only the L extremes the formula reads for these runs are used.
  std::vector<std::optional<TensorStats>> trimmed(num_layers);
  auto stats_of = [&](int i) -> const TensorStats* {
    if (trimmed[i]) return &*trimmed[i];
    return st.stats[i] ? &*st.stats[i] : nullptr;
  };
  if (st.extremes_runs != st.planned_runs) {
    for (int i = 0; i < num_layers; i++) {
      if (!st.stats[i] || st.stats[i]->config().percentile_keep == 0) continue;
      const int64_t need =
          percentile_keep(percentile_for_layer(i, num_layers), st.planned_runs, st.stats[i]->elements());
      if (need < st.stats[i]->config().percentile_keep) {
        trimmed[i] = *st.stats[i];
        StatisticsAccess::trim_extremes(*trimmed[i], need);
      }
    }
  }

  // Per-layer thresholds are independent: computed in parallel, each into its own slot.
  std::vector<LayerThreshold> computed(num_layers);
  std::vector<float> kl4(num_layers, 0.f);
  ThreadPool pool(options.threads);
  pool.parallel_for(num_layers, [&](int64_t i) {
    const TensorStats* s = stats_of(static_cast<int>(i));
    if (!s) return;
    ThresholdContext ctx;
    ctx.is_graph_input = layers[i].is_input();
    ctx.percentile = percentile_for_layer(static_cast<int>(i), num_layers);
    ctx.num_samples = runs;
    computed[i] = compute_threshold(asym[i] ? CaliMethod::Percentile9999 : st.method, *s, ctx, layers[i].name);
    if (st.int4_th && st.method == CaliMethod::Kl && !asym[i]) kl4[i] = kl_threshold(s->histogram(), 8);
  });
  for (int i = 0; i < num_layers; i++) {
    const Layer& l = layers[i];
    LayerCalibration lc;
    lc.layer = l.name;
    const TensorStats* sp = stats_of(i);
    if (!sp) {
      lc.tensor = l.is_input() ? l.name : (l.outputs.empty() ? "" : l.outputs[0]);
      lc.threshold = lc.untuned_threshold = 1e-5;
      lc.max = 1e-5;
      lc.warning = "layer " + l.name + " produced no values during calibration; threshold set to 1e-5";
      result.warnings.push_back(lc.warning);
      result.layers.push_back(lc);
      continue;
    }
    const TensorStats& s = *sp;
    const LayerThreshold& th = computed[i];
    lc.asymmetric = asym[i];
    if (st.int4_th) {
      lc.int4_threshold = th.threshold;
      const float k4 = kl4[i];
      if (std::isfinite(k4) && k4 > 1e-5 && k4 < th.threshold) lc.int4_threshold = k4;
    }
    lc.tensor = st.tensors[i];
    lc.threshold = lc.untuned_threshold = th.threshold;
    lc.min = th.min;
    lc.max = th.max;
    lc.absmax = s.absmax();
    lc.warning = th.warning;
    if (!th.warning.empty()) result.warnings.push_back(th.warning);
    if (s.nonfinite() > 0) {
      result.warnings.push_back("layer " + l.name + ": " + std::to_string(s.nonfinite()) +
                                " non-finite values (NaN/inf) were skipped");
    }
    if (l.is_input()) {
      std::string w = check_input_range(l.name, s.min(), s.max(), st.kind == DataKind::Image, options.preprocess);
      if (!w.empty()) result.warnings.push_back(w);
    }
    result.layers.push_back(lc);
  }
  return result;
}

}  // namespace mixq::calib
