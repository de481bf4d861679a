// Real models vs onnxruntime: for every model listed by the ctest fixture
// tests/exec/make_ort_refs.sh (shared models + PaddleOCR det/rec/cls), the executor's
// outputs on the same input must reach cosine >= 0.99999 and max|diff| <= 1e-4 * max|ref|.
// Hidden tag: run by the ctest entries exec_vs_ort_native / exec_vs_ort_wasm, which
// require the fixture. Also a small always-on real-model check (mnist, self-consistency).
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "mixq/analysis.h"
#include "mixq/exec/executor.h"
#include "mixq/npz.h"
#include "support/exec_refs.h"
#include "support/onnx_builder.h"

using namespace mixq;

namespace {
constexpr double kMinCosine = 0.99999;
constexpr double kMaxDiffOfMaxRef = 1e-4;

struct Similarity {
  double cosine = 0, max_diff = 0, max_ref = 0;
};
Similarity similarity(const Tensor& got, const Tensor& ref) {
  auto g = got.to_f64(), r = ref.to_f64();
  Similarity s;
  double dot = 0, ng = 0, nr = 0;
  for (size_t i = 0; i < r.size() && i < g.size(); ++i) {
    dot += g[i] * r[i];
    ng += g[i] * g[i];
    nr += r[i] * r[i];
    s.max_diff = std::max(s.max_diff, std::fabs(g[i] - r[i]));
    s.max_ref = std::max(s.max_ref, std::fabs(r[i]));
  }
  s.cosine = (ng == 0 && nr == 0) ? 1.0 : dot / std::sqrt(ng * nr);
  return s;
}
}  // namespace

TEST_CASE("executor equals onnxruntime on every shared and PaddleOCR model", "[.exec_ort]") {
  int models = test::for_each_exec_ref_model([](test::ExecRefModel& m) {
    Executor ex(m.am);
    auto outputs = ex.run(m.inputs);
    REQUIRE(m.refs.size() == outputs.size());
    for (const auto& [key, ref] : m.refs) {
      INFO("output " << key);
      REQUIRE(outputs.count(key) == 1);
      REQUIRE(outputs.at(key).shape() == ref.shape());
      Similarity s = similarity(outputs.at(key), ref);
      std::printf("exec-vs-ort %-36s %-24s cosine=%.9f max_diff=%.3e max_ref=%.3e\n", m.name.c_str(), key.c_str(),
                  s.cosine, s.max_diff, s.max_ref);
      CHECK(s.cosine >= kMinCosine);
      CHECK(s.max_diff <= kMaxDiffOfMaxRef * s.max_ref);
    }
  });
  CHECK(models >= 3);
}

TEST_CASE("mnist runs and every tapped tensor has its inferred shape") {
  MIXQ_REQUIRE_SHARED(bytes, "models/mnist.onnx");
  AnalyzedModel am = analyze_model(bytes, {});
  Executor ex(am);
  std::vector<float> x(28 * 28);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float((i * 37) % 255) / 255.f;
  int tapped = 0;
  auto out = ex.run({{"Input3", Tensor::from_f32({1, 1, 28, 28}, x)}}, [&](const std::string& name, const Tensor& t) {
    INFO(name);
    CHECK(t.shape() == am.shapes.find(name)->shape);
    ++tapped;
  });
  CHECK(tapped > 5);
  REQUIRE(out.size() == 1);
  auto y = out.begin()->second.to_f32();
  REQUIRE(y.size() == 10);
  for (float v : y) CHECK(std::isfinite(v));
}
