// [SECTION] Working state: live nodes, tensor aliases, groups
// [SECTION] Pass 1: vanishing nodes (Identity, Dropout, Cast, identity reshapes, Add 0 / Mul 1)
// [SECTION] Pass 2: onnxsim folds (BN / bias Add into Conv, Pad into Conv/Pool)
// [SECTION] Pass 3: ONNX-level fusions (LayerNorm, GELU, HardSigmoid, HardSwish)
// [SECTION] Pass 4: canonicalization (SiLU, Relu/ReLU6 fusion)
// [SECTION] Building the layer list and name index
// [SECTION] .mlir names
#include "mixq/layers.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "mixq/error.h"

namespace mixq {
namespace {

// [SECTION] Working state -----------------------------------------------------------------

struct Group {
  std::vector<int> nodes;
  int main = -1;
  std::string name, kind;
  std::vector<std::string> outputs;  // tensors visible to consumers
  bool dead = false;
};

struct VanishedNode {  // a node that disappears without a group absorbing it
  int node;
  std::string tensor;  // the surviving tensor its output became
  std::string reason;
};

struct PendingAlias {
  std::string name;
  int group;
  std::string reason;
};

class Builder {
 public:
  Builder(const Model& m, const ShapeInfo& s) : g_(m.graph), shapes_(s) {}
  LayerGraph run();

 private:
  const Graph& g_;
  const ShapeInfo& shapes_;
  std::map<std::string, std::string> alias_;  // vanished tensor -> surviving tensor
  std::vector<int> group_of_;                 // node -> group (-1: folded or vanished)
  std::vector<Group> groups_;
  std::map<std::string, int> producer_group_;  // visible tensor -> group
  std::set<std::string> graph_outputs_;
  std::vector<VanishedNode> vanished_nodes_;
  std::vector<PendingAlias> aliases_;

  std::string canon(const std::string& t) const {
    std::string cur = t;
    for (size_t guard = 0; guard <= alias_.size(); ++guard) {
      auto it = alias_.find(cur);
      if (it == alias_.end()) break;
      cur = it->second;
    }
    return cur;
  }
  const Tensor* constant(const std::string& t) const {
    const ValueState* v = shapes_.find(t);
    return v && v->constant ? &*v->constant : nullptr;
  }
  bool is_const(const std::string& t) const { return constant(t) != nullptr; }
  const ValueState* state(const std::string& t) const { return shapes_.find(t); }
  const Node& node(int i) const { return g_.nodes[i]; }
  static std::string first_output(const Node& n) {
    for (const auto& o : n.outputs)
      if (!o.empty()) return o;
    return n.name;
  }
  static std::string base_name(const Node& n) { return first_output(n) + "_" + n.op_type; }

  // Uses of a visible tensor by live nodes (after aliasing) plus graph outputs.
  int uses(const std::string& tensor) const {
    int count = graph_outputs_.count(tensor) ? 1 : 0;
    for (size_t i = 0; i < g_.nodes.size(); ++i) {
      if (group_of_[i] < 0) continue;
      for (const auto& in : g_.nodes[i].inputs)
        if (!in.empty() && canon(in) == tensor) ++count;
    }
    return count;
  }
  // Groups (other than `self`) that read `tensor`.
  std::set<int> consumer_groups(const std::string& tensor, int self = -1) const {
    std::set<int> r;
    for (size_t i = 0; i < g_.nodes.size(); ++i) {
      int gi = group_of_[i];
      if (gi < 0 || gi == self) continue;
      for (const auto& in : g_.nodes[i].inputs)
        if (!in.empty() && canon(in) == tensor) r.insert(gi);
    }
    return r;
  }
  int producer(const std::string& tensor) const {
    auto it = producer_group_.find(canon(tensor));
    return it == producer_group_.end() ? -1 : it->second;
  }
  // Group whose main node has `op` and produces `tensor` as its only visible output.
  int producer_of_type(const std::string& tensor, const std::string& op) const {
    int p = producer(tensor);
    if (p < 0 || groups_[p].dead || groups_[p].kind != op) return -1;
    return p;
  }
  bool const_equals(const std::string& t, double v) const {
    const Tensor* c = constant(t);
    if (!c || c->numel() == 0 || c->numel() > 4096) return false;
    for (double x : c->to_f64())  // relative tolerance (float32 constants); 0 must be exact
      if (!(std::fabs(x - v) <= 1e-6 * std::fabs(v))) return false;
    return true;
  }
  // Index (0/1) of the non-constant input of a binary node, or -1 unless exactly one
  // input is constant.
  int act_side(int n) const {
    const Node& nd = node(n);
    if (nd.inputs.size() != 2) return -1;
    bool c0 = is_const(nd.inputs[0]), c1 = is_const(nd.inputs[1]);
    if (c0 == c1) return -1;
    return c0 ? 1 : 0;
  }

  void absorb(int into, int from, const std::string& reason);
  void rebuild_producers();
  void vanish_nodes();
  void onnxsim_folds();
  void onnx_fusions();
  bool fuse_into_last(const std::vector<int>& chain, const std::string& new_type, const std::string& why);
  void canonicalize();
};

void Builder::rebuild_producers() {
  producer_group_.clear();
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    if (groups_[gi].dead) continue;
    for (const auto& o : groups_[gi].outputs) producer_group_[o] = static_cast<int>(gi);
  }
}

// Moves every node of group `from` into `into`; `from`'s name vanishes (an alias).
void Builder::absorb(int into, int from, const std::string& reason) {
  Group& a = groups_[into];
  Group& b = groups_[from];
  for (int n : b.nodes) {
    a.nodes.push_back(n);
    group_of_[n] = into;
  }
  std::sort(a.nodes.begin(), a.nodes.end());
  aliases_.push_back({b.name, into, reason});
  for (auto& p : aliases_)
    if (p.group == from) p.group = into;
  b.dead = true;
  b.nodes.clear();
  b.outputs.clear();
}

// [SECTION] Pass 1: vanishing nodes ---------------------------------------------------------

void Builder::vanish_nodes() {
  for (size_t i = 0; i < g_.nodes.size(); ++i) {
    if (group_of_[i] < 0) continue;
    const Node& n = g_.nodes[i];
    if (n.outputs.empty() || n.outputs[0].empty() || n.inputs.empty() || n.inputs[0].empty()) continue;
    const std::string& out = n.outputs[0];
    const std::string& in = n.inputs[0];
    if (is_const(in) || graph_outputs_.count(out)) continue;
    const std::string& op = n.op_type;
    const ValueState *a = state(in), *b = state(out);
    bool same_shape = a && b && a->shape_known() && b->shape_known() && a->shape == b->shape;
    std::string reason;
    if (op == "Identity" || op == "Dropout")
      reason = op + " is removed by TPU-MLIR";
    else if (op == "Cast")
      reason = "Cast is removed by TPU-MLIR's ONNX optimizer";
    else if ((op == "Reshape" || op == "Flatten" || op == "Squeeze" || op == "Unsqueeze") && same_shape)
      reason = "an identity " + op + " (same shape in and out) is removed";
    else if ((op == "Add" || op == "Sub") && same_shape && n.inputs.size() == 2 && const_equals(n.inputs[1], 0.0))
      reason = op + " of 0 is removed";
    else if ((op == "Mul" || op == "Div") && same_shape && n.inputs.size() == 2 && const_equals(n.inputs[1], 1.0))
      reason = op + " by 1 is removed";
    if (reason.empty()) continue;
    alias_[out] = canon(in);
    vanished_nodes_.push_back({static_cast<int>(i), canon(in), reason});
    group_of_[i] = -1;
  }
}

// [SECTION] Pass 2: onnxsim folds -------------------------------------------------------------

void Builder::onnxsim_folds() {
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    Group& grp = groups_[gi];
    if (grp.dead) continue;
    const Node& n = node(grp.main);
    // BatchNormalization / bias Add after a single-use Conv
    bool is_bn = n.op_type == "BatchNormalization" && n.outputs.size() >= 1;
    bool is_bias = n.op_type == "Add" && act_side(grp.main) >= 0;
    if (is_bn || is_bias) {
      std::string x = canon(n.inputs[is_bn ? 0 : act_side(grp.main)]);
      int conv = producer(x);
      if (conv >= 0 && groups_[conv].kind == "Conv" && uses(x) == 1) {  // onnxsim fuses into Conv only
        bool ok = true;
        if (is_bias) {  // bias must be per output channel: [C], [C,1,1] or [1,C,1,1]
          const Tensor* c = constant(n.inputs[1 - act_side(grp.main)]);
          const ValueState* xs = state(x);
          ok = c && xs && xs->rank_known && xs->shape.size() >= 2;
          if (ok) {
            Shape s = c->shape();
            while (!s.empty() && s.front() == 1 &&
                   static_cast<int64_t>(s.size()) > static_cast<int64_t>(xs->shape.size()) - 1)
              s.erase(s.begin());
            int64_t channels = xs->shape[1];
            ok = c->numel() == channels && (s.size() == xs->shape.size() - 1 || s.size() == 1);
            if (ok && s.size() == xs->shape.size() - 1)
              for (size_t k = 1; k < s.size(); ++k) ok &= s[k] == 1;
            if (ok && s.size() == 1 && xs->shape.size() > 2) ok = false;  // [C] broadcasts on W, not C
          }
        }
        if (ok) {
          std::string out = first_output(n);
          std::string old = groups_[conv].name;
          groups_[conv].outputs = {out};
          absorb(static_cast<int>(conv), static_cast<int>(gi),
                 std::string(is_bn ? "BatchNormalization" : "the bias Add") + " is folded into the Conv '" + old + "'");
          if (graph_outputs_.count(out)) {
            aliases_.push_back({groups_[conv].name, conv, "the Conv takes the graph output's name"});
            groups_[conv].name = out + "_" + node(groups_[conv].main).op_type;
          }
          rebuild_producers();
          continue;
        }
      }
    }
    // Pad (constant 0, spatial only) folded into the Conv/Pool that reads it alone
    if (n.op_type == "Pad" && !n.outputs.empty()) {
      std::string mode = n.attr_string("mode", "constant");
      const std::string out = first_output(n);
      auto cons = consumer_groups(out, static_cast<int>(gi));
      if (mode != "constant" || cons.size() != 1 || uses(out) != 1) continue;
      int c = *cons.begin();
      const std::string& ck = groups_[c].kind;
      if (ck != "Conv" && ck != "MaxPool" && ck != "AveragePool") continue;
      bool zero_value = n.inputs.size() < 3 || n.inputs[2].empty() || const_equals(n.inputs[2], 0.0);
      if (n.has_attr("value")) zero_value = n.attr_float("value", 0.0f) == 0.0f;
      std::vector<int64_t> pads = n.inputs.size() > 1 && !n.inputs[1].empty() && constant(n.inputs[1])
                                      ? constant(n.inputs[1])->to_i64()
                                      : n.attr_ints("pads");
      bool spatial_only = pads.size() >= 4 && pads.size() % 2 == 0;
      size_t r = pads.size() / 2;
      for (size_t k = 0; spatial_only && k < 2; ++k) spatial_only = pads[k] == 0 && pads[k + r] == 0;
      if (!zero_value || !spatial_only) continue;
      aliases_.push_back({groups_[gi].name, c, "the Pad is folded into '" + groups_[c].name + "'"});
      for (int nd : groups_[gi].nodes) {
        groups_[c].nodes.push_back(nd);
        group_of_[nd] = c;
      }
      std::sort(groups_[c].nodes.begin(), groups_[c].nodes.end());
      groups_[gi].dead = true;
      groups_[gi].nodes.clear();
      groups_[gi].outputs.clear();
      rebuild_producers();
    }
  }
}

// [SECTION] Pass 3: ONNX-level fusions --------------------------------------------------------

// Fuses the groups of `chain` (in order; the last one's output survives) into one group
// named "<last output>_<new_type>". Every intermediate output must be used only inside.
bool Builder::fuse_into_last(const std::vector<int>& chain, const std::string& new_type, const std::string& why) {
  std::set<int> members(chain.begin(), chain.end());
  if (members.size() != chain.size()) return false;
  for (size_t k = 0; k + 1 < chain.size(); ++k)
    for (const auto& o : groups_[chain[k]].outputs) {
      if (graph_outputs_.count(o)) return false;
      for (int cg : consumer_groups(o))
        if (!members.count(cg)) return false;
    }
  int last = chain.back();
  std::string out = groups_[last].outputs.empty() ? std::string() : groups_[last].outputs[0];
  std::string old_last = groups_[last].name;
  for (size_t k = 0; k + 1 < chain.size(); ++k) absorb(last, chain[k], why);
  groups_[last].name = out + "_" + new_type;
  groups_[last].kind = new_type;
  if (old_last != groups_[last].name) aliases_.push_back({old_last, last, why});
  rebuild_producers();
  return true;
}

void Builder::onnx_fusions() {
  auto group_kind = [&](int gi) -> const std::string& { return groups_[gi].kind; };
  auto out0 = [&](int gi) { return groups_[gi].outputs.empty() ? std::string() : groups_[gi].outputs[0]; };
  auto in_act = [&](int gi, size_t k) { return canon(node(groups_[gi].main).inputs.at(k)); };
  auto clip_0_6 = [&](int gi) {
    const Node& c = node(groups_[gi].main);
    return c.inputs.size() == 3 && const_equals(c.inputs[1], 0.0) && const_equals(c.inputs[2], 6.0);
  };
  bool changed = true;
  while (changed) {
    changed = false;
    for (size_t gi = 0; gi < groups_.size() && !changed; ++gi) {
      if (groups_[gi].dead || groups_[gi].nodes.size() != 1) continue;
      const Node& n = node(groups_[gi].main);
      const std::string& op = groups_[gi].kind;
      // LayerNormalization: ReduceMean, Sub, Pow 2, ReduceMean, Add eps, Sqrt, Div [, Mul w, Add b]
      if (op == "Div" && n.inputs.size() == 2) {
        int sqrt_g = producer(n.inputs[1]), sub_g = producer(n.inputs[0]);
        if (sqrt_g >= 0 && sub_g >= 0 && group_kind(sqrt_g) == "Sqrt" && group_kind(sub_g) == "Sub") {
          int add_g = producer(in_act(sqrt_g, 0));
          if (add_g >= 0 && group_kind(add_g) == "Add" && act_side(groups_[add_g].main) >= 0) {
            int rm1 = producer(in_act(add_g, act_side(groups_[add_g].main)));
            if (rm1 >= 0 && group_kind(rm1) == "ReduceMean") {
              int pow_g = producer(in_act(rm1, 0));
              if (pow_g >= 0 && group_kind(pow_g) == "Pow" && const_equals(node(groups_[pow_g].main).inputs[1], 2.0) &&
                  producer(in_act(pow_g, 0)) == sub_g) {
                int rm0 = producer(in_act(sub_g, 1));
                if (rm0 >= 0 && group_kind(rm0) == "ReduceMean" && in_act(rm0, 0) == in_act(sub_g, 0)) {
                  std::vector<int> chain{rm0, sub_g, pow_g, rm1, add_g, static_cast<int>(sqrt_g), static_cast<int>(gi)};
                  // affine tail
                  auto mc = consumer_groups(out0(static_cast<int>(gi)));
                  if (mc.size() == 1 && group_kind(*mc.begin()) == "Mul" && act_side(groups_[*mc.begin()].main) >= 0) {
                    int mul_g = *mc.begin();
                    auto ac = consumer_groups(out0(mul_g));
                    if (ac.size() == 1 && group_kind(*ac.begin()) == "Add" &&
                        act_side(groups_[*ac.begin()].main) >= 0) {
                      chain.push_back(mul_g);
                      chain.push_back(*ac.begin());
                    }
                  }
                  const Node& r0 = node(groups_[rm0].main);
                  auto axes = r0.attr_ints("axes");
                  bool last_dims = !axes.empty() && axes.back() == -1;
                  for (size_t k = 1; k < axes.size(); ++k) last_dims &= axes[k] - axes[k - 1] == 1;
                  bool c_dim = axes.size() == 1 && axes[0] == 1;
                  if ((last_dims || c_dim) &&
                      fuse_into_last(chain, last_dims ? "LayerNormalization" : "PixelNormalization",
                                     "the ReduceMean/Sub/Pow/Sqrt/Div chain becomes one normalization layer"))
                    changed = true;
                  continue;
                }
              }
            }
          }
        }
      }
      // GELU (erf form): Div(x, c) -> Erf -> Add 1 -> Mul(x, .) -> Mul 0.5
      if (op == "Erf") {
        int div_g = producer(in_act(static_cast<int>(gi), 0));
        auto ac = consumer_groups(out0(static_cast<int>(gi)));
        if (div_g >= 0 && group_kind(div_g) == "Div" && act_side(groups_[div_g].main) == 0 && ac.size() == 1) {
          int add_g = *ac.begin();
          std::string x = in_act(div_g, 0);
          if (group_kind(add_g) == "Add" && act_side(groups_[add_g].main) >= 0 &&
              const_equals(node(groups_[add_g].main).inputs[1 - act_side(groups_[add_g].main)], 1.0)) {
            auto mc = consumer_groups(out0(add_g));
            if (mc.size() == 1 && group_kind(*mc.begin()) == "Mul") {
              int mul0 = *mc.begin();
              const Node& m0 = node(groups_[mul0].main);
              bool reads_x = canon(m0.inputs[0]) == x || canon(m0.inputs[1]) == x;
              auto hc = consumer_groups(out0(mul0));
              if (reads_x && hc.size() == 1 && group_kind(*hc.begin()) == "Mul" &&
                  act_side(groups_[*hc.begin()].main) >= 0 &&
                  const_equals(node(groups_[*hc.begin()].main).inputs[1 - act_side(groups_[*hc.begin()].main)], 0.5)) {
                if (fuse_into_last({div_g, static_cast<int>(gi), add_g, mul0, *hc.begin()}, "GELU",
                                   "the Div/Erf/Add/Mul/Mul chain becomes GELU"))
                  changed = true;
                continue;
              }
            }
          }
        }
      }
      // HardSigmoid: Add 3 -> Clip(0,6) -> Div 6 ; HardSwish: Add 3 -> Clip(0,6) -> Mul(x,.) -> Div 6
      if (op == "Clip" && clip_0_6(static_cast<int>(gi))) {
        int add_g = producer(in_act(static_cast<int>(gi), 0));
        if (add_g < 0 || group_kind(add_g) != "Add" || act_side(groups_[add_g].main) < 0 ||
            !const_equals(node(groups_[add_g].main).inputs[1 - act_side(groups_[add_g].main)], 3.0))
          continue;
        std::string x = in_act(add_g, act_side(groups_[add_g].main));
        auto cc = consumer_groups(out0(static_cast<int>(gi)));
        if (cc.size() != 1) continue;
        int next = *cc.begin();
        const Node& nx = node(groups_[next].main);
        if (group_kind(next) == "Div" && act_side(groups_[next].main) == 0 && const_equals(nx.inputs[1], 6.0)) {
          if (fuse_into_last({add_g, static_cast<int>(gi), next}, "HardSigmoid",
                             "the Add/Clip/Div chain becomes HardSigmoid"))
            changed = true;
          continue;
        }
        if (group_kind(next) == "Mul" && (canon(nx.inputs[0]) == x || canon(nx.inputs[1]) == x)) {
          auto dc = consumer_groups(out0(next));
          if (dc.size() == 1 && group_kind(*dc.begin()) == "Div" && act_side(groups_[*dc.begin()].main) == 0 &&
              const_equals(node(groups_[*dc.begin()].main).inputs[1], 6.0)) {
            if (fuse_into_last({add_g, static_cast<int>(gi), next, *dc.begin()}, "HardSwish",
                               "the Add/Clip/Mul/Div chain becomes HardSwish"))
              changed = true;
            continue;
          }
        }
      }
      // HardSwish from an ONNX HardSigmoid(alpha=1/6, beta=0.5) and Mul(x, .)
      if (op == "HardSigmoid" && groups_[gi].nodes.size() == 1) {
        float alpha = n.attr_float("alpha", 0.2f), beta = n.attr_float("beta", 0.5f);
        if (std::fabs(alpha - 1.0f / 6.0f) > 1e-6f || beta != 0.5f) continue;
        std::string x = in_act(static_cast<int>(gi), 0);
        auto mc = consumer_groups(out0(static_cast<int>(gi)));
        if (mc.size() != 1 || group_kind(*mc.begin()) != "Mul") continue;
        const Node& m = node(groups_[*mc.begin()].main);
        if (canon(m.inputs[0]) != x && canon(m.inputs[1]) != x) continue;
        if (fuse_into_last({static_cast<int>(gi), *mc.begin()}, "HardSwish", "HardSigmoid and Mul become HardSwish"))
          changed = true;
      }
    }
  }
}

// [SECTION] Pass 4: canonicalization ----------------------------------------------------------

void Builder::canonicalize() {
  static const std::set<std::string> kReluFusable = {
      "Conv", "ConvTranspose", "BatchNormalization", "MaxPool", "AveragePool", "Add", "Sub", "Mul", "MatMul",
      "Gemm", "Upsample"};
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    if (groups_[gi].dead) continue;
    const Node& n = node(groups_[gi].main);
    // SiLU: Mul(x, Sigmoid(x)) with a single-use Sigmoid -> named after the Mul
    if (groups_[gi].kind == "Mul" && groups_[gi].nodes.size() == 1 && n.inputs.size() == 2) {
      for (int side = 0; side < 2; ++side) {
        std::string s = canon(n.inputs[side]), x = canon(n.inputs[1 - side]);
        int sg = producer(s);
        if (sg < 0 || groups_[sg].kind != "Sigmoid" || groups_[sg].nodes.size() != 1) continue;
        if (canon(node(groups_[sg].main).inputs[0]) != x || uses(s) != 1) continue;
        absorb(static_cast<int>(gi), sg, "SiLU fusion: the Sigmoid is absorbed by '" + groups_[gi].name + "'");
        groups_[gi].kind = "SiLU";
        rebuild_producers();
        break;
      }
    }
  }
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    if (groups_[gi].dead) continue;
    const Node& n = node(groups_[gi].main);
    bool relu = groups_[gi].kind == "Relu";
    if (groups_[gi].kind == "Clip") {
      // ReLU6-style Clip: min 0 (attribute before opset 11, input after)
      float lo = n.attr_float("min", -1.0f);
      if (n.inputs.size() > 1 && !n.inputs[1].empty()) lo = const_equals(n.inputs[1], 0.0) ? 0.0f : -1.0f;
      relu = lo == 0.0f && groups_[gi].nodes.size() == 1;
    }
    if (!relu || n.inputs.empty()) continue;
    std::string x = canon(n.inputs[0]);
    int p = producer(x);
    if (p < 0 || groups_[p].dead || !kReluFusable.count(groups_[p].kind) || uses(x) != 1) continue;
    std::string relu_name = groups_[gi].name;
    std::string old = groups_[p].name;
    std::vector<std::string> outs = groups_[gi].outputs;
    // the producer takes over: its nodes join the relu's group, which keeps the relu's name
    for (int nd : groups_[p].nodes) {
      groups_[gi].nodes.push_back(nd);
      group_of_[nd] = static_cast<int>(gi);
    }
    std::sort(groups_[gi].nodes.begin(), groups_[gi].nodes.end());
    groups_[gi].main = groups_[p].main;
    groups_[gi].kind = groups_[p].kind;
    aliases_.push_back({old, static_cast<int>(gi),
                        "the " + groups_[p].kind + " is fused with the following " + n.op_type +
                            " and takes its name '" + relu_name + "'"});
    for (auto& a : aliases_)
      if (a.group == p) a.group = static_cast<int>(gi);
    groups_[p].dead = true;
    groups_[p].nodes.clear();
    groups_[p].outputs.clear();
    rebuild_producers();
  }
}

// [SECTION] Building the layer list and name index ------------------------------------------

LayerGraph Builder::run() {
  for (const auto& o : g_.outputs) graph_outputs_.insert(o.name);
  group_of_.assign(g_.nodes.size(), -1);
  for (size_t i = 0; i < g_.nodes.size(); ++i)
    if (i >= shapes_.node_folded.size() || !shapes_.node_folded[i]) group_of_[i] = 0;  // live, assigned below
  vanish_nodes();
  for (size_t i = 0; i < g_.nodes.size(); ++i) {
    if (group_of_[i] < 0) continue;
    Group grp;
    grp.nodes = {static_cast<int>(i)};
    grp.main = static_cast<int>(i);
    grp.name = base_name(g_.nodes[i]);
    grp.kind = g_.nodes[i].op_type;
    for (const auto& o : g_.nodes[i].outputs)
      if (!o.empty()) grp.outputs.push_back(o);
    group_of_[i] = static_cast<int>(groups_.size());
    groups_.push_back(std::move(grp));
  }
  rebuild_producers();
  onnxsim_folds();
  onnx_fusions();
  canonicalize();

  LayerGraph lg;
  std::map<std::string, int> layer_of_tensor;
  for (const auto& in : g_.inputs) {
    Layer l;
    l.name = in.name;
    l.op_type = l.kind = "Input";
    l.outputs = {in.name};
    if (const ValueState* v = state(in.name)) {
      l.shape = v->shape;
      l.dtype = v->dtype;
    }
    layer_of_tensor[in.name] = static_cast<int>(lg.layers.size());
    l.is_output = graph_outputs_.count(in.name) != 0;
    lg.layers.push_back(std::move(l));
  }
  // groups in topological order of their last node
  std::vector<int> order;
  for (size_t gi = 0; gi < groups_.size(); ++gi)
    if (!groups_[gi].dead) order.push_back(static_cast<int>(gi));
  std::sort(order.begin(), order.end(),
            [&](int a, int b) { return groups_[a].nodes.back() < groups_[b].nodes.back(); });
  std::map<int, int> layer_of_group;
  for (int gi : order) {
    const Group& grp = groups_[gi];
    Layer l;
    l.name = grp.name;
    l.main_node = grp.main;
    l.op_type = node(grp.main).op_type;
    l.kind = grp.kind;
    l.onnx_nodes = grp.nodes;
    l.outputs = grp.outputs;
    std::set<std::string> inside;
    for (int nd : grp.nodes)
      for (const auto& o : node(nd).outputs) inside.insert(o);
    std::set<std::string> seen;
    for (int nd : grp.nodes)
      for (const auto& in : node(nd).inputs) {
        if (in.empty()) continue;
        if (is_const(in)) {
          if (!seen.count("w:" + in)) {
            l.weights.push_back(in);
            seen.insert("w:" + in);
          }
          continue;
        }
        std::string c = canon(in);
        if (inside.count(c) || seen.count(c)) continue;
        seen.insert(c);
        l.input_tensors.push_back(c);
        auto it = layer_of_tensor.find(c);
        if (it != layer_of_tensor.end() && std::find(l.inputs.begin(), l.inputs.end(), it->second) == l.inputs.end())
          l.inputs.push_back(it->second);
      }
    if (!l.outputs.empty())
      if (const ValueState* v = state(l.outputs[0])) {
        l.shape = v->shape;
        l.dtype = v->dtype;
      }
    for (const auto& o : l.outputs) {
      l.is_output |= graph_outputs_.count(o) != 0;
      layer_of_tensor[o] = static_cast<int>(lg.layers.size());
    }
    for (const auto& t : inside) layer_of_tensor.emplace(t, static_cast<int>(lg.layers.size()));
    layer_of_group[gi] = static_cast<int>(lg.layers.size());
    lg.layers.push_back(std::move(l));
  }
  for (size_t li = 0; li < lg.layers.size(); ++li)
    for (int p : lg.layers[li].inputs) lg.layers[p].consumers.push_back(static_cast<int>(li));
  // vanished names
  std::set<std::string> live_names;
  for (const auto& l : lg.layers) live_names.insert(l.name);
  for (const auto& a : aliases_) {
    auto it = layer_of_group.find(a.group);
    if (live_names.count(a.name) || it == layer_of_group.end()) continue;
    lg.vanished.push_back({a.name, it->second, a.reason + " (surviving layer '" + lg.layers[it->second].name + "')"});
  }
  for (const auto& v : vanished_nodes_) {
    std::string nm = base_name(node(v.node));
    if (live_names.count(nm)) continue;
    auto it = layer_of_tensor.find(v.tensor);
    int li = it == layer_of_tensor.end() ? -1 : it->second;
    lg.vanished.push_back(
        {nm, li, v.reason + (li >= 0 ? " (its input comes from layer '" + lg.layers[li].name + "')" : "")});
  }
  for (size_t i = 0; i < g_.nodes.size(); ++i) {
    if (i < shapes_.node_folded.size() && shapes_.node_folded[i]) {
      std::string nm = base_name(node(static_cast<int>(i)));
      if (!live_names.count(nm))
        lg.vanished.push_back({nm, -1, "constant-folded into a weight (its inputs are all constants)"});
    }
  }
  lg.index(g_);
  return lg;
}

}  // namespace

LayerGraph build_layers(const Model& model, const ShapeInfo& shapes) {
  Builder b(model, shapes);
  return b.run();
}

int LayerGraph::find(const std::string& layer_name) const {
  auto it = by_name_.find(layer_name);
  return it == by_name_.end() ? -1 : it->second;
}

std::vector<std::string> LayerGraph::names() const {
  std::vector<std::string> r;
  for (const auto& l : layers) r.push_back(l.name);
  return r;
}

void LayerGraph::index(const Graph& graph) {
  by_name_.clear();
  by_node_name_.clear();
  by_tensor_.clear();
  by_vanished_.clear();
  for (size_t li = 0; li < layers.size(); ++li) {
    const Layer& l = layers[li];
    by_name_.emplace(l.name, static_cast<int>(li));
    for (const auto& o : l.outputs) by_tensor_.emplace(o, static_cast<int>(li));
    for (int nd : l.onnx_nodes) {
      const Node& n = graph.nodes[nd];
      if (!n.name.empty()) by_node_name_.emplace(n.name, static_cast<int>(li));
      for (const auto& o : n.outputs)
        if (!o.empty()) by_tensor_.emplace(o, static_cast<int>(li));
    }
  }
  for (size_t vi = 0; vi < vanished.size(); ++vi) {
    by_vanished_.emplace(vanished[vi].name, static_cast<int>(vi));
  }
  // node names / tensors of vanished (Identity-like) nodes resolve to the layer their input came from
  for (const auto& v : vanished) {
    if (v.layer < 0) continue;
    auto pos = v.name.rfind('_');
    if (pos != std::string::npos) by_tensor_.emplace(v.name.substr(0, pos), v.layer);
  }
  for (const auto& n : graph.nodes) {
    if (n.name.empty() || by_node_name_.count(n.name)) continue;
    std::string base = (n.outputs.empty() ? n.name : n.outputs[0]) + "_" + n.op_type;
    auto it = by_vanished_.find(base);
    if (it != by_vanished_.end() && vanished[it->second].layer >= 0)
      by_node_name_.emplace(n.name, vanished[it->second].layer);
  }
}

NameMatch LayerGraph::resolve(const std::string& name) const {
  NameMatch m;
  if (auto it = by_name_.find(name); it != by_name_.end()) {
    m.how = NameMatch::How::Layer;
    m.layer = it->second;
    return m;
  }
  if (auto it = by_vanished_.find(name); it != by_vanished_.end()) {
    m.how = NameMatch::How::Vanished;
    m.layer = vanished[it->second].layer;
    m.reason = "'" + name + "' is not a layer in TPU-MLIR's graph: " + vanished[it->second].reason;
    return m;
  }
  if (auto it = by_node_name_.find(name); it != by_node_name_.end()) {
    m.how = NameMatch::How::NodeName;
    m.layer = it->second;
    m.reason = "'" + name + "' is an ONNX node name; TPU-MLIR names this layer '" + layers[it->second].name + "'";
    return m;
  }
  if (auto it = by_tensor_.find(name); it != by_tensor_.end()) {
    m.how = NameMatch::How::TensorName;
    m.layer = it->second;
    m.reason = "'" + name + "' is an ONNX tensor name; TPU-MLIR names its layer '" + layers[it->second].name + "'";
    return m;
  }
  return m;
}

// [SECTION] .mlir names -------------------------------------------------------------------------

std::vector<std::string> parse_mlir_names(const std::string& text, const std::string& source_name) {
  std::vector<std::string> names;
  std::set<std::string> seen;
  const std::string key = "loc(";
  size_t pos = 0;
  while ((pos = text.find(key, pos)) != std::string::npos) {
    pos += key.size();
    // loc("name") or loc(fused["a", "b"]) ; skip loc(#locN) references and callsite/unknown
    size_t end = pos;
    int depth = 1;
    while (end < text.size() && depth > 0) {
      if (text[end] == '"') {
        ++end;
        while (end < text.size() && text[end] != '"') end += text[end] == '\\' ? 2 : 1;
      } else if (text[end] == '(') {
        ++depth;
      } else if (text[end] == ')') {
        --depth;
      } else if (text[end] == '\n') {
        break;
      }
      ++end;
    }
    std::string inner = text.substr(pos, end - pos);
    size_t q = 0;
    while ((q = inner.find('"', q)) != std::string::npos) {
      size_t e = q + 1;
      std::string s;
      while (e < inner.size() && inner[e] != '"') {
        if (inner[e] == '\\' && e + 1 < inner.size()) ++e;
        s += inner[e++];
      }
      if (!s.empty() && seen.insert(s).second) names.push_back(s);
      q = e + 1;
    }
    pos = end;
  }
  require(!names.empty(),
          source_name + ": no loc(\"...\") names found (expected the top .mlir written by model_transform.py)");
  return names;
}

void apply_mlir_names(LayerGraph& lg, const Model& model, const std::vector<std::string>& mlir_names) {
  std::set<std::string> avail(mlir_names.begin(), mlir_names.end());
  std::set<std::string> taken;
  for (auto& l : lg.layers)
    if (avail.count(l.name)) taken.insert(l.name);
  for (size_t li = 0; li < lg.layers.size(); ++li) {
    Layer& l = lg.layers[li];
    if (avail.count(l.name)) continue;
    std::vector<std::string> candidates;
    for (int nd : l.onnx_nodes) {
      const Node& n = model.graph.nodes[nd];
      for (const auto& o : n.outputs)
        if (!o.empty()) candidates.push_back(o + "_" + n.op_type);
    }
    for (const auto& v : lg.vanished)
      if (v.layer == static_cast<int>(li)) candidates.push_back(v.name);
    std::vector<std::string> hits;
    for (const auto& c : candidates)
      if (avail.count(c) && !taken.count(c) && std::find(hits.begin(), hits.end(), c) == hits.end()) hits.push_back(c);
    if (hits.size() != 1) continue;
    lg.vanished.push_back({l.name, static_cast<int>(li), "the .mlir names this layer '" + hits[0] + "'"});
    std::erase_if(lg.vanished, [&](const NameAlias& a) { return a.name == hits[0]; });
    l.name = hits[0];
    taken.insert(hits[0]);
  }
  std::set<std::string> live;
  for (const auto& l : lg.layers) live.insert(l.name);
  lg.mlir_unmatched.clear();
  for (const auto& n : mlir_names)
    if (!live.count(n)) lg.mlir_unmatched.push_back(n);
  lg.index(model.graph);
}

}  // namespace mixq
