// sgemm in GCC/Clang vector types: one packed micro-kernel whose tile follows the target's
// vector registers.
//   AVX-512 (native -march=native): an 8 x 32 tile of C in 16 zmm accumulators;
//   AVX2 + FMA:                      a 6 x 16 tile in 12 ymm accumulators (the classic
//                                    choice for 16 registers; tested by tools/test's
//                                    AVX2 build, not tuned);
//   otherwise (wasm SIMD128, MIXQ_PORTABLE_FP's SSE4.2): a 4 x 8 tile in 8 4-float vectors
//     (wasm has no FMA and V8 gives a function 15 usable vector registers; 5 x 8, 6 x 8
//     and 3 x 12 were slower).
// Per k the micro-kernel loads one row of a B panel (kNR floats) and splats kMR floats
// of A (natively read in place, kMR row streams; with 4 lanes from a packed row tile,
// kPackA). B is packed per (kKC x kNC) block into panels of
// kNR columns (zero-padded), so the micro-kernel reads it as one unit-stride stream,
// except where reading B's rows in place is faster (read_b_in_place). Every C[i,j] is
// summed over k in order within each kKC block and the blocks are added in order: the
// summation order depends on K only. With -ffp-contract=off (wasm, MIXQ_PORTABLE_FP)
// each step is a rounded multiply then a rounded add; natively the compiler fuses them
// into FMAs. Measured natively (AMD Zen 4, 1 thread) against Eigen's GEBP, which this
// replaced: 1.16-1.28x on the executor's shapes (32x128x336 .. 1024^3), 98-111 GFLOP/s
// of a 117 GFLOP/s FMA peak.
#include <algorithm>
#include <cstring>
#include <vector>

#include "mixq/exec/sgemm.h"
#include "mixq/exec/vec.h"

namespace mixq::exec {
namespace {

constexpr int kLanes = kRegisterLanes;
constexpr int kMR = kLanes == 16 ? 8 : kLanes == 8 ? 6 : 4;
constexpr int kNV = 2;  // vectors per tile row
constexpr int64_t kNR = kNV * kLanes, kKC = 512, kNC = 256;
using Vec = VecReg;

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

// Whether A is packed into row tiles (A[r, k] at k * kMR + r) so that the micro-kernel
// walks A and B with two pointer bumps per k, its loads at constant offsets. In wasm the
// in-place form costs ~20 integer instructions of index arithmetic per k (64-bit indices,
// per-row address sums) besides the 16 float ones; natively addressing modes absorb it.
constexpr bool kPackA = kLanes == 4;

// C[0:MR, 0:nr] (+)= A[0:MR, 0:kc] * panel (kc x kNR, rows `ps` floats apart); A is in
// place (rows lda apart) or, with kPackA, packed (kMR floats per k).
template <int MR>
void micro_kernel(const float* A, int64_t lda, const float* panel, int64_t ps, int64_t kc, float* C, int64_t ldc,
                  int64_t nr, bool accumulate) {
  Vec acc[MR][kNV] = {};
  if constexpr (kPackA) {
    const float* a = A;
    const float* b = panel;
    for (const float* end = A + kc * kMR; a != end; a += kMR, b += ps) {
      Vec bv[kNV];
      for (int v = 0; v < kNV; ++v) bv[v] = load_unaligned<Vec>(b + kLanes * v);
      for (int r = 0; r < MR; ++r)
        for (int v = 0; v < kNV; ++v) acc[r][v] = acc[r][v] + a[r] * bv[v];
    }
  } else {
    for (int64_t k = 0; k < kc; ++k) {
      Vec b[kNV];
      for (int v = 0; v < kNV; ++v) b[v] = load_unaligned<Vec>(panel + k * ps + kLanes * v);
      for (int r = 0; r < MR; ++r) {
        const float x = A[r * lda + k];
        for (int v = 0; v < kNV; ++v) acc[r][v] = acc[r][v] + x * b[v];
      }
    }
  }
  for (int r = 0; r < MR; ++r) {
    float* c = C + r * ldc;
    if (nr == kNR) {
      for (int v = 0; v < kNV; ++v) {
        float* cv = c + kLanes * v;
        store_unaligned(cv, accumulate ? load_unaligned<Vec>(cv) + acc[r][v] : acc[r][v]);
      }
    } else {
      float tile[kNR];
      for (int v = 0; v < kNV; ++v) store_unaligned(tile + kLanes * v, acc[r][v]);
      for (int64_t j = 0; j < nr; ++j) c[j] = accumulate ? c[j] + tile[j] : tile[j];
    }
  }
}

// micro_kernel<mr> for the last rows of C (mr <= MR).
template <int MR>
void micro_kernel_rows(int64_t mr, const float* A, int64_t lda, const float* panel, int64_t ps, int64_t kc, float* C,
                       int64_t ldc, int64_t nr, bool accumulate) {
  if constexpr (MR > 1) {
    if (mr < MR) return micro_kernel_rows<MR - 1>(mr, A, lda, panel, ps, kc, C, ldc, nr, accumulate);
  }
  micro_kernel<MR>(A, lda, panel, ps, kc, C, ldc, nr, accumulate);
}

// Whether the micro-kernel reads B's full panels in place rather than packed: packing
// pays off when many row tiles reuse a panel, or when B's rows are far apart (a strided
// panel then spans many pages). Measured natively (AVX-512, 1 thread): M <= 128 with a
// k-block span under 2 MB 1.03-1.18x (the executor's 1x1 convs), M = 512 or a 6 MB span
// 0.77-0.95x. Only the native tiles: the 4-lane kernel was not measured this way.
bool read_b_in_place(int64_t M, int64_t kc, int64_t ldb) {
  return kLanes >= 8 && M <= 128 && kc * ldb <= (int64_t(512) << 10);
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
  thread_local std::vector<float> packed_a;
  if (kPackA) packed_a.resize(size_t(kKC * kMR));
  for (int64_t n0 = 0; n0 < N; n0 += kNC) {
    int64_t nc = std::min(kNC, N - n0);
    for (int64_t k0 = 0; k0 < K; k0 += kKC) {
      int64_t kc = std::min(kKC, K - k0);
      const float* b = B + k0 * ldb + n0;
      // full panels read in place (or all packed), the partial last panel always packed
      const int64_t in_place = read_b_in_place(M, kc, ldb) ? nc / kNR * kNR : 0;
      if (in_place < nc) pack_b(b + in_place, ldb, kc, nc - in_place, packed.data());
      for (int64_t m0 = 0; m0 < M; m0 += kMR) {
        int64_t mr = std::min<int64_t>(kMR, M - m0);
        const float* a = A + m0 * lda + k0;
        if constexpr (kPackA) {  // this row tile's k block, once for all panels
          for (int64_t k = 0; k < kc; ++k)
            for (int r = 0; r < kMR; ++r) packed_a[size_t(k * kMR + r)] = r < mr ? a[r * lda + k] : 0.f;
          a = packed_a.data();
        }
        for (int64_t p = 0; p < nc; p += kNR) {
          const float* panel = p < in_place ? b + p : packed.data() + (p - in_place) * kc;
          micro_kernel_rows<kMR>(mr, a, lda, panel, p < in_place ? ldb : kNR, kc, C + m0 * ldc + n0 + p, ldc,
                                 std::min(kNR, nc - p), k0 > 0);
        }
      }
    }
  }
}

const int kSgemmLanes = kLanes;

}  // namespace mixq::exec
