// The studio's qtable panel: import a qtable (file or paste), show every line with its
// status (ok / unmatched / invalid / ignored) and colour, highlight the layers it touches,
// list suggestions with confidence and reason (accept / reject one, accept all above a
// confidence), jump to layers, the YOLO-heads action, and the corrected export.
//
// Checking itself is the qtable doctor's job (core/mixq/qtable*.h, `mixq qtable check`);
// studio_qtable_backend.cpp is the one adapter between its report and this panel.
// Importing applies every ok line's mode to the session's precision map (one undo step);
// accepting a suggestion applies the line's mode to the suggested layer.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "mixq/studio_session.h"

struct ImFont;

namespace mixq::studio {

struct QtableEntry {
  int line = 0;
  std::string name, mode, status, message;  // status: ok | unmatched | invalid | ignored
  int layer = -1;                           // layer the line names (ok lines)
  bool has_suggestion = false;
  std::string suggestion_name, suggestion_reason;
  double confidence = 0;
  int suggestion_layer = -1;
  enum class Decision { Open, Accepted, Rejected } decision = Decision::Open;
};

struct QtableState {
  std::string source_name;
  std::string text;
  std::string report_json;  // the doctor's report of `text`
  std::vector<QtableEntry> entries;
  std::vector<int> touch;    // per layer: 0 untouched, 1 set by an ok/accepted line, 2 named by a problem line
  std::vector<int> line_of;  // per layer: index into entries, -1
  int revision = 0;
  char paste[16384] = "";
  float min_confidence = 0.8f;
  int status_filter = 0;  // 0 all, 1 problems only
};

// The adapter (studio_qtable_backend.cpp): runs the qtable doctor on `text` for the
// session's model, chip and reference model; `report_json` (optional) receives the
// doctor's own `qtable check --json` report. Throws mixq::Error on unreadable input.
std::vector<QtableEntry> qtable_check_entries(const StudioSession& session, const std::string& text,
                                              const std::string& source_name, std::string* report_json = nullptr);
// Detection-head layers (fp_forward --yolo_heads): the float set for YOLO models.
std::vector<int> qtable_yolo_head_layers(const StudioSession& session);

// Actions. JSON strings are the doctor's `mixq qtable check --json` report: for an import,
// of the text as given; after accepting suggestions, of the text with every accepted line
// renamed to its suggestion (what "Export corrected qtable" would keep).
std::string qtable_import(QtableState& state, StudioSession& session, const std::string& text, const std::string& name);
std::string qtable_apply_suggestions(QtableState& state, StudioSession& session, double min_confidence);
void qtable_accept(QtableState& state, StudioSession& session, int entry);
void qtable_revalidate(QtableState& state, const StudioSession& session);  // after a chip change
std::string qtable_corrected_text(const QtableState& state);               // `text` with accepted lines renamed
std::string qtable_summary_line(const QtableState& state);

// Queries used by the graph and the layer table.
bool qtable_has_report(const QtableState& state);
int qtable_revision(const QtableState& state);
int qtable_touch(const QtableState& state, int layer);
std::string qtable_status_text(const QtableState& state, int layer);

// Widgets.
struct QtableUi {
  std::function<void()> pick_file, pick_reference, save;
  std::function<void(const std::string&)> import_text;
  std::function<void(double)> apply;
  std::function<void(int)> jump;
  std::function<void(const std::string&)> report_error;
  float scale = 1;
  ImFont* mono = nullptr;
};
void qtable_panel(QtableState& state, StudioSession& session, const QtableUi& ui);
void qtable_status_cell(const QtableState& state, int layer);
void qtable_properties(const QtableState& state, int layer);

}  // namespace mixq::studio
