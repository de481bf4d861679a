// StudioSession: precision edits with closures and undo, qtable export in TPU-MLIR's
// generator format, session payload round trip, and errors that leave state unchanged.
#include <catch2/catch.hpp>

#include "mixq/error.h"
#include "mixq/studio_session.h"
#include "support/onnx_builder.h"

using namespace mixq;
using mixq::test::OnnxBuilder;

namespace {
// x -> conv a -> relu -> conv b -> y ; relu -> conv c -> z
std::vector<uint8_t> branching_model() {
  OnnxBuilder b;
  b.input("x", {1, 3, 8, 8}).output("y").output("z");
  b.conv("x", "a", 3, 4);
  b.node("Sigmoid", {"a"}, {"s"}, "sig");
  b.conv("s", "y", 4, 4);
  b.conv("s", "z", 4, 2);
  return b.bytes();
}
int layer(const StudioSession& s, const std::string& name) {
  int l = s.layers().find(name);
  REQUIRE(l >= 0);
  return l;
}
}  // namespace

TEST_CASE("session: precision edits, closures, undo/redo") {
  StudioSession s;
  auto bytes = branching_model();
  s.load_model(bytes, "branch.onnx");
  const int a = layer(s, "a_Conv"), sig = layer(s, "s_Sigmoid"), y = layer(s, "y_Conv"), z = layer(s, "z_Conv");
  CHECK(s.precision(a) == "INT8");
  s.set_precision_from(sig, "f16");
  CHECK(s.precision(a) == "INT8");
  CHECK(s.precision(sig) == "F16");
  CHECK(s.precision(y) == "F16");
  CHECK(s.precision(z) == "F16");
  CHECK(s.override_count() == 3);
  s.set_precision({z}, "BF16");
  CHECK(s.precision(z) == "BF16");
  REQUIRE(s.undo());
  CHECK(s.precision(z) == "F16");
  REQUIRE(s.redo());
  CHECK(s.precision(z) == "BF16");
  s.reset_precisions();
  CHECK(s.override_count() == 0);
  s.set_precision_until(y, "F32");
  CHECK(s.precision(a) == "F32");
  CHECK(s.precision(z) == "INT8");
  CHECK(s.ancestors(y).size() == 3);  // a, sig, y (the graph input excluded)
}

TEST_CASE("session: bad mode, bad layer and bad model leave the session unchanged") {
  StudioSession s;
  auto bytes = branching_model();
  s.load_model(bytes, "branch.onnx");
  const int a = layer(s, "a_Conv");
  s.set_precision({a}, "F16");
  CHECK_THROWS_WITH(s.set_precision({a}, "FP16"), Catch::Contains("unknown quantize mode 'FP16'"));
  CHECK_THROWS_AS(s.set_precision({9999}, "F16"), Error);
  CHECK_THROWS_WITH(s.set_chip("bm9999"), Catch::Contains("unknown chip 'bm9999'"));
  std::vector<uint8_t> junk = {1, 2, 3, 4, 5};
  CHECK_THROWS_AS(s.load_model(junk, "junk.onnx"), Error);
  CHECK(s.model_name() == "branch.onnx");
  CHECK(s.precision(a) == "F16");
  CHECK(s.chip() == "bm1684x");
}

TEST_CASE("session: qtable export uses TPU-MLIR's generator format") {
  StudioSession s;
  auto bytes = branching_model();
  s.load_model(bytes, "branch.onnx");
  s.set_chip("bm1688");
  s.set_precision_from(layer(s, "s_Sigmoid"), "F16");
  const std::string q = s.export_qtable("2026-01-01 00:00:00.000000");
  CHECK(q.rfind("# genetated time: 2026-01-01 00:00:00.000000\n# chip: bm1688  mix_mode: F16\n"
                "# number of F16 layer: 3\n###\n# op_name   quantize_mode\n",
                0) == 0);
  CHECK(q.find("s_Sigmoid F16\n") != std::string::npos);
  CHECK(q.find("a_Conv") == std::string::npos);
}

TEST_CASE("session: payload round trip and malformed payloads") {
  StudioSession s;
  auto bytes = branching_model();
  s.load_model(bytes, "branch.onnx");
  s.set_chip("cv183x");
  s.set_precision({layer(s, "y_Conv")}, "BF16");
  const std::string payload = s.serialize();
  for (char c : payload) CHECK((std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'));

  StudioSession t;
  t.load_model(bytes, "branch.onnx");
  CHECK(t.restore(payload).empty());
  CHECK(t.chip() == "cv183x");
  CHECK(t.precision(layer(t, "y_Conv")) == "BF16");
  CHECK(t.override_count() == 1);

  CHECK_THROWS_WITH(t.restore("!!!"), Catch::Contains("invalid character"));
  CHECK_THROWS_WITH(t.restore(payload.substr(0, payload.size() / 2)), Catch::Contains("zlib"));
  CHECK(t.precision(layer(t, "y_Conv")) == "BF16");
}

TEST_CASE("base64url round trip") {
  for (size_t n = 0; n < 10; ++n) {
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = uint8_t(251 - 37 * i);
    CHECK(base64url_decode(base64url_encode(v), "t") == v);
  }
}

TEST_CASE("session: the chip validates and adapts precisions (ChipProfile)") {
  StudioSession s;
  auto bytes = branching_model();
  s.load_model(bytes, "branch.onnx");
  const int a = layer(s, "a_Conv"), y = layer(s, "y_Conv");
  s.set_precision({a}, "F16");
  s.set_precision({y}, "W8F16");
  CHECK(s.set_chip("cv183x") == 2);  // F16 runs as BF16; W8F16 is not a cv18xx mode -> its float type
  CHECK(s.precision(a) == "BF16");
  CHECK(s.precision(y) == "BF16");
  s.set_precision({a}, "F32");  // TPU-MLIR turns F32 into BF16 on cv18xx
  CHECK(s.precision(a) == "BF16");
  s.set_chip("bm1684");
  CHECK(s.precision(a) == "F32");
  CHECK(s.float_mode() == "F32");
  CHECK_THROWS_WITH(s.set_precision({a}, "F16"), Catch::Contains("bm1684 cannot run F16"));
  CHECK(s.precision(a) == "F32");
}

TEST_CASE("session: reference model is kept until the next model") {
  StudioSession s;
  auto bytes = branching_model();
  s.load_model(bytes, "branch.onnx");
  CHECK(s.reference() == nullptr);
  s.load_reference(bytes, "old.onnx");
  REQUIRE(s.reference() != nullptr);
  CHECK(s.reference()->source_name == "old.onnx");
  std::vector<uint8_t> junk = {7, 7, 7};
  CHECK_THROWS_AS(s.load_reference(junk, "junk.onnx"), Error);
  CHECK(s.reference()->source_name == "old.onnx");
  s.load_model(bytes, "branch.onnx");
  CHECK(s.reference() == nullptr);
}

namespace {
// x [1,3,?,?] -> conv a -> Reshape(a, Concat(Gather(Shape(a), 0), -1)) -> y. The shape
// arithmetic only folds away (as TPU-MLIR does) once the input's dims are known.
std::vector<uint8_t> dynamic_model() {
  OnnxBuilder b(13);
  b.input("x", {1, 3, -1, -1}).output("y");
  b.conv("x", "a", 3, 4);
  b.node("Shape", {"a"}, {"s"});
  b.weight_i64("i0", {0});
  b.node("Gather", {"s", "i0"}, {"n"});
  b.weight_i64("m1", {-1});
  b.node("Concat", {"n", "m1"}, {"target"});
  OnnxBuilder::attr_i(b.graph().mutable_node(3)[0], "axis", 0);
  b.node("Reshape", {"a", "target"}, {"y"});
  return b.bytes();
}
int first_of_kind(const StudioSession& s, const std::string& kind) {
  const auto& L = s.layers().layers;
  for (size_t i = 0; i < L.size(); ++i)
    if (L[i].kind == kind) return int(i);
  return -1;
}
}  // namespace

TEST_CASE("session: input shapes re-analyze; edits follow their layers, vanished ones are reported") {
  StudioSession s;
  auto bytes = dynamic_model();
  s.load_model(bytes, "dyn.onnx");
  CHECK(s.input_shapes_text() == "[[1,3,?,?]]");
  CHECK(s.unknown_input_dims() == 2);
  CHECK(s.layers_with_unknown_shape() > 0);
  const size_t dynamic_layers = s.layers().layers.size();
  const int concat = first_of_kind(s, "Concat");
  REQUIRE(concat >= 0);  // the shape arithmetic is still there
  const std::string concat_name = s.layers().layers[concat].name;
  s.set_precision({layer(s, "a_Conv")}, "F16");
  s.set_precision({concat}, "F32");
  s.set_precision({layer(s, "y_Reshape")}, "BF16");

  CHECK_THROWS_WITH(s.set_input_shapes("[[1,3,?,?]]"), Catch::Contains("'?'"));
  CHECK_THROWS_WITH(s.set_input_shapes("[[1,3,8,8],[1,2]]"), Catch::Contains("2 shapes given"));
  CHECK_THROWS_AS(s.set_input_shapes("[[1,3,8"), Error);
  CHECK(s.layers().layers.size() == dynamic_layers);  // failures change nothing
  CHECK(s.precision(concat) == "F32");

  const auto dropped = s.set_input_shapes("[[1,3,8,8]]");
  CHECK(dropped == std::vector<std::string>{concat_name});
  CHECK(s.input_shapes_text() == "[[1,3,8,8]]");
  CHECK(s.unknown_input_dims() == 0);
  CHECK(s.layers_with_unknown_shape() == 0);
  CHECK(s.layers().layers.size() < dynamic_layers);
  CHECK(s.layers().layers[layer(s, "y_Reshape")].shape == Shape{1, 256});
  CHECK(s.precision(layer(s, "a_Conv")) == "F16");
  CHECK(s.precision(layer(s, "y_Reshape")) == "BF16");
  CHECK(s.override_count() == 2);
  REQUIRE(s.undo());  // the history was carried over too: y_Reshape back to INT8
  CHECK(s.precision(layer(s, "y_Reshape")) == "INT8");
  CHECK(s.precision(layer(s, "a_Conv")) == "F16");
  REQUIRE(s.redo());

  // The session link carries the shapes: a fresh session re-analyzes before precisions.
  StudioSession t;
  t.load_model(bytes, "dyn.onnx");
  CHECK(t.restore(s.serialize()).empty());
  CHECK(t.input_shapes_text() == "[[1,3,8,8]]");
  CHECK(t.precision(layer(t, "y_Reshape")) == "BF16");
  // Loading with shapes directly gives the same analysis.
  StudioSession u;
  u.load_model(bytes, "dyn.onnx", parse_input_shapes("[[1,3,8,8]]"));
  CHECK(u.layers().names() == s.layers().names());
  CHECK(u.input_shapes() == std::vector<Shape>{{1, 3, 8, 8}});
}

TEST_CASE("session: a top .mlir renames layers; edits follow; unmatched names are reported") {
  OnnxBuilder b(13);
  b.input("x", {1, 3, 8, 8}).output("y");
  b.conv("x", "c", 3, 4);
  b.node("Relu", {"c"}, {"y"});
  auto bytes = b.bytes();
  StudioSession s;
  s.load_model(bytes, "m.onnx");
  const int conv = first_of_kind(s, "Conv");
  REQUIRE(conv >= 0);
  const std::string predicted = s.layers().layers[conv].name;
  s.set_precision({conv}, "F16");
  const std::string mlir = "#loc1 = loc(\"x\")\n#loc2 = loc(\"c_Conv\")\n#loc3 = loc(\"ghost_Conv\")\n";
  CHECK_THROWS_WITH(s.set_mlir(std::string("no locations here"), "bad.mlir"), Catch::Contains("bad.mlir"));
  CHECK_FALSE(s.has_mlir());
  CHECK(s.set_mlir(mlir, "top.mlir").empty());
  CHECK(s.has_mlir());
  CHECK(s.mlir_source() == "top.mlir");
  REQUIRE(s.layers().find("c_Conv") >= 0);
  CHECK(s.precision(s.layers().find("c_Conv")) == "F16");
  CHECK(s.layers().mlir_unmatched == std::vector<std::string>{"ghost_Conv"});
  bool warned = false;
  for (const auto& w : s.model().warnings) warned |= w.find("ghost_Conv") != std::string::npos;
  CHECK(warned);
  CHECK(s.set_mlir(std::nullopt).empty());  // back to the predicted names
  CHECK_FALSE(s.has_mlir());
  REQUIRE(s.layers().find(predicted) >= 0);
  CHECK(s.precision(s.layers().find(predicted)) == "F16");
}
