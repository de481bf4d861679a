// StudioApp: the ImGui studio UI (see studio_app.h). Shared by web and desktop.
//
// [SECTION] theme and colours
// [SECTION] state
// [SECTION] actions (script API)
// [SECTION] main layout (menu bar, panels)
// [SECTION] graph view (layout cache, drawing, input, search)
// [SECTION] left panel: model, chip, exports
// [SECTION] qtable panel
// [SECTION] calibration (run stepping)
// [SECTION] layer table
// [SECTION] properties panel
// [SECTION] log panel
#include "studio_app.h"

#include <imgui.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "canvas_gl.h"
#include "mixq/error.h"
#include "mixq/graph_layout.h"
#include "mixq/log.h"
#include "mixq/shape_inference.h"
#include "studio_calibration_panel.h"
#include "studio_qtable.h"

namespace mixq::studio {
namespace {

// -----------------------------------------------------------------------------
// [SECTION] theme and colours
// -----------------------------------------------------------------------------

ImU32 rgb(int r, int g, int b, int a = 255) {
  return IM_COL32(r, g, b, a);
}

struct ModeColour {
  const char* mode;
  ImU32 fill;
};
// Node fill per precision: integer modes cool, float modes warm, mixed weight-only modes in between.
const ModeColour kModeColours[] = {
    {"INT8", rgb(46, 84, 132)},    {"UINT8", rgb(38, 102, 120)},    {"INT4", rgb(88, 64, 140)},
    {"F16", rgb(36, 128, 92)},     {"BF16", rgb(160, 112, 36)},     {"F32", rgb(160, 58, 58)},
    {"W8F16", rgb(70, 124, 60)},   {"W8BF16", rgb(128, 120, 48)},   {"W4F16", rgb(60, 110, 80)},
    {"W4BF16", rgb(120, 100, 60)}, {"F8", rgb(140, 60, 120)},       {"F8E4M3", rgb(140, 60, 120)},
    {"F8E5M2", rgb(150, 70, 130)}, {"W4F8E4M3", rgb(120, 70, 110)}, {"W4F8E5M2", rgb(120, 70, 110)},
};
const ImU32 kInputFill = rgb(70, 74, 82);

ImU32 mode_colour(const std::string& mode) {
  for (const auto& m : kModeColours)
    if (mode == m.mode) return m.fill;
  return rgb(90, 90, 90);
}

// Threshold ramp (dark blue -> teal -> yellow -> orange -> red), t in [0,1].
ImU32 ramp_colour(float t) {
  static const float stops[][3] = {{40, 60, 130}, {30, 120, 130}, {150, 160, 50}, {200, 120, 40}, {180, 50, 50}};
  t = std::clamp(t, 0.0f, 1.0f) * 4;
  const int k = std::min(3, int(t));
  const float f = t - k;
  return rgb(int(stops[k][0] + (stops[k + 1][0] - stops[k][0]) * f),
             int(stops[k][1] + (stops[k + 1][1] - stops[k][1]) * f),
             int(stops[k][2] + (stops[k + 1][2] - stops[k][2]) * f));
}

ImU32 lighten(ImU32 c, float f) {
  ImVec4 v = ImGui::ColorConvertU32ToFloat4(c);
  v.x += (1 - v.x) * f, v.y += (1 - v.y) * f, v.z += (1 - v.z) * f;
  return ImGui::ColorConvertFloat4ToU32(v);
}

void apply_theme(float scale) {
  ImGuiStyle& s = ImGui::GetStyle();
  ImGui::StyleColorsDark(&s);
  s.WindowRounding = 0;
  s.ChildRounding = 4;
  s.FrameRounding = 4;
  s.PopupRounding = 4;
  s.GrabRounding = 3;
  s.TabRounding = 4;
  s.ScrollbarRounding = 6;
  s.WindowBorderSize = 1;
  s.FrameBorderSize = 0;
  s.WindowPadding = ImVec2(10, 8);
  s.FramePadding = ImVec2(7, 4);
  s.ItemSpacing = ImVec2(8, 5);
  s.CellPadding = ImVec2(6, 2);
  ImVec4* c = s.Colors;
  c[ImGuiCol_WindowBg] = ImVec4(0.105f, 0.112f, 0.125f, 1);
  c[ImGuiCol_ChildBg] = ImVec4(0.085f, 0.09f, 0.10f, 1);
  c[ImGuiCol_PopupBg] = ImVec4(0.12f, 0.13f, 0.145f, 0.98f);
  c[ImGuiCol_Border] = ImVec4(0.2f, 0.21f, 0.24f, 1);
  c[ImGuiCol_MenuBarBg] = ImVec4(0.13f, 0.14f, 0.16f, 1);
  c[ImGuiCol_FrameBg] = ImVec4(0.17f, 0.18f, 0.205f, 1);
  c[ImGuiCol_FrameBgHovered] = ImVec4(0.22f, 0.24f, 0.28f, 1);
  c[ImGuiCol_FrameBgActive] = ImVec4(0.25f, 0.28f, 0.33f, 1);
  c[ImGuiCol_TitleBg] = c[ImGuiCol_TitleBgActive] = ImVec4(0.13f, 0.14f, 0.16f, 1);
  c[ImGuiCol_Header] = ImVec4(0.2f, 0.32f, 0.5f, 0.55f);
  c[ImGuiCol_HeaderHovered] = ImVec4(0.24f, 0.38f, 0.6f, 0.7f);
  c[ImGuiCol_HeaderActive] = ImVec4(0.26f, 0.42f, 0.66f, 0.9f);
  c[ImGuiCol_Button] = ImVec4(0.2f, 0.3f, 0.45f, 0.8f);
  c[ImGuiCol_ButtonHovered] = ImVec4(0.26f, 0.4f, 0.6f, 1);
  c[ImGuiCol_ButtonActive] = ImVec4(0.3f, 0.46f, 0.7f, 1);
  c[ImGuiCol_Tab] = ImVec4(0.14f, 0.15f, 0.17f, 1);
  c[ImGuiCol_TabHovered] = ImVec4(0.26f, 0.4f, 0.6f, 1);
  c[ImGuiCol_TabActive] = ImVec4(0.2f, 0.3f, 0.45f, 1);
  c[ImGuiCol_TableHeaderBg] = ImVec4(0.15f, 0.16f, 0.185f, 1);
  c[ImGuiCol_TableRowBgAlt] = ImVec4(1, 1, 1, 0.025f);
  c[ImGuiCol_Text] = ImVec4(0.88f, 0.9f, 0.93f, 1);
  c[ImGuiCol_TextDisabled] = ImVec4(0.52f, 0.55f, 0.6f, 1);
  s.ScaleAllSizes(scale);
}

std::string shape_text(const Shape& s) {
  if (s.empty()) return "";
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "x" : "") + (s[i] < 0 ? std::string("?") : std::to_string(s[i]));
  return out;
}

int64_t shape_numel_or(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d < 0 ? 1 : d;
  return n;
}

std::string base_name(const std::string& path) {
  const auto slash = path.find_last_of("/\\");
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

struct WeightStats {
  std::string name;
  Shape shape;
  std::string dtype;
  int64_t count = 0;
  double min = 0, max = 0, mean = 0, stddev = 0;
};

// -----------------------------------------------------------------------------
// [SECTION] state
// -----------------------------------------------------------------------------

struct LogLine {
  LogLevel level;
  std::string text;
};

}  // namespace

struct StudioApp::Impl {
  PlatformServices services;
  StudioSession session;
  QtableState qtable;
  CalibrationPanelState cali;
  // Graph colouring: by precision, or (with a calibration result) by threshold on a log
  // scale; per-layer ramp positions cached per result.
  bool colour_by_threshold = false;
  std::vector<float> threshold_pos;  // per layer, -1 = no row
  double threshold_lo = 0, threshold_hi = 0;
  long long threshold_key = -2;
  float scale = 1;
  ImFont* font = nullptr;
  ImFont* font_bold = nullptr;
  ImFont* mono = nullptr;

  // graph view
  GraphLayout layout;
  int layout_revision = -1;  // model identity the layout belongs to
  int model_serial = 0;
  double layout_ms = 0;
  std::vector<std::string> node_title, node_subtitle;
  ImVec2 pan{0, 0};
  float zoom = 1;
  int want_fit = 0;  // 1: readable fit (on open), 2: whole graph
  bool want_focus = false;
  int focus_layer = -1;
  ImVec2 canvas_size{0, 0};

  // selection and search
  int selected = -1;
  std::set<int> multi;  // layer-table multi-selection (includes `selected`)
  char search[128] = "";
  bool focus_search = false;
  std::vector<int> search_hits;
  int search_cursor = 0;

  // layer table
  char filter[128] = "";
  std::vector<int> table_rows;
  int table_sort_column = 0;
  bool table_sort_ascending = true;
  int table_revision = -1;
  std::string table_filter_used;

  // properties cache
  int stats_layer = -1;
  std::vector<WeightStats> stats;

  // log + errors
  std::vector<LogLine> log;
  std::string banner;
  double banner_time = 0;

  // timings
  double frame_ms_avg = 0, frame_ms_max = 0;
  int frames = 0;

  // desktop path prompt
  std::string prompt_kind;
  char prompt_path[512] = "";

  // Model panel: the "Input shapes" field (refreshed when the analysis changes) and the
  // last re-analysis notice (edits dropped).
  char shapes_buf[256] = "";
  int shapes_serial = -1;
  std::string notice;

  int bottom_tab_request = -1;
  int left_tab_request = -1;

  void add_log(LogLevel level, const std::string& text) {
    log.push_back({level, text});
    if (log.size() > 2000) log.erase(log.begin(), log.begin() + 500);
  }

  // ----- graph geometry -------------------------------------------------------
  void rebuild_layout() {
    const auto& L = session.layers().layers;
    node_title.assign(L.size(), "");
    node_subtitle.assign(L.size(), "");
    std::vector<LayoutPoint> sizes(L.size());
    const float pad = 14 * scale, line = font->FontSize;
    for (size_t i = 0; i < L.size(); ++i) {
      node_title[i] = L[i].is_input() ? "Input" : L[i].kind;
      node_subtitle[i] = L[i].is_input() ? L[i].name : shape_text(L[i].shape);
      float w = std::max(font_bold->CalcTextSizeA(font_bold->FontSize, 1e9f, 0, node_title[i].c_str()).x,
                         font->CalcTextSizeA(font->FontSize * 0.85f, 1e9f, 0, node_subtitle[i].c_str()).x);
      sizes[i] = {std::min(std::max(w + 2 * pad, 84 * scale), 320 * scale),
                  node_subtitle[i].empty() ? line + 12 * scale : 2 * line + 10 * scale};
    }
    LayoutOptions opt;
    opt.rank_gap = 30 * scale;
    opt.node_gap = 16 * scale;
    opt.dummy_width = 8 * scale;
    auto t0 = std::chrono::steady_clock::now();
    layout = layout_dag(sizes, layer_edges(session.layers()));
    layout_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    layout_revision = model_serial;
    want_fit = 1;
  }

  // Screen position of a graph point.
  ImVec2 to_screen(ImVec2 origin, float x, float y) const {
    return ImVec2(origin.x + pan.x + x * zoom, origin.y + pan.y + y * zoom);
  }

  void center_on(int layer) {
    if (layer < 0 || layer >= int(layout.centers.size())) return;
    focus_layer = layer;
    want_focus = true;
  }

  void select(int layer, bool center) {
    selected = layer;
    multi.clear();
    if (layer >= 0) multi.insert(layer);
    if (center) center_on(layer);
  }

  void update_search() {
    search_hits.clear();
    search_cursor = 0;
    const std::string q = lower(search);
    if (q.empty() || !session.has_model()) return;
    const auto& am = session.model();
    const auto& L = am.layers.layers;
    for (size_t i = 0; i < L.size(); ++i) {
      bool hit = lower(L[i].name).find(q) != std::string::npos || lower(L[i].kind).find(q) != std::string::npos ||
                 lower(L[i].op_type).find(q) != std::string::npos;
      for (int nd : L[i].onnx_nodes)
        if (!hit && lower(am.model.graph.nodes[nd].name).find(q) != std::string::npos) hit = true;
      for (const auto& o : L[i].outputs)
        if (!hit && lower(o).find(q) != std::string::npos) hit = true;
      if (hit) search_hits.push_back(int(i));
    }
  }

  void compute_stats(int layer) {
    stats_layer = layer;
    stats.clear();
    if (layer < 0) return;
    const auto& g = session.model().model.graph;
    for (const auto& w : session.layers().layers[layer].weights) {
      auto it = g.weights.find(w);
      if (it == g.weights.end()) continue;
      WeightStats s;
      s.name = w;
      s.shape = it->second.shape();
      s.dtype = dtype_name(it->second.dtype());
      s.count = it->second.numel();
      if (dtype_is_float(it->second.dtype()) || dtype_is_integer(it->second.dtype())) {
        std::vector<double> v = it->second.to_f64();
        if (!v.empty()) {
          s.min = *std::min_element(v.begin(), v.end());
          s.max = *std::max_element(v.begin(), v.end());
          double sum = 0, sq = 0;
          for (double x : v) sum += x, sq += x * x;
          s.mean = sum / v.size();
          s.stddev = std::sqrt(std::max(0.0, sq / v.size() - s.mean * s.mean));
        }
      }
      stats.push_back(std::move(s));
    }
  }

  std::string selected_name() const {
    return session.has_model() && selected >= 0 && selected < int(session.layers().layers.size())
               ? session.layers().layers[selected].name
               : "";
  }
  void after_reanalysis(const std::string& selected_name, const std::vector<std::string>& dropped,
                        const std::string& what);
  void draw_model_inputs(StudioApp& app);
  // Per-layer ramp positions of the current calibration result (log threshold).
  void update_threshold_colours() {
    const StudioCalibration& c = cali.calibration;
    const long long key = c.has_result() ? (long long)cali.run_id * 1000003 + model_serial : -1;
    if (key == threshold_key && threshold_pos.size() == session.layers().layers.size()) return;
    threshold_key = key;
    const auto& L = session.layers().layers;
    threshold_pos.assign(L.size(), -1);
    if (key < 0) return;
    std::vector<double> th(L.size(), 0);
    std::vector<bool> has(L.size(), false);
    double lo = 1e300, hi = -1e300;
    for (const auto& row : c.result().layers) {
      const int l = session.layers().find(row.layer);
      if (l < 0 || row.threshold <= 0) continue;
      th[l] = std::log10(row.threshold);
      has[l] = true;
      lo = std::min(lo, th[l]), hi = std::max(hi, th[l]);
    }
    if (lo > hi) return;
    threshold_lo = std::pow(10.0, lo), threshold_hi = std::pow(10.0, hi);
    for (size_t i = 0; i < L.size(); ++i)
      if (has[i]) threshold_pos[i] = hi > lo ? float((th[i] - lo) / (hi - lo)) : 0.5f;
  }
  ImU32 node_fill(int i) {
    const Layer& l = session.layers().layers[i];
    if (l.is_input()) return kInputFill;
    if (colour_by_threshold && cali.calibration.has_result()) {
      const float t = i < int(threshold_pos.size()) ? threshold_pos[i] : -1;
      return t < 0 ? rgb(80, 82, 88) : ramp_colour(t);
    }
    return mode_colour(session.precision(i));
  }
  void step_calibration(StudioApp& app);
  void calibration_model_changed();
  void draw_menu_bar(StudioApp& app);
  void draw_left_panel(StudioApp& app);
  void draw_graph(StudioApp& app);
  void draw_layer_table(StudioApp& app);
  void draw_properties(StudioApp& app);
  void draw_log();
  void draw_precision_menu(StudioApp& app, int layer);
  void draw_path_prompt(StudioApp& app);
};

// -----------------------------------------------------------------------------
// [SECTION] actions (script API)
// -----------------------------------------------------------------------------

StudioApp::StudioApp(PlatformServices services) : impl_(std::make_unique<Impl>()) {
  impl_->services = std::move(services);
  Impl* impl = impl_.get();
  set_log_sink([impl](LogLevel level, const std::string& message) { impl->add_log(level, message); });
}

StudioApp::~StudioApp() {
  set_log_sink(nullptr);
}

StudioSession& StudioApp::session() {
  return impl_->session;
}

void StudioApp::report_error(const std::string& message) {
  impl_->add_log(LogLevel::Error, message);
  impl_->banner = message;
  impl_->banner_time = ImGui::GetCurrentContext() ? ImGui::GetTime() : 0;
}

void StudioApp::setup(std::span<const uint8_t> font_ttf, std::span<const uint8_t> bold_ttf,
                      std::span<const uint8_t> mono_ttf, float scale) {
  Impl& m = *impl_;
  m.scale = scale;
  ImGuiIO& io = ImGui::GetIO();
  io.IniFilename = nullptr;
  ImFontConfig cfg;
  cfg.FontDataOwnedByAtlas = false;
  cfg.OversampleH = 2;
  static const ImWchar ranges[] = {0x0020, 0x00FF, 0x2190, 0x21FF, 0x2500, 0x25FF, 0};
  auto add = [&](std::span<const uint8_t> ttf, float px) -> ImFont* {
    if (ttf.empty()) return io.Fonts->AddFontDefault();
    return io.Fonts->AddFontFromMemoryTTF(const_cast<uint8_t*>(ttf.data()), int(ttf.size()), px, &cfg, ranges);
  };
  m.font = add(font_ttf, 15.0f * scale);
  m.font_bold = add(bold_ttf.empty() ? font_ttf : bold_ttf, 15.0f * scale);
  m.mono = add(mono_ttf.empty() ? font_ttf : mono_ttf, 14.0f * scale);
  apply_theme(scale);
  if (!canvas_gl_init()) m.add_log(LogLevel::Warning, "canvas shader unavailable: plain background");
}

void StudioApp::load_model(std::span<const uint8_t> bytes, const std::string& name, const std::string& input_shapes) {
  Impl& m = *impl_;
  try {
    auto t0 = std::chrono::steady_clock::now();
    if (input_shapes.find('?') != std::string::npos)
      throw Error("--input_shapes: replace every '?' in '" + input_shapes + "' with a size (e.g. [[1,3,640,640]])");
    const bool no_shapes = input_shapes.find_first_not_of(" \t\r\n") == std::string::npos;
    m.session.load_model(bytes, name, no_shapes ? std::vector<Shape>{} : parse_input_shapes(input_shapes));
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    ++m.model_serial;
    m.selected = -1;
    m.multi.clear();
    m.qtable = QtableState{};
    m.stats_layer = -1;
    m.search_hits.clear();
    m.table_revision = -1;
    char buf[256];
    std::snprintf(buf, sizeof buf, "opened %s: %zu layers, %zu ONNX nodes (%.0f ms)", name.c_str(),
                  m.session.layers().layers.size(), m.session.model().model.graph.nodes.size(), ms);
    m.add_log(LogLevel::Info, buf);
    for (const auto& w : m.session.model().warnings) m.add_log(LogLevel::Warning, w);
    m.banner.clear();
    m.notice.clear();
    m.shapes_serial = -1;
    m.calibration_model_changed();
  } catch (const Error& e) {
    report_error(e.what());
    throw;
  }
}

void StudioApp::Impl::after_reanalysis(const std::string& selected_name, const std::vector<std::string>& dropped,
                                       const std::string& what) {
  // Selection follows the layer name; the layout, caches and the qtable report are rebuilt.
  ++model_serial;
  multi.clear();
  selected = -1;
  if (!selected_name.empty()) select(session.layers().find(selected_name), false);
  stats_layer = -1;
  search_hits.clear();
  table_revision = -1;
  shapes_serial = -1;
  qtable_revalidate(qtable, session);
  calibration_model_changed();
  add_log(LogLevel::Info, what + ": " + std::to_string(session.layers().layers.size()) + " layers");
  for (const auto& w : session.model().warnings) add_log(LogLevel::Warning, w);
  for (const auto& n : dropped)
    add_log(LogLevel::Warning, "precision of '" + n + "' dropped: the layer no longer exists");
  notice = dropped.empty() ? ""
                           : std::to_string(dropped.size()) +
                                 " edited layer(s) no longer exist; their precisions were dropped: " + dropped[0] +
                                 (dropped.size() > 1 ? ", ..." : "");
  banner.clear();
}

std::vector<std::string> StudioApp::set_input_shapes(const std::string& text) {
  Impl& m = *impl_;
  try {
    const std::string sel = m.selected_name();
    auto dropped = m.session.set_input_shapes(text);
    m.after_reanalysis(sel, dropped, "input shapes " + m.session.input_shapes_text());
    return dropped;
  } catch (const Error& e) {
    report_error(e.what());
    throw;
  }
}

std::string StudioApp::load_mlir(const std::string& text, const std::string& name) {
  Impl& m = *impl_;
  try {
    std::vector<std::string> before;
    for (const auto& l : m.session.layers().layers) before.push_back(l.name);
    const std::string sel = m.selected_name();
    auto dropped = m.session.set_mlir(text, base_name(name));
    m.after_reanalysis(sel, dropped, "layer names from " + base_name(name));
    int renamed = 0;
    std::set<std::string> old_names(before.begin(), before.end());
    for (const auto& l : m.session.layers().layers) renamed += old_names.count(l.name) ? 0 : 1;
    nlohmann::json j;
    j["layers"] = m.session.layers().layers.size();
    j["renamed"] = renamed;
    j["unmatched"] = m.session.layers().mlir_unmatched;
    j["dropped_precisions"] = dropped;
    return j.dump();
  } catch (const Error& e) {
    report_error(e.what());
    throw;
  }
}

void StudioApp::clear_mlir() {
  Impl& m = *impl_;
  try {
    const std::string sel = m.selected_name();
    auto dropped = m.session.set_mlir(std::nullopt);
    m.after_reanalysis(sel, dropped, "predicted layer names");
  } catch (const Error& e) {
    report_error(e.what());
    throw;
  }
}

// -----------------------------------------------------------------------------
// [SECTION] calibration (run stepping)
// -----------------------------------------------------------------------------

void StudioApp::Impl::calibration_model_changed() {
  StudioCalibration& c = cali.calibration;
  if (c.running()) {
    c.cancel();
    cali.state = "cancelled";
    cali.message = "calibration cancelled: the model changed";
    add_log(LogLevel::Warning, cali.message);
  }
  if (c.has_result()) {
    c.clear_result();
    cali.state = "idle";
    add_log(LogLevel::Info, "calibration result cleared: the model changed");
  }
}

// Runs batches for up to ~15 ms of this frame (at least one), so the page keeps drawing.
void StudioApp::Impl::step_calibration(StudioApp& app) {
  StudioCalibration& c = cali.calibration;
  const auto t0 = std::chrono::steady_clock::now();
  auto elapsed_ms = [&] {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  };
  try {
    while (c.step() && elapsed_ms() < 15) {
    }
    cali.run_seconds += elapsed_ms() / 1000;
    if (!c.running()) {
      cali.state = "done";
      const auto& r = c.result();
      char buf[200];
      std::snprintf(buf, sizeof buf, "calibrated %zu layers with %s on %d samples (%d batches, %.1f s)",
                    r.layers.size(), c.result_settings().cali_method.c_str(), r.samples, r.batches, cali.run_seconds);
      add_log(LogLevel::Info, buf);
      for (const auto& w : r.warnings) add_log(LogLevel::Warning, "calibration: " + w);
    }
  } catch (const Error& e) {
    cali.state = "error";
    cali.message = e.what();
    app.report_error(e.what());
  }
}

int StudioApp::add_calibration_data(const std::string& name, std::vector<uint8_t> bytes) {
  Impl& m = *impl_;
  try {
    require(!m.cali.calibration.running(), "calibration data: wait for the running calibration (or cancel it)");
    const size_t size = bytes.size();
    m.cali.calibration.add_data(base_name(name), std::move(bytes));
    m.add_log(LogLevel::Info, "calibration data " + base_name(name) + " (" + std::to_string(size) + " bytes)");
    m.left_tab_request = 2;
    return int(m.cali.calibration.data().size());
  } catch (const Error& e) {
    report_error(e.what());
    throw;
  }
}

bool StudioApp::remove_calibration_data(const std::string& name) {
  Impl& m = *impl_;
  if (m.cali.calibration.running()) return false;
  return m.cali.calibration.remove_data(name);
}

int StudioApp::start_calibration(const std::string& options_json) {
  Impl& m = *impl_;
  try {
    require(m.session.has_model(), "calibrate: open a model first");
    const CalibrationSettings settings = options_json.find_first_not_of(" \t\r\n") == std::string::npos
                                             ? calibration_panel_settings(m.cali)
                                             : parse_calibration_settings(options_json);
    if (m.cali.calibration.running()) {
      m.cali.calibration.cancel();
      m.add_log(LogLevel::Warning, "calibration cancelled: a new run started");
    }
    m.cali.calibration.start(m.session.model(), m.session.model_name(), settings);
    calibration_panel_show(m.cali, settings);
    m.cali.state = "running";
    m.cali.message.clear();
    m.banner.clear();
    m.cali.run_seconds = 0;
    m.left_tab_request = 2;
    m.add_log(LogLevel::Info, "calibration started: " + calibration_settings_json(settings));
    return ++m.cali.run_id;
  } catch (const Error& e) {
    m.cali.state = "error";
    m.cali.message = e.what();
    report_error(e.what());
    throw;
  }
}

void StudioApp::cancel_calibration() {
  Impl& m = *impl_;
  if (!m.cali.calibration.running()) return;
  m.cali.calibration.cancel();
  m.cali.state = "cancelled";
  m.cali.message = "calibration cancelled";
  m.add_log(LogLevel::Info, m.cali.message);
}

std::string StudioApp::calibration_status_json() const {
  const Impl& m = *impl_;
  nlohmann::json j = {{"run", m.cali.run_id},
                      {"state", m.cali.state},
                      {"done", m.cali.calibration.batches_done()},
                      {"total", m.cali.calibration.batches_total()},
                      {"message", m.cali.message},
                      {"files", m.cali.calibration.data().size()}};
  return j.dump();
}

std::string StudioApp::calibration_result_json() const {
  return impl_->cali.calibration.result_json();
}

std::string StudioApp::export_cali_table() {
  Impl& m = *impl_;
  try {
    return m.cali.calibration.export_cali_table(m.services.now ? m.services.now() : "");
  } catch (const Error& e) {
    report_error(e.what());
    throw;
  }
}

void StudioApp::load_reference(std::span<const uint8_t> bytes, const std::string& name) {
  Impl& m = *impl_;
  try {
    m.session.load_reference(bytes, name);
    m.add_log(LogLevel::Info, "reference model " + name + ": " +
                                  std::to_string(m.session.reference()->layers.layers.size()) +
                                  " layers (qtable names are mapped structurally)");
    qtable_revalidate(m.qtable, m.session);
    m.left_tab_request = 1;
  } catch (const Error& e) {
    report_error(e.what());
    throw;
  }
}

std::string StudioApp::import_qtable(const std::string& text, const std::string& name) {
  Impl& m = *impl_;
  try {
    std::string report = qtable_import(m.qtable, m.session, text, name);
    m.add_log(LogLevel::Info, "imported qtable " + name + ": " + qtable_summary_line(m.qtable));
    m.left_tab_request = 1;
    return report;
  } catch (const Error& e) {
    report_error(e.what());
    throw;
  }
}

std::string StudioApp::apply_suggestions(double min_confidence) {
  Impl& m = *impl_;
  try {
    return qtable_apply_suggestions(m.qtable, m.session, min_confidence);
  } catch (const Error& e) {
    report_error(e.what());
    throw;
  }
}

std::string StudioApp::export_qtable() {
  Impl& m = *impl_;
  try {
    return m.session.export_qtable(m.services.now ? m.services.now() : "");
  } catch (const Error& e) {
    report_error(e.what());
    throw;
  }
}

std::string StudioApp::export_precisions_json() {
  return impl_->session.export_precisions_json();
}

std::string StudioApp::session_url() {
  std::string base = impl_->services.page_url ? impl_->services.page_url() : "mixq:";
  const auto hash = base.find('#');
  if (hash != std::string::npos) base.resize(hash);
  return base + "#session=" + impl_->session.serialize();
}

void StudioApp::open_session_url(const std::string& url) {
  Impl& m = *impl_;
  try {
    std::string payload = url;
    const auto at = payload.find("session=");
    if (at != std::string::npos) payload = payload.substr(at + 8);
    const auto amp = payload.find('&');
    if (amp != std::string::npos) payload.resize(amp);
    const auto missing = m.session.restore(payload);
    m.add_log(LogLevel::Info, "session restored: chip " + m.session.chip() + ", " +
                                  std::to_string(m.session.override_count()) + " layer precisions");
    for (const auto& n : missing) m.add_log(LogLevel::Warning, "session: layer '" + n + "' is not in this model");
  } catch (const Error& e) {
    report_error(e.what());
    throw;
  }
}

void StudioApp::set_chip(const std::string& chip) {
  try {
    const int changed = impl_->session.set_chip(chip);
    impl_->add_log(LogLevel::Info, "chip " + impl_->session.chip() + " (float type " + impl_->session.float_mode() +
                                       ")" +
                                       (changed ? ", " + std::to_string(changed) + " layer precisions adapted" : ""));
    qtable_revalidate(impl_->qtable, impl_->session);
  } catch (const Error& e) {
    report_error(e.what());
    throw;
  }
}

void StudioApp::set_precision(const std::string& layer_name, const std::string& mode) {
  try {
    const int l = impl_->session.has_model() ? impl_->session.layers().find(layer_name) : -1;
    require(l >= 0, "set_precision: no layer named '" + layer_name + "'");
    impl_->session.set_precision({l}, mode);
  } catch (const Error& e) {
    report_error(e.what());
    throw;
  }
}

void StudioApp::select_layer(const std::string& layer_name) {
  const int l = impl_->session.has_model() ? impl_->session.layers().find(layer_name) : -1;
  if (l < 0) throw Error("select: no layer named '" + layer_name + "'");
  impl_->select(l, true);
}

void StudioApp::fit_view() {
  impl_->want_fit = 2;
}

std::string StudioApp::stats_json() const {
  const Impl& m = *impl_;
  nlohmann::json j;
  j["model"] = m.session.model_name();
  j["layers"] = m.session.has_model() ? m.session.layers().layers.size() : 0;
  j["layout_ms"] = m.layout_ms;
  j["layout_crossings"] = m.layout.crossings;
  j["frame_ms_avg"] = m.frame_ms_avg;
  j["frame_ms_max"] = m.frame_ms_max;
  j["frames"] = m.frames;
  j["zoom"] = m.zoom;
  j["chip"] = m.session.chip();
  j["overrides"] = m.session.override_count();
  j["input_shapes"] = m.session.input_shapes_text();
  j["unknown_input_dims"] = m.session.unknown_input_dims();
  j["layers_with_unknown_shape"] = m.session.layers_with_unknown_shape();
  j["mlir"] = m.session.mlir_source();
  j["calibration"] = m.cali.state;
  j["selected"] = m.selected >= 0 && m.session.has_model() ? m.session.layers().layers[m.selected].name : "";
  return j.dump();
}

// -----------------------------------------------------------------------------
// [SECTION] main layout (menu bar, panels)
// -----------------------------------------------------------------------------

void StudioApp::frame() {
  Impl& m = *impl_;
  auto t0 = std::chrono::steady_clock::now();
  ImGuiIO& io = ImGui::GetIO();
  if (m.session.has_model() && m.layout_revision != m.model_serial) m.rebuild_layout();
  if (m.cali.calibration.running()) m.step_calibration(*this);

  // Shortcuts
  if (io.KeyCtrl && ImGui::IsKeyPressed('F', false)) m.focus_search = true;
  if (io.KeyCtrl && ImGui::IsKeyPressed('S', false) && m.session.has_model()) {
    try {
      m.services.save_file("qtable.txt", "text/plain", export_qtable());
    } catch (const Error&) {
    }
  }
  if (io.KeyCtrl && !io.WantTextInput && ImGui::IsKeyPressed('Z', false)) m.session.undo();
  if (io.KeyCtrl && !io.WantTextInput && ImGui::IsKeyPressed('Y', false)) m.session.redo();

  ImGui::PushFont(m.font);
  m.draw_menu_bar(*this);
  const float menu_h = ImGui::GetFrameHeight();
  const ImVec2 ds = io.DisplaySize;
  const float left_w = std::floor(std::min(340 * m.scale, ds.x * 0.26f));
  const float right_w = std::floor(std::min(360 * m.scale, ds.x * 0.26f));
  const float bottom_h = std::floor(std::max(180 * m.scale, (ds.y - menu_h) * 0.30f));
  const float center_w = ds.x - left_w - right_w;
  const float center_h = ds.y - menu_h - bottom_h;
  const ImGuiWindowFlags fixed = ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoResize | ImGuiWindowFlags_NoCollapse |
                                 ImGuiWindowFlags_NoTitleBar | ImGuiWindowFlags_NoBringToFrontOnFocus;

  ImGui::SetNextWindowPos(ImVec2(0, menu_h));
  ImGui::SetNextWindowSize(ImVec2(left_w, ds.y - menu_h));
  ImGui::Begin("##left", nullptr, fixed);
  m.draw_left_panel(*this);
  ImGui::End();

  ImGui::SetNextWindowPos(ImVec2(left_w, menu_h));
  ImGui::SetNextWindowSize(ImVec2(center_w, center_h));
  ImGui::PushStyleVar(ImGuiStyleVar_WindowPadding, ImVec2(0, 0));
  ImGui::Begin("##graph", nullptr, fixed | ImGuiWindowFlags_NoScrollbar | ImGuiWindowFlags_NoScrollWithMouse);
  ImGui::PopStyleVar();
  m.draw_graph(*this);
  ImGui::End();

  ImGui::SetNextWindowPos(ImVec2(left_w, menu_h + center_h));
  ImGui::SetNextWindowSize(ImVec2(center_w, bottom_h));
  ImGui::Begin("##bottom", nullptr, fixed);
  if (ImGui::BeginTabBar("bottom_tabs")) {
    ImGuiTabItemFlags layers_flag = m.bottom_tab_request == 0 ? ImGuiTabItemFlags_SetSelected : 0;
    ImGuiTabItemFlags log_flag = m.bottom_tab_request == 1 ? ImGuiTabItemFlags_SetSelected : 0;
    m.bottom_tab_request = -1;
    if (ImGui::BeginTabItem("Layers", nullptr, layers_flag)) {
      m.draw_layer_table(*this);
      ImGui::EndTabItem();
    }
    char log_label[64];
    std::snprintf(log_label, sizeof log_label, "Log (%zu)###log", m.log.size());
    if (ImGui::BeginTabItem(log_label, nullptr, log_flag)) {
      m.draw_log();
      ImGui::EndTabItem();
    }
    ImGui::EndTabBar();
  }
  ImGui::End();

  ImGui::SetNextWindowPos(ImVec2(left_w + center_w, menu_h));
  ImGui::SetNextWindowSize(ImVec2(right_w, ds.y - menu_h));
  ImGui::Begin("##right", nullptr, fixed);
  m.draw_properties(*this);
  ImGui::End();

  m.draw_path_prompt(*this);
  ImGui::PopFont();

  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  ++m.frames;
  m.frame_ms_avg = m.frames == 1 ? ms : m.frame_ms_avg * 0.95 + ms * 0.05;
  if (m.frames > 5) m.frame_ms_max = std::max(m.frame_ms_max, ms);
}

void StudioApp::Impl::draw_path_prompt(StudioApp& app) {
  if (!prompt_kind.empty()) ImGui::OpenPopup("Open file");
  if (ImGui::BeginPopupModal("Open file", nullptr, ImGuiWindowFlags_AlwaysAutoResize)) {
    ImGui::Text("Path of the %s file:", prompt_kind.c_str());
    ImGui::SetNextItemWidth(480 * scale);
    bool go = ImGui::InputText("##path", prompt_path, sizeof prompt_path, ImGuiInputTextFlags_EnterReturnsTrue);
    go |= ImGui::Button("Open");
    ImGui::SameLine();
    if (ImGui::Button("Cancel")) {
      prompt_kind.clear();
      ImGui::CloseCurrentPopup();
    }
    if (go && services.read_file) {
      const std::string kind = prompt_kind;
      prompt_kind.clear();
      ImGui::CloseCurrentPopup();
      try {
        auto bytes = services.read_file(prompt_path);
        if (kind == "model")
          app.load_model(bytes, prompt_path);
        else if (kind == "reference")
          app.load_reference(bytes, prompt_path);
        else if (kind == "mlir")
          app.load_mlir(std::string(bytes.begin(), bytes.end()), prompt_path);
        else if (kind == "calibration")
          app.add_calibration_data(prompt_path, std::move(bytes));
        else
          app.import_qtable(std::string(bytes.begin(), bytes.end()), prompt_path);
      } catch (const Error& e) {
        app.report_error(e.what());
      }
    }
    ImGui::EndPopup();
  }
}

void StudioApp::Impl::draw_menu_bar(StudioApp& app) {
  auto pick = [&](const char* kind) {
    if (services.pick_file)
      services.pick_file(kind);
    else
      prompt_kind = kind;
  };
  if (!ImGui::BeginMainMenuBar()) return;
  ImGui::PushFont(font_bold);
  ImGui::TextColored(ImVec4(0.45f, 0.7f, 1, 1), "mixq");
  ImGui::PopFont();
  ImGui::TextDisabled("studio");
  if (ImGui::BeginMenu("File")) {
    if (ImGui::MenuItem("Open model...")) pick("model");
    if (ImGui::MenuItem("Open .mlir (layer names)...", nullptr, false, session.has_model())) pick("mlir");
    if (ImGui::MenuItem("Import qtable...", nullptr, false, session.has_model())) pick("qtable");
    ImGui::Separator();
    if (ImGui::MenuItem("Export qtable", "Ctrl+S", false, session.has_model())) {
      try {
        services.save_file("qtable.txt", "text/plain", app.export_qtable());
      } catch (const Error&) {
      }
    }
    if (ImGui::MenuItem("Export precisions (JSON)", nullptr, false, session.has_model()))
      services.save_file("precisions.json", "application/json", app.export_precisions_json());
    if (ImGui::MenuItem("Copy session link", nullptr, false, session.has_model()) && services.copy_text) {
      services.copy_text(app.session_url());
      add_log(LogLevel::Info, "session link copied to the clipboard");
    }
    ImGui::EndMenu();
  }
  if (ImGui::BeginMenu("Edit")) {
    if (ImGui::MenuItem("Undo", "Ctrl+Z", false, session.can_undo())) session.undo();
    if (ImGui::MenuItem("Redo", "Ctrl+Y", false, session.can_redo())) session.redo();
    if (ImGui::MenuItem("Reset all precisions", nullptr, false, session.override_count() > 0))
      session.reset_precisions();
    ImGui::EndMenu();
  }
  if (ImGui::BeginMenu("View")) {
    if (ImGui::MenuItem("Fit whole graph", "F")) want_fit = 2;
    if (ImGui::MenuItem("Find...", "Ctrl+F")) focus_search = true;
    ImGui::EndMenu();
  }
  // Search box on the right of the menu bar.
  const float search_w = 300 * scale;
  ImGui::SetCursorPosX(ImGui::GetWindowWidth() - search_w - 170 * scale);
  ImGui::SetNextItemWidth(search_w);
  if (focus_search) {
    ImGui::SetKeyboardFocusHere();
    focus_search = false;
  }
  if (ImGui::InputTextWithHint(
          "##search", "Search layers  (Ctrl+F)", search, sizeof search,
          ImGuiInputTextFlags_EnterReturnsTrue | ImGuiInputTextFlags_CallbackEdit,
          [](ImGuiInputTextCallbackData* d) {
            static_cast<Impl*>(d->UserData)->search_hits.clear();
            static_cast<Impl*>(d->UserData)->search_cursor = -1;
            return 0;
          },
          this)) {
    if (search_cursor < 0 || search_hits.empty()) {
      update_search();
      search_cursor = 0;
    } else {
      search_cursor = (search_cursor + 1) % int(search_hits.size());
    }
    if (!search_hits.empty()) select(search_hits[search_cursor], true);
  }
  if (search_cursor < 0 && search[0]) update_search();
  if (search[0]) {
    ImGui::SameLine();
    if (search_hits.empty())
      ImGui::TextColored(ImVec4(1, 0.5f, 0.4f, 1), "no match");
    else
      ImGui::TextDisabled("%d/%zu", search_cursor + 1, search_hits.size());
  }
  ImGui::EndMainMenuBar();
}

// -----------------------------------------------------------------------------
// [SECTION] graph view (layout cache, drawing, input, search)
// -----------------------------------------------------------------------------

void StudioApp::Impl::draw_precision_menu(StudioApp& app, int layer) {
  const std::string fm = session.float_mode();
  const auto& L = session.layers().layers;
  ImGui::TextDisabled("%s", L[layer].name.c_str());
  ImGui::Separator();
  std::vector<int> targets(multi.begin(), multi.end());
  if (targets.empty() || !multi.count(layer)) targets = {layer};
  const char* modes[] = {"INT8", "F16", "BF16", "F32"};
  for (const char* mode : modes) {
    if (!session.chip_profile().supports(mode)) continue;
    char label[96];
    std::snprintf(label, sizeof label, "Set %s%s", mode, targets.size() > 1 ? " (selection)" : "");
    if (ImGui::MenuItem(label)) session.set_precision(targets, mode);
  }
  ImGui::Separator();
  if (ImGui::MenuItem(("This and everything after -> " + fm).c_str())) session.set_precision_from(layer, fm);
  if (ImGui::MenuItem(("Everything before, and this -> " + fm).c_str())) session.set_precision_until(layer, fm);
  if (ImGui::MenuItem("This and everything after -> INT8")) session.set_precision_from(layer, "INT8");
}

void StudioApp::Impl::draw_graph(StudioApp& app) {
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  const ImVec2 size = ImGui::GetContentRegionAvail();
  canvas_size = size;
  if (canvas_gl_ready()) {
    canvas_gl_draw(dl, origin, ImVec2(origin.x + size.x, origin.y + size.y), ImVec2(origin.x + pan.x, origin.y + pan.y),
                   24 * scale * zoom, 1.1f * scale);
  } else {
    dl->AddRectFilled(origin, ImVec2(origin.x + size.x, origin.y + size.y), rgb(22, 24, 28));
    const float step = 24 * scale * zoom;
    if (step > 6) {
      const float ox = std::fmod(pan.x, step), oy = std::fmod(pan.y, step);
      for (float y = origin.y + oy; y < origin.y + size.y; y += step)
        for (float x = origin.x + ox; x < origin.x + size.x; x += step)
          dl->AddRectFilled(ImVec2(x, y), ImVec2(x + 1.5f, y + 1.5f), rgb(44, 47, 54));
    }
  }
  if (!session.has_model()) {
    const char* msg = "Drop an ONNX model here, or File > Open model...";
    ImVec2 ts = ImGui::CalcTextSize(msg);
    dl->AddText(ImVec2(origin.x + (size.x - ts.x) / 2, origin.y + size.y / 2), rgb(150, 155, 165), msg);
    return;
  }
  // Minimap (bottom-right): every node as a dot in its precision colour, the view as a
  // frame; click or drag inside it to move the view. Submitted first so it wins the hover.
  const bool mini_show = layout.width > 0 && layout.height > 0 && size.y > 200 * scale;
  ImVec2 m0, m1, mbase;
  float ms = 1;
  if (mini_show) {
    const float mh = std::min(size.y * 0.45f, 260 * scale);
    const float mw = std::clamp(mh * layout.width / layout.height, 40 * scale, 200 * scale);
    ms = std::min(mw / layout.width, mh / layout.height);
    m1 = ImVec2(origin.x + size.x - 12 * scale, origin.y + size.y - 12 * scale);
    m0 = ImVec2(m1.x - layout.width * ms - 12 * scale, m1.y - layout.height * ms - 12 * scale);
    mbase = ImVec2(m0.x + 6 * scale, m0.y + 6 * scale);
    ImGui::SetCursorScreenPos(m0);
    ImGui::InvisibleButton("##minimap", ImVec2(m1.x - m0.x, m1.y - m0.y));
    if (ImGui::IsItemActive()) {
      const ImVec2 mp = ImGui::GetIO().MousePos;
      pan.x = size.x / 2 - (mp.x - mbase.x) / ms * zoom;
      pan.y = size.y / 2 - (mp.y - mbase.y) / ms * zoom;
    }
    ImGui::SetCursorScreenPos(origin);
  }
  ImGui::InvisibleButton(
      "##canvas", ImVec2(std::max(size.x, 1.0f), std::max(size.y, 1.0f)),
      ImGuiButtonFlags_MouseButtonLeft | ImGuiButtonFlags_MouseButtonRight | ImGuiButtonFlags_MouseButtonMiddle);
  ImGui::SetItemAllowOverlap();  // the toolbar buttons drawn over the canvas take their clicks
  const bool hovered = ImGui::IsItemHovered();
  ImGuiIO& io = ImGui::GetIO();

  if (want_fit && size.x > 10) {
    const bool whole = want_fit == 2;
    want_fit = 0;
    const float margin = 40 * scale;
    float z = std::min((size.x - 2 * margin) / std::max(1.0f, layout.width),
                       (size.y - 2 * margin) / std::max(1.0f, layout.height));
    // A tall model fitted whole is unreadable: fit the width, keep text legible, start at the top.
    const float readable = 1.0f;
    if (z < readable && !whole) z = std::min(readable, (size.x - 2 * margin) / std::max(1.0f, layout.width));
    zoom = std::clamp(z, 0.01f, 1.5f);
    pan.x = (size.x - layout.width * zoom) / 2;
    pan.y = layout.height * zoom < size.y ? (size.y - layout.height * zoom) / 2 : margin;
  }
  if (want_focus && focus_layer >= 0 && focus_layer < int(layout.centers.size())) {
    want_focus = false;
    if (zoom < 0.6f) zoom = 0.9f;
    pan.x = size.x / 2 - layout.centers[focus_layer].x * zoom;
    pan.y = size.y / 2 - layout.centers[focus_layer].y * zoom;
  }

  // Input: pan by dragging, zoom with the wheel around the cursor, F to fit.
  if (hovered && io.MouseWheel != 0) {
    const float old = zoom;
    zoom = std::clamp(zoom * std::pow(1.15f, io.MouseWheel), 0.01f, 3.0f);
    const ImVec2 mp(io.MousePos.x - origin.x, io.MousePos.y - origin.y);
    pan.x = mp.x - (mp.x - pan.x) * zoom / old;
    pan.y = mp.y - (mp.y - pan.y) * zoom / old;
  }
  if (ImGui::IsItemActive() &&
      (ImGui::IsMouseDragging(ImGuiMouseButton_Left) || ImGui::IsMouseDragging(ImGuiMouseButton_Middle))) {
    pan.x += io.MouseDelta.x;
    pan.y += io.MouseDelta.y;
  }
  if (ImGui::IsWindowFocused() && !io.WantTextInput && ImGui::IsKeyPressed('F', false) && !io.KeyCtrl) want_fit = 2;

  const auto& L = session.layers().layers;
  update_threshold_colours();
  const float vx0 = (-pan.x) / zoom, vy0 = (-pan.y) / zoom;
  const float vx1 = (size.x - pan.x) / zoom, vy1 = (size.y - pan.y) / zoom;
  dl->PushClipRect(origin, ImVec2(origin.x + size.x, origin.y + size.y), true);

  // Edges (bezier through the dummy points), culled by bounding box.
  const std::set<int>* hits_set = nullptr;
  std::set<int> hits(search_hits.begin(), search_hits.end());
  if (!hits.empty()) hits_set = &hits;
  const float thick = std::max(1.0f, 1.3f * scale * std::min(zoom, 1.5f));
  for (const auto& e : layout.edges) {
    float minx = 1e30f, maxx = -1e30f;
    for (const auto& p : e.points) minx = std::min(minx, p.x), maxx = std::max(maxx, p.x);
    if (maxx < vx0 || minx > vx1 || e.points.back().y < vy0 || e.points.front().y > vy1) continue;
    const bool hot = e.from == selected || e.to == selected;
    const ImU32 col = hot ? rgb(120, 180, 255) : rgb(98, 104, 116);
    for (size_t k = 0; k + 1 < e.points.size(); ++k) {
      ImVec2 a = to_screen(origin, e.points[k].x, e.points[k].y);
      ImVec2 b = to_screen(origin, e.points[k + 1].x, e.points[k + 1].y);
      const float dy = (b.y - a.y) * 0.5f;
      dl->AddBezierCubic(a, ImVec2(a.x, a.y + dy), ImVec2(b.x, b.y - dy), b, col, hot ? thick * 1.8f : thick,
                         zoom < 0.3f ? 6 : 0);
    }
    if (zoom > 0.25f) {
      ImVec2 tip = to_screen(origin, e.points.back().x, e.points.back().y);
      const float s = 4.5f * scale * zoom;
      dl->AddTriangleFilled(ImVec2(tip.x - s, tip.y - 1.6f * s), ImVec2(tip.x + s, tip.y - 1.6f * s), tip, col);
    }
  }

  // Nodes.
  int hovered_node = -1;
  const float round = 5 * scale * zoom;
  const bool text = zoom > 0.32f;
  for (size_t i = 0; i < L.size(); ++i) {
    const auto c = layout.centers[i];
    const auto s = layout.sizes[i];
    if (c.x + s.x / 2 < vx0 || c.x - s.x / 2 > vx1 || c.y + s.y / 2 < vy0 || c.y - s.y / 2 > vy1) continue;
    ImVec2 p0 = to_screen(origin, c.x - s.x / 2, c.y - s.y / 2);
    ImVec2 p1 = to_screen(origin, c.x + s.x / 2, c.y + s.y / 2);
    const ImU32 fill = node_fill(int(i));
    dl->AddRectFilled(p0, p1, fill, round);
    const bool is_sel = multi.count(int(i)) != 0;
    const int touch = qtable_touch(qtable, int(i));  // 0 none, 1 ok line, 2 problem
    if (touch) {
      const ImU32 ring = touch == 1 ? rgb(250, 200, 80) : rgb(255, 110, 90);
      dl->AddRect(ImVec2(p0.x - 3 * zoom, p0.y - 3 * zoom), ImVec2(p1.x + 3 * zoom, p1.y + 3 * zoom), ring,
                  round + 3 * zoom, 0, 2.2f * scale);
    }
    if (hits_set && hits_set->count(int(i)))
      dl->AddRect(ImVec2(p0.x - 5 * zoom, p0.y - 5 * zoom), ImVec2(p1.x + 5 * zoom, p1.y + 5 * zoom),
                  rgb(255, 240, 120), round + 5 * zoom, 0, 1.6f * scale);
    dl->AddRect(p0, p1, is_sel ? rgb(255, 255, 255) : lighten(fill, 0.25f), round, 0, is_sel ? 2.5f * scale : 1.0f);
    if (text) {
      const float fs = font_bold->FontSize * zoom;
      ImVec2 ts = font_bold->CalcTextSizeA(fs, 1e9f, 0, node_title[i].c_str());
      const float line2 = node_subtitle[i].empty() ? 0 : font->FontSize * 0.85f * zoom;
      const float top = (p0.y + p1.y) / 2 - (ts.y + line2) / 2;
      dl->AddText(font_bold, fs, ImVec2((p0.x + p1.x) / 2 - ts.x / 2, top), rgb(245, 247, 250), node_title[i].c_str());
      if (line2 > 0 && zoom > 0.5f) {
        const float ss = font->FontSize * 0.85f * zoom;
        ImVec2 ts2 = font->CalcTextSizeA(ss, 1e9f, 0, node_subtitle[i].c_str());
        ImVec4 clip(p0.x + 2, p0.y, p1.x - 2, p1.y);
        dl->AddText(font, ss, ImVec2(std::max(p0.x + 4 * zoom, (p0.x + p1.x) / 2 - ts2.x / 2), top + ts.y),
                    rgb(200, 210, 225, 210), node_subtitle[i].c_str(), nullptr, 0, &clip);
      }
    }
    if (hovered && io.MousePos.x >= p0.x && io.MousePos.x <= p1.x && io.MousePos.y >= p0.y && io.MousePos.y <= p1.y)
      hovered_node = int(i);
  }
  dl->PopClipRect();

  if (hovered_node >= 0) {
    ImGui::BeginTooltip();
    ImGui::TextUnformatted(L[hovered_node].name.c_str());
    ImGui::TextDisabled("%s  %s  %s", L[hovered_node].kind.c_str(), shape_text(L[hovered_node].shape).c_str(),
                        L[hovered_node].is_input() ? "" : session.precision(hovered_node).c_str());
    ImGui::EndTooltip();
  }
  if (ImGui::IsItemClicked(ImGuiMouseButton_Left) && ImGui::GetMouseDragDelta(ImGuiMouseButton_Left).x == 0) {
    if (hovered_node >= 0 && io.KeyCtrl) {
      if (!multi.insert(hovered_node).second) multi.erase(hovered_node);
      selected = hovered_node;
    } else {
      select(hovered_node, false);
    }
  }
  if (ImGui::IsItemClicked(ImGuiMouseButton_Right) && hovered_node >= 0) {
    if (!multi.count(hovered_node)) select(hovered_node, false);
    selected = hovered_node;
    ImGui::OpenPopup("node_menu");
  }
  if (ImGui::BeginPopup("node_menu")) {
    if (selected >= 0) draw_precision_menu(app, selected);
    ImGui::EndPopup();
  }

  // Overlays: legend (bottom-left), zoom + toolbar (top-right), error banner (top).
  if (colour_by_threshold && cali.calibration.has_result()) {
    ImVec2 p(origin.x + 12 * scale, origin.y + size.y - 12 * scale);
    const float lh = ImGui::GetTextLineHeight() + 4 * scale, w = 190 * scale, h = 3 * lh + 8 * scale;
    dl->AddRectFilled(ImVec2(p.x, p.y - h), ImVec2(p.x + w, p.y), rgb(30, 32, 37, 230), 6 * scale);
    float y = p.y - h + 4 * scale;
    dl->AddText(ImVec2(p.x + 8 * scale, y), rgb(150, 156, 168), "Threshold (log scale)");
    y += lh + 2 * scale;
    const float x0 = p.x + 8 * scale, x1 = p.x + w - 8 * scale;
    const int steps = 24;
    for (int k = 0; k < steps; ++k) {
      const float a = x0 + (x1 - x0) * k / steps, b = x0 + (x1 - x0) * (k + 1) / steps;
      dl->AddRectFilled(ImVec2(a, y), ImVec2(b + 0.5f, y + 10 * scale), ramp_colour((k + 0.5f) / steps));
    }
    y += 12 * scale;
    char lo[32], hi[32];
    std::snprintf(lo, sizeof lo, "%.3g", threshold_lo);
    std::snprintf(hi, sizeof hi, "%.3g", threshold_hi);
    dl->AddText(ImVec2(x0, y), rgb(220, 224, 232), lo);
    dl->AddText(ImVec2(x1 - ImGui::CalcTextSize(hi).x, y), rgb(220, 224, 232), hi);
  } else {
    std::map<std::string, int> counts;
    for (size_t i = 0; i < L.size(); ++i)
      if (!L[i].is_input()) counts[session.precision(int(i))]++;
    ImVec2 p(origin.x + 12 * scale, origin.y + size.y - 12 * scale);
    const float sw = 12 * scale, lh = ImGui::GetTextLineHeight() + 4 * scale;
    float h = lh * (counts.size() + 1) + 8 * scale;
    float w = 150 * scale;
    dl->AddRectFilled(ImVec2(p.x, p.y - h), ImVec2(p.x + w, p.y), rgb(30, 32, 37, 230), 6 * scale);
    float y = p.y - h + 4 * scale;
    dl->AddText(ImVec2(p.x + 8 * scale, y), rgb(150, 156, 168), "Precision");
    y += lh;
    for (const auto& [mode, n] : counts) {
      dl->AddRectFilled(ImVec2(p.x + 8 * scale, y + 2 * scale), ImVec2(p.x + 8 * scale + sw, y + 2 * scale + sw),
                        mode_colour(mode), 3 * scale);
      char buf[64];
      std::snprintf(buf, sizeof buf, "%-6s %d", mode.c_str(), n);
      dl->AddText(ImVec2(p.x + 16 * scale + sw, y), rgb(220, 224, 232), buf);
      y += lh;
    }
  }
  // Minimap drawing (geometry and input handled before the canvas button).
  if (mini_show) {
    dl->AddRectFilled(m0, m1, rgb(30, 32, 37, 220), 6 * scale);
    for (size_t i = 0; i < L.size(); ++i) {
      const auto c = layout.centers[i];
      const auto s = layout.sizes[i];
      const ImU32 col = node_fill(int(i));
      dl->AddRectFilled(ImVec2(mbase.x + (c.x - s.x / 2) * ms, mbase.y + (c.y - s.y / 2) * ms),
                        ImVec2(mbase.x + (c.x + s.x / 2) * ms + 1, mbase.y + (c.y + s.y / 2) * ms + 1),
                        multi.count(int(i)) ? rgb(255, 255, 255) : lighten(col, 0.2f));
    }
    ImVec2 v0(mbase.x + vx0 * ms, mbase.y + vy0 * ms), v1(mbase.x + vx1 * ms, mbase.y + vy1 * ms);
    v0.x = std::max(v0.x, m0.x), v0.y = std::max(v0.y, m0.y), v1.x = std::min(v1.x, m1.x), v1.y = std::min(v1.y, m1.y);
    if (v1.x > v0.x && v1.y > v0.y) {
      dl->AddRectFilled(v0, v1, rgb(120, 170, 255, 40));
      dl->AddRect(v0, v1, rgb(120, 170, 255, 200), 0, 0, 1.2f * scale);
    }
  }
  {
    const bool calibrated = cali.calibration.has_result();
    ImGui::SetCursorScreenPos(ImVec2(origin.x + size.x - (calibrated ? 330 : 190) * scale, origin.y + 8 * scale));
    if (calibrated) {
      if (ImGui::SmallButton(colour_by_threshold ? "Colour: threshold" : "Colour: precision"))
        colour_by_threshold = !colour_by_threshold;
      if (ImGui::IsItemHovered()) ImGui::SetTooltip("Colour the nodes by precision or by calibration threshold");
      ImGui::SameLine();
    }
    if (ImGui::SmallButton("Fit")) want_fit = 2;
    ImGui::SameLine();
    if (ImGui::SmallButton("-")) zoom = std::max(0.03f, zoom / 1.25f);
    ImGui::SameLine();
    if (ImGui::SmallButton("+")) zoom = std::min(3.0f, zoom * 1.25f);
    ImGui::SameLine();
    ImGui::TextDisabled("%d%%", int(std::round(zoom * 100)));
  }
  {
    char info[256];
    std::snprintf(info, sizeof info, "%s  |  %zu layers  |  %s  |  %d edited", base_name(session.model_name()).c_str(),
                  L.size(), session.chip().c_str(), session.override_count());
    ImVec4 clip(origin.x, origin.y, origin.x + size.x - (cali.calibration.has_result() ? 340 : 200) * scale,
                origin.y + 40 * scale);
    dl->AddText(font, font->FontSize, ImVec2(origin.x + 12 * scale, origin.y + 10 * scale), rgb(150, 156, 168), info,
                nullptr, 0, &clip);
  }
  if (!banner.empty()) {
    const float bw = std::min(size.x - 40 * scale, 760 * scale);
    ImVec2 b0(origin.x + (size.x - bw) / 2, origin.y + 36 * scale);
    ImVec2 ts = ImGui::CalcTextSize(banner.c_str(), nullptr, false, bw - 50 * scale);
    ImVec2 b1(b0.x + bw, b0.y + ts.y + 16 * scale);
    dl->AddRectFilled(b0, b1, rgb(120, 36, 36, 240), 6 * scale);
    dl->AddRect(b0, b1, rgb(220, 90, 80), 6 * scale);
    ImGui::SetCursorScreenPos(ImVec2(b0.x + 12 * scale, b0.y + 8 * scale));
    ImGui::PushTextWrapPos(b1.x - 40 * scale - ImGui::GetWindowPos().x);  // wrap position is window-local
    ImGui::TextUnformatted(banner.c_str());
    ImGui::PopTextWrapPos();
    ImGui::SetCursorScreenPos(ImVec2(b1.x - 28 * scale, b0.y + 6 * scale));
    if (ImGui::SmallButton("x##banner")) banner.clear();
  }
}

// -----------------------------------------------------------------------------
// [SECTION] left panel: model, chip, exports
// -----------------------------------------------------------------------------

// The "Input shapes" field (model_transform.py's --input_shapes), its warning when dims
// stay unknown, the last re-analysis notice and the .mlir the names come from.
void StudioApp::Impl::draw_model_inputs(StudioApp& app) {
  if (shapes_serial != model_serial) {
    std::snprintf(shapes_buf, sizeof shapes_buf, "%s", session.input_shapes_text().c_str());
    shapes_serial = model_serial;
  }
  const ImVec4 warn(1, 0.78f, 0.38f, 1);
  ImGui::TextDisabled("Input shapes");
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("As model_transform.py --input_shapes, e.g. [[1,3,640,640]]");
  const float apply_w = ImGui::CalcTextSize("Apply").x + 2 * ImGui::GetStyle().FramePadding.x;
  ImGui::SetNextItemWidth(ImGui::GetContentRegionAvail().x - apply_w - ImGui::GetStyle().ItemSpacing.x);
  ImGui::PushFont(mono);
  bool apply = ImGui::InputText("##input_shapes", shapes_buf, sizeof shapes_buf, ImGuiInputTextFlags_EnterReturnsTrue);
  ImGui::PopFont();
  ImGui::SameLine();
  apply |= ImGui::Button("Apply##input_shapes");
  if (apply) {
    try {
      app.set_input_shapes(shapes_buf);
    } catch (const Error&) {  // shown in the banner and the log
    }
  }
  if (const int unknown = session.unknown_input_dims(); unknown > 0) {
    ImGui::PushStyleColor(ImGuiCol_Text, warn);
    ImGui::TextWrapped("%d input dim%s unknown (?): %d layers have no concrete shape. Set the sizes and Apply.",
                       unknown, unknown == 1 ? "" : "s", session.layers_with_unknown_shape());
    ImGui::PopStyleColor();
  }
  if (!notice.empty()) {
    ImGui::PushStyleColor(ImGuiCol_Text, warn);
    ImGui::TextWrapped("%s", notice.c_str());
    ImGui::PopStyleColor();
  }
  if (session.has_mlir()) {
    ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyle().Colors[ImGuiCol_TextDisabled]);
    ImGui::TextWrapped("Layer names from %s", session.mlir_source().c_str());
    ImGui::PopStyleColor();
    if (ImGui::SmallButton("Use predicted names")) {
      try {
        app.clear_mlir();
      } catch (const Error&) {
      }
    }
  }
}

void StudioApp::Impl::draw_left_panel(StudioApp& app) {
  auto pick = [&](const char* kind) {
    if (services.pick_file)
      services.pick_file(kind);
    else
      prompt_kind = kind;
  };
  if (!ImGui::BeginTabBar("left_tabs")) return;
  ImGuiTabItemFlags model_flag = left_tab_request == 0 ? ImGuiTabItemFlags_SetSelected : 0;
  ImGuiTabItemFlags qt_flag = left_tab_request == 1 ? ImGuiTabItemFlags_SetSelected : 0;
  ImGuiTabItemFlags cali_flag = left_tab_request == 2 ? ImGuiTabItemFlags_SetSelected : 0;
  left_tab_request = -1;
  if (ImGui::BeginTabItem("Model", nullptr, model_flag)) {
    const float half = (ImGui::GetContentRegionAvail().x - ImGui::GetStyle().ItemSpacing.x) / 2;
    if (ImGui::Button("Open model...", ImVec2(half, 0))) pick("model");
    ImGui::SameLine();
    ImGui::BeginDisabled(!session.has_model());
    if (ImGui::Button("Open .mlir...", ImVec2(-1, 0))) pick("mlir");
    ImGui::EndDisabled();
    if (ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled))
      ImGui::SetTooltip("A top .mlir from model_transform.py: its loc names become the layer names");
    ImGui::Spacing();
    if (session.has_model()) {
      const auto& am = session.model();
      ImGui::PushFont(font_bold);
      ImGui::TextWrapped("%s", base_name(session.model_name()).c_str());
      ImGui::PopFont();
      const std::string producer = am.model.producer_name.empty()
                                       ? "unknown producer"
                                       : am.model.producer_name + " " + am.model.producer_version;
      ImGui::TextDisabled("%s  |  opset %lld  |  IR %lld", producer.c_str(), (long long)am.model.opset(),
                          (long long)am.model.ir_version);
      ImGui::Text("%zu layers, %zu ONNX nodes, %.2f M parameters", am.layers.layers.size(), am.model.graph.nodes.size(),
                  parameter_count(am.model) / 1e6);
      ImGui::Spacing();
      draw_model_inputs(app);
      ImGui::Spacing();
      if (ImGui::CollapsingHeader("Inputs / outputs", ImGuiTreeNodeFlags_DefaultOpen)) {
        for (const auto& v : am.model.graph.inputs) {
          const ValueState* st = am.shapes.find(v.name);
          ImGui::BulletText("in  %s  %s", v.name.c_str(), st ? shape_text(st->shape).c_str() : "");
        }
        for (const auto& v : am.model.graph.outputs) {
          const ValueState* st = am.shapes.find(v.name);
          ImGui::BulletText("out %s  %s", v.name.c_str(), st ? shape_text(st->shape).c_str() : "");
        }
      }
      if (ImGui::CollapsingHeader("Layer kinds")) {
        std::map<std::string, int> kinds;
        for (const auto& l : am.layers.layers) kinds[l.kind]++;
        std::vector<std::pair<int, std::string>> sorted;
        for (auto& [k, n] : kinds) sorted.push_back({-n, k});
        std::sort(sorted.begin(), sorted.end());
        for (auto& [n, k] : sorted) ImGui::BulletText("%-18s %d", k.c_str(), -n);
      }
      if (!am.warnings.empty() && ImGui::CollapsingHeader("Warnings", ImGuiTreeNodeFlags_DefaultOpen)) {
        for (const auto& w : am.warnings) ImGui::TextWrapped("%s", w.c_str());
        const auto& unmatched = am.layers.mlir_unmatched;
        char label[96];
        std::snprintf(label, sizeof label, "Unmatched .mlir names (%zu)###mlir_unmatched", unmatched.size());
        if (!unmatched.empty() && ImGui::TreeNode(label)) {
          ImGui::PushFont(mono);
          for (const auto& n : unmatched) ImGui::TextUnformatted(n.c_str());
          ImGui::PopFont();
          ImGui::TreePop();
        }
      }
    }
    ImGui::Separator();
    ImGui::Text("Target chip");
    ImGui::SetNextItemWidth(-1);
    if (ImGui::BeginCombo("##chip", session.chip().c_str())) {
      for (const auto& c : studio_chips())
        if (ImGui::Selectable(c.c_str(), c == session.chip())) {
          try {
            app.set_chip(c);
          } catch (const Error&) {
          }
        }
      ImGui::EndCombo();
    }
    ImGui::TextDisabled("float fallback on this chip: %s", session.float_mode().c_str());
    if (session.has_model()) {
      ImGui::Separator();
      ImGui::Text("Precisions: %d of %zu layers differ from INT8", session.override_count(),
                  session.layers().layers.size());
      if (ImGui::Button("Undo") && session.can_undo()) session.undo();
      ImGui::SameLine();
      if (ImGui::Button("Redo") && session.can_redo()) session.redo();
      ImGui::SameLine();
      if (ImGui::Button("Reset")) session.reset_precisions();
      ImGui::Spacing();
      if (ImGui::Button("Export qtable", ImVec2(-1, 0))) {
        try {
          services.save_file("qtable.txt", "text/plain", app.export_qtable());
        } catch (const Error&) {
        }
      }
      if (ImGui::Button("Export precisions (JSON)", ImVec2(-1, 0)))
        services.save_file("precisions.json", "application/json", app.export_precisions_json());
      if (ImGui::Button("Copy session link", ImVec2(-1, 0)) && services.copy_text) {
        services.copy_text(app.session_url());
        add_log(LogLevel::Info, "session link copied to the clipboard");
      }
    }
    ImGui::EndTabItem();
  }
  char qlabel[64];
  std::snprintf(qlabel, sizeof qlabel, "Qtable%s###qtable", qtable_has_report(qtable) ? " *" : "");
  if (ImGui::BeginTabItem(qlabel, nullptr, qt_flag)) {
    if (!session.has_model()) {
      ImGui::TextDisabled("Open a model first.");
    } else {
      QtableUi ui;
      ui.pick_file = [&] { pick("qtable"); };
      ui.pick_reference = [&] { pick("reference"); };
      ui.import_text = [&](const std::string& text) {
        try {
          app.import_qtable(text, "pasted qtable");
        } catch (const Error&) {
        }
      };
      ui.apply = [&](double c) {
        try {
          app.apply_suggestions(c);
        } catch (const Error&) {
        }
      };
      ui.jump = [&](int layer) { select(layer, true); };
      ui.save = [&] {
        try {
          services.save_file("qtable.txt", "text/plain", app.export_qtable());
        } catch (const Error&) {
        }
      };
      ui.report_error = [&](const std::string& msg) { app.report_error(msg); };
      ui.scale = scale;
      ui.mono = mono;
      qtable_panel(qtable, session, ui);
    }
    ImGui::EndTabItem();
  }
  char clabel[64];
  std::snprintf(clabel, sizeof clabel, "Calibration%s###calibration",
                cali.calibration.running()      ? " ..."
                : cali.calibration.has_result() ? " *"
                                                : "");
  if (ImGui::BeginTabItem(clabel, nullptr, cali_flag)) {
    if (!session.has_model()) {
      ImGui::TextDisabled("Open a model first.");
    } else {
      CalibrationUi ui;
      ui.pick_files = [&] { pick("calibration"); };
      ui.run = [&] {
        try {
          app.start_calibration("");
        } catch (const Error&) {
        }
      };
      ui.cancel = [&] { app.cancel_calibration(); };
      ui.save_table = [&] {
        try {
          services.save_file("cali_table", "text/plain", app.export_cali_table());
        } catch (const Error&) {
        }
      };
      ui.remove_file = [&](const std::string& name) { app.remove_calibration_data(name); };
      ui.jump = [&](const std::string& name) { select(session.layers().find(name), true); };
      ui.scale = scale;
      ui.mono = mono;
      calibration_panel(cali, session, ui);
    }
    ImGui::EndTabItem();
  }
  ImGui::EndTabBar();
}

// -----------------------------------------------------------------------------
// [SECTION] layer table
// -----------------------------------------------------------------------------

void StudioApp::Impl::draw_layer_table(StudioApp& app) {
  if (!session.has_model()) {
    ImGui::TextDisabled("No model.");
    return;
  }
  const auto& L = session.layers().layers;
  ImGui::SetNextItemWidth(260 * scale);
  bool filter_changed = ImGui::InputTextWithHint("##filter", "Filter (name, type, precision)", filter, sizeof filter);
  ImGui::SameLine();
  ImGui::TextDisabled("%zu rows | %zu selected", table_rows.size(), multi.size());
  if (!multi.empty()) {
    const std::vector<int> targets(multi.begin(), multi.end());
    for (const char* mode : {"INT8", "F16", "BF16", "F32"}) {
      if (!session.chip_profile().supports(mode)) continue;
      ImGui::SameLine();
      if (ImGui::SmallButton(mode)) {
        try {
          session.set_precision(targets, mode);
        } catch (const Error& e) {
          app.report_error(e.what());
        }
      }
    }
    if (selected >= 0) {
      ImGui::SameLine();
      if (ImGui::SmallButton("this+after -> float")) session.set_precision_from(selected, session.float_mode());
      ImGui::SameLine();
      if (ImGui::SmallButton("before+this -> float")) session.set_precision_until(selected, session.float_mode());
    }
  }
  const ImGuiTableFlags flags = ImGuiTableFlags_Sortable | ImGuiTableFlags_RowBg | ImGuiTableFlags_ScrollY |
                                ImGuiTableFlags_BordersInnerV | ImGuiTableFlags_Resizable |
                                ImGuiTableFlags_SizingStretchProp;
  if (!ImGui::BeginTable("layers", 6, flags)) return;
  ImGui::TableSetupScrollFreeze(0, 1);
  ImGui::TableSetupColumn("#", ImGuiTableColumnFlags_DefaultSort | ImGuiTableColumnFlags_WidthFixed, 44 * scale);
  ImGui::TableSetupColumn("TPU-MLIR name", 0, 4.0f);
  ImGui::TableSetupColumn("Type", 0, 1.2f);
  ImGui::TableSetupColumn("Shape", 0, 1.4f);
  ImGui::TableSetupColumn("Precision", ImGuiTableColumnFlags_WidthFixed, 96 * scale);
  ImGui::TableSetupColumn("Qtable", 0, 1.0f);
  ImGui::TableHeadersRow();
  bool sort_dirty = false;
  if (ImGuiTableSortSpecs* specs = ImGui::TableGetSortSpecs())
    if (specs->SpecsDirty && specs->SpecsCount > 0) {
      table_sort_column = specs->Specs[0].ColumnIndex;
      table_sort_ascending = specs->Specs[0].SortDirection == ImGuiSortDirection_Ascending;
      specs->SpecsDirty = false;
      sort_dirty = true;
    }
  const int rev = session.revision() * 1000 + qtable_revision(qtable);
  if (sort_dirty || filter_changed || table_revision != rev || table_rows.empty()) {
    table_revision = rev;
    const std::string f = lower(filter);
    table_rows.clear();
    for (size_t i = 0; i < L.size(); ++i) {
      if (!f.empty()) {
        const std::string hay =
            lower(L[i].name + " " + L[i].kind + " " + L[i].op_type + " " +
                  (L[i].is_input() ? "" : session.precision(int(i))) + " " + qtable_status_text(qtable, int(i)));
        if (hay.find(f) == std::string::npos) continue;
      }
      table_rows.push_back(int(i));
    }
    auto key_less = [&](int a, int b) {
      switch (table_sort_column) {
        case 1:
          return L[a].name < L[b].name;
        case 2:
          return L[a].kind < L[b].kind;
        case 3:
          return shape_numel_or(L[a].shape) < shape_numel_or(L[b].shape);
        case 4:
          return session.precision(a) < session.precision(b);
        case 5:
          return qtable_status_text(qtable, a) < qtable_status_text(qtable, b);
        default:
          return a < b;
      }
    };
    std::stable_sort(table_rows.begin(), table_rows.end(),
                     [&](int a, int b) { return table_sort_ascending ? key_less(a, b) : key_less(b, a); });
  }
  ImGuiListClipper clipper;
  clipper.Begin(int(table_rows.size()));
  while (clipper.Step()) {
    for (int r = clipper.DisplayStart; r < clipper.DisplayEnd; ++r) {
      const int i = table_rows[r];
      ImGui::PushID(i);
      ImGui::TableNextRow();
      ImGui::TableSetColumnIndex(0);
      char idx[16];
      std::snprintf(idx, sizeof idx, "%d", i);
      if (ImGui::Selectable(idx, multi.count(i) != 0,
                            ImGuiSelectableFlags_SpanAllColumns | ImGuiSelectableFlags_AllowItemOverlap)) {
        if (ImGui::GetIO().KeyCtrl) {
          if (!multi.insert(i).second) multi.erase(i);
          selected = i;
        } else if (ImGui::GetIO().KeyShift && selected >= 0) {
          const int a = std::min(selected, i), b = std::max(selected, i);
          for (int k = a; k <= b; ++k) multi.insert(k);
        } else {
          select(i, true);
        }
      }
      if (ImGui::BeginPopupContextItem("row_menu")) {
        if (!multi.count(i)) select(i, false);
        selected = i;
        draw_precision_menu(app, i);
        ImGui::EndPopup();
      }
      ImGui::TableSetColumnIndex(1);
      ImGui::TextUnformatted(L[i].name.c_str());
      ImGui::TableSetColumnIndex(2);
      ImGui::TextUnformatted(L[i].kind.c_str());
      ImGui::TableSetColumnIndex(3);
      ImGui::TextDisabled("%s", shape_text(L[i].shape).c_str());
      ImGui::TableSetColumnIndex(4);
      if (L[i].is_input()) {
        ImGui::TextDisabled("input");
      } else {
        const std::string cur = session.precision(i);
        ImGui::PushStyleColor(ImGuiCol_FrameBg, ImGui::ColorConvertU32ToFloat4(mode_colour(cur)));
        ImGui::SetNextItemWidth(-1);
        if (ImGui::BeginCombo("##mode", cur.c_str(), ImGuiComboFlags_HeightLarge)) {
          for (const auto& mode : session.chip_profile().modes)
            if (ImGui::Selectable(mode.c_str(), mode == cur)) {
              std::vector<int> targets =
                  multi.count(i) ? std::vector<int>(multi.begin(), multi.end()) : std::vector<int>{i};
              session.set_precision(targets, mode);
            }
          ImGui::EndCombo();
        }
        ImGui::PopStyleColor();
      }
      ImGui::TableSetColumnIndex(5);
      qtable_status_cell(qtable, i);
      ImGui::PopID();
    }
  }
  if (want_focus && selected >= 0) {
    // keep the table scrolled to the selection
    for (size_t r = 0; r < table_rows.size(); ++r)
      if (table_rows[r] == selected) ImGui::SetScrollY(r * ImGui::GetTextLineHeightWithSpacing() - 40 * scale);
  }
  ImGui::EndTable();
}

// -----------------------------------------------------------------------------
// [SECTION] properties panel
// -----------------------------------------------------------------------------

void StudioApp::Impl::draw_properties(StudioApp& app) {
  ImGui::PushFont(font_bold);
  ImGui::TextUnformatted("Properties");
  ImGui::PopFont();
  ImGui::Separator();
  if (!session.has_model() || selected < 0 || selected >= int(session.layers().layers.size())) {
    ImGui::TextDisabled("Select a node in the graph or a row in the layer table.");
    return;
  }
  const auto& am = session.model();
  const auto& L = am.layers.layers;
  const Layer& l = L[selected];
  if (stats_layer != selected) compute_stats(selected);
  auto row = [](const char* key, const std::string& value) {
    ImGui::TextDisabled("%s", key);
    ImGui::SameLine(110 * ImGui::GetFontSize() / 15.0f);
    ImGui::TextWrapped("%s", value.c_str());
  };
  ImGui::PushFont(font_bold);
  ImGui::TextWrapped("%s", l.kind.c_str());
  ImGui::PopFont();
  row("TPU-MLIR", l.name);
  if (ImGui::BeginPopupContextItem("copy_name")) {
    if (ImGui::MenuItem("Copy name") && services.copy_text) services.copy_text(l.name);
    ImGui::EndPopup();
  }
  row("ONNX op", l.op_type);
  row("Shape", shape_text(l.shape) + "  " + dtype_name(l.dtype));
  if (!l.is_input()) {
    ImGui::TextDisabled("Precision");
    ImGui::SameLine(110 * ImGui::GetFontSize() / 15.0f);
    const std::string cur = session.precision(selected);
    ImGui::SetNextItemWidth(-1);
    if (ImGui::BeginCombo("##prop_mode", cur.c_str())) {
      for (const auto& mode : session.chip_profile().modes)
        if (ImGui::Selectable(mode.c_str(), mode == cur)) session.set_precision({selected}, mode);
      ImGui::EndCombo();
    }
    const std::string fm = session.float_mode();
    if (ImGui::Button(("This and after -> " + fm).c_str())) session.set_precision_from(selected, fm);
    ImGui::SameLine();
    if (ImGui::Button(("Before -> " + fm).c_str())) session.set_precision_until(selected, fm);
  }
  qtable_properties(qtable, selected);
  calibration_properties(cali, session, selected);
  ImGui::Spacing();
  if (ImGui::CollapsingHeader("ONNX nodes", ImGuiTreeNodeFlags_DefaultOpen)) {
    for (int nd : l.onnx_nodes) {
      const Node& n = am.model.graph.nodes[nd];
      ImGui::BulletText("%s  (%s)", n.name.empty() ? "<unnamed>" : n.name.c_str(), n.op_type.c_str());
    }
  }
  if (l.main_node >= 0 && ImGui::CollapsingHeader("Attributes", ImGuiTreeNodeFlags_DefaultOpen)) {
    const Node& n = am.model.graph.nodes[l.main_node];
    if (n.attrs.empty()) ImGui::TextDisabled("none");
    for (const auto& [key, a] : n.attrs) {
      std::string v;
      switch (a.kind) {
        case Attribute::Kind::Int:
          v = std::to_string(a.i);
          break;
        case Attribute::Kind::Float:
          v = std::to_string(a.f);
          break;
        case Attribute::Kind::String:
          v = "\"" + a.s + "\"";
          break;
        case Attribute::Kind::Ints:
          for (size_t k = 0; k < a.ints.size(); ++k) v += (k ? ", " : "[") + std::to_string(a.ints[k]);
          v += "]";
          break;
        case Attribute::Kind::Floats:
          for (size_t k = 0; k < a.floats.size(); ++k) v += (k ? ", " : "[") + std::to_string(a.floats[k]);
          v += "]";
          break;
        case Attribute::Kind::Tensor:
          v = "tensor " + shape_text(a.t.shape());
          break;
        default:
          v = "...";
          break;
      }
      row(key.c_str(), v);
    }
  }
  if (ImGui::CollapsingHeader("Inputs", ImGuiTreeNodeFlags_DefaultOpen)) {
    for (int p : l.inputs) {
      ImGui::PushID(p);
      if (ImGui::Selectable(L[p].name.c_str())) select(p, true);
      ImGui::PopID();
    }
    if (l.inputs.empty()) ImGui::TextDisabled("none");
  }
  if (ImGui::CollapsingHeader("Consumers", ImGuiTreeNodeFlags_DefaultOpen)) {
    for (int c : l.consumers) {
      ImGui::PushID(c + 1000000);
      if (ImGui::Selectable(L[c].name.c_str())) select(c, true);
      ImGui::PopID();
    }
    if (l.consumers.empty()) ImGui::TextDisabled(l.is_output ? "graph output" : "none");
  }
  if (!stats.empty() && ImGui::CollapsingHeader("Weights", ImGuiTreeNodeFlags_DefaultOpen)) {
    for (const auto& s : stats) {
      ImGui::TextWrapped("%s", s.name.c_str());
      ImGui::TextDisabled("  %s %s, %lld values", s.dtype.c_str(), shape_text(s.shape).c_str(), (long long)s.count);
      ImGui::TextDisabled("  min %.4g  max %.4g", s.min, s.max);
      ImGui::TextDisabled("  mean %.4g  std %.4g", s.mean, s.stddev);
    }
  }
}

// -----------------------------------------------------------------------------
// [SECTION] log panel
// -----------------------------------------------------------------------------

void StudioApp::Impl::draw_log() {
  ImGui::BeginChild("log_scroll", ImVec2(0, 0), false, ImGuiWindowFlags_HorizontalScrollbar);
  ImGui::PushFont(mono);
  for (const auto& line : log) {
    ImVec4 col = line.level == LogLevel::Error     ? ImVec4(1, 0.45f, 0.4f, 1)
                 : line.level == LogLevel::Warning ? ImVec4(1, 0.8f, 0.4f, 1)
                                                   : ImVec4(0.75f, 0.78f, 0.83f, 1);
    ImGui::PushStyleColor(ImGuiCol_Text, col);
    ImGui::TextUnformatted(line.text.c_str());
    ImGui::PopStyleColor();
  }
  if (ImGui::GetScrollY() >= ImGui::GetScrollMaxY() - 5) ImGui::SetScrollHereY(1.0f);
  ImGui::PopFont();
  ImGui::EndChild();
}

}  // namespace mixq::studio
