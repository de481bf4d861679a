// sgemm natively: Eigen's GEBP. Row-major C = A B is the column-major product C^T = B^T A^T.
#include <Eigen/Core>

#include "mixq/exec/sgemm.h"

namespace mixq::exec {

void sgemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
           int64_t ldc) {
  using MatCM = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
  Eigen::Map<const MatCM, 0, Eigen::OuterStride<>> bt(B, N, K, Eigen::OuterStride<>(ldb));
  Eigen::Map<const MatCM, 0, Eigen::OuterStride<>> at(A, K, M, Eigen::OuterStride<>(lda));
  Eigen::Map<MatCM, 0, Eigen::OuterStride<>> ct(C, N, M, Eigen::OuterStride<>(ldc));
  ct.noalias() = bt * at;
}

const bool kSgemmIsPortable = false;

}  // namespace mixq::exec
