// fp_forward: which layers to keep in float, with TPU-MLIR fp_forward.py's semantics
// (spec/tpu-mlir-compat.md section 5), over the predicted (or .mlir) TPU-MLIR layers:
//   outputs X : X and ALL its descendants;
//   inputs X  : X and ALL its ancestors, graph inputs excluded;
//   blocks "s1,s2:e1,e2" : descendants(starts) ∩ ancestors(ends), both ends included;
//   yolo_heads: the detection-head Convs (no other Conv on some path from them to a graph
//               output) and all their descendants — the seed's advice for YOLO models;
//   first_convs K: the first K Convs in model order.
// Names may be TPU-MLIR layer names, ONNX tensor or node names, or names TPU-MLIR
// removes (mapped to the surviving layer). An unknown name is a mixq::Error naming the
// closest real names (fp_forward.py only warns).
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "mixq/layers.h"

namespace mixq {

struct FpForwardBlock {
  std::vector<std::string> starts, ends;
};

struct FpForwardOptions {
  std::vector<std::string> inputs, outputs;
  std::vector<FpForwardBlock> blocks;
  bool yolo_heads = false;
  int first_convs = 0;
};

struct FpForwardResult {
  std::vector<int> layers;         // float layers, model order, graph inputs excluded
  std::vector<int> head_convs;     // with yolo_heads
  std::vector<std::string> notes;  // names resolved indirectly ("'949' is a tensor of ...")
};

FpForwardResult fp_forward(const LayerGraph& layers, const FpForwardOptions& options);

// Parses "--fpfwd_blocks" text: "s1,s2:e1,e2" (several blocks separated by ';' or spaces).
std::vector<FpForwardBlock> parse_fpfwd_blocks(const std::string& text);
std::vector<std::string> split_names(const std::string& text);  // "a,b" -> {a, b}

// Closures (the layer itself included).
std::vector<bool> descendants(const LayerGraph& layers, const std::vector<int>& from);
std::vector<bool> ancestors(const LayerGraph& layers, const std::vector<int>& from);
// Detection-head convs: Conv layers with a path to a graph output through no other Conv.
std::vector<int> yolo_head_convs(const LayerGraph& layers);

}  // namespace mixq
