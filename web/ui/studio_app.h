// StudioApp: the ImGui studio (shared by the web and desktop hosts). It owns the
// StudioSession (the document) and the UI state: graph view, layer table, properties,
// qtable panel, log. A host creates the ImGui context + backends, calls setup() once and
// frame() between NewFrame() and Render(); platform services (downloads, file picking,
// clipboard) come in as callbacks so this code has no platform #ifdefs.
//
// The script API (window.mixq on the web) calls the public "actions" below: the UI's
// buttons call the very same functions. Actions throw mixq::Error on bad input after
// logging it and showing it in the UI; nothing the user edited is lost on an error.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "mixq/studio_session.h"

namespace mixq::studio {

struct PlatformServices {
  // Offers `data` to the user as a file (browser download / file next to the model).
  std::function<void(const std::string& filename, const std::string& mime, const std::string& data)> save_file;
  // Opens the platform's file picker; the host later calls load_model / import_qtable.
  // kind: "model", "qtable", "reference", "mlir" or "calibration" (several files). Empty: the app asks for a path
  // itself (desktop).
  std::function<void(const std::string& kind)> pick_file;
  // Reads a file by path (desktop); empty on the web.
  std::function<std::vector<uint8_t>(const std::string& path)> read_file;
  std::function<void(const std::string& text)> copy_text;
  // "YYYY-MM-DD hh:mm:ss.ffffff" for the qtable header.
  std::function<std::string()> now;
  // Base URL of the page (the session link is base + "#session=" + payload).
  std::function<std::string()> page_url;
};

class StudioApp {
 public:
  explicit StudioApp(PlatformServices services);
  ~StudioApp();

  // Loads fonts (TTF bytes, embedded by the host) at `scale` (HiDPI) and the theme.
  void setup(std::span<const uint8_t> font_ttf, std::span<const uint8_t> bold_ttf, std::span<const uint8_t> mono_ttf,
             float scale);
  void frame();  // builds the whole UI for one frame

  // --- actions (the script API and the UI both call these) ---------------------
  // input_shapes: model_transform.py's --input_shapes text ("" = the declared shapes).
  void load_model(std::span<const uint8_t> bytes, const std::string& name, const std::string& input_shapes = "");
  // Re-analyzes the open model (StudioSession::set_input_shapes / set_mlir); edits follow
  // their layers; returns the edited layers that vanished (also logged as warnings).
  std::vector<std::string> set_input_shapes(const std::string& text);
  // A top .mlir: its loc names become the layer names. JSON {"layers","renamed",
  // "unmatched":[...],"dropped_precisions":[...]}.
  std::string load_mlir(const std::string& text, const std::string& name);
  void clear_mlir();
  // The model the qtable was written for (exact structural name mapping).
  void load_reference(std::span<const uint8_t> bytes, const std::string& name);
  std::string import_qtable(const std::string& text, const std::string& name);  // JSON report
  std::string apply_suggestions(double min_confidence);                         // JSON report
  std::string export_qtable();
  std::string export_precisions_json();
  std::string session_url();
  void open_session_url(const std::string& url_or_payload);
  // Calibration (StudioCalibration; the run advances a batch per frame in frame()).
  int add_calibration_data(const std::string& name, std::vector<uint8_t> bytes);  // returns the file count
  bool remove_calibration_data(const std::string& name);
  // options: JSON with the CLI's flag names ("" = the panel's fields). Returns the run id.
  int start_calibration(const std::string& options_json);
  void cancel_calibration();
  std::string calibration_status_json() const;  // {"run","state","done","total","message"}
  std::string calibration_result_json() const;
  std::string export_cali_table();
  void set_chip(const std::string& chip);
  void set_precision(const std::string& layer_name, const std::string& mode);
  void select_layer(const std::string& layer_name);
  void fit_view();
  std::string stats_json() const;  // layers, frame time, layout time ...

  StudioSession& session();
  void report_error(const std::string& message);  // log + banner

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mixq::studio
