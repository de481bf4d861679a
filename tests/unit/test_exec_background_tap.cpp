// ExecOptions::background_tap: tap calls made on idle workers while later kernels run.
// They must see exactly what an inline tap sees (same tensors, same order, same bytes)
// even when the tap lags far behind: a pending tensor's buffer is neither reused in place,
// moved by a view, nor released. Exceptions from the tap reach run()'s caller.
#include <catch2/catch.hpp>
#include <chrono>
#include <random>
#include <stdexcept>
#include <thread>

#include "mixq/analysis.h"
#include "mixq/exec/executor.h"
#include "support/onnx_builder.h"
#include "support/random_values.h"

using namespace mixq;
using mixq::test::OnnxBuilder;
using mixq::test::random_values;

namespace {

// In-place element-wise ops right after observed tensors, views (Reshape, Flatten) of
// observed tensors, a multi-output Split, and tensors above the buffer pool's minimum.
AnalyzedModel lagging_tap_model(int64_t side = 32) {
  OnnxBuilder b;
  b.input("x", {1, 3, side, side}).output("y").output("f");
  b.conv("x", "c1", 3, 8).node("Relu", {"c1"}, {"r1"});  // Relu writes into c1's buffer inline
  b.node("Sigmoid", {"r1"}, {"s1"});                     // in place again
  b.weight_i64("shape", {1, 8, side / 2, side * 2});
  b.node("Reshape", {"s1", "shape"}, {"v1"});                             // a view of s1 (moves the buffer inline)
  OnnxBuilder::attr_i(b.node("Split", {"v1"}, {"p1", "p2"}), "axis", 1);  // two outputs
  b.node("Add", {"p1", "p2"}, {"a1"});                                    // in place into p1 or p2
  b.node("Flatten", {"a1"}, {"f"});                                       // a view that is a graph output
  b.conv("s1", "c2", 8, 4, 3).node("Tanh", {"c2"}, {"y"});                // s1 read after its view was taken
  return analyze_model(b.bytes(), {});
}

struct Seen {
  std::vector<std::string> names;
  std::vector<std::vector<uint8_t>> bytes;
};

// A tap that copies each tensor; with `lag`, it first sleeps, so that the executor runs
// ahead (and would reuse or free the buffer if it were not pinned).
Executor::Tap recording_tap(Seen& seen, bool lag) {
  return [&seen, lag](const std::string& name, const Tensor& t) {
    if (lag) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    seen.names.push_back(name);
    seen.bytes.emplace_back(t.bytes().begin(), t.bytes().end());
  };
}

}  // namespace

TEST_CASE("background tap sees what the inline tap sees, in order, even when it lags") {
  AnalyzedModel am = lagging_tap_model();
  Tensor x = Tensor::from_f32({1, 3, 32, 32}, random_values(3 * 32 * 32, 5));

  Seen inline_seen;
  Executor inline_exec(am, ExecOptions{1});
  auto inline_out = inline_exec.run({{"x", x}}, recording_tap(inline_seen, false));
  REQUIRE(inline_seen.names.size() >= 9);

  for (bool lag : {false, true}) {
    ExecOptions o;
    o.threads = 3;
    o.background_tap = true;
    Executor ex(am, o);
    for (int r = 0; r < 3; r++) {  // later runs reuse pooled buffers
      Seen seen;
      auto out = ex.run({{"x", x}}, recording_tap(seen, lag));
      CHECK(seen.names == inline_seen.names);
      REQUIRE(seen.bytes.size() == inline_seen.bytes.size());
      for (size_t i = 0; i < seen.bytes.size(); i++) {
        INFO("tensor " << seen.names[i] << (lag ? " (lagging tap)" : ""));
        CHECK(seen.bytes[i] == inline_seen.bytes[i]);
      }
      for (const char* o_name : {"y", "f"}) {
        INFO(o_name);
        CHECK(std::equal(out.at(o_name).bytes().begin(), out.at(o_name).bytes().end(),
                         inline_out.at(o_name).bytes().begin(), inline_out.at(o_name).bytes().end()));
      }
    }
  }
}

TEST_CASE("background tap: an exception from the tap reaches run(), the executor stays usable") {
  AnalyzedModel am = lagging_tap_model();
  Tensor x = Tensor::from_f32({1, 3, 32, 32}, random_values(3 * 32 * 32, 6));
  ExecOptions o;
  o.threads = 2;
  o.background_tap = true;
  Executor ex(am, o);
  int calls = 0;
  auto failing = [&calls](const std::string& name, const Tensor&) {
    calls++;
    if (name == "s1") throw std::runtime_error("statistics failed on s1");
  };
  REQUIRE_THROWS_WITH(ex.run({{"x", x}}, failing), Catch::Contains("statistics failed on s1"));
  const int calls_until_failure = calls;
  Seen seen;
  auto out = ex.run({{"x", x}}, recording_tap(seen, false));
  CHECK(calls_until_failure < static_cast<int>(seen.names.size()));  // no call after the failing one
  Executor reference(am, ExecOptions{1});
  auto ref = reference.run({{"x", x}});
  CHECK(std::equal(out.at("y").bytes().begin(), out.at("y").bytes().end(), ref.at("y").bytes().begin(),
                   ref.at("y").bytes().end()));
}

TEST_CASE("background tap: the buffer pool does not grow with how far the tap lags") {
  AnalyzedModel am = lagging_tap_model(256);  // kernels of ~0.1-1 ms: the tap keeps up or not
  Tensor x = Tensor::from_f32({1, 3, 256, 256}, random_values(3 * 256 * 256, 7));
  ExecOptions o;
  o.threads = 2;
  o.background_tap = true;
  Executor ex(am, o);
  std::mt19937 rng(3);
  // A third of the calls sleep 5 ms: a different lag, tensor by tensor, in every run.
  auto random_lag = [&rng](const std::string&, const Tensor&) {
    if (rng() % 3 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  };
  ex.run({{"x", x}}, [](auto&, auto&) {});  // a tap that keeps up: little pending
  const Executor::PoolStats first = ex.pool_stats();
  for (int r = 0; r < 12; r++) ex.run({{"x", x}}, r % 3 == 0 ? Executor::Tap([](auto&, auto&) {}) : random_lag);
  CHECK(ex.pool_stats().buffers == first.buffers);
  CHECK(ex.pool_stats().bytes == first.bytes);
}
