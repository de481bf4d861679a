// [SECTION] Name helpers and the candidate index
// [SECTION] Structural alignment (reference model)
// [SECTION] Renumbering votes
// [SECTION] Path-style similarity
// [SECTION] Structural position (sequence alignment)
// [SECTION] suggest_repairs: combining the evidence
#include "mixq/qtable_repair.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <sstream>

namespace mixq {
namespace {

// [SECTION] Name helpers ----------------------------------------------------------------------

bool op_like(std::string_view s) {
  if (s.empty() || !std::isupper(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }) &&
         !std::all_of(s.begin() + 1, s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; });
}

// Op type a qtable name claims: the "_<OpType>" suffix, or a node-name form "Conv_12" /
// ".../Conv". "" when the name shows none.
std::string name_op(const std::string& name) {
  size_t u = name.rfind('_');
  if (u != std::string::npos && op_like(std::string_view(name).substr(u + 1))) return name.substr(u + 1);
  size_t slash = name.rfind('/');
  std::string last = slash == std::string::npos ? name : name.substr(slash + 1);
  size_t u2 = last.find('_');
  std::string head = u2 == std::string::npos ? last : last.substr(0, u2);
  if (op_like(head) &&
      (u2 == std::string::npos || std::all_of(last.begin() + static_cast<long>(u2) + 1, last.end(),
                                              [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; })))
    return head;
  return "";
}

struct DigitRun {
  size_t pos, len;
  int64_t value;
};
std::vector<DigitRun> digit_runs(const std::string& s) {
  std::vector<DigitRun> r;
  for (size_t i = 0; i < s.size();) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) {
      ++i;
      continue;
    }
    size_t b = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    if (i - b <= 9)
      r.push_back({b, i - b, std::stoll(s.substr(b, i - b))});
    else
      r.push_back({b, i - b, -1});
  }
  return r;
}
std::string with_run(const std::string& s, const DigitRun& run, const std::string& repl) {
  return s.substr(0, run.pos) + repl + s.substr(run.pos + run.len);
}

enum Family { kLayerName = 0, kTensorName = 1, kNodeName = 2 };
const char* family_word(int f) {
  return f == kLayerName ? "layer" : f == kTensorName ? "tensor" : "node";
}

struct Candidate {
  std::string text;
  int layer;
  int family;
};

std::vector<Candidate> candidates_of(const AnalyzedModel& am) {
  std::vector<Candidate> c;
  const LayerGraph& lg = am.layers;
  for (size_t li = 0; li < lg.layers.size(); ++li) {
    const Layer& l = lg.layers[li];
    int L = static_cast<int>(li);
    c.push_back({l.name, L, kLayerName});
    for (const auto& o : l.outputs) c.push_back({o, L, kTensorName});
    for (int nd : l.onnx_nodes) {
      const Node& n = am.model.graph.nodes[nd];
      if (!n.name.empty()) c.push_back({n.name, L, kNodeName});
      for (const auto& o : n.outputs)
        if (!o.empty() && o != l.outputs.front()) c.push_back({o, L, kTensorName});
    }
  }
  for (const auto& v : lg.vanished)
    if (v.layer >= 0) c.push_back({v.name, v.layer, kLayerName});
  return c;
}

uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  return h * 0x100000001b3ULL;
}
uint64_t hash_str(std::string_view s) {
  uint64_t h = 1469598103934665603ULL;
  for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  return h;
}

}  // namespace

std::string layer_name_op(const Layer& layer) {
  std::string op = name_op(layer.name);
  return op.empty() ? layer.op_type : op;
}

std::vector<std::string> closest_names(const LayerGraph& lg, const std::string& name, size_t k) {
  auto dist = [](const std::string& a, const std::string& b) {
    std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
      cur[0] = i;
      for (size_t j = 1; j <= b.size(); ++j)
        cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      std::swap(prev, cur);
    }
    return prev[b.size()];
  };
  std::vector<std::pair<size_t, std::string>> scored;
  for (const auto& l : lg.layers) {
    size_t d = dist(name, l.name);
    for (const auto& o : l.outputs) d = std::min(d, dist(name, o));
    scored.push_back({d, l.name});
  }
  std::stable_sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> r;
  for (size_t i = 0; i < scored.size() && r.size() < k; ++i) r.push_back(scored[i].second);
  return r;
}

// [SECTION] Structural alignment ------------------------------------------------------------------

namespace {

// Label of each layer before refinement. Without `with_shapes` activation shapes are left
// out, so an export at another input resolution still aligns (weight shapes stay).
std::vector<uint64_t> base_labels(const AnalyzedModel& am, bool with_shapes) {
  std::vector<uint64_t> lab;
  for (const auto& l : am.layers.layers) {
    uint64_t h = hash_str(l.kind);
    h = mix(h, hash_str(l.op_type));
    h = mix(h, hash_str(layer_name_op(l)));
    h = mix(h, l.is_output);
    h = mix(h, l.inputs.size());
    h = mix(h, l.consumers.size());
    if (with_shapes)
      for (int64_t d : l.shape) h = mix(h, static_cast<uint64_t>(d));
    for (const auto& w : l.weights) {
      h = mix(h, 0xabcdef);
      if (const ValueState* v = am.shapes.find(w))
        for (int64_t d : v->shape) h = mix(h, static_cast<uint64_t>(d));
    }
    if (l.main_node >= 0) {
      const Node& n = am.model.graph.nodes[l.main_node];
      for (const auto& [key, a] : n.attrs) {
        if (a.kind == Attribute::Kind::Int)
          h = mix(mix(h, hash_str(key)), static_cast<uint64_t>(a.i));
        else if (a.kind == Attribute::Kind::Ints) {
          h = mix(h, hash_str(key));
          for (int64_t v : a.ints) h = mix(h, static_cast<uint64_t>(v));
        } else if (a.kind == Attribute::Kind::String)
          h = mix(mix(h, hash_str(key)), hash_str(a.s));
        else if (a.kind == Attribute::Kind::Float)
          h = mix(mix(h, hash_str(key)), static_cast<uint64_t>(std::llround(a.f * 1e4)));
      }
    }
    lab.push_back(h);
  }
  return lab;
}

std::vector<uint64_t> refine(const LayerGraph& lg, const std::vector<uint64_t>& lab) {
  std::vector<uint64_t> r(lab.size());
  for (size_t i = 0; i < lab.size(); ++i) {
    const Layer& l = lg.layers[i];
    uint64_t h = mix(lab[i], 0x51);
    for (int p : l.inputs) h = mix(h, lab[p]);  // producers in input order
    std::vector<uint64_t> cs;
    for (int c : l.consumers) cs.push_back(lab[c]);
    std::sort(cs.begin(), cs.end());
    h = mix(h, 0x77);
    for (uint64_t c : cs) h = mix(h, c);
    r[i] = h;
  }
  return r;
}

size_t distinct(const std::vector<uint64_t>& a, const std::vector<uint64_t>& b) {
  std::set<uint64_t> s(a.begin(), a.end());
  s.insert(b.begin(), b.end());
  return s.size();
}

}  // namespace

LayerAlignment align_layers(const AnalyzedModel& ref, const AnalyzedModel& tgt) {
  const size_t nr = ref.layers.layers.size(), nt = tgt.layers.layers.size();
  LayerAlignment al;
  al.target.assign(nr, -1);
  al.confidence.assign(nr, 0.0);
  std::vector<bool> taken(nt, false);
  // One alignment pass over the layers still unpaired; `scale` lowers the confidence of
  // the coarser (shape-free) pass.
  auto pass = [&](bool with_shapes, double scale) {
    std::vector<std::vector<uint64_t>> lr{base_labels(ref, with_shapes)}, lt{base_labels(tgt, with_shapes)};
    size_t classes = distinct(lr[0], lt[0]);
    for (int round = 0; round < 256; ++round) {
      auto a = refine(ref.layers, lr.back()), b = refine(tgt.layers, lt.back());
      size_t c = distinct(a, b);
      lr.push_back(std::move(a));
      lt.push_back(std::move(b));
      if (c <= classes) break;
      classes = c;
    }
    const int levels = static_cast<int>(lr.size());
    // seed and extend: an unpaired layer whose paired neighbours point at exactly one
    // unpaired layer with the same base label takes it (survives local differences)
    auto extend = [&](double conf) {
      const auto &br = lr[0], &bt = lt[0];
      for (bool changed = true; changed;) {
        changed = false;
        for (size_t r = 0; r < nr; ++r) {
          if (al.target[r] >= 0) continue;
          const Layer& R = ref.layers.layers[r];
          std::set<int> from_inputs, from_consumers;
          bool have_inputs = false, have_consumers = false;
          auto narrow = [&](std::set<int>& acc, bool& have, const std::vector<int>& options) {
            std::set<int> next;
            for (int t : options)
              if (!taken[t] && bt[t] == br[r] && (!have || acc.count(t))) next.insert(t);
            acc = std::move(next);
            have = true;
          };
          for (int p : R.inputs)
            if (al.target[p] >= 0) narrow(from_inputs, have_inputs, tgt.layers.layers[al.target[p]].consumers);
          for (int c : R.consumers)
            if (al.target[c] >= 0) narrow(from_consumers, have_consumers, tgt.layers.layers[al.target[c]].inputs);
          std::set<int> cand;
          if (have_inputs && have_consumers) {
            for (int t : from_inputs)
              if (from_consumers.count(t)) cand.insert(t);
          } else {
            cand = have_inputs ? from_inputs : from_consumers;
          }
          if (cand.size() != 1) continue;
          int t = *cand.begin();
          al.target[r] = t;
          taken[t] = true;
          al.confidence[r] = scale * conf;
          changed = true;
        }
      }
    };
    for (int k = levels - 1; k >= 0; --k) {
      if (k < levels - 1) extend(0.85);
      std::map<uint64_t, std::pair<std::vector<int>, std::vector<int>>> cls;
      for (size_t i = 0; i < nr; ++i)
        if (al.target[i] < 0) cls[lr[k][i]].first.push_back(static_cast<int>(i));
      for (size_t j = 0; j < nt; ++j)
        if (!taken[j]) cls[lt[k][j]].second.push_back(static_cast<int>(j));
      double depth = levels > 1 ? static_cast<double>(k) / (levels - 1) : 1.0;
      for (auto& [label, rt] : cls) {
        auto& [rs, ts] = rt;
        if (rs.empty() || ts.empty()) continue;
        if (rs.size() == ts.size()) {
          for (size_t q = 0; q < rs.size(); ++q) {
            al.target[rs[q]] = ts[q];
            taken[ts[q]] = true;
            al.confidence[rs[q]] = scale * (k == levels - 1 ? (rs.size() == 1 ? 1.0 : 0.9) : 0.5 + 0.35 * depth);
          }
        } else if (k < levels - 1 && !(with_shapes && k == 0)) {
          // unequal counts: pair by nearest relative position
          for (int r : rs) {
            double pr = nr > 1 ? static_cast<double>(r) / (nr - 1) : 0;
            int best = -1;
            double bd = 2;
            for (int t : ts) {
              if (taken[t]) continue;
              double d = std::fabs((nt > 1 ? static_cast<double>(t) / (nt - 1) : 0) - pr);
              if (d < bd) {
                bd = d;
                best = t;
              }
            }
            if (best < 0) continue;
            al.target[r] = best;
            taken[best] = true;
            al.confidence[r] = scale * std::max(0.2, 0.3 + 0.3 * depth - bd);
          }
        }
      }
    }
  };
  pass(true, 1.0);
  // layers left over (e.g. an export at another input resolution): align them again
  // without activation shapes
  if (std::find(al.target.begin(), al.target.end(), -1) != al.target.end()) pass(false, 0.95);
  return al;
}

// [SECTION] suggest_repairs ---------------------------------------------------------------------

namespace {

struct Evidence {
  std::map<int, std::vector<std::pair<double, std::string>>> by_layer;  // layer -> (conf, reason)
  void add(int layer, double conf, std::string reason) {
    if (layer >= 0) by_layer[layer].push_back({std::clamp(conf, 0.0, 1.0), std::move(reason)});
  }
};

std::vector<std::string> path_tokens(const std::string& s) {
  std::vector<std::string> t;
  std::string cur;
  for (char c : s) {
    if (c == '/' || c == '.' || c == '_' || c == ':') {
      if (!cur.empty()) t.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) t.push_back(cur);
  return t;
}

}  // namespace

RepairResult suggest_repairs(const AnalyzedModel& model, const std::vector<RepairEntry>& entries,
                             const AnalyzedModel* reference) {
  const LayerGraph& lg = model.layers;
  const size_t n = entries.size();
  std::vector<Evidence> ev(n);
  RepairResult rr;
  rr.misnamed.assign(n, false);
  std::vector<bool> ref_decided(n, false);

  // 1. reference alignment
  if (reference) {
    LayerAlignment al = align_layers(*reference, model);
    for (size_t i = 0; i < n; ++i) {
      NameMatch m = reference->layers.resolve(entries[i].name);
      if (m.how == NameMatch::How::None || m.layer < 0) continue;
      int t = al.target[m.layer];
      if (t < 0) continue;
      ref_decided[i] = true;
      const std::string& rname = reference->layers.layers[m.layer].name;
      std::string why = "structural match of " + reference->source_name + "'s layer '" + rname + "'";
      if (m.how != NameMatch::How::Layer) why += " (the qtable's name resolves there: " + m.reason + ")";
      double conf = al.confidence[m.layer];
      if (m.how == NameMatch::How::Vanished || m.how == NameMatch::How::NodeName || m.how == NameMatch::How::TensorName)
        conf *= 0.98;
      if (entries[i].exact_layer >= 0 && entries[i].exact_layer != t && conf >= 0.8) rr.misnamed[i] = true;
      ev[i].add(t, conf, why);
    }
  }
  // 2. what the model itself resolves
  std::vector<int> resolved_layer(n, -1);
  for (size_t i = 0; i < n; ++i) {
    const std::string& nm = entries[i].name;
    if (entries[i].exact_layer >= 0) continue;
    if (nm.rfind("\xEF\xBB\xBF", 0) == 0) {  // a byte-order mark glued to the first name of the file
      NameMatch b = lg.resolve(nm.substr(3));
      if (b.how != NameMatch::How::None && b.layer >= 0) {
        ev[i].add(
            b.layer, 0.97,
            "the name starts with a UTF-8 byte-order mark; without it, it names '" + lg.layers[b.layer].name + "'");
        resolved_layer[i] = b.layer;
        continue;
      }
    }
    NameMatch m = lg.resolve(nm);
    if (m.how != NameMatch::How::None && m.layer >= 0) {
      double conf = m.how == NameMatch::How::TensorName ? 0.9 : 0.95;
      ev[i].add(m.layer, conf, m.reason);
      resolved_layer[i] = m.layer;
      continue;
    }
    // wrong op-type suffix: "<tensor>_<Op>" whose tensor exists
    size_t u = nm.rfind('_');
    if (u != std::string::npos && u > 0 && op_like(std::string_view(nm).substr(u + 1))) {
      NameMatch b = lg.resolve(nm.substr(0, u));
      if (b.how == NameMatch::How::TensorName && b.layer >= 0)
        ev[i].add(b.layer, 0.5,
                  "'" + nm.substr(0, u) + "' is produced by layer '" + lg.layers[b.layer].name +
                      "': the suffix must be the ONNX op type (" + layer_name_op(lg.layers[b.layer]) + ")");
    }
  }
  // 3. renumbering votes
  std::vector<Candidate> cands = candidates_of(model);
  // run index kAllRuns: every digit run shifted by the same offset
  constexpr size_t kAllRuns = 1000;
  auto all_runs_template = [](const std::string& s, const std::vector<DigitRun>& runs) {
    std::string t = s;
    for (size_t k = runs.size(); k-- > 0;) t = with_run(t, runs[k], "\x01");
    return t;
  };
  auto common_offset = [](const std::vector<DigitRun>& a, const std::vector<DigitRun>& b, int64_t& d) {
    if (a.size() != b.size() || a.size() < 2) return false;
    for (size_t k = 0; k < a.size(); ++k) {
      if (a[k].value < 0 || b[k].value < 0) return false;
      if (k == 0)
        d = b[0].value - a[0].value;
      else if (b[k].value - a[k].value != d)
        return false;
    }
    return true;
  };
  std::map<std::string, std::vector<size_t>> all_tmpl;                  // "<f>\x02template" -> cands
  std::map<std::string, std::vector<std::pair<int64_t, size_t>>> tmpl;  // "<f>\x02template" -> (value, cand)
  for (size_t c = 0; c < cands.size(); ++c) {
    auto runs = digit_runs(cands[c].text);
    if (runs.size() >= 2)
      all_tmpl[std::to_string(cands[c].family) + "\x02" + all_runs_template(cands[c].text, runs)].push_back(c);
    for (size_t r = 0; r < runs.size(); ++r) {
      if (runs[r].value < 0) continue;
      tmpl[std::to_string(cands[c].family) + "\x02" + std::to_string(r) + "\x02" +
           with_run(cands[c].text, runs[r], "\x01")]
          .push_back({runs[r].value, c});
    }
  }
  // Enumerates (family, run, offset, candidate) for entry i; run kAllRuns = all runs alike.
  // Two passes (votes, then evidence) so nothing of size entries x candidates is stored.
  struct Shift {
    size_t entry;
    int family;
    size_t run;
    int64_t offset;
    int layer;
    size_t cand;
  };
  auto for_each_shift = [&](size_t i, const std::function<void(const Shift&)>& fn) {
    auto runs = digit_runs(entries[i].name);
    for (size_t r = 0; r < runs.size(); ++r) {
      if (runs[r].value < 0) continue;
      for (int f = 0; f < 3; ++f) {
        auto it = tmpl.find(std::to_string(f) + "\x02" + std::to_string(r) + "\x02" +
                            with_run(entries[i].name, runs[r], "\x01"));
        if (it == tmpl.end()) continue;
        for (const auto& [value, c] : it->second) fn({i, f, r, value - runs[r].value, cands[c].layer, c});
      }
    }
    if (runs.size() < 2) return;
    for (int f = 0; f < 3; ++f) {
      auto it = all_tmpl.find(std::to_string(f) + "\x02" + all_runs_template(entries[i].name, runs));
      if (it == all_tmpl.end()) continue;
      for (size_t c : it->second) {
        int64_t d = 0;
        if (common_offset(runs, digit_runs(cands[c].text), d)) fn({i, f, kAllRuns, d, cands[c].layer, c});
      }
    }
  };
  std::map<std::tuple<int, size_t, int64_t>, int> votes;
  std::map<std::pair<int, size_t>, int> voters;
  for (size_t i = 0; i < n; ++i) {
    // graph input/output names are fixed by the exporter (input_names/output_names), they
    // say nothing about how the rest was renumbered
    int x = entries[i].exact_layer;
    if (x >= 0 && (lg.layers[x].is_output || lg.layers[x].is_input())) continue;
    std::set<std::tuple<int, size_t, int64_t>> mine;
    std::set<std::pair<int, size_t>> voted;
    for_each_shift(i, [&](const Shift& s) {
      mine.insert({s.family, s.run, s.offset});
      voted.insert({s.family, s.run});
    });
    for (const auto& k : mine) votes[k]++;
    for (const auto& k : voted) voters[k]++;
  }
  // how many offsets share the best vote count of their group (ambiguity)
  std::map<std::pair<int, size_t>, std::pair<int, int>> best_votes;  // group -> (max votes, #offsets with it)
  for (const auto& [k, v] : votes) {
    if (std::get<2>(k) == 0) continue;
    auto& b = best_votes[{std::get<0>(k), std::get<1>(k)}];
    if (v > b.first)
      b = {v, 1};
    else if (v == b.first)
      b.second++;
  }
  std::vector<bool> weaken(n, false);
  auto evaluate = [&](const Shift& s) {
    if (s.offset == 0) return;
    int v = votes[{s.family, s.run, s.offset}];
    int total = voters[{s.family, s.run}];
    int zero = votes[{s.family, s.run, 0}];
    double support = total > 0 ? static_cast<double>(v) / total : 0;
    if (v < 2 || support < 0.3 || zero >= v) return;
    const RepairEntry& e = entries[s.entry];
    // strong: the file as a whole fits the shift far better than its names as written
    bool strong = v >= 3 && ((support >= 0.6 && zero < 0.3 * total) || (support >= 0.9 && v >= 1.5 * zero));
    if (resolved_layer[s.entry] >= 0 && !strong) return;
    if (resolved_layer[s.entry] >= 0 && resolved_layer[s.entry] != s.layer) weaken[s.entry] = true;
    const auto& bv = best_votes[{s.family, s.run}];
    double ambiguity = v == bv.first ? static_cast<double>(bv.second) : 1.0;
    std::string eop = name_op(e.name);
    if (s.family != kTensorName && !eop.empty() && eop != layer_name_op(lg.layers[s.layer]) &&
        eop != lg.layers[s.layer].op_type && eop != lg.layers[s.layer].kind) {
      // a node name "Conv_12" may belong to a fused layer named after its Relu: still fine
      if (s.family == kLayerName) return;
    }
    double conf = (0.35 + 0.6 * support * (1.0 - 1.0 / v)) / ambiguity;
    std::string reason = "consistent renumbering: " + std::to_string(v) + " of " + std::to_string(total) +
                         " entries fit a shift of " + (s.offset > 0 ? "+" : "") + std::to_string(s.offset) +
                         " in their " + family_word(s.family) + " names ('" + cands[s.cand].text + "' exists)";
    if (e.exact_layer >= 0) {
      if (!reference && strong && s.layer != e.exact_layer) {
        rr.misnamed[s.entry] = true;
        ev[s.entry].add(s.layer, conf, reason);
      }
      return;
    }
    ev[s.entry].add(s.layer, conf, reason);
  };
  for (size_t i = 0; i < n; ++i) for_each_shift(i, evaluate);
  // a name that resolves only by coincidence in a consistently renumbered file
  for (size_t i = 0; i < n; ++i) {
    if (!weaken[i]) continue;
    for (auto& [c, r] : ev[i].by_layer[resolved_layer[i]]) {
      c *= 0.5;
      r += " (but the file is consistently renumbered, so this is likely a coincidence)";
    }
  }
  // 4. path-style similarity
  for (size_t i = 0; i < n; ++i) {
    if (entries[i].exact_layer >= 0 || entries[i].name.find('/') == std::string::npos) continue;
    auto et = path_tokens(entries[i].name);
    std::string eop = name_op(entries[i].name);
    size_t best = 0;
    std::vector<int> best_layers;
    for (const auto& c : cands) {
      if (c.family == kTensorName) continue;
      if (!eop.empty() && name_op(c.text) != eop) continue;
      auto ct = path_tokens(c.text);
      size_t tail = 0;
      while (tail < et.size() && tail < ct.size() && et[et.size() - 1 - tail] == ct[ct.size() - 1 - tail]) ++tail;
      if (tail > best) {
        best = tail;
        best_layers = {c.layer};
      } else if (tail == best && std::find(best_layers.begin(), best_layers.end(), c.layer) == best_layers.end())
        best_layers.push_back(c.layer);
    }
    // the generic tail ("Conv_output_0_Conv") says nothing: require more than 4 tokens
    if (best <= 4 || best_layers.empty()) continue;
    double frac = static_cast<double>(best) / static_cast<double>(et.size());
    double conf = (0.3 + 0.55 * frac) / static_cast<double>(best_layers.size());
    for (int l : best_layers)
      ev[i].add(l, conf,
                "path-style name: the last " + std::to_string(best) + " of " + std::to_string(et.size()) +
                    " path tokens agree with '" + lg.layers[l].name + "'");
  }
  // 5. structural position: align the file's op-type sequence with the model's layers
  {
    std::vector<int> anchor(n, -1);
    std::vector<std::string> etype(n);
    for (size_t i = 0; i < n; ++i) {
      etype[i] = name_op(entries[i].name);
      if (entries[i].exact_layer >= 0 && !rr.misnamed[i]) anchor[i] = entries[i].exact_layer;
      for (const auto& [l, list] : ev[i].by_layer)
        for (const auto& [c, r] : list)
          if (c >= 0.8 && anchor[i] < 0) anchor[i] = l;
    }
    std::vector<int> seq;
    for (size_t li = 0; li < lg.layers.size(); ++li)
      if (!lg.layers[li].is_input()) seq.push_back(static_cast<int>(li));
    const size_t T = seq.size();
    if (n > 0 && T > 0 && n * T <= 4'000'000) {
      const float NEG = -1e9f, gap_t = 0.1f, gap_e = 1.0f;
      std::vector<float> dp((n + 1) * (T + 1), NEG);
      std::vector<uint8_t> bp((n + 1) * (T + 1), 0);  // 1 skip layer, 2 skip entry, 3 match
      auto at = [&](size_t i, size_t j) -> size_t { return i * (T + 1) + j; };
      dp[at(0, 0)] = 0;
      for (size_t i = 0; i <= n; ++i)
        for (size_t j = 0; j <= T; ++j) {
          float cur = dp[at(i, j)];
          if (cur <= NEG / 2) continue;
          if (j < T) {
            float v = cur - (i == 0 ? 0.0f : gap_t);
            if (v > dp[at(i, j + 1)]) {
              dp[at(i, j + 1)] = v;
              bp[at(i, j + 1)] = 1;
            }
          }
          if (i < n) {
            float v = cur - (anchor[i] >= 0 ? 10.0f : gap_e);
            if (v > dp[at(i + 1, j)]) {
              dp[at(i + 1, j)] = v;
              bp[at(i + 1, j)] = 2;
            }
          }
          if (i < n && j < T) {
            const Layer& L = lg.layers[seq[j]];
            float s = NEG;
            if (anchor[i] >= 0)
              s = anchor[i] == seq[j] ? 10.0f : NEG;
            else if (etype[i].empty())
              s = 0.5f;
            else if (etype[i] == layer_name_op(L))
              s = 2.0f;
            else if (etype[i] == L.op_type || etype[i] == L.kind)
              s = 1.5f;  // node-name forms ("Conv_12" of a fused Conv)
            if (s > NEG / 2 && cur + s > dp[at(i + 1, j + 1)]) {
              dp[at(i + 1, j + 1)] = cur + s;
              bp[at(i + 1, j + 1)] = 3;
            }
          }
        }
      std::vector<int> match(n, -1);
      size_t i = n, j = T;
      while (i > 0 || j > 0) {
        uint8_t b = bp[at(i, j)];
        if (b == 3) {
          match[i - 1] = static_cast<int>(j - 1);
          --i;
          --j;
        } else if (b == 2)
          --i;
        else if (b == 1)
          --j;
        else
          break;
      }
      for (size_t k = 0; k < n; ++k) {
        if (match[k] < 0 || anchor[k] >= 0 || rr.misnamed[k]) continue;
        bool prev_ok = k > 0 && match[k - 1] >= 0 && match[k - 1] == match[k] - 1;
        bool next_ok = k + 1 < n && match[k + 1] >= 0 && match[k + 1] == match[k] + 1;
        int layer = seq[match[k]];
        // contiguous with a known (anchored) entry: the run of the file follows the model exactly
        bool linked = false;
        for (size_t q = k; q > 0 && !linked && match[q - 1] >= 0 && match[q - 1] == match[q] - 1; --q)
          linked = anchor[q - 1] >= 0;
        for (size_t q = k; q + 1 < n && !linked && match[q + 1] >= 0 && match[q + 1] == match[q] + 1; ++q)
          linked = anchor[q + 1] >= 0;
        double conf = etype[k].empty() ? 0.2
                      : linked         ? 0.6
                                       : (prev_ok && next_ok ? 0.45 : (prev_ok || next_ok ? 0.35 : 0.25));
        int from_end = 0;
        for (size_t q = static_cast<size_t>(match[k]) + 1; q < T; ++q)
          from_end += layer_name_op(lg.layers[seq[q]]) == layer_name_op(lg.layers[layer]);
        ev[k].add(layer, conf,
                  "structural position: the " + std::to_string(from_end + 1) + "-th " +
                      layer_name_op(lg.layers[layer]) + " from the outputs, in line with its neighbours in the file");
      }
    }
  }
  // combine: independent evidence on the same layer raises the confidence
  rr.suggestions.resize(n);
  for (size_t i = 0; i < n; ++i) {
    for (auto& [layer, list] : ev[i].by_layer) {
      std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
      double miss = 1.0;
      std::string reason;
      for (const auto& [c, r] : list) {
        miss *= 1.0 - c;
        if (reason.empty())
          reason = r;
        else if (reason.find(r.substr(0, 20)) == std::string::npos)
          reason += "; also " + r;
      }
      double conf = list[0].first >= 1.0 ? 1.0 : std::min(0.99, 1.0 - miss);
      if (list.size() > 1 && conf > list[0].first) conf = std::max(list[0].first, std::min(conf, 0.99));
      rr.suggestions[i].push_back({lg.layers[layer].name, layer, std::round(conf * 1000) / 1000, reason});
    }
    std::stable_sort(rr.suggestions[i].begin(), rr.suggestions[i].end(),
                     [](const QSuggestion& a, const QSuggestion& b) { return a.confidence > b.confidence; });
    if (rr.suggestions[i].size() > 6) rr.suggestions[i].resize(6);
    if (rr.misnamed[i] && (rr.suggestions[i].empty() || rr.suggestions[i][0].layer == entries[i].exact_layer))
      rr.misnamed[i] = false;
  }
  return rr;
}

}  // namespace mixq
