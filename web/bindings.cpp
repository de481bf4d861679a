// Embind functions behind window.mixq (web/mixq.js wraps them; spec/cli.md "The web
// studio's script API"). Each returns its value and records a failure in
// studio_last_error() (the JS wrapper turns it into a thrown Error with the same
// message the CLI prints); nothing the user edited is lost on an error.
#include <emscripten/bind.h>

#include <exception>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "mixq/error.h"
#include "web_app.h"

namespace {

std::string g_last_error;

template <typename F>
auto guarded(F&& f) -> decltype(f()) {
  g_last_error.clear();
  try {
    return f();
  } catch (const std::exception& e) {
    g_last_error = e.what();
    if (g_last_error.empty()) g_last_error = "unknown error";
    return decltype(f())();
  }
}

mixq::studio::StudioApp& app() {
  return mixq::studio::web_app();
}

// options: JSON object with CLI flag names without dashes; only "input_shapes" (a string
// "[[1,3,640,640]]" or an array [[1,3,640,640]]) applies to loading a model.
bool load_model(std::string bytes, std::string name, std::string options_json) {
  return guarded([&] {
    std::string input_shapes;
    if (!options_json.empty()) {
      nlohmann::json o = nlohmann::json::parse(options_json, nullptr, false);
      if (o.is_discarded() || !o.is_object()) throw mixq::Error("loadModel: options must be a JSON object");
      for (auto& [key, value] : o.items()) {
        if (key != "input_shapes") throw mixq::Error("loadModel: unknown option '" + key + "' (expected input_shapes)");
        if (value.is_string())
          input_shapes = value.get<std::string>();
        else if (value.is_array())
          input_shapes = value.dump();
        else if (!value.is_null())
          throw mixq::Error("loadModel: input_shapes must be a string like \"[[1,3,640,640]]\"");
      }
    }
    app().load_model({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}, name, input_shapes);
    return true;
  });
}
std::string set_input_shapes(std::string text) {
  return guarded([&] {
    const std::vector<std::string> dropped = app().set_input_shapes(text);
    nlohmann::json j = nlohmann::json::parse(app().stats_json());
    j["dropped_precisions"] = dropped;
    return j.dump();
  });
}
std::string load_mlir(std::string text, std::string name) {
  return guarded([&] { return app().load_mlir(text, name); });
}
bool load_reference(std::string bytes, std::string name) {
  return guarded([&] {
    app().load_reference({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}, name);
    return true;
  });
}
int add_calibration_data(std::string name, std::string bytes) {
  return guarded([&] { return app().add_calibration_data(name, std::vector<uint8_t>(bytes.begin(), bytes.end())); });
}
bool remove_calibration_data(std::string name) {
  return guarded([&] { return app().remove_calibration_data(name); });
}
int start_calibration(std::string options) {
  return guarded([&] { return app().start_calibration(options); });
}
void cancel_calibration() {
  app().cancel_calibration();
}
std::string calibration_status() {
  return app().calibration_status_json();
}
std::string calibration_result() {
  return guarded([&] { return app().calibration_result_json(); });
}
std::string export_cali_table() {
  return guarded([&] { return app().export_cali_table(); });
}
std::string import_qtable(std::string text, std::string name) {
  return guarded([&] { return app().import_qtable(text, name); });
}
std::string apply_suggestions(double min_confidence) {
  return guarded([&] { return app().apply_suggestions(min_confidence); });
}
std::string export_qtable() {
  return guarded([&] { return app().export_qtable(); });
}
std::string export_precisions() {
  return guarded([&] { return app().export_precisions_json(); });
}
std::string session_url() {
  return guarded([&] { return app().session_url(); });
}
bool open_session_url(std::string url) {
  return guarded([&] {
    app().open_session_url(url);
    return true;
  });
}
bool set_chip(std::string chip) {
  return guarded([&] {
    app().set_chip(chip);
    return true;
  });
}
bool set_precision(std::string layer, std::string mode) {
  return guarded([&] {
    app().set_precision(layer, mode);
    return true;
  });
}
bool select_layer(std::string layer) {
  return guarded([&] {
    app().select_layer(layer);
    return true;
  });
}
std::string stats() {
  return guarded([&] { return app().stats_json(); });
}
void report_error(std::string message) {
  app().report_error(message);
}
void set_clipboard(std::string text) {
  mixq::studio::web_set_clipboard(text);
}
void fit_view() {
  app().fit_view();
}
std::string last_error() {
  return g_last_error;
}

}  // namespace

EMSCRIPTEN_BINDINGS(mixq_studio) {
  emscripten::function("studio_load_model", &load_model);
  emscripten::function("studio_set_input_shapes", &set_input_shapes);
  emscripten::function("studio_load_mlir", &load_mlir);
  emscripten::function("studio_import_qtable", &import_qtable);
  emscripten::function("studio_add_calibration_data", &add_calibration_data);
  emscripten::function("studio_remove_calibration_data", &remove_calibration_data);
  emscripten::function("studio_start_calibration", &start_calibration);
  emscripten::function("studio_cancel_calibration", &cancel_calibration);
  emscripten::function("studio_calibration_status", &calibration_status);
  emscripten::function("studio_calibration_result", &calibration_result);
  emscripten::function("studio_export_cali_table", &export_cali_table);
  emscripten::function("studio_load_reference", &load_reference);
  emscripten::function("studio_apply_suggestions", &apply_suggestions);
  emscripten::function("studio_export_qtable", &export_qtable);
  emscripten::function("studio_export_precisions", &export_precisions);
  emscripten::function("studio_session_url", &session_url);
  emscripten::function("studio_open_session_url", &open_session_url);
  emscripten::function("studio_set_chip", &set_chip);
  emscripten::function("studio_set_precision", &set_precision);
  emscripten::function("studio_select_layer", &select_layer);
  emscripten::function("studio_stats", &stats);
  emscripten::function("studio_report_error", &report_error);
  emscripten::function("studio_set_clipboard", &set_clipboard);
  emscripten::function("studio_fit_view", &fit_view);
  emscripten::function("studio_last_error", &last_error);
}
