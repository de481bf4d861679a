// Streaming activation statistics for one tensor, as TPU-MLIR's run_calibration.py
// collects them (python/calibration/kld_calibrator.py), with memory independent of the
// number of samples:
//  - min / max over all samples (float32 values);
//  - |x| histogram, zeros dropped: on the first sample `bins` bins over [0, absmax] with
//    width = absmax/(bins-1) and bin = floor(f32(|x| / f32(width)) + 0.5f); a later sample
//    whose running absmax exceeds the range th extends it: step = th/n (TPU-MLIR's own
//    step, not the width), k = floor((new-th)/step) + 1 bins are appended, th += k*step and
//    the sample is binned at width th/(n+k-1) while the old counts keep their indices;
//    past 8,000,000 bins the histogram restarts at `bins` bins (TPU-MLIR's fallback);
//  - per-sample OCTAV (mse) and ACIQ estimates, summed in sample order;
//  - for percentile9999: the L largest and L smallest values seen (L fixed up front), kept
//    as unsorted candidates behind cuts that rise as they are compacted, sorted when read.
// Samples must be added in sample order; the result is then the same for any thread count
// (work inside a sample is split in fixed 64K-element chunks).
// Non-finite values are skipped and counted.
#pragma once
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

namespace mixq {
class ThreadPool;
}

namespace mixq::calib {

struct StatsConfig {
  int bins = 2048;        // --histogram_bin_num
  bool histogram = true;  // kl (and admm) need it
  bool octav = false;     // mse
  bool aciq_gauss = false;
  bool aciq_laplace = false;
  int64_t percentile_keep = 0;  // L for percentile9999 (0 = off)
};

// The |x| histogram; `th` is the range (double, as TPU-MLIR's after an extension).
struct Histogram {
  std::vector<int64_t> counts;
  double th = 0;
  double width = 0;       // width used for the latest binning (th / (n-1))
  bool th_is_f32 = true;  // th still the float32 absmax of the first sample
  bool restarted = false;

  // Adds one sample's |x| with the running absmax `absmax` (float32, >= all |x| so far).
  void add(std::span<const float> x, float absmax, int default_bins, ThreadPool* pool = nullptr);
  // Adds another histogram's counts, extending this range first by the add() rule with the
  // running absmax `absmax`: each of its bins is spread over the bins of this grid it
  // overlaps, in proportion (integer counts, rounded cumulatively: totals conserved).
  void merge(const Histogram& other, float absmax, int default_bins);
  // Makes the range cover `absmax` (fresh start, unchanged, extended, or restarted past
  // 8,000,000 bins) and returns the width to bin with.
  double prepare_range(float absmax, int default_bins);
};

// Bin index of |v| for a given width, TPU-MLIR's float32 arithmetic.
inline int64_t histogram_bin(float abs_v, float width_f32) {
  float q = abs_v / width_f32;
  q = q + 0.5f;
  return static_cast<int64_t>(q);  // q >= 0: truncation == floor
}

struct BeyondMarks;  // histogram.cpp: a sample's blocks holding values beyond the extremes' cuts

class TensorStats {
 public:
  explicit TensorStats(StatsConfig config = {}) : config_(config) {}
  // `pool` (optional) parallelizes over fixed chunks: same result for any thread count.
  void add(std::span<const float> x, ThreadPool* pool = nullptr);
  // Adds the sample x whose values are a permutation of the sample `source` has just
  // added (a Reshape/Transpose/... of it), by copying source's state: the same config
  // (or, for percentile9999, more extremes kept by the source, every sample of which had
  // at least 2 L of its values), the same samples before, no order-dependent float sums
  // (OCTAV/ACIQ), and a histogram no larger than the sample; a zero min or max takes the
  // sign add() would (x is scanned for its first zero). This is what add(x) would give,
  // except the signs of zeros among kept extremes (the source's order decides them, as
  // it decides a TPU-MLIR sort's): the caller's choice to copy must not depend on timing
  // (calibrate.cpp: a source waits for its permutations). Returns false (nothing changed)
  // otherwise: call add().
  bool add_permutation_of(const TensorStats& source, std::span<const float> x);
  // Appends the statistics of a later, disjoint shard of samples (statistics.h states
  // what is exact): min/max, counts and extremes as if its samples had followed; its
  // histogram is re-binned by overlap into this one's range (extended first, by the
  // add() rule, when its absmax is larger); sums added. `later` must have this config's
  // bins and flags; this config's percentile_keep is kept.
  void merge(const TensorStats& later);

  int64_t samples() const { return samples_; }
  int64_t elements() const { return elements_; }  // per sample (last seen)
  int64_t nonfinite() const { return nonfinite_; }
  float min() const { return min_; }
  float max() const { return max_; }
  float absmax() const;
  const Histogram& histogram() const { return hist_; }
  double octav_sum() const { return octav_sum_; }
  double aciq_gauss_sum() const { return aciq_gauss_sum_; }
  double aciq_laplace_sum() const { return aciq_laplace_sum_; }
  // Sorted ascending: the L largest values (largest last) and the L smallest (smallest first).
  // The first read after samples were added sorts the candidates (not while another thread
  // reads the same TensorStats).
  const std::vector<float>& top() const {
    settle_extremes();
    return top_;
  }
  const std::vector<float>& bottom() const {
    settle_extremes();
    return bottom_;
  }
  const StatsConfig& config() const { return config_; }

 private:
  friend class StatisticsAccess;  // statistics.cpp: (de)serialization, extremes trimming
  // marked: x's blocks beyond the extremes' cuts (add()'s scan), or null
  void add_extremes(std::span<const float> x, ThreadPool* pool, BeyondMarks* marked = nullptr);
  void add_others(std::span<const float> x, ThreadPool* pool, BeyondMarks* marked = nullptr);
  // Candidates in: those beyond the cuts are kept; lists that reached their limit compacted.
  void push_extremes(std::span<const float> hi, std::span<const float> lo);
  // x's values beyond the cuts into the candidates, compacting (raising the cuts) as they come.
  void scan_extremes(std::span<const float> x);
  void compact_extremes();
  void settle_extremes() const;  // the lists sorted and cut to L
  bool has_extreme_cuts() const { return top_cut_ > -kInf && bottom_cut_ < kInf; }
  StatsConfig config_;
  int64_t samples_ = 0, elements_ = 0, nonfinite_ = 0;
  int64_t min_elements_ = 0;  // the fewest finite values of a sample (0: unknown, e.g. loaded statistics)
  float min_ = 0, max_ = 0;
  Histogram hist_;
  double octav_sum_ = 0, aciq_gauss_sum_ = 0, aciq_laplace_sum_ = 0;
  // percentile9999's candidates: the L largest (smallest) values of the multiset TPU-MLIR
  // sorts are the L largest (smallest) candidates; every value seen and not a candidate is
  // <= top_cut_ (>= bottom_cut_), and once a cut is finite at least L candidates lie at or
  // beyond it. Sorted and exactly min(L, seen) values when extremes_settled_.
  static constexpr float kInf = std::numeric_limits<float>::infinity();
  mutable std::vector<float> top_, bottom_;
  float top_cut_ = -kInf, bottom_cut_ = kInf;
  mutable bool extremes_settled_ = true;
};

// One sample's OCTAV clipping scale (TPU-MLIR's 'mse' method): s0 = sum|x| / #(|x|>0),
// s <- sum_{|x|>s}|x| / (4^-bits/3/u * #(|x|<=s) + #(|x|>s)), u = 4 if |min x| < 1e-6
// else 1, at most 20 iterations, stop when the step is < 1e-6 (the last s kept).
double octav_scale(std::span<const float> x, int bits = 8, ThreadPool* pool = nullptr);
// ACIQ per sample: gauss: 3.92403337 * (max-min) * 0.175*(1+sqrt(pi*ln 4)) / sqrt(2 ln N);
// laplace: 9.89675982 * mean|x - mean x|.
double aciq_gauss_clip(std::span<const float> x);
double aciq_laplace_clip(std::span<const float> x);

}  // namespace mixq::calib
