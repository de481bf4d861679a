// [SECTION] Helpers: indices, broadcasting, attribute/input reads
// [SECTION] Data movement (dtype-agnostic): Reshape family, Transpose, Concat, Slice, Gather, Expand, Tile
// [SECTION] Elementwise arithmetic and comparisons
// [SECTION] Generators and reductions: Shape, ConstantOfShape, Range, Reduce*
// [SECTION] Dispatch
#include "mixq/const_eval.h"

#include <cmath>
#include <cstring>
#include <functional>
#include <numeric>
#include <type_traits>

#include "mixq/error.h"
#include "mixq/shape_inference.h"

namespace mixq {
namespace {

// [SECTION] Helpers -------------------------------------------------------------------------

std::vector<int64_t> strides_of(const Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (int i = static_cast<int>(s.size()) - 2; i >= 0; --i) st[i] = st[i + 1] * s[i + 1];
  return st;
}

int64_t norm_axis(int64_t axis, int64_t rank, const Node& n) {
  require(axis >= -rank && axis < rank,
          n.describe() + ": axis " + std::to_string(axis) + " out of range for rank " + std::to_string(rank));
  return axis < 0 ? axis + rank : axis;
}

// Copies element i of src into element j of dst (same dtype).
inline void copy_elem(const Tensor& src, int64_t i, Tensor& dst, int64_t j) {
  size_t es = dtype_size(src.dtype());
  std::memcpy(dst.mutable_bytes().data() + j * es, src.bytes().data() + i * es, es);
}

// For every index of `out_shape`, calls fn(out_flat, in_flat) where in_flat is the
// broadcast source index into `in_shape` (right-aligned).
void for_broadcast(const Shape& out_shape, const Shape& in_shape, const std::function<void(int64_t, int64_t)>& fn) {
  int64_t n = shape_numel(out_shape);
  size_t r = out_shape.size();
  std::vector<int64_t> in_st(r, 0);
  auto ist = strides_of(in_shape);
  size_t off = r - in_shape.size();
  for (size_t k = 0; k < in_shape.size(); ++k) in_st[off + k] = in_shape[k] == 1 ? 0 : ist[k];
  std::vector<int64_t> idx(r, 0);
  int64_t src = 0;
  for (int64_t o = 0; o < n; ++o) {
    fn(o, src);
    for (int k = static_cast<int>(r) - 1; k >= 0; --k) {
      ++idx[k];
      src += in_st[k];
      if (idx[k] < out_shape[k]) break;
      src -= in_st[k] * idx[k];
      idx[k] = 0;
    }
  }
}

std::vector<int64_t> ints_input(const std::vector<const Tensor*>& in, size_t k) {
  if (k >= in.size() || !in[k]) return {};
  return in[k]->to_i64();
}

// [SECTION] Data movement -------------------------------------------------------------------

Tensor reshaped(const Tensor& t, Shape s) {
  Tensor out = t;
  out.reshape(std::move(s));
  return out;
}

Shape reshape_target(const Node& n, const Shape& in, const std::vector<int64_t>& spec, bool allowzero) {
  Shape out(spec.begin(), spec.end());
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == 0 && !allowzero) {
      require(i < in.size(),
              n.describe() + ": shape entry 0 at position " + std::to_string(i) + " has no input dim to copy");
      out[i] = in[i];
    }
    if (out[i] == -1) {
      require(infer < 0, n.describe() + ": more than one -1 in the target shape");
      infer = static_cast<int64_t>(i);
    } else {
      require(out[i] >= 0, n.describe() + ": invalid target dim " + std::to_string(out[i]));
      known *= out[i];
    }
  }
  int64_t total = shape_numel(in);
  if (infer >= 0) {
    require(known > 0 && total % known == 0,
            n.describe() + ": cannot reshape " + shape_str(in) + " to " + shape_str(Shape(spec.begin(), spec.end())));
    out[infer] = total / known;
  }
  require(shape_numel(out) == total, n.describe() + ": cannot reshape " + shape_str(in) + " (" + std::to_string(total) +
                                         " elements) to " + shape_str(out));
  return out;
}

Tensor transpose(const Tensor& t, const std::vector<int64_t>& perm_in, const Node& n) {
  size_t r = t.shape().size();
  std::vector<int64_t> perm = perm_in;
  if (perm.empty())
    for (size_t i = 0; i < r; ++i) perm.push_back(static_cast<int64_t>(r - 1 - i));
  require(perm.size() == r,
          n.describe() + ": perm has " + std::to_string(perm.size()) + " entries for rank " + std::to_string(r));
  Shape os(r);
  for (size_t i = 0; i < r; ++i) os[i] = t.shape()[norm_axis(perm[i], r, n)];
  Tensor out(t.dtype(), os);
  auto ist = strides_of(t.shape());
  Shape src_strides(r);
  for (size_t i = 0; i < r; ++i) src_strides[i] = ist[perm[i] < 0 ? perm[i] + r : perm[i]];
  std::vector<int64_t> idx(r, 0);
  int64_t src = 0;
  for (int64_t o = 0; o < out.numel(); ++o) {
    copy_elem(t, src, out, o);
    for (int k = static_cast<int>(r) - 1; k >= 0; --k) {
      ++idx[k];
      src += src_strides[k];
      if (idx[k] < os[k]) break;
      src -= src_strides[k] * idx[k];
      idx[k] = 0;
    }
  }
  return out;
}

Tensor concat(const std::vector<const Tensor*>& in, int64_t axis_attr, const Node& n) {
  require(!in.empty() && in[0], n.describe() + ": Concat without inputs");
  const Shape& s0 = in[0]->shape();
  int64_t axis = norm_axis(axis_attr, static_cast<int64_t>(s0.size()), n);
  Shape os = s0;
  os[axis] = 0;
  for (const Tensor* t : in) {
    require(t && t->shape().size() == s0.size() && t->dtype() == in[0]->dtype(),
            n.describe() + ": Concat inputs differ in rank or type");
    for (size_t d = 0; d < s0.size(); ++d)
      require(static_cast<int64_t>(d) == axis || t->shape()[d] == s0[d],
              n.describe() + ": Concat inputs differ in dim " + std::to_string(d));
    os[axis] += t->shape()[axis];
  }
  Tensor out(in[0]->dtype(), os);
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= os[d];
  for (size_t d = axis + 1; d < os.size(); ++d) inner *= os[d];
  size_t es = dtype_size(out.dtype());
  int64_t off = 0;
  for (const Tensor* t : in) {
    int64_t chunk = t->shape()[axis] * inner;
    for (int64_t o = 0; o < outer; ++o)
      std::memcpy(out.mutable_bytes().data() + (o * os[axis] * inner + off) * es, t->bytes().data() + o * chunk * es,
                  chunk * es);
    off += chunk;
  }
  return out;
}

struct SliceSpec {
  std::vector<int64_t> start, step;
  Shape out;
};

}  // namespace
}  // namespace mixq

namespace mixq {
// Shared with shape inference: normalized slice parameters (ONNX Slice-10+ semantics).
bool slice_params(const Shape& in, std::vector<int64_t> starts, std::vector<int64_t> ends, std::vector<int64_t> axes,
                  std::vector<int64_t> steps, const Node& n, std::vector<int64_t>& out_start,
                  std::vector<int64_t>& out_step, Shape& out_shape) {
  size_t r = in.size();
  require(starts.size() == ends.size(), n.describe() + ": starts and ends differ in length");
  if (axes.empty())
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  if (steps.empty()) steps.assign(starts.size(), 1);
  require(axes.size() == starts.size() && steps.size() == starts.size(), n.describe() + ": axes/steps length mismatch");
  out_start.assign(r, 0);
  out_step.assign(r, 1);
  out_shape = in;
  for (size_t k = 0; k < starts.size(); ++k) {
    int64_t a = norm_axis(axes[k], static_cast<int64_t>(r), n);
    int64_t dim = in[a];
    if (dim < 0) return false;
    int64_t step = steps[k];
    require(step != 0, n.describe() + ": slice step 0");
    auto clampv = [](int64_t v, int64_t lo, int64_t hi) { return std::max(lo, std::min(hi, v)); };
    int64_t s = starts[k], e = ends[k];
    if (s < 0) s += dim;
    if (e < 0 && e > INT64_MIN / 2) e += dim;
    if (step > 0) {
      s = clampv(s, 0, dim);
      e = clampv(e, 0, dim);
    } else {
      s = clampv(s, 0, dim - 1);
      e = clampv(e, -1, dim - 1);
    }
    int64_t len = step > 0 ? (e > s ? (e - s + step - 1) / step : 0) : (s > e ? (s - e + (-step) - 1) / (-step) : 0);
    out_start[a] = s;
    out_step[a] = step;
    out_shape[a] = len;
  }
  return true;
}

namespace {

Tensor slice(const Tensor& t, const std::vector<int64_t>& start, const std::vector<int64_t>& step, const Shape& os) {
  Tensor out(t.dtype(), os);
  auto ist = strides_of(t.shape());
  size_t r = os.size();
  std::vector<int64_t> idx(r, 0);
  for (int64_t o = 0; o < out.numel(); ++o) {
    int64_t src = 0;
    for (size_t k = 0; k < r; ++k) src += (start[k] + idx[k] * step[k]) * ist[k];
    copy_elem(t, src, out, o);
    for (int k = static_cast<int>(r) - 1; k >= 0; --k) {
      if (++idx[k] < os[k]) break;
      idx[k] = 0;
    }
  }
  return out;
}

Tensor gather(const Tensor& data, const Tensor& indices, int64_t axis_attr, const Node& n) {
  const Shape& ds = data.shape();
  require(!ds.empty(), n.describe() + ": Gather on a scalar");
  int64_t axis = norm_axis(axis_attr, static_cast<int64_t>(ds.size()), n);
  auto idx = indices.to_i64();
  Shape os(ds.begin(), ds.begin() + axis);
  os.insert(os.end(), indices.shape().begin(), indices.shape().end());
  os.insert(os.end(), ds.begin() + axis + 1, ds.end());
  Tensor out(data.dtype(), os);
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= ds[d];
  for (size_t d = axis + 1; d < ds.size(); ++d) inner *= ds[d];
  size_t es = dtype_size(data.dtype());
  for (int64_t o = 0; o < outer; ++o)
    for (size_t k = 0; k < idx.size(); ++k) {
      int64_t i = idx[k] < 0 ? idx[k] + ds[axis] : idx[k];
      require(i >= 0 && i < ds[axis], n.describe() + ": Gather index " + std::to_string(idx[k]) +
                                          " out of range for dim " + std::to_string(ds[axis]));
      std::memcpy(out.mutable_bytes().data() + ((o * idx.size() + k) * inner) * es,
                  data.bytes().data() + ((o * ds[axis] + i) * inner) * es, inner * es);
    }
  return out;
}

Tensor expand_to(const Tensor& t, const Shape& os) {
  Tensor out(t.dtype(), os);
  for_broadcast(os, t.shape(), [&](int64_t o, int64_t i) { copy_elem(t, i, out, o); });
  return out;
}

// [SECTION] Elementwise -----------------------------------------------------------------------

bool is_int_type(DType t) {
  return dtype_is_integer(t);
}

// One element of a binary op, in int64 (wrapping, ONNX integer semantics) or double.
template <typename T>
T binary_value(const Node& n, T x, T y) {
  const std::string& op = n.op_type;
  if (op == "Equal") return x == y;
  if (op == "Less") return x < y;
  if (op == "Greater") return x > y;
  if (op == "LessOrEqual") return x <= y;
  if (op == "GreaterOrEqual") return x >= y;
  if (op == "And") return (x != 0) && (y != 0);
  if (op == "Or") return (x != 0) || (y != 0);
  if (op == "Xor") return (x != 0) != (y != 0);
  if (op == "Min") return std::min(x, y);
  if (op == "Max") return std::max(x, y);
  if constexpr (std::is_integral_v<T>) {
    auto wrap = [](uint64_t v) { return static_cast<int64_t>(v); };
    if (op == "Add") return wrap(static_cast<uint64_t>(x) + static_cast<uint64_t>(y));
    if (op == "Sub") return wrap(static_cast<uint64_t>(x) - static_cast<uint64_t>(y));
    if (op == "Mul") return wrap(static_cast<uint64_t>(x) * static_cast<uint64_t>(y));
    if (op == "Div") {
      require(y != 0, n.describe() + ": integer division by zero");
      return (x == INT64_MIN && y == -1) ? INT64_MIN : x / y;
    }
    if (op == "Mod") {
      require(y != 0, n.describe() + ": integer modulo by zero");
      T v = (y == -1) ? 0 : x % y;
      if (n.attr_int("fmod", 0) == 0 && v != 0 && ((v < 0) != (y < 0))) v += y;
      return v;
    }
    if (op == "Pow") {
      double p = std::pow(double(x), double(y));
      return std::isfinite(p) && std::fabs(p) < 9e18 ? static_cast<int64_t>(p) : 0;
    }
  } else {  // float math in double, rounded to the output type when stored
    if (op == "Add") return x + y;
    if (op == "Sub") return x - y;
    if (op == "Mul") return x * y;
    if (op == "Div") return x / y;
    if (op == "Mod") return std::fmod(x, y);
    if (op == "Pow") return std::pow(x, y);
  }
  return 0;
}

template <typename T>
std::vector<T> broadcast_binary(const Node& n, const std::vector<T>& av, const std::vector<T>& bv, const Shape& as,
                                const Shape& bs, const Shape& os) {
  int64_t cnt = shape_numel(os);
  std::vector<int64_t> ia(cnt), ib(cnt);
  for_broadcast(os, as, [&](int64_t o, int64_t i) { ia[o] = i; });
  for_broadcast(os, bs, [&](int64_t o, int64_t i) { ib[o] = i; });
  std::vector<T> r(cnt);
  for (int64_t k = 0; k < cnt; ++k) r[k] = binary_value<T>(n, av[ia[k]], bv[ib[k]]);
  return r;
}

Tensor binary(const Node& n, const Tensor& a, const Tensor& b, DType out_type) {
  Shape os = broadcast_shapes(a.shape(), b.shape(), n.describe());
  require(shape_numel(os) <= kMaxFoldElements, n.describe() + ": folded result too large");
  const std::string& op = n.op_type;
  bool compare = op == "Equal" || op == "Less" || op == "Greater" || op == "LessOrEqual" || op == "GreaterOrEqual" ||
                 op == "And" || op == "Or" || op == "Xor";
  DType dt = compare ? DType::Bool : out_type;
  if (is_int_type(a.dtype()) && is_int_type(b.dtype()))
    return tensor_from_i64(dt, os, broadcast_binary<int64_t>(n, a.to_i64(), b.to_i64(), a.shape(), b.shape(), os));
  return tensor_from_f64(dt, os, broadcast_binary<double>(n, a.to_f64(), b.to_f64(), a.shape(), b.shape(), os));
}

std::optional<Tensor> unary(const Node& n, const Tensor& a) {
  const std::string& op = n.op_type;
  std::function<double(double)> f;
  if (op == "Neg")
    f = [](double x) { return -x; };
  else if (op == "Abs")
    f = [](double x) { return std::fabs(x); };
  else if (op == "Floor")
    f = [](double x) { return std::floor(x); };
  else if (op == "Ceil")
    f = [](double x) { return std::ceil(x); };
  else if (op == "Round")
    f = [](double x) { return std::nearbyint(x); };
  else if (op == "Sqrt")
    f = [](double x) { return std::sqrt(x); };
  else if (op == "Reciprocal")
    f = [](double x) { return 1.0 / x; };
  else if (op == "Exp")
    f = [](double x) { return std::exp(x); };
  else if (op == "Log")
    f = [](double x) { return std::log(x); };
  else if (op == "Relu")
    f = [](double x) { return x > 0 ? x : 0.0; };
  else if (op == "Sigmoid")
    f = [](double x) { return 1.0 / (1.0 + std::exp(-x)); };
  else if (op == "Tanh")
    f = [](double x) { return std::tanh(x); };
  else if (op == "Sign")
    f = [](double x) { return double((x > 0) - (x < 0)); };
  else if (op == "Not")
    f = [](double x) { return x == 0 ? 1.0 : 0.0; };
  else if (op == "Sin")
    f = [](double x) { return std::sin(x); };
  else if (op == "Cos")
    f = [](double x) { return std::cos(x); };
  else
    return std::nullopt;
  if (is_int_type(a.dtype()) && op != "Sqrt" && op != "Exp" && op != "Log" && op != "Sigmoid" && op != "Tanh") {
    auto v = a.to_i64();
    std::vector<int64_t> r(v.size());
    for (size_t i = 0; i < v.size(); ++i) r[i] = static_cast<int64_t>(f(static_cast<double>(v[i])));
    return tensor_from_i64(a.dtype(), a.shape(), r);
  }
  auto v = a.to_f64();
  for (auto& x : v) x = f(x);
  return tensor_from_f64(a.dtype(), a.shape(), v);
}

// [SECTION] Generators and reductions -------------------------------------------------------

Tensor reduce(const Node& n, const Tensor& t, std::vector<int64_t> axes, bool keepdims) {
  const Shape& s = t.shape();
  int64_t r = static_cast<int64_t>(s.size());
  bool noop_empty = n.attr_int("noop_with_empty_axes", 0) != 0;
  if (axes.empty() && noop_empty) return t;
  std::vector<bool> red(r, axes.empty());
  for (int64_t a : axes) red[norm_axis(a, r, n)] = true;
  Shape os, ks;
  for (int64_t d = 0; d < r; ++d) {
    if (red[d]) {
      if (keepdims) os.push_back(1);
      ks.push_back(1);
    } else {
      os.push_back(s[d]);
      ks.push_back(s[d]);
    }
  }
  int64_t on = shape_numel(ks);
  const std::string& op = n.op_type;
  std::vector<double> acc(on, op == "ReduceProd"  ? 1.0
                              : op == "ReduceMax" ? -INFINITY
                              : op == "ReduceMin" ? INFINITY
                                                  : 0.0);
  auto v = t.to_f64();
  auto ost = strides_of(ks);
  std::vector<int64_t> idx(r, 0);
  for (int64_t i = 0; i < t.numel(); ++i) {
    int64_t o = 0;
    for (int64_t d = 0; d < r; ++d) o += red[d] ? 0 : idx[d] * ost[d];
    double x = v[i];
    if (op == "ReduceProd")
      acc[o] *= x;
    else if (op == "ReduceMax")
      acc[o] = std::max(acc[o], x);
    else if (op == "ReduceMin")
      acc[o] = std::min(acc[o], x);
    else
      acc[o] += x;
    for (int64_t d = r - 1; d >= 0; --d) {
      if (++idx[d] < s[d]) break;
      idx[d] = 0;
    }
  }
  if (op == "ReduceMean") {
    double cnt = on ? double(t.numel()) / double(on) : 1.0;
    for (auto& x : acc) x /= cnt;
  }
  return tensor_from_f64(t.dtype(), os, acc);
}

// [SECTION] Dispatch ------------------------------------------------------------------------

DType cast_target(const Node& n) {
  int64_t to = n.attr_int("to", 0);
  DType t = static_cast<DType>(to);
  require(dtype_size(t) > 0, n.describe() + ": Cast to unsupported type code " + std::to_string(to));
  return t;
}

}  // namespace

Shape shape_op_result(const Node& n, const Shape& s) {
  int64_t r = static_cast<int64_t>(s.size());
  int64_t start = n.attr_int("start", 0), end = n.attr_int("end", r);
  if (start < 0) start += r;
  if (end < 0) end += r;
  start = std::clamp<int64_t>(start, 0, r);
  end = std::clamp<int64_t>(end, start, r);
  return Shape(s.begin() + start, s.begin() + end);
}

std::optional<std::vector<Tensor>> const_eval(const Node& n, const std::vector<const Tensor*>& in, int64_t opset) {
  const std::string& op = n.op_type;
  if (!n.domain.empty()) return std::nullopt;
  auto need = [&](size_t k) -> const Tensor& {
    require(k < in.size() && in[k], n.describe() + ": missing input #" + std::to_string(k));
    return *in[k];
  };
  auto one = [](Tensor t) { return std::optional<std::vector<Tensor>>(std::vector<Tensor>{std::move(t)}); };

  if (op == "Identity" || op == "Dropout") return one(need(0));
  if (op == "Cast") {
    const Tensor& a = need(0);
    DType to = cast_target(n);
    if (dtype_is_integer(to) && dtype_is_integer(a.dtype())) return one(tensor_from_i64(to, a.shape(), a.to_i64()));
    return one(tensor_from_f64(to, a.shape(), a.to_f64()));
  }
  if (op == "Shape") {
    Shape part = shape_op_result(n, need(0).shape());
    return one(Tensor::from_i64({static_cast<int64_t>(part.size())}, part));
  }
  if (op == "Size") return one(Tensor::scalar_i64(need(0).numel()));
  if (op == "Reshape") {
    const Tensor& a = need(0);
    return one(reshaped(a, reshape_target(n, a.shape(), need(1).to_i64(), n.attr_int("allowzero", 0) != 0)));
  }
  if (op == "Flatten") {
    const Tensor& a = need(0);
    int64_t r = static_cast<int64_t>(a.shape().size());
    int64_t axis = n.attr_int("axis", 1);
    if (axis < 0) axis += r;
    require(axis >= 0 && axis <= r, n.describe() + ": Flatten axis out of range");
    int64_t outer = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= a.shape()[d];
    return one(reshaped(a, {outer, outer ? a.numel() / outer : 0}));
  }
  if (op == "Unsqueeze" || op == "Squeeze") {
    const Tensor& a = need(0);
    auto axes = opset >= 13 ? ints_input(in, 1) : n.attr_ints("axes");
    Shape s = a.shape();
    if (op == "Unsqueeze") {
      int64_t r = static_cast<int64_t>(s.size() + axes.size());
      std::vector<bool> ins(r, false);
      for (int64_t ax : axes) ins[norm_axis(ax, r, n)] = true;
      Shape os;
      size_t k = 0;
      for (int64_t d = 0; d < r; ++d) os.push_back(ins[d] ? 1 : s.at(k++));
      return one(reshaped(a, os));
    }
    int64_t r = static_cast<int64_t>(s.size());
    std::vector<bool> drop(r, false);
    if (axes.empty())
      for (int64_t d = 0; d < r; ++d) drop[d] = s[d] == 1;
    for (int64_t ax : axes) {
      int64_t d = norm_axis(ax, r, n);
      require(s[d] == 1,
              n.describe() + ": cannot squeeze dim " + std::to_string(d) + " of size " + std::to_string(s[d]));
      drop[d] = true;
    }
    Shape os;
    for (int64_t d = 0; d < r; ++d)
      if (!drop[d]) os.push_back(s[d]);
    return one(reshaped(a, os));
  }
  if (op == "Concat") {
    for (const Tensor* t : in) require(t != nullptr, n.describe() + ": Concat with an omitted input");
    return one(concat(in, n.attr_int("axis", 0), n));
  }
  if (op == "Gather") return one(gather(need(0), need(1), n.attr_int("axis", 0), n));
  if (op == "Slice") {
    const Tensor& a = need(0);
    std::vector<int64_t> starts, ends, axes, steps;
    if (opset >= 10) {
      starts = need(1).to_i64();
      ends = need(2).to_i64();
      axes = ints_input(in, 3);
      steps = ints_input(in, 4);
    } else {
      starts = n.attr_ints("starts");
      ends = n.attr_ints("ends");
      axes = n.attr_ints("axes");
    }
    std::vector<int64_t> st, sp;
    Shape os;
    slice_params(a.shape(), starts, ends, axes, steps, n, st, sp, os);
    return one(slice(a, st, sp, os));
  }
  if (op == "Transpose") return one(transpose(need(0), n.attr_ints("perm"), n));
  if (op == "Expand") {
    const Tensor& a = need(0);
    auto target = need(1).to_i64();
    Shape os = broadcast_shapes(a.shape(), Shape(target.begin(), target.end()), n.describe());
    require(shape_numel(os) <= kMaxFoldElements, n.describe() + ": folded result too large");
    return one(expand_to(a, os));
  }
  if (op == "Tile") {
    const Tensor& a = need(0);
    auto reps = need(1).to_i64();
    require(reps.size() == a.shape().size(), n.describe() + ": repeats length differs from rank");
    Shape os = a.shape();
    for (size_t d = 0; d < os.size(); ++d) {
      require(reps[d] >= 0, n.describe() + ": negative repeat");
      os[d] *= reps[d];
    }
    require(shape_numel(os) <= kMaxFoldElements, n.describe() + ": folded result too large");
    Tensor out(a.dtype(), os);
    auto ist = strides_of(a.shape());
    std::vector<int64_t> idx(os.size(), 0);
    for (int64_t o = 0; o < out.numel(); ++o) {
      int64_t src = 0;
      for (size_t d = 0; d < os.size(); ++d) src += (idx[d] % a.shape()[d]) * ist[d];
      copy_elem(a, src, out, o);
      for (int d = static_cast<int>(os.size()) - 1; d >= 0; --d) {
        if (++idx[d] < os[d]) break;
        idx[d] = 0;
      }
    }
    return one(out);
  }
  if (op == "ConstantOfShape") {
    auto dims = need(0).to_i64();
    Shape os(dims.begin(), dims.end());
    require(shape_numel(os, n.describe()) <= kMaxFoldElements, n.describe() + ": folded result too large");
    const Tensor* v = n.attr_tensor("value");
    DType dt = v ? v->dtype() : DType::Float32;
    Tensor out(dt, os);
    if (v && v->numel() > 0)
      for (int64_t i = 0; i < out.numel(); ++i)
        std::memcpy(out.mutable_bytes().data() + i * dtype_size(dt), v->bytes().data(), dtype_size(dt));
    return one(out);
  }
  if (op == "Range") {
    const Tensor& s = need(0);
    double start = s.to_f64().at(0), limit = need(1).to_f64().at(0), delta = need(2).to_f64().at(0);
    require(delta != 0, n.describe() + ": Range delta 0");
    double cnt = std::max(0.0, std::ceil((limit - start) / delta));
    require(cnt <= double(kMaxFoldElements), n.describe() + ": Range too long");
    std::vector<double> v(static_cast<size_t>(cnt));
    for (size_t i = 0; i < v.size(); ++i) v[i] = start + double(i) * delta;
    return one(tensor_from_f64(s.dtype(), {static_cast<int64_t>(v.size())}, v));
  }
  if (op == "Where") {
    const Tensor &c = need(0), &x = need(1), &y = need(2);
    Shape os = broadcast_shapes(broadcast_shapes(c.shape(), x.shape(), n.describe()), y.shape(), n.describe());
    Tensor out(x.dtype(), os);
    auto cv = c.to_i64();
    std::vector<int64_t> ci(shape_numel(os));
    for_broadcast(os, c.shape(), [&](int64_t o, int64_t i) { ci[o] = i; });
    std::vector<int64_t> xi(ci.size()), yi(ci.size());
    for_broadcast(os, x.shape(), [&](int64_t o, int64_t i) { xi[o] = i; });
    for_broadcast(os, y.shape(), [&](int64_t o, int64_t i) { yi[o] = i; });
    for (size_t o = 0; o < ci.size(); ++o) {
      if (cv[ci[o]])
        copy_elem(x, xi[o], out, o);
      else
        copy_elem(y, yi[o], out, o);
    }
    return one(out);
  }
  static const char* kBinary[] = {"Add",
                                  "Sub",
                                  "Mul",
                                  "Div",
                                  "Mod",
                                  "Min",
                                  "Max",
                                  "Pow",
                                  "Equal",
                                  "Less",
                                  "Greater",
                                  "LessOrEqual",
                                  "GreaterOrEqual",
                                  "And",
                                  "Or",
                                  "Xor"};
  for (const char* b : kBinary)
    if (op == b) {
      if ((op == "Min" || op == "Max") && in.size() != 2) {
        require(!in.empty(), n.describe() + ": no inputs");
        Tensor acc = need(0);
        for (size_t k = 1; k < in.size(); ++k) acc = binary(n, acc, need(k), acc.dtype());
        return one(acc);
      }
      return one(binary(n, need(0), need(1), need(0).dtype()));
    }
  if (op == "Clip") {
    Tensor a = need(0);
    double lo = -INFINITY, hi = INFINITY;
    if (opset < 11) {
      lo = n.attr_float("min", -INFINITY);
      hi = n.attr_float("max", INFINITY);
    } else {
      if (in.size() > 1 && in[1]) lo = in[1]->to_f64().at(0);
      if (in.size() > 2 && in[2]) hi = in[2]->to_f64().at(0);
    }
    auto v = a.to_f64();
    for (auto& x : v) x = std::min(hi, std::max(lo, x));
    return one(tensor_from_f64(a.dtype(), a.shape(), v));
  }
  if (op == "ReduceProd" || op == "ReduceSum" || op == "ReduceMax" || op == "ReduceMin" || op == "ReduceMean") {
    bool axes_input = (op == "ReduceSum" && opset >= 13) || opset >= 18;
    auto axes = axes_input ? ints_input(in, 1) : n.attr_ints("axes");
    return one(reduce(n, need(0), axes, n.attr_int("keepdims", 1) != 0));
  }
  if (!in.empty() && in[0])
    if (auto u = unary(n, *in[0])) return one(*u);
  return std::nullopt;
}

}  // namespace mixq
