// Resize (opset 10-19) and Upsample (7-9): nearest / linear / cubic, every
// coordinate_transformation_mode and nearest_mode of the ONNX spec, as onnxruntime.
// Separable: each resized axis is resampled in turn with per-output-index taps
// (input index, weight); multilinear/bicubic results equal the product-of-weights form
// up to float rounding.
#include <cmath>
#include <cstring>

#include "mixq/exec/kernel.h"

namespace mixq::exec {
namespace {

struct Taps {
  std::vector<std::vector<std::pair<int64_t, float>>> taps;  // per output index
  std::vector<bool> extrapolate;                             // tf_crop_and_resize outside
  bool single = false;                                       // every output: one tap, weight 1
  bool extrapolates = false;                                 // some output is the extrapolation value
  std::vector<int64_t> index;                                // that tap's index
};

struct ResizeConfig {
  std::string mode = "nearest", coord = "half_pixel", nearest = "round_prefer_floor";
  float cubic_a = -0.75f, extrapolation = 0.f;
  bool exclude_outside = false, legacy = false;  // legacy: opset < 11 (Upsample, Resize-10)
};

float nearest_index(float x, const ResizeConfig& c, bool downsampling) {
  if (c.legacy) return downsampling ? std::ceil(x) : std::floor(x);
  if (c.nearest == "round_prefer_ceil") return std::floor(x + 0.5f);
  if (c.nearest == "floor") return std::floor(x);
  if (c.nearest == "ceil") return std::ceil(x);
  // round_prefer_floor
  return (x == std::floor(x) + 0.5f) ? std::floor(x) : std::round(x);
}

Taps make_taps(int64_t in, int64_t out, float scale, float roi_start, float roi_end, const ResizeConfig& c,
               const Node& n) {
  Taps t;
  t.taps.resize(out);
  t.extrapolate.assign(out, false);
  for (int64_t xo = 0; xo < out; ++xo) {
    float x;
    const std::string& m = c.coord;
    if (c.legacy || m == "asymmetric")
      x = float(xo) / scale;
    else if (m == "half_pixel")
      x = (float(xo) + 0.5f) / scale - 0.5f;
    else if (m == "pytorch_half_pixel")
      x = out > 1 ? (float(xo) + 0.5f) / scale - 0.5f : 0.f;
    else if (m == "align_corners")
      x = out == 1 ? 0.f : float(xo) * float(in - 1) / float(out - 1);
    else if (m == "tf_half_pixel_for_resize")
      x = (float(xo) + 0.5f) / scale;
    else if (m == "half_pixel_symmetric") {
      float adj = float(out) / (scale * float(in));
      float center = float(in) / 2.f;
      x = center * (1.f - adj) + (float(xo) + 0.5f) / scale - 0.5f;
    } else if (m == "tf_crop_and_resize") {
      x = out > 1 ? roi_start * float(in - 1) + float(xo) * (roi_end - roi_start) * float(in - 1) / float(out - 1)
                  : 0.5f * (roi_start + roi_end) * float(in - 1);
      if (x < 0 || x > float(in - 1)) {
        t.extrapolate[xo] = true;
        continue;
      }
    } else {
      fail(n, "coordinate_transformation_mode '" + m + "' is not supported");
    }
    auto& taps = t.taps[xo];
    if (c.mode == "nearest") {
      int64_t i = int64_t(nearest_index(x, c, scale < 1.f));
      taps.push_back({std::clamp<int64_t>(i, 0, in - 1), 1.f});
    } else if (c.mode == "linear" || c.mode == "bilinear") {
      float xc = std::clamp(x, 0.f, float(in - 1));
      int64_t i0 = int64_t(std::floor(xc));
      int64_t i1 = std::min<int64_t>(i0 + 1, in - 1);
      float w1 = xc - float(i0);
      taps.push_back({i0, 1.f - w1});
      if (i1 != i0 && w1 != 0.f)
        taps.push_back({i1, w1});
      else
        taps[0].second = 1.f;
    } else if (c.mode == "cubic") {
      int64_t i0 = int64_t(std::floor(x));
      float r = x - float(i0);
      float A = c.cubic_a;
      auto coef = [A](float d) {
        d = std::fabs(d);
        if (d <= 1) return ((A + 2) * d - (A + 3)) * d * d + 1;
        if (d < 2) return ((A * d - 5 * A) * d + 8 * A) * d - 4 * A;
        return 0.f;
      };
      float sum = 0;
      for (int64_t j = -1; j <= 2; ++j) {
        int64_t i = i0 + j;
        float w = coef(float(j) - r);
        if (c.exclude_outside && (i < 0 || i >= in)) continue;
        taps.push_back({std::clamp<int64_t>(i, 0, in - 1), w});
        sum += w;
      }
      if (c.exclude_outside && sum != 0)
        for (auto& p : taps) p.second /= sum;
    } else {
      fail(n, "mode '" + c.mode + "' is not supported");
    }
  }
  t.single = true;
  t.index.assign(out, 0);
  for (int64_t xo = 0; xo < out; ++xo) {
    t.extrapolates = t.extrapolates || t.extrapolate[xo];
    if (t.extrapolate[xo]) continue;
    if (t.taps[xo].size() != 1 || t.taps[xo][0].second != 1.f)
      t.single = false;
    else
      t.index[xo] = t.taps[xo][0].first;
  }
  return t;
}

std::unique_ptr<Kernel> make_resize(const KernelInit& k, bool upsample) {
  const Node& n = k.node;
  check(k.inputs[0]->dtype == DType::Float32, n, "only float32 Resize is supported");
  const Shape& x = k.in_shape(0);
  const Shape& y = k.out_shape(0);
  size_t rank = x.size();
  ResizeConfig c;
  c.mode = n.attr_string("mode", "nearest");
  c.coord = n.attr_string("coordinate_transformation_mode", "half_pixel");
  c.nearest = n.attr_string("nearest_mode", "round_prefer_floor");
  c.cubic_a = n.attr_float("cubic_coeff_a", -0.75f);
  c.exclude_outside = n.attr_int("exclude_outside", 0) != 0;
  c.extrapolation = n.attr_float("extrapolation_value", 0.f);
  c.legacy = upsample || k.opset < 11;
  check(n.attr_int("antialias", 0) == 0, n, "antialias is not supported");
  std::vector<float> scales;
  std::vector<float> roi;
  if (upsample && n.has_attr("scales")) {
    scales = n.attr_floats("scales");
  } else {
    size_t si = c.legacy ? 1 : 2;
    if (k.has_input(si)) {
      const Tensor* s = k.constant(si);
      check(s != nullptr, n, "scales must be a constant");
      scales = s->to_f32();
    }
    if (!c.legacy && k.has_input(1) && k.constant(1)) roi = k.constant(1)->to_f32();
  }
  std::vector<int64_t> axes = n.attr_ints("axes");
  std::vector<float> full_scales(rank, 1.f), roi_start(rank, 0.f), roi_end(rank, 1.f);
  for (size_t d = 0; d < rank; ++d) full_scales[d] = float(y[d]) / float(x[d]);
  if (!scales.empty()) {
    if (axes.empty()) {
      check(scales.size() == rank, n,
            "scales has " + std::to_string(scales.size()) + " values for rank " + std::to_string(rank));
      full_scales = scales;
    } else {
      for (size_t i = 0; i < axes.size() && i < scales.size(); ++i)
        full_scales[norm_axis(axes[i], int64_t(rank), n)] = scales[i];
    }
  }
  if (roi.size() == 2 * rank) {
    for (size_t d = 0; d < rank; ++d) roi_start[d] = roi[d], roi_end[d] = roi[rank + d];
  }
  // Per resized axis, its taps.
  std::vector<int64_t> dims;
  std::vector<Taps> taps;
  for (size_t d = 0; d < rank; ++d) {
    bool identity = x[d] == y[d] && full_scales[d] == 1.f && c.coord != "tf_crop_and_resize";
    if (identity) continue;
    dims.push_back(int64_t(d));
    taps.push_back(make_taps(x[d], y[d], full_scales[d], roi_start[d], roi_end[d], c, n));
  }
  // Nearest-style copies of the last two axes only (the FPN upsampling of detectors): one
  // pass, out[o][j][i] = in[o][rows[j]][cols[i]], instead of one pass per axis.
  bool copy_2d = rank >= 2 && !dims.empty();
  std::vector<int64_t> rows, cols;
  if (copy_2d) {
    const int64_t H = x[rank - 2], W = x[rank - 1];
    rows.resize(size_t(y[rank - 2]));
    cols.resize(size_t(y[rank - 1]));
    for (int64_t j = 0; j < H && j < int64_t(rows.size()); ++j) rows[j] = j;  // identity axes
    for (int64_t i = 0; i < W && i < int64_t(cols.size()); ++i) cols[i] = i;
    for (size_t s = 0; s < dims.size(); ++s) {
      const Taps& t = taps[s];
      copy_2d = copy_2d && dims[s] >= int64_t(rank) - 2 && t.single && !t.extrapolates;
      if (copy_2d) (dims[s] == int64_t(rank) - 2 ? rows : cols) = t.index;
    }
  }
  return make_fn([=](const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) {
    if (copy_2d) {
      const float* xs = in[0]->f32().data();
      float* ys = out[0]->f32().data();
      const int64_t H = x[rank - 2], W = x[rank - 1], OH = y[rank - 2], OW = y[rank - 1];
      const int64_t outer = H * W > 0 ? in[0]->numel() / (H * W) : 0;
      parallel_range(pool, outer * OH, std::max<int64_t>(1, 16384 / std::max<int64_t>(OW, 1)),
                     [&](int64_t r0, int64_t r1) {
                       for (int64_t r = r0; r < r1; ++r) {
                         const float* src = xs + ((r / OH) * H + rows[size_t(r % OH)]) * W;
                         float* dst = ys + r * OW;
                         for (int64_t i = 0; i < OW; ++i) dst[i] = src[cols[size_t(i)]];
                       }
                     });
      return;
    }
    Shape cur = x;
    // Intermediate stages, kept between runs (every element is written: no zeroing; a
    // fresh vector per run cost a page-faulting allocation and a memset each time).
    thread_local std::vector<float> a, b;
    const float* stage_in = in[0]->f32().data();
    if (dims.empty()) {
      std::memcpy(out[0]->f32().data(), stage_in, in[0]->numel() * sizeof(float));
      return;
    }
    for (size_t s = 0; s < dims.size(); ++s) {
      int64_t d = dims[s];
      int64_t outer = 1, inner = 1;
      for (int64_t i = 0; i < d; ++i) outer *= cur[i];
      for (size_t i = d + 1; i < rank; ++i) inner *= cur[i];
      int64_t nin = cur[d], nout = y[d];
      bool last = s + 1 == dims.size();
      float* dst;
      if (last)
        dst = out[0]->f32().data();
      else {
        b.resize(size_t(outer * nout * inner));
        dst = b.data();
      }
      const float* src = stage_in;
      const Taps& t = taps[s];
      if (inner == 1 && t.single) {  // innermost axis, one tap of weight 1 per output
        parallel_range(pool, outer, std::max<int64_t>(1, 16384 / std::max<int64_t>(nout, 1)),
                       [&](int64_t o0, int64_t o1) {
                         for (int64_t o = o0; o < o1; ++o) {
                           const float* sp = src + o * nin;
                           float* dp = dst + o * nout;
                           for (int64_t j = 0; j < nout; ++j)
                             dp[j] = t.extrapolate[j] ? c.extrapolation : sp[t.index[j]];
                         }
                       });
        cur[d] = nout;
        if (!last) {
          a.swap(b);
          stage_in = a.data();
        }
        continue;
      }
      float ext = c.extrapolation;
      parallel_range(pool, outer, std::max<int64_t>(1, 16384 / std::max<int64_t>(nout * inner, 1)),
                     [&](int64_t o0, int64_t o1) {
                       for (int64_t o = o0; o < o1; ++o) {
                         const float* sp = src + o * nin * inner;
                         float* dp = dst + o * nout * inner;
                         for (int64_t j = 0; j < nout; ++j) {
                           float* row = dp + j * inner;
                           if (t.extrapolate[j]) {
                             for (int64_t i = 0; i < inner; ++i) row[i] = ext;
                             continue;
                           }
                           const auto& tp = t.taps[j];
                           if (tp.size() == 1 && tp[0].second == 1.f) {
                             std::memcpy(row, sp + tp[0].first * inner, inner * sizeof(float));
                             continue;
                           }
                           for (int64_t i = 0; i < inner; ++i) row[i] = 0.f;
                           for (const auto& [idx, w] : tp) {
                             const float* r = sp + idx * inner;
                             for (int64_t i = 0; i < inner; ++i) row[i] += w * r[i];
                           }
                         }
                       }
                     });
      cur[d] = nout;
      if (!last) {
        a.swap(b);
        stage_in = a.data();
      }
    }
  });
}

}  // namespace

void register_resize_kernels(KernelRegistry& r) {
  r["Resize"] = [](const KernelInit& k) { return make_resize(k, false); };
  r["Upsample"] = [](const KernelInit& k) { return make_resize(k, true); };
}

}  // namespace mixq::exec
