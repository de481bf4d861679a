// Seeded corrupted-model suite (in the spirit of llama.cpp's test-gguf): truncations,
// bit flips, byte splices and field-level corruptions of real and built models. Every
// case must end in success or a mixq::Error with a message — never a crash, hang or
// unbounded allocation. Runs natively and in wasm.
#include <catch2/catch.hpp>
#include <random>

#include "mixq/analysis.h"
#include "mixq/error.h"
#include "support/onnx_builder.h"

using namespace mixq;
using mixq::test::OnnxBuilder;

namespace {

// Returns true when analysis succeeded, false on mixq::Error (with a non-empty message).
bool analyze_or_error(const std::vector<uint8_t>& bytes, std::string* message = nullptr) {
  try {
    AnalyzeOptions o;
    o.load.source_name = "corrupt.onnx";
    analyze_model(bytes, o);
    return true;
  } catch (const Error& e) {
    if (message) *message = e.what();
    REQUIRE(std::string(e.what()).size() > 10);
    return false;
  }
}

std::vector<uint8_t> small_model() {
  OnnxBuilder b(11);
  b.input("x", {1, 3, 16, 16}).output("y");
  b.conv("x", "c1", 3, 8);
  b.node("Relu", {"c1"}, {"r1"});
  b.node("MaxPool", {"r1"}, {"p1"});
  OnnxBuilder::attr_ints(b.graph().mutable_node(2)[0], "kernel_shape", {2, 2});
  OnnxBuilder::attr_ints(b.graph().mutable_node(2)[0], "strides", {2, 2});
  b.node("Shape", {"p1"}, {"s"});
  b.weight_i64("idx0", {0});
  b.node("Gather", {"s", "idx0"}, {"n"});
  b.weight_i64("minus1", {-1});
  b.node("Concat", {"n", "minus1"}, {"shape2"});
  OnnxBuilder::attr_i(b.graph().mutable_node(5)[0], "axis", 0);
  b.node("Reshape", {"p1", "shape2"}, {"flat"});
  b.weight("fc", {512, 4});
  b.node("MatMul", {"flat", "fc"}, {"y"});
  return b.bytes();
}

void mutate_and_check(const std::vector<uint8_t>& original, uint32_t seed, int rounds) {
  std::mt19937 rng(seed);
  int ok = 0, errors = 0;
  for (int r = 0; r < rounds; ++r) {
    std::vector<uint8_t> bytes = original;
    switch (rng() % 4) {
      case 0:  // truncate
        bytes.resize(rng() % bytes.size());
        break;
      case 1:  // flip bits
        for (int k = 0, n = 1 + rng() % 8; k < n; ++k) bytes[rng() % bytes.size()] ^= uint8_t(1u << (rng() % 8));
        break;
      case 2:  // overwrite a run with random bytes
      {
        size_t at = rng() % bytes.size(), len = 1 + rng() % 16;
        for (size_t k = at; k < std::min(bytes.size(), at + len); ++k) bytes[k] = uint8_t(rng());
        break;
      }
      default:  // duplicate a slice (shifts every later field)
      {
        size_t at = rng() % bytes.size(), len = 1 + rng() % 64;
        std::vector<uint8_t> slice(bytes.begin() + at, bytes.begin() + std::min(bytes.size(), at + len));
        bytes.insert(bytes.begin() + rng() % bytes.size(), slice.begin(), slice.end());
      }
    }
    (analyze_or_error(bytes) ? ok : errors)++;
  }
  INFO("ok=" << ok << " errors=" << errors);
  CHECK(ok + errors == rounds);
  CHECK(errors > 0);  // the corruptions must actually be noticed
}

}  // namespace

TEST_CASE("seeded corruptions of a built model never crash", "[parsers]") {
  auto bytes = small_model();
  REQUIRE(analyze_or_error(bytes));
  mutate_and_check(bytes, 1234, 600);
}

TEST_CASE("seeded corruptions of real models never crash", "[parsers]") {
  for (const char* name : {"models/mnist.onnx", "models/fastestdet.onnx"}) {
    MIXQ_REQUIRE_SHARED(bytes, name);
    REQUIRE(analyze_or_error(bytes));
    mutate_and_check(bytes, 42, 120);
  }
}

TEST_CASE("field-level corruptions give named errors", "[parsers]") {
  auto check = [](const std::function<void(OnnxBuilder&)>& corrupt, const std::string& expect) {
    OnnxBuilder b(13);
    b.input("x", {1, 3, 8, 8}).output("y");
    b.conv("x", "y", 3, 4);
    corrupt(b);
    std::string msg;
    REQUIRE_FALSE(analyze_or_error(b.bytes(), &msg));
    INFO(msg);
    CHECK(msg.find(expect) != std::string::npos);
  };
  check([](OnnxBuilder& b) { b.graph().mutable_initializer(0)->set_data_type(7); }, "int64_data");
  check([](OnnxBuilder& b) { b.graph().mutable_initializer(0)->set_dims(0, -4); }, "negative");
  auto replace_weight = [](OnnxBuilder& b, std::vector<int64_t> dims) {
    auto* t = b.graph().mutable_initializer(0);
    t->clear_dims();
    t->clear_float_data();
    int64_t n = 1;
    for (int64_t d : dims) {
      t->add_dims(d);
      n *= d;
    }
    for (int64_t i = 0; i < n; ++i) t->add_float_data(0.1f);
  };
  check([&](OnnxBuilder& b) { replace_weight(b, {4, 5, 3, 3}); }, "channels");
  check([&](OnnxBuilder& b) { replace_weight(b, {4}); }, "weight rank");
  check([](OnnxBuilder& b) { b.graph().mutable_node(0)->set_input(0, "ghost"); }, "ghost");
  check([](OnnxBuilder& b) { b.graph().mutable_node(0)->clear_op_type(); }, "op_type");
  check(
      [](OnnxBuilder& b) {
        auto* a = b.graph().mutable_node(0)->mutable_attribute(0);  // kernel_shape as a float
        a->set_type(onnx::AttributeProto::FLOAT);
        a->clear_ints();
        a->set_f(3.0f);
      },
      "kernel_shape");
  check(
      [](OnnxBuilder& b) {
        auto* a = b.graph().mutable_node(0)->mutable_attribute(1);  // pads of the wrong length
        a->clear_ints();
        a->add_ints(1);
      },
      "pads");
  check([](OnnxBuilder& b) { b.graph().mutable_output(0)->set_name("missing_output"); }, "missing_output");
}

TEST_CASE("input shape overrides are checked", "[parsers]") {
  OnnxBuilder b(13);
  b.input("x", {1, 3, 8, 8}).output("y");
  b.conv("x", "y", 3, 4);
  AnalyzeOptions o;
  o.input_shapes = {{1, 3, 8}};
  REQUIRE_THROWS_WITH(analyze_model(b.bytes(), o), Catch::Contains("rank"));
  o.input_shapes = {{1, 5, 8, 8}};
  REQUIRE_THROWS_WITH(analyze_model(b.bytes(), o), Catch::Contains("channels"));
  REQUIRE_THROWS_WITH(parse_input_shapes("[[1,3,x]]"), Catch::Contains("character 7"));
  CHECK(parse_input_shapes("[[1,3,640,640],[1,10]]") == std::vector<Shape>{{1, 3, 640, 640}, {1, 10}});
  CHECK(parse_input_shapes("[1,2]") == std::vector<Shape>{{1, 2}});
}
