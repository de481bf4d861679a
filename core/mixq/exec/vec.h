// GCC/Clang vector types in kernels that compile to AVX natively and to wasm SIMD128
// without intrinsics: unaligned loads and stores (memcpy, compiled to one vector move).
#pragma once
#include <cstring>
#if defined(__wasm_simd128__)
#include <wasm_simd128.h>
#elif defined(__SSE4_1__)
#include <immintrin.h>
#endif

namespace mixq::exec {

// Floats per hardware vector register: 16 under AVX-512, 8 under AVX2 + FMA, else 4 (wasm
// SIMD128, MIXQ_PORTABLE_FP's SSE). Register tiles are sized from it: a tile of wider
// vectors than the target's is split into several registers per vector and spills
// (V8 gives a wasm function 15 usable SIMD registers).
#if defined(__AVX512F__)
inline constexpr int kRegisterLanes = 16;
#elif defined(__AVX2__) && defined(__FMA__)
inline constexpr int kRegisterLanes = 8;
#else
inline constexpr int kRegisterLanes = 4;
#endif
typedef float VecReg __attribute__((vector_size(kRegisterLanes * sizeof(float))));

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

// Whether any lane of a vector comparison's result (true = -1) is set: one test
// instruction (a lane-by-lane reduction compiles to a dozen extracts).
template <class M>
inline bool any_true(M m) {
#if defined(__AVX512F__)
  if constexpr (sizeof(M) == 64) return _mm512_test_epi32_mask((__m512i)m, (__m512i)m) != 0;
#endif
#if defined(__AVX__)
  if constexpr (sizeof(M) == 32) return !_mm256_testz_si256((__m256i)m, (__m256i)m);
#endif
#if defined(__wasm_simd128__)
  if constexpr (sizeof(M) == 16) return wasm_v128_any_true((v128_t)m);
#elif defined(__SSE4_1__)
  if constexpr (sizeof(M) == 16) return !_mm_testz_si128((__m128i)m, (__m128i)m);
#endif
  bool any = false;
  for (size_t k = 0; k < sizeof(M) / sizeof(m[0]); k++) any |= m[k] != 0;
  return any;
}

// Bit k set when lane k of a vector comparison's result (true = -1) is set.
template <class M>
inline unsigned lane_bits(M m) {
  static_assert(sizeof(M) / sizeof(m[0]) <= 32);
#if defined(__AVX512F__)
  if constexpr (sizeof(M) == 64) return _mm512_test_epi32_mask((__m512i)m, (__m512i)m);
#endif
#if defined(__AVX__)
  if constexpr (sizeof(M) == 32) return static_cast<unsigned>(_mm256_movemask_ps((__m256)m));
#endif
#if defined(__wasm_simd128__)
  if constexpr (sizeof(M) == 16) return static_cast<unsigned>(wasm_i32x4_bitmask((v128_t)m));
#elif defined(__SSE4_1__)
  if constexpr (sizeof(M) == 16) return static_cast<unsigned>(_mm_movemask_ps((__m128)m));
#endif
  unsigned bits = 0;
  for (size_t k = 0; k < sizeof(M) / sizeof(m[0]); k++) bits |= static_cast<unsigned>(m[k] != 0) << k;
  return bits;
}

#if defined(__wasm_simd128__)
// op(x, y) on each 4-lane part of a and b.
template <class V, class Op>
inline V per_v128(const V& a, const V& b, Op op) {
  static_assert(sizeof(V) % 16 == 0);
  V r;
  for (unsigned k = 0; k < sizeof(V) / 16; k++) {
    v128_t x, y;
    std::memcpy(&x, reinterpret_cast<const char*>(&a) + 16 * k, 16);
    std::memcpy(&y, reinterpret_cast<const char*>(&b) + 16 * k, 16);
    const v128_t m = op(x, y);
    std::memcpy(reinterpret_cast<char*>(&r) + 16 * k, &m, 16);
  }
  return r;
}
#endif

// Per lane `b < a ? b : a` (clamp_above) and `a < b ? b : a` (clamp_below): a NaN in `a`
// stays NaN. In wasm one pmin/pmax per 4 lanes; the compiler's own choice for the ternary,
// f32x4.min/max (IEEE minimum semantics), costs about 8 instructions each in V8.
template <bool kAbove, class V>
inline V clamp_lanes(V a, V b) {
#if defined(__wasm_simd128__)
  return per_v128(a, b, [](v128_t x, v128_t y) { return kAbove ? wasm_f32x4_pmin(x, y) : wasm_f32x4_pmax(x, y); });
#else
  if constexpr (kAbove) return b < a ? b : a;
  return a < b ? b : a;
#endif
}
template <class V>
inline V clamp_above(V a, V b) {
  return clamp_lanes<true>(a, b);
}
template <class V>
inline V clamp_below(V a, V b) {
  return clamp_lanes<false>(a, b);
}

}  // namespace mixq::exec
