// The executor's one dense matrix product (internal; used by Conv and MatMul):
//   C[M,N] = A[M,K] * B[K,N], all row-major with leading dimensions lda/ldb/ldc (in
//   floats); C is overwritten; C must not overlap A or B. Single-threaded and
//   deterministic: each C[i,j] is summed over k in an order set by K alone, so any split
//   of the rows and columns into calls gives the same bits.
// One packed micro-kernel (sgemm.cpp) in the target's vectors: 16 lanes under AVX-512,
// 8 under AVX2+FMA, 4 in wasm and MIXQ_PORTABLE_FP builds.
#pragma once
#include <cstdint>

namespace mixq::exec {

void sgemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
           int64_t ldc);

// Floats per vector of the micro-kernel: 4 in wasm and MIXQ_PORTABLE_FP builds.
extern const int kSgemmLanes;

}  // namespace mixq::exec
