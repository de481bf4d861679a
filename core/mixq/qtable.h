// QTable: TPU-MLIR quantize tables (`model_deploy.py --quantize_table`), read with the
// exact rules of TopToTpuPass.cpp init_qtable (spec/tpu-mlir-compat.md section 2):
//   - a trailing '\r' is removed; whitespace-only lines are skipped;
//   - a line whose FIRST character is '#' is a comment;
//   - "<op_name><blanks><mode>" filling the whole line is an entry (mode upper-cased,
//     one of qtable_modes(), else TPU-MLIR aborts); later lines override earlier ones;
//   - one lone token filling the line is silently ignored;
//   - anything else (3+ tokens, leading/trailing blanks, inline '# ...') aborts.
// Every entry line is classified against a model and a chip:
//   ok        - names a layer of the model with a mode the chip runs;
//   unmatched - well-formed, but names no layer (TPU-MLIR silently ignores it), names a
//               layer the TPU-MLIR simplification removes, or (misnamed) names a
//               different layer than the one it was written for (--reference);
//   invalid   - TPU-MLIR would abort on it, or the chip cannot run its mode;
//   ignored   - TPU-MLIR skips it silently (a lone token, a line overridden later).
// Unmatched/invalid names get ranked suggestions (qtable_repair.h).
// Written qtables use the generator format (header as fp_forward.py), model order.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mixq/analysis.h"
#include "mixq/chip.h"

namespace mixq {

enum class QStatus { Ok, Unmatched, Invalid, Ignored };
const char* qstatus_name(QStatus s);

// [Syntax] One line as TPU-MLIR's reader sees it, before any model is involved.
struct QTableLine {
  enum class Kind { Blank, Comment, Entry, LoneToken, Abort };
  Kind kind = Kind::Blank;
  int line = 0;                     // 1-based
  std::string text;                 // trailing '\r' removed
  std::vector<std::string> tokens;  // whitespace-separated tokens of `text`
  std::string problem;              // Abort: why TPU-MLIR aborts
};
std::vector<QTableLine> parse_qtable_lines(std::string_view text);

struct QSuggestion {
  std::string name;  // a layer name of the model
  int layer = -1;
  double confidence = 0;  // in [0,1]
  std::string reason;
};

struct QTableEntry {
  int line = 0;
  std::string text;
  std::string name;        // op name as written ("" when the line has no tokens)
  std::string mode;        // mode as written
  std::string fixed_mode;  // mode a fix would write for the chip ("" when none can be derived)
  QStatus status = QStatus::Ok;
  std::string message;                   // what TPU-MLIR does with the line and what to do instead
  int layer = -1;                        // layer the name reaches in TPU-MLIR (exact name), -1 if none
  bool misnamed = false;                 // exact match, but not the layer the entry was written for
  std::vector<QSuggestion> suggestions;  // ranked, best first
  std::vector<int> conflicts;            // lines of other entries aimed at the same layer
  bool name_repairable = false;          // the line has a name to map (not a lone token/duplicate)
};

struct QTableReport {
  std::string chip;
  std::string model;
  std::string reference;             // source name of the reference model ("" if none)
  int lines = 0;                     // lines in the file
  std::vector<QTableEntry> entries;  // every non-blank, non-comment line, file order
  int count(QStatus s) const;
  bool all_ok() const { return count(QStatus::Ok) == static_cast<int>(entries.size()); }
};

// Classifies every line of `text` against `model` on `chip`. With `reference` (the model
// the qtable was written for) names are mapped by structural graph alignment.
QTableReport check_qtable(const AnalyzedModel& model, std::string_view text, const ChipProfile& chip,
                          const AnalyzedModel* reference = nullptr);

// JSON of spec/cli.md: {"entries":[{"line","name","mode","status","suggestion"|null,
// "message", ...}], "summary":{...}}. Shared by `mixq qtable check --json` and the studio.
nlohmann::json qtable_report_json(const QTableReport& report);
// Replaces invalid UTF-8 in every string of `j` by U+FFFD (qtable lines and ONNX names are
// arbitrary bytes; nlohmann::json refuses to dump invalid UTF-8).
void make_utf8_safe(nlohmann::json& j);
std::string qtable_report_text(const QTableReport& report, bool verbose);

// Generator-format qtable of (layer, mode) pairs, written in model order, one line per
// layer (a later pair for the same layer wins). `generated_time` is written as given
// ("2024-01-01 12:00:00.000000"); the CLI passes the clock, tests a constant.
struct QTableHeader {
  std::string generated_time;
  std::string chip;
  std::optional<int> sample_number;  // omitted (like fp_forward.py) when empty
};
std::string write_qtable(const LayerGraph& layers, const std::vector<std::pair<int, std::string>>& layer_modes,
                         const QTableHeader& header);

// `mixq qtable fix`: a qtable TPU-MLIR accepts, with every change reported.
struct QTableChange {
  int line = 0;
  std::string action;  // "kept", "renamed", "mode", "repaired", "dropped", "merged"
  std::string before, after;
  std::string reason;
};
struct QTableFix {
  std::string text;
  std::vector<QTableChange> changes;  // one per input entry line (plus mode changes)
  int written = 0;                    // entries in the fixed file
  int dropped = 0;                    // entry lines whose intent was lost
};
QTableFix fix_qtable(const AnalyzedModel& model, const QTableReport& report, const ChipProfile& chip,
                     double min_confidence, const QTableHeader& header);
nlohmann::json qtable_fix_json(const QTableReport& report, const QTableFix& fix);

}  // namespace mixq
