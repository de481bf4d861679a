// Threshold methods (run_calibration.py --cali_method) on TensorStats; spec section 4.
//  kl:             TPU-MLIR's calibration_math kl_diversity_hist, float arithmetic kept:
//                  histogram padded to a multiple of 128; for i = 128, 256, ..., N:
//                  P = hist[0:i) with the tail added to P[i-1], / total count; Q = hist[0:i)
//                  in 128 chunks, each nonzero bin = chunk sum / nonzero bins / sum(hist[0:i));
//                  KL = sum P*(log10(P+1e-30) - log10(Q+1e-30)); first minimum m;
//                  th = width * (m+1) * 128, capped at absmax.
//  max:            absmax.
//  percentile9999: p = 99.99 + index*(99.999999-99.99)/num_layers; L = int(N*size*(1-p/100))+1;
//                  v_hi/v_lo interpolated between the L-th and (L-1)-th extreme values at
//                  ratio frac(p/100*(N*size-1)); th = max(|v_hi|,|v_lo|); the table's
//                  min/max become v_lo/v_hi.
//  mse (OCTAV), aciq_gauss, aciq_laplace: mean of the per-sample estimates, capped at absmax;
//                  graph inputs keep absmax.
//  admm:           (NNTC's option; TPU-MLIR has none) our formulation: minimize the squared
//                  error of symmetric 8-bit quantization over the |x| histogram by alternating
//                  q = clamp(round(|x|/s), 0, 127) and the least-squares s = sum(|x| q)/sum(q^2)
//                  until s stops changing (<= 100 rounds), from 64 starts s = absmax*k/64/127;
//                  the start with the least error wins; th = 127 s, capped at absmax.
// Guard: th <= 1e-5 or NaN -> th = 1e-5, min = (min < 0 ? -1e-5 : 0), max = 1e-5, warning.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "mixq/calib/histogram.h"

namespace mixq::calib {

enum class CaliMethod { Kl, Max, Percentile9999, Mse, AciqGauss, AciqLaplace, Admm };
// Accepts the CLI names (kl, max, percentile9999, mse, aciq_gauss, aciq_laplace, admm) and
// TPU-MLIR's use_* spellings. Throws mixq::Error naming the flag.
CaliMethod parse_cali_method(const std::string& name);
const char* cali_method_name(CaliMethod method);
StatsConfig stats_config_for(CaliMethod method, int bins, int64_t percentile_keep);

// TPU-MLIR's kl_diversity_hist(hist, width, N, dst_bins); N must be a multiple of dst_bins.
float kl_threshold(std::span<const int64_t> hist, float width, int dst_bins = 128);
// The divergence of each candidate i = dst_bins, 2*dst_bins, ..., N (kl_threshold takes the
// first minimum). FloatLoop: TPU-MLIR's float arithmetic, O(N^2 / dst_bins): hours at the
// millions of bins range extensions can reach. PrefixSums: the same sums in double from
// prefix sums, O(N); equal up to float rounding. Auto: FloatLoop up to 2^18 bins.
enum class KlForm { Auto, FloatLoop, PrefixSums };
std::vector<double> kl_divergences(std::span<const int64_t> hist, int dst_bins, KlForm form = KlForm::Auto);
// Pads to a multiple of dst_bins and runs kl_threshold with the histogram's width.
float kl_threshold(const Histogram& hist, int dst_bins = 128);
// The percentile of layer `layer_index` among `num_layers`.
double percentile_for_layer(int layer_index, int num_layers);
// L for a tensor of `size` elements per sample over `num_samples` samples.
int64_t percentile_keep(double percentile, int64_t num_samples, int64_t size);
double admm_threshold(const Histogram& hist, float absmax);

struct LayerThreshold {
  double threshold = 0;
  double min = 0, max = 0;
  std::string warning;  // non-empty when a guard fired
};

struct ThresholdContext {
  bool is_graph_input = false;
  double percentile = 99.99;  // percentile9999
  int64_t num_samples = 0;
};

LayerThreshold compute_threshold(CaliMethod method, const TensorStats& stats, const ThresholdContext& context,
                                 const std::string& layer_name);

}  // namespace mixq::calib
