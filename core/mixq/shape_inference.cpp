// [SECTION] Parsing --input_shapes
// [SECTION] Shape rules per op family
// [SECTION] Driver: inputs, folding, per-node inference
#include "mixq/shape_inference.h"

#include <cmath>
#include <functional>
#include <set>

#include "mixq/const_eval.h"
#include "mixq/error.h"

namespace mixq {

bool ValueState::shape_known() const {
  if (!rank_known) return false;
  for (int64_t d : shape)
    if (d < 0) return false;
  return true;
}

const ValueState* ShapeInfo::find(const std::string& tensor) const {
  auto it = values.find(tensor);
  return it == values.end() ? nullptr : &it->second;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const std::string& what) {
  size_t r = std::max(a.size(), b.size());
  Shape out(r);
  for (size_t i = 0; i < r; ++i) {
    int64_t x = i < r - a.size() ? 1 : a[i - (r - a.size())];
    int64_t y = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (x == y || y == 1)
      out[i] = x;
    else if (x == 1)
      out[i] = y;
    else if (x < 0 || y < 0)
      out[i] = std::max(x, y) > 1 ? std::max(x, y) : -1;
    else
      throw Error(what + ": shapes " + shape_str(a) + " and " + shape_str(b) + " cannot be broadcast");
  }
  return out;
}

// [SECTION] Parsing --input_shapes -------------------------------------------------------------

std::vector<Shape> parse_input_shapes(const std::string& text) {
  std::vector<Shape> out;
  size_t pos = 0;
  auto fail = [&](const std::string& what) -> void {
    throw Error("--input_shapes: " + what + " at character " + std::to_string(pos + 1) + " of '" + text +
                "' (expected e.g. [[1,3,640,640]] or [[1,3,224,224],[1,10]])");
  };
  auto skip = [&] {
    while (pos < text.size() && std::isspace(static_cast<unsigned char>(text[pos]))) ++pos;
  };
  auto parse_list = [&]() -> Shape {
    Shape s;
    skip();
    if (pos >= text.size() || text[pos] != '[') fail("expected '['");
    ++pos;
    skip();
    if (pos < text.size() && text[pos] == ']') {
      ++pos;
      return s;
    }
    while (true) {
      skip();
      size_t start = pos;
      while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) ++pos;
      if (start == pos) fail("expected a non-negative integer");
      if (pos - start > 12) fail("dimension too large");
      s.push_back(std::stoll(text.substr(start, pos - start)));
      skip();
      if (pos < text.size() && text[pos] == ',') {
        ++pos;
        continue;
      }
      if (pos < text.size() && text[pos] == ']') {
        ++pos;
        return s;
      }
      fail("expected ',' or ']'");
    }
  };
  skip();
  if (pos >= text.size()) fail("empty");
  size_t save = pos;
  ++pos;
  skip();
  bool nested = pos < text.size() && text[pos] == '[';
  pos = save;
  if (!nested) {
    out.push_back(parse_list());
  } else {
    ++pos;
    while (true) {
      out.push_back(parse_list());
      skip();
      if (pos < text.size() && text[pos] == ',') {
        ++pos;
        continue;
      }
      if (pos < text.size() && text[pos] == ']') {
        ++pos;
        break;
      }
      fail("expected ',' or ']'");
    }
  }
  skip();
  if (pos != text.size()) fail("unexpected text");
  return out;
}

// [SECTION] Shape rules per op family ------------------------------------------------------

namespace {

struct Ctx {
  const Node& n;
  std::vector<const ValueState*> in;  // nullptr for omitted inputs
  int64_t opset;

  const ValueState& input(size_t k) const {
    require(k < in.size() && in[k], n.describe() + ": missing required input #" + std::to_string(k));
    return *in[k];
  }
  bool has(size_t k) const { return k < in.size() && in[k] != nullptr; }
  const Tensor* constant(size_t k) const { return has(k) && in[k]->constant ? &*in[k]->constant : nullptr; }
  std::string what() const { return n.describe(); }
};

ValueState value(DType dt, Shape s) {
  ValueState v;
  v.dtype = dt;
  v.rank_known = true;
  v.shape = std::move(s);
  return v;
}
ValueState unknown_rank(DType dt) {
  ValueState v;
  v.dtype = dt;
  return v;
}

int64_t axis_of(const Ctx& c, int64_t axis, int64_t rank) {
  require(axis >= -rank && axis < rank,
          c.what() + ": axis " + std::to_string(axis) + " out of range for rank " + std::to_string(rank));
  return axis < 0 ? axis + rank : axis;
}

std::vector<int64_t> int_list(const Ctx& c, size_t input_index, const char* attr, bool* known) {
  *known = true;
  if (c.has(input_index)) {
    if (const Tensor* t = c.constant(input_index)) return t->to_i64();
    *known = false;
    return {};
  }
  return c.n.attr_ints(attr);
}

// Conv/pool spatial output sizes (auto_pad, pads, strides, dilations, ceil_mode).
Shape spatial_out(const Ctx& c, const Shape& in, const std::vector<int64_t>& kernel, bool ceil_mode) {
  size_t sp = kernel.size();
  require(in.size() == sp + 2, c.what() + ": input rank " + std::to_string(in.size()) + " does not match a " +
                                   std::to_string(sp) + "-D kernel");
  auto strides = c.n.attr_ints("strides", std::vector<int64_t>(sp, 1));
  auto dil = c.n.attr_ints("dilations", std::vector<int64_t>(sp, 1));
  auto pads = c.n.attr_ints("pads", std::vector<int64_t>(2 * sp, 0));
  std::string auto_pad = c.n.attr_string("auto_pad", "NOTSET");
  require(strides.size() == sp && dil.size() == sp && pads.size() == 2 * sp,
          c.what() + ": strides/dilations/pads do not match the kernel rank");
  Shape out(sp);
  for (size_t i = 0; i < sp; ++i) {
    require(strides[i] > 0 && dil[i] > 0 && kernel[i] > 0,
            c.what() + ": strides, dilations and kernel must be positive");
    int64_t x = in[i + 2];
    if (x < 0) {
      out[i] = -1;
      continue;
    }
    int64_t k = (kernel[i] - 1) * dil[i] + 1;
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      out[i] = (x + strides[i] - 1) / strides[i];
    } else if (auto_pad == "VALID") {
      out[i] = (x - k) / strides[i] + 1;
    } else {
      int64_t span = x + pads[i] + pads[i + sp] - k;
      require(span >= 0, c.what() + ": kernel " + std::to_string(k) + " larger than padded input " +
                             std::to_string(x + pads[i] + pads[i + sp]));
      out[i] = (ceil_mode ? (span + strides[i] - 1) / strides[i] : span / strides[i]) + 1;
      if (ceil_mode && (out[i] - 1) * strides[i] >= x + pads[i]) --out[i];
    }
    require(out[i] > 0, c.what() + ": output dim " + std::to_string(i) + " would be empty");
  }
  return out;
}

using Rule = std::function<std::vector<ValueState>(const Ctx&)>;

std::vector<ValueState> same_as_input(const Ctx& c) {
  const auto& a = c.input(0);
  ValueState v = a;
  v.constant.reset();
  return {v};
}

std::vector<ValueState> broadcast_rule(const Ctx& c, DType out_dtype) {
  Shape s;
  for (size_t k = 0; k < c.in.size(); ++k) {
    if (!c.in[k]) continue;
    if (!c.in[k]->rank_known) return {unknown_rank(out_dtype)};
    s = k == 0 ? c.in[k]->shape : broadcast_shapes(s, c.in[k]->shape, c.what());
  }
  return {value(out_dtype, s)};
}

std::vector<ValueState> conv_rule(const Ctx& c) {
  const auto& x = c.input(0);
  const auto& w = c.input(1);
  require(w.rank_known && w.shape_known(), c.what() + ": weight shape unknown");
  if (!x.rank_known) return {unknown_rank(x.dtype)};
  int64_t group = c.n.attr_int("group", 1);
  require(group > 0, c.what() + ": group must be positive");
  require(w.shape.size() == x.shape.size(), c.what() + ": weight rank " + std::to_string(w.shape.size()) +
                                                " differs from input rank " + std::to_string(x.shape.size()));
  if (x.shape[1] >= 0)
    require(x.shape[1] == w.shape[1] * group, c.what() + ": input has " + std::to_string(x.shape[1]) +
                                                  " channels, weight expects " + std::to_string(w.shape[1] * group) +
                                                  " (" + std::to_string(w.shape[1]) + " x group " +
                                                  std::to_string(group) + ")");
  std::vector<int64_t> kernel = c.n.attr_ints("kernel_shape", Shape(w.shape.begin() + 2, w.shape.end()));
  Shape out{x.shape[0], w.shape[0]};
  Shape sp = spatial_out(c, x.shape, kernel, false);
  out.insert(out.end(), sp.begin(), sp.end());
  return {value(x.dtype, out)};
}

std::vector<ValueState> conv_transpose_rule(const Ctx& c) {
  const auto& x = c.input(0);
  const auto& w = c.input(1);
  require(w.shape_known(), c.what() + ": weight shape unknown");
  if (!x.rank_known) return {unknown_rank(x.dtype)};
  size_t sp = x.shape.size() - 2;
  int64_t group = c.n.attr_int("group", 1);
  auto kernel = c.n.attr_ints("kernel_shape", Shape(w.shape.begin() + 2, w.shape.end()));
  auto strides = c.n.attr_ints("strides", std::vector<int64_t>(sp, 1));
  auto dil = c.n.attr_ints("dilations", std::vector<int64_t>(sp, 1));
  auto pads = c.n.attr_ints("pads", std::vector<int64_t>(2 * sp, 0));
  auto opad = c.n.attr_ints("output_padding", std::vector<int64_t>(sp, 0));
  auto oshape = c.n.attr_ints("output_shape");
  require(kernel.size() == sp && strides.size() == sp && dil.size() == sp && pads.size() == 2 * sp && opad.size() == sp,
          c.what() + ": attribute lengths do not match the spatial rank");
  Shape out{x.shape[0], w.shape[1] * group};
  for (size_t i = 0; i < sp; ++i) {
    if (!oshape.empty()) {
      out.push_back(oshape[oshape.size() - sp + i]);
      continue;
    }
    int64_t in = x.shape[i + 2];
    out.push_back(in < 0 ? -1
                         : strides[i] * (in - 1) + opad[i] + (kernel[i] - 1) * dil[i] + 1 - pads[i] - pads[i + sp]);
  }
  return {value(x.dtype, out)};
}

std::vector<ValueState> pool_rule(const Ctx& c) {
  const auto& x = c.input(0);
  if (!x.rank_known) return {unknown_rank(x.dtype)};
  auto kernel = c.n.attr_ints("kernel_shape");
  require(!kernel.empty(), c.what() + ": kernel_shape is required");
  Shape out{x.shape[0], x.shape[1]};
  Shape sp = spatial_out(c, x.shape, kernel, c.n.attr_int("ceil_mode", 0) != 0);
  out.insert(out.end(), sp.begin(), sp.end());
  std::vector<ValueState> r{value(x.dtype, out)};
  if (c.n.outputs.size() > 1) r.push_back(value(DType::Int64, out));
  return r;
}

std::vector<ValueState> global_pool_rule(const Ctx& c) {
  const auto& x = c.input(0);
  if (!x.rank_known) return {unknown_rank(x.dtype)};
  Shape out = x.shape;
  for (size_t i = 2; i < out.size(); ++i) out[i] = 1;
  return {value(x.dtype, out)};
}

std::vector<ValueState> gemm_rule(const Ctx& c) {
  const auto& a = c.input(0);
  const auto& b = c.input(1);
  if (!a.rank_known || !b.rank_known) return {unknown_rank(a.dtype)};
  require(a.shape.size() == 2 && b.shape.size() == 2,
          c.what() + ": Gemm needs 2-D inputs, got " + shape_str(a.shape) + " and " + shape_str(b.shape));
  bool ta = c.n.attr_int("transA", 0), tb = c.n.attr_int("transB", 0);
  int64_t m = ta ? a.shape[1] : a.shape[0], ka = ta ? a.shape[0] : a.shape[1];
  int64_t kb = tb ? b.shape[1] : b.shape[0], nn = tb ? b.shape[0] : b.shape[1];
  require(ka < 0 || kb < 0 || ka == kb,
          c.what() + ": inner dims differ (" + std::to_string(ka) + " vs " + std::to_string(kb) + ")");
  return {value(a.dtype, {m, nn})};
}

std::vector<ValueState> matmul_rule(const Ctx& c) {
  const auto& a = c.input(0);
  const auto& b = c.input(1);
  if (!a.rank_known || !b.rank_known) return {unknown_rank(a.dtype)};
  Shape as = a.shape, bs = b.shape;
  require(!as.empty() && !bs.empty(), c.what() + ": MatMul of a scalar");
  bool va = as.size() == 1, vb = bs.size() == 1;
  if (va) as.insert(as.begin(), 1);
  if (vb) bs.push_back(1);
  int64_t ka = as.back(), kb = bs[bs.size() - 2];
  require(ka < 0 || kb < 0 || ka == kb,
          c.what() + ": inner dims differ: " + shape_str(a.shape) + " x " + shape_str(b.shape));
  Shape batch = broadcast_shapes(Shape(as.begin(), as.end() - 2), Shape(bs.begin(), bs.end() - 2), c.what());
  if (!va) batch.push_back(as[as.size() - 2]);
  if (!vb) batch.push_back(bs.back());
  return {value(a.dtype, batch)};
}

std::vector<ValueState> concat_rule(const Ctx& c) {
  const auto& a = c.input(0);
  for (size_t k = 0; k < c.in.size(); ++k)
    if (!c.input(k).rank_known) return {unknown_rank(a.dtype)};
  int64_t r = static_cast<int64_t>(a.shape.size());
  int64_t axis = axis_of(c, c.n.attr_int("axis", 0), r);
  Shape out = a.shape;
  for (size_t k = 1; k < c.in.size(); ++k) {
    const Shape& s = c.in[k]->shape;
    require(static_cast<int64_t>(s.size()) == r, c.what() + ": input #" + std::to_string(k) + " has rank " +
                                                     std::to_string(s.size()) + ", expected " + std::to_string(r));
    for (int64_t d = 0; d < r; ++d) {
      if (d == axis)
        out[d] = (out[d] < 0 || s[d] < 0) ? -1 : out[d] + s[d];
      else if (out[d] < 0)
        out[d] = s[d];
      else
        require(s[d] < 0 || s[d] == out[d], c.what() + ": input #" + std::to_string(k) + " " + shape_str(s) +
                                                " differs from " + shape_str(a.shape) + " outside the concat axis");
    }
  }
  return {value(a.dtype, out)};
}

std::vector<ValueState> split_rule(const Ctx& c) {
  const auto& x = c.input(0);
  size_t nout = c.n.outputs.size();
  if (!x.rank_known) return std::vector<ValueState>(nout, unknown_rank(x.dtype));
  int64_t axis = axis_of(c, c.n.attr_int("axis", 0), static_cast<int64_t>(x.shape.size()));
  bool known = true;
  std::vector<int64_t> split = int_list(c, 1, "split", &known);
  std::vector<ValueState> out;
  int64_t dim = x.shape[axis];
  if (split.empty() && known && dim >= 0) {
    int64_t parts = static_cast<int64_t>(nout);
    int64_t each = (dim + parts - 1) / parts;
    for (int64_t k = 0; k < parts; ++k) split.push_back(std::min(each, dim - k * each));
  }
  require(split.empty() || split.size() == nout, c.what() + ": split has " + std::to_string(split.size()) +
                                                     " entries for " + std::to_string(nout) + " outputs");
  for (size_t k = 0; k < nout; ++k) {
    Shape s = x.shape;
    s[axis] = split.empty() ? -1 : split[k];
    out.push_back(value(x.dtype, s));
  }
  return out;
}

std::vector<ValueState> slice_rule(const Ctx& c) {
  const auto& x = c.input(0);
  if (!x.rank_known) return {unknown_rank(x.dtype)};
  std::vector<int64_t> starts, ends, axes, steps;
  if (c.opset >= 10) {
    const Tensor *ts = c.constant(1), *te = c.constant(2);
    bool axes_ok = !c.has(3) || c.constant(3), steps_ok = !c.has(4) || c.constant(4);
    if (!ts || !te || !axes_ok || !steps_ok) {
      // unknown bounds: the sliced axes become unknown
      Shape s = x.shape;
      if (const Tensor* ta = c.constant(3))
        for (int64_t a : ta->to_i64()) s[axis_of(c, a, s.size())] = -1;
      else
        for (auto& d : s) d = -1;
      return {value(x.dtype, s)};
    }
    starts = ts->to_i64();
    ends = te->to_i64();
    if (c.has(3)) axes = c.constant(3)->to_i64();
    if (c.has(4)) steps = c.constant(4)->to_i64();
  } else {
    starts = c.n.attr_ints("starts");
    ends = c.n.attr_ints("ends");
    axes = c.n.attr_ints("axes");
  }
  std::vector<int64_t> st, sp;
  Shape out;
  if (!slice_params(x.shape, starts, ends, axes, steps, c.n, st, sp, out)) {
    out = x.shape;
    if (axes.empty())
      for (size_t i = 0; i < starts.size(); ++i) out[i] = -1;
    else
      for (int64_t a : axes) out[axis_of(c, a, out.size())] = -1;
  }
  return {value(x.dtype, out)};
}

std::vector<ValueState> reshape_rule(const Ctx& c) {
  const auto& x = c.input(0);
  const Tensor* spec = c.constant(1);
  if (!spec) {
    const auto& s = c.input(1);
    if (s.shape_known() && s.shape.size() == 1) return {value(x.dtype, Shape(s.shape[0], -1))};
    return {unknown_rank(x.dtype)};
  }
  auto target = spec->to_i64();
  bool allowzero = c.n.attr_int("allowzero", 0) != 0;
  Shape out(target.begin(), target.end());
  for (size_t i = 0; i < out.size(); ++i)
    if (out[i] == 0 && !allowzero) {
      require(x.rank_known && i < x.shape.size(),
              c.what() + ": target dim 0 at position " + std::to_string(i) + " has no input dim");
      out[i] = x.shape[i];
    }
  int64_t infer = -1, known = 1;
  bool all = true;
  for (size_t i = 0; i < out.size(); ++i) {
    if (target[i] == -1) {
      require(infer < 0, c.what() + ": more than one -1 in the target shape");
      infer = i;
    } else if (out[i] < 0)
      all = false;
    else
      known *= out[i];
  }
  if (infer >= 0) {
    if (all && x.shape_known()) {
      int64_t total = shape_numel(x.shape);
      require(known > 0 && total % known == 0, c.what() + ": cannot reshape " + shape_str(x.shape) + " to " +
                                                   shape_str(Shape(target.begin(), target.end())));
      out[infer] = total / known;
    } else {
      out[infer] = -1;
    }
  } else if (x.shape_known() && all) {
    require(shape_numel(out) == shape_numel(x.shape), c.what() + ": cannot reshape " + shape_str(x.shape) + " (" +
                                                          std::to_string(shape_numel(x.shape)) + " elements) to " +
                                                          shape_str(out));
  }
  return {value(x.dtype, out)};
}

std::vector<ValueState> flatten_rule(const Ctx& c) {
  const auto& x = c.input(0);
  if (!x.rank_known) return {unknown_rank(x.dtype)};
  int64_t r = static_cast<int64_t>(x.shape.size());
  int64_t axis = c.n.attr_int("axis", 1);
  if (axis < 0) axis += r;
  require(axis >= 0 && axis <= r, c.what() + ": axis out of range");
  int64_t a = 1, b = 1;
  for (int64_t d = 0; d < r; ++d) {
    int64_t& t = d < axis ? a : b;
    t = (t < 0 || x.shape[d] < 0) ? -1 : t * x.shape[d];
  }
  return {value(x.dtype, {a, b})};
}

std::vector<ValueState> transpose_rule(const Ctx& c) {
  const auto& x = c.input(0);
  if (!x.rank_known) return {unknown_rank(x.dtype)};
  size_t r = x.shape.size();
  auto perm = c.n.attr_ints("perm");
  if (perm.empty())
    for (size_t i = 0; i < r; ++i) perm.push_back(r - 1 - i);
  require(perm.size() == r,
          c.what() + ": perm length " + std::to_string(perm.size()) + " differs from rank " + std::to_string(r));
  Shape out(r);
  std::set<int64_t> seen;
  for (size_t i = 0; i < r; ++i) {
    int64_t p = axis_of(c, perm[i], r);
    require(seen.insert(p).second, c.what() + ": perm repeats axis " + std::to_string(p));
    out[i] = x.shape[p];
  }
  return {value(x.dtype, out)};
}

std::vector<ValueState> squeeze_rule(const Ctx& c, bool unsqueeze) {
  const auto& x = c.input(0);
  if (!x.rank_known) return {unknown_rank(x.dtype)};
  bool known = true;
  auto axes = c.opset >= 13 ? int_list(c, 1, "axes", &known) : c.n.attr_ints("axes");
  if (!known) return {unknown_rank(x.dtype)};
  Shape s = x.shape;
  if (unsqueeze) {
    int64_t r = static_cast<int64_t>(s.size() + axes.size());
    std::vector<bool> ins(r, false);
    for (int64_t a : axes) ins[axis_of(c, a, r)] = true;
    Shape out;
    size_t k = 0;
    for (int64_t d = 0; d < r; ++d) out.push_back(ins[d] ? 1 : s.at(k++));
    return {value(x.dtype, out)};
  }
  int64_t r = static_cast<int64_t>(s.size());
  std::vector<bool> drop(r, false);
  if (axes.empty())
    for (int64_t d = 0; d < r; ++d) drop[d] = s[d] == 1;
  for (int64_t a : axes) {
    int64_t d = axis_of(c, a, r);
    require(s[d] == 1 || s[d] < 0,
            c.what() + ": cannot squeeze axis " + std::to_string(d) + " of size " + std::to_string(s[d]));
    drop[d] = true;
  }
  Shape out;
  for (int64_t d = 0; d < r; ++d)
    if (!drop[d]) out.push_back(s[d]);
  return {value(x.dtype, out)};
}

std::vector<ValueState> pad_rule(const Ctx& c) {
  const auto& x = c.input(0);
  if (!x.rank_known) return {unknown_rank(x.dtype)};
  bool known = true;
  auto pads = c.opset >= 11 ? int_list(c, 1, "pads", &known) : c.n.attr_ints("pads", c.n.attr_ints("paddings"));
  Shape out = x.shape;
  size_t r = out.size();
  if (!known) {
    for (auto& d : out) d = -1;
    return {value(x.dtype, out)};
  }
  std::vector<int64_t> axes;
  if (c.opset >= 18 && c.has(3)) {
    const Tensor* ta = c.constant(3);
    if (!ta) {
      for (auto& d : out) d = -1;
      return {value(x.dtype, out)};
    }
    for (int64_t a : ta->to_i64()) axes.push_back(axis_of(c, a, r));
  } else {
    for (size_t i = 0; i < r; ++i) axes.push_back(i);
  }
  require(pads.size() == 2 * axes.size(), c.what() + ": pads has " + std::to_string(pads.size()) +
                                              " values, expected " + std::to_string(2 * axes.size()));
  for (size_t i = 0; i < axes.size(); ++i) {
    int64_t& d = out[axes[i]];
    if (d >= 0) d += pads[i] + pads[i + axes.size()];
  }
  return {value(x.dtype, out)};
}

std::vector<ValueState> resize_rule(const Ctx& c) {
  const auto& x = c.input(0);
  if (!x.rank_known) return {unknown_rank(x.dtype)};
  size_t r = x.shape.size();
  Shape out(r, -1);
  std::vector<double> scales;
  std::vector<int64_t> sizes;
  if (c.n.op_type == "Upsample") {
    if (c.opset < 9) {
      auto f = c.n.attr_floats("scales");
      scales.assign(f.begin(), f.end());
    } else if (const Tensor* t = c.constant(1))
      scales = t->to_f64();
  } else if (c.opset < 11) {
    if (const Tensor* t = c.constant(1)) scales = t->to_f64();
  } else {
    if (const Tensor* t = c.constant(3); t && t->numel() > 0)
      sizes = t->to_i64();
    else if (const Tensor* t2 = c.constant(2); t2 && t2->numel() > 0)
      scales = t2->to_f64();
  }
  if (!sizes.empty()) {
    require(sizes.size() == r,
            c.what() + ": sizes has " + std::to_string(sizes.size()) + " values for rank " + std::to_string(r));
    out.assign(sizes.begin(), sizes.end());
  } else if (!scales.empty()) {
    require(scales.size() == r,
            c.what() + ": scales has " + std::to_string(scales.size()) + " values for rank " + std::to_string(r));
    for (size_t i = 0; i < r; ++i)
      out[i] = x.shape[i] < 0 ? -1 : static_cast<int64_t>(std::floor(double(x.shape[i]) * scales[i] + 1e-9));
  }
  return {value(x.dtype, out)};
}

std::vector<ValueState> reduce_rule(const Ctx& c) {
  const auto& x = c.input(0);
  const std::string& op = c.n.op_type;
  DType dt = (op == "ArgMax" || op == "ArgMin") ? DType::Int64 : x.dtype;
  if (!x.rank_known) return {unknown_rank(dt)};
  int64_t r = static_cast<int64_t>(x.shape.size());
  bool keep = c.n.attr_int("keepdims", 1) != 0;
  std::vector<int64_t> axes;
  if (op == "ArgMax" || op == "ArgMin") {
    axes = {c.n.attr_int("axis", 0)};
  } else {
    bool axes_input = (op == "ReduceSum" && c.opset >= 13) || c.opset >= 18;
    bool known = true;
    axes = axes_input ? int_list(c, 1, "axes", &known) : c.n.attr_ints("axes");
    if (!known) return {unknown_rank(dt)};
    if (axes.empty() && c.n.attr_int("noop_with_empty_axes", 0)) return {value(dt, x.shape)};
  }
  std::vector<bool> red(r, axes.empty());
  for (int64_t a : axes) red[axis_of(c, a, r)] = true;
  Shape out;
  for (int64_t d = 0; d < r; ++d) {
    if (!red[d])
      out.push_back(x.shape[d]);
    else if (keep)
      out.push_back(1);
  }
  return {value(dt, out)};
}

std::vector<ValueState> gather_rule(const Ctx& c) {
  const auto& x = c.input(0);
  const auto& idx = c.input(1);
  if (!x.rank_known || !idx.rank_known) return {unknown_rank(x.dtype)};
  int64_t axis = axis_of(c, c.n.attr_int("axis", 0), static_cast<int64_t>(x.shape.size()));
  Shape out(x.shape.begin(), x.shape.begin() + axis);
  out.insert(out.end(), idx.shape.begin(), idx.shape.end());
  out.insert(out.end(), x.shape.begin() + axis + 1, x.shape.end());
  return {value(x.dtype, out)};
}

std::vector<ValueState> expand_rule(const Ctx& c) {
  const auto& x = c.input(0);
  const Tensor* t = c.constant(1);
  if (!t || !x.rank_known) return {unknown_rank(x.dtype)};
  auto v = t->to_i64();
  return {value(x.dtype, broadcast_shapes(x.shape, Shape(v.begin(), v.end()), c.what()))};
}

std::vector<ValueState> tile_rule(const Ctx& c) {
  const auto& x = c.input(0);
  const Tensor* t = c.constant(1);
  if (!x.rank_known) return {unknown_rank(x.dtype)};
  Shape out = x.shape;
  if (!t) {
    for (auto& d : out) d = -1;
    return {value(x.dtype, out)};
  }
  auto reps = t->to_i64();
  require(reps.size() == out.size(), c.what() + ": repeats length differs from rank");
  for (size_t i = 0; i < out.size(); ++i) out[i] = out[i] < 0 ? -1 : out[i] * reps[i];
  return {value(x.dtype, out)};
}

std::vector<ValueState> depth_space_rule(const Ctx& c, bool to_space) {
  const auto& x = c.input(0);
  if (!x.rank_known) return {unknown_rank(x.dtype)};
  require(x.shape.size() == 4, c.what() + ": expects a 4-D input");
  int64_t b = c.n.attr_int("blocksize", 0);
  require(b > 0, c.what() + ": blocksize must be positive");
  Shape s = x.shape;
  auto mul = [](int64_t v, int64_t k) { return v < 0 ? -1 : v * k; };
  auto div = [](int64_t v, int64_t k) { return v < 0 ? -1 : v / k; };
  if (to_space) return {value(x.dtype, {s[0], div(s[1], b * b), mul(s[2], b), mul(s[3], b)})};
  return {value(x.dtype, {s[0], mul(s[1], b * b), div(s[2], b), div(s[3], b)})};
}

std::vector<ValueState> topk_rule(const Ctx& c) {
  const auto& x = c.input(0);
  if (!x.rank_known) return {unknown_rank(x.dtype), unknown_rank(DType::Int64)};
  int64_t axis = axis_of(c, c.n.attr_int("axis", -1), static_cast<int64_t>(x.shape.size()));
  Shape out = x.shape;
  if (c.opset >= 10) {
    const Tensor* k = c.constant(1);
    out[axis] = k ? k->to_i64().at(0) : -1;
  } else
    out[axis] = c.n.attr_int("k", -1);
  return {value(x.dtype, out), value(DType::Int64, out)};
}

const std::map<std::string, Rule>& rules() {
  static const std::map<std::string, Rule> r = [] {
    std::map<std::string, Rule> m;
    for (const char* op : {"Relu",
                           "LeakyRelu",
                           "PRelu",
                           "Sigmoid",
                           "HardSigmoid",
                           "HardSwish",
                           "Tanh",
                           "Clip",
                           "Exp",
                           "Log",
                           "Sqrt",
                           "Erf",
                           "Neg",
                           "Abs",
                           "Softmax",
                           "LogSoftmax",
                           "BatchNormalization",
                           "InstanceNormalization",
                           "LayerNormalization",
                           "Identity",
                           "Dropout",
                           "Elu",
                           "Selu",
                           "Softplus",
                           "Softsign",
                           "Mish",
                           "Gelu",
                           "Floor",
                           "Ceil",
                           "Round",
                           "Reciprocal",
                           "Sin",
                           "Cos",
                           "Sign",
                           "LRN",
                           "Celu",
                           "ThresholdedRelu",
                           "Hardmax",
                           "Swish",
                           "SiLU",
                           "CumSum",
                           "Atan",
                           "Asin",
                           "Acos",
                           "Tan",
                           "Sinh",
                           "Cosh",
                           "LpNormalization",
                           "MeanVarianceNormalization",
                           "GroupNormalization",
                           "Shrink",
                           "IsNaN",
                           "IsInf"}) {
      m[op] = [](const Ctx& c) {
        auto v = same_as_input(c);
        if (c.n.op_type == "IsNaN" || c.n.op_type == "IsInf") v[0].dtype = DType::Bool;
        if (c.n.op_type == "Dropout" && c.n.outputs.size() > 1) v.push_back(value(DType::Bool, v[0].shape));
        if ((c.n.op_type == "LayerNormalization" || c.n.op_type == "BatchNormalization") && c.n.outputs.size() > 1)
          for (size_t k = 1; k < c.n.outputs.size(); ++k) v.push_back(unknown_rank(v[0].dtype));
        return v;
      };
    }
    for (const char* op : {"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Mod", "Sum", "Mean", "BitShift"})
      m[op] = [](const Ctx& c) { return broadcast_rule(c, c.input(0).dtype); };
    for (const char* op : {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor"})
      m[op] = [](const Ctx& c) { return broadcast_rule(c, DType::Bool); };
    m["Not"] = [](const Ctx& c) { return same_as_input(c); };
    m["Where"] = [](const Ctx& c) {
      auto v = broadcast_rule(c, c.input(1).dtype);
      return v;
    };
    m["Cast"] = [](const Ctx& c) {
      auto v = same_as_input(c);
      v[0].dtype = static_cast<DType>(c.n.attr_int("to", 1));
      return v;
    };
    m["Conv"] = conv_rule;
    m["ConvTranspose"] = conv_transpose_rule;
    for (const char* op : {"MaxPool", "AveragePool", "LpPool"}) m[op] = pool_rule;
    for (const char* op : {"GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"}) m[op] = global_pool_rule;
    m["Gemm"] = gemm_rule;
    m["MatMul"] = matmul_rule;
    m["Concat"] = concat_rule;
    m["Split"] = split_rule;
    m["Slice"] = slice_rule;
    m["Reshape"] = reshape_rule;
    m["Flatten"] = flatten_rule;
    m["Transpose"] = transpose_rule;
    m["Squeeze"] = [](const Ctx& c) { return squeeze_rule(c, false); };
    m["Unsqueeze"] = [](const Ctx& c) { return squeeze_rule(c, true); };
    m["Pad"] = pad_rule;
    m["Resize"] = resize_rule;
    m["Upsample"] = resize_rule;
    for (const char* op : {"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
                           "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare", "ArgMax", "ArgMin"})
      m[op] = reduce_rule;
    m["Gather"] = gather_rule;
    m["Expand"] = expand_rule;
    m["Tile"] = tile_rule;
    m["DepthToSpace"] = [](const Ctx& c) { return depth_space_rule(c, true); };
    m["SpaceToDepth"] = [](const Ctx& c) { return depth_space_rule(c, false); };
    m["TopK"] = topk_rule;
    m["Shape"] = [](const Ctx& c) {
      const auto& x = c.input(0);
      if (!x.rank_known) return std::vector<ValueState>{unknown_rank(DType::Int64)};
      return std::vector<ValueState>{value(DType::Int64, {static_cast<int64_t>(x.shape.size())})};
    };
    m["Size"] = [](const Ctx& c) { return std::vector<ValueState>{value(DType::Int64, {})}; };
    m["ConstantOfShape"] = [](const Ctx& c) {
      const Tensor* v = c.n.attr_tensor("value");
      DType dt = v ? v->dtype() : DType::Float32;
      const auto& s = c.input(0);
      if (s.shape_known() && s.shape.size() == 1) return std::vector<ValueState>{value(dt, Shape(s.shape[0], -1))};
      return std::vector<ValueState>{unknown_rank(dt)};
    };
    m["Range"] = [](const Ctx& c) { return std::vector<ValueState>{value(c.input(0).dtype, {-1})}; };
    return m;
  }();
  return r;
}

}  // namespace

// [SECTION] Driver ----------------------------------------------------------------------------

ShapeInfo infer_shapes(const Model& model, const std::map<std::string, Shape>& input_shapes) {
  ShapeInfo info;
  const Graph& g = model.graph;
  for (const auto& [name, shape] : input_shapes) {
    bool found = false;
    for (const auto& in : g.inputs) found |= in.name == name;
    require(found, "--input_shapes: the model has no input named '" + name + "'");
  }
  for (const auto& in : g.inputs) {
    ValueState v;
    v.dtype = in.dtype == DType::Undefined ? DType::Float32 : in.dtype;
    auto it = input_shapes.find(in.name);
    if (it != input_shapes.end()) {
      require(!in.has_shape || in.dims.size() == it->second.size(),
              "--input_shapes: input '" + in.name + "' has rank " + std::to_string(in.dims.size()) + " (" +
                  shape_str(in.dims) + "), the given shape " + shape_str(it->second) + " has rank " +
                  std::to_string(it->second.size()));
      for (size_t d = 0; d < it->second.size() && in.has_shape; ++d)
        if (in.dims[d] >= 0 && in.dims[d] != it->second[d])
          info.warnings.push_back("input '" + in.name + "': dim " + std::to_string(d) + " declared " +
                                  std::to_string(in.dims[d]) + ", overridden to " + std::to_string(it->second[d]));
      v.shape = it->second;
      v.rank_known = true;
    } else if (in.has_shape) {
      v.shape = in.dims;
      v.rank_known = true;
      for (size_t d = 0; d < v.shape.size(); ++d)
        if (v.shape[d] < 0) {
          std::string sym = d < in.dim_names.size() && !in.dim_names[d].empty() ? " '" + in.dim_names[d] + "'" : "";
          if (d == 0) {
            info.warnings.push_back("input '" + in.name + "': batch dim" + sym +
                                    " is dynamic, set to 1 (use --input_shapes to choose)");
            v.shape[d] = 1;
          } else {
            info.warnings.push_back("input '" + in.name + "': dim " + std::to_string(d) + sym +
                                    " is dynamic and stays unknown: pass --input_shapes (e.g. [" +
                                    "[1,3,640,640]]) for concrete shapes");
          }
        }
    }
    info.values[in.name] = v;
  }
  for (const auto& [name, t] : g.weights) {
    ValueState v = value(t.dtype(), t.shape());
    v.constant = t;
    info.values[name] = v;
  }
  const int64_t opset = model.opset();
  info.node_folded.assign(g.nodes.size(), false);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    Ctx c{n, {}, opset};
    bool all_const = true;
    std::vector<const Tensor*> consts;
    for (const auto& name : n.inputs) {
      if (name.empty()) {
        c.in.push_back(nullptr);
        consts.push_back(nullptr);
        continue;
      }
      const ValueState* v = info.find(name);
      require(v != nullptr, n.describe() + ": input '" + name + "' has no value");
      c.in.push_back(v);
      consts.push_back(v->constant ? &*v->constant : nullptr);
      all_const &= v->constant.has_value();
    }
    // Shape of a fully known tensor is a constant even when the tensor is not.
    if ((n.op_type == "Shape" || n.op_type == "Size") && n.domain.empty() && !c.in.empty() && c.in[0] &&
        c.in[0]->shape_known() && !c.in[0]->constant) {
      Shape s = c.in[0]->shape;
      if (n.op_type == "Size") {
        info.values[n.outputs[0]] = value(DType::Int64, {});
        info.values[n.outputs[0]].constant = Tensor::scalar_i64(shape_numel(s));
      } else {
        Shape part = shape_op_result(n, s);
        ValueState v = value(DType::Int64, {static_cast<int64_t>(part.size())});
        v.constant = Tensor::from_i64({static_cast<int64_t>(part.size())}, part);
        info.values[n.outputs[0]] = v;
      }
      info.node_folded[i] = true;
      continue;
    }
    if (all_const && !n.inputs.empty()) {
      std::optional<std::vector<Tensor>> folded;
      try {
        folded = const_eval(n, consts, opset);
      } catch (const Error& e) {
        throw Error(std::string("constant folding: ") + e.what());
      }
      if (folded) {
        for (size_t k = 0; k < n.outputs.size() && k < folded->size(); ++k) {
          if (n.outputs[k].empty()) continue;
          ValueState v = value((*folded)[k].dtype(), (*folded)[k].shape());
          v.constant = std::move((*folded)[k]);
          info.values[n.outputs[k]] = std::move(v);
        }
        info.node_folded[i] = true;
        continue;
      }
    }
    std::vector<ValueState> outs;
    auto it = rules().find(n.op_type);
    if (it != rules().end() && n.domain.empty()) {
      outs = it->second(c);
    }
    for (size_t k = 0; k < n.outputs.size(); ++k) {
      if (n.outputs[k].empty()) continue;
      ValueState v =
          k < outs.size() ? outs[k] : unknown_rank(c.in.empty() || !c.in[0] ? DType::Float32 : c.in[0]->dtype);
      // a declared value_info/output shape can fill what inference could not
      if (!v.rank_known) {
        auto vi = g.value_info.find(n.outputs[k]);
        const ValueInfo* decl = vi != g.value_info.end() ? &vi->second : nullptr;
        if (!decl)
          for (const auto& o : g.outputs)
            if (o.name == n.outputs[k]) decl = &o;
        if (decl && decl->has_shape) {
          v.rank_known = true;
          v.shape = decl->dims;
          if (decl->dtype != DType::Undefined) v.dtype = decl->dtype;
        }
      }
      info.values[n.outputs[k]] = std::move(v);
    }
  }
  return info;
}

}  // namespace mixq
