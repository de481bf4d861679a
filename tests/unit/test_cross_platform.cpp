// Cross-platform bytes. Hidden ([.cross_platform]): run by ctest in the wasm build and in
// the MIXQ_PORTABLE_FP native build, then tests/cross/compare.sh requires the files of the
// two to be byte-identical. Each case writes MIXQ_CROSS_DIR/<case>.<MIXQ_PLATFORM_LABEL>:
//   fastestdet_kl.cali        kl table: 3 coco40 images picked like run_calibration, 1/255
//   yolov5n_face_p9999.cali   percentile9999 table: 2 letterboxed images (pad 114)
//   fastestdet_fp32.npz       FP32 graph outputs (fused run) on an input computed from its index
//   <model>_fp32.npz          FP32 graph outputs of every model of the exec_ort fixture
//                             (shared + PaddleOCR det/rec/cls, tests/exec/make_ort_refs.sh)
// Natively the calibration runs on 2 threads, in wasm on 1 (tables do not depend on it).
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "mixq/analysis.h"
#include "mixq/calib/calibrate.h"
#include "mixq/exec/executor.h"
#include "mixq/npz.h"
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
  ReadSampleFile read = [](const std::string& f) {
    std::vector<uint8_t> b;
    REQUIRE(test::read_bytes(f, b));
    return b;
  };
  o.threads = 2;
  CaliTableHeader h;
  h.generated_time = "cross-platform";
  auto r = calibrate(am, sel, read, o);
  REQUIRE(r.layers.size() == am.layers.layers.size());
  return write_cali_table(h, r.table());
}

}  // namespace

TEST_CASE("cross-platform: fastestdet kl table and FP32 outputs", "[.cross_platform]") {
  MIXQ_REQUIRE_SHARED(model, "models/fastestdet.onnx");
  AnalyzedModel am = analyze_model(model, {});
  std::vector<std::string> paths;
  const std::string dir = test::shared_path("calib/coco40");
  for (const auto& e : std::filesystem::directory_iterator(dir)) paths.push_back(e.path().generic_string());
  DataSelection sel = select_dataset(paths, 3, dir);
  CalibrateOptions o;
  o.preprocess.scale = {1 / 255.f, 1 / 255.f, 1 / 255.f};
  write_case("fastestdet_kl.cali", table_bytes(am, sel, o));

  Executor ex(am, ExecOptions{2});
  std::map<std::string, Tensor> feed;
  for (const auto& in : ex.inputs()) {
    std::vector<float> v(size_t(shape_numel(in.shape)));
    for (size_t i = 0; i < v.size(); ++i) v[i] = float((uint32_t(i) * 2654435761u) % 1000u) / 999.f;  // 32-bit everywhere
    feed.emplace(in.name, Tensor::from_f32(in.shape, std::move(v)));
  }
  std::vector<uint8_t> npz = write_npz(ex.run(feed));
  write_case("fastestdet_fp32.npz", std::string(npz.begin(), npz.end()));
}

TEST_CASE("cross-platform: yolov5n-face percentile9999 table", "[.cross_platform]") {
  MIXQ_REQUIRE_SHARED(model, "models/yolov5n-0.5-face.onnx");
  AnalyzedModel am = analyze_model(model, {});
  DataSelection sel;
  sel.kind = DataKind::Image;
  sel.samples = {{{test::shared_path("calib/coco40/000000000139.jpg")}},
                 {{test::shared_path("calib/coco40/000000000285.jpg")}}};
  CalibrateOptions o;
  o.method = CaliMethod::Percentile9999;
  o.preprocess.keep_aspect_ratio = true;
  o.preprocess.pad_value = 114;
  o.preprocess.pixel_format = "rgb";
  o.preprocess.scale = {1 / 255.f, 1 / 255.f, 1 / 255.f};
  write_case("yolov5n_face_p9999.cali", table_bytes(am, sel, o));
}

TEST_CASE("cross-platform: FP32 outputs of every exec_ort model", "[.cross_platform]") {
  std::string dir = MIXQ_EXEC_REF_DIR;
  std::ifstream manifest(dir + "/manifest.txt");
  INFO(dir + "/manifest.txt is missing: run ctest (fixture exec_ort_refs)");
  REQUIRE(manifest.good());
  std::string line;
  while (std::getline(manifest, line)) {
    auto tab = line.find('\t');
    REQUIRE(tab != std::string::npos);
    std::string name = line.substr(0, tab), path = line.substr(tab + 1);
    std::vector<uint8_t> model_bytes, in_bytes;
    REQUIRE(test::read_bytes(path, model_bytes));
    REQUIRE(test::read_bytes(dir + "/" + name + ".input.npz", in_bytes));
    NpzArrays inputs = read_npz(in_bytes, name + ".input.npz");
    AnalyzeOptions ao;
    ao.load.source_name = path;
    Model probe = load_onnx(model_bytes, ao.load);
    for (const ValueInfo& vi : probe.graph.inputs) ao.input_shapes.push_back(inputs.at(vi.name).shape());
    AnalyzedModel am = analyze_model(model_bytes, ao);
    Executor ex(am, ExecOptions{2});
    std::vector<uint8_t> npz = write_npz(ex.run(inputs));
    write_case(name + "_fp32.npz", std::string(npz.begin(), npz.end()));
  }
}
