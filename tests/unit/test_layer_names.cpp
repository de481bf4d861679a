// TPU-MLIR layer naming rules (spec/tpu-mlir-compat.md section 1) on small built models.
#include <catch2/catch.hpp>
#include <set>

#include "mixq/analysis.h"
#include "support/onnx_builder.h"

using namespace mixq;
using mixq::test::OnnxBuilder;

namespace {
AnalyzedModel analyze(OnnxBuilder& b) {
  return analyze_model(b.bytes(), {});
}
std::set<std::string> names(const AnalyzedModel& am) {
  auto v = am.layers.names();
  return {v.begin(), v.end()};
}
}  // namespace

TEST_CASE("base rule: <first output>_<op_type>, bare input names, no weight layers") {
  OnnxBuilder b;
  b.input("images", {1, 3, 8, 8}).output("t");
  b.conv("images", "c", 3, 4);
  b.node("Sigmoid", {"c"}, {"s"});
  b.node("Transpose", {"s"}, {"t"});
  auto am = analyze(b);
  CHECK(names(am) == std::set<std::string>{"images", "c_Conv", "s_Sigmoid", "t_Transpose"});
  CHECK(am.layers.layers[0].is_input());
}

TEST_CASE("Relu and ReLU6 Clip fuse into a single-use producer and take its name") {
  OnnxBuilder b(13);
  b.input("x", {1, 3, 8, 8}).output("y").output("z");
  b.conv("x", "c1", 3, 4);
  b.node("Relu", {"c1"}, {"r1"});
  b.conv("r1", "c2", 4, 4);
  b.scalar("zero", 0.0f).scalar("six", 6.0f);
  b.node("Clip", {"c2", "zero", "six"}, {"y"});
  b.conv("r1", "c3", 4, 4);  // c3 is used twice: no fusion
  b.node("Relu", {"c3"}, {"z"});
  b.node("Sigmoid", {"c3"}, {"unused"});
  auto am = analyze(b);
  auto n = names(am);
  CHECK(n.count("r1_Relu"));
  CHECK_FALSE(n.count("c1_Conv"));
  CHECK(n.count("y_Clip"));
  CHECK(n.count("c3_Conv"));
  CHECK(n.count("z_Relu"));
  auto m = am.layers.resolve("c1_Conv");
  CHECK(m.how == NameMatch::How::Vanished);
  CHECK(am.layers.layers[m.layer].name == "r1_Relu");
  CHECK(am.layers.layers[am.layers.find("r1_Relu")].kind == "Conv");
}

TEST_CASE("SiLU takes the Mul's name; BN and bias Add fold into the Conv") {
  OnnxBuilder b(13);
  b.input("x", {1, 3, 8, 8}).output("m");
  b.conv("x", "c", 3, 4);
  for (const char* w : {"g", "bb", "mu", "var"}) b.weight(w, {4}, 1.0f);
  b.node("BatchNormalization", {"c", "g", "bb", "mu", "var"}, {"bn"});
  b.weight("bias", {1, 4, 1, 1});
  b.node("Add", {"bn", "bias"}, {"biased"});
  b.node("Sigmoid", {"biased"}, {"s"});
  b.node("Mul", {"biased", "s"}, {"m"});
  auto am = analyze(b);
  CHECK(names(am) == std::set<std::string>{"x", "c_Conv", "m_Mul"});
  CHECK(am.layers.layers[am.layers.find("m_Mul")].kind == "SiLU");
  CHECK(am.layers.resolve("s_Sigmoid").how == NameMatch::How::Vanished);
  CHECK(am.layers.resolve("bn_BatchNormalization").layer == am.layers.find("c_Conv"));
  CHECK(am.layers.resolve("biased").layer == am.layers.find("c_Conv"));  // ONNX tensor name
}

TEST_CASE("Identity, Dropout, Cast and identity reshapes vanish") {
  OnnxBuilder b(13);
  b.input("x", {1, 4}).output("y");
  b.node("Identity", {"x"}, {"i"});
  b.node("Relu", {"i"}, {"r"});
  b.weight_i64("shape", {1, 4});
  b.node("Reshape", {"r", "shape"}, {"rs"});
  b.node("Sigmoid", {"rs"}, {"y"});
  auto am = analyze(b);
  CHECK(names(am) == std::set<std::string>{"x", "r_Relu", "y_Sigmoid"});
  CHECK(am.layers.resolve("rs_Reshape").layer == am.layers.find("r_Relu"));
}

TEST_CASE("HardSwish from Add/Clip/Mul/Div and HardSigmoid from Add/Clip/Div") {
  OnnxBuilder b(13);
  b.input("x", {1, 4}).output("hs").output("hsig");
  b.scalar("three", 3.0f).scalar("zero", 0.0f).scalar("six", 6.0f);
  b.node("Add", {"x", "three"}, {"a"});
  b.node("Clip", {"a", "zero", "six"}, {"c"});
  b.node("Mul", {"x", "c"}, {"m"});
  b.node("Div", {"m", "six"}, {"hs"});
  b.node("Add", {"hs", "three"}, {"a2"});
  b.node("Clip", {"a2", "zero", "six"}, {"c2"});
  b.node("Div", {"c2", "six"}, {"hsig"});
  auto am = analyze(b);
  CHECK(names(am) == std::set<std::string>{"x", "hs_HardSwish", "hsig_HardSigmoid"});
  CHECK(am.layers.resolve("m_Mul").layer == am.layers.find("hs_HardSwish"));
}

TEST_CASE("shape sub-graphs fold into constants and give no layers") {
  OnnxBuilder b(13);
  b.input("x", {1, 3, 4, 4}).output("y");
  b.node("Shape", {"x"}, {"s"});
  b.weight_i64("i0", {0});
  b.node("Gather", {"s", "i0"}, {"n"});
  b.weight_i64("m1", {-1});
  b.node("Concat", {"n", "m1"}, {"target"});
  OnnxBuilder::attr_i(b.graph().mutable_node(2)[0], "axis", 0);
  b.node("Reshape", {"x", "target"}, {"y"});
  auto am = analyze(b);
  CHECK(names(am) == std::set<std::string>{"x", "y_Reshape"});
  CHECK(am.shapes.find("y")->shape == Shape{1, 48});
  CHECK(am.layers.resolve("target_Concat").how == NameMatch::How::Vanished);
  CHECK(am.layers.resolve("target_Concat").layer == -1);
}

TEST_CASE(".mlir loc names become the authority") {
  OnnxBuilder b(13);
  b.input("x", {1, 3, 8, 8}).output("y");
  b.conv("x", "c", 3, 4);
  b.node("Relu", {"c"}, {"y"});
  std::string mlir =
      "module attributes {module.name = \"m\"} {\n"
      "  %0 = \"top.Input\"(%arg0) : (tensor<1x3x8x8xf32>) -> tensor<1x3x8x8xf32> loc(#loc1)\n"
      "  %1 = \"top.Conv\"(%0) {do_relu = true} : (tensor<1x3x8x8xf32>) -> tensor<1x4x8x8xf32> loc(#loc2)\n"
      "}\n#loc1 = loc(\"x\")\n#loc2 = loc(\"c_Conv\")\n";
  AnalyzeOptions o;
  o.mlir_text = mlir;
  auto am = analyze_model(b.bytes(), o);
  CHECK(names(am) == std::set<std::string>{"x", "c_Conv"});
  CHECK(am.layers.resolve("y_Relu").layer == am.layers.find("c_Conv"));
  REQUIRE_THROWS_WITH(parse_mlir_names("no locations here", "m.mlir"), Catch::Contains("m.mlir"));
  CHECK(parse_mlir_names("loc(fused[\"a\", \"b\"]) loc(\"c\")", "f") == std::vector<std::string>{"a", "b", "c"});
}
