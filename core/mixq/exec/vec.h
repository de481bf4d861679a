// GCC/Clang vector types in kernels that compile to AVX natively and to wasm SIMD128
// without intrinsics: unaligned loads and stores (memcpy, compiled to one vector move).
#pragma once
#include <cstring>

namespace mixq::exec {

template <class V>
inline V load_unaligned(const float* p) {
  V v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <class V>
inline void store_unaligned(float* p, const V& v) {
  std::memcpy(p, &v, sizeof v);
}

}  // namespace mixq::exec
