// Calibration test data from ../shared: the COCO images selected as run_calibration.py
// would (sorted, random.seed(1684) shuffle, first n), and a ReadSampleFile that reads
// files from disk (failing the calling test when one is missing).
#pragma once
#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

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

}  // namespace mixq::test
