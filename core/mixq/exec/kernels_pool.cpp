// Pooling and reductions: MaxPool, AveragePool (1-D/2-D, pads, auto_pad, ceil_mode,
// dilations, count_include_pad), GlobalAveragePool, GlobalMaxPool, LpNormalization-free
// Reduce{Mean,Sum,Max,Min,Prod,L1,L2,SumSquare,LogSumExp} (axes as attribute or input).
// Sums accumulate in double; MaxPool is separable per output row (rows' max, then
// columns); one task per (batch, channel) plane / output block.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <vector>

#include "mixq/exec/kernel.h"
#include "mixq/exec/max_pool.h"
#include "mixq/exec/vec.h"

namespace mixq::exec {

PoolGeometry pool_geometry(const KernelInit& k) {
  const Node& n = k.node;
  const Shape& x = k.in_shape(0);
  const Shape& y = k.out_shape(0);
  check(x.size() == 3 || x.size() == 4, n, "only 1-D and 2-D pooling is supported, input is " + shape_str(x));
  size_t rank = x.size() - 2;
  auto ks = n.attr_ints("kernel_shape");
  check(ks.size() == rank, n, "kernel_shape must have " + std::to_string(rank) + " values");
  auto st = n.attr_ints("strides", std::vector<int64_t>(rank, 1));
  auto dl = n.attr_ints("dilations", std::vector<int64_t>(rank, 1));
  auto pads = n.attr_ints("pads", std::vector<int64_t>(2 * rank, 0));
  check(st.size() == rank && dl.size() == rank && pads.size() == 2 * rank, n,
        "strides/dilations/pads have wrong sizes");
  std::string auto_pad = n.attr_string("auto_pad", "NOTSET");
  PoolGeometry g;
  g.planes = x[0] * x[1];
  std::vector<int64_t> begin(rank), end(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t in = x[2 + i], out = y[2 + i], ke = (ks[i] - 1) * dl[i] + 1;
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      int64_t total = std::max<int64_t>(0, (out - 1) * st[i] + ke - in);
      begin[i] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      end[i] = total - begin[i];
    } else if (auto_pad == "VALID") {
      begin[i] = end[i] = 0;
    } else {
      begin[i] = pads[i];
      end[i] = pads[rank + i];
    }
  }
  if (rank == 2) {
    g.H = x[2], g.W = x[3], g.OH = y[2], g.OW = y[3], g.KH = ks[0], g.KW = ks[1], g.SH = st[0], g.SW = st[1];
    g.DH = dl[0], g.DW = dl[1], g.PT = begin[0], g.PL = begin[1], g.PB = end[0], g.PR = end[1];
  } else {
    g.W = x[2], g.OW = y[2], g.KW = ks[0], g.SW = st[0], g.DW = dl[0], g.PL = begin[0], g.PR = end[0];
  }
  return g;
}

std::vector<WindowColumns> all_window_columns(const PoolGeometry& g) {
  std::vector<WindowColumns> cols;
  for (int64_t kw = 0; kw < g.KW; ++kw) {
    const int64_t off = kw * g.DW - g.PL;
    const int64_t lo = off >= 0 ? 0 : (-off + g.SW - 1) / g.SW;
    const int64_t hi = g.W - off <= 0 ? 0 : std::min<int64_t>(g.OW, (g.W - off + g.SW - 1) / g.SW);
    cols.push_back({off, lo, hi});
  }
  return cols;
}

namespace {

template <typename F>
void for_window_column(const PoolGeometry& g, const float* irow, const WindowColumns& wc, F f) {
  const auto [off, lo, hi] = wc;
  const float* src = irow + off;
  if (g.SW == 1) {
    for (int64_t ow = lo; ow < hi; ++ow) f(ow, src[ow]);
  } else if (g.SW == 2) {
    for (int64_t ow = lo; ow < hi; ++ow) f(ow, src[2 * ow]);
  } else {
    for (int64_t ow = lo; ow < hi; ++ow) f(ow, src[ow * g.SW]);
  }
}

typedef float V4 __attribute__((vector_size(16)));
typedef float V16 __attribute__((vector_size(64)));
inline V4 even_lanes(V4 a, V4 b) {
  return __builtin_shufflevector(a, b, 0, 2, 4, 6);
}
inline V16 even_lanes(V16 a, V16 b) {
  return __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
}

// max_into_row's columns [ow, hi) in vectors of V, as far as whole vectors go; advances ow.
template <class V>
void max_into_row_vectors(float* orow, const float* src, int64_t SW, int64_t& ow, int64_t hi) {
  constexpr int64_t L = sizeof(V) / sizeof(float);
  if (SW == 1) {
    for (; ow + L <= hi; ow += L)
      store_unaligned(orow + ow, clamp_below(load_unaligned<V>(orow + ow), load_unaligned<V>(src + ow)));
  } else if (SW == 2) {
    for (; ow + L < hi; ow += L) {  // reads src[2 * ow + 2L - 1]: not past the last column read, 2 * (hi - 1)
      const V a = load_unaligned<V>(src + 2 * ow), b = load_unaligned<V>(src + 2 * ow + L);
      store_unaligned(orow + ow, clamp_below(load_unaligned<V>(orow + ow), even_lanes(a, b)));
    }
  }
}

}  // namespace

// Strides 1 and 2 run 16 columns at a time under AVX-512 (a stride-2 pair is one
// permute), then 4 (in wasm one pmax per 4; the compiler's own choice, f32x4.max with
// IEEE NaN rules, costs ~8 instructions in V8).
void max_into_row(float* orow, const float* src, int64_t SW, int64_t lo, int64_t hi) {
  int64_t ow = lo;
#if defined(__AVX512F__)
  max_into_row_vectors<V16>(orow, src, SW, ow, hi);
#endif
  max_into_row_vectors<V4>(orow, src, SW, ow, hi);
  for (; ow < hi; ++ow) orow[ow] = std::max(orow[ow], src[ow * SW]);
}

namespace {

template <typename Fn>
void for_each_plane(const PoolGeometry& g, const Tensor& in, Tensor& out, ThreadPool& pool, Fn&& fn) {
  const float* x = in.f32().data();
  float* y = out.f32().data();
  int64_t grain = std::max<int64_t>(1, 65536 / std::max<int64_t>(1, g.OH * g.OW * g.KH * g.KW));
  parallel_range(pool, g.planes, grain, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) fn(x + p * g.H * g.W, y + p * g.OH * g.OW);
  });
}

std::unique_ptr<Kernel> make_maxpool(const KernelInit& k) {
  check(k.outputs.size() < 2 || !k.outputs[1], k.node, "MaxPool's Indices output is not supported");
  check(k.inputs[0]->dtype == DType::Float32, k.node, "only float32 MaxPool is supported");
  PoolGeometry g = pool_geometry(k);
  return make_fn([g, cols = all_window_columns(g)](const std::vector<const Tensor*>& in,
                                                   const std::vector<Tensor*>& out, ThreadPool& pool) {
    for_each_plane(g, *in[0], *out[0], pool, [&](const float* xp, float* yp) {
      // Separable (a max is exact in any order): per output row the max of its window's
      // input rows (one pass per kh), then per window column kw that row's max into the
      // valid output range.
      thread_local std::vector<float> column_max;
      column_max.resize(size_t(g.W));
      for (int64_t oh = 0; oh < g.OH; ++oh)
        max_pool_row(
            g, cols, [xp, &g](int64_t ih) { return xp + ih * g.W; }, oh, column_max.data(), yp + oh * g.OW);
    });
  });
}

std::unique_ptr<Kernel> make_avgpool(const KernelInit& k) {
  check(k.inputs[0]->dtype == DType::Float32, k.node, "only float32 AveragePool is supported");
  PoolGeometry g = pool_geometry(k);
  bool include_pad = k.node.attr_int("count_include_pad", 0) != 0;
  // Valid window taps per output row / column, and the divisor per output. The sums run
  // row-wise (tap (kh, kw) added to a whole output row of double accumulators, kh-major,
  // so each output's taps are added in the order of a per-window loop).
  auto axis_range = [](int64_t o, int64_t S, int64_t P, int64_t K, int64_t D, int64_t in, int64_t pe, int64_t& count,
                       int64_t& window) {
    int64_t s = o * S - P, e = std::min(s + (K - 1) * D + 1, in + pe);
    window = (e - s + D - 1) / D;
    count = 0;
    for (int64_t i = s; i < e; i += D) count += i >= 0 && i < in ? 1 : 0;
  };
  std::vector<int64_t> rows_valid(g.OH), rows_window(g.OH), cols_valid(g.OW), cols_window(g.OW);
  for (int64_t oh = 0; oh < g.OH; ++oh)
    axis_range(oh, g.SH, g.PT, g.KH, g.DH, g.H, g.PB, rows_valid[oh], rows_window[oh]);
  for (int64_t ow = 0; ow < g.OW; ++ow)
    axis_range(ow, g.SW, g.PL, g.KW, g.DW, g.W, g.PR, cols_valid[ow], cols_window[ow]);
  // Divisor per output as a double, +inf for an empty window (its sum 0 gives 0): one
  // vectorised division per output row.
  std::vector<double> divisor(size_t(g.OH * g.OW));
  for (int64_t oh = 0; oh < g.OH; ++oh)
    for (int64_t ow = 0; ow < g.OW; ++ow) {
      int64_t div = include_pad ? rows_window[oh] * cols_window[ow] : rows_valid[oh] * cols_valid[ow];
      divisor[size_t(oh * g.OW + ow)] = div > 0 ? double(div) : INFINITY;
    }
  return make_fn([g, divisor, cols = all_window_columns(g)](const std::vector<const Tensor*>& in,
                                                            const std::vector<Tensor*>& out, ThreadPool& pool) {
    for_each_plane(g, *in[0], *out[0], pool, [&](const float* xp, float* yp) {
      thread_local std::vector<double> acc;
      if (acc.size() < size_t(g.OW)) acc.resize(size_t(g.OW));
      double* a = acc.data();
      for (int64_t oh = 0; oh < g.OH; ++oh) {
        std::fill_n(a, g.OW, 0.0);
        int64_t hs = oh * g.SH - g.PT, he = std::min(hs + (g.KH - 1) * g.DH + 1, g.H + g.PB);
        for (int64_t ih = hs; ih < he; ih += g.DH) {
          if (ih < 0 || ih >= g.H) continue;
          const float* irow = xp + ih * g.W;
          for (int64_t kw = 0; kw < g.KW; ++kw)
            for_window_column(g, irow, cols[size_t(kw)], [a](int64_t ow, float v) { a[ow] += double(v); });
        }
        float* orow = yp + oh * g.OW;
        const double* d = divisor.data() + oh * g.OW;
        for (int64_t ow = 0; ow < g.OW; ++ow) orow[ow] = float(a[ow] / d[ow]);
      }
    });
  });
}

std::unique_ptr<Kernel> make_global_pool(const KernelInit& k, bool is_max) {
  const Shape& x = k.in_shape(0);
  check(x.size() >= 2 && k.inputs[0]->dtype == DType::Float32, k.node, "expected a float32 [N, C, ...] input");
  int64_t planes = x[0] * x[1], size = 1;
  for (size_t i = 2; i < x.size(); ++i) size *= x[i];
  return make_fn([=](const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) {
    const float* xp = in[0]->f32().data();
    float* y = out[0]->f32().data();
    parallel_range(pool, planes, std::max<int64_t>(1, 65536 / std::max<int64_t>(size, 1)), [&](int64_t b, int64_t e) {
      for (int64_t p = b; p < e; ++p) {
        const float* v = xp + p * size;
        if (is_max) {
          float m = -INFINITY;
          for (int64_t i = 0; i < size; ++i) m = std::max(m, v[i]);
          y[p] = m;
        } else {
          // 8 float lanes (vectorizable), combined in double.
          float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
          int64_t i = 0;
          for (; i + 8 <= size; i += 8)
            for (int l = 0; l < 8; ++l) lane[l] += v[i + l];
          double s = 0;
          for (int l = 0; l < 8; ++l) s += lane[l];
          for (; i < size; ++i) s += v[i];
          y[p] = float(s / double(size));
        }
      }
    });
  });
}

enum class Red { Mean, Sum, Max, Min, Prod, L1, L2, SumSquare, LogSumExp };

std::unique_ptr<Kernel> make_reduce(const KernelInit& k, Red op) {
  const Node& n = k.node;
  const Shape& x = k.in_shape(0);
  check(k.inputs[0]->dtype == DType::Float32, n, "only float32 reductions are supported");
  std::vector<int64_t> axes = n.attr_ints("axes");
  bool axes_input = k.opset >= 18 || (n.op_type == "ReduceSum" && k.opset >= 13);
  if (axes_input && k.has_input(1)) {
    const Tensor* a = k.constant(1);
    check(a != nullptr, n, "axes must be a constant");
    axes = a->to_i64();
  }
  bool noop = n.attr_int("noop_with_empty_axes", 0) != 0;
  std::vector<bool> reduced(x.size(), false);
  if (axes.empty()) {
    if (!noop) reduced.assign(x.size(), true);
  } else {
    for (int64_t a : axes) reduced[norm_axis(a, int64_t(x.size()), n)] = true;
  }
  // Offsets: the output element's base offset and the reduced sub-offsets.
  auto st = row_strides(x);
  std::vector<int64_t> base{0}, sub{0};
  for (size_t d = 0; d < x.size(); ++d) {
    auto& v = reduced[d] ? sub : base;
    std::vector<int64_t> next;
    next.reserve(v.size() * x[d]);
    for (int64_t o : v)
      for (int64_t i = 0; i < x[d]; ++i) next.push_back(o + i * st[d]);
    v = std::move(next);
  }
  return make_fn([=](const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) {
    const float* xp = in[0]->f32().data();
    float* y = out[0]->f32().data();
    int64_t count = int64_t(sub.size());
    parallel_range(pool, int64_t(base.size()), std::max<int64_t>(1, 16384 / std::max<int64_t>(count, 1)),
                   [&](int64_t b, int64_t e) {
                     for (int64_t o = b; o < e; ++o) {
                       const float* v = xp + base[o];
                       double acc;
                       switch (op) {
                         case Red::Max: {
                           float m = -INFINITY;
                           for (int64_t s : sub) m = std::max(m, v[s]);
                           acc = m;
                           break;
                         }
                         case Red::Min: {
                           float m = INFINITY;
                           for (int64_t s : sub) m = std::min(m, v[s]);
                           acc = m;
                           break;
                         }
                         case Red::Prod:
                           acc = 1;
                           for (int64_t s : sub) acc *= v[s];
                           break;
                         case Red::L1:
                           acc = 0;
                           for (int64_t s : sub) acc += std::fabs(v[s]);
                           break;
                         case Red::L2:
                         case Red::SumSquare:
                           acc = 0;
                           for (int64_t s : sub) acc += double(v[s]) * v[s];
                           if (op == Red::L2) acc = std::sqrt(acc);
                           break;
                         case Red::LogSumExp: {
                           double m = -INFINITY;
                           for (int64_t s : sub) m = std::max(m, double(v[s]));
                           acc = 0;
                           for (int64_t s : sub) acc += std::exp(v[s] - m);
                           acc = m + std::log(acc);
                           break;
                         }
                         default:
                           acc = 0;
                           for (int64_t s : sub) acc += v[s];
                           if (op == Red::Mean) acc /= double(count);
                       }
                       y[o] = float(acc);
                     }
                   });
  });
}

}  // namespace

void register_pool_kernels(KernelRegistry& r) {
  r["MaxPool"] = make_maxpool;
  r["AveragePool"] = make_avgpool;
  r["GlobalAveragePool"] = [](const KernelInit& k) { return make_global_pool(k, false); };
  r["GlobalMaxPool"] = [](const KernelInit& k) { return make_global_pool(k, true); };
  const std::pair<const char*, Red> reds[] = {{"ReduceMean", Red::Mean},
                                              {"ReduceSum", Red::Sum},
                                              {"ReduceMax", Red::Max},
                                              {"ReduceMin", Red::Min},
                                              {"ReduceProd", Red::Prod},
                                              {"ReduceL1", Red::L1},
                                              {"ReduceL2", Red::L2},
                                              {"ReduceSumSquare", Red::SumSquare},
                                              {"ReduceLogSumExp", Red::LogSumExp}};
  for (auto [name, op] : reds) r[name] = [op = op](const KernelInit& k) { return make_reduce(k, op); };
}

}  // namespace mixq::exec
