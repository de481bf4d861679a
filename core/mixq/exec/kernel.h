// Internal interface between the executor and its kernels (not a public API).
// A kernel is built once per node at plan time (attributes parsed, weights packed) and
// run with the node's input tensors (nullptr for omitted optional inputs) into output
// tensors that the executor has already allocated with the inferred dtype and shape.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "mixq/error.h"
#include "mixq/exec/thread_pool.h"
#include "mixq/model.h"
#include "mixq/shape_inference.h"

namespace mixq::exec {

struct KernelInit {
  const Node& node;
  std::vector<const ValueState*> inputs;   // nullptr for omitted optional inputs
  std::vector<const ValueState*> outputs;  // shapes/dtypes are known
  int64_t opset = 0;
  const Tensor* constant(size_t i) const {  // constant input i (weight or folded), or nullptr
    return i < inputs.size() && inputs[i] && inputs[i]->constant ? &*inputs[i]->constant : nullptr;
  }
  const Shape& in_shape(size_t i) const { return inputs.at(i)->shape; }
  const Shape& out_shape(size_t i) const { return outputs.at(i)->shape; }
  bool has_input(size_t i) const { return i < inputs.size() && inputs[i] != nullptr; }
};

class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) = 0;
  // View ops (Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout): output 0 has the
  // bytes of input 0; the executor moves or copies them and does not call run().
  virtual bool is_view() const { return false; }
  virtual int64_t macs() const { return 0; }
  // Inputs whose buffer output 0 may take over (element i of the output depends only on
  // element i of that input): when such an input dies at this node and has the output's
  // dtype and size, the executor passes the same tensor as input and output.
  virtual std::vector<int> inplace_inputs() const { return {}; }
  // Epilogue fusion (used when no tap observes the hidden tensors): offers the single
  // consumer of output 0 (reading it through its input `via`), e.g. BatchNormalization,
  // Relu, Clip, LeakyRelu, Sigmoid, HardSigmoid, HardSwish, or Add/Sub/Mul/Div by a
  // constant, all of the value's shape, or a MaxPool (a shape change: it must end the
  // group). Returns true when the kernel absorbed it; run_fused() then writes the
  // consumer's output instead.
  virtual bool absorb(const KernelInit& consumer, size_t via) { return false; }
  // Gate fusion: the only readers of output 0 (after what was absorbed so far), v, are a
  // chain of single-reader steps computing u = f(v) and Mul(v, u) (e.g. Swish:
  // f = Sigmoid; a decomposed HardSwish: f = Add 3, Clip 0..6). `chain` lists f's steps
  // in order with the input each reads the running value through. Returns true when
  // run_fused() then writes v * f(v).
  virtual bool absorb_gate(const std::vector<std::pair<const KernelInit*, size_t>>& chain) { return false; }
  // Runs with the first `steps` absorbed consumers (1 .. all absorbed; the executor cuts
  // only at step boundaries, never inside a gate) and writes the last one's output.
  virtual void run_fused(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool,
                         size_t steps) {
    run(in, out, pool);
  }
};

using RunFn = std::function<void(const std::vector<const Tensor*>&, const std::vector<Tensor*>&, ThreadPool&)>;
class FnKernel : public Kernel {
 public:
  explicit FnKernel(RunFn fn, int64_t macs = 0, std::vector<int> inplace = {})
      : fn_(std::move(fn)), macs_(macs), inplace_(std::move(inplace)) {}
  std::vector<int> inplace_inputs() const override { return inplace_; }
  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) override {
    fn_(in, out, pool);
  }
  int64_t macs() const override { return macs_; }

 private:
  RunFn fn_;
  int64_t macs_;
  std::vector<int> inplace_;
};
inline std::unique_ptr<Kernel> make_fn(RunFn fn, int64_t macs = 0, std::vector<int> inplace = {}) {
  return std::make_unique<FnKernel>(std::move(fn), macs, std::move(inplace));
}

using KernelMaker = std::function<std::unique_ptr<Kernel>(const KernelInit&)>;
using KernelRegistry = std::map<std::string, KernelMaker>;

// One per kernel family file.
void register_conv_kernels(KernelRegistry& r);
void register_gemm_kernels(KernelRegistry& r);
void register_elementwise_kernels(KernelRegistry& r);
void register_pool_kernels(KernelRegistry& r);
void register_resize_kernels(KernelRegistry& r);
void register_data_kernels(KernelRegistry& r);
void register_norm_kernels(KernelRegistry& r);

// Identity-like ops (output 0 = input 0 bytes, new shape).
std::unique_ptr<Kernel> make_view_kernel();

// --- helpers shared by kernels ---
// y[i] = sigmoid(x[i]) (Eigen's rational approximation, in vector registers), or
// x[i] * sigmoid(x[i]) with `times_x` (Swish); y may equal x. Each value takes the same
// per-lane operations whatever its position (the tail is padded into a full vector), so
// the stand-alone Sigmoid kernel and a fused Conv epilogue agree bit for bit, and so do
// targets of different vector widths.
void logistic(const float* x, float* y, int64_t n, bool times_x = false);
// y[i] = exp(x[i] - shift) for x[i] <= shift (Softmax's exponentials: Cephes' expf in
// vector registers like logistic, ~1e-38 instead of denormals); y may equal x.
void exp_shifted(const float* x, float* y, int64_t n, float shift);

[[noreturn]] inline void fail(const Node& n, const std::string& msg) {
  throw Error(n.describe() + ": " + msg);
}
inline void check(bool ok, const Node& n, const std::string& msg) {
  if (!ok) fail(n, msg);
}
inline int64_t norm_axis(int64_t axis, int64_t rank, const Node& n) {
  int64_t a = axis < 0 ? axis + rank : axis;
  check(a >= 0 && a < std::max<int64_t>(rank, 1), n,
        "axis " + std::to_string(axis) + " out of range for rank " + std::to_string(rank));
  return a;
}
inline std::vector<int64_t> row_strides(const Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (int i = int(s.size()) - 2; i >= 0; --i) st[i] = st[i + 1] * s[i + 1];
  return st;
}
// [rows, cols] row-major -> [cols, rows] row-major (operands for exec::sgemm, which takes
// row-major A [M,K] and B [K,N] only).
inline std::vector<float> transposed(const float* x, int64_t rows, int64_t cols) {
  std::vector<float> t(size_t(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) t[size_t(c * rows + r)] = x[r * cols + c];
  return t;
}
// y[i] = f(x[i]) for i in [0, n); y may equal x. The in-place case runs as its own loop
// over one pointer: given two pointers, clang (wasm) guards its vectorised loop with an
// overlap check that x == y fails, and the scalar fallback was ~30x slower (Clip).
template <class F>
inline void map_values(const float* x, float* y, int64_t n, F f) {
  if (x == y) {
    for (int64_t i = 0; i < n; ++i) y[i] = f(y[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] = f(x[i]);
  }
}
// Splits [0, n) into fixed chunks of `grain` (independent of thread count) and runs
// fn(begin, end) for each chunk on the pool.
inline void parallel_range(ThreadPool& pool, int64_t n, int64_t grain,
                           const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  int64_t chunks = (n + grain - 1) / grain;
  pool.parallel_for(chunks, [&](int64_t c) { fn(c * grain, std::min(n, (c + 1) * grain)); });
}

}  // namespace mixq::exec
