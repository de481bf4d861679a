// const_eval: exact folding of shape arithmetic and all-constant nodes, against values
// worked out by hand from the ONNX operator definitions.
#include <catch2/catch.hpp>

#include "mixq/const_eval.h"
#include "mixq/error.h"

using namespace mixq;

namespace {
Node make(const std::string& op) {
  Node n;
  n.op_type = op;
  n.name = op + "_test";
  n.outputs = {"out"};
  return n;
}
Tensor eval1(const Node& n, std::vector<Tensor> in, int64_t opset = 13) {
  std::vector<const Tensor*> p;
  for (auto& t : in) p.push_back(&t);
  auto r = const_eval(n, p, opset);
  REQUIRE(r.has_value());
  return (*r)[0];
}
Attribute ints(std::vector<int64_t> v) {
  Attribute a;
  a.kind = Attribute::Kind::Ints;
  a.ints = std::move(v);
  return a;
}
Attribute one_int(int64_t v) {
  Attribute a;
  a.kind = Attribute::Kind::Int;
  a.i = v;
  return a;
}
}  // namespace

TEST_CASE("integer arithmetic broadcasts and follows ONNX semantics") {
  auto a = Tensor::from_i64({2, 1}, {7, -7});
  auto b = Tensor::from_i64({3}, {2, 3, -2});
  CHECK(eval1(make("Add"), {a, b}).to_i64() == std::vector<int64_t>{9, 10, 5, -5, -4, -9});
  CHECK(eval1(make("Div"), {a, b}).to_i64() == std::vector<int64_t>{3, 2, -3, -3, -2, 3});  // truncation
  CHECK(eval1(make("Mod"), {a, b}).to_i64() == std::vector<int64_t>{1, 1, -1, 1, 2, -1});   // sign of divisor
  CHECK(eval1(make("Less"), {a, b}).dtype() == DType::Bool);
  CHECK(eval1(make("Less"), {a, b}).to_i64() == std::vector<int64_t>{0, 0, 0, 1, 1, 1});
  REQUIRE_THROWS_WITH(eval1(make("Div"), {a, Tensor::from_i64({1}, {0})}), Catch::Contains("division by zero"));
  // INT64_MAX ends (Slice) survive arithmetic untouched
  auto big = Tensor::from_i64({1}, {INT64_MAX});
  CHECK(eval1(make("Max"), {big, Tensor::from_i64({1}, {5})}).to_i64()[0] == INT64_MAX);
}

TEST_CASE("float folding computes in double and stores float32") {
  auto a = Tensor::from_f32({2}, {1.5f, -2.0f});
  auto b = Tensor::scalar_f32(4.0f);
  CHECK(eval1(make("Pow"), {a, Tensor::scalar_f32(2.0f)}).to_f32() == std::vector<float>{2.25f, 4.0f});
  CHECK(eval1(make("Div"), {a, b}).to_f32() == std::vector<float>{0.375f, -0.5f});
  CHECK(eval1(make("Sqrt"), {Tensor::from_f32({1}, {16.0f})}).to_f32()[0] == 4.0f);
}

TEST_CASE("data movement: Slice, Gather, Concat, Unsqueeze, Transpose, Range, Where") {
  auto x = Tensor::from_i64({6}, {0, 1, 2, 3, 4, 5});
  Node slice = make("Slice");
  CHECK(eval1(slice, {x, Tensor::from_i64({1}, {-1}), Tensor::from_i64({1}, {INT64_MIN}), Tensor::from_i64({1}, {0}),
                      Tensor::from_i64({1}, {-2})})
            .to_i64() == std::vector<int64_t>{5, 3, 1});
  CHECK(eval1(slice, {x, Tensor::from_i64({1}, {1}), Tensor::from_i64({1}, {INT64_MAX})}).to_i64() ==
        std::vector<int64_t>{1, 2, 3, 4, 5});
  CHECK(eval1(make("Gather"), {x, Tensor::from_i64({2}, {-1, 0})}).to_i64() == std::vector<int64_t>{5, 0});
  REQUIRE_THROWS_WITH(eval1(make("Gather"), {x, Tensor::from_i64({1}, {6})}), Catch::Contains("out of range"));
  Node cat = make("Concat");
  cat.attrs["axis"] = one_int(0);
  CHECK(eval1(cat, {Tensor::from_i64({1}, {1}), Tensor::from_i64({2}, {-1, 4})}).to_i64() ==
        std::vector<int64_t>{1, -1, 4});
  auto u = eval1(make("Unsqueeze"), {Tensor::scalar_i64(3), Tensor::from_i64({1}, {0})});
  CHECK(u.shape() == Shape{1});
  Node tr = make("Transpose");
  tr.attrs["perm"] = ints({1, 0});
  CHECK(eval1(tr, {Tensor::from_i64({2, 3}, {1, 2, 3, 4, 5, 6})}).to_i64() == std::vector<int64_t>{1, 4, 2, 5, 3, 6});
  CHECK(eval1(make("Range"), {Tensor::scalar_i64(10), Tensor::scalar_i64(1), Tensor::scalar_i64(-3)}).to_i64() ==
        std::vector<int64_t>{10, 7, 4});
  auto cond = tensor_from_i64(DType::Bool, {3}, {1, 0, 1});
  CHECK(eval1(make("Where"), {cond, Tensor::from_i64({3}, {1, 2, 3}), Tensor::scalar_i64(0)}).to_i64() ==
        std::vector<int64_t>{1, 0, 3});
  Node shape = make("Shape");
  shape.attrs["start"] = one_int(-2);
  CHECK(shape_op_result(shape, {1, 3, 640, 480}) == Shape{640, 480});
}

TEST_CASE("unsupported ops are left to the executor") {
  auto x = Tensor::from_f32({1}, {1.0f});
  std::vector<const Tensor*> in{&x};
  CHECK_FALSE(const_eval(make("Conv"), in, 13).has_value());
}
