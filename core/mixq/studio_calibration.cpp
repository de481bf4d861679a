// StudioCalibration (see studio_calibration.h).
//
// [SECTION] options (JSON with the CLI's flag names)
// [SECTION] samples
// [SECTION] run
// [SECTION] result and exports
#include "mixq/studio_calibration.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "mixq/calib/cali_table.h"
#include "mixq/calib/dataset.h"
#include "mixq/calib/preprocess.h"
#include "mixq/calib/thresholds.h"
#include "mixq/error.h"

namespace mixq {

// -----------------------------------------------------------------------------
// [SECTION] options (JSON with the CLI's flag names)
// -----------------------------------------------------------------------------

namespace {

constexpr const char* kKnownKeys =
    "cali_method, input_num, histogram_bin_num, tune_num, resize_dims, keep_aspect_ratio, pad_value, pad_type, mean, "
    "scale, pixel_format, channel_format";

int json_int(const nlohmann::json& v, const std::string& key) {
  if (v.is_number_integer()) return v.get<int>();
  if (v.is_number_float() && v.get<double>() == double(int64_t(v.get<double>()))) return int(v.get<double>());
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    size_t used = 0;
    try {
      const int n = std::stoi(s, &used);
      if (used == s.size()) return n;
    } catch (const std::exception&) {
    }
  }
  throw Error("calibrate: " + key + " must be an integer, got " + v.dump());
}

std::string json_text(const nlohmann::json& v, const std::string& key, bool list) {
  if (v.is_string()) return v.get<std::string>();
  if (list && v.is_array()) {
    std::string out;
    for (const auto& x : v) {
      if (!x.is_number()) throw Error("calibrate: " + key + " must be numbers like \"1,2,3\", got " + v.dump());
      out += (out.empty() ? "" : ",") + x.dump();
    }
    return out;
  }
  if (list && v.is_number()) return v.dump();
  throw Error("calibrate: " + key + " must be a string, got " + v.dump());
}

bool json_bool(const nlohmann::json& v, const std::string& key) {
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_number_integer()) return v.get<int>() != 0;
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    if (s == "true" || s == "1") return true;
    if (s == "false" || s == "0" || s.empty()) return false;
  }
  throw Error("calibrate: " + key + " must be true or false, got " + v.dump());
}

}  // namespace

CalibrationSettings parse_calibration_settings(const std::string& json, const CalibrationSettings& base) {
  CalibrationSettings s = base;
  if (json.find_first_not_of(" \t\r\n") == std::string::npos) return s;
  nlohmann::json j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    throw Error("calibrate: options must be a JSON object, e.g. {\"cali_method\":\"kl\"}");
  for (auto& [key, v] : j.items()) {
    if (key == "cali_method")
      s.cali_method = json_text(v, key, false);
    else if (key == "input_num")
      s.input_num = json_int(v, key);
    else if (key == "histogram_bin_num")
      s.histogram_bin_num = json_int(v, key);
    else if (key == "tune_num")
      s.tune_num = json_int(v, key);
    else if (key == "resize_dims")
      s.resize_dims = json_text(v, key, true);
    else if (key == "keep_aspect_ratio")
      s.keep_aspect_ratio = json_bool(v, key);
    else if (key == "pad_value")
      s.pad_value = json_int(v, key);
    else if (key == "pad_type")
      s.pad_type = json_text(v, key, false);
    else if (key == "mean")
      s.mean = json_text(v, key, true);
    else if (key == "scale")
      s.scale = json_text(v, key, true);
    else if (key == "pixel_format")
      s.pixel_format = json_text(v, key, false);
    else if (key == "channel_format")
      s.channel_format = json_text(v, key, false);
    else
      throw Error("calibrate: unknown option '" + key + "' (expected " + kKnownKeys + ")");
  }
  return s;
}

std::string calibration_settings_json(const CalibrationSettings& s) {
  nlohmann::json j = {{"cali_method", s.cali_method},
                      {"input_num", s.input_num},
                      {"histogram_bin_num", s.histogram_bin_num},
                      {"tune_num", s.tune_num},
                      {"resize_dims", s.resize_dims},
                      {"keep_aspect_ratio", s.keep_aspect_ratio},
                      {"pad_value", s.pad_value},
                      {"pad_type", s.pad_type},
                      {"mean", s.mean},
                      {"scale", s.scale},
                      {"pixel_format", s.pixel_format},
                      {"channel_format", s.channel_format}};
  return j.dump();
}

calib::CalibrateOptions calibrate_options(const CalibrationSettings& s) {
  require(s.input_num >= 0, "--input_num: expected >= 0, got " + std::to_string(s.input_num));
  require(s.tune_num >= 0, "--tune_num: expected >= 0, got " + std::to_string(s.tune_num));
  calib::CalibrateOptions co;
  co.method = calib::parse_cali_method(s.cali_method);
  co.histogram_bins = s.histogram_bin_num;
  co.tune_num = s.tune_num;
  auto& p = co.preprocess;
  if (s.resize_dims.find_first_not_of(" \t") != std::string::npos)
    p.resize_dims = calib::parse_int_list(s.resize_dims, "--resize_dims");
  p.keep_aspect_ratio = s.keep_aspect_ratio;
  p.pad_value = s.pad_value;
  p.pad_type = s.pad_type;
  p.mean = calib::parse_float_list(s.mean, "--mean");
  p.scale = calib::parse_float_list(s.scale, "--scale");
  p.pixel_format = s.pixel_format;
  p.channel_format = s.channel_format;
  calib::validate(p);
  return co;
}

// -----------------------------------------------------------------------------
// [SECTION] samples
// -----------------------------------------------------------------------------

StudioCalibration::StudioCalibration() = default;
StudioCalibration::~StudioCalibration() = default;

void StudioCalibration::add_data(const std::string& name, std::vector<uint8_t> bytes) {
  calib::DataKind kind;
  require(!name.empty(), "calibration data: the file needs a name (its extension gives its kind)");
  require(calib::data_kind_of(name, &kind), "calibration data: '" + name +
                                                "' is not an image or array (expected .jpg, .jpeg, .png, .bmp, "
                                                ".jfif, .npz or .npy)");
  auto it = std::lower_bound(files_.begin(), files_.end(), name,
                             [](const auto& f, const std::string& n) { return f.first < n; });
  if (it != files_.end() && it->first == name)
    it->second = std::move(bytes);
  else
    files_.insert(it, {name, std::move(bytes)});
}

bool StudioCalibration::remove_data(const std::string& name) {
  auto it = std::find_if(files_.begin(), files_.end(), [&](const auto& f) { return f.first == name; });
  if (it == files_.end()) return false;
  files_.erase(it);
  return true;
}

void StudioCalibration::clear_data() {
  files_.clear();
}

std::vector<StudioCalibration::DataFile> StudioCalibration::data() const {
  std::vector<DataFile> out;
  for (const auto& [name, bytes] : files_) {
    calib::DataKind kind = calib::DataKind::Image;
    calib::data_kind_of(name, &kind);
    out.push_back({name, bytes.size(), kind == calib::DataKind::Image ? "image" : calib::data_kind_name(kind)});
  }
  return out;
}

// -----------------------------------------------------------------------------
// [SECTION] run
// -----------------------------------------------------------------------------

struct StudioCalibration::Run {
  CalibrationSettings settings;
  std::string model_name;
  std::unique_ptr<calib::Calibration> engine;
};

void StudioCalibration::start(const AnalyzedModel& am, const std::string& model_name,
                              const CalibrationSettings& settings) {
  calib::CalibrateOptions options = calibrate_options(settings);
  std::vector<std::string> names;
  for (const auto& f : files_) names.push_back(f.first);
  require(!names.empty(), "calibrate: no calibration data: add images or npz/npy files first");
  calib::DataSelection selection = calib::select_dataset(names, settings.input_num, "calibration data");
  // The reader serves the uploaded bytes; files_ does not change while a run is active
  // (the studio disables add/remove during a run).
  const auto* files = &files_;
  calib::ReadSampleFile read = [files](const std::string& name) {
    for (const auto& f : *files)
      if (f.first == name) return f.second;
    throw Error("calibration data: '" + name + "' was removed");
  };
  auto run = std::make_unique<Run>();
  run->settings = settings;
  run->model_name = model_name;
  run->engine = std::make_unique<calib::Calibration>(am, selection, read, options);
  run_ = std::move(run);
  result_.reset();
  error_.clear();
}

bool StudioCalibration::step() {
  if (!run_) return false;
  try {
    if (run_->engine->step()) return true;
    auto result = std::make_unique<calib::CalibrationResult>(run_->engine->finish());
    result_ = std::move(result);
    result_settings_ = run_->settings;
    result_model_ = run_->model_name;
    run_.reset();
    return false;
  } catch (const Error& e) {
    error_ = e.what();
    run_.reset();
    throw;
  }
}

void StudioCalibration::cancel() {
  run_.reset();
}

size_t StudioCalibration::batches_done() const {
  return run_ ? run_->engine->batches_done() : 0;
}
size_t StudioCalibration::batches_total() const {
  return run_ ? run_->engine->batches_total() : 0;
}

// -----------------------------------------------------------------------------
// [SECTION] result and exports
// -----------------------------------------------------------------------------

const calib::CalibrationResult& StudioCalibration::result() const {
  if (!result_) throw Error("no calibration result yet: run calibrate first");
  return *result_;
}

void StudioCalibration::clear_result() {
  result_.reset();
}

std::string StudioCalibration::export_cali_table(const std::string& generated_time) const {
  const calib::CalibrationResult& r = result();
  calib::CaliTableHeader h;
  h.model_name = result_model_;
  h.generated_time = generated_time;
  h.histogram_bins = result_settings_.histogram_bin_num;
  h.sample_number = r.samples;
  h.tune_number = r.tune_samples;
  return calib::write_cali_table(h, r.table());
}

std::string StudioCalibration::result_json() const {
  const calib::CalibrationResult& r = result();
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& l : r.layers)
    layers.push_back(
        {{"name", l.layer}, {"tensor", l.tensor}, {"threshold", l.threshold}, {"min", l.min}, {"max", l.max}});
  nlohmann::json j = {{"method", result_settings_.cali_method},
                      {"samples", r.samples},
                      {"batches", r.batches},
                      {"tune_samples", r.tune_samples},
                      {"preprocess", r.preprocess_description},
                      {"warnings", r.warnings},
                      {"options", nlohmann::json::parse(calibration_settings_json(result_settings_))},
                      {"seconds", r.seconds_inference + r.seconds_thresholds},
                      {"layers", layers}};
  return j.dump();
}

}  // namespace mixq
