#include "mixq/calib/thresholds.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "mixq/error.h"

namespace mixq::calib {

CaliMethod parse_cali_method(const std::string& raw) {
  std::string n = raw;
  for (char& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (n.rfind("use_", 0) == 0) n = n.substr(4);
  if (n == "kl" || n == "kld") return CaliMethod::Kl;
  if (n == "max" || n == "minmax") return CaliMethod::Max;
  if (n == "percentile9999") return CaliMethod::Percentile9999;
  if (n == "mse" || n == "octav") return CaliMethod::Mse;
  if (n == "aciq_gauss") return CaliMethod::AciqGauss;
  if (n == "aciq_laplace") return CaliMethod::AciqLaplace;
  if (n == "admm") return CaliMethod::Admm;
  throw Error("--cali_method: unknown method '" + raw +
              "' (expected kl, max, percentile9999, mse, aciq_gauss, aciq_laplace or admm)");
}

const char* cali_method_name(CaliMethod m) {
  switch (m) {
    case CaliMethod::Kl:
      return "kl";
    case CaliMethod::Max:
      return "max";
    case CaliMethod::Percentile9999:
      return "percentile9999";
    case CaliMethod::Mse:
      return "mse";
    case CaliMethod::AciqGauss:
      return "aciq_gauss";
    case CaliMethod::AciqLaplace:
      return "aciq_laplace";
    case CaliMethod::Admm:
      return "admm";
  }
  return "?";
}

StatsConfig stats_config_for(CaliMethod method, int bins, int64_t percentile_keep) {
  StatsConfig c;
  c.bins = bins;
  c.histogram = method == CaliMethod::Kl || method == CaliMethod::Admm;
  c.octav = method == CaliMethod::Mse;
  c.aciq_gauss = method == CaliMethod::AciqGauss;
  c.aciq_laplace = method == CaliMethod::AciqLaplace;
  c.percentile_keep = method == CaliMethod::Percentile9999 ? percentile_keep : 0;
  return c;
}

namespace {
// TPU-MLIR's float loop costs O(N^2 / dst_bins): fine for the 2048 default bins, hours
// for the millions a histogram reaches when a tensor's range grows a thousandfold after
// its first sample (PP-OCR det's final Sigmoid on a text-free first image: 5,002,707
// bins, 5.5 minutes for that one layer). Past this size the prefix-sum form is used.
constexpr int64_t kFloatLoopBins = int64_t{1} << 18;

int64_t first_minimum(const std::vector<double>& kl) {
  int64_t best = 0;
  for (int64_t k = 1; k < static_cast<int64_t>(kl.size()); k++)
    if (kl[best] > kl[k]) best = k;
  return best;
}

std::vector<double> kl_divergences_float(std::span<const int64_t> hist, int dst_bins) {
  const int64_t N = static_cast<int64_t>(hist.size());
  const int64_t BINS = dst_bins;
  int64_t count = 0;
  for (int64_t v : hist) count += v;
  const float fcount = static_cast<float>(count);
  // P[b] = hist[b] / count and log10(P[b] + 1e-30) for b < i-1 do not depend on the
  // candidate i: computed once. Q is one value per chunk (or 0 on empty bins): its log10
  // once per chunk. The arithmetic per term is the float loop's.
  std::vector<float> p_bin(N);
  std::vector<double> log_p_bin(N);
  for (int64_t b = 0; b < N; b++) {
    p_bin[b] = static_cast<float>(hist[b]) / fcount;
    log_p_bin[b] = std::log10(static_cast<double>(p_bin[b]) + 1e-30);
  }
  const double log_q_empty = std::log10(0.0 + 1e-30);
  std::vector<int64_t> suffix(N + 1, 0);
  for (int64_t b = N - 1; b >= 0; b--) suffix[b] = suffix[b + 1] + hist[b];
  std::vector<double> kl;
  float prefix_sum = 0.f;  // float sum of hist[0:i), continued from candidate to candidate
  int64_t prefix_end = 0;
  for (int64_t i = BINS; i < N + 1; i += BINS) {
    // P[i-1] before the division: hist[i-1..N) summed left to right in float; every
    // partial sum is an exact integer while the total is at most 2^24.
    float tail = 0.f;
    if (count <= (int64_t{1} << 24)) {
      tail = static_cast<float>(suffix[i - 1]);
    } else {
      for (int64_t j = i - 1; j < N; j++) tail += static_cast<float>(hist[j]);
    }
    const float p_last = tail / fcount;
    for (; prefix_end < i; prefix_end++) prefix_sum += static_cast<float>(hist[prefix_end]);
    const float sum = prefix_sum;
    const int64_t expand = i / BINS;
    float acc = 0.f;
    for (int64_t j = 0, start = 0; j < BINS; j++, start += expand) {
      float sum_bin = 0.f, positive = 0.f;
      for (int64_t b = start; b < start + expand; b++) {
        sum_bin += static_cast<float>(hist[b]);
        positive += hist[b] > 0 ? 1.f : 0.f;
      }
      positive = positive == 0.f ? 1.f : positive;
      const float q_base = sum_bin / positive / sum;
      const double log_q = std::log10(static_cast<double>(q_base) + 1e-30);
      for (int64_t b = start; b < start + expand; b++) {
        const float p = b < i - 1 ? p_bin[b] : p_last;
        // P[b] == 0 gives an exact 0 term (log10 of 1e-30 is finite): skipping it changes nothing.
        if (p == 0.f) continue;
        const double log_p = b < i - 1 ? log_p_bin[b] : std::log10(static_cast<double>(p) + 1e-30);
        const double term = static_cast<double>(p) * (log_p - (hist[b] ? log_q : log_q_empty));
        acc = static_cast<float>(static_cast<double>(acc) + term);
      }
    }
    kl.push_back(acc);
  }
  return kl;
}

std::vector<double> kl_divergences_prefix_sums(std::span<const int64_t> hist, int dst_bins) {
  const int64_t N = static_cast<int64_t>(hist.size());
  const int64_t BINS = dst_bins;
  // Prefix sums over bins [0, k): counts, nonzero bins, P and P*log10(P + 1e-30).
  std::vector<int64_t> counts(N + 1, 0), nonzero(N + 1, 0);
  for (int64_t b = 0; b < N; b++) {
    counts[b + 1] = counts[b] + hist[b];
    nonzero[b + 1] = nonzero[b] + (hist[b] > 0);
  }
  const double total = static_cast<double>(counts[N]);
  std::vector<double> p_sum(N + 1, 0.0), p_log_p(N + 1, 0.0);
  for (int64_t b = 0; b < N; b++) {
    const double p = static_cast<double>(hist[b]) / total;
    p_sum[b + 1] = p_sum[b] + p;
    p_log_p[b + 1] = p_log_p[b] + (hist[b] ? p * std::log10(p + 1e-30) : 0.0);
  }
  // KL(i) = sum_{b < i-1} P log P - sum over chunks of log Q(chunk) * P(chunk's bins < i-1)
  //         + the tail bin P[i-1] (log P[i-1] - log Q[i-1]).
  std::vector<double> kl;
  for (int64_t i = BINS; i < N + 1; i += BINS) {
    const int64_t expand = i / BINS;
    const double sum = static_cast<double>(counts[i]);
    double acc = p_log_p[i - 1];
    double q_last = 0;
    for (int64_t start = 0; start < i; start += expand) {
      const int64_t end = start + expand;
      const int64_t in_chunk = counts[end] - counts[start];
      if (in_chunk == 0) continue;
      const double positive = static_cast<double>(nonzero[end] - nonzero[start]);
      const double q = static_cast<double>(in_chunk) / positive / sum;
      acc -= (p_sum[std::min(end, i - 1)] - p_sum[start]) * std::log10(q + 1e-30);
      q_last = q;  // the last nonempty chunk; used below only when it holds bin i-1
    }
    const double p_last = static_cast<double>(counts[N] - counts[i - 1]) / total;
    if (p_last > 0) {
      const double q = hist[i - 1] ? q_last : 0.0;
      acc += p_last * (std::log10(p_last + 1e-30) - std::log10(q + 1e-30));
    }
    kl.push_back(acc);
  }
  return kl;
}

}  // namespace

std::vector<double> kl_divergences(std::span<const int64_t> hist, int dst_bins, KlForm form) {
  const int64_t N = static_cast<int64_t>(hist.size());
  require(dst_bins > 0 && N >= dst_bins && N % dst_bins == 0,
          "kl: histogram size must be a multiple of the target bins");
  if (form == KlForm::Auto) form = N > kFloatLoopBins ? KlForm::PrefixSums : KlForm::FloatLoop;
  return form == KlForm::FloatLoop ? kl_divergences_float(hist, dst_bins) : kl_divergences_prefix_sums(hist, dst_bins);
}

float kl_threshold(std::span<const int64_t> hist, float width, int dst_bins) {
  const std::vector<double> kl = kl_divergences(hist, dst_bins, KlForm::Auto);
  float th = width * static_cast<float>(first_minimum(kl) + 1);
  th = th * static_cast<float>(dst_bins);
  return th;
}

float kl_threshold(const Histogram& hist, int dst_bins) {
  std::vector<int64_t> padded(hist.counts.begin(), hist.counts.end());
  size_t rem = padded.size() % dst_bins;
  if (rem) padded.resize(padded.size() + (dst_bins - rem), 0);
  if (padded.empty()) padded.assign(dst_bins, 0);
  return kl_threshold(padded, static_cast<float>(hist.width), dst_bins);
}

double percentile_for_layer(int layer_index, int num_layers) {
  double step = (99.999999 - 99.99) / num_layers;
  return 99.99 + layer_index * step;
}

int64_t percentile_keep(double percentile, int64_t num_samples, int64_t size) {
  return static_cast<int64_t>(static_cast<double>(num_samples * size) * (1 - percentile / 100)) + 1;
}

namespace {
double quantization_sse(const Histogram& hist, double s) {
  double e = 0;
  for (size_t b = 0; b < hist.counts.size(); b++) {
    if (!hist.counts[b]) continue;
    double x = static_cast<double>(b) * hist.width;
    double d = x - std::min(127.0, std::nearbyint(x / s)) * s;
    e += static_cast<double>(hist.counts[b]) * d * d;
  }
  return e;
}

// The alternating step's sums over bins (x_b = b * width, q_b = min(127, nearbyint(x_b / s))):
// q_b does not decrease with b, so the bins of each q are one range, found by an estimate
// checked against the same expression; xq and qq then come from prefix sums of c and c*x:
// O(128) a round instead of O(bins) (a 2048-bin layer took ~8 ms, 100 rounds x 64 starts).
class AdmmSums {
 public:
  explicit AdmmSums(const Histogram& hist) : width_(hist.width), n_(static_cast<int64_t>(hist.counts.size())) {
    c_.assign(n_ + 1, 0.0);
    cx_.assign(n_ + 1, 0.0);
    for (int64_t b = 0; b < n_; b++) {
      const double c = static_cast<double>(hist.counts[b]);
      c_[b + 1] = c_[b] + c;
      cx_[b + 1] = cx_[b] + c * (static_cast<double>(b) * width_);
    }
  }
  // Sum of c*x*q and of c*q*q for the step s.
  void sums(double s, double& xq, double& qq) const {
    xq = qq = 0;
    int64_t lo = first_bin(1, s);
    for (int q = 1; q <= 127; q++) {
      const int64_t hi = q == 127 ? n_ : first_bin(q + 1, s);
      const double qd = q;
      xq += qd * (cx_[hi] - cx_[lo]);
      qq += qd * qd * (c_[hi] - c_[lo]);
      lo = hi;
    }
  }

 private:
  double level(int64_t b, double s) const {
    return std::min(127.0, std::nearbyint(static_cast<double>(b) * width_ / s));
  }
  // The first bin whose level is at least q (n_ if none).
  int64_t first_bin(int q, double s) const {
    const double estimate = std::ceil((q - 0.5) * s / width_);
    int64_t b = estimate <= 0 ? 0 : estimate >= static_cast<double>(n_) ? n_ : static_cast<int64_t>(estimate);
    while (b > 0 && level(b - 1, s) >= q) b--;
    while (b < n_ && level(b, s) < q) b++;
    return b;
  }
  double width_;
  int64_t n_;
  std::vector<double> c_, cx_;  // prefix sums over bins [0, k)
};
}  // namespace

double admm_threshold(const Histogram& hist, float absmax) {
  if (hist.counts.empty() || absmax <= 0 || hist.width <= 0) return absmax;
  double best_s = absmax / 127.0, best_e = quantization_sse(hist, best_s);
  const AdmmSums sums(hist);
  // Alternating minimization from 64 starts s = absmax*k/64/127: the q-step and the
  // least-squares s-step each lower the error, so each start ends in a local optimum.
  for (int k = 1; k <= 64; k++) {
    double s = absmax * k / 64.0 / 127.0;
    for (int round = 0; round < 100; round++) {
      double xq = 0, qq = 0;
      sums.sums(s, xq, qq);
      if (qq <= 0) break;
      double next = xq / qq;
      bool done = std::fabs(next - s) <= 1e-12 * s;
      s = next;
      if (done) break;
    }
    double e = quantization_sse(hist, s);
    if (e < best_e) best_e = e, best_s = s;
  }
  return std::min(127.0 * best_s, static_cast<double>(absmax));
}

LayerThreshold compute_threshold(CaliMethod method, const TensorStats& stats, const ThresholdContext& ctx,
                                 const std::string& layer_name) {
  LayerThreshold r;
  r.min = stats.min();
  r.max = stats.max();
  const float absmax_f = stats.absmax();
  double abs_value = absmax_f;
  const double n = static_cast<double>(std::max<int64_t>(1, stats.samples()));
  switch (method) {
    case CaliMethod::Kl:
    case CaliMethod::Max:
    case CaliMethod::Admm:
      break;
    case CaliMethod::Percentile9999: {
      const auto& top = stats.top();
      const auto& bottom = stats.bottom();
      if (!top.empty() && !bottom.empty()) {
        const int64_t L = stats.config().percentile_keep;
        const int64_t total = ctx.num_samples * stats.elements();
        const double p = ctx.percentile / 100;
        const double inter = static_cast<double>(total - 1);
        const int64_t idx = static_cast<int64_t>(p * inter);
        const double ratio = p * inter - static_cast<double>(idx);
        // res_max = sorted(all)[-L:], res_min = sorted(all)[:L][::-1] (whole array when shorter)
        const size_t hi0 = 0, lo0 = bottom.size() - 1;
        float rmax0 = top[hi0], rmin0 = bottom[lo0];
        double v_max = rmax0, v_min = rmin0;
        if (L != 1 && top.size() >= 2) v_max = rmax0 + ratio * static_cast<double>(top[1] - rmax0);
        if (L != 1 && bottom.size() >= 2) v_min = rmin0 + ratio * static_cast<double>(bottom[lo0 - 1] - rmin0);
        r.min = v_min;
        r.max = v_max;
        abs_value = std::max(std::fabs(v_max), std::fabs(v_min));
      }
      break;
    }
    case CaliMethod::Mse:
    case CaliMethod::AciqGauss:
    case CaliMethod::AciqLaplace: {
      double sum = method == CaliMethod::Mse         ? stats.octav_sum()
                   : method == CaliMethod::AciqGauss ? stats.aciq_gauss_sum()
                                                     : stats.aciq_laplace_sum();
      double mean = sum / n;
      if (!ctx.is_graph_input) abs_value = std::min(mean, abs_value);
      break;
    }
  }
  if (!(abs_value > 1e-5)) {  // also NaN
    r.min = r.min < 0 ? -1e-5 : 0;
    r.max = 1e-5;
    abs_value = 1e-5;
    std::ostringstream w;
    w << "layer " << layer_name << " is all zeros (or not finite); threshold set to 1e-5. Check the input data.";
    r.warning = w.str();
  }
  double th = abs_value;
  if (method == CaliMethod::Kl) {
    float kl = kl_threshold(stats.histogram());
    th = (static_cast<double>(kl) > abs_value || std::isnan(kl)) ? abs_value : kl;
  } else if (method == CaliMethod::Admm) {
    th = std::min(admm_threshold(stats.histogram(), absmax_f), abs_value);
  }
  if (!(th > 1e-5)) {
    if (r.warning.empty()) r.warning = "layer " + layer_name + ": threshold <= 1e-5 or NaN set to 1e-5";
    th = 1e-5;
  }
  r.threshold = th;
  return r;
}

}  // namespace mixq::calib
