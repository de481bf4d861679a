// StudioCalibration: options with the CLI's names, uploaded samples, the incremental run
// (a batch per step) giving exactly calibrate()'s table, cancel, and errors.
#include <catch2/catch.hpp>

#include <cmath>

#include "mixq/calib/cali_table.h"
#include "mixq/error.h"
#include "mixq/npz.h"
#include "mixq/studio_calibration.h"
#include "support/onnx_builder.h"

using namespace mixq;

namespace {
AnalyzedModel conv_model() {
  test::OnnxBuilder b;
  b.input("x", {1, 1, 4, 4}).output("y");
  b.conv("x", "c", 1, 2, 3);
  b.node("Sigmoid", {"c"}, {"y"});
  return analyze_model(b.bytes(), {});
}
std::vector<uint8_t> sample(float base) {
  std::vector<float> v(16);
  for (int i = 0; i < 16; i++) v[i] = base * std::sin(0.9f * i + base);
  return write_npy(Tensor::from_f32({1, 1, 4, 4}, v));
}
}  // namespace

TEST_CASE("studio calibration: options use the CLI's flag names") {
  CalibrationSettings s = parse_calibration_settings(
      R"({"cali_method":"max","input_num":"2","resize_dims":[352,352],"keep_aspect_ratio":true,"pad_value":114,
          "mean":"0,0,0","scale":[0.5,0.5,0.5],"pixel_format":"rgb"})");
  CHECK(s.cali_method == "max");
  CHECK(s.input_num == 2);
  CHECK(s.resize_dims == "352,352");
  CHECK(s.keep_aspect_ratio);
  CHECK(s.pad_value == 114);
  CHECK(s.scale == "0.5,0.5,0.5");
  CHECK(s.pixel_format == "rgb");
  CHECK(s.channel_format == "nchw");  // the CLI's default
  auto o = calibrate_options(s);
  CHECK(o.method == calib::CaliMethod::Max);
  CHECK(o.preprocess.resize_dims == std::vector<int64_t>{352, 352});
  CHECK(parse_calibration_settings(calibration_settings_json(s)).scale == s.scale);
  CHECK_THROWS_WITH(parse_calibration_settings(R"({"calimethod":"kl"})"),
                    Catch::Contains("unknown option 'calimethod'"));
  CHECK_THROWS_WITH(parse_calibration_settings(R"({"input_num":"two"})"), Catch::Contains("input_num"));
  CHECK_THROWS_WITH(calibrate_options(parse_calibration_settings(R"({"cali_method":"best"})")),
                    Catch::Contains("best"));
  CHECK_THROWS_WITH(calibrate_options(parse_calibration_settings(R"({"pixel_format":"yuv"})")),
                    Catch::Contains("pixel_format"));
}

TEST_CASE("studio calibration: a batch per step gives calibrate()'s table; cancel and errors") {
  AnalyzedModel am = conv_model();
  StudioCalibration cal;
  CHECK_THROWS_WITH(cal.start(am, "m.onnx", {}), Catch::Contains("no calibration data"));
  CHECK_THROWS_WITH(cal.add_data("notes.txt", {1, 2}), Catch::Contains("notes.txt"));
  std::map<std::string, std::vector<uint8_t>> files;
  for (int i = 0; i < 3; i++) {
    const std::string name = "s" + std::to_string(i) + ".npy";
    files[name] = sample(1.0f + i);
    cal.add_data(name, files[name]);
  }
  CHECK(cal.data().size() == 3);
  CHECK(cal.data()[0].kind == "npy");

  CalibrationSettings settings = parse_calibration_settings(R"({"cali_method":"max","input_num":2})");
  cal.start(am, "m.onnx", settings);
  REQUIRE(cal.running());
  CHECK(cal.batches_total() == 2);
  int steps = 0;
  while (cal.step()) {
    ++steps;
    CHECK(cal.batches_done() <= cal.batches_total());
  }
  // a batch per step (natively with sample lanes: a batch per lane); the thresholds come
  // with the last call
  CHECK(steps >= 1);
  CHECK(steps <= 2);
  REQUIRE(cal.has_result());
  CHECK(cal.result().samples == 2);

  // The blocking engine on the same selection (--dataset rule) and options.
  auto selection = calib::select_dataset({"s0.npy", "s1.npy", "s2.npy"}, 2, "d");
  calib::ReadSampleFile read = [&](const std::string& f) { return files.at(f); };
  calib::CalibrationResult ref = calib::calibrate(am, selection, read, calibrate_options(settings));
  calib::CaliTableHeader h;
  h.model_name = "m.onnx";
  h.generated_time = "2026-01-01 00:00:00.000000";
  h.sample_number = ref.samples;
  CHECK(cal.export_cali_table("2026-01-01 00:00:00.000000") == calib::write_cali_table(h, ref.table()));
  CHECK(cal.result_json().find("\"name\":\"x\"") != std::string::npos);

  // A new run drops the result; cancel leaves none. A bad file fails the run with its name.
  cal.start(am, "m.onnx", parse_calibration_settings(R"({"cali_method":"kl"})"));
  CHECK_FALSE(cal.has_result());
  cal.cancel();
  CHECK_FALSE(cal.running());
  CHECK(cal.remove_data("s1.npy"));
  CHECK_FALSE(cal.remove_data("s1.npy"));
  cal.add_data("bad.npy", {1, 2, 3});
  cal.start(am, "m.onnx", parse_calibration_settings(R"({"cali_method":"max"})"));  // all files
  bool failed = false;
  try {
    while (cal.step()) {
    }
  } catch (const Error& e) {
    failed = std::string(e.what()).find("bad.npy") != std::string::npos;
  }
  CHECK(failed);
  CHECK_FALSE(cal.running());
  CHECK(cal.error().find("bad.npy") != std::string::npos);
}
