// Executor per-op tests: each op against a plain naive reference written here, with
// named tolerances; plus executor contracts (errors, tap, determinism across threads).
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <random>
#include <set>

#include "mixq/analysis.h"
#include "mixq/error.h"
#include "mixq/exec/conv_winograd.h"
#include "mixq/exec/executor.h"
#include "mixq/exec/kernel.h"
#include "mixq/exec/thread_pool.h"
#include "support/onnx_builder.h"
#include "support/random_values.h"

using namespace mixq;
using mixq::test::OnnxBuilder;
using mixq::test::random_values;

namespace {

// Tolerances: relative to max|ref| (float accumulation order differs from the naive sums).
constexpr double kTolAccumulate = 1e-5;  // Conv/Gemm/pool sums
constexpr double kTolTranscend = 2e-6;   // exp/tanh/erf/... vs libm
constexpr double kTolExact = 0;          // data movement, comparisons, max

void add_tensor(OnnxBuilder& b, const std::string& name, const Shape& shape, const std::vector<float>& v) {
  auto* t = b.graph().add_initializer();
  t->set_name(name);
  t->set_data_type(1);
  for (int64_t d : shape) t->add_dims(d);
  for (float x : v) t->add_float_data(x);
}

std::map<std::string, Tensor> run(OnnxBuilder& b, const std::map<std::string, Tensor>& inputs, int threads = 0,
                                  const Executor::Tap& tap = {}) {
  AnalyzedModel am = analyze_model(b.bytes(), {});
  ExecOptions options;
  options.threads = threads;
  Executor ex(am, options);
  return ex.run(inputs, tap);
}

void require_close(const Tensor& got, const std::vector<float>& ref, const Shape& shape, double tol) {
  REQUIRE(got.shape() == shape);
  auto g = got.to_f32();
  REQUIRE(g.size() == ref.size());
  double maxref = 0, maxdiff = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    maxref = std::max(maxref, double(std::fabs(ref[i])));
    maxdiff = std::max(maxdiff, double(std::fabs(g[i] - ref[i])));
  }
  INFO("max|diff| = " << maxdiff << ", max|ref| = " << maxref);
  CHECK(maxdiff <= tol * std::max(maxref, 1e-30));
}

// Naive NCHW conv: groups, strides, dilations, explicit pads.
std::vector<float> naive_conv(const std::vector<float>& x, Shape xs, const std::vector<float>& w, Shape ws,
                              const std::vector<float>& bias, int64_t group, std::array<int64_t, 2> st,
                              std::array<int64_t, 2> dl, std::array<int64_t, 2> pad, Shape& ys) {
  int64_t N = xs[0], C = xs[1], H = xs[2], W = xs[3], M = ws[0], KH = ws[2], KW = ws[3];
  int64_t OH = (H + 2 * pad[0] - ((KH - 1) * dl[0] + 1)) / st[0] + 1;
  int64_t OW = (W + 2 * pad[1] - ((KW - 1) * dl[1] + 1)) / st[1] + 1;
  ys = {N, M, OH, OW};
  std::vector<float> y(N * M * OH * OW);
  int64_t Cg = C / group, Mg = M / group;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t m = 0; m < M; ++m)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          double s = bias.empty() ? 0 : bias[m];
          int64_t g = m / Mg;
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t kh = 0; kh < KH; ++kh)
              for (int64_t kw = 0; kw < KW; ++kw) {
                int64_t ih = oh * st[0] - pad[0] + kh * dl[0], iw = ow * st[1] - pad[1] + kw * dl[1];
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                s += double(x[((n * C + g * Cg + c) * H + ih) * W + iw]) * w[((m * Cg + c) * KH + kh) * KW + kw];
              }
          y[((n * M + m) * OH + oh) * OW + ow] = float(s);
        }
  return y;
}

struct ConvCase {
  const char* what;
  Shape x;
  int64_t cout, k, group, stride, dil, pad;
};

// y = Conv(x; w, b) on input x of shape xs: 2-D strides and dilations, pads {top/bottom, left/right}.
void add_conv(OnnxBuilder& b, const Shape& xs, const Shape& ws, const std::vector<float>& w,
              const std::vector<float>& bias, int64_t group, std::vector<int64_t> strides, std::vector<int64_t> dils,
              std::vector<int64_t> pads) {
  b.input("x", xs).output("y");
  add_tensor(b, "w", ws, w);
  add_tensor(b, "b", {ws[0]}, bias);
  auto& n = b.node("Conv", {"x", "w", "b"}, {"y"});
  OnnxBuilder::attr_ints(n, "strides", strides);
  OnnxBuilder::attr_ints(n, "dilations", dils);
  OnnxBuilder::attr_ints(n, "pads", {pads[0], pads[1], pads[0], pads[1]});
  OnnxBuilder::attr_i(n, "group", group);
}

}  // namespace

TEST_CASE("Conv matches a naive convolution (groups, strides, dilations, pads, 1x1, depthwise)") {
  const ConvCase cases[] = {
      {"3x3 pad 1", {1, 5, 9, 11}, 7, 3, 1, 1, 1, 1},     {"stride 2", {2, 4, 10, 9}, 6, 3, 1, 2, 1, 1},
      {"1x1 pointwise", {1, 16, 7, 7}, 8, 1, 1, 1, 1, 0}, {"depthwise", {1, 6, 12, 10}, 6, 3, 6, 1, 1, 1},
      {"depthwise s2", {1, 6, 11, 12}, 6, 3, 6, 2, 1, 1}, {"groups 2 dil 2", {1, 4, 13, 13}, 6, 3, 2, 1, 2, 2},
      {"5x5 no pad", {1, 3, 9, 9}, 4, 5, 1, 1, 1, 0},     {"1x1 stride 2", {1, 8, 8, 8}, 4, 1, 1, 2, 1, 0},
      {"wide map", {1, 3, 40, 70}, 8, 3, 1, 1, 1, 1},     {"wide map stride 2", {1, 3, 9, 75}, 8, 3, 1, 2, 1, 1},
  };
  for (const ConvCase& c : cases) {
    SECTION(c.what) {
      Shape ws{c.cout, c.x[1] / c.group, c.k, c.k};
      auto x = random_values(shape_numel(c.x), 1);
      auto w = random_values(shape_numel(ws), 2);
      auto bias = random_values(c.cout, 3);
      Shape ys;
      auto ref = naive_conv(x, c.x, w, ws, bias, c.group, {c.stride, c.stride}, {c.dil, c.dil}, {c.pad, c.pad}, ys);
      OnnxBuilder b;
      add_conv(b, c.x, ws, w, bias, c.group, {c.stride, c.stride}, {c.dil, c.dil}, {c.pad, c.pad});
      auto out = run(b, {{"x", Tensor::from_f32(c.x, x)}});
      require_close(out.at("y"), ref, ys, kTolAccumulate);
    }
  }
}

TEST_CASE("depthwise Conv matches a naive convolution (3x3, 5x5, 7x7, other kernels; strides, dilations, pads)") {
  struct DwCase {
    const char* what;
    Shape x;
    int64_t kh, kw, sh, sw, dil, ph, pw;
  };
  const DwCase cases[] = {
      {"5x5 s1 p2", {1, 5, 22, 22}, 5, 5, 1, 1, 1, 2, 2},
      {"5x5 s2 p2", {1, 7, 13, 12}, 5, 5, 2, 2, 1, 2, 2},
      {"7x7 s1 p3", {1, 3, 9, 17}, 7, 7, 1, 1, 1, 3, 3},
      {"7x7 s2 p3", {2, 4, 16, 15}, 7, 7, 2, 2, 1, 3, 3},
      {"3x3 s2 p0", {1, 3, 8, 9}, 3, 3, 2, 2, 1, 0, 0},
      {"5x5 dil 2 p4", {1, 2, 12, 11}, 5, 5, 1, 1, 2, 4, 4},
      {"3x3 s3 p1", {1, 3, 14, 13}, 3, 3, 3, 3, 1, 1, 1},
      {"3x5 s(1,2) p(1,2)", {1, 4, 9, 14}, 3, 5, 1, 2, 1, 1, 2},
      {"3x3 s(2,1) wide", {1, 2, 6, 45}, 3, 3, 2, 1, 1, 1, 1},
      {"7x7 pad > map", {1, 2, 3, 4}, 7, 7, 1, 1, 1, 3, 3},
      // more channels than one vector: full and partial channel blocks (16 + 4, 2 x 16 + 1)
      {"5x5 s1 p2, 20 channels", {1, 20, 11, 11}, 5, 5, 1, 1, 1, 2, 2},
      {"3x3 s2 p1, 33 channels", {2, 33, 14, 13}, 3, 3, 2, 2, 1, 1, 1},
      {"3x3 s1 p1, 32 channels, rows of 16+", {1, 32, 5, 37}, 3, 3, 1, 1, 1, 1, 1},
      {"3x3 s2 p1, wide rows", {1, 17, 6, 75}, 3, 3, 2, 2, 1, 1, 1},
      {"7x7 s1 p3, 24 channels", {1, 24, 8, 9}, 7, 7, 1, 1, 1, 3, 3},
  };
  for (const DwCase& c : cases) {
    SECTION(c.what) {
      int64_t C = c.x[1];
      Shape ws{C, 1, c.kh, c.kw};
      auto x = random_values(shape_numel(c.x), 11);
      auto w = random_values(shape_numel(ws), 12);
      auto bias = random_values(C, 13);
      Shape ys;
      auto ref = naive_conv(x, c.x, w, ws, bias, C, {c.sh, c.sw}, {c.dil, c.dil}, {c.ph, c.pw}, ys);
      OnnxBuilder b;
      b.input("x", c.x).output("y");
      add_tensor(b, "w", ws, w);
      add_tensor(b, "b", {C}, bias);
      auto& n = b.node("Conv", {"x", "w", "b"}, {"y"});
      OnnxBuilder::attr_ints(n, "strides", {c.sh, c.sw});
      OnnxBuilder::attr_ints(n, "dilations", {c.dil, c.dil});
      OnnxBuilder::attr_ints(n, "pads", {c.ph, c.pw, c.ph, c.pw});
      OnnxBuilder::attr_i(n, "group", C);
      auto out = run(b, {{"x", Tensor::from_f32(c.x, x)}});
      require_close(out.at("y"), ref, ys, kTolAccumulate);
    }
  }
}

TEST_CASE("direct Conv path (KxK kernels, row blocks) matches a naive convolution") {
  // KxK convs on maps of >= 4 rows and >= 64 pixels take the direct path (kernels_conv.cpp):
  // channel tiles of 8 (Mg not a multiple of 8 here), row blocks with a partial last block
  // (many input channels make the blocks short), strides 1-3, dilations, groups, batches.
  struct DirectCase {
    const char* what;
    Shape x;
    int64_t cout, kh, kw, group, sh, sw, dil, ph, pw;
  };
  const DirectCase cases[] = {
      {"stem 3 -> 13, 3x3 s2", {1, 3, 33, 35}, 13, 3, 3, 1, 2, 2, 1, 1, 1},
      {"40 -> 12, partial row block", {1, 40, 37, 41}, 12, 3, 3, 1, 1, 1, 1, 1, 1},
      {"24 -> 17, s2 odd map, many blocks", {2, 24, 45, 47}, 17, 3, 3, 1, 2, 2, 1, 1, 1},
      {"5x5 dil 2", {1, 6, 20, 19}, 9, 5, 5, 1, 1, 1, 2, 4, 4},
      {"groups 3", {1, 9, 16, 18}, 6, 3, 3, 3, 1, 1, 1, 1, 1},
      {"3x5 s(1,2) p(0,2)", {1, 5, 14, 31}, 8, 3, 5, 1, 1, 2, 1, 0, 2},
      {"3x3 s3 no pad", {1, 4, 31, 29}, 3, 3, 3, 1, 3, 3, 1, 0, 0},
      {"7x7 pad > map rows", {1, 2, 4, 30}, 5, 7, 7, 1, 1, 1, 1, 3, 3},
  };
  for (const DirectCase& c : cases) {
    SECTION(c.what) {
      Shape ws{c.cout, c.x[1] / c.group, c.kh, c.kw};
      auto x = random_values(shape_numel(c.x), 21);
      auto w = random_values(shape_numel(ws), 22);
      auto bias = random_values(c.cout, 23);
      Shape ys;
      auto ref = naive_conv(x, c.x, w, ws, bias, c.group, {c.sh, c.sw}, {c.dil, c.dil}, {c.ph, c.pw}, ys);
      OnnxBuilder b;
      add_conv(b, c.x, ws, w, bias, c.group, {c.sh, c.sw}, {c.dil, c.dil}, {c.ph, c.pw});
      Tensor xt = Tensor::from_f32(c.x, x);
      auto out = run(b, {{"x", xt}});
      require_close(out.at("y"), ref, ys, kTolAccumulate);
      require_close(run(b, {{"x", xt}}, 3).at("y"), out.at("y").to_f32(), ys, kTolExact);  // any thread count
    }
  }
  SECTION("asymmetric pads and weights computed at run time") {
    Shape xs{1, 6, 12, 14}, ws{10, 6, 3, 3};
    auto x = random_values(shape_numel(xs), 24);
    auto w = random_values(shape_numel(ws), 25);
    // pads (top 2, left 0, bottom 1, right 2) = the naive conv of the explicitly padded input
    Shape big{1, 6, 15, 16};
    std::vector<float> xp(shape_numel(big), 0.f);
    for (int c = 0; c < 6; ++c)
      for (int h = 0; h < 12; ++h)
        for (int ww = 0; ww < 14; ++ww) xp[(c * 15 + h + 2) * 16 + ww] = x[(c * 12 + h) * 14 + ww];
    Shape ys;
    auto ref = naive_conv(xp, big, w, ws, {}, 1, {1, 1}, {1, 1}, {0, 0}, ys);
    OnnxBuilder b;
    b.input("x", xs).input("w", ws).output("y");
    OnnxBuilder::attr_ints(b.node("Conv", {"x", "w"}, {"y"}), "pads", {2, 0, 1, 2});
    auto out = run(b, {{"x", Tensor::from_f32(xs, x)}, {"w", Tensor::from_f32(ws, w)}});
    require_close(out.at("y"), ref, ys, kTolAccumulate);
  }
}

TEST_CASE("Winograd F(2x2,3x3) path matches a naive convolution, for any thread count") {
  // exec::Winograd3x3 is what 3x3 stride-1 convs of >= 16 channels run in wasm and in the
  // portable build (use_winograd in kernels_conv.cpp); called directly here so that every build tests it,
  // and through the executor (which takes it there for the first two cases). Odd maps (half tiles), pads
  // of 0..2 on each side, rows of more than one 96-tile product, batches.
  struct WinogradCase {
    const char* what;
    Shape x;
    int64_t cout, pt, pl, pb, pr;
  };
  const WinogradCase cases[] = {
      {"16 -> 16, pad 1, odd map", {1, 16, 9, 21}, 16, 1, 1, 1, 1},
      {"20 -> 19, pads (2,0,1,2), batch 2", {2, 20, 17, 18}, 19, 2, 0, 1, 2},
      {"32 -> 16, no pad", {1, 32, 10, 10}, 16, 0, 0, 0, 0},
      {"16 -> 24, 200 wide: 3 products per tile row", {1, 16, 6, 200}, 24, 1, 1, 1, 1},
  };
  for (const WinogradCase& c : cases) {
    SECTION(c.what) {
      const int64_t N = c.x[0], C = c.x[1], H = c.x[2], W = c.x[3], M = c.cout;
      const Shape ws{M, C, 3, 3};
      auto x = random_values(shape_numel(c.x), 41);
      auto w = random_values(shape_numel(ws), 42);
      auto bias = random_values(M, 43);
      // The reference: a naive conv of the explicitly padded input.
      const int64_t HP = H + c.pt + c.pb, WP = W + c.pl + c.pr;
      const Shape big{N, C, HP, WP};
      std::vector<float> xp(shape_numel(big), 0.f);
      for (int64_t i = 0; i < N * C; ++i)
        for (int64_t h = 0; h < H; ++h)
          for (int64_t ww = 0; ww < W; ++ww) xp[(i * HP + h + c.pt) * WP + ww + c.pl] = x[(i * H + h) * W + ww];
      Shape ys;
      auto ref = naive_conv(xp, big, w, ws, bias, 1, {1, 1}, {1, 1}, {0, 0}, ys);
      const int64_t OH = ys[2], OW = ys[3];
      exec::Winograd3x3 plan;
      plan.prepare(w.data(), M, C);
      std::vector<float> one_thread;
      for (int threads : {1, 3}) {
        ThreadPool pool(threads);
        std::vector<float> y(shape_numel(ys), -1.f);
        for (int64_t n = 0; n < N; ++n)
          plan.run(x.data() + n * C * H * W, H, W, c.pt, c.pl, y.data() + n * M * OH * OW, OH, OW, pool,
                   [&](int64_t m, float* v, int64_t count) {
                     for (int64_t j = 0; j < count; ++j) v[j] += bias[m];
                   });
        INFO(threads << " threads");
        require_close(Tensor::from_f32(ys, y), ref, ys, kTolAccumulate);
        if (threads == 1)
          one_thread = y;
        else
          CHECK(std::memcmp(one_thread.data(), y.data(), y.size() * sizeof(float)) == 0);
      }
      OnnxBuilder b;
      b.input("x", c.x).output("y");
      add_tensor(b, "w", ws, w);
      add_tensor(b, "b", {M}, bias);
      OnnxBuilder::attr_ints(b.node("Conv", {"x", "w", "b"}, {"y"}), "pads", {c.pt, c.pl, c.pb, c.pr});
      require_close(run(b, {{"x", Tensor::from_f32(c.x, x)}}).at("y"), ref, ys, kTolAccumulate);
    }
  }
}

TEST_CASE("Conv auto_pad SAME_UPPER pads at the end") {
  Shape xs{1, 2, 6, 6}, ws{3, 2, 2, 2};
  auto x = random_values(shape_numel(xs), 4);
  auto w = random_values(shape_numel(ws), 5);
  // total pad 1 per axis for k=2, s=1: SAME_UPPER puts it at the end -> crop of the
  // padded-by-(0,1) naive conv.
  Shape big{1, 2, 7, 7};
  std::vector<float> xp(shape_numel(big), 0.f);
  for (int c = 0; c < 2; ++c)
    for (int h = 0; h < 6; ++h)
      for (int ww = 0; ww < 6; ++ww) xp[(c * 7 + h) * 7 + ww] = x[(c * 6 + h) * 6 + ww];
  Shape ys;
  auto ref = naive_conv(xp, big, w, ws, {}, 1, {1, 1}, {1, 1}, {0, 0}, ys);
  OnnxBuilder b;
  b.input("x", xs).output("y");
  add_tensor(b, "w", ws, w);
  auto& n = b.node("Conv", {"x", "w"}, {"y"});
  auto* a = n.add_attribute();
  a->set_name("auto_pad");
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s("SAME_UPPER");
  auto out = run(b, {{"x", Tensor::from_f32(xs, x)}});
  require_close(out.at("y"), ref, ys, kTolAccumulate);
}

TEST_CASE("ConvTranspose matches a naive scatter") {
  Shape xs{1, 4, 5, 6}, ws{4, 3, 3, 3};
  int64_t stride = 2, pad = 1, opad = 1;
  auto x = random_values(shape_numel(xs), 6);
  auto w = random_values(shape_numel(ws), 7);
  auto bias = random_values(3, 8);
  int64_t OH = (5 - 1) * stride - 2 * pad + 3 + opad, OW = (6 - 1) * stride - 2 * pad + 3 + opad;
  std::vector<double> acc(3 * OH * OW, 0.0);
  for (int m = 0; m < 3; ++m)
    for (int i = 0; i < OH * OW; ++i) acc[m * OH * OW + i] = bias[m];
  for (int c = 0; c < 4; ++c)
    for (int h = 0; h < 5; ++h)
      for (int ww = 0; ww < 6; ++ww)
        for (int m = 0; m < 3; ++m)
          for (int kh = 0; kh < 3; ++kh)
            for (int kw = 0; kw < 3; ++kw) {
              int64_t oh = h * stride - pad + kh, ow = ww * stride - pad + kw;
              if (oh < 0 || oh >= OH || ow < 0 || ow >= OW) continue;
              acc[(m * OH + oh) * OW + ow] += double(x[(c * 5 + h) * 6 + ww]) * w[((c * 3 + m) * 3 + kh) * 3 + kw];
            }
  std::vector<float> ref(acc.begin(), acc.end());
  // weights as a constant (transposed once at plan time) or as a graph input (per run)
  auto run_model = [&](bool weights_as_input) {
    OnnxBuilder b;
    b.input("x", xs).output("y");
    if (weights_as_input)
      b.input("w", ws);
    else
      add_tensor(b, "w", ws, w);
    add_tensor(b, "b", {3}, bias);
    auto& n = b.node("ConvTranspose", {"x", "w", "b"}, {"y"});
    OnnxBuilder::attr_ints(n, "strides", {stride, stride});
    OnnxBuilder::attr_ints(n, "pads", {pad, pad, pad, pad});
    OnnxBuilder::attr_ints(n, "output_padding", {opad, opad});
    OnnxBuilder::attr_ints(n, "kernel_shape", {3, 3});
    std::map<std::string, Tensor> feed{{"x", Tensor::from_f32(xs, x)}};
    if (weights_as_input) feed.emplace("w", Tensor::from_f32(ws, w));
    return run(b, feed).at("y");
  };
  Tensor y = run_model(false);
  require_close(y, ref, {1, 3, OH, OW}, kTolAccumulate);
  require_close(run_model(true), y.to_f32(), {1, 3, OH, OW}, kTolExact);
}

TEST_CASE("MatMul broadcasts batches; Gemm honours transB, alpha, beta") {
  Shape as{2, 3, 70, 33}, bs{33, 65};
  auto a = random_values(shape_numel(as), 9), bv = random_values(shape_numel(bs), 10);
  std::vector<float> ref(2 * 3 * 70 * 65);
  for (int64_t bt = 0; bt < 6; ++bt)
    for (int i = 0; i < 70; ++i)
      for (int j = 0; j < 65; ++j) {
        double s = 0;
        for (int k = 0; k < 33; ++k) s += double(a[(bt * 70 + i) * 33 + k]) * bv[k * 65 + j];
        ref[(bt * 70 + i) * 65 + j] = float(s);
      }
  OnnxBuilder b;
  b.input("a", as).output("y");
  add_tensor(b, "b", bs, bv);
  b.node("MatMul", {"a", "b"}, {"y"});
  auto out = run(b, {{"a", Tensor::from_f32(as, a)}});
  require_close(out.at("y"), ref, {2, 3, 70, 65}, kTolAccumulate);

  Shape xs{5, 8}, ws{6, 8};
  auto x = random_values(40, 11), w = random_values(48, 12), c = random_values(6, 13);
  std::vector<float> gref(30);
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 6; ++j) {
      double s = 0;
      for (int k = 0; k < 8; ++k) s += double(x[i * 8 + k]) * w[j * 8 + k];
      gref[i * 6 + j] = float(0.5 * s + 2.0 * c[j]);
    }
  OnnxBuilder g;
  g.input("x", xs).output("y");
  add_tensor(g, "w", ws, w);
  add_tensor(g, "c", {6}, c);
  auto& n = g.node("Gemm", {"x", "w", "c"}, {"y"});
  OnnxBuilder::attr_i(n, "transB", 1);
  OnnxBuilder::attr_f(n, "alpha", 0.5f);
  OnnxBuilder::attr_f(n, "beta", 2.f);
  require_close(run(g, {{"x", Tensor::from_f32(xs, x)}}).at("y"), gref, {5, 6}, kTolAccumulate);

  SECTION("a head with few rows and many columns is split by columns: same values, same bits for any threads") {
    Shape hs{1, 3, 40}, ts{40, 1000};  // M = 3: one row block, several column blocks
    auto h = random_values(shape_numel(hs), 20), t = random_values(shape_numel(ts), 21);
    std::vector<float> href(3 * 1000);
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 1000; ++j) {
        double sum = 0;
        for (int k = 0; k < 40; ++k) sum += double(h[i * 40 + k]) * t[k * 1000 + j];
        href[i * 1000 + j] = float(sum);
      }
    OnnxBuilder m;
    m.input("h", hs).output("y");
    add_tensor(m, "t", ts, t);
    m.node("MatMul", {"h", "t"}, {"y"});
    auto one = run(m, {{"h", Tensor::from_f32(hs, h)}}, 1).at("y");
    require_close(one, href, {1, 3, 1000}, kTolAccumulate);
    auto three = run(m, {{"h", Tensor::from_f32(hs, h)}}, 3).at("y");
    CHECK(std::memcmp(one.f32().data(), three.f32().data(), 3000 * sizeof(float)) == 0);
  }
}

TEST_CASE("element-wise ops broadcast like numpy") {
  Shape as{2, 3, 4, 5}, bs{3, 1, 5};
  auto a = random_values(shape_numel(as), 14, 0.1f, 2.f), bv = random_values(shape_numel(bs), 15, 0.1f, 2.f);
  auto bidx = [&](int64_t i) {
    int64_t w = i % 5, c = (i / 20) % 3;
    return c * 5 + w;
  };
  const std::pair<const char*, std::function<float(float, float)>> ops[] = {
      {"Add", [](float x, float y) { return x + y; }},
      {"Sub", [](float x, float y) { return x - y; }},
      {"Mul", [](float x, float y) { return x * y; }},
      {"Div", [](float x, float y) { return x / y; }},
      {"Max", [](float x, float y) { return std::max(x, y); }},
      {"Min", [](float x, float y) { return std::min(x, y); }},
      {"Pow", [](float x, float y) { return std::pow(x, y); }},
      {"PRelu", [](float x, float y) { return x; }},
  };
  for (const auto& [op, f] : ops) {
    SECTION(op) {
      std::vector<float> ref(a.size());
      for (size_t i = 0; i < a.size(); ++i) ref[i] = f(a[i], bv[bidx(i)]);
      OnnxBuilder b;
      b.input("a", as).input("b", bs).output("y");
      b.node(op, {"a", "b"}, {"y"});
      auto out = run(b, {{"a", Tensor::from_f32(as, a)}, {"b", Tensor::from_f32(bs, bv)}});
      require_close(out.at("y"), ref, as, std::string(op) == "Pow" ? kTolTranscend : kTolExact);
    }
  }
  SECTION("variadic Sum/Mean/Max of three inputs, float and int64 (through Cast)") {
    OnnxBuilder b;
    b.input("a", as).input("b", bs).output("sum").output("mean").output("imax").output("imean");
    b.node("Sum", {"a", "b", "a"}, {"sum"});
    b.node("Mean", {"a", "b", "a"}, {"mean"});
    b.scalar("ten", 10.f);
    b.node("Mul", {"a", "ten"}, {"a10"});
    b.node("Mul", {"b", "ten"}, {"b10"});
    OnnxBuilder::attr_i(b.node("Cast", {"a10"}, {"ai"}), "to", 7);  // int64, truncates
    OnnxBuilder::attr_i(b.node("Cast", {"b10"}, {"bi"}), "to", 7);
    b.node("Max", {"ai", "bi", "ai"}, {"mi"});
    b.node("Mean", {"ai", "bi", "bi"}, {"ei"});
    OnnxBuilder::attr_i(b.node("Cast", {"mi"}, {"imax"}), "to", 1);
    OnnxBuilder::attr_i(b.node("Cast", {"ei"}, {"imean"}), "to", 1);
    auto out = run(b, {{"a", Tensor::from_f32(as, a)}, {"b", Tensor::from_f32(bs, bv)}});
    std::vector<float> sum(a.size()), mean(a.size()), imax(a.size()), imean(a.size());
    for (size_t i = 0; i < a.size(); ++i) {
      float x = a[i], y = bv[bidx(i)];
      sum[i] = x + y + x;
      mean[i] = (x + y + x) / 3.f;
      auto xi = int64_t(x * 10.f), yi = int64_t(y * 10.f);
      imax[i] = float(std::max(xi, yi));
      imean[i] = float((xi + yi + yi) / 3);  // integer division (all values are positive here)
    }
    require_close(out.at("sum"), sum, as, kTolExact);
    require_close(out.at("mean"), mean, as, kTolAccumulate);
    require_close(out.at("imax"), imax, as, 0.0);
    require_close(out.at("imean"), imean, as, 0.0);
  }
  SECTION("Less gives bool, Where selects") {
    OnnxBuilder b;
    b.input("a", as).input("b", bs).output("y");
    b.node("Less", {"a", "b"}, {"m"});
    b.node("Where", {"m", "a", "b"}, {"y"});
    auto out = run(b, {{"a", Tensor::from_f32(as, a)}, {"b", Tensor::from_f32(bs, bv)}});
    std::vector<float> ref(a.size());
    for (size_t i = 0; i < a.size(); ++i) ref[i] = a[i] < bv[bidx(i)] ? a[i] : bv[bidx(i)];
    require_close(out.at("y"), ref, as, kTolExact);
  }
}

TEST_CASE("unary activations match their formulas") {
  Shape s{3, 1000};
  auto x = random_values(3000, 16, -6.f, 6.f);
  const std::pair<const char*, std::function<double(double)>> ops[] = {
      {"Relu", [](double v) { return v > 0 ? v : 0; }},
      {"Sigmoid", [](double v) { return 1 / (1 + std::exp(-v)); }},
      {"Tanh", [](double v) { return std::tanh(v); }},
      {"Exp", [](double v) { return std::exp(v); }},
      {"HardSigmoid", [](double v) { return std::clamp(0.2 * v + 0.5, 0.0, 1.0); }},
      {"HardSwish", [](double v) { return v * std::clamp(v / 6 + 0.5, 0.0, 1.0); }},
      {"Erf", [](double v) { return std::erf(v); }},
      {"Gelu", [](double v) { return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))); }},
      {"LeakyRelu", [](double v) { return v >= 0 ? v : 0.01 * v; }},
      {"Abs", [](double v) { return std::fabs(v); }},
  };
  for (const auto& [op, f] : ops) {
    SECTION(op) {
      std::vector<float> ref(x.size());
      for (size_t i = 0; i < x.size(); ++i) ref[i] = float(f(x[i]));
      OnnxBuilder b(20);
      b.input("x", s).output("y");
      b.node(op, {"x"}, {"y"});
      require_close(run(b, {{"x", Tensor::from_f32(s, x)}}).at("y"), ref, s, kTolTranscend);
    }
  }
  SECTION("Clip with min/max inputs (ReLU6)") {
    std::vector<float> ref(x.size());
    for (size_t i = 0; i < x.size(); ++i) ref[i] = std::clamp(x[i], 0.f, 6.f);
    OnnxBuilder b;
    b.input("x", s).output("y").scalar("lo", 0.f).scalar("hi", 6.f);
    b.node("Clip", {"x", "lo", "hi"}, {"y"});
    require_close(run(b, {{"x", Tensor::from_f32(s, x)}}).at("y"), ref, s, kTolExact);
  }
}

TEST_CASE("logistic and Swish over the whole float range: rational part, e^x tail, saturation, NaN") {
  // Every 16-value group mixes regions, so the e^x tail (x < -9) is selected per lane.
  std::vector<float> x;
  for (float v = -120.f; v <= 30.f; v += 0.0137f) x.push_back(v);
  for (float v : {-9.f, -8.9999f, -9.0001f, -87.3f, -88.f, 15.64377f, 15.7f, 0.f, -0.f}) x.push_back(v);
  x.push_back(INFINITY);
  x.push_back(-INFINITY);
  x.push_back(NAN);
  std::mt19937 g(7);
  std::shuffle(x.begin(), x.end(), g);
  std::vector<float> sig(x.size()), swish(x.size());
  mixq::exec::logistic(x.data(), sig.data(), static_cast<int64_t>(x.size()));
  mixq::exec::logistic(x.data(), swish.data(), static_cast<int64_t>(x.size()), true);
  for (size_t i = 0; i < x.size(); i++) {
    const double v = x[i];
    INFO("x = " << v);
    if (std::isnan(v)) {
      CHECK(std::isnan(sig[i]));
      continue;
    }
    const double ref = 1 / (1 + std::exp(-v));
    REQUIRE(sig[i] >= 0.f);
    REQUIRE(sig[i] <= 1.f);
    // x >= -9: p(x)/q(x) + 0.5, an absolute error of about one ulp of 0.5; x < -9: e^x
    // stands for e^x / (1 + e^x), a relative error below e^-9 = 1.2e-4
    const double rel = v < -9 ? 1.3e-4 : 2e-6, abs = v < -9 ? 1e-37 : 1.2e-7;
    REQUIRE(std::fabs(sig[i] - ref) <= rel * ref + abs);
    if (std::isfinite(v)) REQUIRE(std::fabs(swish[i] - v * ref) <= (rel * ref + abs) * std::fabs(v) + 1e-37);
  }
  // Position independence: a value's result does not depend on its neighbours or offset.
  std::vector<float> shifted(x.size() - 5);
  mixq::exec::logistic(x.data() + 5, shifted.data(), static_cast<int64_t>(shifted.size()));
  for (size_t i = 0; i < shifted.size(); i++)
    if (!std::isnan(x[i + 5])) REQUIRE(shifted[i] == sig[i + 5]);
}

TEST_CASE("Softmax, LayerNormalization and ReduceMean match naive formulas") {
  Shape s{2, 3, 17};
  auto x = random_values(shape_numel(s), 17, -3.f, 3.f);
  std::vector<float> sm(x.size()), ln(x.size()), rm(6);
  auto gamma = random_values(17, 18), beta = random_values(17, 19);
  for (int r = 0; r < 6; ++r) {
    double m = -1e30, sum = 0, mean = 0, var = 0;
    for (int i = 0; i < 17; ++i) m = std::max(m, double(x[r * 17 + i]));
    for (int i = 0; i < 17; ++i) sum += std::exp(x[r * 17 + i] - m);
    for (int i = 0; i < 17; ++i) sm[r * 17 + i] = float(std::exp(x[r * 17 + i] - m) / sum);
    for (int i = 0; i < 17; ++i) mean += x[r * 17 + i] / 17.0;
    for (int i = 0; i < 17; ++i) var += (x[r * 17 + i] - mean) * (x[r * 17 + i] - mean) / 17.0;
    for (int i = 0; i < 17; ++i)
      ln[r * 17 + i] = float((x[r * 17 + i] - mean) / std::sqrt(var + 1e-5) * gamma[i] + beta[i]);
    rm[r] = float(mean);
  }
  OnnxBuilder b(17);
  b.input("x", s).output("sm").output("ln").output("rm");
  add_tensor(b, "g", {17}, gamma);
  add_tensor(b, "bt", {17}, beta);
  OnnxBuilder::attr_i(b.node("Softmax", {"x"}, {"sm"}), "axis", -1);
  b.node("LayerNormalization", {"x", "g", "bt"}, {"ln"});
  auto& r = b.node("ReduceMean", {"x"}, {"rm"});
  OnnxBuilder::attr_ints(r, "axes", {-1});
  OnnxBuilder::attr_i(r, "keepdims", 1);
  auto out = run(b, {{"x", Tensor::from_f32(s, x)}});
  require_close(out.at("sm"), sm, s, kTolTranscend);
  require_close(out.at("ln"), ln, s, kTolTranscend);
  require_close(out.at("rm"), rm, {2, 3, 1}, kTolTranscend);
}

TEST_CASE("MaxPool on wide rows (the vector paths of strides 1 and 2, NaN inputs skipped) matches naive windows") {
  struct Case {
    const char* what;
    int64_t k, s, p;
  };
  const Case cases[] = {{"3x3 s2 p1 (stem)", 3, 2, 1},
                        {"3x3 s1 p1", 3, 1, 1},
                        {"5x5 s1 p2 (SPP)", 5, 1, 2},
                        {"2x2 s2 p0", 2, 2, 0},
                        {"3x3 s3 p0", 3, 3, 0}};
  const int64_t C = 3, H = 9, W = 75;
  auto x = random_values(C * H * W, 28);
  x[size_t(W + 5)] = NAN;  // skipped like std::max(m, NaN) in the reference
  x[size_t((H + 4) * W + 40)] = NAN;
  for (const Case& c : cases) {
    SECTION(c.what) {
      const int64_t OH = (H + 2 * c.p - c.k) / c.s + 1, OW = (W + 2 * c.p - c.k) / c.s + 1;
      std::vector<float> ref;
      for (int64_t ch = 0; ch < C; ++ch)
        for (int64_t oh = 0; oh < OH; ++oh)
          for (int64_t ow = 0; ow < OW; ++ow) {
            float m = -INFINITY;
            for (int64_t kh = 0; kh < c.k; ++kh)
              for (int64_t kw = 0; kw < c.k; ++kw) {
                const int64_t ih = oh * c.s - c.p + kh, iw = ow * c.s - c.p + kw;
                if (ih >= 0 && ih < H && iw >= 0 && iw < W) m = std::max(m, x[(ch * H + ih) * W + iw]);
              }
            ref.push_back(m);
          }
      OnnxBuilder b;
      b.input("x", {1, C, H, W}).output("y");
      auto& n = b.node("MaxPool", {"x"}, {"y"});
      OnnxBuilder::attr_ints(n, "kernel_shape", {c.k, c.k});
      OnnxBuilder::attr_ints(n, "strides", {c.s, c.s});
      OnnxBuilder::attr_ints(n, "pads", {c.p, c.p, c.p, c.p});
      require_close(run(b, {{"x", Tensor::from_f32({1, C, H, W}, x)}}).at("y"), ref, {1, C, OH, OW}, kTolExact);
    }
  }
}

TEST_CASE("MaxPool and AveragePool match naive windows (pads, strides, ceil_mode)") {
  Shape xs{1, 2, 7, 8};
  auto x = random_values(shape_numel(xs), 20);
  int64_t K = 3, S = 2, P = 1;
  int64_t OH = (7 + 2 * P - K + S - 1) / S + 1, OW = (8 + 2 * P - K + S - 1) / S + 1;  // ceil_mode
  std::vector<float> mref, aref;
  for (int c = 0; c < 2; ++c)
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        float m = -INFINITY;
        double s = 0;
        int cnt = 0;
        for (int64_t kh = 0; kh < K; ++kh)
          for (int64_t kw = 0; kw < K; ++kw) {
            int64_t ih = oh * S - P + kh, iw = ow * S - P + kw;
            if (ih < 0 || ih >= 7 || iw < 0 || iw >= 8) continue;
            m = std::max(m, x[(c * 7 + ih) * 8 + iw]);
            s += x[(c * 7 + ih) * 8 + iw];
            ++cnt;
          }
        mref.push_back(m);
        aref.push_back(float(s / cnt));
      }
  OnnxBuilder b;
  b.input("x", xs).output("m").output("a");
  for (const char* op : {"MaxPool", "AveragePool"}) {
    auto& n = b.node(op, {"x"}, {std::string(op) == "MaxPool" ? "m" : "a"});
    OnnxBuilder::attr_ints(n, "kernel_shape", {K, K});
    OnnxBuilder::attr_ints(n, "strides", {S, S});
    OnnxBuilder::attr_ints(n, "pads", {P, P, P, P});
    OnnxBuilder::attr_i(n, "ceil_mode", 1);
  }
  auto out = run(b, {{"x", Tensor::from_f32(xs, x)}});
  require_close(out.at("m"), mref, {1, 2, OH, OW}, kTolExact);
  require_close(out.at("a"), aref, {1, 2, OH, OW}, kTolAccumulate);
  SECTION("AveragePool count_include_pad, stride 3, ceil_mode window past the padded end (double sums: exact)") {
    Shape ys{1, 3, 11, 11};
    auto y = random_values(shape_numel(ys), 27);
    const int64_t k = 4, st = 3, p = 2;
    int64_t oh_n = (11 + 2 * p - k + st - 1) / st + 1, ow_n = (11 + 2 * p - k + st - 1) / st + 1;
    std::vector<float> ref;
    for (int c = 0; c < 3; ++c)
      for (int64_t oh = 0; oh < oh_n; ++oh)
        for (int64_t ow = 0; ow < ow_n; ++ow) {
          double s = 0;
          int64_t h0 = oh * st - p, w0 = ow * st - p;
          int64_t rows = std::min(h0 + k, 11 + p) - h0,
                  cols = std::min(w0 + k, 11 + p) - w0;  // window in the padded map
          for (int64_t kh = 0; kh < k; ++kh)
            for (int64_t kw = 0; kw < k; ++kw) {
              int64_t ih = h0 + kh, iw = w0 + kw;
              if (ih >= 0 && ih < 11 && iw >= 0 && iw < 11) s += y[(c * 11 + ih) * 11 + iw];
            }
          ref.push_back(float(s / double(rows * cols)));
        }
    OnnxBuilder b2;
    b2.input("x", ys).output("a");
    auto& n = b2.node("AveragePool", {"x"}, {"a"});
    OnnxBuilder::attr_ints(n, "kernel_shape", {k, k});
    OnnxBuilder::attr_ints(n, "strides", {st, st});
    OnnxBuilder::attr_ints(n, "pads", {p, p, p, p});
    OnnxBuilder::attr_i(n, "ceil_mode", 1);
    OnnxBuilder::attr_i(n, "count_include_pad", 1);
    require_close(run(b2, {{"x", Tensor::from_f32(ys, y)}}).at("a"), ref, {1, 3, oh_n, ow_n}, kTolExact);
  }
}

TEST_CASE("Resize: nearest and linear in several coordinate modes") {
  Shape xs{1, 2, 5, 6};
  auto x = random_values(shape_numel(xs), 21);
  struct Mode {
    const char* mode;
    const char* coord;
  };
  const Mode modes[] = {{"nearest", "asymmetric"},   {"nearest", "half_pixel"},        {"linear", "half_pixel"},
                        {"linear", "align_corners"}, {"linear", "pytorch_half_pixel"}, {"linear", "asymmetric"}};
  int64_t OH = 9, OW = 13;
  for (const Mode& m : modes) {
    SECTION(std::string(m.mode) + " " + m.coord) {
      std::string coord = m.coord;
      float sh = float(OH) / 5, sw = float(OW) / 6;
      auto src = [&](int64_t o, float s, int64_t in, int64_t out) -> float {
        if (coord == "asymmetric") return o / s;
        if (coord == "align_corners") return out == 1 ? 0.f : float(o) * (in - 1) / float(out - 1);
        return (o + 0.5f) / s - 0.5f;
      };
      std::vector<float> ref;
      for (int c = 0; c < 2; ++c)
        for (int64_t oh = 0; oh < OH; ++oh)
          for (int64_t ow = 0; ow < OW; ++ow) {
            float fy = src(oh, sh, 5, OH), fx = src(ow, sw, 6, OW);
            const float* p = x.data() + c * 30;
            if (std::string(m.mode) == "nearest") {
              auto rnd = [](float v) { return v == std::floor(v) + 0.5f ? std::floor(v) : std::round(v); };
              int64_t iy = std::clamp<int64_t>(int64_t(rnd(fy)), 0, 4),
                      ix = std::clamp<int64_t>(int64_t(rnd(fx)), 0, 5);
              ref.push_back(p[iy * 6 + ix]);
            } else {
              fy = std::clamp(fy, 0.f, 4.f);
              fx = std::clamp(fx, 0.f, 5.f);
              int64_t y0 = int64_t(fy), x0 = int64_t(fx), y1 = std::min<int64_t>(y0 + 1, 4),
                      x1 = std::min<int64_t>(x0 + 1, 5);
              float dy = fy - y0, dx = fx - x0;
              ref.push_back(p[y0 * 6 + x0] * (1 - dy) * (1 - dx) + p[y0 * 6 + x1] * (1 - dy) * dx +
                            p[y1 * 6 + x0] * dy * (1 - dx) + p[y1 * 6 + x1] * dy * dx);
            }
          }
      OnnxBuilder b;
      b.input("x", xs).output("y");
      b.weight_i64("sizes", {1, 2, OH, OW});
      auto& n = b.node("Resize", {"x", "", "", "sizes"}, {"y"});
      for (auto [k, v] : {std::pair{"mode", m.mode}, std::pair{"coordinate_transformation_mode", m.coord}}) {
        auto* a = n.add_attribute();
        a->set_name(k);
        a->set_type(onnx::AttributeProto::STRING);
        a->set_s(v);
      }
      require_close(run(b, {{"x", Tensor::from_f32(xs, x)}}).at("y"), ref, {1, 2, OH, OW}, kTolTranscend);
    }
  }
}

TEST_CASE("Resize nearest on the width only, the height only, and with the channels too: exact copies") {
  Shape xs{2, 3, 5, 7};
  auto x = random_values(shape_numel(xs), 23);
  for (Shape ys : {Shape{2, 3, 5, 14}, Shape{2, 3, 11, 7}, Shape{2, 6, 10, 3}}) {
    SECTION(shape_str(ys)) {
      std::vector<float> ref;  // asymmetric + floor: source index floor(o * in / out)
      for (int64_t n = 0; n < ys[0]; ++n)
        for (int64_t c = 0; c < ys[1]; ++c)
          for (int64_t h = 0; h < ys[2]; ++h)
            for (int64_t w = 0; w < ys[3]; ++w) {
              auto src = [](int64_t o, int64_t in, int64_t out) {
                return std::min<int64_t>(int64_t(std::floor(float(o) / (float(out) / float(in)))), in - 1);
              };
              ref.push_back(x[((n * 3 + src(c, 3, ys[1])) * 5 + src(h, 5, ys[2])) * 7 + src(w, 7, ys[3])]);
            }
      OnnxBuilder b;
      b.input("x", xs).output("y");
      b.weight_i64("sizes", ys);
      auto& n = b.node("Resize", {"x", "", "", "sizes"}, {"y"});
      for (auto [k, v] : {std::pair{"mode", "nearest"}, std::pair{"coordinate_transformation_mode", "asymmetric"},
                          std::pair{"nearest_mode", "floor"}}) {
        auto* a = n.add_attribute();
        a->set_name(k);
        a->set_type(onnx::AttributeProto::STRING);
        a->set_s(v);
      }
      require_close(run(b, {{"x", Tensor::from_f32(xs, x)}}).at("y"), ref, ys, kTolExact);
    }
  }
}

TEST_CASE("large Concat and Gather of a batch of 1 are exact (ShuffleNet's channel shuffle)") {
  // A batch of 1 concatenated on axis 1 (pieces of 133 KB and 87 KB), then the shuffle's
  // Gather of one half on axis 0, with 1 and 2 threads.
  Shape as{1, 21, 40, 40}, bs{1, 14, 40, 40};
  auto av = random_values(shape_numel(as), 90), bv = random_values(shape_numel(bs), 91);
  OnnxBuilder b;
  b.input("a", as).input("b", bs).output("c").output("g");
  OnnxBuilder::attr_i(b.node("Concat", {"a", "b"}, {"c"}), "axis", 1);
  b.weight_i64("shape", {5, 7, 40, 40}).weight_i64("one", {1});
  b.node("Reshape", {"c", "shape"}, {"r"});
  auto& g = b.node("Gather", {"r", "one"}, {"g"});
  OnnxBuilder::attr_i(g, "axis", 0);
  const int64_t plane = 40 * 40;
  std::vector<float> concat(av), half;
  concat.insert(concat.end(), bv.begin(), bv.end());
  half.assign(concat.begin() + 7 * plane, concat.begin() + 14 * plane);
  for (int threads : {1, 2}) {
    INFO("threads " << threads);
    auto out = run(b, {{"a", Tensor::from_f32(as, av)}, {"b", Tensor::from_f32(bs, bv)}}, threads);
    CHECK(out.at("c").to_f32() == concat);
    CHECK(out.at("g").shape() == Shape{1, 7, 40, 40});
    CHECK(out.at("g").to_f32() == half);
  }
}

TEST_CASE("data movement: Transpose, Slice, Concat, Pad, Gather, Expand are exact") {
  Shape xs{2, 3, 4};
  std::vector<float> x(24);
  for (int i = 0; i < 24; ++i) x[i] = float(i);
  OnnxBuilder b;
  b.input("x", xs).output("t").output("s").output("c").output("p").output("g").output("e");
  OnnxBuilder::attr_ints(b.node("Transpose", {"x"}, {"t"}), "perm", {2, 0, 1});
  b.weight_i64("st", {3, 1}).weight_i64("en", {0, 100}).weight_i64("ax", {2, 1}).weight_i64("sp", {-1, 1});
  b.node("Slice", {"x", "st", "en", "ax", "sp"}, {"s"});
  OnnxBuilder::attr_i(b.node("Concat", {"x", "x"}, {"c"}), "axis", 1);
  b.weight_i64("pads", {0, 1, 0, 0, 0, 2});
  auto& pad = b.node("Pad", {"x", "pads"}, {"p"});
  auto* a = pad.add_attribute();
  a->set_name("mode");
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s("reflect");
  b.weight_i64("idx", {2, -1});
  OnnxBuilder::attr_i(b.node("Gather", {"x", "idx"}, {"g"}), "axis", 2);
  b.weight_i64("eshape", {2, 2, 3, 4});
  b.node("Expand", {"x", "eshape"}, {"e"});
  auto out = run(b, {{"x", Tensor::from_f32(xs, x)}});
  auto at = [&](int i, int j, int k) { return x[(i * 3 + j) * 4 + k]; };
  std::vector<float> t, s, c, p, g, e;
  for (int k = 0; k < 4; ++k)
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 3; ++j) t.push_back(at(i, j, k));
  for (int i = 0; i < 2; ++i)
    for (int j = 1; j < 3; ++j)
      for (int k = 3; k > 0; --k) s.push_back(at(i, j, k));
  for (int i = 0; i < 2; ++i)
    for (int r = 0; r < 2; ++r)
      for (int j = 0; j < 3; ++j)
        for (int k = 0; k < 4; ++k) c.push_back(at(i, j, k));
  auto reflect = [](int v, int n) { return v < 0 ? -v : (v >= n ? 2 * (n - 1) - v : v); };
  for (int i = 0; i < 2; ++i)
    for (int j = -1; j < 3; ++j)
      for (int k = 0; k < 6; ++k) p.push_back(at(i, reflect(j, 3), reflect(k, 4)));
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j) {
      g.push_back(at(i, j, 2));
      g.push_back(at(i, j, 3));
    }
  for (int r = 0; r < 2; ++r) e.insert(e.end(), x.begin(), x.end());
  require_close(out.at("t"), t, {4, 2, 3}, kTolExact);
  require_close(out.at("s"), s, {2, 2, 3}, kTolExact);
  require_close(out.at("c"), c, {2, 6, 4}, kTolExact);
  require_close(out.at("p"), p, {2, 4, 6}, kTolExact);
  require_close(out.at("g"), g, {2, 3, 2}, kTolExact);
  require_close(out.at("e"), e, {2, 2, 3, 4}, kTolExact);
}

namespace {
// x -> Conv+Relu (c1, r1) -> depthwise Conv (c2) -> Swish (s2 = Sigmoid, m2 = Mul) -> 1x1 Conv y.
AnalyzedModel conv_relu_swish_model() {
  OnnxBuilder b;
  b.input("x", {1, 3, 16, 16}).output("y");
  b.conv("x", "c1", 3, 8).node("Relu", {"c1"}, {"r1"});
  b.conv("r1", "c2", 8, 8, 3, 1, 8).node("Sigmoid", {"c2"}, {"s2"});
  b.node("Mul", {"c2", "s2"}, {"m2"});
  b.conv("m2", "y", 8, 4, 1);
  return analyze_model(b.bytes(), {});
}
}  // namespace

TEST_CASE("executor contracts: errors, tap, determinism, memory reuse") {
  SECTION("unsupported op names op and node") {
    OnnxBuilder b;
    b.input("x", {1, 4}).output("y");
    b.node("NonMaxSuppression", {"x"}, {"y"}, "nms_1");
    AnalyzedModel am = analyze_model(b.bytes(), {});
    REQUIRE_THROWS_WITH(Executor(am), Catch::Contains("NonMaxSuppression") && Catch::Contains("nms_1"));
  }
  AnalyzedModel am = conv_relu_swish_model();
  Tensor x = Tensor::from_f32({1, 3, 16, 16}, random_values(768, 22));
  SECTION("input shape mismatch names the input and both shapes") {
    Executor ex(am);
    REQUIRE_THROWS_WITH(ex.run({{"x", Tensor::from_f32({1, 3, 8, 8}, random_values(192, 1))}}),
                        Catch::Contains("'x'") && Catch::Contains("[1,3,8,8]") && Catch::Contains("[1,3,16,16]"));
    REQUIRE_THROWS_WITH(ex.run({}), Catch::Contains("'x'") && Catch::Contains("missing"));
  }
  SECTION("tap sees every tensor once, in order, and outputs equal the tapped values") {
    Executor ex(am);
    std::vector<std::string> seen;
    Tensor tapped_y;
    auto out = ex.run({{"x", x}}, [&](const std::string& name, const Tensor& t) {
      seen.push_back(name);
      if (name == "y") tapped_y = t;
    });
    CHECK(seen == std::vector<std::string>{"x", "c1", "r1", "c2", "s2", "m2", "y"});
    CHECK(std::equal(tapped_y.bytes().begin(), tapped_y.bytes().end(), out.at("y").bytes().begin()));
    // A second run (reused buffers, in-place ops) gives the same bytes.
    auto again = ex.run({{"x", x}});
    CHECK(std::equal(again.at("y").bytes().begin(), again.at("y").bytes().end(), out.at("y").bytes().begin()));
  }
  SECTION("results are byte-identical for any thread count") {
    auto one = Executor(am, {1}).run({{"x", x}});
    auto three = Executor(am, {3}).run({{"x", x}});
    CHECK(std::equal(one.at("y").bytes().begin(), one.at("y").bytes().end(), three.at("y").bytes().begin()));
  }
}

TEST_CASE("tap filter: only observed tensors are tapped, fusion stays on where it hides none") {
  AnalyzedModel am = conv_relu_swish_model();
  Tensor x = Tensor::from_f32({1, 3, 16, 16}, random_values(768, 24));
  Executor plain(am);
  REQUIRE(plain.fused_nodes() >= 1);  // Relu into the first Conv
  auto ref = plain.run({{"x", x}});
  std::map<std::string, Tensor> everything;
  Executor all(am);
  all.run({{"x", x}}, [&](const std::string& n, const Tensor& t) { everything[n] = t; });

  auto observe = [&](std::set<std::string> names, std::vector<std::string>* seen) {
    ExecOptions o;
    o.observe = std::move(names);
    Executor ex(am, o);
    std::map<std::string, Tensor> got;
    auto out = ex.run({{"x", x}}, [&](const std::string& n, const Tensor& t) {
      seen->push_back(n);
      got[n] = t;
    });
    for (const auto& [n, t] : got) {
      INFO("tensor " << n);
      CHECK(t.shape() == everything.at(n).shape());  // Relu fusion is bit-exact
      CHECK(std::equal(t.bytes().begin(), t.bytes().end(), everything.at(n).bytes().begin()));
    }
    return out;
  };
  SECTION("the fused Conv+Relu output is observed, its hidden Conv output is not asked for") {
    std::vector<std::string> seen;
    auto out = observe({"x", "r1", "m2", "y"}, &seen);
    CHECK(seen == std::vector<std::string>{"x", "r1", "m2", "y"});
    CHECK(std::equal(out.at("y").bytes().begin(), out.at("y").bytes().end(), ref.at("y").bytes().begin()));
  }
  SECTION("observing the Conv output inside the group turns that fusion off") {
    std::vector<std::string> seen;
    auto out = observe({"c1"}, &seen);
    CHECK(seen == std::vector<std::string>{"c1"});
    CHECK(std::equal(out.at("y").bytes().begin(), out.at("y").bytes().end(), ref.at("y").bytes().begin()));
    ExecOptions o;
    o.observe = std::set<std::string>{"c1"};
    CHECK(Executor(am, o).fused_nodes_with_tap() == plain.fused_nodes() - 1);  // the Swish stays fused
  }
  SECTION("calibration's view of a SiLU: the Conv and the Mul observed, the Sigmoid not") {
    std::vector<std::string> seen;
    observe({"x", "r1", "c2", "m2", "y"}, &seen);  // bits checked against the unfused run
    CHECK(seen == std::vector<std::string>{"x", "r1", "c2", "m2", "y"});
    ExecOptions o;
    o.observe = std::set<std::string>{"x", "r1", "c2", "m2", "y"};
    CHECK(Executor(am, o).fused_nodes_with_tap() == 1);  // the Relu; the SiLU's Conv output is observed
  }
}

TEST_CASE("tap filter: a Conv with a folded BatchNormalization stays fused unless its own output is observed") {
  // The fused kernel never forms the Conv's own values (the BatchNormalization is folded
  // into the bias), so observing them turns the fusion off; the observed bits are run()'s.
  OnnxBuilder b;
  b.input("x", {1, 3, 12, 12}).output("y");
  b.conv("x", "c", 3, 6);
  b.weight("s", {6}, 1.1f).weight("b", {6}, 0.2f).weight("m", {6}, -0.1f).weight("v", {6}, 0.7f);
  b.node("BatchNormalization", {"c", "s", "b", "m", "v"}, {"n"});
  b.node("Relu", {"n"}, {"y"});
  AnalyzedModel am = analyze_model(b.bytes(), {});
  Tensor x = Tensor::from_f32({1, 3, 12, 12}, random_values(3 * 144, 35));
  std::map<std::string, Tensor> everything;
  Executor(am).run({{"x", x}}, [&](const std::string& n, const Tensor& t) { everything[n] = t; });
  ExecOptions o;
  o.observe = std::set<std::string>{"c", "y"};
  Executor ex(am, o);
  CHECK(ex.fused_nodes_with_tap() == 0);
  std::map<std::string, Tensor> got;
  ex.run({{"x", x}}, [&](const std::string& n, const Tensor& t) { got[n] = t; });
  REQUIRE(got.count("c") == 1);
  CHECK(std::equal(got.at("c").bytes().begin(), got.at("c").bytes().end(), everything.at("c").bytes().begin()));
  o.observe = std::set<std::string>{"y"};
  CHECK(Executor(am, o).fused_nodes_with_tap() == 2);
}

TEST_CASE("executor buffer pool stops growing after the first runs (fused and tapped)") {
  // Tensors of several sizes (>= 4 KB, so they are pooled), an output that leaves the
  // executor every run, in-place element-wise ops and a fused Conv+Relu.
  OnnxBuilder b;
  b.input("x", {1, 3, 32, 32}).output("y").output("p");
  b.conv("x", "c1", 3, 8).node("Relu", {"c1"}, {"r1"});
  b.conv("r1", "c2", 8, 16, 3, 2).node("Sigmoid", {"c2"}, {"s2"});
  b.node("Mul", {"c2", "s2"}, {"m2"});
  b.conv("m2", "c3", 16, 8, 1);
  OnnxBuilder::attr_ints(b.node("MaxPool", {"c3"}, {"p"}), "kernel_shape", {2, 2});
  b.conv("m2", "y", 16, 4, 1);
  AnalyzedModel am = analyze_model(b.bytes(), {});
  Tensor x = Tensor::from_f32({1, 3, 32, 32}, random_values(3 * 32 * 32, 23));
  ExecOptions two;
  two.threads = 2;
  Executor ex(am, two);
  auto tap = [](const std::string&, const Tensor&) {};
  auto first = ex.run({{"x", x}});
  ex.run({{"x", x}}, tap);
  ex.run({{"x", x}});
  Executor::PoolStats after_warmup = ex.pool_stats();
  CHECK(after_warmup.buffers > 0);
  for (int i = 0; i < 20; ++i) {
    auto out = ex.run({{"x", x}}, i % 3 == 0 ? Executor::Tap(tap) : Executor::Tap());
    REQUIRE(std::equal(out.at("y").bytes().begin(), out.at("y").bytes().end(), first.at("y").bytes().begin()));
  }
  Executor::PoolStats after_many = ex.pool_stats();
  CHECK(after_many.buffers == after_warmup.buffers);
  CHECK(after_many.bytes == after_warmup.bytes);
}

TEST_CASE("more ops: InstanceNormalization, LogSoftmax, Tile, Split, Upsample, reductions, logic") {
  Shape s{1, 2, 3, 4};
  auto x = random_values(24, 30, 0.1f, 2.f);
  auto at = [&](int c, int h, int w) { return x[(c * 3 + h) * 4 + w]; };
  OnnxBuilder b(13);
  b.input("x", s);
  for (const char* o : {"in", "ls", "tile", "sp0", "sp1", "rmax", "rsum", "gmp", "cmp", "not", "cast", "sq", "lg"})
    b.output(o);
  add_tensor(b, "sc", {2}, {1.5f, -0.5f});
  add_tensor(b, "bi", {2}, {0.25f, 2.f});
  b.node("InstanceNormalization", {"x", "sc", "bi"}, {"in"});
  OnnxBuilder::attr_i(b.node("LogSoftmax", {"x"}, {"ls"}), "axis", 1);
  b.weight_i64("reps", {1, 1, 2, 1});
  b.node("Tile", {"x", "reps"}, {"tile"});
  b.weight_i64("split", {1, 3});
  OnnxBuilder::attr_i(b.node("Split", {"x", "split"}, {"sp0", "sp1"}), "axis", 3);
  auto& rmax = b.node("ReduceMax", {"x"}, {"rmax"});
  OnnxBuilder::attr_ints(rmax, "axes", {1, 3});
  OnnxBuilder::attr_i(rmax, "keepdims", 0);
  b.weight_i64("rax", {2});
  b.node("ReduceSum", {"x", "rax"}, {"rsum"});
  b.node("GlobalMaxPool", {"x"}, {"gmp"});
  b.scalar("one", 1.f);
  b.node("Greater", {"x", "one"}, {"cmp"});
  b.node("Not", {"cmp"}, {"not"});
  OnnxBuilder::attr_i(b.node("Cast", {"cmp"}, {"cast"}), "to", 1);
  b.node("Sqrt", {"x"}, {"sq"});
  b.node("Log", {"x"}, {"lg"});
  auto out = run(b, {{"x", Tensor::from_f32(s, x)}});

  std::vector<float> in(24), ls(24), tile, sp0, sp1, rmax_ref, rsum, gmp, cast, notv, sq, lg;
  for (int c = 0; c < 2; ++c) {
    double mean = 0, var = 0;
    for (int i = 0; i < 12; ++i) mean += x[c * 12 + i] / 12.0;
    for (int i = 0; i < 12; ++i) var += (x[c * 12 + i] - mean) * (x[c * 12 + i] - mean) / 12.0;
    float sc = c ? -0.5f : 1.5f, bi = c ? 2.f : 0.25f;
    for (int i = 0; i < 12; ++i) in[c * 12 + i] = float((x[c * 12 + i] - mean) / std::sqrt(var + 1e-5) * sc + bi);
  }
  for (int h = 0; h < 3; ++h)
    for (int w = 0; w < 4; ++w) {
      double m = std::max(at(0, h, w), at(1, h, w));
      double lse = m + std::log(std::exp(at(0, h, w) - m) + std::exp(at(1, h, w) - m));
      for (int c = 0; c < 2; ++c) ls[(c * 3 + h) * 4 + w] = float(at(c, h, w) - lse);
    }
  for (int c = 0; c < 2; ++c)
    for (int r = 0; r < 2; ++r)
      for (int h = 0; h < 3; ++h)
        for (int w = 0; w < 4; ++w) tile.push_back(at(c, h, w));
  for (int c = 0; c < 2; ++c)
    for (int h = 0; h < 3; ++h) {
      sp0.push_back(at(c, h, 0));
      for (int w = 1; w < 4; ++w) sp1.push_back(at(c, h, w));
    }
  for (int h = 0; h < 3; ++h) {
    float m = -INFINITY;
    for (int c = 0; c < 2; ++c)
      for (int w = 0; w < 4; ++w) m = std::max(m, at(c, h, w));
    rmax_ref.push_back(m);
  }
  for (int c = 0; c < 2; ++c)
    for (int w = 0; w < 4; ++w) {
      double sum = 0;
      for (int h = 0; h < 3; ++h) sum += at(c, h, w);
      rsum.push_back(float(sum));
    }
  for (int c = 0; c < 2; ++c) gmp.push_back(*std::max_element(x.begin() + c * 12, x.begin() + c * 12 + 12));
  for (float v : x) {
    cast.push_back(v > 1.f ? 1.f : 0.f);
    notv.push_back(v > 1.f ? 0.f : 1.f);
    sq.push_back(std::sqrt(v));
    lg.push_back(std::log(v));
  }
  require_close(out.at("in"), in, s, kTolTranscend);
  require_close(out.at("ls"), ls, s, kTolTranscend);
  require_close(out.at("tile"), tile, {1, 2, 6, 4}, kTolExact);
  require_close(out.at("sp0"), sp0, {1, 2, 3, 1}, kTolExact);
  require_close(out.at("sp1"), sp1, {1, 2, 3, 3}, kTolExact);
  require_close(out.at("rmax"), rmax_ref, {1, 3}, kTolExact);
  require_close(out.at("rsum"), rsum, {1, 2, 1, 4}, kTolAccumulate);
  require_close(out.at("gmp"), gmp, {1, 2, 1, 1}, kTolExact);
  CHECK(out.at("cmp").dtype() == DType::Bool);
  require_close(out.at("not"), notv, s, kTolExact);
  require_close(out.at("cast"), cast, s, kTolExact);
  require_close(out.at("sq"), sq, s, kTolTranscend);
  require_close(out.at("lg"), lg, s, kTolTranscend);
}

TEST_CASE("Upsample (opset 9) nearest repeats pixels") {
  Shape s{1, 1, 2, 3};
  std::vector<float> x = {1, 2, 3, 4, 5, 6};
  OnnxBuilder b(9);
  b.input("x", s).output("y");
  add_tensor(b, "scales", {4}, {1.f, 1.f, 2.f, 2.f});
  b.node("Upsample", {"x", "scales"}, {"y"});
  std::vector<float> ref;
  for (int h = 0; h < 4; ++h)
    for (int w = 0; w < 6; ++w) ref.push_back(x[(h / 2) * 3 + w / 2]);
  require_close(run(b, {{"x", Tensor::from_f32(s, x)}}).at("y"), ref, {1, 1, 4, 6}, kTolExact);
}

TEST_CASE("Conv epilogue fusion (BatchNormalization + Clip) equals the unfused run; executor owns its data") {
  Shape xs{1, 4, 10, 10};
  auto x = random_values(shape_numel(xs), 40);
  auto make = [&] {
    OnnxBuilder b;
    b.input("x", xs).output("y");
    b.conv("x", "c", 4, 6);
    add_tensor(b, "s", {6}, random_values(6, 41, 0.5f, 1.5f));
    add_tensor(b, "bb", {6}, random_values(6, 42));
    add_tensor(b, "m", {6}, random_values(6, 43));
    add_tensor(b, "v", {6}, random_values(6, 44, 0.5f, 2.f));
    b.node("BatchNormalization", {"c", "s", "bb", "m", "v"}, {"bn"});
    b.scalar("lo", 0.f).scalar("hi", 0.05f);
    b.node("Clip", {"bn", "lo", "hi"}, {"y"});
    return b;
  };
  OnnxBuilder b = make();
  std::unique_ptr<Executor> ex;
  {
    AnalyzedModel am = analyze_model(b.bytes(), {});
    ex = std::make_unique<Executor>(am);
  }  // the AnalyzedModel is gone: the executor must not depend on it
  auto fused = ex->run({{"x", Tensor::from_f32(xs, x)}});
  std::vector<std::string> seen;
  auto tapped =
      ex->run({{"x", Tensor::from_f32(xs, x)}}, [&](const std::string& n, const Tensor&) { seen.push_back(n); });
  CHECK(seen == std::vector<std::string>{"x", "c", "bn", "y"});  // with a tap nothing is fused away
  CHECK(ex->fused_nodes() == 2);                                 // without: BN and Clip run in the Conv
  require_close(fused.at("y"), tapped.at("y").to_f32(), {1, 6, 10, 10}, kTolAccumulate);
  auto v = fused.at("y").to_f32();
  CHECK(*std::min_element(v.begin(), v.end()) >= 0.f);
  CHECK(*std::max_element(v.begin(), v.end()) <= 0.05f);
}

TEST_CASE("Conv epilogue fusion of Swish (x * Sigmoid(x)), Sigmoid, HardSwish, HardSigmoid equals the unfused run") {
  Shape xs{1, 3, 18, 17};
  auto x = random_values(shape_numel(xs), 50, -2.f, 2.f);
  auto make = [&](bool sigmoid_is_output) {
    OnnxBuilder b;
    b.input("x", xs).output("y");
    if (sigmoid_is_output) b.output("s");
    b.conv("x", "c", 3, 8);
    add_tensor(b, "sc", {8}, random_values(8, 51, 20.f, 60.f));  // wide range for the activations
    add_tensor(b, "bb", {8}, random_values(8, 52));
    add_tensor(b, "m", {8}, random_values(8, 53));
    add_tensor(b, "v", {8}, random_values(8, 54, 0.5f, 2.f));
    b.node("BatchNormalization", {"c", "sc", "bb", "m", "v"}, {"bn"});
    b.node("Sigmoid", {"bn"}, {"s"});
    b.node("Mul", {"s", "bn"}, {"silu"});  // Sigmoid output first: both orders are Swish
    b.conv("silu", "dw", 8, 8, 5, 2, 8).node("HardSwish", {"dw"}, {"hs"});
    b.conv("hs", "c3", 8, 6, 1);
    OnnxBuilder::attr_f(b.node("HardSigmoid", {"c3"}, {"hg"}), "alpha", 0.3f);
    b.conv("hg", "c4", 6, 4, 3).node("Sigmoid", {"c4"}, {"y"});
    return b;
  };
  AnalyzedModel am = analyze_model(make(false).bytes(), {});
  Executor ex(am);
  CHECK(ex.fused_nodes() == 6);  // BN + Sigmoid + Mul, HardSwish, HardSigmoid, Sigmoid
  Tensor xt = Tensor::from_f32(xs, x);
  auto fused = ex.run({{"x", xt}});
  std::map<std::string, Tensor> all;
  auto tapped = ex.run({{"x", xt}}, [&](const std::string& n, const Tensor& t) { all[n] = t; });
  CHECK(all.count("s") == 1);
  CHECK(all.count("hs") == 1);
  require_close(fused.at("y"), tapped.at("y").to_f32(), {1, 4, 9, 9}, kTolAccumulate);
  SECTION("the activations were really exercised: Sigmoid saturates, HardSwish has both signs") {
    auto s = all.at("s").to_f32();
    CHECK(*std::min_element(s.begin(), s.end()) < 0.01f);
    CHECK(*std::max_element(s.begin(), s.end()) > 0.99f);
  }
  SECTION("the Swish intermediate observed: that group runs unfused, the others stay fused") {
    ExecOptions o;
    o.observe = std::set<std::string>{"s", "y"};
    Executor obs(am, o);
    std::vector<std::string> seen;
    auto out = obs.run({{"x", xt}}, [&](const std::string& n, const Tensor& t) {
      seen.push_back(n);
      if (n == "s") require_close(t, all.at("s").to_f32(), {1, 8, 18, 17}, kTolExact);
    });
    CHECK(seen == std::vector<std::string>{"s", "y"});
    require_close(out.at("y"), fused.at("y").to_f32(), {1, 4, 9, 9}, kTolAccumulate);
  }
  SECTION("a Sigmoid output that is also a graph output keeps Swish unfused") {
    AnalyzedModel am2 = analyze_model(make(true).bytes(), {});
    Executor ex2(am2);
    CHECK(ex2.fused_nodes() == 4);  // BN, HardSwish, HardSigmoid, Sigmoid: "s" and the Mul run on their own
    auto out = ex2.run({{"x", xt}});
    require_close(out.at("y"), fused.at("y").to_f32(), {1, 4, 9, 9}, kTolAccumulate);
    require_close(out.at("s"), all.at("s").to_f32(), {1, 8, 18, 17}, kTolAccumulate);
  }
}

TEST_CASE("Conv + Relu + MaxPool (a stem): the MaxPool runs inside the Conv, bit-identical to the unfused run") {
  struct Case {
    const char* name;
    int64_t c, m, h, w, k, stride;                          // conv k x k, pads k / 2
    std::vector<int64_t> kernel, strides, pads, dilations;  // the MaxPool
    int64_t ceil_mode;
  };
  // Natively the 3x3 convs take the direct path, the 1x1 the GEMM; in wasm 3 input
  // channels take im2col + GEMM.
  const std::vector<Case> cases = {
      {"3x3 s2 p1 (ResNet / ShuffleNet stem), odd map", 8, 12, 37, 41, 3, 2, {3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}, 0},
      {"3 input channels", 3, 24, 64, 50, 3, 2, {3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}, 0},
      {"2x2 s2, 20 output channels", 6, 20, 30, 26, 3, 2, {2, 2}, {2, 2}, {0, 0, 0, 0}, {1, 1}, 0},
      {"3x3 s2 ceil_mode, asymmetric pads", 5, 8, 44, 31, 3, 2, {3, 3}, {2, 2}, {0, 1, 1, 0}, {1, 1}, 1},
      {"3x3 s1, dilation 2, stride-1 conv", 8, 9, 24, 20, 3, 1, {3, 3}, {1, 1}, {2, 2, 2, 2}, {2, 2}, 0},
      {"1x1 conv (GEMM path)", 16, 24, 33, 29, 1, 1, {3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}, 0},
  };
  for (const Case& k : cases) {
    INFO(k.name);
    const Shape xs{1, k.c, k.h, k.w};
    auto x = random_values(shape_numel(xs), 70, -1.f, 1.f);
    OnnxBuilder b;
    b.input("x", xs).output("y");
    add_tensor(b, "cw", {k.m, k.c, k.k, k.k}, random_values(k.m * k.c * k.k * k.k, 71, -0.5f, 0.5f));
    add_tensor(b, "cb", {k.m}, random_values(k.m, 72, -0.2f, 0.2f));
    auto& conv = b.node("Conv", {"x", "cw", "cb"}, {"c"});
    OnnxBuilder::attr_ints(conv, "kernel_shape", {k.k, k.k});
    OnnxBuilder::attr_ints(conv, "pads", {k.k / 2, k.k / 2, k.k / 2, k.k / 2});
    OnnxBuilder::attr_ints(conv, "strides", {k.stride, k.stride});
    b.node("Relu", {"c"}, {"r"});
    auto& mp = b.node("MaxPool", {"r"}, {"y"});
    OnnxBuilder::attr_ints(mp, "kernel_shape", k.kernel);
    OnnxBuilder::attr_ints(mp, "strides", k.strides);
    OnnxBuilder::attr_ints(mp, "pads", k.pads);
    OnnxBuilder::attr_ints(mp, "dilations", k.dilations);
    OnnxBuilder::attr_i(mp, "ceil_mode", k.ceil_mode);
    AnalyzedModel am = analyze_model(b.bytes(), {});
    Executor ex(am);
    CHECK(ex.fused_nodes() == 2);  // the Relu and the MaxPool
    Tensor xt = Tensor::from_f32(xs, x);
    auto fused = ex.run({{"x", xt}});
    std::map<std::string, Tensor> all;
    auto tapped = ex.run({{"x", xt}}, [&](const std::string& n, const Tensor& t) { all[n] = t; });
    REQUIRE(all.count("r"));  // with a tap every tensor is produced
    const Shape ys = tapped.at("y").shape();
    require_close(fused.at("y"), tapped.at("y").to_f32(), ys, kTolExact);
    for (int threads : {1, 3}) {
      INFO("threads " << threads);
      require_close(run(b, {{"x", xt}}, threads).at("y"), fused.at("y").to_f32(), ys, kTolExact);
    }
    // Observing the Relu's output keeps the Relu fused and runs the MaxPool on its own.
    ExecOptions o;
    o.observe = std::set<std::string>{"r", "y"};
    Executor obs(am, o);
    CHECK(obs.fused_nodes_with_tap() == 1);
    auto observed = obs.run({{"x", xt}}, [&](const std::string& n, const Tensor& t) {
      require_close(t, all.at(n).to_f32(), all.at(n).shape(), kTolExact);
    });
    require_close(observed.at("y"), fused.at("y").to_f32(), ys, kTolExact);
  }
}

TEST_CASE("Conv epilogue fusion of constant Mul/Add/Sub/Div and a decomposed HardSwish is bit-exact") {
  // PP-OCR style: conv, per-channel Mul, scalar Add (conv value as input 1), then
  // x * Clip(x + 3, 0, 6) / 6, then Sub of a scalar.
  Shape xs{1, 3, 11, 13};
  auto x = random_values(shape_numel(xs), 60, -3.f, 3.f);
  OnnxBuilder b;
  b.input("x", xs).output("y");
  b.conv("x", "c", 3, 5);
  add_tensor(b, "k", {5, 1, 1}, random_values(5, 61, 5.f, 40.f));
  b.node("Mul", {"c", "k"}, {"m"});
  b.scalar("half", -0.5f).scalar("three", 3.f).scalar("zero", 0.f).scalar("six", 6.f).scalar("tenth", 0.1f);
  b.node("Add", {"half", "m"}, {"a"});
  b.node("Add", {"a", "three"}, {"a3"});
  b.node("Clip", {"a3", "zero", "six"}, {"cl"});
  b.node("Mul", {"a", "cl"}, {"hs"});
  b.node("Div", {"hs", "six"}, {"d"});
  b.node("Sub", {"d", "tenth"}, {"y"});
  AnalyzedModel am = analyze_model(b.bytes(), {});
  Executor ex(am);
  CHECK(ex.fused_nodes() == 7);  // Mul, Add, (Add, Clip, Mul), Div, Sub
  Tensor xt = Tensor::from_f32(xs, x);
  auto fused = ex.run({{"x", xt}});
  std::map<std::string, Tensor> all;
  auto tapped = ex.run({{"x", xt}}, [&](const std::string& n, const Tensor& t) { all[n] = t; });
  CHECK(all.size() == 9);  // x and every node's output
  require_close(fused.at("y"), tapped.at("y").to_f32(), {1, 5, 11, 13}, kTolExact);
  auto cl = all.at("cl").to_f32();  // both Clip bounds were reached
  CHECK(*std::min_element(cl.begin(), cl.end()) == 0.f);
  CHECK(*std::max_element(cl.begin(), cl.end()) == 6.f);
  SECTION("a tap observing a tensor inside the group keeps the prefix before it fused, never half a gate") {
    for (const char* name : {"a", "cl", "hs"}) {
      ExecOptions o;
      o.observe = std::set<std::string>{name, "y"};
      Executor obs(am, o);
      std::vector<std::string> seen;
      auto out = obs.run({{"x", xt}}, [&](const std::string& n, const Tensor& t) {
        seen.push_back(n);
        INFO("tensor " << n);
        require_close(t, all.at(n).to_f32(), all.at(n).shape(), kTolExact);
      });
      CHECK(seen == std::vector<std::string>{name, "y"});
      require_close(out.at("y"), fused.at("y").to_f32(), {1, 5, 11, 13}, kTolExact);
    }
  }
  SECTION("Sub with the Conv value as its second input, or Add of two computed tensors, stay unfused") {
    OnnxBuilder b2;
    b2.input("x", xs).output("y").output("z");
    b2.conv("x", "c", 3, 5).scalar("one", 1.f);
    b2.node("Sub", {"one", "c"}, {"y"});
    b2.conv("x", "c2", 3, 5).conv("x", "c3", 3, 5);
    b2.node("Add", {"c2", "c3"}, {"z"});
    AnalyzedModel am2 = analyze_model(b2.bytes(), {});
    CHECK(Executor(am2).fused_nodes() == 0);
  }
}

TEST_CASE("a zero Pad before a Conv is folded into the Conv's pads, bit-exact, unless a tap observes it") {
  // TF exports: Pad (bottom/right, or all sides) then a Conv without pads. Three paths:
  // depthwise stride 2, the direct KxK path, and im2col + GEMM (a small map).
  Shape xs{1, 6, 17, 16};
  auto x = random_values(shape_numel(xs), 70, -2.f, 2.f);
  OnnxBuilder b;
  b.input("x", xs).output("y").output("z").output("u");
  b.weight_i64("p_br", {0, 0, 0, 0, 0, 0, 1, 1}).weight_i64("p_all", {0, 0, 2, 1, 0, 0, 1, 2});
  b.scalar("zero", 0.f).scalar("one", 1.f).scalar("six", 6.f);
  b.node("Pad", {"x", "p_br"}, {"xp"});  // folded into the depthwise conv
  add_tensor(b, "wd", {6, 1, 3, 3}, random_values(54, 71));
  auto& dw = b.node("Conv", {"xp", "wd"}, {"d"});
  OnnxBuilder::attr_ints(dw, "strides", {2, 2});
  OnnxBuilder::attr_i(dw, "group", 6);
  b.node("Clip", {"d", "zero", "six"}, {"y"});
  b.node("Pad", {"x", "p_all", "zero"}, {"xq"});  // explicit zero value: folded into a direct 3x3 conv
  add_tensor(b, "wc", {5, 6, 3, 3}, random_values(270, 72));
  OnnxBuilder::attr_ints(b.node("Conv", {"xq", "wc"}, {"c"}), "pads", {1, 0, 0, 1});
  b.node("Relu", {"c"}, {"z"});
  b.node("Pad", {"d", "p_br"}, {"dp"});  // small map [1,6,8,8] + pad: im2col + GEMM
  add_tensor(b, "wg", {4, 6, 3, 3}, random_values(216, 73));
  OnnxBuilder::attr_ints(b.node("Conv", {"dp", "wg"}, {"g"}), "strides", {2, 2});
  b.node("Pad", {"x", "p_br", "one"}, {"xo"});  // value 1: not folded
  add_tensor(b, "w1", {2, 6, 3, 3}, random_values(108, 74));
  b.node("Conv", {"xo", "w1"}, {"o"});
  b.node("Add", {"g", "g"}, {"gg"});  // keep the shapes apart from "o"
  b.node("ReduceMean", {"o"}, {"om"});
  b.node("Add", {"gg", "om"}, {"u"});
  AnalyzedModel am = analyze_model(b.bytes(), {});
  Executor ex(am);
  CHECK(ex.fused_nodes() == 4);  // three Pads and the Relu ("d" has two readers: its Clip stays)
  Tensor xt = Tensor::from_f32(xs, x);
  auto folded = ex.run({{"x", xt}});
  std::map<std::string, Tensor> all;
  auto plain = ex.run({{"x", xt}}, [&](const std::string& n, const Tensor& t) { all[n] = t; });
  CHECK(all.count("xp") == 1);  // with a tap every Pad runs
  for (const char* o : {"y", "z", "u"}) {
    INFO("output " << o);
    require_close(folded.at(o), plain.at(o).to_f32(), plain.at(o).shape(), kTolExact);
  }
  CHECK(all.at("c").shape() == Shape{1, 5, 19, 18});  // the Conv's pads on top of the Pad's
  SECTION("a tap observing a Pad output runs that Pad; the others stay folded") {
    ExecOptions o;
    o.observe = std::set<std::string>{"xq", "y", "z", "u"};
    Executor obs(am, o);
    std::vector<std::string> seen;
    auto out = obs.run({{"x", xt}}, [&](const std::string& n, const Tensor& t) {
      seen.push_back(n);
      if (n == "xq") require_close(t, all.at("xq").to_f32(), all.at("xq").shape(), kTolExact);
    });
    CHECK(std::count(seen.begin(), seen.end(), "xq") == 1);
    for (const char* name : {"y", "z", "u"})
      require_close(out.at(name), plain.at(name).to_f32(), plain.at(name).shape(), kTolExact);
  }
}

TEST_CASE("a zero Pad before an AveragePool is folded as counted pads, bit-exact, only where the pool counts pads") {
  // PyTorch: F.pad(x, (0, 1, 0, 1)) then avg_pool2d(3, 2) (ShuffleNet / FastestDet heads).
  Shape xs{1, 5, 12, 11};
  auto x = random_values(shape_numel(xs), 75, -2.f, 2.f);
  OnnxBuilder b;
  b.input("x", xs).output("a").output("c").output("e");
  b.weight_i64("p_br", {0, 0, 0, 0, 0, 0, 1, 1});
  b.node("Pad", {"x", "p_br"}, {"xa"});  // pool without pads: folded
  auto& pa = b.node("AveragePool", {"xa"}, {"a"});
  OnnxBuilder::attr_ints(pa, "kernel_shape", {3, 3});
  OnnxBuilder::attr_ints(pa, "strides", {2, 2});
  b.node("Pad", {"x", "p_br"}, {"xc"});  // pool with its own pads, counted: folded
  auto& pc = b.node("AveragePool", {"xc"}, {"c"});
  OnnxBuilder::attr_ints(pc, "kernel_shape", {3, 3});
  OnnxBuilder::attr_ints(pc, "pads", {1, 1, 0, 0});
  OnnxBuilder::attr_i(pc, "count_include_pad", 1);
  b.node("Pad", {"x", "p_br"}, {"xe"});  // own pads not counted: not folded (the Pad's zeros count)
  auto& pe = b.node("AveragePool", {"xe"}, {"e"});
  OnnxBuilder::attr_ints(pe, "kernel_shape", {2, 2});
  OnnxBuilder::attr_ints(pe, "pads", {1, 1, 1, 1});
  AnalyzedModel am = analyze_model(b.bytes(), {});
  Executor ex(am);
  CHECK(ex.fused_nodes() == 2);
  Tensor xt = Tensor::from_f32(xs, x);
  auto folded = ex.run({{"x", xt}});
  std::map<std::string, Tensor> all;
  auto plain = ex.run({{"x", xt}}, [&](const std::string& n, const Tensor& t) { all[n] = t; });
  for (const char* o : {"a", "c", "e"}) {
    INFO("output " << o);
    require_close(folded.at(o), plain.at(o).to_f32(), plain.at(o).shape(), kTolExact);
  }
  // against a naive average over the explicitly padded input (padded zeros count)
  const auto& xa = all.at("xa");
  const Shape ps = xa.shape();
  const auto xv = xa.to_f32();
  std::vector<float> ref;
  for (int64_t c = 0; c < 5; ++c)
    for (int64_t oh = 0; oh + 3 <= ps[2]; oh += 2)
      for (int64_t ow = 0; ow + 3 <= ps[3]; ow += 2) {
        double sum = 0;
        for (int64_t kh = 0; kh < 3; ++kh)
          for (int64_t kw = 0; kw < 3; ++kw) sum += xv[size_t((c * ps[2] + oh + kh) * ps[3] + ow + kw)];
        ref.push_back(float(sum / 9));
      }
  require_close(folded.at("a"), ref, folded.at("a").shape(), kTolAccumulate);
}

TEST_CASE("graph inputs are read in place: the caller's tensors stay intact, in-place ops get their own buffer") {
  Shape xs{1, 2, 3, 40};  // > 4 KB: pooled sizes
  auto x = random_values(shape_numel(xs), 80, -1.f, 1.f);
  const Tensor xt = Tensor::from_f32(xs, x);
  std::vector<float> relu(x);
  for (float& v : relu) v = std::max(v, 0.f);
  SECTION("an element-wise op whose input dies there (it would run in place on a buffer of the run)") {
    OnnxBuilder b;
    b.input("x", xs).output("y");
    b.node("Relu", {"x"}, {"y"});
    AnalyzedModel am = analyze_model(b.bytes(), {});
    Executor ex(am);
    for (int run = 0; run < 2; ++run) {
      auto out = ex.run({{"x", xt}});
      require_close(xt, x, xs, kTolExact);  // untouched
      require_close(out.at("y"), relu, xs, kTolExact);
    }
  }
  SECTION("an input that is also a graph output, and a view of it") {
    OnnxBuilder b;
    b.input("x", xs).output("y").output("x").output("r");
    b.node("Relu", {"x"}, {"y"});
    b.node("Reshape", {"x", "rs"}, {"r"});
    b.weight_i64("rs", {1, 240});
    AnalyzedModel am = analyze_model(b.bytes(), {});
    Executor ex(am);
    auto out = ex.run({{"x", xt}});
    require_close(xt, x, xs, kTolExact);
    require_close(out.at("y"), relu, xs, kTolExact);
    require_close(out.at("x"), x, xs, kTolExact);
    require_close(out.at("r"), x, {1, 240}, kTolExact);
  }
}
