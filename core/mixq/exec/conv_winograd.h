// 3x3 stride-1 convolution by Winograd's minimal filtering F(2x2, 3x3) (Lavin & Gray,
// "Fast Algorithms for Convolutional Neural Networks", 2015): each 2x2 output tile is
// A^T [ sum_c (G g_c G^T) .* (B^T d_c B) ] A, i.e. 16 matrix products [M x C] x [C x tiles]
// through exec::sgemm: 16 multiplies per tile and channel pair where the direct
// convolution needs 36.
//
// Contract:
// - prepare() transforms the weights once (double arithmetic, rounded once to float).
// - run() writes y[m, oh, ow] = sum_{c,kh,kw} w[m,c,kh,kw] * x[c, oh-PT+kh, ow-PL+kw] (zero
//   outside the input) for one image, WITHOUT bias; then calls finish(m, values, count)
//   once per output channel and band of rows (contiguous in y), for bias and epilogue.
// - The work is split in bands of tile rows fixed by the shape, so results do not depend
//   on the thread count; every value's arithmetic is fixed by the shape (the same bits
//   on every target whose sgemm sums in a fixed order).
// - Rounding differs from the direct convolution's (transforms add a few float roundings,
//   relative error ~1e-6): ConvKernel uses it where it is much faster (use_winograd() in
//   kernels_conv.cpp).
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

namespace mixq {
class ThreadPool;
}

namespace mixq::exec {

class Winograd3x3 {
 public:
  // w: [M, C, 3, 3]
  void prepare(const float* w, int64_t M, int64_t C);
  using Finish = std::function<void(int64_t m, float* values, int64_t count)>;
  // x: [C, H, W] of one image; y: [M, OH, OW].
  void run(const float* x, int64_t H, int64_t W, int64_t PT, int64_t PL, float* y, int64_t OH, int64_t OW,
           ThreadPool& pool, const Finish& finish) const;

 private:
  int64_t M_ = 0, C_ = 0;
  std::vector<float> u_;  // [16][M][C]
};

}  // namespace mixq::exec
