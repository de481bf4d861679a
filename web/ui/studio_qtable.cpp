// The studio's qtable panel (see studio_qtable.h).
//
// [SECTION] report state and actions
// [SECTION] widgets
#include "studio_qtable.h"

#include <imgui.h>

#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "mixq/error.h"

namespace mixq::studio {
namespace {

ImVec4 status_colour(const std::string& status) {
  if (status == "ok") return ImVec4(0.45f, 0.85f, 0.5f, 1);
  if (status == "unmatched") return ImVec4(1.0f, 0.62f, 0.3f, 1);
  if (status == "invalid") return ImVec4(1.0f, 0.4f, 0.4f, 1);
  if (status == "fixed") return ImVec4(0.45f, 0.75f, 1.0f, 1);
  return ImVec4(0.6f, 0.62f, 0.66f, 1);  // ignored
}

std::string shown_status(const QtableEntry& e) {
  return e.decision == QtableEntry::Decision::Accepted ? "fixed" : e.status;
}

void rebuild_touch(QtableState& s, const StudioSession& session) {
  const size_t n = session.has_model() ? session.layers().layers.size() : 0;
  s.touch.assign(n, 0);
  s.line_of.assign(n, -1);
  for (size_t k = 0; k < s.entries.size(); ++k) {
    const auto& e = s.entries[k];
    int layer = e.layer;
    int kind = e.status == "ok" ? 1 : 2;
    if (e.decision == QtableEntry::Decision::Accepted)
      layer = e.suggestion_layer, kind = 1;
    else if (layer < 0 && e.has_suggestion && e.decision == QtableEntry::Decision::Open)
      layer = e.suggestion_layer;
    if (layer >= 0 && layer < int(n)) {
      s.touch[layer] = std::max(s.touch[layer], kind);
      if (s.line_of[layer] < 0 || kind == 1) s.line_of[layer] = int(k);
    }
  }
  ++s.revision;
}

}  // namespace

// -----------------------------------------------------------------------------
// [SECTION] report state and actions
// -----------------------------------------------------------------------------

std::string qtable_corrected_text(const QtableState& s) {
  std::map<int, const QtableEntry*> accepted;
  for (const auto& e : s.entries)
    if (e.decision == QtableEntry::Decision::Accepted) accepted[e.line] = &e;
  std::string out;
  size_t pos = 0;
  for (int line = 1; pos <= s.text.size(); ++line) {
    size_t end = s.text.find('\n', pos);
    const bool last = end == std::string::npos;
    if (last) end = s.text.size();
    auto it = accepted.find(line);
    if (it != accepted.end())
      out += it->second->suggestion_name + " " + it->second->mode;
    else
      out.append(s.text, pos, end - pos);
    if (last) break;
    out += '\n';
    pos = end + 1;
  }
  return out;
}

std::string qtable_summary_line(const QtableState& s) {
  int ok = 0, unmatched = 0, invalid = 0, ignored = 0, fixed = 0;
  for (const auto& e : s.entries) {
    const std::string st = shown_status(e);
    ok += st == "ok", unmatched += st == "unmatched", invalid += st == "invalid", ignored += st == "ignored",
        fixed += st == "fixed";
  }
  char buf[160];
  std::snprintf(buf, sizeof buf, "%d ok, %d unmatched, %d invalid, %d ignored, %d fixed", ok, unmatched, invalid,
                ignored, fixed);
  return buf;
}

std::string qtable_import(QtableState& s, StudioSession& session, const std::string& text, const std::string& name) {
  require(session.has_model(), "qtable: open a model before importing a qtable");
  std::string report;
  std::vector<QtableEntry> entries = qtable_check_entries(session, text, name, &report);  // throws before any change
  s.entries = std::move(entries);
  s.report_json = report;
  s.source_name = name;
  s.text = text;
  // Apply every ok line's mode as one undoable edit: group by mode.
  std::map<std::string, std::vector<int>> by_mode;
  for (const auto& e : s.entries)
    if (e.status == "ok" && e.layer >= 0) by_mode[e.mode].push_back(e.layer);
  for (const auto& [mode, layers] : by_mode) session.set_precision(layers, mode);
  rebuild_touch(s, session);
  return s.report_json;
}

void qtable_accept(QtableState& s, StudioSession& session, int k) {
  auto& e = s.entries.at(k);
  if (!e.has_suggestion || e.suggestion_layer < 0) return;
  session.set_precision({e.suggestion_layer}, e.mode);
  e.decision = QtableEntry::Decision::Accepted;
  rebuild_touch(s, session);
}

std::string qtable_apply_suggestions(QtableState& s, StudioSession& session, double min_confidence) {
  require(!s.entries.empty(), "applySuggestions: import a qtable first");
  require(min_confidence >= 0 && min_confidence <= 1, "applySuggestions: confidence must be within [0, 1]");
  std::map<std::string, std::vector<int>> by_mode;
  for (auto& e : s.entries)
    if (e.has_suggestion && e.suggestion_layer >= 0 && e.decision == QtableEntry::Decision::Open &&
        e.confidence >= min_confidence && e.status != "ok") {
      by_mode[e.mode].push_back(e.suggestion_layer);
      e.decision = QtableEntry::Decision::Accepted;
    }
  for (const auto& [mode, layers] : by_mode) session.set_precision(layers, mode);
  rebuild_touch(s, session);
  std::string report;
  qtable_check_entries(session, qtable_corrected_text(s), s.source_name, &report);
  return report;
}

void qtable_revalidate(QtableState& s, const StudioSession& session) {
  if (s.entries.empty()) return;
  std::vector<QtableEntry> fresh = qtable_check_entries(session, s.text, s.source_name, &s.report_json);
  // Keep decisions made on lines that are still there.
  for (auto& f : fresh)
    for (const auto& old : s.entries)
      if (old.line == f.line && old.decision != QtableEntry::Decision::Open && f.has_suggestion)
        f.decision = old.decision;
  s.entries = std::move(fresh);
  rebuild_touch(s, session);
}

bool qtable_has_report(const QtableState& s) {
  return !s.entries.empty();
}
int qtable_revision(const QtableState& s) {
  return s.revision;
}
int qtable_touch(const QtableState& s, int layer) {
  return layer >= 0 && layer < int(s.touch.size()) ? s.touch[layer] : 0;
}
std::string qtable_status_text(const QtableState& s, int layer) {
  if (layer < 0 || layer >= int(s.line_of.size()) || s.line_of[layer] < 0) return "";
  const auto& e = s.entries[s.line_of[layer]];
  const std::string st = shown_status(e);
  return (st == "unmatched" ? std::string("suggested") : st) + " (line " + std::to_string(e.line) + ")";
}

// -----------------------------------------------------------------------------
// [SECTION] widgets
// -----------------------------------------------------------------------------

void qtable_status_cell(const QtableState& s, int layer) {
  const std::string t = qtable_status_text(s, layer);
  if (t.empty()) return;
  const auto& e = s.entries[s.line_of[layer]];
  const std::string st = shown_status(e);
  ImGui::TextColored(status_colour(st == "unmatched" ? "unmatched" : st), "%s", t.c_str());
}

void qtable_properties(const QtableState& s, int layer) {
  if (layer < 0 || layer >= int(s.line_of.size()) || s.line_of[layer] < 0) return;
  const auto& e = s.entries[s.line_of[layer]];
  ImGui::Spacing();
  ImGui::TextDisabled("Qtable line %d", e.line);
  ImGui::TextColored(status_colour(shown_status(e)), "%s %s  [%s]", e.name.c_str(), e.mode.c_str(),
                     shown_status(e).c_str());
  if (!e.message.empty()) ImGui::TextWrapped("%s", e.message.c_str());
}

void qtable_panel(QtableState& s, StudioSession& session, const QtableUi& ui) {
  if (ImGui::Button("Import qtable file...")) ui.pick_file();
  ImGui::SameLine();
  if (ImGui::Button("YOLO heads -> float")) {
    try {
      const auto heads = qtable_yolo_head_layers(session);
      require(!heads.empty(), "YOLO heads: no detection-head convs found in this model");
      std::vector<int> all;
      for (int h : heads)
        for (int d : session.descendants(h)) all.push_back(d);
      session.set_precision(all, session.float_mode());
    } catch (const Error& e) {
      ui.report_error(e.what());
    }
  }
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip("fp_forward --yolo_heads: the detection-head convs and everything after them become %s",
                      session.float_mode().c_str());
  if (ImGui::Button("Reference model...")) ui.pick_reference();
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip(
        "The model the qtable was written for (an older export): its names are mapped onto\n"
        "this model by structural alignment, like `mixq qtable check --reference`.");
  ImGui::SameLine();
  if (session.reference())
    ImGui::TextDisabled("%s", session.reference()->source_name.c_str());
  else
    ImGui::TextDisabled("none");
  if (ImGui::CollapsingHeader("Paste a qtable", s.entries.empty() ? ImGuiTreeNodeFlags_DefaultOpen : 0)) {
    if (ui.mono) ImGui::PushFont(ui.mono);
    ImGui::InputTextMultiline("##paste", s.paste, sizeof s.paste, ImVec2(-1, 110 * ui.scale),
                              ImGuiInputTextFlags_AllowTabInput);
    if (ui.mono) ImGui::PopFont();
    if (ImGui::Button("Import pasted text") && s.paste[0]) ui.import_text(s.paste);
  }
  if (s.entries.empty()) {
    ImGui::TextDisabled("No qtable imported.");
    return;
  }
  ImGui::Separator();
  ImGui::TextWrapped("%s", s.source_name.c_str());
  ImGui::TextWrapped("%s", qtable_summary_line(s).c_str());
  ImGui::SetNextItemWidth(150 * ui.scale);
  ImGui::SliderFloat("##minconf", &s.min_confidence, 0.0f, 1.0f, "conf >= %.2f");
  ImGui::SameLine();
  if (ImGui::Button("Accept all above")) ui.apply(s.min_confidence);
  if (ImGui::Button("Export corrected qtable", ImVec2(-1, 0))) ui.save();
  ImGui::RadioButton("all lines", &s.status_filter, 0);
  ImGui::SameLine();
  ImGui::RadioButton("problems", &s.status_filter, 1);

  // Lines that touch nothing (unmatched without an accepted fix, invalid, ignored) come first.
  ImGui::BeginChild("qt_lines", ImVec2(0, 0), true);
  for (int pass = 0; pass < 2; ++pass) {
    bool header = false;
    for (size_t k = 0; k < s.entries.size(); ++k) {
      auto& e = s.entries[k];
      const std::string st = shown_status(e);
      const bool problem = st == "unmatched" || st == "invalid" || st == "ignored";
      if ((pass == 0) != problem) continue;
      if (s.status_filter == 1 && !problem) continue;
      if (!header) {
        header = true;
        ImGui::TextDisabled(pass == 0 ? "Lines that touch no layer" : "Lines that set a layer");
      }
      ImGui::PushID(int(k));
      ImGui::TextColored(status_colour(st), "%-9s", st.c_str());
      ImGui::SameLine();
      ImGui::TextDisabled("%4d", e.line);
      ImGui::SameLine();
      const int target = e.decision == QtableEntry::Decision::Accepted ? e.suggestion_layer : e.layer;
      if (target >= 0) {
        const std::string label = e.decision == QtableEntry::Decision::Accepted
                                      ? e.name + " -> " + e.suggestion_name + "  " + e.mode
                                      : e.name + "  " + e.mode;
        if (ImGui::Selectable(label.c_str(), false)) ui.jump(target);
      } else {
        ImGui::TextWrapped("%s  %s", e.name.c_str(), e.mode.c_str());
      }
      const bool open_suggestion = e.has_suggestion && e.decision == QtableEntry::Decision::Open && st != "ok";
      if (!e.message.empty() && ((problem && !open_suggestion) || ImGui::IsItemHovered())) {
        ImGui::Indent(20 * ui.scale);
        ImGui::PushStyleColor(ImGuiCol_Text, ImVec4(0.62f, 0.65f, 0.7f, 1));
        ImGui::TextWrapped("%s", e.message.c_str());
        ImGui::PopStyleColor();
        ImGui::Unindent(20 * ui.scale);
      }
      if (open_suggestion) {
        ImGui::Indent(20 * ui.scale);
        ImGui::TextColored(ImVec4(0.55f, 0.78f, 1, 1), "-> %s", e.suggestion_name.c_str());
        ImGui::SameLine();
        ImGui::TextColored(e.confidence >= 0.8 ? ImVec4(0.45f, 0.85f, 0.5f, 1) : ImVec4(1.0f, 0.8f, 0.4f, 1), "%.2f",
                           e.confidence);
        ImGui::PushStyleColor(ImGuiCol_Text, ImVec4(0.62f, 0.65f, 0.7f, 1));
        ImGui::TextWrapped("%s", e.suggestion_reason.c_str());
        ImGui::PopStyleColor();
        if (ImGui::SmallButton("Accept")) qtable_accept(s, session, int(k));
        ImGui::SameLine();
        if (ImGui::SmallButton("Reject")) {
          e.decision = QtableEntry::Decision::Rejected;
          ++s.revision;
        }
        ImGui::SameLine();
        if (e.suggestion_layer >= 0 && ImGui::SmallButton("Show")) ui.jump(e.suggestion_layer);
        ImGui::Unindent(20 * ui.scale);
      } else if (e.decision == QtableEntry::Decision::Rejected) {
        ImGui::Indent(20 * ui.scale);
        ImGui::TextDisabled("suggestion %s rejected", e.suggestion_name.c_str());
        ImGui::Unindent(20 * ui.scale);
      }
      ImGui::PopID();
    }
  }
  ImGui::EndChild();
}

}  // namespace mixq::studio
