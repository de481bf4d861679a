// Reproducible test data: n floats uniform in [lo, hi) from std::mt19937(seed).
#pragma once
#include <cstdint>
#include <random>
#include <vector>

namespace mixq::test {

inline std::vector<float> random_values(int64_t n, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = d(rng);
  return v;
}

}  // namespace mixq::test
