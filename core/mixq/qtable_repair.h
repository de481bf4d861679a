// Suggestions for qtable names that match no layer (or the wrong one), with a
// confidence in [0,1] and a human-readable reason. Evidence, strongest first:
//   1. with the reference model (the one the qtable was written for): the two layer
//      graphs are aligned structurally (op kinds, weight shapes, attributes, output
//      shapes, topology; Weisfeiler-Lehman refinement, ties broken by model order), and
//      the name is resolved in the reference and carried over;
//   2. name forms the model itself resolves (LayerGraph::resolve: ONNX node names,
//      bare tensor names, names removed by TPU-MLIR's simplification);
//   3. a renumbering consistent over the whole file: per digit position, offsets voted
//      by every entry whose shifted name exists with the same form and op type;
//   4. path-style names: longest common tail of path tokens with the same op type;
//   5. structural position: the entries' op-type sequence (file order) aligned to the
//      model's layer sequence, anchored on the entries already known, compact and as
//      close to the outputs as possible (a qtable is usually a tail of the model).
// Several agreeing heuristics raise the confidence. Conflicts (two entries on one
// layer) are resolved by the caller (check_qtable), never silently.
#pragma once
#include <string>
#include <vector>

#include "mixq/analysis.h"
#include "mixq/qtable.h"

namespace mixq {

struct RepairEntry {
  std::string name;
  int exact_layer = -1;  // layer the name reaches exactly in the model (-1: none)
};

struct RepairResult {
  std::vector<std::vector<QSuggestion>> suggestions;  // per entry, ranked
  std::vector<bool> misnamed;                         // exact match that evidence says is the wrong layer
  std::vector<std::string> notes;                     // file-level findings ("every number shifted by +100")
};

RepairResult suggest_repairs(const AnalyzedModel& model, const std::vector<RepairEntry>& entries,
                             const AnalyzedModel* reference);

// Structural alignment: for each reference layer, the model layer it corresponds to
// (-1 if none) and the confidence of that pairing.
struct LayerAlignment {
  std::vector<int> target;
  std::vector<double> confidence;
};
LayerAlignment align_layers(const AnalyzedModel& reference, const AnalyzedModel& model);

// The op type a layer's name ends with ("Relu" for a Conv fused into its Relu).
std::string layer_name_op(const Layer& layer);
// Up to `k` layer names closest to `name` (edit distance over names, tensors, nodes).
std::vector<std::string> closest_names(const LayerGraph& layers, const std::string& name, size_t k);

}  // namespace mixq
