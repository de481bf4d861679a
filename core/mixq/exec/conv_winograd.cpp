#include "mixq/exec/conv_winograd.h"

#include <algorithm>
#include <cstring>

#include "mixq/exec/sgemm.h"
#include "mixq/exec/thread_pool.h"

namespace mixq::exec {
namespace {

// Tiles are transformed 4 at a time along a tile row, in 4-float vectors (one SIMD128 /
// SSE register: the targets that take this path).
typedef float Vec4 __attribute__((vector_size(16)));
constexpr int64_t kChunk = 96;  // tiles per product (within one tile row): V and products stay in L2

// V = B^T d B of 4 tiles, B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]; d[i][j] holds the
// patch value (row i, column j) of the 4 tiles.
inline void input_tiles(const Vec4 d[4][4], Vec4 v[16]) {
  Vec4 t[4][4];
  for (int j = 0; j < 4; ++j) {
    t[0][j] = d[0][j] - d[2][j];
    t[1][j] = d[1][j] + d[2][j];
    t[2][j] = d[2][j] - d[1][j];
    t[3][j] = d[1][j] - d[3][j];
  }
  for (int i = 0; i < 4; ++i) {
    v[4 * i + 0] = t[i][0] - t[i][2];
    v[4 * i + 1] = t[i][1] + t[i][2];
    v[4 * i + 2] = t[i][2] - t[i][1];
    v[4 * i + 3] = t[i][1] - t[i][3];
  }
}

// Y = A^T m A (2x2: y[2*i + j]) of 4 tiles' 16 products m; A^T = [1 1 1 0; 0 1 -1 -1].
inline void output_tiles(const Vec4 m[16], Vec4 y[4]) {
  Vec4 s[2][4];
  for (int j = 0; j < 4; ++j) {
    s[0][j] = m[j] + m[4 + j] + m[8 + j];
    s[1][j] = m[4 + j] - m[8 + j] - m[12 + j];
  }
  for (int i = 0; i < 2; ++i) {
    y[2 * i + 0] = s[i][0] + s[i][1] + s[i][2];
    y[2 * i + 1] = s[i][1] - s[i][2] - s[i][3];
  }
}

}  // namespace

void Winograd3x3::prepare(const float* w, int64_t M, int64_t C) {
  static const double kG[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
  M_ = M;
  C_ = C;
  u_.assign(size_t(16 * M * C), 0.f);
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t c = 0; c < C; ++c) {
      const float* g = w + (m * C + c) * 9;
      double t[4][3];  // G g
      for (int i = 0; i < 4; ++i)
        for (int k = 0; k < 3; ++k) t[i][k] = kG[i][0] * g[k] + kG[i][1] * g[3 + k] + kG[i][2] * g[6 + k];
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j)
          u_[size_t(((4 * i + j) * M + m) * C + c)] =
              static_cast<float>(t[i][0] * kG[j][0] + t[i][1] * kG[j][1] + t[i][2] * kG[j][2]);
    }
  }
}

void Winograd3x3::run(const float* x, int64_t H, int64_t W, int64_t PT, int64_t PL, float* y, int64_t OH, int64_t OW,
                      ThreadPool& pool, const Finish& finish) const {
  const int64_t M = M_, C = C_;
  const int64_t TH = (OH + 1) / 2, TW = (OW + 1) / 2;
  const int64_t TW4 = (TW + 3) / 4 * 4;  // tiles per row rounded up to whole vectors
  // A task is one tile row (2 output rows). Its 4 input rows are kept per channel with the
  // even and odd padded columns apart, so that the 4 patch columns of 4 neighbouring tiles
  // are unit-stride vectors: column j of tile t is even[t + j/2] (j even) or odd[t + j/2].
  const int64_t half = TW4 + 2;  // even (or odd) padded columns per row
  pool.parallel_for(TH, [&](int64_t tr) {
    thread_local std::vector<float> cols, v, prod, out;
    cols.assign(size_t(C * 4 * 2 * half), 0.f);
    for (int64_t c = 0; c < C; ++c) {
      for (int64_t r = 0; r < 4; ++r) {
        const int64_t iy = 2 * tr - PT + r;
        if (iy < 0 || iy >= H) continue;
        const float* src = x + (c * H + iy) * W;
        float* even = cols.data() + ((c * 4 + r) * 2) * half;
        float* odd = even + half;
        // padded column p = input column p - PL
        for (int64_t ix = std::max<int64_t>(0, -PL); ix < W && ix + PL < 2 * half; ++ix) {
          const int64_t p = ix + PL;
          (p % 2 ? odd : even)[p / 2] = src[ix];
        }
      }
    }
    for (int64_t t0 = 0; t0 < TW4; t0 += kChunk) {
      const int64_t tc = std::min(kChunk, TW4 - t0);  // a multiple of 4
      v.resize(size_t(16 * C * tc));
      prod.resize(size_t(16 * M * tc));
      for (int64_t c = 0; c < C; ++c) {
        const float* base = cols.data() + (c * 4 * 2) * half;
        for (int64_t t = 0; t < tc; t += 4) {
          Vec4 d[4][4], vals[16];
          for (int i = 0; i < 4; ++i) {
            const float* even = base + (i * 2) * half + t0 + t;
            const float* odd = even + half;
            std::memcpy(&d[i][0], even, 16);
            std::memcpy(&d[i][1], odd, 16);
            std::memcpy(&d[i][2], even + 1, 16);
            std::memcpy(&d[i][3], odd + 1, 16);
          }
          input_tiles(d, vals);
          for (int e = 0; e < 16; ++e) std::memcpy(v.data() + (e * C + c) * tc + t, &vals[e], 16);
        }
      }
      for (int e = 0; e < 16; ++e)
        sgemm(M, tc, C, u_.data() + e * M * C, C, v.data() + e * C * tc, tc, prod.data() + e * M * tc, tc);
      // Output tiles of the chunk: rows 2*tr and 2*tr+1, columns 2*t0 .. 2*(t0+tc)-1.
      out.resize(size_t(2 * 2 * tc));
      for (int64_t m = 0; m < M; ++m) {
        for (int64_t t = 0; t < tc; t += 4) {
          Vec4 mv[16], yv[4];
          for (int e = 0; e < 16; ++e) std::memcpy(&mv[e], prod.data() + (e * M + m) * tc + t, 16);
          output_tiles(mv, yv);
          for (int i = 0; i < 2; ++i) {
            float* row = out.data() + i * 2 * tc + 2 * t;
            for (int k = 0; k < 4; ++k) {
              row[2 * k] = yv[2 * i][k];
              row[2 * k + 1] = yv[2 * i + 1][k];
            }
          }
        }
        const int64_t ow0 = 2 * t0, ncols = std::min(2 * tc, OW - ow0);
        for (int64_t i = 0; i < 2 && 2 * tr + i < OH; ++i)
          if (ncols > 0) std::memcpy(y + (m * OH + 2 * tr + i) * OW + ow0, out.data() + i * 2 * tc, size_t(ncols) * 4);
      }
    }
    const int64_t oh0 = 2 * tr, oh1 = std::min(OH, oh0 + 2);
    for (int64_t m = 0; m < M; ++m) finish(m, y + (m * OH + oh0) * OW, (oh1 - oh0) * OW);
  });
}

}  // namespace mixq::exec
