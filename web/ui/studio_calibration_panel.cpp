// The Calibration tab (see studio_calibration_panel.h).
//
// [SECTION] settings <-> fields
// [SECTION] panel: data, preprocessing, run, result
// [SECTION] properties rows
#include "studio_calibration_panel.h"

#include <imgui.h>

#include <cctype>
#include <cstdio>

#include "mixq/calib/calibrate.h"

namespace mixq::studio {
namespace {

const char* const kCaliMethods[] = {"kl", "max", "percentile9999", "mse", "aciq_gauss", "aciq_laplace", "admm"};
const char* const kPadTypes[] = {"center", "normal"};
const char* const kPixelFormats[] = {"rgb", "bgr", "gray"};
const char* const kChannelFormats[] = {"nchw", "nhwc"};

template <size_t N>
int index_of(const char* const (&names)[N], const std::string& value, int fallback) {
  for (size_t i = 0; i < N; ++i)
    if (value == names[i]) return int(i);
  return fallback;
}

std::string size_text(size_t bytes) {
  char buf[32];
  if (bytes >= (1u << 20))
    std::snprintf(buf, sizeof buf, "%.1f MB", bytes / 1048576.0);
  else
    std::snprintf(buf, sizeof buf, "%.0f KB", bytes / 1024.0);
  return buf;
}

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A label on the left, the widget filling the rest of the line.
void field_label(const char* label, float scale) {
  ImGui::AlignTextToFramePadding();
  ImGui::TextDisabled("%s", label);
  ImGui::SameLine(ImGui::CalcTextSize("histogram_bin_num").x + 16 * scale);
  ImGui::SetNextItemWidth(-1);
}

template <size_t N>
void combo(const char* id, int* value, const char* const (&names)[N]) {
  if (ImGui::BeginCombo(id, names[*value])) {
    for (size_t i = 0; i < N; ++i)
      if (ImGui::Selectable(names[i], int(i) == *value)) *value = int(i);
    ImGui::EndCombo();
  }
}

}  // namespace

// -----------------------------------------------------------------------------
// [SECTION] settings <-> fields
// -----------------------------------------------------------------------------

CalibrationSettings calibration_panel_settings(const CalibrationPanelState& s) {
  CalibrationSettings c;
  c.cali_method = kCaliMethods[s.method];
  c.input_num = s.input_num;
  c.histogram_bin_num = s.histogram_bin_num;
  c.resize_dims = s.resize_dims;
  c.keep_aspect_ratio = s.keep_aspect_ratio;
  c.pad_value = s.pad_value;
  c.pad_type = kPadTypes[s.pad_type];
  c.mean = s.mean;
  c.scale = s.scale;
  c.pixel_format = kPixelFormats[s.pixel_format];
  c.channel_format = kChannelFormats[s.channel_format];
  return c;
}

void calibration_panel_show(CalibrationPanelState& s, const CalibrationSettings& c) {
  s.method = index_of(kCaliMethods, c.cali_method, s.method);
  s.input_num = c.input_num;
  s.histogram_bin_num = c.histogram_bin_num;
  std::snprintf(s.resize_dims, sizeof s.resize_dims, "%s", c.resize_dims.c_str());
  s.keep_aspect_ratio = c.keep_aspect_ratio;
  s.pad_value = c.pad_value;
  s.pad_type = index_of(kPadTypes, c.pad_type, s.pad_type);
  std::snprintf(s.mean, sizeof s.mean, "%s", c.mean.c_str());
  std::snprintf(s.scale, sizeof s.scale, "%s", c.scale.c_str());
  s.pixel_format = index_of(kPixelFormats, c.pixel_format, s.pixel_format);
  s.channel_format = index_of(kChannelFormats, c.channel_format, s.channel_format);
}

// -----------------------------------------------------------------------------
// [SECTION] panel: data, preprocessing, run, result
// -----------------------------------------------------------------------------

void calibration_panel(CalibrationPanelState& s, const StudioSession& session, const CalibrationUi& ui) {
  const float sc = ui.scale;
  StudioCalibration& cal = s.calibration;
  const bool running = cal.running();
  const ImVec4 warn(1, 0.78f, 0.38f, 1);

  // --- data ---
  const auto files = cal.data();
  ImGui::Text("Calibration data: %zu file%s", files.size(), files.size() == 1 ? "" : "s");
  ImGui::BeginDisabled(running);
  const float half = (ImGui::GetContentRegionAvail().x - ImGui::GetStyle().ItemSpacing.x) / 2;
  if (ImGui::Button("Add images / npz...", ImVec2(half, 0)) && ui.pick_files) ui.pick_files();
  ImGui::SameLine();
  ImGui::BeginDisabled(files.empty());
  if (ImGui::Button("Remove all", ImVec2(-1, 0))) cal.clear_data();
  ImGui::EndDisabled();
  if (files.empty()) {
    ImGui::TextDisabled("Drop images (jpg, png, bmp) or npz/npy files here,");
    ImGui::TextDisabled("or use the button above.");
  } else {
    const float rows = float(std::min<size_t>(files.size(), 6));
    ImGui::BeginChild("cali_files", ImVec2(0, rows * ImGui::GetFrameHeightWithSpacing() + 6 * sc), true);
    for (const auto& f : files) {
      ImGui::PushID(f.name.c_str());
      if (ImGui::SmallButton("x") && ui.remove_file) ui.remove_file(f.name);
      if (ImGui::IsItemHovered()) ImGui::SetTooltip("Remove %s", f.name.c_str());
      ImGui::SameLine();
      ImGui::TextUnformatted(f.name.c_str());
      ImGui::SameLine(ImGui::GetContentRegionAvail().x + ImGui::GetCursorPosX() - 64 * sc);
      ImGui::TextDisabled("%s", size_text(f.size).c_str());
      ImGui::PopID();
    }
    ImGui::EndChild();
  }

  // --- preprocessing (model_transform.py) ---
  if (ImGui::CollapsingHeader("Preprocessing", ImGuiTreeNodeFlags_DefaultOpen)) {
    field_label("resize_dims", sc);
    ImGui::InputTextWithHint("##resize_dims", "H,W (default: the input's)", s.resize_dims, sizeof s.resize_dims);
    field_label("keep_aspect_ratio", sc);
    ImGui::Checkbox("##keep_aspect_ratio", &s.keep_aspect_ratio);
    field_label("pad_value", sc);
    ImGui::InputInt("##pad_value", &s.pad_value, 0);
    field_label("pad_type", sc);
    combo("##pad_type", &s.pad_type, kPadTypes);
    field_label("mean", sc);
    ImGui::InputText("##mean", s.mean, sizeof s.mean);
    field_label("scale", sc);
    ImGui::InputText("##scale", s.scale, sizeof s.scale);
    field_label("pixel_format", sc);
    combo("##pixel_format", &s.pixel_format, kPixelFormats);
    field_label("channel_format", sc);
    combo("##channel_format", &s.channel_format, kChannelFormats);
  }
  if (ImGui::CollapsingHeader("Calibration", ImGuiTreeNodeFlags_DefaultOpen)) {
    field_label("cali_method", sc);
    combo("##cali_method", &s.method, kCaliMethods);
    field_label("input_num", sc);
    ImGui::InputInt("##input_num", &s.input_num, 0);
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("Samples to use (0 = all), chosen as run_calibration.py does");
    field_label("histogram_bin_num", sc);
    ImGui::InputInt("##histogram_bin_num", &s.histogram_bin_num, 0);
  }
  ImGui::EndDisabled();

  // --- run ---
  ImGui::Spacing();
  if (!running) {
    ImGui::BeginDisabled(files.empty() || !session.has_model());
    if (ImGui::Button("Run calibration", ImVec2(-1, 0)) && ui.run) ui.run();
    ImGui::EndDisabled();
  } else {
    const size_t done = cal.batches_done(), total = std::max<size_t>(1, cal.batches_total());
    char overlay[64];
    std::snprintf(overlay, sizeof overlay, "%zu / %zu batches", done, total);
    const float cancel_w = ImGui::CalcTextSize("Cancel").x + 2 * ImGui::GetStyle().FramePadding.x;
    ImGui::ProgressBar(float(done) / float(total),
                       ImVec2(ImGui::GetContentRegionAvail().x - cancel_w - ImGui::GetStyle().ItemSpacing.x, 0),
                       overlay);
    ImGui::SameLine();
    if (ImGui::Button("Cancel") && ui.cancel) ui.cancel();
  }
  if (s.state == "error" || s.state == "cancelled") {
    ImGui::PushStyleColor(ImGuiCol_Text, s.state == "error" ? ImVec4(1, 0.45f, 0.4f, 1) : warn);
    ImGui::TextWrapped("%s", s.message.c_str());
    ImGui::PopStyleColor();
  }

  // --- result ---
  if (!cal.has_result()) return;
  const calib::CalibrationResult& r = cal.result();
  ImGui::Separator();
  ImGui::Text("%s on %d sample%s, %d batch%s (%.1f s)", cal.result_settings().cali_method.c_str(), r.samples,
              r.samples == 1 ? "" : "s", r.batches, r.batches == 1 ? "" : "es", s.run_seconds);
  if (ImGui::Button("Export calibration table", ImVec2(-1, 0)) && ui.save_table) ui.save_table();
  if (!r.preprocess_description.empty() &&
      ImGui::TreeNodeEx("Effective preprocessing", ImGuiTreeNodeFlags_DefaultOpen)) {
    if (ui.mono) ImGui::PushFont(ui.mono);
    ImGui::PushTextWrapPos(0);
    ImGui::TextUnformatted(r.preprocess_description.c_str());
    ImGui::PopTextWrapPos();
    if (ui.mono) ImGui::PopFont();
    ImGui::TreePop();
  }
  if (!r.warnings.empty()) {
    char label[64];
    std::snprintf(label, sizeof label, "Warnings (%zu)###cali_warnings", r.warnings.size());
    if (ImGui::TreeNodeEx(label, ImGuiTreeNodeFlags_DefaultOpen)) {
      ImGui::PushStyleColor(ImGuiCol_Text, warn);
      for (const auto& w : r.warnings) ImGui::TextWrapped("%s", w.c_str());
      ImGui::PopStyleColor();
      ImGui::TreePop();
    }
  }
  ImGui::SetNextItemWidth(-1);
  ImGui::InputTextWithHint("##cali_filter", "Filter layers", s.filter, sizeof s.filter);
  const std::string f = lower(s.filter);
  const ImGuiTableFlags flags = ImGuiTableFlags_RowBg | ImGuiTableFlags_ScrollY | ImGuiTableFlags_BordersInnerV |
                                ImGuiTableFlags_Resizable | ImGuiTableFlags_SizingStretchProp;
  const float h = std::max(160 * sc, ImGui::GetContentRegionAvail().y);
  if (ImGui::BeginTable("cali_rows", 4, flags, ImVec2(0, h))) {
    ImGui::TableSetupScrollFreeze(0, 1);
    ImGui::TableSetupColumn("layer", 0, 3.0f);
    ImGui::TableSetupColumn("threshold", 0, 1.3f);
    ImGui::TableSetupColumn("min", 0, 1.3f);
    ImGui::TableSetupColumn("max", 0, 1.3f);
    ImGui::TableHeadersRow();
    if (ui.mono) ImGui::PushFont(ui.mono);
    for (size_t i = 0; i < r.layers.size(); ++i) {
      const auto& l = r.layers[i];
      if (!f.empty() && lower(l.layer).find(f) == std::string::npos) continue;
      ImGui::TableNextRow();
      ImGui::TableSetColumnIndex(0);
      ImGui::PushID(int(i));
      if (ImGui::Selectable(l.layer.c_str(), false, ImGuiSelectableFlags_SpanAllColumns) && ui.jump) ui.jump(l.layer);
      if (!l.warning.empty() && ImGui::IsItemHovered()) ImGui::SetTooltip("%s", l.warning.c_str());
      ImGui::PopID();
      ImGui::TableSetColumnIndex(1);
      ImGui::Text("%.4f", l.threshold);
      ImGui::TableSetColumnIndex(2);
      ImGui::TextDisabled("%.4f", l.min);
      ImGui::TableSetColumnIndex(3);
      ImGui::TextDisabled("%.4f", l.max);
    }
    if (ui.mono) ImGui::PopFont();
    ImGui::EndTable();
  }
}

// -----------------------------------------------------------------------------
// [SECTION] properties rows
// -----------------------------------------------------------------------------

void calibration_properties(const CalibrationPanelState& s, const StudioSession& session, int layer) {
  if (!s.calibration.has_result() || !session.has_model() || layer < 0) return;
  const std::string& name = session.layers().layers[layer].name;
  for (const auto& l : s.calibration.result().layers) {
    if (l.layer != name) continue;
    ImGui::TextDisabled("Calibration");
    ImGui::SameLine(110 * ImGui::GetFontSize() / 15.0f);
    ImGui::Text("th %.4f  [%.4f, %.4f]", l.threshold, l.min, l.max);
    return;
  }
}

}  // namespace mixq::studio
