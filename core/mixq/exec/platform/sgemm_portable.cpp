// sgemm without Eigen, in GCC/Clang vector types (wasm SIMD128 in the browser). wasm has no
// FMA and V8 gives a function 16 vector registers, so the micro-kernel keeps a 4x8 tile
// of C in 8 registers (two 4-float vectors per row) and, per k, loads 8 floats of packed B
// and splats 4 floats of A: 8 multiplies + 8 adds. B is packed per (kKC x kNC) block into
// panels of 8 columns (zero-padded), so the micro-kernel reads it as one unit-stride
// stream; A is read in place (4 row streams). Every C[i,j] is summed over k in order
// within each kKC block and the blocks are added in order: the summation order depends on
// K only, and with -ffp-contract=off each step is a rounded multiply then a rounded add.
#include <algorithm>
#include <cstring>
#include <vector>

#include "mixq/exec/sgemm.h"
#include "mixq/exec/vec.h"

namespace mixq::exec {
namespace {

constexpr int64_t kMR = 4, kNR = 8, kKC = 512, kNC = 256;
constexpr int kNV = kNR / 4;  // 4-float vectors per tile row
typedef float Vec4 __attribute__((vector_size(16)));

inline Vec4 load4(const float* p) {
  return load_unaligned<Vec4>(p);
}
inline void store4(float* p, Vec4 v) {
  store_unaligned(p, v);
}

// Packs rows [0, kc) and columns [0, nc) of B into panels of kNR columns, kc x kNR each.
void pack_b(const float* B, int64_t ldb, int64_t kc, int64_t nc, float* dst) {
  for (int64_t p = 0; p < nc; p += kNR, dst += kc * kNR) {
    int64_t w = std::min(kNR, nc - p);
    const float* src = B + p;
    if (w == kNR) {
      for (int64_t k = 0; k < kc; ++k) std::memcpy(dst + k * kNR, src + k * ldb, kNR * sizeof(float));
    } else {
      for (int64_t k = 0; k < kc; ++k)
        for (int64_t j = 0; j < kNR; ++j) dst[k * kNR + j] = j < w ? src[k * ldb + j] : 0.f;
    }
  }
}

// C[0:MR, 0:nr] (+)= A[0:MR, 0:kc] * panel (kc x kNR).
template <int MR>
void micro_kernel(const float* A, int64_t lda, const float* panel, int64_t kc, float* C, int64_t ldc, int64_t nr,
                  bool accumulate) {
  Vec4 acc[MR][kNV] = {};
  for (int64_t k = 0; k < kc; ++k) {
    Vec4 b[kNV];
    for (int v = 0; v < kNV; ++v) b[v] = load4(panel + k * kNR + 4 * v);
    for (int r = 0; r < MR; ++r) {
      const float x = A[r * lda + k];
      const Vec4 a = {x, x, x, x};
      for (int v = 0; v < kNV; ++v) acc[r][v] = acc[r][v] + a * b[v];
    }
  }
  for (int r = 0; r < MR; ++r) {
    float* c = C + r * ldc;
    if (nr == kNR) {
      for (int v = 0; v < kNV; ++v) store4(c + 4 * v, accumulate ? load4(c + 4 * v) + acc[r][v] : acc[r][v]);
    } else {
      float tile[kNR];
      for (int v = 0; v < kNV; ++v) store4(tile + 4 * v, acc[r][v]);
      for (int64_t j = 0; j < nr; ++j) c[j] = accumulate ? c[j] + tile[j] : tile[j];
    }
  }
}

void micro_kernel_rows(int64_t mr, const float* A, int64_t lda, const float* panel, int64_t kc, float* C, int64_t ldc,
                       int64_t nr, bool accumulate) {
  switch (mr) {
    case 4:
      return micro_kernel<4>(A, lda, panel, kc, C, ldc, nr, accumulate);
    case 3:
      return micro_kernel<3>(A, lda, panel, kc, C, ldc, nr, accumulate);
    case 2:
      return micro_kernel<2>(A, lda, panel, kc, C, ldc, nr, accumulate);
    default:
      return micro_kernel<1>(A, lda, panel, kc, C, ldc, nr, accumulate);
  }
}

}  // namespace

void sgemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
           int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    for (int64_t i = 0; i < M; ++i) std::fill(C + i * ldc, C + i * ldc + N, 0.f);
    return;
  }
  thread_local std::vector<float> packed;
  packed.resize(size_t(kKC * ((kNC + kNR - 1) / kNR) * kNR));
  for (int64_t n0 = 0; n0 < N; n0 += kNC) {
    int64_t nc = std::min(kNC, N - n0);
    for (int64_t k0 = 0; k0 < K; k0 += kKC) {
      int64_t kc = std::min(kKC, K - k0);
      pack_b(B + k0 * ldb + n0, ldb, kc, nc, packed.data());
      for (int64_t m0 = 0; m0 < M; m0 += kMR) {
        int64_t mr = std::min(kMR, M - m0);
        for (int64_t p = 0; p < nc; p += kNR)
          micro_kernel_rows(mr, A + m0 * lda + k0, lda, packed.data() + p * kc, kc, C + m0 * ldc + n0 + p, ldc,
                            std::min(kNR, nc - p), k0 > 0);
      }
    }
  }
}

const bool kSgemmIsPortable = true;

}  // namespace mixq::exec
