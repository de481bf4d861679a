// Conv and ConvTranspose (1-D and 2-D, NCHW, groups, dilations, pads, auto_pad).
//
// [SECTIONS]
//   ConvGeometry        attributes -> sizes and pads
//   Conv                depthwise direct path; GEMM path (1x1 = direct GEMM, else im2col
//                       per column block) with bias fused; tasks = (batch, group, column
//                       block, channel block), fixed by shape only (deterministic)
//   ConvTranspose       GEMM (W^T X) then col2im per output channel
#include <Eigen/Core>
#include <algorithm>
#include <cstring>

#include "mixq/exec/kernel.h"

namespace mixq::exec {
namespace {

using MatCM = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
using MapC = Eigen::Map<const MatCM, 0, Eigen::OuterStride<>>;
using MapM = Eigen::Map<MatCM, 0, Eigen::OuterStride<>>;

// ---------------------------------------------------------------------------------------
// [ConvGeometry]
struct ConvGeometry {
  int64_t N = 1, C = 1, H = 1, W = 1;    // input
  int64_t M = 1, G = 1, Cg = 1, Mg = 1;  // output channels, groups, per group
  int64_t KH = 1, KW = 1, SH = 1, SW = 1, DH = 1, DW = 1;
  int64_t PT = 0, PL = 0;                // leading pads
  int64_t OH = 1, OW = 1;
};

std::vector<int64_t> spatial_attr(const Node& n, const char* key, size_t rank, int64_t fallback) {
  auto v = n.attr_ints(key, std::vector<int64_t>(rank, fallback));
  check(v.size() == rank, n, std::string("attribute ") + key + " has " + std::to_string(v.size()) +
                                 " values, expected " + std::to_string(rank));
  return v;
}

// in: [N, C, spatial...]; w: the weight shape; out: the inferred output shape.
ConvGeometry conv_geometry(const KernelInit& k, bool transpose) {
  const Node& n = k.node;
  const Shape& x = k.in_shape(0);
  const Shape& w = k.in_shape(1);
  const Shape& y = k.out_shape(0);
  check(x.size() == 3 || x.size() == 4, n, "only 1-D and 2-D convolutions are supported, input is " + shape_str(x));
  check(w.size() == x.size(), n, "weight rank differs from input rank");
  size_t rank = x.size() - 2;
  ConvGeometry g;
  g.N = x[0];
  g.C = x[1];
  g.G = n.attr_int("group", 1);
  check(g.G >= 1 && g.C % g.G == 0, n, "group does not divide the input channels");
  g.M = y[1];
  check(g.M % g.G == 0, n, "group does not divide the output channels");
  g.Cg = g.C / g.G;
  g.Mg = g.M / g.G;
  auto strides = spatial_attr(n, "strides", rank, 1);
  auto dil = spatial_attr(n, "dilations", rank, 1);
  auto pads = n.attr_ints("pads", std::vector<int64_t>(2 * rank, 0));
  check(pads.size() == 2 * rank, n, "attribute pads must have 2 x spatial rank values");
  std::string auto_pad = n.attr_string("auto_pad", "NOTSET");
  std::vector<int64_t> in_sp(x.begin() + 2, x.end()), out_sp(y.begin() + 2, y.end()), k_sp(w.begin() + 2, w.end());
  std::vector<int64_t> begin(rank);
  auto out_pad = spatial_attr(n, "output_padding", rank, 0);
  for (size_t i = 0; i < rank; ++i) {
    int64_t ke = (k_sp[i] - 1) * dil[i] + 1;
    if (!transpose) {
      if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
        int64_t total = std::max<int64_t>(0, (out_sp[i] - 1) * strides[i] + ke - in_sp[i]);
        begin[i] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      } else if (auto_pad == "VALID") {
        begin[i] = 0;
      } else {
        begin[i] = pads[i];
      }
    } else {
      if (n.has_attr("output_shape") || auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
        int64_t total = strides[i] * (in_sp[i] - 1) + out_pad[i] + ke - out_sp[i];
        begin[i] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      } else if (auto_pad == "VALID") {
        begin[i] = 0;
      } else {
        begin[i] = pads[i];
      }
    }
  }
  if (rank == 2) {
    g.H = in_sp[0], g.W = in_sp[1], g.KH = k_sp[0], g.KW = k_sp[1], g.SH = strides[0], g.SW = strides[1];
    g.DH = dil[0], g.DW = dil[1], g.PT = begin[0], g.PL = begin[1], g.OH = out_sp[0], g.OW = out_sp[1];
  } else {
    g.W = in_sp[0], g.KW = k_sp[0], g.SW = strides[0], g.DW = dil[0], g.PL = begin[0], g.OW = out_sp[0];
  }
  return g;
}

// ---------------------------------------------------------------------------------------
// [Conv]

// Writes the im2col rows for columns [p0, p0+nb) of one (batch, group) into buf
// (row-major [Cg*KH*KW, nb]).
void im2col_block(const ConvGeometry& g, const float* in, int64_t p0, int64_t nb, float* buf) {
  int64_t row = 0;
  for (int64_t c = 0; c < g.Cg; ++c) {
    const float* plane = in + c * g.H * g.W;
    for (int64_t kh = 0; kh < g.KH; ++kh) {
      for (int64_t kw = 0; kw < g.KW; ++kw, ++row) {
        float* dst = buf + row * nb;
        int64_t p = p0, end = p0 + nb;
        while (p < end) {
          int64_t oh = p / g.OW, ow0 = p % g.OW;
          int64_t run = std::min(end - p, g.OW - ow0);
          int64_t ih = oh * g.SH - g.PT + kh * g.DH;
          if (ih < 0 || ih >= g.H) {
            std::memset(dst, 0, run * sizeof(float));
          } else {
            const float* src = plane + ih * g.W;
            int64_t off = kw * g.DW - g.PL;
            if (g.SW == 1) {
              // valid ow: 0 <= ow + off < W
              int64_t lo = std::clamp<int64_t>(-off, ow0, ow0 + run), hi = std::clamp<int64_t>(g.W - off, ow0, ow0 + run);
              if (hi < lo) hi = lo;
              for (int64_t ow = ow0; ow < lo; ++ow) dst[ow - ow0] = 0;
              if (hi > lo) std::memcpy(dst + (lo - ow0), src + lo + off, (hi - lo) * sizeof(float));
              for (int64_t ow = hi; ow < ow0 + run; ++ow) dst[ow - ow0] = 0;
            } else {
              for (int64_t j = 0; j < run; ++j) {
                int64_t iw = (ow0 + j) * g.SW + off;
                dst[j] = (iw >= 0 && iw < g.W) ? src[iw] : 0.f;
              }
            }
          }
          dst += run;
          p += run;
        }
      }
    }
  }
}

// Depthwise (one input and one output channel per group): direct loops over one plane.
void depthwise_plane(const ConvGeometry& g, const float* in, const float* w, float bias, float* out) {
  for (int64_t oh = 0; oh < g.OH; ++oh) {
    float* orow = out + oh * g.OW;
    for (int64_t ow = 0; ow < g.OW; ++ow) orow[ow] = bias;
    for (int64_t kh = 0; kh < g.KH; ++kh) {
      int64_t ih = oh * g.SH - g.PT + kh * g.DH;
      if (ih < 0 || ih >= g.H) continue;
      const float* irow = in + ih * g.W;
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        float wv = w[kh * g.KW + kw];
        int64_t off = kw * g.DW - g.PL;
        // valid ow: 0 <= ow*SW + off < W
        int64_t lo = off >= 0 ? 0 : (-off + g.SW - 1) / g.SW;
        int64_t hi = g.W - off <= 0 ? 0 : std::min<int64_t>(g.OW, (g.W - off + g.SW - 1) / g.SW);
        if (g.SW == 1) {
          const float* src = irow + off;
          for (int64_t ow = lo; ow < hi; ++ow) orow[ow] += wv * src[ow];
        } else if (g.SW == 2) {
          const float* src = irow + off;
          for (int64_t ow = lo; ow < hi; ++ow) orow[ow] += wv * src[2 * ow];
        } else {
          for (int64_t ow = lo; ow < hi; ++ow) orow[ow] += wv * irow[ow * g.SW + off];
        }
      }
    }
  }
}

class ConvKernel : public Kernel {
 public:
  explicit ConvKernel(const KernelInit& k) : g_(conv_geometry(k, false)) {
    const Node& n = k.node;
    check(k.inputs[0]->dtype == DType::Float32, n, "only float32 Conv is supported");
    const Shape& w = k.in_shape(1);
    check(w[0] == g_.M && w[1] == g_.Cg, n, "weight shape " + shape_str(w) + " does not match the input channels");
    K_ = g_.Cg * g_.KH * g_.KW;
    depthwise_ = g_.Cg == 1 && g_.Mg == 1;
    pointwise_ = g_.KH == 1 && g_.KW == 1 && g_.SH == 1 && g_.SW == 1 && g_.PT == 0 && g_.PL == 0 &&
                 g_.OH == g_.H && g_.OW == g_.W;
    int64_t P = g_.OH * g_.OW;
    // Column block: keep the im2col block near 512 KB; multiple of 16.
    nb_ = std::clamp<int64_t>((131072 / std::max<int64_t>(K_, 1)) / 16 * 16, 64, 4096);
    if (pointwise_) nb_ = std::max<int64_t>(nb_, 256);
    nb_ = std::min(nb_, P);
    col_blocks_ = (P + nb_ - 1) / nb_;
    // Split output channels when there are few column blocks (small maps, many channels).
    mb_ = g_.Mg;
    int64_t tasks = g_.N * g_.G * col_blocks_;
    if (tasks < 8 && g_.Mg >= 64) mb_ = std::max<int64_t>(32, ((g_.Mg + 3) / 4 + 15) / 16 * 16);
    m_blocks_ = (g_.Mg + mb_ - 1) / mb_;
  }
  int64_t macs() const override { return g_.N * g_.M * g_.OH * g_.OW * K_; }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    const float* x = in[0]->f32().data();
    const float* w = in[1]->f32().data();
    const float* b = in.size() > 2 && in[2] ? in[2]->f32().data() : nullptr;
    float* y = out[0]->f32().data();
    const ConvGeometry& g = g_;
    int64_t P = g.OH * g.OW, HW = g.H * g.W;
    if (depthwise_) {
      int64_t planes = g.N * g.C;
      pool.parallel_for(planes, [&](int64_t i) {
        int64_t c = i % g.C;
        depthwise_plane(g, x + i * HW, w + c * g.KH * g.KW, b ? b[c] : 0.f, y + i * P);
      });
      return;
    }
    int64_t tasks = g.N * g.G * col_blocks_ * m_blocks_;
    pool.parallel_for(tasks, [&](int64_t t) {
      int64_t mblk = t % m_blocks_;
      int64_t cb = (t / m_blocks_) % col_blocks_;
      int64_t ng = t / (m_blocks_ * col_blocks_);
      int64_t n = ng / g.G, gi = ng % g.G;
      int64_t p0 = cb * nb_, nb = std::min(nb_, P - p0);
      int64_t m0 = mblk * mb_, mc = std::min(mb_, g.Mg - m0);
      const float* xin = x + (n * g.C + gi * g.Cg) * HW;
      MapC wmat(w + (gi * g.Mg + m0) * K_, K_, mc, Eigen::OuterStride<>(K_));
      float* ybase = y + (n * g.M + gi * g.Mg + m0) * P + p0;
      MapM ymat(ybase, nb, mc, Eigen::OuterStride<>(P));
      if (pointwise_) {
        MapC xmat(xin + p0, nb, K_, Eigen::OuterStride<>(HW));
        ymat.noalias() = xmat * wmat;
      } else {
        thread_local std::vector<float> buf;
        if (buf.size() < size_t(K_ * nb)) buf.resize(K_ * nb);
        im2col_block(g, xin, p0, nb, buf.data());
        MapC cmat(buf.data(), nb, K_, Eigen::OuterStride<>(nb));
        ymat.noalias() = cmat * wmat;
      }
      if (b) {
        const float* bb = b + gi * g.Mg + m0;
        for (int64_t m = 0; m < mc; ++m) {
          float bv = bb[m];
          float* col = ybase + m * P;
          for (int64_t j = 0; j < nb; ++j) col[j] += bv;
        }
      }
    });
  }

 private:
  ConvGeometry g_;
  int64_t K_ = 0, nb_ = 0, col_blocks_ = 0, mb_ = 0, m_blocks_ = 0;
  bool depthwise_ = false, pointwise_ = false;
};

// ---------------------------------------------------------------------------------------
// [ConvTranspose]
class ConvTransposeKernel : public Kernel {
 public:
  explicit ConvTransposeKernel(const KernelInit& k) : g_(conv_geometry(k, true)) {
    const Node& n = k.node;
    check(k.inputs[0]->dtype == DType::Float32, n, "only float32 ConvTranspose is supported");
    const Shape& w = k.in_shape(1);
    // ConvTranspose weight: [C, M/group, kH, kW]
    check(w[0] == g_.C && w[1] * g_.G == g_.M, n, "weight shape " + shape_str(w) + " does not match the channels");
  }
  int64_t macs() const override { return g_.N * g_.C * g_.H * g_.W * g_.Mg * g_.KH * g_.KW; }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    const ConvGeometry& g = g_;
    const float* x = in[0]->f32().data();
    const float* w = in[1]->f32().data();
    const float* b = in.size() > 2 && in[2] ? in[2]->f32().data() : nullptr;
    float* y = out[0]->f32().data();
    int64_t HW = g.H * g.W, R = g.Mg * g.KH * g.KW, P = g.OH * g.OW;
    std::vector<float> col(size_t(R * HW));
    for (int64_t n = 0; n < g.N; ++n) {
      for (int64_t gi = 0; gi < g.G; ++gi) {
        const float* xg = x + (n * g.C + gi * g.Cg) * HW;
        const float* wg = w + gi * g.Cg * R;
        // col (row-major [R, HW]) = col-major [HW x R] = X^T (HW x Cg) * Wg (Cg x R)
        constexpr int64_t kRB = 64;
        parallel_range(pool, R, kRB, [&](int64_t r0, int64_t r1) {
          MapC xm(xg, HW, g.Cg, Eigen::OuterStride<>(HW));
          MapC wm(wg + r0, r1 - r0, g.Cg, Eigen::OuterStride<>(R));
          MapM cm(col.data() + r0 * HW, HW, r1 - r0, Eigen::OuterStride<>(HW));
          cm.noalias() = xm * wm.transpose();
        });
        pool.parallel_for(g.Mg, [&](int64_t m) {
          float* plane = y + (n * g.M + gi * g.Mg + m) * P;
          float bv = b ? b[gi * g.Mg + m] : 0.f;
          for (int64_t i = 0; i < P; ++i) plane[i] = bv;
          for (int64_t kh = 0; kh < g.KH; ++kh) {
            for (int64_t kw = 0; kw < g.KW; ++kw) {
              const float* c = col.data() + ((m * g.KH + kh) * g.KW + kw) * HW;
              for (int64_t h = 0; h < g.H; ++h) {
                int64_t oh = h * g.SH - g.PT + kh * g.DH;
                if (oh < 0 || oh >= g.OH) continue;
                float* orow = plane + oh * g.OW;
                const float* crow = c + h * g.W;
                for (int64_t wi = 0; wi < g.W; ++wi) {
                  int64_t ow = wi * g.SW - g.PL + kw * g.DW;
                  if (ow >= 0 && ow < g.OW) orow[ow] += crow[wi];
                }
              }
            }
          }
        });
      }
    }
  }

 private:
  ConvGeometry g_;
};

}  // namespace

void register_conv_kernels(KernelRegistry& r) {
  r["Conv"] = [](const KernelInit& k) -> std::unique_ptr<Kernel> { return std::make_unique<ConvKernel>(k); };
  r["ConvTranspose"] = [](const KernelInit& k) -> std::unique_ptr<Kernel> {
    return std::make_unique<ConvTransposeKernel>(k);
  };
}

}  // namespace mixq::exec
