// Test support: builds small ONNX models with the generated protobuf API, and reads
// shared test files (skipping with a visible reason when ../shared is absent).
#pragma once
#include <cstdint>
#include <fstream>
#include <initializer_list>
#include <string>
#include <vector>

#include "onnx/onnx.pb.h"

namespace mixq::test {

class OnnxBuilder {
 public:
  explicit OnnxBuilder(int64_t opset = 13) {
    model_.set_ir_version(8);
    auto* o = model_.add_opset_import();
    o->set_domain("");
    o->set_version(opset);
    model_.mutable_graph()->set_name("test");
  }
  onnx::GraphProto& graph() { return *model_.mutable_graph(); }
  onnx::ModelProto& model() { return model_; }

  OnnxBuilder& input(const std::string& name, std::vector<int64_t> dims, int elem = 1) {
    value(graph().add_input(), name, dims, elem);
    return *this;
  }
  OnnxBuilder& output(const std::string& name, std::vector<int64_t> dims = {}, int elem = 1) {
    value(graph().add_output(), name, dims, elem);
    return *this;
  }
  OnnxBuilder& weight(const std::string& name, std::vector<int64_t> dims, float fill = 0.5f) {
    auto* t = graph().add_initializer();
    t->set_name(name);
    t->set_data_type(1);
    int64_t n = 1;
    for (int64_t d : dims) {
      t->add_dims(d);
      n *= d;
    }
    for (int64_t i = 0; i < n; ++i) t->add_float_data(fill + 0.001f * static_cast<float>(i % 97));
    return *this;
  }
  OnnxBuilder& weight_i64(const std::string& name, std::vector<int64_t> values) {
    auto* t = graph().add_initializer();
    t->set_name(name);
    t->set_data_type(7);
    t->add_dims(static_cast<int64_t>(values.size()));
    for (int64_t v : values) t->add_int64_data(v);
    return *this;
  }
  OnnxBuilder& scalar(const std::string& name, float v) {
    auto* t = graph().add_initializer();
    t->set_name(name);
    t->set_data_type(1);
    t->add_float_data(v);
    return *this;
  }
  onnx::NodeProto& node(const std::string& op, std::vector<std::string> inputs, std::vector<std::string> outputs,
                        const std::string& name = "") {
    auto* n = graph().add_node();
    n->set_op_type(op);
    n->set_name(name.empty() ? op + "_" + std::to_string(graph().node_size()) : name);
    for (auto& i : inputs) n->add_input(i);
    for (auto& o : outputs) n->add_output(o);
    return *n;
  }
  static void attr_i(onnx::NodeProto& n, const std::string& k, int64_t v) {
    auto* a = n.add_attribute();
    a->set_name(k);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }
  static void attr_f(onnx::NodeProto& n, const std::string& k, float v) {
    auto* a = n.add_attribute();
    a->set_name(k);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(v);
  }
  static void attr_ints(onnx::NodeProto& n, const std::string& k, std::vector<int64_t> v) {
    auto* a = n.add_attribute();
    a->set_name(k);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
  }
  // Conv with weight "<out>_w" [cout, cin/group, k, k], pads k/2.
  OnnxBuilder& conv(const std::string& in, const std::string& out, int64_t cin, int64_t cout, int64_t k = 3,
                    int64_t stride = 1, int64_t group = 1) {
    weight(out + "_w", {cout, cin / group, k, k}, 0.01f);
    auto& n = node("Conv", {in, out + "_w"}, {out});
    attr_ints(n, "kernel_shape", {k, k});
    attr_ints(n, "pads", {k / 2, k / 2, k / 2, k / 2});
    attr_ints(n, "strides", {stride, stride});
    if (group != 1) attr_i(n, "group", group);
    return *this;
  }
  std::vector<uint8_t> bytes() const {
    std::string s = model_.SerializeAsString();
    return {s.begin(), s.end()};
  }

 private:
  static void value(onnx::ValueInfoProto* v, const std::string& name, const std::vector<int64_t>& dims, int elem) {
    v->set_name(name);
    auto* tt = v->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(elem);
    auto* sh = tt->mutable_shape();
    for (int64_t d : dims) {
      auto* dim = sh->add_dim();
      if (d >= 0)
        dim->set_dim_value(d);
      else
        dim->set_dim_param("N");
    }
  }
  onnx::ModelProto model_;
};

inline std::string shared_path(const std::string& rel) {
  return std::string(MIXQ_SHARED_DIR) + "/" + rel;
}

inline bool read_bytes(const std::string& path, std::vector<uint8_t>& out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  out.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  return true;
}

}  // namespace mixq::test

// Loads a shared model or SKIPs the test case with a visible reason.
#define MIXQ_REQUIRE_SHARED(var, rel)                                                        \
  std::vector<uint8_t> var;                                                                  \
  if (!::mixq::test::read_bytes(::mixq::test::shared_path(rel), var)) {                      \
    WARN("SKIPPED: " << ::mixq::test::shared_path(rel) << " is absent (../shared missing)"); \
    return;                                                                                  \
  }
