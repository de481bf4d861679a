// The studio's Calibration tab: calibration data (add by file picker or drop, list,
// remove), model_transform.py's preprocessing fields, cali_method / input_num, Run with a
// progress bar and Cancel (the run advances a batch per frame, see StudioApp::frame), and
// the result: effective preprocessing, warnings, the per-layer threshold table and the
// calibration table export. The engine side is core/mixq/studio_calibration.h.
#pragma once
#include <functional>
#include <string>

#include "mixq/studio_calibration.h"
#include "mixq/studio_session.h"

struct ImFont;

namespace mixq::studio {

struct CalibrationPanelState {
  StudioCalibration calibration;
  // Fields (model_transform.py / run_calibration.py names), mirrored from the settings of
  // the last run started by script.
  char resize_dims[32] = "";
  bool keep_aspect_ratio = false;
  int pad_value = 0;
  int pad_type = 0;  // center, normal
  char mean[96] = "0,0,0";
  char scale[96] = "1,1,1";
  int pixel_format = 1;    // rgb, bgr, gray
  int channel_format = 0;  // nchw, nhwc
  int method = 0;          // kCaliMethods
  int input_num = 0;
  int histogram_bin_num = 2048;
  char filter[64] = "";
  // Run bookkeeping for the script API: each start() gets an id; `state` is
  // idle | running | done | error | cancelled for the last run.
  int run_id = 0;
  std::string state = "idle";
  std::string message;  // error or cancel reason
  double run_seconds = 0;
};

CalibrationSettings calibration_panel_settings(const CalibrationPanelState& state);
void calibration_panel_show(CalibrationPanelState& state, const CalibrationSettings& settings);

struct CalibrationUi {
  std::function<void()> pick_files, run, cancel, save_table;
  std::function<void(const std::string&)> remove_file;
  std::function<void(const std::string&)> jump;  // layer name
  float scale = 1;
  ImFont* mono = nullptr;
};
void calibration_panel(CalibrationPanelState& state, const StudioSession& session, const CalibrationUi& ui);
// Properties panel rows for a layer (threshold, min, max) when a result exists.
void calibration_properties(const CalibrationPanelState& state, const StudioSession& session, int layer);

}  // namespace mixq::studio
