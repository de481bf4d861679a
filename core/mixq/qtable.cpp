// [SECTION] Syntax: TPU-MLIR's line rules
// [SECTION] Modes: validity on the chip and the mode a fix writes
// [SECTION] check_qtable: classification, suggestions, conflicts
// [SECTION] Reports: JSON and text
// [SECTION] Writing and fixing
#include "mixq/qtable.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <sstream>

#include "mixq/qtable_repair.h"

namespace mixq {
namespace {

bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

std::vector<std::string> split_tokens(std::string_view s) {
  std::vector<std::string> r;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && is_blank(s[i])) ++i;
    size_t b = i;
    while (i < s.size() && !is_blank(s[i])) ++i;
    if (i > b) r.emplace_back(s.substr(b, i - b));
  }
  return r;
}

std::string upper(std::string_view s) {
  std::string r(s);
  for (auto& c : r) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return r;
}

std::string quote(const std::string& s) {
  return "'" + s + "'";
}

}  // namespace

const char* qstatus_name(QStatus s) {
  switch (s) {
    case QStatus::Ok:
      return "ok";
    case QStatus::Unmatched:
      return "unmatched";
    case QStatus::Invalid:
      return "invalid";
    case QStatus::Ignored:
      return "ignored";
  }
  return "?";
}

int QTableReport::count(QStatus s) const {
  return static_cast<int>(
      std::count_if(entries.begin(), entries.end(), [&](const QTableEntry& e) { return e.status == s; }));
}

// [SECTION] Syntax ------------------------------------------------------------------------------

std::vector<QTableLine> parse_qtable_lines(std::string_view text) {
  std::vector<QTableLine> out;
  size_t pos = 0;
  int number = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    QTableLine l;
    l.line = ++number;
    l.text = std::string(text.substr(pos, end - pos));
    pos = end + 1;
    if (!l.text.empty() && l.text.back() == '\r') l.text.pop_back();
    l.tokens = split_tokens(l.text);
    bool edge_blank = !l.text.empty() && (is_blank(l.text.front()) || is_blank(l.text.back()));
    if (l.tokens.empty()) {
      l.kind = QTableLine::Kind::Blank;
    } else if (l.text[0] == '#') {
      l.kind = QTableLine::Kind::Comment;
    } else if (l.text.rfind("\xEF\xBB\xBF", 0) == 0) {
      l.kind = QTableLine::Kind::Abort;  // std::regex sees the BOM bytes as part of the first token
      l.problem = "a UTF-8 byte-order mark starts the line (TPU-MLIR does not skip it; save the file without BOM)";
      if (l.tokens.size() == 1 && l.text.size() > 3 && l.text[3] != '#') l.kind = QTableLine::Kind::LoneToken;
      if (l.tokens.size() == 2 && l.text[3] != '#' && !edge_blank) {
        l.kind = QTableLine::Kind::Entry;  // matched as an entry, with the BOM glued to the name
      }
    } else if (edge_blank) {
      l.kind = QTableLine::Kind::Abort;
      l.problem = is_blank(l.text.front()) ? "leading blanks" : "trailing blanks";
      if (l.tokens[0][0] == '#') l.problem = "an indented '#' (only a '#' in the first column starts a comment)";
    } else if (l.tokens.size() == 1) {
      l.kind = QTableLine::Kind::LoneToken;
    } else if (l.tokens.size() == 2) {
      l.kind = QTableLine::Kind::Entry;
    } else {
      l.kind = QTableLine::Kind::Abort;
      bool comment = false;
      for (size_t k = 1; k < l.tokens.size(); ++k) comment |= l.tokens[k][0] == '#';
      l.problem = comment ? "an inline '#' comment" : std::to_string(l.tokens.size()) + " tokens (expected 2)";
    }
    out.push_back(std::move(l));
  }
  return out;
}

// [SECTION] Modes ---------------------------------------------------------------------------------

namespace {

// Common spellings that are not TPU-MLIR modes, mapped to the mode meant.
std::string mode_alias(const std::string& m) {
  static const std::map<std::string, std::string> aliases = {
      {"FP16", "F16"},  {"FLOAT16", "F16"},   {"HALF", "F16"},    {"FP32", "F32"}, {"FLOAT32", "F32"},
      {"FLOAT", "F32"}, {"BFLOAT16", "BF16"}, {"FPBF16", "BF16"}, {"I8", "INT8"},  {"U8", "UINT8"},
      {"FP8", "F8"},    {"I4", "INT4"},       {"AUTO", "AUTO"}};
  auto it = aliases.find(m);
  return it == aliases.end() ? std::string() : it->second;
}

bool is_float_mode(const std::string& m) {
  return m != "INT8" && m != "UINT8" && m != "INT4";
}

struct ModeVerdict {
  bool valid = true;    // TPU-MLIR accepts and the chip runs it as written
  std::string fixed;    // mode to write ("" = none derivable)
  std::string message;  // problem or note
};

ModeVerdict judge_mode(const std::string& written, const ChipProfile& chip, const Layer* layer) {
  ModeVerdict v;
  std::string m = upper(written);
  std::string intended = m;
  if (!is_qtable_mode(m)) {
    v.valid = false;
    intended = mode_alias(m);
    v.message = "TPU-MLIR aborts on the unknown quantize mode " + quote(written) + " (allowed: INT8 F16 BF16 F32 ...)";
    if (intended.empty()) return v;
    v.message += "; write " + normalize_mode(chip, intended) + " instead";
  }
  std::string norm = normalize_mode(chip, intended);
  if (v.valid && norm != m)
    v.message = "runs as " + norm + " on " + chip.name + " (TPU-MLIR converts " + m + " to " + norm + ")";
  if (!chip.supports(norm)) {
    std::string repl = is_float_mode(norm) ? chip.float_type : "INT8";
    if (v.valid) v.message = chip.name + " cannot run " + norm + " (TPU-MLIR fails when lowering); use " + repl;
    v.valid = false;
    norm = repl;
  }
  if (norm == "INT4" && layer && layer->kind != "Conv" && layer->kind != "MatMul" && layer->kind != "Gemm") {
    if (v.valid)
      v.message = "INT4 applies to Conv/MatMul only: TPU-MLIR runs this " + layer->kind + " as INT8; write INT8";
    v.valid = false;
    norm = "INT8";
  }
  v.fixed = norm;
  return v;
}

// A salvaged (name, mode) pair from a line TPU-MLIR aborts on, if one can be read.
bool salvage(const QTableLine& l, std::string& name, std::string& mode) {
  std::string t = l.text;
  size_t hash = std::string::npos;
  for (size_t i = 1; i < t.size(); ++i)
    if (t[i] == '#' && is_blank(t[i - 1])) {
      hash = i;
      break;
    }
  if (hash != std::string::npos) t = t.substr(0, hash);
  auto tok = split_tokens(t);
  if (tok.size() < 2 || tok[0][0] == '#') return false;
  std::string m = upper(tok[1]);
  if (tok.size() > 2 && !is_qtable_mode(m) && mode_alias(m).empty()) return false;
  name = tok[0];
  mode = tok[1];
  return true;
}

}  // namespace

// [SECTION] check_qtable ------------------------------------------------------------------------

QTableReport check_qtable(const AnalyzedModel& model, std::string_view text, const ChipProfile& chip,
                          const AnalyzedModel* reference) {
  const LayerGraph& lg = model.layers;
  QTableReport rep;
  rep.chip = chip.name;
  rep.model = model.source_name;
  rep.reference = reference ? reference->source_name : "";
  auto lines = parse_qtable_lines(text);
  rep.lines = static_cast<int>(lines.size());
  std::vector<std::string> abort_problem;  // per entry
  for (const auto& l : lines) {
    if (l.kind == QTableLine::Kind::Blank || l.kind == QTableLine::Kind::Comment) continue;
    QTableEntry e;
    e.line = l.line;
    e.text = l.text;
    std::string problem;
    if (l.kind == QTableLine::Kind::Entry) {
      e.name = l.tokens[0];
      e.mode = l.tokens[1];
      e.name_repairable = true;
    } else if (l.kind == QTableLine::Kind::LoneToken) {
      e.name = l.tokens[0];
      e.status = QStatus::Ignored;
      e.message = "TPU-MLIR silently ignores a lone token (no quantize mode): write '<op_name> <mode>'";
    } else {
      e.status = QStatus::Invalid;
      problem = "TPU-MLIR aborts with 'Error, quantize file in [" + l.text + "]': " + l.problem;
      if (salvage(l, e.name, e.mode)) {
        e.name_repairable = true;
        problem += "; write it as '" + e.name + " " + upper(e.mode) + "'";
      } else if (!l.tokens.empty()) {
        e.name = l.tokens[0];
        problem +=
            l.tokens.size() == 1 ? "; a lone name has no mode: write '<op_name> <mode>'" : "; cannot read an entry";
      }
    }
    abort_problem.push_back(problem);
    rep.entries.push_back(std::move(e));
  }
  // exact names, later lines override earlier ones (TPU-MLIR fills a map)
  std::map<std::string, size_t> last_of_name;
  for (size_t i = 0; i < rep.entries.size(); ++i)
    if (rep.entries[i].name_repairable) last_of_name[rep.entries[i].name] = i;
  std::vector<RepairEntry> queries;
  std::vector<size_t> query_entry;
  for (size_t i = 0; i < rep.entries.size(); ++i) {
    QTableEntry& e = rep.entries[i];
    if (!e.name_repairable) continue;
    if (e.status != QStatus::Invalid && last_of_name[e.name] != i) {
      const QTableEntry& later = rep.entries[last_of_name[e.name]];
      e.status = QStatus::Ignored;
      e.name_repairable = false;
      e.message = "overridden by line " + std::to_string(later.line) + " for the same name (TPU-MLIR keeps the last)";
      continue;
    }
    e.layer = lg.find(e.name);
    queries.push_back({e.name, e.layer});
    query_entry.push_back(i);
  }
  RepairResult rr = suggest_repairs(model, queries, reference);
  for (size_t q = 0; q < queries.size(); ++q) {
    QTableEntry& e = rep.entries[query_entry[q]];
    e.suggestions = rr.suggestions[q];
    e.misnamed = rr.misnamed[q];
  }
  // conflicts: one layer, several entries. Exact (not misnamed) entries claim first,
  // then suggestions by descending confidence; a loser takes an alternative when one is
  // close, otherwise the conflict is reported.
  std::map<int, std::vector<size_t>> claims;
  for (size_t i = 0; i < rep.entries.size(); ++i) {
    const QTableEntry& e = rep.entries[i];
    if (e.name_repairable && e.layer >= 0 && !e.misnamed) claims[e.layer].push_back(i);
  }
  std::vector<size_t> order;
  for (size_t i = 0; i < rep.entries.size(); ++i) {
    const QTableEntry& e = rep.entries[i];
    if (e.name_repairable && (e.layer < 0 || e.misnamed) && !e.suggestions.empty()) order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return rep.entries[a].suggestions[0].confidence > rep.entries[b].suggestions[0].confidence;
  });
  for (size_t i : order) {
    QTableEntry& e = rep.entries[i];
    int top = e.suggestions[0].layer;
    if (claims.count(top)) {
      for (size_t k = 1; k < e.suggestions.size(); ++k) {
        const QSuggestion& alt = e.suggestions[k];
        if (claims.count(alt.layer) || alt.confidence < 0.5 * e.suggestions[0].confidence) continue;
        std::string taken = e.suggestions[0].name;
        QSuggestion s = alt;
        s.reason +=
            "; " + quote(taken) + " is already taken by line " + std::to_string(rep.entries[claims[top][0]].line);
        e.suggestions.erase(e.suggestions.begin() + static_cast<long>(k));
        e.suggestions.insert(e.suggestions.begin(), s);
        break;
      }
    }
    claims[e.suggestions[0].layer].push_back(i);
  }
  for (auto& [layer, who] : claims) {
    if (who.size() < 2) continue;
    for (size_t a : who)
      for (size_t b : who)
        if (a != b) rep.entries[a].conflicts.push_back(rep.entries[b].line);
  }
  // statuses and messages
  for (size_t i = 0; i < rep.entries.size(); ++i) {
    QTableEntry& e = rep.entries[i];
    if (!e.name_repairable) {
      if (e.status == QStatus::Invalid) e.message = abort_problem[i];
      continue;
    }
    int target = (e.layer >= 0 && !e.misnamed) ? e.layer : (!e.suggestions.empty() ? e.suggestions[0].layer : -1);
    ModeVerdict mv = judge_mode(e.mode, chip, target >= 0 ? &lg.layers[target] : nullptr);
    e.fixed_mode = mv.fixed;
    std::vector<std::string> msgs;
    if (!abort_problem[i].empty()) msgs.push_back(abort_problem[i]);
    if (!mv.valid) e.status = QStatus::Invalid;
    if (!mv.message.empty() && (abort_problem[i].empty() || !mv.valid)) msgs.push_back(mv.message);
    if (e.layer < 0) {
      if (e.status != QStatus::Invalid) e.status = QStatus::Unmatched;
      NameMatch nm = lg.resolve(e.name);
      std::string why = nm.how == NameMatch::How::Vanished ? nm.reason + "; TPU-MLIR silently ignores this line"
                                                           : quote(e.name) + " names no layer of " + model.source_name +
                                                                 ": TPU-MLIR silently ignores this line";
      msgs.push_back(why);
    } else if (e.misnamed) {
      if (e.status != QStatus::Invalid) e.status = QStatus::Unmatched;
      msgs.push_back(quote(e.name) + " exists in " + model.source_name +
                     " but is not the layer this qtable was written for (names were renumbered)");
    }
    if ((e.layer < 0 || e.misnamed) && !e.suggestions.empty()) {
      const QSuggestion& s = e.suggestions[0];
      std::ostringstream os;
      os.precision(2);
      os << "use " << quote(s.name) << " (confidence " << std::fixed << s.confidence << ": " << s.reason << ")";
      msgs.push_back(os.str());
    } else if (e.layer < 0 || e.misnamed) {
      msgs.push_back("no counterpart found; run `mixq info` for the layer names, or pass --reference OLD_MODEL");
    }
    if (e.status == QStatus::Ok && msgs.empty())
      msgs.push_back("TPU-MLIR applies " + (e.fixed_mode.empty() ? upper(e.mode) : e.fixed_mode) + " to layer " +
                     quote(e.name));
    if (!e.conflicts.empty()) {
      std::string c;
      for (int l : e.conflicts) c += (c.empty() ? "" : ", ") + std::to_string(l);
      msgs.push_back("conflict: line(s) " + c + " aim at the same layer");
    }
    std::string m;
    for (const auto& s : msgs) m += (m.empty() ? "" : "; ") + s;
    e.message = m;
  }
  return rep;
}

// [SECTION] Reports ---------------------------------------------------------------------------------

namespace {

std::string utf8_safe(const std::string& s) {
  std::string r;
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    bool ok = len > 0 && i + len <= s.size();
    for (size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(s[i + k]) >> 6) == 0x2;
    if (ok && len == 2) ok = c >= 0xc2;
    if (ok && len == 3) {
      unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
      ok = !(c == 0xe0 && c1 < 0xa0) && !(c == 0xed && c1 >= 0xa0);
    }
    if (ok && len == 4) {
      unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
      ok = c <= 0xf4 && !(c == 0xf0 && c1 < 0x90) && !(c == 0xf4 && c1 >= 0x90);
    }
    if (ok) {
      r.append(s, i, len);
      i += len;
    } else {
      r += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return r;
}

}  // namespace

void make_utf8_safe(nlohmann::json& j) {
  if (j.is_string()) {
    j = utf8_safe(j.get<std::string>());
  } else if (j.is_array()) {
    for (auto& x : j) make_utf8_safe(x);
  } else if (j.is_object()) {
    for (auto& [k, v] : j.items()) make_utf8_safe(v);
  }
}

namespace {
nlohmann::json suggestion_json(const QSuggestion& s) {
  return {{"name", s.name}, {"confidence", s.confidence}, {"reason", s.reason}};
}
}  // namespace

nlohmann::json qtable_report_json(const QTableReport& rep) {
  using nlohmann::json;
  json entries = json::array();
  int suggested = 0, misnamed = 0, conflicts = 0;
  for (const auto& e : rep.entries) {
    json j;
    j["line"] = e.line;
    j["name"] = e.name;
    j["mode"] = e.mode;
    j["status"] = qstatus_name(e.status);
    bool wants = e.name_repairable && (e.layer < 0 || e.misnamed);
    j["suggestion"] = wants && !e.suggestions.empty() ? suggestion_json(e.suggestions[0]) : json(nullptr);
    j["message"] = e.message;
    j["text"] = e.text;
    j["fixed_mode"] = e.fixed_mode.empty() ? json(nullptr) : json(e.fixed_mode);
    j["misnamed"] = e.misnamed;
    json alts = json::array();
    if (wants)
      for (size_t k = 1; k < e.suggestions.size() && k < 5; ++k) alts.push_back(suggestion_json(e.suggestions[k]));
    j["alternatives"] = alts;
    j["conflicts"] = e.conflicts;
    suggested += wants && !e.suggestions.empty();
    misnamed += e.misnamed;
    conflicts += !e.conflicts.empty();
    entries.push_back(j);
  }
  json summary = {{"lines", rep.lines},
                  {"entries", rep.entries.size()},
                  {"ok", rep.count(QStatus::Ok)},
                  {"unmatched", rep.count(QStatus::Unmatched)},
                  {"invalid", rep.count(QStatus::Invalid)},
                  {"ignored", rep.count(QStatus::Ignored)},
                  {"suggested", suggested},
                  {"misnamed", misnamed},
                  {"conflicts", conflicts},
                  {"chip", rep.chip},
                  {"model", rep.model},
                  {"reference", rep.reference.empty() ? json(nullptr) : json(rep.reference)},
                  {"passed", rep.all_ok()}};
  json out = {{"entries", entries}, {"summary", summary}};
  make_utf8_safe(out);
  return out;
}

std::string qtable_report_text(const QTableReport& rep, bool verbose) {
  std::ostringstream os;
  for (const auto& e : rep.entries) {
    if (e.status == QStatus::Ok && !verbose && e.conflicts.empty()) continue;
    os << "line " << e.line << ": " << qstatus_name(e.status) << ": " << (e.name.empty() ? e.text : e.name);
    if (!e.mode.empty()) os << " " << e.mode;
    if (!e.message.empty()) os << "\n    " << e.message;
    os << "\n";
  }
  os << rep.entries.size() << " entries: " << rep.count(QStatus::Ok) << " ok, " << rep.count(QStatus::Unmatched)
     << " unmatched, " << rep.count(QStatus::Invalid) << " invalid, " << rep.count(QStatus::Ignored)
     << " ignored (chip " << rep.chip << ")\n";
  return os.str();
}

// [SECTION] Writing and fixing -------------------------------------------------------------------

std::string write_qtable(const LayerGraph& layers, const std::vector<std::pair<int, std::string>>& layer_modes,
                         const QTableHeader& header) {
  std::map<int, std::string> by_layer;
  for (const auto& [l, m] : layer_modes)
    if (l >= 0 && l < static_cast<int>(layers.layers.size())) by_layer[l] = m;
  std::map<std::string, int> mode_count;
  for (const auto& [l, m] : by_layer) mode_count[m]++;
  std::string mix;
  int best = 0;
  for (const auto& [m, c] : mode_count)
    if (m != "INT8" && m != "UINT8" && m != "INT4" && c > best) {
      best = c;
      mix = m;
    }
  if (mix.empty()) {  // nothing in float: name the chip's float type, as fp_forward.py does
    mix = "F16";
    for (const auto& n : chip_names())
      if (n == header.chip) mix = chip_profile(n).float_type;
  }
  std::ostringstream os;
  os << "# genetated time: " << header.generated_time << "\n";
  if (header.sample_number) os << "# sample number: " << *header.sample_number << "\n";
  os << "# chip: " << header.chip << "  mix_mode: " << mix << "\n";
  os << "# number of " << mix << " layer: " << best << "\n";
  os << "###\n";
  os << "# op_name   quantize_mode\n";
  for (const auto& [l, m] : by_layer) os << layers.layers[l].name << " " << m << "\n";
  return os.str();
}

QTableFix fix_qtable(const AnalyzedModel& model, const QTableReport& rep, const ChipProfile& chip,
                     double min_confidence, const QTableHeader& header) {
  const LayerGraph& lg = model.layers;
  QTableFix fix;
  std::map<int, std::pair<std::string, int>> chosen;  // layer -> (mode, line)
  auto change = [&](const QTableEntry& e, std::string action, std::string after, std::string reason) {
    fix.changes.push_back({e.line, std::move(action), e.text, std::move(after), std::move(reason)});
  };
  // exact matches first, so a suggestion never displaces an entry that already works
  std::vector<const QTableEntry*> order;
  for (const auto& e : rep.entries) order.push_back(&e);
  std::stable_sort(order.begin(), order.end(), [](const QTableEntry* a, const QTableEntry* b) {
    auto rank = [](const QTableEntry* e) { return e->layer >= 0 && !e->misnamed ? 0 : 1; };
    return rank(a) < rank(b);
  });
  for (const QTableEntry* ep : order) {
    const QTableEntry& e = *ep;
    if (!e.name_repairable) {
      change(e, "dropped", "", e.message);
      ++fix.dropped;
      continue;
    }
    int layer = -1;
    std::string how;
    if (e.layer >= 0 && !e.misnamed) {
      layer = e.layer;
    } else if (!e.suggestions.empty() && e.suggestions[0].confidence >= min_confidence) {
      layer = e.suggestions[0].layer;
      std::ostringstream os;
      os.precision(2);
      os << std::fixed << "renamed " << e.name << " -> " << lg.layers[layer].name << " (confidence "
         << e.suggestions[0].confidence << ": " << e.suggestions[0].reason << ")";
      how = os.str();
    } else {
      std::ostringstream os;
      os.precision(2);
      if (e.suggestions.empty())
        os << "no counterpart of " << quote(e.name) << " in " << model.source_name;
      else
        os << std::fixed << "best suggestion " << quote(e.suggestions[0].name) << " has confidence "
           << e.suggestions[0].confidence << " < --min_confidence " << min_confidence;
      change(e, "dropped", "", os.str());
      ++fix.dropped;
      continue;
    }
    if (e.fixed_mode.empty()) {
      change(e, "dropped", "", "mode " + quote(e.mode) + " is no quantize mode and cannot be guessed");
      ++fix.dropped;
      continue;
    }
    ModeVerdict mv = judge_mode(e.fixed_mode, chip, &lg.layers[layer]);
    std::string mode = mv.fixed;
    std::string after = lg.layers[layer].name + " " + mode;
    if (auto it = chosen.find(layer); it != chosen.end()) {
      if (it->second.first == mode) {
        change(e, "merged", after, "same layer and mode as line " + std::to_string(it->second.second));
      } else {
        change(e, "dropped", "",
               "conflict: line " + std::to_string(it->second.second) + " already sets " + lg.layers[layer].name +
                   " to " + it->second.first);
        ++fix.dropped;
      }
      continue;
    }
    chosen[layer] = {mode, e.line};
    std::vector<std::string> why;
    if (!how.empty()) why.push_back(how);
    if (mode != e.mode)
      why.push_back("mode " + e.mode + " -> " + mode + (mv.message.empty() ? "" : " (" + mv.message + ")"));
    if (e.status == QStatus::Invalid && e.text != e.name + " " + e.mode) why.push_back("line rewritten: " + e.message);
    std::string action = !how.empty() ? "renamed" : (mode != e.mode ? "mode" : (e.text != after ? "repaired" : "kept"));
    std::string reason;
    for (const auto& w : why) reason += (reason.empty() ? "" : "; ") + w;
    change(e, action, after, reason);
  }
  std::sort(fix.changes.begin(), fix.changes.end(),
            [](const QTableChange& a, const QTableChange& b) { return a.line < b.line; });
  std::vector<std::pair<int, std::string>> lm;
  for (const auto& [l, mm] : chosen) lm.push_back({l, mm.first});
  fix.written = static_cast<int>(lm.size());
  QTableHeader h = header;
  if (h.chip.empty()) h.chip = chip.name;
  fix.text = write_qtable(lg, lm, h);
  return fix;
}

nlohmann::json qtable_fix_json(const QTableReport& rep, const QTableFix& fix) {
  nlohmann::json j = qtable_report_json(rep);
  nlohmann::json ch = nlohmann::json::array();
  for (const auto& c : fix.changes)
    ch.push_back(
        {{"line", c.line}, {"action", c.action}, {"before", c.before}, {"after", c.after}, {"reason", c.reason}});
  j["changes"] = ch;
  j["fix"] = {{"written", fix.written}, {"dropped", fix.dropped}};
  make_utf8_safe(j);
  return j;
}

}  // namespace mixq
