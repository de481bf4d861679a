// exec::sgemm (the packed micro-kernel: 16, 8 or 4 lanes by target) against a naive
// double-precision product: edge tiles (M, N not multiples of the tile), K beyond one
// k-block, N beyond one packed column block, and leading dimensions wider than the data
// (C's padding must stay untouched).
#include <catch2/catch.hpp>
#include <cmath>
#include <iterator>
#include <random>
#include <vector>

#include "mixq/exec/sgemm.h"
#include "support/random_values.h"

namespace {

std::vector<float> random_floats(size_t n, uint32_t seed) {
  return mixq::test::random_values(static_cast<int64_t>(n), seed);
}

}  // namespace

TEST_CASE("sgemm equals a naive product for edge shapes and strides") {
  constexpr float kPadding = 12345.f;
  struct Case {
    int64_t M, N, K, pad;
  };
  const Case cases[] = {{1, 1, 1, 0},     {3, 7, 5, 2},       {4, 8, 16, 0}, {5, 9, 513, 3},
                        {13, 300, 37, 1}, {64, 260, 1100, 0}, {2, 17, 0, 1}, {9, 33, 5, 0},
                        {8, 32, 512, 0},  {17, 65, 513, 2},   {7, 31, 3, 1}};
  uint32_t seed = 1;
  for (const Case& c : cases) {
    INFO("M=" << c.M << " N=" << c.N << " K=" << c.K << " extra leading dim=" << c.pad);
    int64_t lda = c.K + c.pad, ldb = c.N + c.pad, ldc = c.N + c.pad;
    auto A = random_floats(size_t(std::max<int64_t>(1, c.M * lda)), seed++);
    auto B = random_floats(size_t(std::max<int64_t>(1, c.K * ldb)), seed++);
    std::vector<float> C(size_t(c.M * ldc), kPadding);
    mixq::exec::sgemm(c.M, c.N, c.K, A.data(), lda, B.data(), ldb, C.data(), ldc);
    double max_err = 0, max_ref = 0;
    for (int64_t i = 0; i < c.M; ++i) {
      for (int64_t j = 0; j < ldc; ++j) {
        float got = C[size_t(i * ldc + j)];
        if (j >= c.N) {
          REQUIRE(got == kPadding);
          continue;
        }
        double ref = 0;
        for (int64_t k = 0; k < c.K; ++k) ref += double(A[size_t(i * lda + k)]) * B[size_t(k * ldb + j)];
        max_err = std::max(max_err, std::fabs(got - ref));
        max_ref = std::max(max_ref, std::fabs(ref));
      }
    }
    // float accumulation over K terms of magnitude <= 1: error bound ~ K * 2^-24 * sqrt-ish
    CHECK(max_err <= 1e-6 * std::max<double>(1.0, double(c.K)));
    if (c.K == 0) CHECK(max_ref == 0);
  }
}

TEST_CASE("sgemm is deterministic: the same arguments give the same bits") {
  const int64_t M = 37, N = 301, K = 700;
  auto A = random_floats(size_t(M * K), 7), B = random_floats(size_t(K * N), 8);
  std::vector<float> C1(size_t(M * N)), C2(size_t(M * N), 1.f);
  mixq::exec::sgemm(M, N, K, A.data(), K, B.data(), N, C1.data(), N);
  mixq::exec::sgemm(M, N, K, A.data(), K, B.data(), N, C2.data(), N);
  CHECK(C1 == C2);
}

TEST_CASE("sgemm sums each element in an order set by K alone: any split of rows and columns gives the same bits") {
  const int64_t M = 29, N = 301, K = 1030;  // edge tiles in both dimensions, three k-blocks
  auto A = random_floats(size_t(M * K), 9), B = random_floats(size_t(K * N), 10);
  std::vector<float> whole(size_t(M * N)), parts(size_t(M * N));
  mixq::exec::sgemm(M, N, K, A.data(), K, B.data(), N, whole.data(), N);
  const int64_t row_cuts[] = {0, 3, 10, 11, 29}, col_cuts[] = {0, 5, 40, 41, 200, 301};
  for (size_t r = 0; r + 1 < std::size(row_cuts); ++r)
    for (size_t c = 0; c + 1 < std::size(col_cuts); ++c) {
      const int64_t r0 = row_cuts[r], c0 = col_cuts[c];
      mixq::exec::sgemm(row_cuts[r + 1] - r0, col_cuts[c + 1] - c0, K, A.data() + r0 * K, K, B.data() + c0, N,
                        parts.data() + r0 * N + c0, N);
    }
  CHECK(whole == parts);
}
