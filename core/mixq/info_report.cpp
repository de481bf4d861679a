#include "mixq/info_report.h"

#include <map>
#include <sstream>

namespace mixq {
namespace {

nlohmann::json shape_json(const ValueState* v) {
  nlohmann::json s = nlohmann::json::array();
  if (v && v->rank_known)
    for (int64_t d : v->shape) s.push_back(d < 0 ? nlohmann::json(nullptr) : nlohmann::json(d));
  return s;
}

}  // namespace

nlohmann::json info_json(const AnalyzedModel& am) {
  using nlohmann::json;
  const Graph& g = am.model.graph;
  json j;
  j["model"] = am.source_name;
  j["producer"] = am.model.producer_name + (am.model.producer_version.empty() ? "" : " " + am.model.producer_version);
  j["ir_version"] = am.model.ir_version;
  j["opset"] = am.model.opset();
  json opsets = json::array();
  for (const auto& o : am.model.opsets) opsets.push_back({{"domain", o.domain}, {"version", o.version}});
  j["opset_imports"] = opsets;
  j["parameters"] = parameter_count(am.model);
  auto io = [&](const std::vector<ValueInfo>& vs) {
    json a = json::array();
    for (const auto& v : vs) {
      const ValueState* st = am.shapes.find(v.name);
      a.push_back({{"name", v.name}, {"shape", shape_json(st)}, {"dtype", dtype_name(st ? st->dtype : v.dtype)}});
    }
    return a;
  };
  j["inputs"] = io(g.inputs);
  j["outputs"] = io(g.outputs);
  std::map<std::string, int> hist;
  for (const auto& n : g.nodes) hist[n.op_type]++;
  j["op_types"] = hist;
  j["onnx_nodes"] = g.nodes.size();
  json layers = json::array();
  for (const auto& l : am.layers.layers) {
    json nodes = json::array();
    for (int nd : l.onnx_nodes) {
      const Node& n = g.nodes[nd];
      nodes.push_back(n.name.empty() ? n.op_type + ":" + (n.outputs.empty() ? "" : n.outputs[0]) : n.name);
    }
    json inputs = json::array();
    for (int p : l.inputs) inputs.push_back(am.layers.layers[p].name);
    json shape = json::array();
    for (int64_t d : l.shape) shape.push_back(d < 0 ? json(nullptr) : json(d));
    layers.push_back({{"name", l.name},
                      {"op_type", l.op_type},
                      {"kind", l.kind},
                      {"onnx_nodes", nodes},
                      {"outputs", l.outputs},
                      {"inputs", inputs},
                      {"shape", shape}});
  }
  j["layers"] = layers;
  json vanished = json::array();
  for (const auto& v : am.layers.vanished)
    vanished.push_back({{"name", v.name},
                        {"layer", v.layer >= 0 ? json(am.layers.layers[v.layer].name) : json(nullptr)},
                        {"reason", v.reason}});
  j["vanished_names"] = vanished;
  j["warnings"] = am.warnings;
  if (!am.layers.mlir_unmatched.empty()) j["mlir_unmatched"] = am.layers.mlir_unmatched;
  return j;
}

std::string info_text(const AnalyzedModel& am, bool all_layers) {
  std::ostringstream os;
  const Graph& g = am.model.graph;
  os << am.source_name << ": " << (am.model.producer_name.empty() ? "unknown producer" : am.model.producer_name)
     << ", opset " << am.model.opset() << ", " << g.nodes.size() << " ONNX nodes, " << am.layers.layers.size()
     << " TPU-MLIR layers, " << parameter_count(am.model) << " parameters\n";
  auto io = [&](const char* title, const std::vector<ValueInfo>& vs) {
    os << title << ":\n";
    for (const auto& v : vs) {
      const ValueState* st = am.shapes.find(v.name);
      os << "  " << v.name << "  " << dtype_name(st ? st->dtype : v.dtype) << " "
         << (st && st->rank_known ? shape_str(st->shape) : std::string("[?]")) << "\n";
    }
  };
  io("inputs", g.inputs);
  io("outputs", g.outputs);
  std::map<std::string, int> hist;
  for (const auto& n : g.nodes) hist[n.op_type]++;
  os << "op types:";
  for (const auto& [op, c] : hist) os << " " << op << "x" << c;
  os << "\n";
  os << "layers (TPU-MLIR names):\n";
  size_t shown = 0;
  for (const auto& l : am.layers.layers) {
    if (!all_layers && shown >= 40 && am.layers.layers.size() > 50) {
      os << "  ... " << (am.layers.layers.size() - shown) << " more (use --all or --json)\n";
      break;
    }
    os << "  " << l.name << "  " << (l.kind != l.op_type ? l.kind + "(" + l.op_type + ")" : l.op_type) << " "
       << shape_str(l.shape)
       << (l.onnx_nodes.size() > 1 ? "  [" + std::to_string(l.onnx_nodes.size()) + " ONNX nodes]" : "") << "\n";
    ++shown;
  }
  for (const auto& w : am.warnings) os << "warning: " << w << "\n";
  return os.str();
}

}  // namespace mixq
