// Normalizations and soft-max: BatchNormalization (inference form), InstanceNormalization,
// LayerNormalization, Softmax, LogSoftmax (opset < 13: coerced to 2-D at axis; >= 13: along
// axis). Statistics accumulate in double.
#include <cmath>

#include "mixq/exec/kernel.h"

namespace mixq::exec {
namespace {

std::unique_ptr<Kernel> make_batchnorm(const KernelInit& k) {
  const Shape& x = k.in_shape(0);
  check(x.size() >= 2 && k.inputs[0]->dtype == DType::Float32, k.node, "expected a float32 [N, C, ...] input");
  for (size_t i = 1; i < 5; ++i) check(k.has_input(i), k.node, "missing input " + std::to_string(i));
  float eps = k.node.attr_float("epsilon", 1e-5f);
  int64_t N = x[0], C = x[1], S = 1;
  for (size_t i = 2; i < x.size(); ++i) S *= x[i];
  return make_fn([=](const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) {
    auto scale = in[1]->to_f32(), bias = in[2]->to_f32(), mean = in[3]->to_f32(), var = in[4]->to_f32();
    std::vector<float> a(C), b(C);
    for (int64_t c = 0; c < C; ++c) {
      a[c] = scale[c] / std::sqrt(var[c] + eps);
      b[c] = bias[c] - mean[c] * a[c];
    }
    const float* xp = in[0]->f32().data();
    float* y = out[0]->f32().data();
    parallel_range(pool, N * C, std::max<int64_t>(1, 32768 / std::max<int64_t>(S, 1)), [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        int64_t c = p % C;
        for (int64_t i = 0; i < S; ++i) y[p * S + i] = xp[p * S + i] * a[c] + b[c];
      }
    });
  });
}

std::unique_ptr<Kernel> make_instancenorm(const KernelInit& k) {
  const Shape& x = k.in_shape(0);
  check(x.size() >= 3 && k.inputs[0]->dtype == DType::Float32, k.node, "expected a float32 [N, C, ...] input");
  float eps = k.node.attr_float("epsilon", 1e-5f);
  int64_t N = x[0], C = x[1], S = 1;
  for (size_t i = 2; i < x.size(); ++i) S *= x[i];
  return make_fn([=](const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) {
    auto scale = in[1]->to_f32(), bias = in[2]->to_f32();
    const float* xp = in[0]->f32().data();
    float* y = out[0]->f32().data();
    pool.parallel_for(N * C, [&](int64_t p) {
      int64_t c = p % C;
      const float* v = xp + p * S;
      double s = 0, ss = 0;
      for (int64_t i = 0; i < S; ++i) s += v[i];
      double mean = s / double(S);
      for (int64_t i = 0; i < S; ++i) ss += (v[i] - mean) * (v[i] - mean);
      float inv = float(1.0 / std::sqrt(ss / double(S) + eps));
      float a = scale[c] * inv, b = float(bias[c] - mean * scale[c] * inv);
      for (int64_t i = 0; i < S; ++i) y[p * S + i] = v[i] * a + b;
    });
  });
}

std::unique_ptr<Kernel> make_layernorm(const KernelInit& k) {
  const Shape& x = k.in_shape(0);
  check(k.inputs[0]->dtype == DType::Float32, k.node, "only float32 LayerNormalization is supported");
  int64_t axis = norm_axis(k.node.attr_int("axis", -1), int64_t(x.size()), k.node);
  float eps = k.node.attr_float("epsilon", 1e-5f);
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= x[i];
  for (size_t i = axis; i < x.size(); ++i) inner *= x[i];
  Shape sshape = k.in_shape(1), bshape = k.has_input(2) ? k.in_shape(2) : Shape{};
  return make_fn([=](const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) {
    auto scale = in[1]->to_f32();
    std::vector<float> bias = in.size() > 2 && in[2] ? in[2]->to_f32() : std::vector<float>();
    const float* xp = in[0]->f32().data();
    float* y = out[0]->f32().data();
    float* mean_out = out.size() > 1 && out[1] ? out[1]->f32().data() : nullptr;
    float* inv_out = out.size() > 2 && out[2] ? out[2]->f32().data() : nullptr;
    int64_t sn = int64_t(scale.size()), bn = int64_t(bias.size());
    pool.parallel_for(outer, [&](int64_t o) {
      const float* v = xp + o * inner;
      double s = 0, ss = 0;
      for (int64_t i = 0; i < inner; ++i) s += v[i];
      double mean = s / double(inner);
      for (int64_t i = 0; i < inner; ++i) ss += (v[i] - mean) * (v[i] - mean);
      double inv = 1.0 / std::sqrt(ss / double(inner) + eps);
      float* yo = y + o * inner;
      for (int64_t i = 0; i < inner; ++i) {
        float val = float((v[i] - mean) * inv) * scale[sn == inner ? i : i % sn];
        if (bn) val += bias[bn == inner ? i : i % bn];
        yo[i] = val;
      }
      if (mean_out) mean_out[o] = float(mean);
      if (inv_out) inv_out[o] = float(inv);
    });
  });
}

// max of v[0, n) as std::max folds it (NaNs skipped), in 8 independent lanes: the order
// of a max does not change its value.
float row_max(const float* v, int64_t n) {
  float lanes[8] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) lanes[k] = lanes[k] < v[i + k] ? v[i + k] : lanes[k];
  float m = -INFINITY;
  for (int k = 0; k < 8; ++k) m = std::max(m, lanes[k]);
  for (; i < n; ++i) m = std::max(m, v[i]);
  return m;
}

// Sum of v[0, n) in double, in 8 partial sums (element i into sum i % 8, combined
// pairwise in a fixed order): the same bits on every target, without one long chain of
// dependent additions per row.
double row_sum(const float* v, int64_t n) {
  double part[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) part[k] += double(v[i + k]);
  for (int k = 0; i < n; ++i, ++k) part[k] += double(v[i]);
  return ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
}

std::unique_ptr<Kernel> make_softmax(const KernelInit& k, bool log) {
  const Shape& x = k.in_shape(0);
  check(k.inputs[0]->dtype == DType::Float32, k.node, "only float32 inputs are supported");
  int64_t rank = int64_t(x.size());
  int64_t axis = norm_axis(k.node.attr_int("axis", k.opset >= 13 ? -1 : 1), rank, k.node);
  int64_t outer = 1, n = 1, inner = 1;
  if (k.opset < 13) {  // coerce to 2-D [prod(dims < axis), prod(dims >= axis)]
    for (int64_t i = 0; i < axis; ++i) outer *= x[i];
    for (int64_t i = axis; i < rank; ++i) n *= x[i];
  } else {
    for (int64_t i = 0; i < axis; ++i) outer *= x[i];
    n = x[axis];
    for (int64_t i = axis + 1; i < rank; ++i) inner *= x[i];
  }
  return make_fn([=](const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) {
    const float* xp = in[0]->f32().data();
    float* y = out[0]->f32().data();
    parallel_range(pool, outer, std::max<int64_t>(1, 16384 / std::max<int64_t>(n * inner, 1)),
                   [&](int64_t o0, int64_t o1) {
                     for (int64_t o = o0; o < o1; ++o)
                       for (int64_t j = 0; j < inner; ++j) {
                         const float* v = xp + o * n * inner + j;
                         float* w = y + o * n * inner + j;
                         float m = -INFINITY;
                         double s = 0;
                         if (inner == 1) {  // contiguous: vectorised max, exp (into w, overwritten for log), sum
                           m = row_max(v, n);
                           exp_shifted(v, w, n, m);
                           s = row_sum(w, n);
                         } else {
                           for (int64_t i = 0; i < n; ++i) m = std::max(m, v[i * inner]);
                           for (int64_t i = 0; i < n; ++i) {
                             float e = std::exp(v[i * inner] - m);
                             if (!log) w[i * inner] = e;
                             s += e;
                           }
                         }
                         if (log) {
                           float ls = float(std::log(s));
                           for (int64_t i = 0; i < n; ++i) w[i * inner] = v[i * inner] - m - ls;
                         } else {
                           float inv = float(1.0 / s);
                           for (int64_t i = 0; i < n; ++i) w[i * inner] *= inv;
                         }
                       }
                   });
  });
}

}  // namespace

void register_norm_kernels(KernelRegistry& r) {
  r["BatchNormalization"] = make_batchnorm;
  r["InstanceNormalization"] = make_instancenorm;
  r["LayerNormalization"] = make_layernorm;
  r["Softmax"] = [](const KernelInit& k) { return make_softmax(k, false); };
  r["LogSoftmax"] = [](const KernelInit& k) { return make_softmax(k, true); };
}

}  // namespace mixq::exec
