// PyRandom: CPython's `random` module, bit for bit, for the parts run_calibration.py uses.
//
// Contract: PyRandom(seed) equals `random.seed(seed)` for a Python int seed (CPython 3:
// init_by_array on the 32-bit little-endian chunks of abs(seed), at least one chunk);
// getrandbits(k) equals random.getrandbits(k) for k <= 32; randbelow(n) equals
// random._randbelow (getrandbits(n.bit_length()) rejection sampling); shuffle() equals
// random.shuffle(x) (Python >= 3.11 signature: Fisher-Yates from the end, j = randbelow(i+1)).
// So DataSelector's `random.seed(1684); random.shuffle(files)` picks the same files.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace mixq::calib {

class PyRandom {
 public:
  explicit PyRandom(uint64_t seed);
  uint32_t genrand_uint32();
  uint32_t getrandbits(int k);     // 1 <= k <= 32
  uint64_t randbelow(uint64_t n);  // n >= 1, n < 2^32
  double random();                 // random.random(): 53-bit float in [0,1)

  template <typename T>
  void shuffle(std::vector<T>& x) {
    for (size_t i = x.size(); i-- > 1;) {
      size_t j = static_cast<size_t>(randbelow(i + 1));
      std::swap(x[i], x[j]);
    }
  }

 private:
  void init_genrand(uint32_t s);
  void init_by_array(const std::vector<uint32_t>& key);
  std::array<uint32_t, 624> mt_{};
  int mti_ = 625;
};

}  // namespace mixq::calib
