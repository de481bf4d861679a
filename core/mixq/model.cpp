// [SECTION] Node attribute access
// [SECTION] Graph indexing
// [SECTION] Protobuf -> Model conversion (tensors, value infos, attributes, nodes)
// [SECTION] Validation and topological order
// [SECTION] Model -> protobuf (save_onnx)
#include "mixq/model.h"

#include <algorithm>
#include <queue>
#include <set>

#include "mixq/error.h"
#include "onnx/onnx.pb.h"

namespace mixq {

// [SECTION] Node attribute access ------------------------------------------------------

namespace {
const Attribute* find_attr(const Node& n, const std::string& key, Attribute::Kind kind, const char* kind_name) {
  auto it = n.attrs.find(key);
  if (it == n.attrs.end()) return nullptr;
  require(it->second.kind == kind,
          n.describe() + ": attribute '" + key + "' is not of the expected kind (" + kind_name + ")");
  return &it->second;
}
}  // namespace

int64_t Node::attr_int(const std::string& key, int64_t fallback) const {
  const Attribute* a = find_attr(*this, key, Attribute::Kind::Int, "int");
  return a ? a->i : fallback;
}
float Node::attr_float(const std::string& key, float fallback) const {
  auto it = attrs.find(key);
  if (it != attrs.end() && it->second.kind == Attribute::Kind::Int) return static_cast<float>(it->second.i);
  const Attribute* a = find_attr(*this, key, Attribute::Kind::Float, "float");
  return a ? a->f : fallback;
}
std::string Node::attr_string(const std::string& key, const std::string& fallback) const {
  const Attribute* a = find_attr(*this, key, Attribute::Kind::String, "string");
  return a ? a->s : fallback;
}
std::vector<int64_t> Node::attr_ints(const std::string& key, std::vector<int64_t> fallback) const {
  const Attribute* a = find_attr(*this, key, Attribute::Kind::Ints, "ints");
  return a ? a->ints : fallback;
}
std::vector<float> Node::attr_floats(const std::string& key, std::vector<float> fallback) const {
  const Attribute* a = find_attr(*this, key, Attribute::Kind::Floats, "floats");
  return a ? a->floats : fallback;
}
const Tensor* Node::attr_tensor(const std::string& key) const {
  const Attribute* a = find_attr(*this, key, Attribute::Kind::Tensor, "tensor");
  return a ? &a->t : nullptr;
}
std::string Node::describe() const {
  if (!name.empty()) return op_type + " '" + name + "'";
  for (const auto& o : outputs)
    if (!o.empty()) return op_type + " (output '" + o + "')";
  return op_type + " (unnamed)";
}

// [SECTION] Graph indexing ------------------------------------------------------------------

int Graph::producer(const std::string& tensor) const {
  auto it = producer_.find(tensor);
  return it == producer_.end() ? -1 : it->second;
}

void Graph::index() {
  producer_.clear();
  for (size_t i = 0; i < nodes.size(); ++i)
    for (const auto& o : nodes[i].outputs)
      if (!o.empty()) producer_[o] = static_cast<int>(i);
}

int64_t Model::opset() const {
  for (const auto& o : opsets)
    if (o.domain.empty() || o.domain == "ai.onnx") return o.version;
  return 0;
}

// [SECTION] Protobuf -> Model conversion ---------------------------------------------------

namespace {

constexpr int kMaxGraphDepth = 16;

struct Converter {
  const LoadOptions& options;
  std::string src;  // options.source_name

  Tensor tensor(const onnx::TensorProto& tp, const std::string& what) {
    const std::string w = src + ": " + what;
    require(onnx::TensorProto_DataType_IsValid(tp.data_type()) && tp.data_type() != 0,
            w + ": invalid element type code " + std::to_string(tp.data_type()));
    DType dt = static_cast<DType>(tp.data_type());
    require(dt != DType::String, w + ": string tensors are not supported");
    require(dtype_size(dt) > 0, w + ": unsupported element type " + dtype_name(dt));
    Shape shape(tp.dims().begin(), tp.dims().end());
    int64_t n = shape_numel(shape, w);
    if (tp.data_location() == onnx::TensorProto_DataLocation_EXTERNAL) {
      std::string location;
      int64_t offset = 0, length = -1;
      for (const auto& kv : tp.external_data()) {
        try {
          if (kv.key() == "location")
            location = kv.value();
          else if (kv.key() == "offset")
            offset = std::stoll(kv.value());
          else if (kv.key() == "length")
            length = std::stoll(kv.value());
        } catch (const std::exception&) {
          throw Error(w + ": external_data field '" + kv.key() + "' is not a number: '" + kv.value() + "'");
        }
      }
      require(!location.empty(), w + ": external data without a 'location'");
      require(offset >= 0, w + ": negative external data offset");
      require(options.external_data != nullptr,
              w + ": weights are stored in the external file '" + location +
                  "', which cannot be read here (open the model from disk with its side file)");
      std::vector<uint8_t> bytes = options.external_data(location, offset, length);
      return tensor_from_bytes(dt, shape, bytes, w + " (external data '" + location + "')");
    }
    if (tp.has_raw_data()) {
      const std::string& raw = tp.raw_data();
      return tensor_from_bytes(dt, shape, {reinterpret_cast<const uint8_t*>(raw.data()), raw.size()}, w);
    }
    auto check_count = [&](int64_t count, const char* field) {
      require(count == n, w + ": " + field + " holds " + std::to_string(count) + " values, shape " + shape_str(shape) +
                              " needs " + std::to_string(n));
    };
    switch (dt) {
      case DType::Float32:
        check_count(tp.float_data_size(), "float_data");
        return Tensor::from_f32(shape, {tp.float_data().begin(), tp.float_data().end()});
      case DType::Int64:
        check_count(tp.int64_data_size(), "int64_data");
        return Tensor::from_i64(shape, {tp.int64_data().begin(), tp.int64_data().end()});
      case DType::Float64:
        check_count(tp.double_data_size(), "double_data");
        return tensor_from_f64(dt, shape, {tp.double_data().begin(), tp.double_data().end()});
      case DType::UInt32:
      case DType::UInt64: {
        check_count(tp.uint64_data_size(), "uint64_data");
        std::vector<int64_t> v(tp.uint64_data().begin(), tp.uint64_data().end());
        return tensor_from_i64(dt, shape, v);
      }
      case DType::Float16:
      case DType::BFloat16: {
        check_count(tp.int32_data_size(), "int32_data");
        Tensor t(dt, shape);
        for (int64_t i = 0; i < n; ++i) {
          uint16_t bits = static_cast<uint16_t>(tp.int32_data(static_cast<int>(i)));
          std::memcpy(t.mutable_bytes().data() + i * 2, &bits, 2);
        }
        return t;
      }
      case DType::Int32:
      case DType::Int16:
      case DType::Int8:
      case DType::UInt16:
      case DType::UInt8:
      case DType::Bool: {
        check_count(tp.int32_data_size(), "int32_data");
        std::vector<int64_t> v(tp.int32_data().begin(), tp.int32_data().end());
        return tensor_from_i64(dt, shape, v);
      }
      default:
        throw Error(w + ": unsupported element type " + dtype_name(dt));
    }
  }

  ValueInfo value_info(const onnx::ValueInfoProto& vp) {
    ValueInfo v;
    v.name = vp.name();
    if (vp.has_type() && vp.type().has_tensor_type()) {
      const auto& tt = vp.type().tensor_type();
      v.dtype = static_cast<DType>(tt.elem_type());
      if (tt.has_shape()) {
        v.has_shape = true;
        for (const auto& d : tt.shape().dim()) {
          if (d.has_dim_value()) {
            require(d.dim_value() >= 0,
                    src + ": value '" + v.name + "': negative dimension " + std::to_string(d.dim_value()));
            v.dims.push_back(d.dim_value());
            v.dim_names.emplace_back();
          } else {
            v.dims.push_back(-1);
            v.dim_names.push_back(d.has_dim_param() ? d.dim_param() : std::string());
          }
        }
      }
    }
    return v;
  }

  Attribute attribute(const onnx::AttributeProto& ap, const std::string& where, int depth) {
    Attribute a;
    using K = Attribute::Kind;
    using T = onnx::AttributeProto;
    const std::string w = where + " attribute '" + ap.name() + "'";
    auto type = ap.type();
    if (type == T::UNDEFINED) {  // very old files: infer from the populated field
      if (ap.has_f())
        type = T::FLOAT;
      else if (ap.has_i())
        type = T::INT;
      else if (ap.has_s())
        type = T::STRING;
      else if (ap.has_t())
        type = T::TENSOR;
      else if (ap.has_g())
        type = T::GRAPH;
      else if (ap.floats_size())
        type = T::FLOATS;
      else if (ap.ints_size())
        type = T::INTS;
      else if (ap.strings_size())
        type = T::STRINGS;
    }
    switch (type) {
      case T::FLOAT:
        a.kind = K::Float;
        a.f = ap.f();
        break;
      case T::INT:
        a.kind = K::Int;
        a.i = ap.i();
        break;
      case T::STRING:
        a.kind = K::String;
        a.s = ap.s();
        break;
      case T::TENSOR:
        a.kind = K::Tensor;
        a.t = tensor(ap.t(), w);
        break;
      case T::FLOATS:
        a.kind = K::Floats;
        a.floats.assign(ap.floats().begin(), ap.floats().end());
        break;
      case T::INTS:
        a.kind = K::Ints;
        a.ints.assign(ap.ints().begin(), ap.ints().end());
        break;
      case T::STRINGS:
        a.kind = K::Strings;
        a.strings.assign(ap.strings().begin(), ap.strings().end());
        break;
      case T::TENSORS:
        a.kind = K::Tensors;
        for (const auto& t : ap.tensors()) a.tensors.push_back(tensor(t, w));
        break;
      case T::GRAPH:
        a.kind = K::Graph;
        a.graphs.push_back(std::make_shared<Graph>(graph(ap.g(), depth + 1, false)));
        break;
      case T::GRAPHS:
        a.kind = K::Graphs;
        for (const auto& g : ap.graphs()) a.graphs.push_back(std::make_shared<Graph>(graph(g, depth + 1, false)));
        break;
      default:
        a.kind = K::Other;
        break;  // sparse tensors, type protos: kept opaque
    }
    return a;
  }

  Graph graph(const onnx::GraphProto& gp, int depth, bool top_level) {
    require(depth <= kMaxGraphDepth, src + ": sub-graphs nested deeper than " + std::to_string(kMaxGraphDepth));
    Graph g;
    g.name = gp.name();
    for (int i = 0; i < gp.initializer_size(); ++i) {
      const auto& tp = gp.initializer(i);
      require(!tp.name().empty(), src + ": initializer #" + std::to_string(i) + " has no name");
      require(!g.weights.count(tp.name()), src + ": initializer '" + tp.name() + "' is defined twice");
      g.weights.emplace(tp.name(), tensor(tp, "initializer '" + tp.name() + "'"));
    }
    for (const auto& vp : gp.input()) {
      require(!vp.name().empty(), src + ": a graph input has no name");
      if (g.weights.count(vp.name())) continue;  // old exporters list initializers as inputs
      for (const auto& in : g.inputs)
        require(in.name != vp.name(), src + ": graph input '" + vp.name() + "' is listed twice");
      g.inputs.push_back(value_info(vp));
    }
    for (const auto& vp : gp.output()) g.outputs.push_back(value_info(vp));
    for (const auto& vp : gp.value_info()) g.value_info[vp.name()] = value_info(vp);
    for (int i = 0; i < gp.node_size(); ++i) {
      const auto& np = gp.node(i);
      Node n;
      n.name = np.name();
      n.op_type = np.op_type();
      n.domain = np.domain() == "ai.onnx" ? std::string() : np.domain();
      n.inputs.assign(np.input().begin(), np.input().end());
      n.outputs.assign(np.output().begin(), np.output().end());
      std::string where = src + ": node #" + std::to_string(i) + " (" + n.describe() + ")";
      require(!n.op_type.empty(), where + ": node has no op_type");
      for (const auto& ap : np.attribute()) {
        require(!ap.name().empty(), where + ": attribute without a name");
        n.attrs[ap.name()] = attribute(ap, where, depth);
      }
      if (n.op_type == "Constant" && n.domain.empty() && top_level) {
        require(n.outputs.size() == 1 && !n.outputs[0].empty(), where + ": Constant must have exactly one output");
        Tensor value;
        if (const Tensor* t = n.attr_tensor("value"))
          value = *t;
        else if (n.has_attr("value_float"))
          value = Tensor::scalar_f32(n.attr_float("value_float", 0));
        else if (n.has_attr("value_int"))
          value = Tensor::scalar_i64(n.attr_int("value_int", 0));
        else if (n.has_attr("value_floats")) {
          auto v = n.attr_floats("value_floats");
          value = Tensor::from_f32({(int64_t)v.size()}, v);
        } else if (n.has_attr("value_ints")) {
          auto v = n.attr_ints("value_ints");
          value = Tensor::from_i64({(int64_t)v.size()}, v);
        } else
          throw Error(where +
                      ": Constant without a supported value attribute (value, value_float, value_int, value_floats, "
                      "value_ints)");
        require(!g.weights.count(n.outputs[0]), where + ": output '" + n.outputs[0] + "' is already an initializer");
        g.weights.emplace(n.outputs[0], std::move(value));
        g.constant_nodes[n.outputs[0]] = n.name;
        continue;
      }
      g.nodes.push_back(std::move(n));
    }
    return g;
  }
};

// [SECTION] Validation and topological order ------------------------------------------------

// Names a sub-graph reads from its enclosing scope (used but not produced inside).
void collect_outer_uses(const Graph& g, std::set<std::string>& uses) {
  std::set<std::string> local;
  for (const auto& in : g.inputs) local.insert(in.name);
  for (const auto& [name, t] : g.weights) local.insert(name);
  for (const auto& n : g.nodes)
    for (const auto& o : n.outputs) local.insert(o);
  for (const auto& n : g.nodes) {
    for (const auto& i : n.inputs)
      if (!i.empty() && !local.count(i)) uses.insert(i);
    for (const auto& [k, a] : n.attrs)
      for (const auto& sub : a.graphs) {
        std::set<std::string> inner;
        collect_outer_uses(*sub, inner);
        for (const auto& u : inner)
          if (!local.count(u)) uses.insert(u);
      }
  }
}

void validate_and_sort(Graph& g, const std::string& src) {
  std::map<std::string, int> producer;
  std::set<std::string> available;
  for (const auto& in : g.inputs) available.insert(in.name);
  for (const auto& [name, t] : g.weights) available.insert(name);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    for (const auto& o : g.nodes[i].outputs) {
      if (o.empty()) continue;
      require(!available.count(o),
              src + ": " + g.nodes[i].describe() + " writes '" + o + "', which is already a graph input or weight");
      auto [it, fresh] = producer.emplace(o, static_cast<int>(i));
      require(fresh, src + ": tensor '" + o + "' is produced twice (by " + g.nodes[it->second].describe() + " and " +
                         g.nodes[i].describe() + ")");
    }
  }
  // dependencies
  const size_t n = g.nodes.size();
  std::vector<std::vector<int>> users(n);
  std::vector<int> pending(n, 0);
  for (size_t i = 0; i < n; ++i) {
    std::set<std::string> deps;
    for (const auto& in : g.nodes[i].inputs)
      if (!in.empty()) deps.insert(in);
    for (const auto& [k, a] : g.nodes[i].attrs)
      for (const auto& sub : a.graphs) collect_outer_uses(*sub, deps);
    for (const auto& d : deps) {
      if (available.count(d)) continue;
      auto it = producer.find(d);
      bool explicit_input = std::find(g.nodes[i].inputs.begin(), g.nodes[i].inputs.end(), d) != g.nodes[i].inputs.end();
      if (it == producer.end()) {
        require(!explicit_input, src + ": " + g.nodes[i].describe() + " reads '" + d +
                                     "', which is no graph input, weight or node output");
        continue;  // sub-graph name from a scope further out: not our concern
      }
      users[it->second].push_back(static_cast<int>(i));
      ++pending[i];
    }
  }
  // Kahn's algorithm, keeping file order among ready nodes
  std::priority_queue<int, std::vector<int>, std::greater<int>> ready;
  for (size_t i = 0; i < n; ++i)
    if (pending[i] == 0) ready.push(static_cast<int>(i));
  std::vector<int> order;
  order.reserve(n);
  while (!ready.empty()) {
    int i = ready.top();
    ready.pop();
    order.push_back(i);
    for (int u : users[i])
      if (--pending[u] == 0) ready.push(u);
  }
  if (order.size() != n) {
    // walk back through unresolved dependencies to name one cycle
    int start = -1;
    for (size_t i = 0; i < n; ++i)
      if (pending[i] > 0) {
        start = static_cast<int>(i);
        break;
      }
    std::vector<int> path;
    std::map<int, size_t> seen;
    int cur = start;
    while (cur >= 0 && !seen.count(cur)) {
      seen[cur] = path.size();
      path.push_back(cur);
      int next = -1;
      for (const auto& in : g.nodes[cur].inputs) {
        auto it = producer.find(in);
        if (it != producer.end() && pending[it->second] > 0) {
          next = it->second;
          break;
        }
      }
      cur = next;
    }
    std::string cycle;
    if (cur >= 0)
      for (size_t k = seen[cur]; k < path.size(); ++k)
        cycle += (cycle.empty() ? "" : " <- ") + g.nodes[path[k]].describe();
    throw Error(src + ": the graph has a cycle" + (cycle.empty() ? std::string() : ": " + cycle));
  }
  std::vector<Node> sorted;
  sorted.reserve(n);
  for (int i : order) sorted.push_back(std::move(g.nodes[i]));
  g.nodes = std::move(sorted);
  g.index();
  for (const auto& out : g.outputs)
    require(available.count(out.name) || producer.count(out.name),
            src + ": graph output '" + out.name + "' is not produced by any node");
}

}  // namespace

Model load_onnx(std::span<const uint8_t> bytes, const LoadOptions& options) {
  const std::string& src = options.source_name;
  require(!bytes.empty(), src + ": the file is empty (expected an ONNX ModelProto)");
  require(bytes.size() < (size_t(1) << 31), src + ": files over 2 GiB need external data");
  onnx::ModelProto mp;
  require(mp.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())),
          src + ": not a valid ONNX model (the protobuf does not parse; truncated or not an .onnx file?)");
  require(mp.has_graph(), src + ": the ONNX model has no graph");
  Model m;
  m.ir_version = mp.ir_version();
  m.producer_name = mp.producer_name();
  m.producer_version = mp.producer_version();
  for (const auto& o : mp.opset_import()) m.opsets.push_back({o.domain(), o.version()});
  Converter conv{options, src};
  m.graph = conv.graph(mp.graph(), 0, true);
  require(!m.graph.nodes.empty() || !m.graph.outputs.empty(), src + ": the graph is empty");
  validate_and_sort(m.graph, src);
  return m;
}

// [SECTION] Model -> protobuf (save_onnx) ---------------------------------------------------

namespace {
void put_tensor(onnx::TensorProto* tp, const std::string& name, const Tensor& t) {
  tp->set_name(name);
  tp->set_data_type(static_cast<int>(t.dtype()));
  for (int64_t d : t.shape()) tp->add_dims(d);
  tp->set_raw_data(std::string(reinterpret_cast<const char*>(t.bytes().data()), t.nbytes()));
}
void put_value_info(onnx::ValueInfoProto* vp, const ValueInfo& v) {
  vp->set_name(v.name);
  if (v.dtype == DType::Undefined && !v.has_shape) return;
  auto* tt = vp->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(static_cast<int>(v.dtype));
  if (v.has_shape) {
    auto* sh = tt->mutable_shape();
    for (size_t i = 0; i < v.dims.size(); ++i) {
      auto* d = sh->add_dim();
      if (v.dims[i] >= 0)
        d->set_dim_value(v.dims[i]);
      else if (i < v.dim_names.size() && !v.dim_names[i].empty())
        d->set_dim_param(v.dim_names[i]);
    }
  }
}
void put_graph(onnx::GraphProto* gp, const Graph& g) {
  gp->set_name(g.name);
  for (const auto& [name, t] : g.weights) put_tensor(gp->add_initializer(), name, t);
  for (const auto& v : g.inputs) put_value_info(gp->add_input(), v);
  for (const auto& v : g.outputs) put_value_info(gp->add_output(), v);
  for (const auto& [name, v] : g.value_info) put_value_info(gp->add_value_info(), v);
  for (const auto& n : g.nodes) {
    auto* np = gp->add_node();
    np->set_name(n.name);
    np->set_op_type(n.op_type);
    if (!n.domain.empty()) np->set_domain(n.domain);
    for (const auto& i : n.inputs) np->add_input(i);
    for (const auto& o : n.outputs) np->add_output(o);
    for (const auto& [key, a] : n.attrs) {
      auto* ap = np->add_attribute();
      ap->set_name(key);
      using K = Attribute::Kind;
      using T = onnx::AttributeProto;
      switch (a.kind) {
        case K::Float:
          ap->set_type(T::FLOAT);
          ap->set_f(a.f);
          break;
        case K::Int:
          ap->set_type(T::INT);
          ap->set_i(a.i);
          break;
        case K::String:
          ap->set_type(T::STRING);
          ap->set_s(a.s);
          break;
        case K::Tensor:
          ap->set_type(T::TENSOR);
          put_tensor(ap->mutable_t(), "", a.t);
          break;
        case K::Floats:
          ap->set_type(T::FLOATS);
          for (float f : a.floats) ap->add_floats(f);
          break;
        case K::Ints:
          ap->set_type(T::INTS);
          for (int64_t i : a.ints) ap->add_ints(i);
          break;
        case K::Strings:
          ap->set_type(T::STRINGS);
          for (const auto& s : a.strings) ap->add_strings(s);
          break;
        case K::Tensors:
          ap->set_type(T::TENSORS);
          for (const auto& t : a.tensors) put_tensor(ap->add_tensors(), "", t);
          break;
        case K::Graph:
          ap->set_type(T::GRAPH);
          put_graph(ap->mutable_g(), *a.graphs.at(0));
          break;
        case K::Graphs:
          ap->set_type(T::GRAPHS);
          for (const auto& sg : a.graphs) put_graph(ap->add_graphs(), *sg);
          break;
        default:
          break;
      }
    }
  }
}
}  // namespace

std::vector<uint8_t> save_onnx(const Model& m) {
  onnx::ModelProto mp;
  mp.set_ir_version(m.ir_version ? m.ir_version : 8);
  mp.set_producer_name(m.producer_name);
  mp.set_producer_version(m.producer_version);
  for (const auto& o : m.opsets) {
    auto* op = mp.add_opset_import();
    op->set_domain(o.domain);
    op->set_version(o.version);
  }
  put_graph(mp.mutable_graph(), m.graph);
  std::string s = mp.SerializeAsString();
  return {s.begin(), s.end()};
}

}  // namespace mixq
