#include "mixq/fp_forward.h"

#include <algorithm>
#include <set>

#include "mixq/error.h"
#include "mixq/qtable_repair.h"

namespace mixq {
namespace {

int resolve_or_throw(const LayerGraph& lg, const std::string& name, const char* flag, std::vector<std::string>& notes) {
  NameMatch m = lg.resolve(name);
  if (m.how != NameMatch::How::None && m.layer >= 0) {
    if (m.how != NameMatch::How::Layer) notes.push_back(m.reason);
    return m.layer;
  }
  std::string close;
  for (const auto& c : closest_names(lg, name, 5)) close += (close.empty() ? "" : ", ") + c;
  throw Error(std::string(flag) + ": '" + name +
              "' names no layer, tensor or node of the model (closest layer names: " + close + ")");
}

bool is_conv(const Layer& l) {
  return l.kind == "Conv";
}

}  // namespace

std::vector<std::string> split_names(const std::string& text) {
  std::vector<std::string> r;
  std::string cur;
  for (char c : text) {
    if (c == ',' || c == ' ' || c == '\t') {
      if (!cur.empty()) r.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) r.push_back(cur);
  return r;
}

std::vector<FpForwardBlock> parse_fpfwd_blocks(const std::string& text) {
  std::vector<FpForwardBlock> r;
  std::string cur;
  auto flush = [&] {
    if (cur.empty()) return;
    size_t colon = cur.find(':');
    require(colon != std::string::npos && cur.find(':', colon + 1) == std::string::npos,
            "--fpfwd_blocks: '" + cur + "' is not 'start1,start2:end1,end2'");
    FpForwardBlock b{split_names(cur.substr(0, colon)), split_names(cur.substr(colon + 1))};
    require(!b.starts.empty() && !b.ends.empty(), "--fpfwd_blocks: '" + cur + "' needs start and end names");
    r.push_back(std::move(b));
    cur.clear();
  };
  for (char c : text) {
    if (c == ';' || c == ' ')
      flush();
    else
      cur += c;
  }
  flush();
  return r;
}

namespace {
// Every layer reachable from `from` (included) along consumer or producer edges.
std::vector<bool> closure(const LayerGraph& lg, const std::vector<int>& from, std::vector<int> Layer::*edges) {
  std::vector<bool> seen(lg.layers.size(), false);
  std::vector<int> stack(from.begin(), from.end());
  while (!stack.empty()) {
    int l = stack.back();
    stack.pop_back();
    if (seen[l]) continue;
    seen[l] = true;
    for (int next : lg.layers[l].*edges) stack.push_back(next);
  }
  return seen;
}
}  // namespace

std::vector<bool> descendants(const LayerGraph& lg, const std::vector<int>& from) {
  return closure(lg, from, &Layer::consumers);
}

std::vector<bool> ancestors(const LayerGraph& lg, const std::vector<int>& from) {
  return closure(lg, from, &Layer::inputs);
}

std::vector<int> yolo_head_convs(const LayerGraph& lg) {
  // walk back from the graph outputs through non-Conv layers; each Conv reached is a head
  std::set<int> heads;
  std::vector<bool> seen(lg.layers.size(), false);
  std::vector<int> stack;
  for (size_t l = 0; l < lg.layers.size(); ++l)
    if (lg.layers[l].is_output) stack.push_back(static_cast<int>(l));
  while (!stack.empty()) {
    int l = stack.back();
    stack.pop_back();
    if (seen[l]) continue;
    seen[l] = true;
    if (is_conv(lg.layers[l])) {
      heads.insert(l);
      continue;
    }
    for (int p : lg.layers[l].inputs) stack.push_back(p);
  }
  return {heads.begin(), heads.end()};
}

FpForwardResult fp_forward(const LayerGraph& lg, const FpForwardOptions& o) {
  FpForwardResult r;
  std::vector<bool> fl(lg.layers.size(), false);
  auto add = [&](const std::vector<bool>& s) {
    for (size_t i = 0; i < s.size(); ++i) fl[i] = fl[i] || s[i];
  };
  auto resolve_all = [&](const std::vector<std::string>& names, const char* flag) {
    std::vector<int> ls;
    for (const auto& n : names) ls.push_back(resolve_or_throw(lg, n, flag, r.notes));
    return ls;
  };
  if (!o.outputs.empty()) add(descendants(lg, resolve_all(o.outputs, "--fpfwd_outputs")));
  if (!o.inputs.empty()) add(ancestors(lg, resolve_all(o.inputs, "--fpfwd_inputs")));
  for (const auto& b : o.blocks) {
    auto d = descendants(lg, resolve_all(b.starts, "--fpfwd_blocks"));
    auto a = ancestors(lg, resolve_all(b.ends, "--fpfwd_blocks"));
    std::vector<bool> both(d.size());
    for (size_t i = 0; i < d.size(); ++i) both[i] = d[i] && a[i];
    add(both);
  }
  if (o.yolo_heads) {
    r.head_convs = yolo_head_convs(lg);
    add(descendants(lg, r.head_convs));
  }
  if (o.first_convs > 0) {
    int k = 0;
    for (size_t l = 0; l < lg.layers.size() && k < o.first_convs; ++l)
      if (is_conv(lg.layers[l])) {
        fl[l] = true;
        ++k;
      }
  }
  for (size_t l = 0; l < fl.size(); ++l)
    if (fl[l] && !lg.layers[l].is_input()) r.layers.push_back(static_cast<int>(l));
  return r;
}

}  // namespace mixq
