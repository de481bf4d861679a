// Executor: the FP32 reference inference engine (every op of the supported models,
// equal to onnxruntime within float rounding), used by `mixq run`, calibration,
// simulation and the studio.
//
// Contract:
// - Plans once per AnalyzedModel: shapes come from am.shapes (infer_shapes with the
//   analysed input shapes); constants folded there are weights. Each non-folded node gets
//   a kernel (exec/kernels_*.cpp); an op without one is a mixq::Error naming op and node.
// - run() checks each input's presence, dtype and shape (error names the input and both
//   shapes), executes nodes in graph order, frees every activation after its last use,
//   and calls the tap for every tensor produced (graph inputs first), in execution order.
// - Results are byte-identical for any thread count (work is split in tasks whose
//   boundaries never depend on the number of threads).
// - Without a tap, a Conv absorbs a following BatchNormalization/Relu/Clip/LeakyRelu
//   chain, and on its direct path a MaxPool ending it (fused_nodes()); with a tap every
//   node runs so every tensor is observed, unless ExecOptions::observe limits the tap to
//   tensors that fusion does not hide. A folded
//   BatchNormalization may change results in the last float bit. Likewise a constant zero
//   Pad read only by a Conv is folded into the Conv's pads (bit-exact) unless the tap
//   observes the Pad's output.
// - The executor keeps its own copies of the nodes and constants it needs (the
//   AnalyzedModel may go away). One run() at a time per Executor (not reentrant); inputs
//   of another numeric dtype than the model's are converted.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "mixq/analysis.h"
#include "mixq/tensor.h"

namespace mixq {

class ThreadPool;

struct ExecOptions {
  int threads = 0;  // 0 = all cores natively; wasm: always 1
  // Tap filter: when set, the tap sees only these tensors (ONNX names), and Conv epilogue
  // fusion stays on under a tap wherever it hides none of them (an absorbed chain's final
  // output is still produced and observed). Unset: the tap sees every tensor, unfused.
  std::optional<std::set<std::string>> observe = std::nullopt;
  // Tap in the background: tap calls run on idle worker threads while later kernels go
  // on (natively, with more than one thread; elsewhere the tap is called inline). Calls
  // stay one at a time and in production order; each tensor stays valid (and unchanged)
  // until its call returns. Observed tensors are never overwritten in place; rather than
  // grow its buffer pool while calls are pending (or let more than kBackgroundTapBytes
  // pend), run() makes the pending calls itself, so memory does not depend on the lag.
  // run() returns after the last call, re-throwing the first exception a call threw. A
  // tap running on a worker that calls the executor's thread_pool() runs that work serially.
  bool background_tap = false;
  static constexpr size_t kBackgroundTapBytes = size_t{64} << 20;
};

class Executor {
 public:
  // Throws mixq::Error naming op and node for unsupported ops or unknown shapes.
  explicit Executor(const AnalyzedModel& am, ExecOptions options = {});
  ~Executor();
  Executor(Executor&&) noexcept;
  Executor& operator=(Executor&&) noexcept;

  // Called for every tensor produced (graph inputs too), in execution order; the Tensor
  // is only valid during the call.
  using Tap = std::function<void(const std::string& onnx_tensor_name, const Tensor& value)>;
  // inputs keyed by graph input name; returns the graph outputs keyed by ONNX name.
  std::map<std::string, Tensor> run(const std::map<std::string, Tensor>& inputs, const Tap& tap = {});

  // Graph inputs (name, analysed shape, dtype) in graph order, and output names.
  struct InputSpec {
    std::string name;
    Shape shape;
    DType dtype = DType::Float32;
  };
  const std::vector<InputSpec>& inputs() const;
  const std::vector<std::string>& outputs() const;
  int threads() const;
  // The executor's workers, idle while an inline tap runs: a tap may use them for its own
  // parallel work (never while run() is inside a kernel).
  ThreadPool& thread_pool();
  // Multiply-accumulates of one run (Conv/ConvTranspose/Gemm/MatMul), for GFLOP/s reports.
  int64_t macs() const;
  // Nodes whose work is fused into a neighbouring kernel when run() has no tap
  // (BatchNormalization/Relu/Clip/LeakyRelu/... after Conv, zero Pads before a Conv);
  // with a tap every node runs.
  int fused_nodes() const;
  // The same under a tap: nodes that stay fused because ExecOptions::observe asks for no
  // tensor they hide (0 without observe).
  int fused_nodes_with_tap() const;
  // Activation buffers the executor holds for reuse across runs (count, total bytes).
  // Grows during the first runs only: flat afterwards for any number of runs.
  struct PoolStats {
    int64_t buffers = 0;
    int64_t bytes = 0;
  };
  PoolStats pool_stats() const;

 private:
  struct Plan;
  std::unique_ptr<Plan> plan_;
};

}  // namespace mixq
