// Element-wise kernels writing into a dying input's buffer (the executor's in-place reuse):
// every broadcast pattern of an in-place binary op and an in-place unary op must give
// exactly the single IEEE operation per element (kernels have separate in-place loops so
// that clang vectorises them in wasm; see map_values in exec/kernel.h).
#include <catch2/catch.hpp>
#include <cmath>

#include "mixq/analysis.h"
#include "mixq/exec/executor.h"
#include "support/onnx_builder.h"

using namespace mixq;
using mixq::test::OnnxBuilder;

TEST_CASE("in-place element-wise chains equal per-element IEEE operations") {
  const Shape s{2, 3, 4, 37};  // odd inner size: vector bodies and scalar tails
  const int64_t n = shape_numel(s);
  std::vector<float> x(n), z(n);
  for (int64_t i = 0; i < n; ++i) {
    x[i] = float((uint32_t(i) * 2654435761u) % 2001u) / 100.f - 10.f;  // -10 .. 10
    z[i] = float((uint32_t(i) * 40503u) % 997u) / 100.f + 0.5f;        // 0.5 .. 10.5
  }
  const float k = 1.75f;
  auto w = [](int64_t i) { return 0.5f + 0.001f * static_cast<float>(i % 97); };  // OnnxBuilder::weight's values
  OnnxBuilder b;
  b.input("x", s).input("z", s).output("y");
  b.scalar("k", k).weight("w", s, 0.5f);
  b.node("Sub", {"k", "x"}, {"t1"});        // out == input 1, input 0 broadcast
  b.node("Div", {"t1", "z"}, {"t2"});       // out == input 0 (or 1: z dies too), both full
  b.node("Mul", {"w", "t2"}, {"t3"});       // out == input 1, input 0 full
  b.node("Relu", {"t3"}, {"t4"});           // unary in place
  b.node("Clip", {"t4", "", "k"}, {"t5"});  // unary in place, bounds as inputs
  b.node("Sub", {"t5", "k"}, {"y"});        // out == input 0, input 1 broadcast
  AnalyzedModel am = analyze_model(b.bytes(), {});
  Executor ex(am, ExecOptions{1});
  auto out = ex.run({{"x", Tensor::from_f32(s, x)}, {"z", Tensor::from_f32(s, z)}});
  auto y = out.at("y").to_f32();
  REQUIRE(y.size() == size_t(n));
  int64_t mismatches = 0;
  for (int64_t i = 0; i < n; ++i) {
    float v = (k - x[i]) / z[i];
    v = w(i) * v;
    v = v > 0.f ? v : 0.f;
    v = std::min(v, k);
    v = v - k;
    mismatches += (v != y[i]);
  }
  CHECK(mismatches == 0);
}
