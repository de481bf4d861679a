// StudioCalibration: calibration inside the studio (web and desktop), on the core engine
// (calib/calibrate.h). No GL, no file system: samples are uploaded bytes kept in memory.
//
// Options use `mixq calibrate`'s flag names without dashes (spec/cli.md), as JSON:
//   {"cali_method":"max","input_num":2,"resize_dims":"352,352","keep_aspect_ratio":true,
//    "pad_value":114,"pad_type":"center","mean":"0,0,0","scale":"0.0039216,...",
//    "pixel_format":"rgb","channel_format":"nchw","histogram_bin_num":2048,"tune_num":0}
// Missing keys take the CLI's defaults; numbers may also be strings, lists also arrays;
// an unknown key is a mixq::Error naming it and the known ones.
//
// Sample selection is the CLI's --dataset rule (calib/dataset.h: sorted names, shuffled
// with seed 1684, the first input_num kept), so the same files and options give the same
// table as `mixq calibrate MODEL --dataset DIR` (byte for byte, apart from the
// "# genetated time:" line and "# mlir:" naming the model as the caller did).
//
// A run is incremental: start() validates and prepares, step() runs one executor batch
// (the host calls it once per frame so the page never freezes), cancel() drops it.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mixq/analysis.h"
#include "mixq/calib/calibrate.h"

namespace mixq {

struct CalibrationSettings {
  std::string cali_method = "kl";
  int input_num = 0;  // 0 = all
  int histogram_bin_num = 2048;
  int tune_num = 0;
  std::string resize_dims;  // "H,W"; "" = the model input's H,W
  bool keep_aspect_ratio = false;
  int pad_value = 0;
  std::string pad_type = "center";
  std::string mean = "0,0,0";
  std::string scale = "1,1,1";
  std::string pixel_format = "bgr";
  std::string channel_format = "nchw";
};

// Parses the JSON options over `base` (see above). Throws mixq::Error.
CalibrationSettings parse_calibration_settings(const std::string& json, const CalibrationSettings& base = {});
std::string calibration_settings_json(const CalibrationSettings& settings);
// Validates every field (errors name the CLI flag) and converts.
calib::CalibrateOptions calibrate_options(const CalibrationSettings& settings);

class StudioCalibration {
 public:
  StudioCalibration();
  ~StudioCalibration();

  // --- samples ---------------------------------------------------------------
  struct DataFile {
    std::string name;
    size_t size = 0;
    std::string kind;  // "image", "npz", "npy"
  };
  // The kind comes from the extension (jpg/jpeg/png/bmp/jfif, npz, npy, as the CLI's
  // --dataset); anything else is a mixq::Error. A file of the same name is replaced.
  void add_data(const std::string& name, std::vector<uint8_t> bytes);
  bool remove_data(const std::string& name);
  void clear_data();
  std::vector<DataFile> data() const;  // sorted by name

  // --- run -------------------------------------------------------------------
  // Selects the samples and prepares the engine; throws mixq::Error (no data, bad
  // options, samples that do not fit the model). `am` must stay alive until the run ends
  // (the studio cancels a run when the model changes). Drops any previous result.
  void start(const AnalyzedModel& am, const std::string& model_name, const CalibrationSettings& settings);
  bool running() const { return run_ != nullptr; }
  // Runs one batch; when the last one ran, computes the thresholds and ends the run.
  // Returns running(). On mixq::Error the run ends, error() holds the message, and it rethrows.
  bool step();
  void cancel();
  size_t batches_done() const;
  size_t batches_total() const;
  const std::string& error() const { return error_; }

  // --- result ----------------------------------------------------------------
  bool has_result() const { return result_ != nullptr; }
  const calib::CalibrationResult& result() const;  // requires has_result()
  const CalibrationSettings& result_settings() const { return result_settings_; }
  // TPU-MLIR calibration table (cali_table.h), as `mixq calibrate` writes it.
  std::string export_cali_table(const std::string& generated_time) const;
  // {"method","samples","batches","preprocess","warnings":[...],"layers":[{"name","threshold","min","max"}],
  //  "seconds"}
  std::string result_json() const;
  void clear_result();

 private:
  struct Run;
  std::vector<std::pair<std::string, std::vector<uint8_t>>> files_;  // sorted by name
  std::unique_ptr<Run> run_;
  std::unique_ptr<calib::CalibrationResult> result_;
  CalibrationSettings result_settings_;
  std::string result_model_;
  std::string error_;
};

}  // namespace mixq
