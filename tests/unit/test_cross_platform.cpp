// Cross-platform bytes. Hidden ([.cross_platform]): run by ctest in the wasm build and in
// the MIXQ_PORTABLE_FP native build, then tests/cross/compare.sh requires the files of the
// two to be byte-identical. Each case writes MIXQ_CROSS_DIR/<case>.<MIXQ_PLATFORM_LABEL>:
//   fastestdet_kl.cali        kl table: 3 coco40 images picked like run_calibration, 1/255
//   yolov5n_face_p9999.cali   percentile9999 table: 2 coco40 images letterboxed (pad 114)
//   fastestdet_fp32.npz       FP32 graph outputs (fused run) on an input computed from its index
//   <model>_fp32.npz          FP32 graph outputs of every model of the exec_ort fixture
//                             (shared + PaddleOCR det/rec/cls, tests/exec/make_ort_refs.sh)
// Natively the calibration runs on 2 threads, in wasm on 1 (tables do not depend on it).
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "mixq/analysis.h"
#include "mixq/calib/calibrate.h"
#include "mixq/exec/executor.h"
#include "mixq/npz.h"
#include "support/calib_data.h"
#include "support/exec_refs.h"
#include "support/onnx_builder.h"

using namespace mixq;
using namespace mixq::calib;

namespace {

void write_case(const std::string& name, const std::string& bytes) {
  std::filesystem::create_directories(MIXQ_CROSS_DIR);
  std::string path = std::string(MIXQ_CROSS_DIR) + "/" + name + "." + MIXQ_PLATFORM_LABEL;
  std::ofstream(path, std::ios::binary) << bytes;
  std::vector<uint8_t> back;
  REQUIRE(test::read_bytes(path, back));
  CHECK(back.size() == bytes.size());
}

std::string table_bytes(const AnalyzedModel& am, const DataSelection& sel, CalibrateOptions o) {
  o.threads = 2;
  CaliTableHeader h;
  h.generated_time = "cross-platform";
  auto r = calibrate(am, sel, test::read_sample_file, o);
  REQUIRE(r.layers.size() == am.layers.layers.size());
  return write_cali_table(h, r.table());
}

}  // namespace

TEST_CASE("cross-platform: fastestdet kl table and FP32 outputs", "[.cross_platform]") {
  MIXQ_REQUIRE_SHARED(model, "models/fastestdet.onnx");
  AnalyzedModel am = analyze_model(model, {});
  DataSelection sel = test::coco40_selection(3);
  CalibrateOptions o;
  o.preprocess.scale = {1 / 255.f, 1 / 255.f, 1 / 255.f};
  write_case("fastestdet_kl.cali", table_bytes(am, sel, o));

  Executor ex(am, ExecOptions{2});
  std::map<std::string, Tensor> feed;
  for (const auto& in : ex.inputs()) {
    std::vector<float> v(size_t(shape_numel(in.shape)));
    for (size_t i = 0; i < v.size(); ++i)
      v[i] = float((uint32_t(i) * 2654435761u) % 1000u) / 999.f;  // 32-bit everywhere
    feed.emplace(in.name, Tensor::from_f32(in.shape, std::move(v)));
  }
  std::vector<uint8_t> npz = write_npz(ex.run(feed));
  write_case("fastestdet_fp32.npz", std::string(npz.begin(), npz.end()));
}

TEST_CASE("cross-platform: yolov5n-face percentile9999 table", "[.cross_platform]") {
  MIXQ_REQUIRE_SHARED(model, "models/yolov5n-0.5-face.onnx");
  write_case("yolov5n_face_p9999.cali",
             table_bytes(analyze_model(model, {}), test::coco40_selection(2), test::yolov5n_face_p9999_options()));
}

TEST_CASE("cross-platform: FP32 outputs of every exec_ort model", "[.cross_platform]") {
  test::for_each_exec_ref_model([](test::ExecRefModel& m) {
    Executor ex(m.am, ExecOptions{2});
    std::vector<uint8_t> npz = write_npz(ex.run(m.inputs));
    write_case(m.name + "_fp32.npz", std::string(npz.begin(), npz.end()));
  });
}
