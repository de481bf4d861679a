// Calibration test data from ../shared: the COCO images selected as run_calibration.py
// would (sorted, random.seed(1684) shuffle, first n), and a ReadSampleFile that reads
// files from disk (failing the calling test when one is missing), and yolov5n-face's
// percentile9999 options with its letterboxed preprocessing.
#pragma once
#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "mixq/calib/calibrate.h"
#include "mixq/calib/dataset.h"
#include "support/onnx_builder.h"

namespace mixq::test {

inline calib::DataSelection coco40_selection(int n) {
  const std::string dir = shared_path("calib/coco40");
  std::vector<std::string> paths;
  for (const auto& e : std::filesystem::directory_iterator(dir)) paths.push_back(e.path().generic_string());
  return calib::select_dataset(paths, n, dir);
}

inline std::vector<uint8_t> read_sample_file(const std::string& path) {
  std::vector<uint8_t> b;
  REQUIRE(read_bytes(path, b));
  return b;
}

// percentile9999 with yolov5n-face's preprocessing: letterboxed (pad 114), RGB, x / 255.
inline calib::CalibrateOptions yolov5n_face_p9999_options() {
  calib::CalibrateOptions o;
  o.method = calib::CaliMethod::Percentile9999;
  o.preprocess.keep_aspect_ratio = true;
  o.preprocess.pad_value = 114;
  o.preprocess.pixel_format = "rgb";
  o.preprocess.scale = {1 / 255.f, 1 / 255.f, 1 / 255.f};
  return o;
}

}  // namespace mixq::test
