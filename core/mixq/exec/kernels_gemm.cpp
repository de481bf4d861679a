// Gemm and MatMul (numpy batch broadcasting; 1-D operands promoted as numpy does).
// Both run exec::sgemm (Gemm copies transposed operands first; a constant transposed B
// once, at plan time). Products are split into blocks fixed by the shape (ProductBlocks:
// deterministic for any thread count).
#include <algorithm>
#include <memory>
#include <vector>

#include "mixq/exec/kernel.h"
#include "mixq/exec/sgemm.h"

namespace mixq::exec {
namespace {

// Blocks of one product C[M,N]: rows of A in blocks of kRowBlock and, when that leaves
// fewer than kMinTasks tasks (few rows, e.g. a classifier head [40,120] x [120,6625]),
// columns of B in blocks of a multiple of kColAlign. Fixed by the shape alone: an
// element's summation order never depends on the thread count.
constexpr int64_t kRowBlock = 64, kColAlign = 64, kMinTasks = 8;
struct ProductBlocks {
  int64_t rows = 1, cols = 1;  // block counts
  int64_t col_block = 0;       // columns per block
  ProductBlocks(int64_t M, int64_t N, int64_t products) {
    rows = (M + kRowBlock - 1) / kRowBlock;
    const int64_t want = (kMinTasks + products * rows - 1) / (products * rows);
    cols = std::clamp<int64_t>(want, 1, std::max<int64_t>(1, N / kColAlign));
    col_block = (N + cols - 1) / cols;
    col_block = (col_block + kColAlign - 1) / kColAlign * kColAlign;
    cols = (N + col_block - 1) / col_block;
  }
  int64_t per_product() const { return rows * cols; }
  // Task t of one product: C rows [r0, r1) x columns [c0, c1) = scale * A[r0:r1, :] * B[:, c0:c1].
  void run(int64_t t, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
           float* C, int64_t ldc, float scale = 1.f) const {
    const int64_t r0 = t / cols * kRowBlock, r1 = std::min(M, r0 + kRowBlock);
    const int64_t c0 = t % cols * col_block, c1 = std::min(N, c0 + col_block);
    sgemm(r1 - r0, c1 - c0, K, A + r0 * lda, lda, B + c0, ldb, C + r0 * ldc + c0, ldc);
    if (scale != 1.f)
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t c = c0; c < c1; ++c) C[r * ldc + c] *= scale;
  }
};

std::unique_ptr<Kernel> make_matmul(const KernelInit& k) {
  const Node& n = k.node;
  check(k.inputs[0]->dtype == DType::Float32 && k.inputs[1]->dtype == DType::Float32, n,
        "only float32 MatMul is supported");
  Shape a = k.in_shape(0), b = k.in_shape(1);
  check(!a.empty() && !b.empty(), n, "MatMul operands must not be scalars");
  if (a.size() == 1) a.insert(a.begin(), 1);
  if (b.size() == 1) b.push_back(1);
  int64_t M = a[a.size() - 2], K = a.back(), N = b.back();
  check(b[b.size() - 2] == K, n,
        "inner dimensions differ: " + shape_str(k.in_shape(0)) + " x " + shape_str(k.in_shape(1)));
  Shape ab(a.begin(), a.end() - 2), bb(b.begin(), b.end() - 2);
  Shape batch = broadcast_shapes(ab, bb, n.describe());
  size_t r = batch.size();
  ab.insert(ab.begin(), r - ab.size(), 1);
  bb.insert(bb.begin(), r - bb.size(), 1);
  int64_t batches = shape_numel(batch);
  // Per output batch: offsets of A and B matrices.
  std::vector<int64_t> a_off(batches), b_off(batches);
  auto as = row_strides(ab), bs = row_strides(bb), os = row_strides(batch);
  for (int64_t i = 0; i < batches; ++i) {
    int64_t ao = 0, bo = 0, rem = i;
    for (size_t d = 0; d < r; ++d) {
      int64_t idx = rem / os[d];
      rem %= os[d];
      if (ab[d] != 1) ao += idx * as[d];
      if (bb[d] != 1) bo += idx * bs[d];
    }
    a_off[i] = ao * M * K;
    b_off[i] = bo * K * N;
  }
  const ProductBlocks blocks(M, N, batches);
  return make_fn(
      [=](const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) {
        const float* A = in[0]->f32().data();
        const float* B = in[1]->f32().data();
        float* C = out[0]->f32().data();
        const int64_t per = blocks.per_product();
        pool.parallel_for(batches * per, [&](int64_t t) {
          const int64_t bi = t / per;
          blocks.run(t % per, M, N, K, A + a_off[bi], K, B + b_off[bi], N, C + bi * M * N, N);
        });
      },
      batches * M * N * K);
}

std::unique_ptr<Kernel> make_gemm(const KernelInit& k) {
  const Node& n = k.node;
  check(k.inputs[0]->dtype == DType::Float32, n, "only float32 Gemm is supported");
  const Shape &a = k.in_shape(0), &b = k.in_shape(1);
  check(a.size() == 2 && b.size() == 2, n, "Gemm operands must be 2-D");
  bool ta = n.attr_int("transA", 0) != 0, tb = n.attr_int("transB", 0) != 0;
  float alpha = n.attr_float("alpha", 1.f), beta = n.attr_float("beta", 1.f);
  int64_t M = ta ? a[1] : a[0], K = ta ? a[0] : a[1], N = tb ? b[0] : b[1];
  check((tb ? b[1] : b[0]) == K, n, "inner dimensions differ");
  Shape cshape = k.has_input(2) ? k.in_shape(2) : Shape{};
  bool has_c = k.has_input(2);
  // A constant transposed B (a fully connected layer's weights) is transposed once here.
  const ProductBlocks blocks(M, N, 1);
  std::shared_ptr<const std::vector<float>> b_const;
  if (tb && k.constant(1))
    b_const = std::make_shared<const std::vector<float>>(transposed(k.constant(1)->f32().data(), N, K));
  return make_fn(
      [=](const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) {
        // sgemm wants row-major A [M,K] and B [K,N]: transposed operands are copied.
        std::vector<float> a_t, b_t;
        const float* A = in[0]->f32().data();
        if (ta) A = (a_t = transposed(A, K, M)).data();
        const float* B = in[1]->f32().data();
        if (b_const)
          B = b_const->data();
        else if (tb)
          B = (b_t = transposed(B, N, K)).data();
        float* Y = out[0]->f32().data();
        pool.parallel_for(blocks.per_product(), [&](int64_t t) { blocks.run(t, M, N, K, A, K, B, N, Y, N, alpha); });
        if (has_c && in[2]) {
          std::vector<float> c = in[2]->to_f32();
          Shape cs = cshape;
          cs.insert(cs.begin(), 2 - cs.size(), 1);
          for (int64_t i = 0; i < M; ++i)
            for (int64_t j = 0; j < N; ++j)
              Y[i * N + j] += beta * c[(cs[0] == 1 ? 0 : i) * cs[1] + (cs[1] == 1 ? 0 : j)];
        }
      },
      M * N * K);
}

}  // namespace

void register_gemm_kernels(KernelRegistry& r) {
  r["MatMul"] = make_matmul;
  r["Gemm"] = make_gemm;
}

}  // namespace mixq::exec
