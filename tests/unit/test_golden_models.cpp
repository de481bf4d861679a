// Golden tests on real models: tensor shapes and TPU-MLIR layer names against values
// computed without mixq (tools/golden/make_golden.py: onnxruntime-node for shapes, a
// plain independent re-implementation of the naming rules for names).
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "mixq/analysis.h"
#include "support/onnx_builder.h"

using namespace mixq;

namespace {

void check_golden(const std::string& golden_name) {
  std::ifstream f(std::string(MIXQ_SOURCE_DIR) + "/tests/golden/" + golden_name + ".json");
  REQUIRE(f.good());
  nlohmann::json g = nlohmann::json::parse(f);
  std::string model_path = g["model"].get<std::string>();
  std::string full = std::string(MIXQ_SOURCE_DIR) + "/" + model_path;
  std::vector<uint8_t> bytes;
  if (!mixq::test::read_bytes(full, bytes)) {
    WARN("SKIPPED: " << full << " is absent (run tools/setup for npm models; ../shared for shared ones)");
    return;
  }
  AnalyzeOptions o;
  o.load.source_name = model_path;
  for (const auto& s : g["input_shapes"]) o.input_shapes.push_back(s.get<Shape>());
  AnalyzedModel am = analyze_model(bytes, o);
  CHECK(am.model.graph.nodes.size() + am.model.graph.constant_nodes.size() == g["onnx_nodes"].get<size_t>());

  // every float tensor onnxruntime produced has the same shape in mixq
  size_t compared = 0;
  for (const auto& [name, dims] : g["float_tensor_shapes"].items()) {
    const ValueState* v = am.shapes.find(name);
    INFO(golden_name << " tensor " << name);
    REQUIRE(v != nullptr);
    REQUIRE(v->rank_known);
    CHECK(v->shape == dims.get<Shape>());
    ++compared;
  }
  CHECK(compared > 0);

  // the layer names agree with the independent prediction
  std::set<std::string> expected, got;
  for (const auto& n : g["layer_names"]) expected.insert(n.get<std::string>());
  for (const auto& l : am.layers.layers) got.insert(l.name);
  std::vector<std::string> missing, extra;
  for (const auto& n : expected)
    if (!got.count(n)) missing.push_back(n);
  for (const auto& n : got)
    if (!expected.count(n)) extra.push_back(n);
  INFO(golden_name << ": missing " << missing.size() << " (e.g. " << (missing.empty() ? "" : missing[0]) << "), extra "
                   << extra.size() << " (e.g. " << (extra.empty() ? "" : extra[0]) << ")");
  CHECK(missing.empty());
  CHECK(extra.empty());
  CHECK(am.layers.layers.size() == expected.size());  // no duplicate names either
}

}  // namespace

TEST_CASE("golden: mnist") {
  check_golden("mnist");
}
TEST_CASE("golden: fastestdet") {
  check_golden("fastestdet");
}
TEST_CASE("golden: yolov5n-0.5-face") {
  check_golden("yolov5n-0.5-face");
  MIXQ_REQUIRE_SHARED(bytes, "models/yolov5n-0.5-face.onnx");
  AnalyzedModel am = analyze_model(bytes, {});
  // the detection head conv of stride 8 and a SiLU named after its Mul
  REQUIRE(am.layers.find("949_Conv") >= 0);
  CHECK(am.layers.layers[am.layers.find("949_Conv")].shape == Shape{1, 48, 80, 80});
  int silu = am.layers.find("391_Mul");
  REQUIRE(silu >= 0);
  CHECK(am.layers.layers[silu].kind == "SiLU");
  CHECK(am.layers.resolve("390_Sigmoid").how == NameMatch::How::Vanished);
  CHECK(am.layers.resolve("390_Sigmoid").layer == silu);
}
TEST_CASE("golden: st_mobilenet_v2") {
  check_golden("st_mobilenet_v2_0.35_128_tfs");
}
TEST_CASE("golden: PP-OCRv4 det") {
  check_golden("ch_PP-OCRv4_det_infer");
}
TEST_CASE("golden: PP-OCRv4 rec") {
  check_golden("ch_PP-OCRv4_rec_infer");
}
TEST_CASE("golden: PP-OCR cls") {
  check_golden("ch_ppocr_mobile_v2.0_cls_infer");
}
