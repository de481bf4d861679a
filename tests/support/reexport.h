// Test support: simulated re-exports of a model. Each keeps the graph (same nodes in the
// same order, graph inputs/outputs keep their names, as torch.onnx.export with
// input_names/output_names does) and renames what a new PyTorch export renames:
//   Renumber  - every digit run in tensor, weight and node names shifted by an offset
//               ("949" -> "1049", "Conv_500" -> "Conv_600");
//   PathStyle - newer exporters' path names: tensor "/model.<i>/<op>/<Op>_output_<k>",
//               node "/model.<i>/<op>/<Op>";
//   NodeNames - only node names change ("Conv_500" -> "node_Conv_7").
// Layer i of the original corresponds to the layer with the same main node index.
#pragma once
#include <cctype>
#include <map>
#include <string>

#include "mixq/model.h"

namespace mixq::test {

enum class Reexport { Renumber, PathStyle, NodeNames };

inline std::string reexport_name(Reexport k) {
  return k == Reexport::Renumber ? "renumbered" : k == Reexport::PathStyle ? "path-style" : "node names";
}

inline std::string shift_digits(const std::string& s, long offset) {
  std::string r;
  for (size_t i = 0; i < s.size();) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) {
      r += s[i++];
      continue;
    }
    size_t b = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    if (i - b > 9)
      r += s.substr(b, i - b);
    else
      r += std::to_string(std::stol(s.substr(b, i - b)) + offset);
  }
  return r;
}

inline std::string lower_ascii(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

inline Model simulate_reexport(const Model& original, Reexport kind, long offset = 100) {
  Model m = original;
  Graph& g = m.graph;
  std::map<std::string, std::string> ren;  // tensor renames
  auto keep = [&](const std::string& t) {
    for (const auto& v : g.inputs)
      if (v.name == t) return true;
    for (const auto& v : g.outputs)
      if (v.name == t) return true;
    return t.empty();
  };
  if (kind == Reexport::Renumber) {
    for (const auto& n : g.nodes)
      for (const auto& o : n.outputs)
        if (!keep(o)) ren[o] = shift_digits(o, offset);
    for (const auto& [w, t] : g.weights)
      if (!keep(w)) ren[w] = shift_digits(w, offset);
  } else if (kind == Reexport::PathStyle) {
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      const Node& n = g.nodes[i];
      for (size_t k = 0; k < n.outputs.size(); ++k)
        if (!keep(n.outputs[k]))
          ren[n.outputs[k]] = "/model." + std::to_string(i) + "/" + lower_ascii(n.op_type) + "/" + n.op_type +
                              "_output_" + std::to_string(k);
    }
    int w = 0;
    for (const auto& [name, t] : g.weights)
      if (!keep(name)) ren[name] = "model.w" + std::to_string(w++) + ".weight";
  }
  auto rn = [&](const std::string& t) {
    auto it = ren.find(t);
    return it == ren.end() ? t : it->second;
  };
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node& n = g.nodes[i];
    for (auto& x : n.inputs) x = rn(x);
    for (auto& x : n.outputs) x = rn(x);
    if (kind == Reexport::Renumber)
      n.name = shift_digits(n.name, offset);
    else if (kind == Reexport::PathStyle)
      n.name = "/model." + std::to_string(i) + "/" + lower_ascii(n.op_type) + "/" + n.op_type;
    else
      n.name = "node_" + n.op_type + "_" + std::to_string(i + 7);
  }
  std::map<std::string, Tensor> weights;
  for (auto& [name, t] : g.weights) weights[rn(name)] = t;
  g.weights = std::move(weights);
  std::map<std::string, std::string> constant_nodes;
  for (auto& [name, node] : g.constant_nodes) constant_nodes[rn(name)] = node;
  g.constant_nodes = std::move(constant_nodes);
  std::map<std::string, ValueInfo> vi;
  for (auto& [name, v] : g.value_info) {
    ValueInfo c = v;
    c.name = rn(name);
    vi[c.name] = c;
  }
  g.value_info = std::move(vi);
  g.index();
  return m;
}

}  // namespace mixq::test
