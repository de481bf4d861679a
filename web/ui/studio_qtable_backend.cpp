// Adapter between the qtable doctor (core/mixq/qtable.h: check_qtable with TPU-MLIR's exact
// rules and ranked suggestions; fp_forward.h: yolo_head_convs) and the studio's qtable
// panel. Statuses, messages and suggestions are the doctor's own, so the panel shows what
// `mixq qtable check` prints.
#include "mixq/error.h"
#include "mixq/fp_forward.h"
#include "mixq/qtable.h"
#include "studio_qtable.h"

namespace mixq::studio {

std::vector<QtableEntry> qtable_check_entries(const StudioSession& session, const std::string& text,
                                              const std::string& source_name, std::string* report_json) {
  require(session.has_model(), source_name + ": open a model before importing a qtable");
  require(text.find('\0') == std::string::npos,
          source_name + ": this is a binary file, not a qtable (expected lines \"<op_name> <mode>\")");
  const QTableReport report = check_qtable(session.model(), text, session.chip_profile(), session.reference());
  if (report_json) *report_json = qtable_report_json(report).dump();
  std::vector<QtableEntry> out;
  for (const auto& e : report.entries) {
    QtableEntry q;
    q.line = e.line;
    q.name = e.name;
    q.mode = e.fixed_mode.empty() ? e.mode : e.fixed_mode;
    q.status = qstatus_name(e.status);
    q.message = e.message;
    q.layer = e.status == QStatus::Ok ? e.layer : -1;
    if (!e.suggestions.empty() && e.status != QStatus::Ok) {
      const QSuggestion& best = e.suggestions.front();
      q.has_suggestion = true;
      q.suggestion_name = best.name;
      q.suggestion_reason = best.reason;
      q.confidence = best.confidence;
      q.suggestion_layer = best.layer >= 0 ? best.layer : session.layers().find(best.name);
      // A suggestion needs a mode the chip runs to be applied.
      if (q.mode.empty() || !session.chip_profile().supports(q.mode)) q.suggestion_layer = -1;
    }
    out.push_back(std::move(q));
  }
  return out;
}

std::vector<int> qtable_yolo_head_layers(const StudioSession& session) {
  return yolo_head_convs(session.layers());
}

}  // namespace mixq::studio
