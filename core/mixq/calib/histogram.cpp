#include "mixq/calib/histogram.h"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace mixq::calib {

namespace {

void bin_into(std::span<const float> x, double width, std::vector<int64_t>& counts, size_t offset_limit) {
  const float wf = static_cast<float>(width);
  const int64_t n = static_cast<int64_t>(offset_limit);
  for (float v : x) {
    if (v == 0.f) continue;  // callers pass finite values only
    int64_t b = histogram_bin(std::fabs(v), wf);
    if (b >= 0 && b < n) counts[b]++;
  }
}

}  // namespace

void Histogram::add(std::span<const float> x, float absmax, int default_bins) {
  // An all-zero start (th == 0) would make TPU-MLIR divide by a zero step; start afresh.
  if (counts.empty() || th == 0) {
    counts.assign(default_bins, 0);
    th = absmax;
    th_is_f32 = true;
    width = static_cast<double>(absmax) / (default_bins - 1);
    bin_into(x, width, counts, counts.size());
    return;
  }
  if (static_cast<double>(absmax) <= th) {
    // TPU-MLIR re-derives the width from the (unchanged) range: same value.
    double w = th / (static_cast<double>(counts.size()) - 1);
    bin_into(x, w, counts, counts.size());
    return;
  }
  const double old_n = static_cast<double>(counts.size());
  const double old_step = th / old_n;
  double diff = th_is_f32 ? static_cast<double>(absmax - static_cast<float>(th)) : static_cast<double>(absmax) - th;
  int64_t grow = static_cast<int64_t>(std::floor(diff / old_step) + 1);
  int64_t new_n = grow + static_cast<int64_t>(counts.size());
  if (new_n > 8000000) {
    restarted = true;
    counts.assign(default_bins, 0);
    th = absmax;
    th_is_f32 = true;
    width = static_cast<double>(absmax) / (default_bins - 1);
    bin_into(x, width, counts, counts.size());
    return;
  }
  th = static_cast<double>(grow) * old_step + th;
  th_is_f32 = false;
  width = th / static_cast<double>(new_n - 1);
  counts.resize(new_n, 0);  // old counts keep indices [0, old_n)
  bin_into(x, width, counts, counts.size());
}

float TensorStats::absmax() const { return std::max(std::fabs(min_), std::fabs(max_)); }

double octav_scale(std::span<const float> x, int bits) {
  double abs_sum = 0;
  int64_t nonzero = 0;
  float mn = INFINITY;
  for (float v : x) {
    if (!std::isfinite(v)) continue;
    float a = std::fabs(v);
    abs_sum += a;
    nonzero += a > 0;
    mn = std::min(mn, v);
  }
  if (nonzero == 0) return 0;
  const double u = std::fabs(static_cast<double>(mn) - 0) < 1e-6 ? 4 : 1;
  const double coef = 1.0 / std::pow(4.0, bits) / 3.0 / u;
  double s = abs_sum / static_cast<double>(nonzero);
  for (int it = 0; it < 20; it++) {
    double above_sum = 0;
    int64_t above = 0, below = 0;
    for (float v : x) {
      if (!std::isfinite(v)) continue;
      double a = std::fabs(v);
      if (a > s) {
        above_sum += a;
        above++;
      } else {
        below++;
      }
    }
    double next = above_sum / (coef * static_cast<double>(below) + static_cast<double>(above));
    if (std::fabs(next - s) < 1e-6) break;
    s = next;
  }
  return s;
}

double aciq_gauss_clip(std::span<const float> x) {
  float mn = INFINITY, mx = -INFINITY;
  int64_t n = 0;
  for (float v : x) {
    if (!std::isfinite(v)) continue;
    mn = std::min(mn, v);
    mx = std::max(mx, v);
    n++;
  }
  if (n < 2) return 0;
  const double alpha = 3.92403337;
  const double gaussian_const = (0.5 * 0.35) * (1 + std::sqrt(M_PI * std::log(4.0)));
  double std_est = (static_cast<double>(mx - mn) * gaussian_const) / std::sqrt(2 * std::log(static_cast<double>(n)));
  return alpha * std_est;
}

double aciq_laplace_clip(std::span<const float> x) {
  double sum = 0;
  int64_t n = 0;
  for (float v : x) {
    if (!std::isfinite(v)) continue;
    sum += v;
    n++;
  }
  if (n == 0) return 0;
  const double mean = sum / static_cast<double>(n);
  double dev = 0;
  for (float v : x) {
    if (std::isfinite(v)) dev += std::fabs(v - mean);
  }
  return 9.89675982 * dev / static_cast<double>(n);
}

namespace {
// Keeps the `keep` largest (or smallest) of `kept` + `incoming`, sorted ascending.
void keep_extremes(std::vector<float>& kept, std::vector<float> incoming, int64_t keep, bool largest) {
  if (incoming.empty()) return;
  if (static_cast<int64_t>(incoming.size()) > keep) {  // only the `keep` extremes can survive
    if (largest) {
      std::nth_element(incoming.begin(), incoming.end() - keep, incoming.end());
      incoming.erase(incoming.begin(), incoming.end() - keep);
    } else {
      std::nth_element(incoming.begin(), incoming.begin() + (keep - 1), incoming.end());
      incoming.resize(keep);
    }
  }
  kept.insert(kept.end(), incoming.begin(), incoming.end());
  std::sort(kept.begin(), kept.end());
  if (static_cast<int64_t>(kept.size()) > keep) {
    if (largest) {
      kept.erase(kept.begin(), kept.end() - keep);
    } else {
      kept.resize(keep);
    }
  }
}
}  // namespace

void TensorStats::add_extremes(std::span<const float> x) {
  // TPU-MLIR concatenates each sample's L smallest and L largest values (both whole
  // arrays when the sample is smaller than L) and later sorts everything; only the L
  // extremes of that multiset matter, so they are kept incrementally.
  const int64_t L = config_.percentile_keep;
  const int64_t n = static_cast<int64_t>(x.size());
  if (n >= 2 * L && static_cast<int64_t>(top_.size()) == L && static_cast<int64_t>(bottom_.size()) == L) {
    // The sample's L smallest and L largest are disjoint, so the multiset's L largest are
    // the L largest values seen at all: only values beyond the current L-th extreme can
    // change the kept values (equal ones leave the values unchanged). One pass.
    const float hi_cut = top_.front(), lo_cut = bottom_.back();
    std::vector<float> hi, lo;
    for (float v : x) {
      if (v > hi_cut) hi.push_back(v);
      if (v < lo_cut) lo.push_back(v);
    }
    keep_extremes(top_, std::move(hi), L, true);
    keep_extremes(bottom_, std::move(lo), L, false);
    return;
  }
  const int64_t k = std::min(L, n);
  std::vector<float> v(x.begin(), x.end());
  std::vector<float> both(2 * k);
  std::nth_element(v.begin(), v.begin() + (k - 1), v.end());
  std::copy_n(v.begin(), k, both.begin());
  std::nth_element(v.begin(), v.end() - k, v.end());
  std::copy(v.end() - k, v.end(), both.begin() + k);
  keep_extremes(top_, both, L, true);
  keep_extremes(bottom_, std::move(both), L, false);
}

void TensorStats::add(std::span<const float> x) {
  // One pass for min, max and the non-finite count; a finite copy only when needed.
  std::vector<float> finite;
  float mn = INFINITY, mx = -INFINITY;
  int64_t bad = 0;
  for (float v : x) {
    bad += !std::isfinite(v);
    mn = v < mn ? v : mn;
    mx = v > mx ? v : mx;
  }
  if (bad) {
    nonfinite_ += bad;
    finite.reserve(x.size() - bad);
    mn = INFINITY;
    mx = -INFINITY;
    for (float v : x) {
      if (!std::isfinite(v)) continue;
      finite.push_back(v);
      mn = v < mn ? v : mn;
      mx = v > mx ? v : mx;
    }
    x = finite;
  }
  elements_ = static_cast<int64_t>(x.size());
  if (x.empty()) {
    samples_++;
    return;
  }
  if (samples_ == 0) {
    min_ = mn;
    max_ = mx;
  } else {
    min_ = std::min(min_, mn);
    max_ = std::max(max_, mx);
  }
  samples_++;
  if (config_.histogram) hist_.add(x, absmax(), config_.bins);
  if (config_.octav) octav_sum_ += octav_scale(x);
  if (config_.aciq_gauss) aciq_gauss_sum_ += aciq_gauss_clip(x);
  if (config_.aciq_laplace) aciq_laplace_sum_ += aciq_laplace_clip(x);
  if (config_.percentile_keep > 0) add_extremes(x);
}

}  // namespace mixq::calib
