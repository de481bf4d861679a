// Executor: planning and running (see executor.h).
//
// [SECTIONS]
//   Plan            slots (one per tensor), steps (one kernel per non-folded node), owned
//                   copies of nodes and constants, buffer pool
//   Executor()      kernels, liveness (release after last reader), epilogue fusion
//   BackgroundTap   tap calls on idle workers (ExecOptions::background_tap)
//   run()           input checks, tap, in-place / pooled outputs, fused steps
#include "mixq/exec/executor.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "mixq/error.h"
#include "mixq/exec/kernel.h"
#include "mixq/exec/thread_pool.h"

namespace mixq {

namespace {
const exec::KernelRegistry& registry() {
  static const exec::KernelRegistry r = [] {
    exec::KernelRegistry reg;
    exec::register_conv_kernels(reg);
    exec::register_gemm_kernels(reg);
    exec::register_elementwise_kernels(reg);
    exec::register_pool_kernels(reg);
    exec::register_resize_kernels(reg);
    exec::register_data_kernels(reg);
    exec::register_norm_kernels(reg);
    return reg;
  }();
  return r;
}
}  // namespace

// Activation buffers, kept across runs. Sizes are rounded up to a size class (8 per
// octave, < 12.5% slack) and a buffer is only reused for its own class, so buffers never
// drift between sizes; only buffers the pool created come back to it (graph outputs are
// copied out). A new buffer is created only when every buffer of its class is in use,
// so each class holds at most the largest number of its tensors live at once in any run:
// the pool's capacity stops growing after the first run of each path (fused or tapped).
class BufferPool {
 public:
  static constexpr size_t kMinBytes = 4096;  // smaller tensors are plain allocations
  static size_t size_class(size_t bytes) {
    size_t step = std::max<size_t>(std::bit_floor(bytes) / 8, 64);
    return (bytes + step - 1) / step * step;
  }
  // A buffer of the tensor's class: a spare one, else a new one (empty Tensor instead
  // when !may_grow).
  Tensor allocate(DType dtype, const Shape& shape, bool may_grow = true) {
    size_t need = size_t(shape_numel(shape)) * dtype_size(dtype);
    if (need < kMinBytes) return Tensor(dtype, shape);
    size_t cls = size_class(need);
    std::lock_guard<std::mutex> lock(mu_);
    auto& free = spare_[cls];
    Tensor t;
    if (!free.empty()) {
      t = std::move(free.back());
      free.pop_back();
    } else if (!may_grow) {
      return t;
    } else {
      t = Tensor(DType::UInt8, {int64_t(cls)});
      owned_[t.bytes().data()] = cls;
      stats_.buffers++;
      stats_.bytes += int64_t(cls);
    }
    t.reset(dtype, shape);
    return t;
  }
  // Takes `t` back if the pool created it; otherwise just frees it. Leaves `t` empty.
  void release(Tensor& t) {
    if (t.capacity() >= kMinBytes) {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = owned_.find(t.bytes().data());
      if (it != owned_.end()) spare_[it->second].push_back(std::move(t));
    }
    t = Tensor();
  }
  bool owns(const Tensor& t) const {
    std::lock_guard<std::mutex> lock(mu_);
    return t.capacity() >= kMinBytes && owned_.count(t.bytes().data()) > 0;
  }
  Executor::PoolStats stats() const {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_;
  }

 private:
  mutable std::mutex mu_;
  std::map<size_t, std::vector<Tensor>> spare_;    // free buffers by size class
  std::unordered_map<const void*, size_t> owned_;  // every buffer created, by data address
  Executor::PoolStats stats_;
};

struct Executor::Plan {
  struct Step {
    const Node* node = nullptr;
    std::unique_ptr<exec::Kernel> kernel;
    std::vector<int> inputs;    // value slots, -1 = omitted
    std::vector<int> outputs;   // value slots, -1 = omitted
    std::vector<int> release;   // runtime slots dead after this step
    std::vector<int> fused;     // later steps whose work this kernel's run_fused() does
    std::vector<bool> cut_ok;   // per fused step: a group may end after it (not inside a gate)
    bool absorbed = false;      // done by an earlier step's run_fused() (no tap)
    int head = -1;              // absorbed: the step whose run_fused() does this one
    size_t pos = 0;             // absorbed: index in the head's `fused`
    size_t fused_with_tap = 0;  // fused head: how many of `fused` stay fused under the tap
    // Zero Pad folded into the Conv or AveragePool after it (when no tap observes the Pad's output):
    int folded_into = -1;                       // Pad: the step that absorbs it
    int fold_pad = -1;                          // Conv/AveragePool: the Pad step it absorbs
    std::unique_ptr<exec::Kernel> fold_kernel;  // Conv/AveragePool: the kernel with the Pad's pads added
    std::vector<int> fold_inputs;               // its inputs with input 0 = the Pad's input
  };
  struct Slot {
    std::string name;
    const Tensor* constant = nullptr;  // weights / folded values
    DType dtype = DType::Undefined;
    Shape shape;
    bool is_output = false;
    bool observed = true;  // the tap sees it (ExecOptions::observe)
  };
  std::vector<Slot> slots;
  std::map<std::string, int> slot_of;
  std::vector<Step> steps;
  std::vector<InputSpec> inputs;
  std::vector<int> input_slots;
  std::vector<std::string> outputs;
  std::vector<int> input_release;  // graph inputs nobody reads
  bool background_tap = false;
  std::unique_ptr<ThreadPool> pool;
  int64_t macs = 0;
  BufferPool buffers;
  // Own copies of what kernels refer to, so the AnalyzedModel need not outlive us.
  std::vector<Node> nodes;
  std::map<std::string, ValueState> values;
  std::vector<exec::KernelInit> inits;  // per step, for epilogue fusion at plan time
  std::deque<Node> fold_nodes;          // Conv nodes with a folded Pad's pads
};

Executor::Executor(const AnalyzedModel& am, ExecOptions options) : plan_(std::make_unique<Plan>()) {
  Plan& p = *plan_;
  const Graph& g = am.model.graph;
  const std::string src = am.source_name.empty() ? std::string("model") : am.source_name;
  p.nodes = g.nodes;  // never resized afterwards: stable addresses
  auto value = [&](const std::string& name) -> const ValueState* {
    auto it = p.values.find(name);
    if (it != p.values.end()) return &it->second;
    const ValueState* vs = am.shapes.find(name);
    if (!vs) return nullptr;
    return &p.values.emplace(name, *vs).first->second;
  };
  auto slot = [&](const std::string& name) -> int {
    auto it = p.slot_of.find(name);
    if (it != p.slot_of.end()) return it->second;
    const ValueState* vs = value(name);
    Plan::Slot s;
    s.name = name;
    if (vs) {
      if (vs->constant) s.constant = &*vs->constant;
      s.dtype = vs->dtype;
      s.shape = vs->shape;
    }
    p.slots.push_back(std::move(s));
    p.slot_of[name] = int(p.slots.size()) - 1;
    return int(p.slots.size()) - 1;
  };
  for (const ValueInfo& in : g.inputs) {
    const ValueState* vs = value(in.name);
    require(vs && vs->shape_known(),
            src + ": input '" + in.name + "' has no concrete shape: pass --input_shapes (e.g. [[1,3,640,640]])");
    p.inputs.push_back({in.name, vs->shape, vs->dtype});
    p.input_slots.push_back(slot(in.name));
  }
  for (const ValueInfo& out : g.outputs) {
    p.outputs.push_back(out.name);
    p.slots[slot(out.name)].is_output = true;
  }
  int64_t opset = am.model.opset();
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (i < am.shapes.node_folded.size() && am.shapes.node_folded[i]) continue;
    const Node& n = p.nodes[i];
    require(n.domain.empty() || n.domain == "ai.onnx",
            src + ": " + n.describe() + ": ops of domain '" + n.domain + "' are not supported by the executor");
    auto it = registry().find(n.op_type);
    require(it != registry().end(), src + ": op " + n.op_type + " (node '" + n.name + "', output '" +
                                        (n.outputs.empty() ? std::string() : n.outputs[0]) +
                                        "') is not supported by the executor");
    Plan::Step step;
    step.node = &n;
    exec::KernelInit init{n, {}, {}, opset};
    for (const std::string& t : n.inputs) {
      if (t.empty()) {
        step.inputs.push_back(-1);
        init.inputs.push_back(nullptr);
        continue;
      }
      const ValueState* vs = value(t);
      require(vs != nullptr, src + ": " + n.describe() + ": input '" + t + "' is unknown");
      step.inputs.push_back(slot(t));
      init.inputs.push_back(vs);
    }
    for (const std::string& t : n.outputs) {
      if (t.empty()) {
        step.outputs.push_back(-1);
        init.outputs.push_back(nullptr);
        continue;
      }
      const ValueState* vs = value(t);
      require(vs && vs->shape_known() && vs->dtype != DType::Undefined,
              src + ": " + n.describe() + ": output '" + t +
                  "' has no concrete shape/type after shape inference (pass --input_shapes)");
      step.outputs.push_back(slot(t));
      init.outputs.push_back(vs);
    }
    try {
      step.kernel = it->second(init);
    } catch (const Error& e) {
      std::string m = e.what();
      throw Error(m.rfind(src, 0) == 0 ? m : src + ": " + m);
    }
    p.macs += step.kernel->macs();
    p.steps.push_back(std::move(step));
    p.inits.push_back(std::move(init));
  }
  // Zero-Pad folding (TF exports pad explicitly before strided convs, PyTorch's F.pad before
  // avg_pool2d): a constant Pad of zeros on the spatial axes only, whose output only a Conv
  // or AveragePool reads (as its input 0), is skipped and the reader runs with the pads
  // added to its own (a second kernel, chosen at run time when no tap observes the Pad's
  // output). A Conv sees the same zeros at the same places; an AveragePool counts them
  // (count_include_pad = 1, folded only if its own pads are zero or already counted) and
  // adds no zeros to its double sums (+0 either way): results are bit-identical.
  {
    std::vector<int> readers(p.slots.size(), 0), reader_step(p.slots.size(), -1);
    for (size_t s = 0; s < p.steps.size(); ++s)
      for (int v : p.steps[s].inputs)
        if (v >= 0) ++readers[v], reader_step[v] = int(s);
    for (size_t s = 0; s < p.steps.size(); ++s) {
      Plan::Step& pad = p.steps[s];
      const exec::KernelInit& pi = p.inits[s];
      const Node& pn = *pad.node;
      if (pn.op_type != "Pad" || pn.attr_string("mode", "constant") != "constant") continue;
      if (pad.inputs.empty() || pad.inputs[0] < 0 || pad.outputs.size() != 1 || pad.outputs[0] < 0) continue;
      const int out = pad.outputs[0];
      if (p.slots[out].is_output || readers[out] != 1 || pi.inputs[0]->dtype != DType::Float32) continue;
      const size_t rank = pi.in_shape(0).size();
      std::vector<int64_t> pads;
      if (opset < 11) {
        pads = pn.attr_ints(opset < 2 ? "paddings" : "pads");
        if (pn.attr_float("value", 0.f) != 0.f) continue;
      } else {
        const Tensor* pt = pi.constant(1);
        const Tensor* value = pi.has_input(2) ? pi.constant(2) : nullptr;
        if (!pt || (pi.has_input(2) && !value) || pi.has_input(3)) continue;  // runtime pads/value, axes
        if (value && value->numel() > 0 && value->to_f64()[0] != 0.0) continue;
        pads = pt->to_i64();
      }
      if (rank < 3 || pads.size() != 2 * rank || pads[0] || pads[1] || pads[rank] || pads[rank + 1]) continue;
      if (std::any_of(pads.begin(), pads.end(), [](int64_t v) { return v < 0; })) continue;
      const int t = reader_step[out];
      Plan::Step& conv = p.steps[t];
      const Node& cn = *conv.node;
      const bool avgpool = cn.op_type == "AveragePool";
      if ((cn.op_type != "Conv" && !avgpool) || conv.inputs[0] != out ||
          std::count(conv.inputs.begin(), conv.inputs.end(), out) != 1)
        continue;
      if (cn.attr_string("auto_pad", "NOTSET") != "NOTSET") continue;
      const size_t sp = rank - 2;
      std::vector<int64_t> cp = cn.attr_ints("pads", std::vector<int64_t>(2 * sp, 0));
      if (cp.size() != 2 * sp) continue;
      if (avgpool && cn.attr_int("count_include_pad", 0) == 0 &&
          std::any_of(cp.begin(), cp.end(), [](int64_t v) { return v != 0; }))
        continue;
      for (size_t i = 0; i < sp; ++i) {
        cp[i] += pads[2 + i];
        cp[sp + i] += pads[rank + 2 + i];
      }
      Node& folded = p.fold_nodes.emplace_back(cn);
      folded.inputs[0] = pn.inputs[0];
      Attribute a;
      a.kind = Attribute::Kind::Ints;
      a.ints = cp;
      folded.attrs["pads"] = a;
      if (avgpool) {
        Attribute include;
        include.kind = Attribute::Kind::Int;
        include.i = 1;
        folded.attrs["count_include_pad"] = include;
      }
      exec::KernelInit init{folded, p.inits[t].inputs, p.inits[t].outputs, opset};
      init.inputs[0] = pi.inputs[0];
      try {
        conv.fold_kernel = registry().at(cn.op_type)(init);
      } catch (const Error&) {
        continue;  // the unfolded pair still runs
      }
      conv.fold_pad = int(s);
      conv.fold_inputs = conv.inputs;
      conv.fold_inputs[0] = pad.inputs[0];
      pad.folded_into = t;
    }
  }
  // Epilogue fusion (runs without a tap, or under a tap that observes none of the hidden
  // tensors): a kernel absorbs the single consumer of its output 0 (and then that
  // consumer's single consumer, ...) when it can; a value v whose only readers are a
  // chain of single-reader steps computing u = f(v) and Mul(v, u) (Swish / SiLU:
  // f = Sigmoid; a decomposed HardSwish: f = Add 3, Clip) is absorbed as one gate.
  {
    std::vector<int> readers(p.slots.size(), 0), reader_step(p.slots.size(), -1);
    std::vector<std::vector<int>> reader_steps(p.slots.size());
    for (size_t s = 0; s < p.steps.size(); ++s)
      for (int v : p.steps[s].inputs)
        if (v >= 0) ++readers[v], reader_step[v] = int(s), reader_steps[v].push_back(int(s));
    auto same_value_kind = [&](int a, int b) {
      return p.slots[a].dtype == p.slots[b].dtype && p.slots[a].shape == p.slots[b].shape;
    };
    // The input through which step t reads v (exactly once), or -1.
    auto via_input = [&](int t, int v) -> int {
      const std::vector<int>& ins = p.steps[t].inputs;
      if (std::count(ins.begin(), ins.end(), v) != 1) return -1;
      return int(std::find(ins.begin(), ins.end(), v) - ins.begin());
    };
    // Gate: fills `chain` (steps of f with their via inputs) and returns the Mul step, or -1.
    constexpr int kMaxGateChain = 4;
    auto gate_of = [&](int v, std::vector<std::pair<int, size_t>>& chain) -> int {
      if (readers[v] != 2 || reader_steps[v][0] == reader_steps[v][1]) return -1;
      for (int first = 0; first < 2; ++first) {
        int t = reader_steps[v][first], mul = reader_steps[v][1 - first];
        const Plan::Step& b = p.steps[mul];
        if (b.node->op_type != "Mul" || b.inputs.size() != 2 || b.outputs.size() != 1 || b.outputs[0] < 0) continue;
        int vi = via_input(mul, v);
        if (vi < 0 || !same_value_kind(b.outputs[0], v)) continue;
        int u = b.inputs[1 - vi];
        chain.clear();
        for (int len = 0; len < kMaxGateChain && t != mul; ++len) {
          const Plan::Step& st = p.steps[t];
          int via = via_input(t, chain.empty() ? v : p.steps[chain.back().first].outputs[0]);
          if (via < 0 || st.outputs.size() != 1 || st.outputs[0] < 0) break;
          int o = st.outputs[0];
          if (p.slots[o].is_output || readers[o] != 1 || !same_value_kind(o, v)) break;
          chain.push_back({t, size_t(via)});
          if (o == u) return reader_step[o] == mul ? mul : -1;
          t = reader_step[o];
        }
      }
      chain.clear();
      return -1;
    };
    // A fold kernel absorbs what the Conv's kernel absorbs (the same kernel type and
    // shapes); should it ever refuse, the Pad is not folded.
    auto drop_fold = [&](Plan::Step& conv) {
      p.steps[conv.fold_pad].folded_into = -1;
      conv.fold_pad = -1;
      conv.fold_kernel.reset();
      conv.fold_inputs.clear();
    };
    std::vector<bool> absorbed(p.steps.size(), false);
    std::vector<std::pair<int, size_t>> chain;
    std::vector<std::pair<const exec::KernelInit*, size_t>> chain_inits;
    for (size_t s = 0; s < p.steps.size(); ++s) {
      Plan::Step& step = p.steps[s];
      if (absorbed[s] || step.kernel->is_view() || step.outputs.size() != 1 || step.outputs[0] < 0) continue;
      int cur = step.outputs[0];
      while (!p.slots[cur].is_output) {
        if (readers[cur] == 2) {
          int mul = gate_of(cur, chain);
          if (mul < 0) break;
          chain_inits.clear();
          for (auto [t, via] : chain) chain_inits.push_back({&p.inits[t], via});
          if (!step.kernel->absorb_gate(chain_inits)) break;
          if (step.fold_kernel && !step.fold_kernel->absorb_gate(chain_inits)) drop_fold(step);
          chain.push_back({mul, 0});
          for (auto [t, via] : chain) {
            absorbed[t] = true;
            p.steps[t].head = int(s);
            p.steps[t].pos = step.fused.size();
            step.fused.push_back(t);
            step.cut_ok.push_back(t == mul);
          }
          cur = p.steps[mul].outputs[0];
          continue;
        }
        if (readers[cur] != 1) break;
        int t = reader_step[cur];
        Plan::Step& next = p.steps[t];
        int via = via_input(t, cur);
        if (via < 0 || next.outputs.empty() || next.outputs[0] < 0) break;
        // A consumer keeps the value's dtype and shape, except a MaxPool (a Conv may end
        // its group with one: kernels_conv.cpp).
        if (!same_value_kind(next.outputs[0], cur) && next.node->op_type != "MaxPool") break;
        if (!step.kernel->absorb(p.inits[t], size_t(via))) break;
        if (step.fold_kernel && !step.fold_kernel->absorb(p.inits[t], size_t(via))) drop_fold(step);
        absorbed[t] = true;
        p.steps[t].head = int(s);
        p.steps[t].pos = step.fused.size();
        step.fused.push_back(t);
        step.cut_ok.push_back(true);
        cur = next.outputs[0];
      }
    }
    for (size_t s = 0; s < p.steps.size(); ++s) p.steps[s].absorbed = absorbed[s];
  }
  // Tap filter: only the named tensors are observed; under the tap a fused group keeps
  // its longest prefix (ending at a step boundary, not inside a gate) that hides no
  // observed tensor: the head's output and the outputs of all but the prefix's last step.
  if (options.observe) {
    for (Plan::Slot& sl : p.slots) sl.observed = options.observe->count(sl.name) > 0;
    for (Plan::Step& step : p.steps) {
      if (step.fused.empty()) continue;
      bool hidden = p.slots[step.outputs[0]].observed;
      for (size_t n = 1; n <= step.fused.size() && !hidden; ++n) {
        if (step.cut_ok[n - 1]) step.fused_with_tap = n;
        hidden = p.slots[p.steps[step.fused[n - 1]].outputs[0]].observed;
      }
    }
  }
  // Liveness: a runtime slot is released after the last step reading it.
  std::vector<int> last_use(p.slots.size(), -1);
  for (size_t s = 0; s < p.steps.size(); ++s) {
    for (int v : p.steps[s].inputs)
      if (v >= 0) last_use[v] = int(s);
    for (int v : p.steps[s].fold_inputs)  // a folded Pad's input lives until its Conv
      if (v >= 0) last_use[v] = std::max(last_use[v], int(s));
  }
  for (size_t v = 0; v < p.slots.size(); ++v) {
    if (p.slots[v].constant || p.slots[v].is_output) continue;
    if (last_use[v] >= 0) p.steps[last_use[v]].release.push_back(int(v));
  }
  for (int v : p.input_slots)
    if (last_use[v] < 0 && !p.slots[v].is_output) p.input_release.push_back(v);
  // Every graph output must be a graph input, a constant or produced by a planned node.
  std::vector<bool> available(p.slots.size(), false);
  for (int v : p.input_slots) available[v] = true;
  for (const Plan::Step& s : p.steps)
    for (int v : s.outputs)
      if (v >= 0) available[v] = true;
  for (const std::string& o : p.outputs) {
    int v = p.slot_of[o];
    require(available[v] || p.slots[v].constant, src + ": graph output '" + o + "' is never produced");
  }
  p.pool = std::make_unique<ThreadPool>(options.threads);
  p.background_tap = options.background_tap && p.pool->size() > 1;
}

Executor::~Executor() = default;
Executor::Executor(Executor&&) noexcept = default;
Executor& Executor::operator=(Executor&&) noexcept = default;
const std::vector<Executor::InputSpec>& Executor::inputs() const {
  return plan_->inputs;
}
const std::vector<std::string>& Executor::outputs() const {
  return plan_->outputs;
}
int Executor::threads() const {
  return plan_->pool->size();
}
ThreadPool& Executor::thread_pool() {
  return *plan_->pool;
}
int64_t Executor::macs() const {
  return plan_->macs;
}
Executor::PoolStats Executor::pool_stats() const {
  return plan_->buffers.stats();
}
int Executor::fused_nodes() const {
  int n = 0;
  for (const Plan::Step& s : plan_->steps) n += s.absorbed || s.folded_into >= 0 ? 1 : 0;
  return n;
}

int Executor::fused_nodes_with_tap() const {
  const Plan& p = *plan_;
  int n = 0;
  for (const Plan::Step& s : p.steps) {
    n += static_cast<int>(s.fused_with_tap);
    if (s.fold_pad >= 0 && !p.slots[p.steps[s.fold_pad].outputs[0]].observed) n++;
  }
  return n;
}

// [SECTION] BackgroundTap --------------------------------------------------------------------
namespace {
// One run's tap calls, queued in production order and made one at a time by whichever
// thread gets to them first: an idle pool worker (ThreadPool::set_idle_work) or run()
// itself (too much pending, the pool would have to grow, or the run's end). run() never
// writes into a posted slot's buffer (no in-place reuse, no buffer move) and hands the
// release of a dead slot whose call is pending to that call (hand_over_release), which
// returns the buffer to the pool.
class BackgroundTap {
 public:
  // call(v) makes the tap call of slot v (values[v]).
  BackgroundTap(std::function<void(int)> call, ThreadPool& pool, BufferPool& buffers, std::vector<Tensor>& values)
      : call_(std::move(call)),
        pool_(pool),
        buffers_(buffers),
        values_(values),
        state_(values.size(), kNone),
        bytes_(values.size(), 0) {
    pool_.set_idle_work(&work_);
  }
  ~BackgroundTap() {  // also on an exception out of run(): no call may outlive `values`
    {
      std::unique_lock<std::mutex> lock(mu_);
      head_ = queue_.size();  // drop what has not started
      done_.wait(lock, [&] { return !running_; });
    }
    pool_.set_idle_work(nullptr);
  }
  BackgroundTap(const BackgroundTap&) = delete;
  BackgroundTap& operator=(const BackgroundTap&) = delete;

  // run(): slot v (values[v]) is complete; its call is queued.
  void post(int v) {
    const size_t bytes = values_[v].nbytes();
    bool over;
    {
      std::lock_guard<std::mutex> lock(mu_);
      state_[v] = kPending;
      bytes_[v] = bytes;
      queue_.push_back(v);
      pending_bytes_ += bytes;
      over = pending_bytes_ > ExecOptions::kBackgroundTapBytes;
      queued_.store(queue_.size() - head_);
    }
    pool_.post_idle_work();
    if (over) make_calls_until([&] { return pending_bytes_ <= ExecOptions::kBackgroundTapBytes; });
  }
  // Slot v was queued in this run (whether or not its call is done: run()'s buffer
  // decisions must not depend on the workers' timing).
  bool posted(int v) {
    std::lock_guard<std::mutex> lock(mu_);
    return state_[v] != kNone;
  }
  bool any_pending() {
    std::lock_guard<std::mutex> lock(mu_);
    return !all_done();
  }
  // run(): makes (or waits for) every queued call; pending releases return their buffers.
  void catch_up_all() {
    make_calls_until([&] { return all_done(); });
  }
  // run(): slot v is dead. True if its pending call will release it (run() must not touch
  // values[v] any more); false if run() releases it now.
  bool hand_over_release(int v) {
    std::lock_guard<std::mutex> lock(mu_);
    if (state_[v] != kPending) return false;
    state_[v] = kPendingRelease;
    return true;
  }
  // run(): every call made; re-throws the first exception of a call. The calls left are
  // made here, where the tap may use the workers (none takes calls any more).
  void finish() {
    workers_take_calls_.store(false);
    catch_up_all();
    std::lock_guard<std::mutex> lock(mu_);
    if (error_) std::rethrow_exception(error_);
  }

 private:
  enum State : uint8_t { kNone, kPending, kPendingRelease, kDone };
  // Makes the next call if no other thread is making one; false if it could not.
  bool call_next() {
    if (queued_.load() == 0) return false;  // cheap when idle workers poll
    int v;
    bool failed;  // after a failed call the others are skipped
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (running_ || head_ == queue_.size()) return false;
      running_ = true;
      v = queue_[head_++];
      queued_.store(queue_.size() - head_);
      failed = error_ != nullptr;
    }
    std::exception_ptr error;
    if (!failed) {
      try {
        call_(v);
      } catch (...) {
        error = std::current_exception();
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (error) error_ = error;
    pending_bytes_ -= bytes_[v];
    if (state_[v] == kPendingRelease) buffers_.release(values_[v]);
    state_[v] = kDone;
    running_ = false;
    done_.notify_all();
    return true;
  }
  bool all_done() const { return head_ == queue_.size() && !running_; }  // under mu_
  // Makes calls (or waits for the worker making one) until done() holds (under mu_).
  template <typename Done>
  void make_calls_until(Done done) {
    for (;;) {
      if (call_next()) continue;
      std::unique_lock<std::mutex> lock(mu_);
      if (done()) return;
      if (running_) done_.wait(lock, [&] { return !running_; });
    }
  }

  const std::function<void(int)> call_;
  ThreadPool& pool_;
  BufferPool& buffers_;
  std::vector<Tensor>& values_;
  std::atomic<bool> workers_take_calls_{true};
  const std::function<bool()> work_ = [this] { return workers_take_calls_.load() && call_next(); };
  std::mutex mu_;
  std::condition_variable done_;
  std::vector<int> queue_;
  size_t head_ = 0;
  std::atomic<size_t> queued_{0};
  bool running_ = false;
  size_t pending_bytes_ = 0;
  std::vector<State> state_;
  std::vector<size_t> bytes_;  // per slot: counted in pending_bytes_ while pending
  std::exception_ptr error_;
};
}  // namespace

std::map<std::string, Tensor> Executor::run(const std::map<std::string, Tensor>& inputs, const Tap& tap) {
  Plan& p = *plan_;
  std::vector<Tensor> values(p.slots.size());
  // Released activation buffers go back to the plan's pool and are reused for later
  // tensors, also across runs (see BufferPool). Kernels overwrite every output element.
  auto release = [&](Tensor& t) { p.buffers.release(t); };
  auto allocate = [&](DType dtype, const Shape& shape) { return p.buffers.allocate(dtype, shape); };

  std::vector<const Tensor*> ptr(p.slots.size(), nullptr);
  for (size_t v = 0; v < p.slots.size(); ++v) ptr[v] = p.slots[v].constant;
  std::optional<BackgroundTap> background;  // destroyed before `values`
  if (tap && p.background_tap)
    background.emplace([&](int v) { tap(p.slots[v].name, values[v]); }, *p.pool, p.buffers, values);
  // Observed slots keep their buffers (no in-place reuse, no move by a view) in every run,
  // whether or not their call is done.
  auto pinned = [&](int v) { return background && background->posted(v); };
  // Slot v is dead: its buffer goes back to the pool (once its background tap call is done).
  auto discard = [&](int v) {
    if (ptr[v] == &values[v]) {
      if (background && background->hand_over_release(v)) {
        ptr[v] = nullptr;
        return;
      }
      release(values[v]);
    }
    values[v] = Tensor();
    ptr[v] = nullptr;
  };
  auto allocate_for_step = [&](DType dtype, const Shape& shape) {
    // With a background tap the pool grows only when the buffers pending calls hold are
    // back: its size then depends on the graph, not on how far the tap lagged.
    if (!background || !background->any_pending()) return allocate(dtype, shape);
    Tensor t = p.buffers.allocate(dtype, shape, false);
    if (!t.empty()) return t;
    background->catch_up_all();
    return allocate(dtype, shape);
  };
  for (const auto& entry : inputs) {
    const std::string& name = entry.first;
    bool known = std::any_of(p.inputs.begin(), p.inputs.end(), [&](const InputSpec& s) { return s.name == name; });
    if (!known) throw Error("input '" + name + "' is not an input of the model");
  }
  for (size_t i = 0; i < p.inputs.size(); ++i) {
    const InputSpec& spec = p.inputs[i];
    auto it = inputs.find(spec.name);
    if (it == inputs.end()) throw Error("input '" + spec.name + "' " + shape_str(spec.shape) + " is missing");
    const Tensor& t = it->second;
    if (t.shape() != spec.shape)
      throw Error("input '" + spec.name + "' has shape " + shape_str(t.shape()) + ", the model was analysed for " +
                  shape_str(spec.shape));
    int v = p.input_slots[i];
    if (t.dtype() == spec.dtype) {
      // Read in place (not copied): kernels write only into tensors the run owns
      // (in-place and view moves check ptr[v] == &values[v]), so the caller's stays intact.
      ptr[v] = &t;
    } else {
      require(t.dtype() != DType::String && spec.dtype != DType::String && dtype_size(t.dtype()) != 0,
              "input '" + spec.name + "' has dtype " + dtype_name(t.dtype()) + ", expected " + dtype_name(spec.dtype));
      values[v] = dtype_is_float(spec.dtype) ? tensor_from_f64(spec.dtype, t.shape(), t.to_f64())
                                             : tensor_from_i64(spec.dtype, t.shape(), t.to_i64());
      ptr[v] = &values[v];
    }
    if (tap && p.slots[v].observed) tap(spec.name, *ptr[v]);
  }
  for (int v : p.input_release) values[v] = Tensor();
  std::vector<const Tensor*> in;
  std::vector<Tensor*> out;
  const bool tapped = bool(tap);
  // Fused steps of a head in this run: all without a tap, the observe-safe prefix with one.
  auto fused_count = [&](const Plan::Step& head) { return tapped ? head.fused_with_tap : head.fused.size(); };
  // A Conv runs with its folded Pad unless the tap observes the Pad's output.
  auto pad_folded = [&](const Plan::Step& conv) {
    return conv.fold_pad >= 0 && !(tapped && p.slots[p.steps[conv.fold_pad].outputs[0]].observed);
  };
  for (Plan::Step& step : p.steps) {
    if ((step.absorbed && step.pos < fused_count(p.steps[step.head])) ||
        (step.folded_into >= 0 && pad_folded(p.steps[step.folded_into]))) {
      for (int v : step.release) discard(v);
      continue;
    }
    const size_t nfused = fused_count(step);
    const bool fused = nfused > 0;
    const bool fold = pad_folded(step);
    const std::vector<int>& step_inputs = fold ? step.fold_inputs : step.inputs;
    exec::Kernel& kernel = fold ? *step.fold_kernel : *step.kernel;
    in.clear();
    out.clear();
    for (int v : step_inputs) {
      if (v < 0) {
        in.push_back(nullptr);
        continue;
      }
      if (!ptr[v]) throw Error(step.node->describe() + ": input '" + p.slots[v].name + "' was not computed");
      in.push_back(ptr[v]);
    }
    if (kernel.is_view()) {
      int src = step_inputs[0], dst = step.outputs[0];
      bool last = std::find(step.release.begin(), step.release.end(), src) != step.release.end();
      if (last && ptr[src] == &values[src] && !pinned(src)) {
        values[dst] = std::move(values[src]);
        values[src] = Tensor();
        ptr[src] = nullptr;
      } else {
        values[dst] = *ptr[src];
      }
      values[dst].reshape(p.slots[dst].shape);
      ptr[dst] = &values[dst];
    } else {
      // In place: output 0 takes over a dying input's buffer.
      int taken = -1;
      if (!step.outputs.empty() && step.outputs[0] >= 0) {
        const Plan::Slot& o = p.slots[step.outputs[0]];
        for (int i : kernel.inplace_inputs()) {
          int v = step_inputs[i];
          if (v < 0 || ptr[v] != &values[v] || values[v].dtype() != o.dtype ||
              values[v].numel() != shape_numel(o.shape))
            continue;
          if (std::find(step.release.begin(), step.release.end(), v) == step.release.end() || pinned(v)) continue;
          if (std::count(step_inputs.begin(), step_inputs.end(), v) != 1) continue;
          taken = i;
          break;
        }
      }
      // Fused: output 0 is the last absorbed step's output.
      std::vector<int> outs = step.outputs;
      if (fused) outs[0] = p.steps[step.fused[nfused - 1]].outputs[0];
      for (size_t j = 0; j < outs.size(); ++j) {
        int v = outs[j];
        if (v < 0) {
          out.push_back(nullptr);
          continue;
        }
        if (j == 0 && taken >= 0) {
          int src = step_inputs[taken];
          values[v] = std::move(values[src]);
          values[v].reshape(p.slots[v].shape);
          values[src] = Tensor();
          ptr[src] = nullptr;
          in[taken] = &values[v];
        } else {
          values[v] = allocate_for_step(p.slots[v].dtype, p.slots[v].shape);
        }
        out.push_back(&values[v]);
      }
      if (fused)
        kernel.run_fused(in, out, *p.pool, nfused);
      else
        kernel.run(in, out, *p.pool);
      for (int v : outs)
        if (v >= 0) ptr[v] = &values[v];
    }
    if (tapped) {
      for (size_t j = 0; j < step.outputs.size(); ++j) {
        int v = fused && j == 0 ? p.steps[step.fused[nfused - 1]].outputs[0] : step.outputs[j];
        if (v < 0 || !p.slots[v].observed) continue;
        if (background)
          background->post(v);
        else
          tap(p.slots[v].name, values[v]);
      }
    }
    for (int v : step.release) discard(v);
  }
  if (background) background->finish();
  std::map<std::string, Tensor> result;
  for (const std::string& o : p.outputs) {
    int v = p.slot_of[o];
    require(ptr[v] != nullptr, "graph output '" + o + "' was not computed");
    // Pool buffers stay in the pool: the caller gets a copy of those.
    if (ptr[v] == &values[v] && !p.buffers.owns(values[v])) {
      result[o] = std::move(values[v]);
    } else {
      result[o] = *ptr[v];
      if (ptr[v] == &values[v]) release(values[v]);
    }
  }
  return result;
}

}  // namespace mixq
