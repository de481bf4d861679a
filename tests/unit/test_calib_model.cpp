// calibrate() end to end: batching and padding, layer naming, methods on a small built
// model, thread-count independence, and the shared models on ../shared/calib.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <map>

#include "mixq/analysis.h"
#include "mixq/calib/calibrate.h"
#include "mixq/exec/executor.h"
#include "mixq/npz.h"
#include "support/calib_data.h"
#include "support/onnx_builder.h"

using namespace mixq;
using namespace mixq::calib;

namespace {

AnalyzedModel small_model() {
  test::OnnxBuilder b;
  b.input("x", {2, 1, 4, 4}).output("y");
  b.conv("x", "c", 1, 2, 3);
  b.node("Relu", {"c"}, {"y"});
  return analyze_model(b.bytes(), {});
}

Tensor item(float base) {
  std::vector<float> v(16);
  for (int i = 0; i < 16; i++) v[i] = base * std::sin(0.7f * i + base);
  return Tensor::from_f32({1, 1, 4, 4}, v);
}

}  // namespace

TEST_CASE("calibrate: npy items batched by the model batch, last batch padded, rows per layer") {
  AnalyzedModel am = small_model();
  std::map<std::string, std::vector<uint8_t>> files;
  DataSelection sel;
  sel.kind = DataKind::Npy;
  std::vector<Tensor> items;
  for (int i = 0; i < 3; i++) {
    items.push_back(item(1.0f + i));
    std::string name = "s" + std::to_string(i) + ".npy";
    files[name] = write_npy(items.back());
    sel.samples.push_back({{name}});
  }
  ReadSampleFile read = [&](const std::string& f) { return files.at(f); };
  CalibrateOptions o;
  o.method = CaliMethod::Max;
  CalibrationResult r = calibrate(am, sel, read, o);
  CHECK(r.samples == 3);
  CHECK(r.batches == 2);  // [s0,s1], [s2,s2]
  REQUIRE(r.layers.size() == am.layers.layers.size());
  CHECK(r.layers[0].layer == "x");
  CHECK(r.layers[1].layer == "y_Relu");  // Conv+Relu fused, named after the Relu
  // Independent reference: run the executor on the same batches, take max |y|.
  Executor exec(am);
  double ymax = 0, xmax = 0;
  for (auto [a, b] : {std::pair{0, 1}, std::pair{2, 2}}) {
    Tensor x(DType::Float32, {2, 1, 4, 4});
    std::copy_n(items[a].f32().data(), 16, x.f32().data());
    std::copy_n(items[b].f32().data(), 16, x.f32().data() + 16);
    for (float v : x.f32()) xmax = std::max<double>(xmax, std::fabs(v));
    auto out = exec.run({{"x", x}});
    for (float v : out.at("y").f32()) ymax = std::max<double>(ymax, std::fabs(v));
  }
  CHECK(r.layers[0].threshold == static_cast<float>(xmax));
  CHECK(r.layers[1].threshold == static_cast<float>(ymax));
  CHECK(r.layers[1].min == 0.0);
  // every method produces finite positive thresholds not above absmax
  for (CaliMethod m : {CaliMethod::Kl, CaliMethod::Percentile9999, CaliMethod::Mse, CaliMethod::AciqGauss,
                       CaliMethod::AciqLaplace, CaliMethod::Admm}) {
    o.method = m;
    auto rm = calibrate(am, sel, read, o);
    for (const auto& l : rm.layers) {
      CHECK(std::isfinite(l.threshold));
      CHECK(l.threshold > 0);
      CHECK(l.threshold <= std::max(std::fabs(l.min), std::fabs(l.max)) + 1e-6);
    }
  }
  // a wrong sample shape names the file
  files["bad.npy"] = write_npy(Tensor::from_f32({1, 1, 3, 3}, std::vector<float>(9, 1.f)));
  sel.samples.push_back({{"bad.npy"}});
  CHECK_THROWS_WITH(calibrate(am, sel, read, o), Catch::Contains("bad.npy"));
}

TEST_CASE("calibrate: sample lanes give the one-thread table for every method; errors name the first bad sample") {
  // Conv -> Relu -> Transpose (a permuting layer: statistics copied from the Relu's) ->
  // Sigmoid, batch 1; the samples' scales go up and down so that histograms are extended
  // mid-run; 11 samples: lanes of 2 and 3 take uneven shares, over more than one step.
  test::OnnxBuilder b;
  b.input("x", {1, 2, 8, 8}).output("y");
  b.conv("x", "c", 2, 4, 3);
  b.node("Relu", {"c"}, {"r"});
  test::OnnxBuilder::attr_ints(b.node("Transpose", {"r"}, {"t"}), "perm", {0, 2, 3, 1});
  b.node("Sigmoid", {"t"}, {"y"});
  AnalyzedModel am = analyze_model(b.bytes(), {});
  std::map<std::string, std::vector<uint8_t>> files;
  DataSelection sel;
  sel.kind = DataKind::Npy;
  for (int i = 0; i < 11; i++) {
    std::vector<float> v(128);
    const float scale = 1.0f + static_cast<float>((i * 7) % 5);
    for (int k = 0; k < 128; k++) v[k] = scale * std::sin(0.37f * k + i) + (k % 9 == 0 ? 0.f : 0.1f * i);
    std::string name = "l" + std::to_string(i) + ".npy";
    files[name] = write_npy(Tensor::from_f32({1, 2, 8, 8}, v));
    sel.samples.push_back({{name}});
  }
  ReadSampleFile read = [&](const std::string& f) { return files.at(f); };
  CaliTableHeader h;
  h.generated_time = "fixed";
  for (CaliMethod m : {CaliMethod::Max, CaliMethod::Kl, CaliMethod::Percentile9999, CaliMethod::Mse,
                       CaliMethod::AciqLaplace, CaliMethod::Admm}) {
    CalibrateOptions o;
    o.method = m;
    o.histogram_bins = 64;  // small: the extensions matter
    o.threads = 1;
    const CalibrationResult one = calibrate(am, sel, read, o);
    if (m == CaliMethod::Max) CHECK(one.statistics_copied > 0);  // the Transpose's, from the Relu's
    const std::string expected = write_cali_table(h, one.table());
    for (int threads : {2, 3}) {
      o.threads = threads;
      Calibration run(am, sel, read, o);
      size_t steps = 0, last = 0;
      while (run.step()) {
        CHECK(run.batches_done() > last);  // each step runs batches
        last = run.batches_done();
        steps++;
      }
      CHECK(run.batches_done() == 11);
      CHECK(steps >= 1);
      const CalibrationResult lanes = run.finish();
      CHECK(lanes.batches == 11);
      CHECK(write_cali_table(h, lanes.table()) == expected);
    }
  }
  // A sample that fails to load stops the run with its own error, whichever lane met it.
  files["l6.npy"] = {1, 2, 3};
  CalibrateOptions o;
  o.threads = 3;
  CHECK_THROWS_WITH(calibrate(am, sel, read, o), Catch::Contains("l6.npy"));
  o.threads = 1;
  CHECK_THROWS_WITH(calibrate(am, sel, read, o), Catch::Contains("l6.npy"));
}

TEST_CASE("calibrate: tune step moves thresholds only towards absmax") {
  AnalyzedModel am = small_model();
  std::map<std::string, std::vector<uint8_t>> files;
  DataSelection sel;
  sel.kind = DataKind::Npy;
  for (int i = 0; i < 4; i++) {
    files["t" + std::to_string(i) + ".npy"] = write_npy(item(0.5f + i));
    sel.samples.push_back({{"t" + std::to_string(i) + ".npy"}});
  }
  ReadSampleFile read = [&](const std::string& f) { return files.at(f); };
  CalibrateOptions o;
  o.method = CaliMethod::AciqGauss;
  o.tune_num = 1;
  auto r = calibrate(am, sel, read, o);
  CHECK(r.tune_samples == 1);
  for (const auto& l : r.layers) {
    CHECK(l.threshold >= l.untuned_threshold);
    CHECK(l.threshold <= std::max(std::fabs(l.min), std::fabs(l.max)) + 1e-9);
  }
}

TEST_CASE("calibrate: fastestdet on coco40 images, deterministic for any thread count") {
  MIXQ_REQUIRE_SHARED(model, "models/fastestdet.onnx");
  AnalyzedModel am = analyze_model(model, {});
  DataSelection sel = test::coco40_selection(3);
  // CPython: sorted coco40 names, random.seed(1684), random.shuffle -> 2149, 3501, 2923, ...
  REQUIRE(sel.samples.size() == 3);
  CHECK(sel.samples[0].files[0].find("000000002149.jpg") != std::string::npos);
  CHECK(sel.samples[1].files[0].find("000000003501.jpg") != std::string::npos);
  CHECK(sel.samples[2].files[0].find("000000002923.jpg") != std::string::npos);
  ReadSampleFile read = test::read_sample_file;
  CalibrateOptions o;
  o.preprocess.scale = {1 / 255.f, 1 / 255.f, 1 / 255.f};
  o.threads = 1;
  auto r1 = calibrate(am, sel, read, o);
  o.threads = 2;
  auto r2 = calibrate(am, sel, read, o);
  CaliTableHeader h;
  h.generated_time = "fixed";
  std::string t1 = write_cali_table(h, r1.table()), t2 = write_cali_table(h, r2.table());
  CHECK(t1 == t2);
  REQUIRE(r1.layers.size() == am.layers.layers.size());
  CHECK(r1.layers[0].layer == "input.1");
  CHECK(r1.layers[0].max <= 1.0f);
  CHECK(r1.layers[0].max > 0.9f);
  CHECK(t1.find("e+") == std::string::npos);
  CHECK(t1.find("inf") == std::string::npos);
  CHECK(t1.find("nan") == std::string::npos);
  for (const auto& l : r1.layers) {
    CHECK(l.threshold > 0);
    CHECK(l.threshold <= std::max(std::fabs(l.min), std::fabs(l.max)) + 1e-6);
  }
  // the channel shuffles' Reshape/Transpose layers share their sources' statistics, and
  // their rows equal their sources' rows (the same values, reordered)
  CHECK(r1.statistics_copied >= 3 * 20);
  std::map<std::string, const LayerCalibration*> by_tensor;
  for (const auto& l : r1.layers) by_tensor[l.tensor] = &l;
  int reorders = 0;
  for (const Layer& l : am.layers.layers) {
    if (l.op_type != "Transpose" && l.op_type != "Reshape") continue;
    const Node& n = am.model.graph.nodes[static_cast<size_t>(l.main_node)];
    auto src = by_tensor.find(n.inputs[0]);
    if (src == by_tensor.end()) continue;
    const LayerCalibration& row = *by_tensor.at(l.outputs[0]);
    CHECK(row.threshold == src->second->threshold);
    CHECK(row.min == src->second->min);
    CHECK(row.max == src->second->max);
    reorders++;
  }
  CHECK(reorders >= 20);
  // the written table reads back with no issue and covers every layer
  auto rep = read_cali_table(t1, "t");
  check_cali_table(rep, am.layers);
  CHECK(rep.issues.empty());
  CHECK(rep.layers_without_row.empty());
  // raw 0..255 pixels are flagged
  o.preprocess.scale = {1, 1, 1};
  sel.samples.resize(1);
  auto raw = calibrate(am, sel, read, o);
  bool warned = false;
  for (const auto& w : raw.warnings) warned = warned || w.find("0..255") != std::string::npos;
  CHECK(warned);
}

TEST_CASE("calibrate: yolov5n-face letterboxed, percentile9999 on two images") {
  MIXQ_REQUIRE_SHARED(model, "models/yolov5n-0.5-face.onnx");
  AnalyzedModel am = analyze_model(model, {});
  DataSelection sel;
  sel.kind = DataKind::Image;
  sel.samples = {{{test::shared_path("calib/coco40/000000000139.jpg")}},
                 {{test::shared_path("calib/coco40/000000000285.jpg")}}};
  ReadSampleFile read = test::read_sample_file;
  CalibrateOptions o = test::yolov5n_face_p9999_options();
  auto r = calibrate(am, sel, read, o);
  REQUIRE(r.layers.size() == am.layers.layers.size());
  CHECK(r.batches == 2);
  for (const auto& l : r.layers) {
    CHECK(std::isfinite(l.threshold));
    CHECK(l.threshold >= 1e-5);
  }
  auto rep = read_cali_table(write_cali_table({}, r.table()), "t");
  check_cali_table(rep, am.layers);
  CHECK(rep.issues.empty());
}

TEST_CASE("calibrate: --part_asymmetric marks SiLU before Conv, --int4_th adds the int4 section") {
  test::OnnxBuilder b;
  b.input("x", {1, 1, 4, 4}).output("y");
  b.conv("x", "c", 1, 2, 3);
  b.node("Sigmoid", {"c"}, {"s"});
  b.node("Mul", {"c", "s"}, {"m"});
  b.conv("m", "y", 2, 2, 1);
  AnalyzedModel am = analyze_model(b.bytes(), {});
  std::map<std::string, std::vector<uint8_t>> files;
  DataSelection sel;
  sel.kind = DataKind::Npy;
  for (int i = 0; i < 2; i++) {
    files[std::to_string(i) + ".npy"] = write_npy(item(1.0f + i));
    sel.samples.push_back({{std::to_string(i) + ".npy"}});
  }
  CalibrateOptions o;
  o.part_asymmetric = true;
  o.int4_th = true;
  auto r = calibrate(
      am, sel, [&](const std::string& f) { return files.at(f); }, o);
  CaliTable t = r.table();
  REQUIRE(t.asym_ops.size() == 1);
  CHECK(t.asym_ops[0] == "m_Mul");  // the SiLU is named after its Mul
  REQUIRE(t.int4_rows.size() == t.rows.size());
  for (size_t i = 0; i < t.rows.size(); i++) {
    CHECK(t.int4_rows[i].threshold <= t.rows[i].threshold);
    CHECK(t.int4_rows[i].min == Approx(-t.int4_rows[i].threshold * 8 / 7));
  }
  std::string text = write_cali_table({}, t);
  CHECK_THAT(text, Catch::Contains("#int4_th\nx "));
  CHECK_THAT(text, Catch::Contains("#asym_op\nm_Mul\n"));
}
