// Model loading: structure, Constant nodes as weights, topological order, and the
// errors a user file can trigger.
#include <catch2/catch.hpp>

#include "mixq/error.h"
#include "mixq/model.h"
#include "support/onnx_builder.h"

using namespace mixq;
using mixq::test::OnnxBuilder;

TEST_CASE("load_onnx keeps inputs, outputs, weights and nodes", "[parsers]") {
  OnnxBuilder b;
  b.input("x", {1, 3, 8, 8}).output("y");
  b.conv("x", "c", 3, 4);
  b.node("Relu", {"c"}, {"y"}, "relu0");
  Model m = load_onnx(b.bytes());
  REQUIRE(m.opset() == 13);
  REQUIRE(m.graph.inputs.size() == 1);
  CHECK(m.graph.inputs[0].dims == Shape{1, 3, 8, 8});
  CHECK(m.graph.nodes.size() == 2);
  CHECK(m.graph.is_weight("c_w"));
  CHECK(m.graph.weights.at("c_w").shape() == Shape{4, 3, 3, 3});
  CHECK(m.graph.producer("y") == 1);
}

TEST_CASE("Constant nodes become weights and keep their node name", "[parsers]") {
  OnnxBuilder b;
  b.input("x", {1, 4}).output("y");
  auto& c = b.node("Constant", {}, {"k"}, "const_k");
  auto* a = c.add_attribute();
  a->set_name("value");
  a->set_type(onnx::AttributeProto::TENSOR);
  a->mutable_t()->set_data_type(1);
  a->mutable_t()->add_dims(4);
  for (int i = 0; i < 4; ++i) a->mutable_t()->add_float_data(float(i));
  b.node("Add", {"x", "k"}, {"y"});
  Model m = load_onnx(b.bytes());
  REQUIRE(m.graph.is_weight("k"));
  CHECK(m.graph.constant_nodes.at("k") == "const_k");
  CHECK(m.graph.weights.at("k").to_f32() == std::vector<float>{0, 1, 2, 3});
  CHECK(m.graph.nodes.size() == 1);
}

TEST_CASE("nodes out of order are sorted topologically", "[parsers]") {
  OnnxBuilder b;
  b.input("x", {1, 4}).output("z");
  b.node("Relu", {"y"}, {"z"}, "second");
  b.node("Relu", {"x"}, {"y"}, "first");
  Model m = load_onnx(b.bytes());
  CHECK(m.graph.nodes[0].name == "first");
  CHECK(m.graph.nodes[1].name == "second");
}

TEST_CASE("structural errors name what is wrong", "[parsers]") {
  SECTION("cycle") {
    OnnxBuilder b;
    b.input("x", {1}).output("b");
    b.node("Add", {"x", "b"}, {"a"}, "n1");
    b.node("Relu", {"a"}, {"b"}, "n2");
    REQUIRE_THROWS_WITH(load_onnx(b.bytes()), Catch::Contains("cycle") && Catch::Contains("n1"));
  }
  SECTION("dangling input") {
    OnnxBuilder b;
    b.input("x", {1}).output("y");
    b.node("Add", {"x", "nowhere"}, {"y"}, "adder");
    REQUIRE_THROWS_WITH(load_onnx(b.bytes()), Catch::Contains("nowhere") && Catch::Contains("adder"));
  }
  SECTION("duplicate producer") {
    OnnxBuilder b;
    b.input("x", {1}).output("y");
    b.node("Relu", {"x"}, {"y"}, "r1");
    b.node("Relu", {"x"}, {"y"}, "r2");
    REQUIRE_THROWS_WITH(load_onnx(b.bytes()), Catch::Contains("produced twice"));
  }
  SECTION("short weight buffer") {
    OnnxBuilder b;
    b.input("x", {1}).output("y");
    auto* t = b.graph().add_initializer();
    t->set_name("w");
    t->set_data_type(1);
    t->add_dims(16);
    t->set_raw_data(std::string(10, '\0'));
    b.node("Add", {"x", "w"}, {"y"});
    REQUIRE_THROWS_WITH(load_onnx(b.bytes()), Catch::Contains("'w'") && Catch::Contains("expected 64 bytes"));
  }
  SECTION("negative dim") {
    OnnxBuilder b;
    b.input("x", {1}).output("y");
    auto* t = b.graph().add_initializer();
    t->set_name("w");
    t->set_data_type(1);
    t->add_dims(-3);
    b.node("Add", {"x", "w"}, {"y"});
    REQUIRE_THROWS_WITH(load_onnx(b.bytes()), Catch::Contains("negative"));
  }
  SECTION("huge dims") {
    OnnxBuilder b;
    b.input("x", {1}).output("y");
    auto* t = b.graph().add_initializer();
    t->set_name("w");
    t->set_data_type(1);
    t->add_dims(int64_t(1) << 30);
    t->add_dims(int64_t(1) << 30);
    b.node("Add", {"x", "w"}, {"y"});
    REQUIRE_THROWS_WITH(load_onnx(b.bytes()), Catch::Contains("too large"));
  }
  SECTION("unknown element type") {
    OnnxBuilder b;
    b.input("x", {1}).output("y");
    auto* t = b.graph().add_initializer();
    t->set_name("w");
    t->set_data_type(99);
    b.node("Add", {"x", "w"}, {"y"});
    REQUIRE_THROWS_WITH(load_onnx(b.bytes()), Catch::Contains("element type"));
  }
  SECTION("external data without a reader") {
    OnnxBuilder b;
    b.input("x", {1}).output("y");
    auto* t = b.graph().add_initializer();
    t->set_name("w");
    t->set_data_type(1);
    t->add_dims(1);
    t->set_data_location(onnx::TensorProto::EXTERNAL);
    auto* kv = t->add_external_data();
    kv->set_key("location");
    kv->set_value("weights.bin");
    b.node("Add", {"x", "w"}, {"y"});
    REQUIRE_THROWS_WITH(load_onnx(b.bytes()), Catch::Contains("weights.bin"));
  }
  SECTION("not a model") {
    std::vector<uint8_t> junk{0xff, 0xff, 0xff, 0xff, 0x01};
    REQUIRE_THROWS_AS(load_onnx(junk), Error);
    REQUIRE_THROWS_WITH(load_onnx({}), Catch::Contains("empty"));
  }
}

TEST_CASE("external data is read through the reader", "[parsers]") {
  OnnxBuilder b;
  b.input("x", {2}).output("y");
  auto* t = b.graph().add_initializer();
  t->set_name("w");
  t->set_data_type(1);
  t->add_dims(2);
  t->set_data_location(onnx::TensorProto::EXTERNAL);
  auto add_kv = [&](const char* k, const char* v) {
    auto* kv = t->add_external_data();
    kv->set_key(k);
    kv->set_value(v);
  };
  add_kv("location", "w.bin");
  add_kv("offset", "4");
  add_kv("length", "8");
  b.node("Add", {"x", "w"}, {"y"});
  LoadOptions opt;
  opt.external_data = [](const std::string& loc, int64_t off, int64_t len) {
    REQUIRE(loc == "w.bin");
    REQUIRE(off == 4);
    REQUIRE(len == 8);
    float v[2] = {1.5f, -2.0f};
    std::vector<uint8_t> out(8);
    std::memcpy(out.data(), v, 8);
    return out;
  };
  Model m = load_onnx(b.bytes(), opt);
  CHECK(m.graph.weights.at("w").to_f32() == std::vector<float>{1.5f, -2.0f});
}

TEST_CASE("subgraph attributes are kept", "[parsers]") {
  OnnxBuilder b;
  b.input("c", {1}, 9).input("x", {2}).output("y");
  auto& n = b.node("If", {"c"}, {"y"}, "if0");
  for (const char* branch : {"then_branch", "else_branch"}) {
    auto* a = n.add_attribute();
    a->set_name(branch);
    a->set_type(onnx::AttributeProto::GRAPH);
    auto* g = a->mutable_g();
    auto* sn = g->add_node();
    sn->set_op_type("Relu");
    sn->add_input("x");  // outer-scope value
    sn->add_output("r");
    g->add_output()->set_name("r");
  }
  Model m = load_onnx(b.bytes());
  REQUIRE(m.graph.nodes.size() == 1);
  CHECK(m.graph.nodes[0].attrs.at("then_branch").graphs.at(0)->nodes.size() == 1);
}

TEST_CASE("save_onnx round-trips", "[parsers]") {
  OnnxBuilder b;
  b.input("x", {1, 3, 8, 8}).output("y");
  b.conv("x", "y", 3, 4);
  Model m = load_onnx(b.bytes());
  Model m2 = load_onnx(save_onnx(m));
  CHECK(m2.graph.nodes.size() == m.graph.nodes.size());
  CHECK(m2.graph.weights.at("y_w").to_f32() == m.graph.weights.at("y_w").to_f32());
  CHECK(m2.graph.nodes[0].attr_ints("kernel_shape") == std::vector<int64_t>{3, 3});
}
