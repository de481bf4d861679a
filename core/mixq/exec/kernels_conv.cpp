// Conv and ConvTranspose (1-D and 2-D, NCHW, groups, dilations, pads, auto_pad).
//
// [SECTIONS]
//   ConvGeometry        attributes -> sizes and pads
//   Conv                im2col rows; depthwise direct path (padded, phase-split planes,
//                       flat unit-stride sums; channel-blocked instead, a register of
//                       channels per vector, with 4 lanes and natively for rows
//                       < 128 columns); direct KxK path (the same planes per row block,
//                       tiles of output channels x positions in registers, sized by the
//                       target's vector width);
//                       epilogue stages (BatchNormalization, activations, constant
//                       Add/Sub/Mul/Div, gates v * f(v)); GEMM path (1x1 = direct GEMM,
//                       else im2col per column block) with the epilogue fused; tasks =
//                       (batch, group, column or row block, channel block), fixed by shape
//                       only (deterministic)
//   ConvTranspose       GEMM (W^T X) then col2im per output channel
#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>

#include "mixq/exec/conv_winograd.h"
#include "mixq/exec/kernel.h"
#include "mixq/exec/max_pool.h"
#include "mixq/exec/sgemm.h"
#include "mixq/exec/vec.h"

namespace mixq::exec {
namespace {

// ---------------------------------------------------------------------------------------
// [ConvGeometry]
struct ConvGeometry {
  int64_t N = 1, C = 1, H = 1, W = 1;    // input
  int64_t M = 1, G = 1, Cg = 1, Mg = 1;  // output channels, groups, per group
  int64_t KH = 1, KW = 1, SH = 1, SW = 1, DH = 1, DW = 1;
  int64_t PT = 0, PL = 0;  // leading pads
  int64_t OH = 1, OW = 1;
};

std::vector<int64_t> spatial_attr(const Node& n, const char* key, size_t rank, int64_t fallback) {
  auto v = n.attr_ints(key, std::vector<int64_t>(rank, fallback));
  check(v.size() == rank, n,
        std::string("attribute ") + key + " has " + std::to_string(v.size()) + " values, expected " +
            std::to_string(rank));
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
              int64_t lo = std::clamp<int64_t>(-off, ow0, ow0 + run),
                      hi = std::clamp<int64_t>(g.W - off, ow0, ow0 + run);
              if (hi < lo) hi = lo;
              for (int64_t ow = ow0; ow < lo; ++ow) dst[ow - ow0] = 0;
              if (hi > lo) std::memcpy(dst + (lo - ow0), src + lo + off, (hi - lo) * sizeof(float));
              for (int64_t ow = hi; ow < ow0 + run; ++ow) dst[ow - ow0] = 0;
            } else {
              // valid ow: 0 <= ow * SW + off < W, a strided copy between zero edges
              const int64_t S = g.SW;
              int64_t lo = off >= 0 ? 0 : (-off + S - 1) / S, hi = g.W - off <= 0 ? 0 : (g.W - off + S - 1) / S;
              lo = std::clamp<int64_t>(lo, ow0, ow0 + run);
              hi = std::clamp<int64_t>(hi, lo, ow0 + run);
              for (int64_t ow = ow0; ow < lo; ++ow) dst[ow - ow0] = 0;
              if (S == 2) {
                for (int64_t ow = lo; ow < hi; ++ow) dst[ow - ow0] = src[2 * ow + off];
              } else {
                for (int64_t ow = lo; ow < hi; ++ow) dst[ow - ow0] = src[ow * S + off];
              }
              for (int64_t ow = hi; ow < ow0 + run; ++ow) dst[ow - ow0] = 0;
            }
          }
          dst += run;
          p += run;
        }
      }
    }
  }
}

// Depthwise (one input and one output channel per group). Each plane is first copied into
// a zero-padded buffer holding the rows and columns the taps read (pads included), split
// into SW column phases and SH row phases: padded (row r, column c) is stored at
//   [c % SW][r % SH][r / SH][c / SW]   (dims [SW][SH][Hq][Wq]).
// Then tap (kh, kw) of output (oh, ow) is buf[off[k] + oh * Wq + ow] for a per-tap
// constant off[k], for any stride and dilation: the whole plane is computed as flat
// unit-stride multiply-adds over p = oh * Wq + ow (columns ow >= OW are computed and
// dropped), one tap at a time, in blocks that stay in L1. Vectors are the target's
// registers (VecReg); loads and stores are unaligned.

// Depthwise sums per register chunk: 4 natively (4 x 16 positions under AVX-512), 8 of 4
// lanes in wasm (fits its 15 SIMD registers with the load and the weight).
constexpr int kDwVectors = kRegisterLanes == 4 ? 8 : 4;
constexpr int64_t kDwChunk = kDwVectors * kRegisterLanes;  // depthwise positions per register chunk

struct DepthwisePlan {
  int64_t Hq = 0, Wq = 0;    // rows per row phase; columns per column phase
  int64_t buf_size = 0;      // floats, slack for the dropped columns included
  std::vector<int64_t> off;  // per tap (kh, kw), row-major over the kernel
};

DepthwisePlan depthwise_plan(const ConvGeometry& g) {
  DepthwisePlan d;
  int64_t Hp = (g.OH - 1) * g.SH + (g.KH - 1) * g.DH + 1;
  int64_t Wp = (g.OW - 1) * g.SW + (g.KW - 1) * g.DW + 1;
  d.Hq = (Hp + g.SH - 1) / g.SH;
  d.Wq = (Wp + g.SW - 1) / g.SW;
  int64_t max_off = 0;
  for (int64_t kh = 0; kh < g.KH; ++kh)
    for (int64_t kw = 0; kw < g.KW; ++kw) {
      int64_t r = kh * g.DH, c = kw * g.DW;
      d.off.push_back(((c % g.SW * g.SH + r % g.SH) * d.Hq + r / g.SH) * d.Wq + c / g.SW);
      max_off = std::max(max_off, d.off.back());
    }
  d.buf_size = std::max(g.SW * g.SH * d.Hq * d.Wq, max_off + g.OH * d.Wq + kDwChunk);  // slack: last chunk
  return d;
}

// Copies the input rows of padded rows [row0, row0 + SH * d.Hq) of one plane into buf
// (buf_size floats, zeros everywhere else), phase-split as described above.
void pad_rows(const ConvGeometry& g, const DepthwisePlan& d, const float* in, int64_t row0, float* buf,
              int64_t buf_size) {
  const int64_t S = g.SW, Wq = d.Wq, rows = d.Hq * g.SH, used = S * rows * Wq;
  // Narrow rows: one memset of the whole buffer beats a few tiny ones per row.
  const bool zero_all = Wq < 64;
  if (zero_all) std::memset(buf, 0, buf_size * sizeof(float));
  for (int64_t ph = 0; ph < S; ++ph) {
    // column c = q * S + ph reads iw = c - PL; valid for l <= q < h
    const int64_t first = ph - g.PL;  // iw at q = 0
    const int64_t l = std::min(first >= 0 ? 0 : (-first + S - 1) / S, Wq);
    const int64_t h = std::clamp(g.W - first <= 0 ? 0 : (g.W - first + S - 1) / S, l, Wq);
    for (int64_t r = 0, rp = 0, rq = 0; r < rows; ++r, rp = rp + 1 == g.SH ? 0 : rp + 1, rq += rp == 0) {
      float* row = buf + ((ph * g.SH + rp) * d.Hq + rq) * Wq;  // rp = r % SH, rq = r / SH
      const int64_t ih = r + row0 - g.PT;
      if (ih < 0 || ih >= g.H || h == l) {
        if (!zero_all) std::memset(row, 0, Wq * sizeof(float));
        continue;
      }
      const float* src = in + ih * g.W;
      if (!zero_all) std::memset(row, 0, l * sizeof(float));
      if (S == 1) {
        std::memcpy(row + l, src + l + first, (h - l) * sizeof(float));
      } else if (S == 2) {
        for (int64_t q = l; q < h; ++q) row[q] = src[2 * q + first];
      } else {
        for (int64_t q = l; q < h; ++q) row[q] = src[q * S + first];
      }
      if (!zero_all) std::memset(row + h, 0, (Wq - h) * sizeof(float));
    }
  }
  if (!zero_all && buf_size > used) std::memset(buf + used, 0, (buf_size - used) * sizeof(float));
}

// Copies one input plane into buf (d.buf_size floats), zeros everywhere else.
void depthwise_pad(const ConvGeometry& g, const DepthwisePlan& d, const float* in, float* buf) {
  pad_rows(g, d, in, 0, buf, d.buf_size);
}

// Positions [j0, j0 + NV * kRegisterLanes) of the flat run: bias, then the taps in order,
// NV independent sums in registers.
template <int NV>
inline void depthwise_positions(const float* base, const int64_t* off, const float* w, int64_t KK, float bias,
                                int64_t j0, float* a) {
  constexpr int64_t L = kRegisterLanes;
  VecReg r[NV];
  for (int v = 0; v < NV; ++v) r[v] = VecReg{} + bias;
  for (int64_t k = 0; k < KK; ++k) {
    const float* src = base + off[k] + j0;
    const float wv = w[k];
    for (int v = 0; v < NV; ++v) r[v] += wv * load_unaligned<VecReg>(src + v * L);
  }
  for (int v = 0; v < NV; ++v) store_unaligned(a + j0 + v * L, r[v]);
}

void depthwise_plane(const ConvGeometry& g, const DepthwisePlan& d, const float* in, const float* w, float bias,
                     float* out) {
  thread_local std::vector<float> padded, acc;
  if (padded.size() < size_t(d.buf_size)) padded.resize(d.buf_size);
  // accumulator blocks of whole output rows (~4 KB), plus a chunk of slack
  const int64_t block_rows = std::max<int64_t>(1, 1024 / d.Wq), block = block_rows * d.Wq;
  if (acc.size() < size_t(block + kDwChunk)) acc.resize(size_t(block + kDwChunk));
  depthwise_pad(g, d, in, padded.data());
  const int64_t KK = int64_t(d.off.size());
  for (int64_t oh0 = 0; oh0 < g.OH; oh0 += block_rows) {
    const int64_t rows = std::min(block_rows, g.OH - oh0), n = rows * d.Wq;
    const float* base = padded.data() + oh0 * d.Wq;
    // kDwVectors independent sums held in registers over all taps, then single vectors;
    // the last runs past n into the buffer's slack (dropped). Every position sums its
    // taps in the same order on either path.
    int64_t j0 = 0;
    for (; j0 + kDwChunk <= n; j0 += kDwChunk)
      depthwise_positions<kDwVectors>(base, d.off.data(), w, KK, bias, j0, acc.data());
    for (; j0 < n; j0 += kRegisterLanes) depthwise_positions<1>(base, d.off.data(), w, KK, bias, j0, acc.data());
    // the block's valid columns to the output rows
    for (int64_t r = 0; r < rows; ++r) std::memcpy(out + (oh0 + r) * g.OW, acc.data() + r * d.Wq, g.OW * sizeof(float));
  }
}

// Depthwise, channel-blocked: for narrow output rows the planar path above computes whole
// vectors mostly past the row ends (an 11-wide row uses 11 of 16 lanes), and small planes
// cost their per-plane setup. Here kRegisterLanes (L) channels are interleaved instead,
// one channel per lane: L x L transposes copy the block's planes into a zero-bordered
// [Hp][Wp] buffer of channel vectors, every output position is one vector of all channels
// (bias, then the taps in (kh, kw) order: the planar path's order, so both give the same
// bits), and transposes copy the results back to planes. Any stride and dilation;
// `lanes` <= L channels (the rest zero).
constexpr int64_t kDwLanes = kRegisterLanes;

// v[j][i] <- v[i][j] for L = 16, 8 or 4: log2(L) rounds of the perfect shuffle (v[2i],
// v[2i+1]) <- the lanes of v[i] and v[i + L/2] interleaved.
template <class V>
inline void transpose_lanes(V* v) {
  constexpr int L = sizeof(V) / sizeof(float), H = L / 2;
  static_assert(L == 16 || L == 8 || L == 4, "transposes for 16, 8 and 4 lanes");
  for (int round = 0; round < (L == 16 ? 4 : L == 8 ? 3 : 2); ++round) {
    V t[L];
    for (int i = 0; i < H; ++i) {
      if constexpr (L == 16) {
        t[2 * i] = __builtin_shufflevector(v[i], v[i + H], 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        t[2 * i + 1] =
            __builtin_shufflevector(v[i], v[i + H], 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
      } else if constexpr (L == 8) {
        t[2 * i] = __builtin_shufflevector(v[i], v[i + H], 0, 8, 1, 9, 2, 10, 3, 11);
        t[2 * i + 1] = __builtin_shufflevector(v[i], v[i + H], 4, 12, 5, 13, 6, 14, 7, 15);
      } else {
        t[2 * i] = __builtin_shufflevector(v[i], v[i + H], 0, 4, 1, 5);
        t[2 * i + 1] = __builtin_shufflevector(v[i], v[i + H], 2, 6, 3, 7);
      }
    }
    for (int i = 0; i < L; ++i) v[i] = t[i];
  }
}

// Loads positions [p0, p0 + L) of `lanes` planes (plane stride `stride`; planes past
// `lanes` read as zeros) as L channel vectors.
inline void load_transposed(const float* planes, int64_t stride, int64_t lanes, int64_t p0, VecReg* v) {
  for (int l = 0; l < kDwLanes; ++l) v[l] = l < lanes ? load_unaligned<VecReg>(planes + l * stride + p0) : VecReg{};
  transpose_lanes(v);
}

// The outputs of depthwise_blocked: out[oh * OW + ow] = bias + the taps of buf in (kh, kw)
// order. KW > 0: stride and dilation 1 along the width with KW columns, where outputs ow
// .. ow + kDwBlock - 1 share their input vectors (each loaded once per kernel row); KW = 0:
// any width stride, dilation and kernel.
constexpr int kDwBlock = 8;
template <int KW>
void depthwise_blocked_rows(const ConvGeometry& g, const VecReg* buf, int64_t Wp, const VecReg* wv, VecReg bv,
                            VecReg* out) {
  const int64_t SW = g.SW, DW = g.DW, kw_n = KW > 0 ? KW : g.KW;
  for (int64_t oh = 0; oh < g.OH; ++oh) {
    const VecReg* row = buf + oh * g.SH * Wp;
    VecReg* o = out + oh * g.OW;
    int64_t ow = 0;
    for (; ow + kDwBlock <= g.OW; ow += kDwBlock) {
      VecReg a[kDwBlock];
      for (int i = 0; i < kDwBlock; ++i) a[i] = bv;
      for (int64_t kh = 0; kh < g.KH; ++kh) {
        const VecReg* r = row + kh * g.DH * Wp + ow * SW;
        const VecReg* wk = wv + kh * kw_n;
        if constexpr (KW > 0) {
#pragma GCC unroll 8
          for (int kw = 0; kw < KW; ++kw)
#pragma GCC unroll 8
            for (int i = 0; i < kDwBlock; ++i) a[i] += wk[kw] * r[i + kw];
        } else {
          for (int64_t kw = 0; kw < kw_n; ++kw)
            for (int i = 0; i < kDwBlock; ++i) a[i] += wk[kw] * r[i * SW + kw * DW];
        }
      }
      for (int i = 0; i < kDwBlock; ++i) o[ow + i] = a[i];
    }
    for (; ow < g.OW; ++ow) {
      VecReg a = bv;
      for (int64_t kh = 0; kh < g.KH; ++kh)
        for (int64_t kw = 0; kw < kw_n; ++kw) a += wv[kh * kw_n + kw] * row[kh * g.DH * Wp + ow * SW + kw * DW];
      o[ow] = a;
    }
  }
}

void depthwise_blocked(const ConvGeometry& g, const float* x, int64_t lanes, const float* w, const float* bias,
                       float* y) {
  const int64_t Hp = (g.OH - 1) * g.SH + (g.KH - 1) * g.DH + 1, Wp = (g.OW - 1) * g.SW + (g.KW - 1) * g.DW + 1;
  const int64_t KK = g.KH * g.KW, P = g.OH * g.OW, HW = g.H * g.W;
  thread_local std::vector<VecReg> buf, out, wv;
  if (buf.size() < size_t(Hp * Wp)) buf.resize(size_t(Hp * Wp));
  if (out.size() < size_t(P)) out.resize(size_t(P));
  wv.assign(size_t(KK), VecReg{});
  VecReg bv{};
  for (int64_t l = 0; l < lanes; ++l) {
    for (int64_t k = 0; k < KK; ++k) wv[k][l] = w[l * KK + k];
    if (bias) bv[l] = bias[l];
  }
  // The input lands at rows [PT, PT + H) and columns [PL, PL + W), clipped to the buffer;
  // the rest is zero.
  const int64_t r0 = std::min(g.PT, Hp), r1 = std::min(g.PT + g.H, Hp);
  const int64_t c0 = std::min(g.PL, Wp), c1 = std::min(g.PL + g.W, Wp);
  VecReg* bp = buf.data();
  std::fill(bp, bp + r0 * Wp, VecReg{});
  std::fill(bp + r1 * Wp, bp + Hp * Wp, VecReg{});
  for (int64_t r = r0; r < r1; ++r) {
    std::fill(bp + r * Wp, bp + r * Wp + c0, VecReg{});
    std::fill(bp + r * Wp + c1, bp + (r + 1) * Wp, VecReg{});
  }
  // input rows to buffer rows, L positions per transpose; a row's last < L positions
  // (and rows narrower than L) one at a time
  const int64_t rows = r1 - r0, cols = c1 - c0;
  for (int64_t ih = 0; ih < rows; ++ih) {
    const float* src = x + ih * g.W;
    VecReg* dst = bp + (r0 + ih) * Wp + c0;
    int64_t iw = 0;
    for (; iw + kDwLanes <= cols; iw += kDwLanes) {
      VecReg v[kDwLanes];
      load_transposed(src, HW, lanes, iw, v);
      for (int j = 0; j < kDwLanes; ++j) dst[iw + j] = v[j];
    }
    for (; iw < cols; ++iw) {
      VecReg v{};
      for (int64_t l = 0; l < lanes; ++l) v[l] = src[l * HW + iw];
      dst[iw] = v;
    }
  }
  if (g.SW == 1 && g.DW == 1 && g.KW == 3)
    depthwise_blocked_rows<3>(g, bp, Wp, wv.data(), bv, out.data());
  else if (g.SW == 1 && g.DW == 1 && g.KW == 5)
    depthwise_blocked_rows<5>(g, bp, Wp, wv.data(), bv, out.data());
  else
    depthwise_blocked_rows<0>(g, bp, Wp, wv.data(), bv, out.data());
  // back to planes
  const float* of = reinterpret_cast<const float*>(out.data());
  int64_t p0 = 0;
  for (; p0 + kDwLanes <= P; p0 += kDwLanes) {
    VecReg v[kDwLanes];
    for (int64_t j = 0; j < kDwLanes; ++j) v[j] = out[p0 + j];
    transpose_lanes(v);
    for (int64_t l = 0; l < lanes; ++l) store_unaligned(y + l * P + p0, v[l]);
  }
  for (; p0 < P; ++p0)
    for (int64_t l = 0; l < lanes; ++l) y[l * P + p0] = of[p0 * kDwLanes + l];
}

// Direct convolution, for convs where im2col + GEMM copies about as much as it computes
// (few channels: e.g. a 3 -> 16 channel 3x3 stride-2 stem). Output rows are processed in
// blocks of `rows`: the input rows a block reads are copied, per input channel, into the
// padded, phase-split layout of the depthwise path (every tap a unit-stride read at a
// per-tap offset of a flat run over p = oh * Wq + ow); a tile of kDirectMB output
// channels x 2 vectors of positions keeps its sums in registers over all (input channel,
// tap) pairs, in that fixed order. Block sizes depend on the shape only.
// Register tile: kDirectMB output channels x kDirectVectors vectors of positions: 8 x 2
// under AVX-512 (32 registers); 4 x 2 with 16 registers (wasm's 15 usable SIMD registers
// spilled 8 x 2, 6 x 2 and 4 x 3 were slower; AVX2 has 16 too: not tuned, its build
// matches the AVX-512 one's model times within noise).
constexpr int64_t kDirectMB = kRegisterLanes == 16 ? 8 : 4;
constexpr int kDirectVectors = 2;
constexpr int64_t kDirectBudget = 32768;       // floats of channel buffers per row block (128 KB)
constexpr int64_t kDirectMaxBuffer = 1 << 20;  // floats: wider maps x more channels take im2col + GEMM

struct DirectPlan {
  int64_t rows = 1;         // output rows per block
  int64_t blocks = 1;       // row blocks
  DepthwisePlan dw;         // one channel's buffer layout for a block of `rows` rows
  int64_t chan_stride = 0;  // floats per channel buffer
  int64_t span = 0;         // flat positions computed per block (rows * Wq rounded up)
  int64_t m_tiles = 0;      // ceil(Mg / kDirectMB)
};

// min_rows: a row block holds at least this many output rows (a fused MaxPool's window).
DirectPlan direct_plan(const ConvGeometry& g, int64_t min_rows = 1) {
  DirectPlan d;
  int64_t Wp = (g.OW - 1) * g.SW + (g.KW - 1) * g.DW + 1;
  int64_t per_row = g.SH * ((Wp + g.SW - 1) / g.SW) * g.SW;  // buffer floats per output row and channel
  d.rows = std::clamp<int64_t>(kDirectBudget / std::max<int64_t>(1, g.Cg * per_row), 1, g.OH);
  if (g.N * g.G * ((g.OH + d.rows - 1) / d.rows) < 4) d.rows = std::max<int64_t>(1, (g.OH + 3) / 4);  // >= 4 tasks
  d.rows = std::clamp<int64_t>(d.rows, std::min(min_rows, g.OH), g.OH);
  d.blocks = (g.OH + d.rows - 1) / d.rows;
  ConvGeometry b = g;
  b.OH = d.rows;
  d.dw = depthwise_plan(b);
  d.span = (d.rows * d.dw.Wq + kRegisterLanes - 1) / kRegisterLanes * kRegisterLanes;
  int64_t max_off = *std::max_element(d.dw.off.begin(), d.dw.off.end());
  d.chan_stride = std::max(g.SW * g.SH * d.dw.Hq * d.dw.Wq, max_off + d.span);
  d.m_tiles = (g.Mg + kDirectMB - 1) / kDirectMB;
  return d;
}

// out[m * stride + j] = sum over (c, k) of w[c][k][m] * buf[c * cs + off[k] + j] for
// j in [j, j + NV * kRegisterLanes) and m < kDirectMB: the tile's sums in registers.
template <int NV>
inline void direct_positions(const float* buf, int64_t cs, int64_t Cg, const int64_t* off, int64_t KK, const float* w,
                             int64_t j, int64_t stride, float* out) {
  constexpr int64_t MB = kDirectMB, L = kRegisterLanes;
  VecReg a[MB][NV] = {};
  const float* wp = w;
  for (int64_t c = 0; c < Cg; ++c) {
    const float* bc = buf + c * cs + j;
    for (int64_t k = 0; k < KK; ++k, wp += MB) {
      VecReg x[NV];
      for (int v = 0; v < NV; ++v) x[v] = load_unaligned<VecReg>(bc + off[k] + v * L);
      for (int64_t m = 0; m < MB; ++m)
        for (int v = 0; v < NV; ++v) a[m][v] += wp[m] * x[v];
    }
  }
  for (int64_t m = 0; m < MB; ++m)
    for (int v = 0; v < NV; ++v) store_unaligned(out + m * stride + j + v * L, a[m][v]);
}

// direct_positions over j < span (a multiple of kRegisterLanes).
void direct_tile(const float* buf, int64_t cs, int64_t Cg, const int64_t* off, int64_t KK, const float* w, int64_t span,
                 int64_t stride, float* out) {
  constexpr int64_t chunk = kDirectVectors * kRegisterLanes;
  int64_t j = 0;
  for (; j + chunk <= span; j += chunk) direct_positions<kDirectVectors>(buf, cs, Cg, off, KK, w, j, stride, out);
  for (; j < span; j += kRegisterLanes) direct_positions<1>(buf, cs, Cg, off, KK, w, j, stride, out);
}

// The Conv epilogue: bias and a folded BatchNormalization (v * scale + shift, when the
// BatchNormalization comes first), then a list of element-wise stages applied in order
// to each channel's values while they are in cache. Each stage computes exactly what the
// stand-alone kernel computes (same formula, same operand order where it matters), so a
// fused run gives the bytes of the unfused one (the folded BatchNormalization aside).
struct Stage {
  enum class Kind { Add, Sub, Mul, Div, Clamp, Leaky, Sigmoid, HardSigmoid, HardSwish, Affine, Gate };
  Kind kind = Kind::Add;
  std::vector<float> c;   // Add/Sub/Mul/Div: per channel (size channels) or one value; Affine: scale
  std::vector<float> c2;  // Affine: shift
  float lo = -INFINITY, hi = INFINITY, alpha = 0.f, beta = 0.f;
  std::vector<Stage> gate;  // Gate: v = v * (the gate stages applied to a copy of v)
  float at(const std::vector<float>& v, int64_t m) const { return v.size() == 1 ? v[0] : v[size_t(m)]; }
};

struct Epilogue {
  bool active = false;
  std::vector<float> scale, shift;  // leading folded BatchNormalization; empty: none
  std::vector<Stage> stages;
};

// True when `cs` broadcasts to `out` ([N, C, ...]) varying at most along the channel axis.
bool per_channel_shape(const Shape& cs, const Shape& out) {
  if (cs.size() > out.size()) return false;
  size_t lead = out.size() - cs.size();
  for (size_t i = 0; i < cs.size(); ++i) {
    size_t d = lead + i;
    if (cs[i] != 1 && !(d == 1 && cs[i] == out[1])) return false;
  }
  return true;
}

// The stage for `c` reading the running value through input `via`, or false.
bool make_stage(const KernelInit& c, size_t via, const Shape& out, Stage& st) {
  const Node& n = c.node;
  const std::string& op = n.op_type;
  for (const ValueState* o : c.outputs)
    if (o && o != c.outputs[0]) return false;  // extra outputs (e.g. BatchNormalization training)
  if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") {
    if (c.inputs.size() != 2 || via > 1) return false;
    bool commutes = op == "Add" || op == "Mul";
    if (via != 0 && !commutes) return false;
    const Tensor* k = c.constant(1 - via);
    if (!k || k->dtype() != DType::Float32 || !per_channel_shape(k->shape(), out)) return false;
    st.kind = op == "Add"   ? Stage::Kind::Add
              : op == "Sub" ? Stage::Kind::Sub
              : op == "Mul" ? Stage::Kind::Mul
                            : Stage::Kind::Div;
    st.c = k->to_f32();
    return true;
  }
  if (via != 0) return false;
  if (op == "Relu") {
    st.kind = Stage::Kind::Clamp;
    st.lo = 0.f;
  } else if (op == "Clip") {
    st.kind = Stage::Kind::Clamp;
    if (c.opset < 11) {
      st.lo = n.attr_float("min", -INFINITY);
      st.hi = n.attr_float("max", INFINITY);
    } else {
      if ((c.has_input(1) && !c.constant(1)) || (c.has_input(2) && !c.constant(2))) return false;
      st.lo = c.has_input(1) ? c.constant(1)->to_f32().at(0) : -INFINITY;
      st.hi = c.has_input(2) ? c.constant(2)->to_f32().at(0) : INFINITY;
    }
  } else if (op == "LeakyRelu") {
    st.kind = Stage::Kind::Leaky;
    st.alpha = n.attr_float("alpha", 0.01f);
  } else if (op == "Sigmoid") {
    st.kind = Stage::Kind::Sigmoid;
  } else if (op == "HardSigmoid") {
    st.kind = Stage::Kind::HardSigmoid;
    st.alpha = n.attr_float("alpha", 0.2f);
    st.beta = n.attr_float("beta", 0.5f);
  } else if (op == "HardSwish") {
    st.kind = Stage::Kind::HardSwish;
  } else if (op == "BatchNormalization") {
    int64_t channels = out.size() > 1 ? out[1] : 1;
    for (size_t i = 1; i < 5; ++i)
      if (!c.constant(i) || c.constant(i)->numel() != channels) return false;
    auto sc = c.constant(1)->to_f32(), bi = c.constant(2)->to_f32(), mean = c.constant(3)->to_f32(),
         var = c.constant(4)->to_f32();
    float eps = n.attr_float("epsilon", 1e-5f);
    st.kind = Stage::Kind::Affine;
    st.c.resize(channels);
    st.c2.resize(channels);
    for (int64_t m = 0; m < channels; ++m) {
      st.c[m] = sc[m] / std::sqrt(var[m] + eps);
      st.c2[m] = bi[m] - mean[m] * st.c[m];
    }
  } else {
    return false;
  }
  return true;
}

// Absorbs consumer `c` (reading the running value through input `via`) into `e`.
bool absorb_into(Epilogue& e, const KernelInit& c, size_t via, const Shape& out) {
  Stage st;
  if (!make_stage(c, via, out, st)) return false;
  if (st.kind == Stage::Kind::Affine && e.stages.empty() && e.scale.empty()) {
    e.scale = std::move(st.c);  // leading BatchNormalization: folded with the bias
    e.shift = std::move(st.c2);
  } else {
    e.stages.push_back(std::move(st));
  }
  e.active = true;
  return true;
}

void apply_stages(const std::vector<Stage>& stages, int64_t m, float* v, int64_t n) {
  for (const Stage& st : stages) {
    switch (st.kind) {
      case Stage::Kind::Add: {
        float k = st.at(st.c, m);
        for (int64_t j = 0; j < n; ++j) v[j] = v[j] + k;
        break;
      }
      case Stage::Kind::Sub: {
        float k = st.at(st.c, m);
        for (int64_t j = 0; j < n; ++j) v[j] = v[j] - k;
        break;
      }
      case Stage::Kind::Mul: {
        float k = st.at(st.c, m);
        for (int64_t j = 0; j < n; ++j) v[j] = v[j] * k;
        break;
      }
      case Stage::Kind::Div: {
        float k = st.at(st.c, m);
        for (int64_t j = 0; j < n; ++j) v[j] = v[j] / k;
        break;
      }
      case Stage::Kind::Clamp: {
        float lo = st.lo, hi = st.hi;
        for (int64_t j = 0; j < n; ++j) v[j] = std::min(std::max(v[j], lo), hi);
        break;
      }
      case Stage::Kind::Leaky: {
        float a = st.alpha;
        for (int64_t j = 0; j < n; ++j) v[j] = v[j] >= 0.f ? v[j] : v[j] * a;
        break;
      }
      case Stage::Kind::Sigmoid:
        logistic(v, v, n);
        break;
      case Stage::Kind::HardSigmoid: {
        float a = st.alpha, b = st.beta;
        for (int64_t j = 0; j < n; ++j) v[j] = std::max(0.f, std::min(1.f, a * v[j] + b));
        break;
      }
      case Stage::Kind::HardSwish:
        for (int64_t j = 0; j < n; ++j) v[j] = v[j] * std::max(0.f, std::min(1.f, v[j] * (1.f / 6.f) + 0.5f));
        break;
      case Stage::Kind::Affine: {
        float a = st.c[size_t(m)], b = st.c2[size_t(m)];
        for (int64_t j = 0; j < n; ++j) v[j] = v[j] * a + b;
        break;
      }
      case Stage::Kind::Gate: {
        if (st.gate.size() == 1 && st.gate[0].kind == Stage::Kind::Sigmoid) {
          logistic(v, v, n, true);  // Swish
          break;
        }
        thread_local std::vector<float> g;
        if (g.size() < size_t(n)) g.resize(size_t(n));
        std::memcpy(g.data(), v, size_t(n) * sizeof(float));
        apply_stages(st.gate, m, g.data(), n);
        for (int64_t j = 0; j < n; ++j) v[j] = v[j] * g[j];
        break;
      }
    }
  }
}

// v = stages(scale[m] * (v + bias) + shift[m]) over n values of channel m.
void apply_epilogue(const Epilogue& ep, int64_t m, float bias, float* v, int64_t n) {
  if (!ep.scale.empty()) {
    float a = ep.scale[m], c0 = bias * a + ep.shift[m];
    for (int64_t j = 0; j < n; ++j) v[j] = v[j] * a + c0;
  } else if (bias != 0.f) {
    for (int64_t j = 0; j < n; ++j) v[j] = v[j] + bias;
  }
  apply_stages(ep.stages, m, v, n);
}

// n values v of output channel m, computed without bias: adds the bias and, with an
// epilogue, applies it.
void finish_output(const Epilogue* ep, int64_t m, const float* bias, float* v, int64_t n) {
  if (ep) {
    apply_epilogue(*ep, m, bias ? bias[m] : 0.f, v, n);
  } else if (bias) {
    const float bv = bias[m];
    for (int64_t j = 0; j < n; ++j) v[j] += bv;
  }
}

// Which convs take Winograd F(2x2,3x3) (conv_winograd.h; shape only): 3x3, stride 1,
// dilation 1, ungrouped, where sgemm is the portable 4-lane kernel (wasm,
// MIXQ_PORTABLE_FP; natively it was no faster than the direct path). Measured in node:
// yolov5n-face's 32 -> 32 convs on 80x80 .. 20x20 maps 1.3-2x faster, PP-OCRv4-det's
// 96 -> 24 on 160x160 2x; narrower rows give sgemm too few columns.
bool use_winograd(const ConvGeometry& g) {
  return kSgemmLanes == 4 && g.G == 1 && g.KH == 3 && g.KW == 3 && g.SH == 1 && g.SW == 1 && g.DH == 1 && g.DW == 1 &&
         g.C >= 16 && g.M >= 16 && g.OH >= 8 && g.OW >= 16;
}

// Which depthwise convs take the channel-blocked path (shape only). Natively under AVX-512
// (a 16-lane shuffle is one permute), measured against the planar path (1 thread, 3x3 and
// 5x5, stride 1 and 2): output rows of 11 to 80 columns 0.45-0.75x the time (stride-2
// 3x3 on 80 columns 1.0x), 160 columns 0.74-1.7x. AVX2 (8 lanes, an AVX2 build on the
// same machine): MobileNetV2-0.35 0.75x, PP-OCR cls 0.81-0.93x, fastestdet 0.88x, rec
// 0.90x of the model time; wider rows too about even (det, yolov5n-face). With 4 lanes
// (wasm, MIXQ_PORTABLE_FP) always, measured in node against planar: MobileNetV2-0.35
// 0.88x, PP-OCR cls / rec / det (96, 80, 160..320 columns) 0.91x / 0.96x / 0.97x of the
// whole model, fastestdet and yolov5n-face 0.98x.
bool use_depthwise_blocked(const ConvGeometry& g) {
  return kRegisterLanes == 4 || g.OW < 128;
}

// Which convs take the direct path (shape only).
bool use_direct(const ConvGeometry& g) {
  // Measured against im2col + Eigen GEMM (1 thread): 3x3 / 5x5 convs from 3 -> 16 up to
  // 256 -> 256 channels 1.4-2x faster. 1x1 convs need no im2col and stay with the GEMM
  // (direct was slower inside real models). Maps of few rows give too few row blocks.
  // With the portable 4-lane sgemm (wasm), stems of <= 4 input channels are faster as
  // im2col + sgemm (node: fastestdet's 3 -> 24 s2 4.4 -> 3.4 ms, yolov5n-face's 3 -> 16
  // s2 9.3-9.9 -> 7.4-8.2 ms): a tile sums only Cg*KH*KW = 27 products per output.
  if (kSgemmLanes == 4 && g.Cg <= 4) return false;
  return g.KH * g.KW > 1 && g.OH >= 4 && g.OH * g.OW >= 64;
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
    dw_blocked_ = depthwise_ && use_depthwise_blocked(g_);
    if (depthwise_ && !dw_blocked_) dw_ = depthwise_plan(g_);
    const Tensor* weights = k.constant(1);
    winograd_ = !depthwise_ && weights && use_winograd(g_);
    if (winograd_) winograd_plan_.prepare(weights->f32().data(), g_.M, g_.C);
    direct_ = !depthwise_ && !winograd_ && use_direct(g_);
    if (direct_) dp_ = direct_plan(g_);
    direct_ = direct_ && g_.Cg * dp_.chan_stride <= kDirectMaxBuffer;  // else im2col blocks bound the memory
    if (direct_) {
      if (const Tensor* wc = k.constant(1)) {  // weights packed once
        pack_direct_weights(wc->f32().data());
        packed_ = true;
      }
    }
    pointwise_ = g_.KH == 1 && g_.KW == 1 && g_.SH == 1 && g_.SW == 1 && g_.PT == 0 && g_.PL == 0 && g_.OH == g_.H &&
                 g_.OW == g_.W;
    int64_t P = g_.OH * g_.OW;
    // Column block: keep the im2col block near 512 KB; multiple of 16.
    nb_ = std::clamp<int64_t>((131072 / std::max<int64_t>(K_, 1)) / 16 * 16, 64, 4096);
    if (pointwise_) nb_ = std::max<int64_t>(nb_, 256);
    nb_ = std::min(nb_, P);
    // Small maps fit one column block: split them into up to 4 (>= 64 columns, multiple of
    // 16) unless the conv is tiny, so that the thread pool has work to share. Shape-only.
    if (g_.N * g_.G * ((P + nb_ - 1) / nb_) < 4 && g_.Mg * P * K_ >= (int64_t(1) << 18))
      nb_ = std::min(nb_, std::max<int64_t>(64, ((P + 3) / 4 + 15) / 16 * 16));
    col_blocks_ = (P + nb_ - 1) / nb_;
    mb_ = g_.Mg;
    int64_t tasks = g_.N * g_.G * col_blocks_;
    // Split output channels when there are still few tasks, unless the conv is tiny.
    if (tasks < 8 && g_.Mg >= 64 && g_.Mg * P * K_ >= (int64_t(1) << 20))
      mb_ = std::max<int64_t>(32, ((g_.Mg + 3) / 4 + 15) / 16 * 16);
    m_blocks_ = (g_.Mg + mb_ - 1) / mb_;
  }
  int64_t macs() const override { return g_.N * g_.M * g_.OH * g_.OW * K_; }
  bool absorb(const KernelInit& consumer, size_t via) override {
    if (maxpool_) return false;  // a MaxPool ends the group
    if (consumer.node.op_type == "MaxPool") return absorb_maxpool(consumer, via);
    if (!absorb_into(epilogue_, consumer, via, consumer.out_shape(0))) return false;
    stages_after_.push_back(epilogue_.stages.size());
    return true;
  }
  bool absorb_gate(const std::vector<std::pair<const KernelInit*, size_t>>& chain) override {
    if (maxpool_) return false;
    Stage gate;
    gate.kind = Stage::Kind::Gate;
    for (const auto& [c, via] : chain) {
      Stage st;
      if (!make_stage(*c, via, c->out_shape(0), st)) return false;
      gate.gate.push_back(std::move(st));
    }
    epilogue_.stages.push_back(std::move(gate));
    epilogue_.active = true;
    stages_after_.insert(stages_after_.end(), chain.size() + 1, epilogue_.stages.size());  // f's steps and the Mul
    return true;
  }
  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    execute(in, out, pool, nullptr);
  }
  void run_fused(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool,
                 size_t steps) override {
    size_t stages = steps == 0 ? 0 : stages_after_.at(std::min(steps, stages_after_.size()) - 1);
    const Epilogue* ep = nullptr;
    Epilogue prefix;  // a tap observes a tensor inside the group: the first `steps` only
    if (steps > 0 && epilogue_.active) {
      if (stages == epilogue_.stages.size()) {
        ep = &epilogue_;
      } else {
        prefix.active = true;
        prefix.scale = epilogue_.scale;
        prefix.shift = epilogue_.shift;
        prefix.stages.assign(epilogue_.stages.begin(), epilogue_.stages.begin() + stages);
        ep = &prefix;
      }
    }
    if (maxpool_ && steps >= maxpool_->step) {
      const float* b = in.size() > 2 && in[2] ? in[2]->f32().data() : nullptr;
      return execute_maxpool(in[0]->f32().data(), in[1]->f32().data(), b, out[0]->f32().data(), pool, ep);
    }
    execute(in, out, pool, ep);
  }

  void execute(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool,
               const Epilogue* ep) {
    const float* x = in[0]->f32().data();
    const float* w = in[1]->f32().data();
    const float* b = in.size() > 2 && in[2] ? in[2]->f32().data() : nullptr;
    float* y = out[0]->f32().data();
    const ConvGeometry& g = g_;
    int64_t P = g.OH * g.OW, HW = g.H * g.W;
    if (dw_blocked_) {
      const int64_t blocks = (g.C + kDwLanes - 1) / kDwLanes;
      pool.parallel_for(g.N * blocks, [&](int64_t t) {
        const int64_t n = t / blocks, c0 = (t % blocks) * kDwLanes, lanes = std::min(kDwLanes, g.C - c0);
        float* yb = y + (n * g.C + c0) * P;
        depthwise_blocked(g, x + (n * g.C + c0) * HW, lanes, w + c0 * g.KH * g.KW, b ? b + c0 : nullptr, yb);
        if (ep)
          for (int64_t l = 0; l < lanes; ++l) apply_epilogue(*ep, c0 + l, 0.f, yb + l * P, P);
      });
      return;
    }
    if (depthwise_) {
      // Group planes so that each task has ~64K multiply-adds (fixed by shape only).
      int64_t per_plane = std::max<int64_t>(1, P * g.KH * g.KW);
      parallel_range(pool, g.N * g.C, std::max<int64_t>(1, 65536 / per_plane), [&](int64_t b0, int64_t b1) {
        for (int64_t i = b0; i < b1; ++i) {
          int64_t c = i % g.C;
          depthwise_plane(g, dw_, x + i * HW, w + c * g.KH * g.KW, b ? b[c] : 0.f, y + i * P);
          if (ep) apply_epilogue(*ep, c, 0.f, y + i * P, P);
        }
      });
      return;
    }
    if (winograd_) {
      for (int64_t n = 0; n < g.N; ++n)
        winograd_plan_.run(x + n * g.C * HW, g.H, g.W, g.PT, g.PL, y + n * g.M * P, g.OH, g.OW, pool,
                           [&](int64_t m, float* v, int64_t count) { finish_output(ep, m, b, v, count); });
      return;
    }
    if (direct_) return execute_direct(x, w, b, y, pool, ep);
    int64_t tasks = g.N * g.G * col_blocks_ * m_blocks_;
    pool.parallel_for(tasks, [&](int64_t t) {
      int64_t mblk = t % m_blocks_;
      int64_t cb = (t / m_blocks_) % col_blocks_;
      int64_t ng = t / (m_blocks_ * col_blocks_);
      int64_t n = ng / g.G, gi = ng % g.G;
      int64_t p0 = cb * nb_, nb = std::min(nb_, P - p0);
      int64_t m0 = mblk * mb_, mc = std::min(mb_, g.Mg - m0);
      const float* xin = x + (n * g.C + gi * g.Cg) * HW;
      const float* wblock = w + (gi * g.Mg + m0) * K_;
      float* ybase = y + (n * g.M + gi * g.Mg + m0) * P + p0;
      if (pointwise_) {
        sgemm(mc, nb, K_, wblock, K_, xin + p0, HW, ybase, P);
      } else {
        thread_local std::vector<float> buf;
        if (buf.size() < size_t(K_ * nb)) buf.resize(K_ * nb);
        im2col_block(g, xin, p0, nb, buf.data());
        sgemm(mc, nb, K_, wblock, K_, buf.data(), nb, ybase, P);
      }
      for (int64_t m = 0; m < mc; ++m) finish_output(ep, gi * g.Mg + m0 + m, b, ybase + m * P, nb);
    });
  }

  // Direct path weights per group and tile of output channels: [G][m_tiles][Cg][KK][MB],
  // zeros past Mg.
  void pack_direct_weights(const float* w) {
    const ConvGeometry& g = g_;
    const int64_t KK = g.KH * g.KW, MB = kDirectMB, tiles = dp_.m_tiles;
    wpk_.assign(size_t(g.G * tiles * g.Cg * KK * MB), 0.f);
    for (int64_t gi = 0; gi < g.G; ++gi)
      for (int64_t m = 0; m < g.Mg; ++m)
        for (int64_t c = 0; c < g.Cg; ++c)
          for (int64_t k = 0; k < KK; ++k)
            wpk_[size_t((((gi * tiles + m / MB) * g.Cg + c) * KK + k) * MB + m % MB)] =
                w[((gi * g.Mg + m) * g.Cg + c) * KK + k];
  }
  // Direct path, one task's work: conv rows [oh0, oh0 + rows) of image n, group gi, tile of
  // kDirectMB output channels at a time into the task's buffer; channel(mm, v) then gets
  // output channel mm's rows at v + r * Wq (Wq >= OW; the columns past OW are scratch).
  template <class Channel>
  void direct_rows(const float* x, int64_t n, int64_t gi, int64_t oh0, int64_t rows, Channel channel) const {
    const ConvGeometry& g = g_;
    const DirectPlan& d = dp_;
    const int64_t KK = g.KH * g.KW, MB = kDirectMB, HW = g.H * g.W, cs = d.chan_stride;
    const int64_t span = (rows * d.dw.Wq + kRegisterLanes - 1) / kRegisterLanes * kRegisterLanes;
    thread_local std::vector<float> buf, tmp;
    if (buf.size() < size_t(g.Cg * cs)) buf.resize(size_t(g.Cg * cs));
    if (tmp.size() < size_t(MB * d.span)) tmp.resize(size_t(MB * d.span));
    const float* xin = x + (n * g.C + gi * g.Cg) * HW;
    for (int64_t c = 0; c < g.Cg; ++c) pad_rows(g, d.dw, xin + c * HW, oh0 * g.SH, buf.data() + c * cs, cs);
    for (int64_t mt = 0; mt < d.m_tiles; ++mt) {
      direct_tile(buf.data(), cs, g.Cg, d.dw.off.data(), KK, wpk_.data() + (gi * d.m_tiles + mt) * g.Cg * KK * MB, span,
                  d.span, tmp.data());
      for (int64_t mi = 0; mi < MB && mt * MB + mi < g.Mg; ++mi)
        channel(gi * g.Mg + mt * MB + mi, tmp.data() + mi * d.span);
    }
  }
  void execute_direct(const float* x, const float* w, const float* b, float* y, ThreadPool& pool, const Epilogue* ep) {
    const ConvGeometry& g = g_;
    const DirectPlan& d = dp_;
    const int64_t P = g.OH * g.OW;
    if (!packed_) pack_direct_weights(w);
    pool.parallel_for(g.N * g.G * d.blocks, [&](int64_t t) {
      const int64_t blk = t % d.blocks, ng = t / d.blocks, n = ng / g.G, gi = ng % g.G;
      const int64_t oh0 = blk * d.rows, rows = std::min(d.rows, g.OH - oh0);
      direct_rows(x, n, gi, oh0, rows, [&](int64_t mm, const float* v) {
        float* dst = y + (n * g.M + mm) * P + oh0 * g.OW;
        for (int64_t r = 0; r < rows; ++r) std::memcpy(dst + r * g.OW, v + r * d.dw.Wq, g.OW * sizeof(float));
        finish_output(ep, mm, b, dst, rows * g.OW);
      });
    });
  }

  // A MaxPool reading this conv's output (after its epilogue) is absorbed on the direct and
  // GEMM paths: each task computes the conv rows its block of pooled rows reads (blocks
  // overlap by the window's extra rows, computed twice) and pools them from its buffer,
  // so the conv's output (a stem's largest tensor) is never written. Each value gets the
  // same operations as in the unfused pair (sums in an order that depends on K only):
  // bit-identical.
  struct FusedMaxPool {
    PoolGeometry geometry;
    std::vector<WindowColumns> cols;
    int64_t rows = 1, blocks = 1;  // pooled rows per block, blocks per plane
    size_t step = 0;               // absorbed steps up to and including the MaxPool
  };
  bool absorb_maxpool(const KernelInit& c, size_t via) {
    if (depthwise_ || winograd_ || via != 0 || c.outputs.size() != 1 || c.in_shape(0).size() != 4) return false;
    PoolGeometry pg = pool_geometry(c);
    const int64_t window = (pg.KH - 1) * pg.DH + 1;  // conv rows one pooled row reads
    if (pg.H != g_.OH || pg.W != g_.OW || window > g_.OH) return false;
    int64_t conv_rows = 0;  // per block
    if (direct_) {
      DirectPlan d = direct_plan(g_, window);
      if (g_.Cg * d.chan_stride > kDirectMaxBuffer) return false;
      dp_ = d;  // same weights packing (m_tiles) with more rows per block
      conv_rows = d.rows;
    } else {
      conv_rows = std::clamp<int64_t>(nb_ / g_.OW, window, g_.OH);  // about the GEMM's column block
      if (g_.G != 1 || std::max(K_, g_.M) * conv_rows * g_.OW > kDirectMaxBuffer) return false;
    }
    FusedMaxPool mp;
    mp.rows = std::max<int64_t>(1, (conv_rows - window) / pg.SH + 1);
    mp.blocks = (pg.OH + mp.rows - 1) / mp.rows;
    mp.cols = all_window_columns(pg);
    mp.geometry = pg;
    stages_after_.push_back(epilogue_.stages.size());
    mp.step = stages_after_.size();
    maxpool_ = std::move(mp);
    return true;
  }
  // Pooled rows [p0, p1) of block `blk` and the conv rows [r0, r1) they read.
  void maxpool_block(int64_t blk, int64_t& p0, int64_t& p1, int64_t& r0, int64_t& r1) const {
    const PoolGeometry& pg = maxpool_->geometry;
    p0 = blk * maxpool_->rows;
    p1 = std::min(p0 + maxpool_->rows, pg.OH);
    r0 = std::clamp<int64_t>(p0 * pg.SH - pg.PT, 0, g_.OH);
    r1 = std::clamp<int64_t>((p1 - 1) * pg.SH - pg.PT + (pg.KH - 1) * pg.DH + 1, r0, g_.OH);
  }
  // Channel mm's conv rows [r0, r1) at rows + (r - r0) * stride: the epilogue, then pooled
  // rows [p0, p1) into its output plane.
  void finish_and_pool(const Epilogue* ep, int64_t mm, const float* b, float* rows, int64_t r0, int64_t r1,
                       int64_t stride, int64_t p0, int64_t p1, float* y, int64_t n, float* column_max) const {
    const PoolGeometry& pg = maxpool_->geometry;
    finish_output(ep, mm, b, rows, (r1 - r0) * stride);
    float* plane = y + (n * g_.M + mm) * pg.OH * pg.OW;
    for (int64_t ph = p0; ph < p1; ++ph)
      max_pool_row(
          pg, maxpool_->cols, [rows, r0, stride](int64_t r) { return rows + (r - r0) * stride; }, ph, column_max,
          plane + ph * pg.OW);
  }
  void execute_maxpool(const float* x, const float* w, const float* b, float* y, ThreadPool& pool, const Epilogue* ep) {
    const ConvGeometry& g = g_;
    const FusedMaxPool& mp = *maxpool_;
    if (direct_ && !packed_) pack_direct_weights(w);
    pool.parallel_for(g.N * g.G * mp.blocks, [&](int64_t t) {
      const int64_t blk = t % mp.blocks, ng = t / mp.blocks, n = ng / g.G, gi = ng % g.G;
      int64_t p0, p1, r0, r1;
      maxpool_block(blk, p0, p1, r0, r1);
      thread_local std::vector<float> cols, tmp, column_max;
      column_max.resize(size_t(mp.geometry.W));
      if (direct_) {
        direct_rows(x, n, gi, r0, r1 - r0, [&](int64_t mm, float* v) {
          finish_and_pool(ep, mm, b, v, r0, r1, dp_.dw.Wq, p0, p1, y, n, column_max.data());
        });
        return;
      }
      // GEMM path (G == 1): all channels in one product over the rows' columns
      const float* xin = x + n * g.C * g.H * g.W;
      const int64_t q0 = r0 * g.OW, nb = (r1 - r0) * g.OW;
      if (tmp.size() < size_t(g.M * nb)) tmp.resize(size_t(g.M * nb));
      if (pointwise_) {
        sgemm(g.M, nb, K_, w, K_, xin + q0, g.H * g.W, tmp.data(), nb);
      } else {
        if (cols.size() < size_t(K_ * nb)) cols.resize(size_t(K_ * nb));
        im2col_block(g, xin, q0, nb, cols.data());
        sgemm(g.M, nb, K_, w, K_, cols.data(), nb, tmp.data(), nb);
      }
      for (int64_t m = 0; m < g.M; ++m)
        finish_and_pool(ep, m, b, tmp.data() + m * nb, r0, r1, g.OW, p0, p1, y, n, column_max.data());
    });
  }

 private:
  ConvGeometry g_;
  DepthwisePlan dw_;
  DirectPlan dp_;
  Winograd3x3 winograd_plan_;  // convs where use_winograd()
  std::vector<float> wpk_;     // direct path: packed weights
  bool packed_ = false;        // wpk_ holds the constant weights (else packed per run)
  Epilogue epilogue_;
  std::vector<size_t> stages_after_;  // per absorbed step: epilogue stages once it is absorbed
  std::optional<FusedMaxPool> maxpool_;
  int64_t K_ = 0, nb_ = 0, col_blocks_ = 0, mb_ = 0, m_blocks_ = 0;
  bool depthwise_ = false, dw_blocked_ = false, pointwise_ = false, direct_ = false, winograd_ = false;
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
    if (const Tensor* wc = k.constant(1)) wt_ = transposed_weights(wc->f32().data());  // constant: once
  }
  int64_t macs() const override { return g_.N * g_.C * g_.H * g_.W * g_.Mg * g_.KH * g_.KW; }

  // Per group, Wg [Cg, R] transposed to [R, Cg] (R = Mg * KH * KW), groups one after another.
  std::vector<float> transposed_weights(const float* w) const {
    const int64_t R = g_.Mg * g_.KH * g_.KW;
    std::vector<float> all;
    all.reserve(size_t(g_.G * R * g_.Cg));
    for (int64_t gi = 0; gi < g_.G; ++gi) {
      std::vector<float> t = transposed(w + gi * g_.Cg * R, g_.Cg, R);
      all.insert(all.end(), t.begin(), t.end());
    }
    return all;
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    const ConvGeometry& g = g_;
    const float* x = in[0]->f32().data();
    const float* w = in[1]->f32().data();
    const float* b = in.size() > 2 && in[2] ? in[2]->f32().data() : nullptr;
    float* y = out[0]->f32().data();
    int64_t HW = g.H * g.W, R = g.Mg * g.KH * g.KW, P = g.OH * g.OW;
    std::vector<float>& col = col_;  // fully overwritten by the GEMM below; kept across runs
    if (col.size() != size_t(R * HW)) col.resize(size_t(R * HW));
    std::vector<float> wt_run;  // weights given at run time: transposed for this run
    if (wt_.empty()) wt_run = transposed_weights(w);
    const std::vector<float>& wt = wt_.empty() ? wt_run : wt_;
    for (int64_t n = 0; n < g.N; ++n) {
      for (int64_t gi = 0; gi < g.G; ++gi) {
        const float* xg = x + (n * g.C + gi * g.Cg) * HW;
        const float* wtg = wt.data() + gi * R * g.Cg;
        // col [R, HW] = Wg^T [R, Cg] * Xg [Cg, HW]
        constexpr int64_t kRB = 64;
        parallel_range(pool, R, kRB, [&](int64_t r0, int64_t r1) {
          sgemm(r1 - r0, HW, g.Cg, wtg + r0 * g.Cg, g.Cg, xg, HW, col.data() + r0 * HW, HW);
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
  std::vector<float> col_;  // W^T X buffer
  std::vector<float> wt_;   // constant weights, per group transposed to [R, Cg] (else empty)
};

}  // namespace

void register_conv_kernels(KernelRegistry& r) {
  r["Conv"] = [](const KernelInit& k) -> std::unique_ptr<Kernel> { return std::make_unique<ConvKernel>(k); };
  r["ConvTranspose"] = [](const KernelInit& k) -> std::unique_ptr<Kernel> {
    return std::make_unique<ConvTransposeKernel>(k);
  };
}

}  // namespace mixq::exec
