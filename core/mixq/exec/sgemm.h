// The executor's one dense matrix product (internal; used by Conv and MatMul):
//   C[M,N] = A[M,K] * B[K,N], all row-major with leading dimensions lda/ldb/ldc (in
//   floats); C is overwritten; C must not overlap A or B. Single-threaded and
//   deterministic (the same arguments give the same bits); callers split work into tasks
//   fixed by shape, so results do not depend on the thread count. Where an element sits
//   can change its summation order (Eigen's edge rows), so block boundaries must not
//   depend on anything but shapes.
// Natively (platform/sgemm_eigen.cpp): Eigen's GEBP, with AVX-512/FMA under -march=native.
// wasm (platform/sgemm_portable.cpp): a packed 4x8 micro-kernel in 4-float vectors.
#pragma once
#include <cstdint>

namespace mixq::exec {

void sgemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
           int64_t ldc);

// True for the portable micro-kernel (wasm, MIXQ_PORTABLE_FP), false for Eigen's.
extern const bool kSgemmIsPortable;

}  // namespace mixq::exec
