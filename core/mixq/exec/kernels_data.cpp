// Data movement (any element type, byte-wise): Concat, Split, Slice, Gather,
// GatherElements, Transpose, Expand, Tile, Pad, DepthToSpace, SpaceToDepth, view ops
// (Reshape, Flatten, Squeeze, Unsqueeze), and shape/constant producers (Shape, Size,
// ConstantOfShape, Range) for graphs where they are not constant-folded.
//
// [SECTIONS]
//   strided_copy     dst (contiguous, out shape) <- src at base + sum idx[d]*stride[d]
//   kernels
//   registration
#include <cstring>

#include "mixq/const_eval.h"
#include "mixq/exec/kernel.h"

namespace mixq::exec {
namespace {

// ---------------------------------------------------------------------------------------
// [strided_copy]
void strided_copy(const uint8_t* src, int64_t base, const std::vector<int64_t>& stride, const Shape& shape,
                  uint8_t* dst, size_t es, ThreadPool& pool) {
  size_t r = shape.size();
  int64_t total = shape_numel(shape);
  if (total == 0) return;
  if (r == 0) {
    std::memcpy(dst, src + base * es, es);
    return;
  }
  int64_t inner = shape[r - 1], sl = stride[r - 1];
  int64_t rows = total / inner;
  parallel_range(pool, rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(inner, 1)), [&](int64_t b, int64_t e) {
    for (int64_t row = b; row < e; ++row) {
      int64_t off = base, rem = row;
      for (int64_t d = int64_t(r) - 2; d >= 0; --d) {
        off += (rem % shape[d]) * stride[d];
        rem /= shape[d];
      }
      uint8_t* o = dst + row * inner * es;
      if (sl == 1) {
        std::memcpy(o, src + off * es, inner * es);
      } else if (es == 4) {
        const uint32_t* s = reinterpret_cast<const uint32_t*>(src) + off;
        uint32_t* d = reinterpret_cast<uint32_t*>(o);
        for (int64_t i = 0; i < inner; ++i) d[i] = s[i * sl];
      } else {
        for (int64_t i = 0; i < inner; ++i) std::memcpy(o + i * es, src + (off + i * sl) * es, es);
      }
    }
  });
}

size_t esize_of(const KernelInit& k) {
  size_t es = dtype_size(k.outputs[0]->dtype);
  check(es != 0 && k.outputs[0]->dtype != DType::String, k.node, "element type not supported");
  return es;
}

// ---------------------------------------------------------------------------------------
// [kernels]
std::unique_ptr<Kernel> make_concat(const KernelInit& k) {
  const Shape& y = k.out_shape(0);
  int64_t axis = norm_axis(k.node.attr_int("axis", 0), int64_t(y.size()), k.node);
  size_t es = esize_of(k);
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= y[i];
  for (size_t i = axis + 1; i < y.size(); ++i) inner *= y[i];
  std::vector<int64_t> widths;
  for (size_t i = 0; i < k.inputs.size(); ++i) widths.push_back(k.has_input(i) ? k.in_shape(i)[axis] : 0);
  int64_t total = y[axis];
  return make_fn([=](const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) {
    uint8_t* dst = out[0]->mutable_bytes().data();
    parallel_range(pool, outer, std::max<int64_t>(1, 65536 / std::max<int64_t>(total * inner, 1)),
                   [&](int64_t b, int64_t e) {
                     for (int64_t o = b; o < e; ++o) {
                       int64_t pos = 0;
                       for (size_t i = 0; i < in.size(); ++i) {
                         if (!in[i] || widths[i] == 0) continue;
                         size_t chunk = size_t(widths[i] * inner) * es;
                         std::memcpy(dst + (o * total + pos) * inner * es, in[i]->bytes().data() + o * chunk, chunk);
                         pos += widths[i];
                       }
                     }
                   });
  });
}

std::unique_ptr<Kernel> make_split(const KernelInit& k) {
  const Shape& x = k.in_shape(0);
  int64_t axis = norm_axis(k.node.attr_int("axis", 0), int64_t(x.size()), k.node);
  size_t es = dtype_size(k.inputs[0]->dtype);
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= x[i];
  for (size_t i = axis + 1; i < x.size(); ++i) inner *= x[i];
  std::vector<int64_t> widths;
  for (size_t i = 0; i < k.outputs.size(); ++i) widths.push_back(k.outputs[i] ? k.out_shape(i)[axis] : 0);
  int64_t total = x[axis];
  return make_fn([=](const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool&) {
    const uint8_t* src = in[0]->bytes().data();
    for (int64_t o = 0; o < outer; ++o) {
      int64_t pos = 0;
      for (size_t i = 0; i < out.size(); ++i) {
        size_t chunk = size_t(widths[i] * inner) * es;
        if (out[i])
          std::memcpy(out[i]->mutable_bytes().data() + o * chunk, src + (o * total + pos) * inner * es, chunk);
        pos += widths[i];
      }
    }
  });
}

std::unique_ptr<Kernel> make_slice(const KernelInit& k) {
  const Node& n = k.node;
  Shape x = k.in_shape(0);
  size_t es = esize_of(k);
  bool attrs = k.opset < 10;
  std::vector<int64_t> a_starts = n.attr_ints("starts"), a_ends = n.attr_ints("ends"), a_axes = n.attr_ints("axes");
  int64_t opset = k.opset;
  const Node* node = &n;
  Shape expected = k.out_shape(0);
  return make_fn([=](const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) {
    std::vector<int64_t> starts = a_starts, ends = a_ends, axes = a_axes, steps;
    if (!attrs) {
      starts = in.at(1)->to_i64();
      ends = in.at(2)->to_i64();
      axes = in.size() > 3 && in[3] ? in[3]->to_i64() : std::vector<int64_t>();
      steps = in.size() > 4 && in[4] ? in[4]->to_i64() : std::vector<int64_t>();
    }
    (void)opset;
    std::vector<int64_t> st, step;
    Shape os;
    if (!slice_params(x, starts, ends, axes, steps, *node, st, step, os)) fail(*node, "cannot compute the slice");
    if (os != expected)
      fail(*node, "slice shape " + shape_str(os) + " differs from the inferred " + shape_str(expected));
    auto xs = row_strides(x);
    int64_t base = 0;
    std::vector<int64_t> stride(x.size());
    for (size_t d = 0; d < x.size(); ++d) {
      base += st[d] * xs[d];
      stride[d] = step[d] * xs[d];
    }
    strided_copy(in[0]->bytes().data(), base, stride, os, out[0]->mutable_bytes().data(), es, pool);
  });
}

std::unique_ptr<Kernel> make_gather(const KernelInit& k) {
  const Shape& x = k.in_shape(0);
  int64_t axis = norm_axis(k.node.attr_int("axis", 0), int64_t(x.size()), k.node);
  size_t es = esize_of(k);
  int64_t outer = 1, inner = 1, n = x[axis];
  for (int64_t i = 0; i < axis; ++i) outer *= x[i];
  for (size_t i = axis + 1; i < x.size(); ++i) inner *= x[i];
  const Node* node = &k.node;
  return make_fn([=](const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool&) {
    std::vector<int64_t> idx = in[1]->to_i64();
    for (auto& i : idx) {
      if (i < 0) i += n;
      if (i < 0 || i >= n) fail(*node, "index out of range [0, " + std::to_string(n) + ")");
    }
    const uint8_t* src = in[0]->bytes().data();
    uint8_t* dst = out[0]->mutable_bytes().data();
    size_t chunk = size_t(inner) * es;
    int64_t m = int64_t(idx.size());
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t j = 0; j < m; ++j) std::memcpy(dst + (o * m + j) * chunk, src + (o * n + idx[j]) * chunk, chunk);
  });
}

std::unique_ptr<Kernel> make_gather_elements(const KernelInit& k) {
  const Shape& x = k.in_shape(0);
  int64_t axis = norm_axis(k.node.attr_int("axis", 0), int64_t(x.size()), k.node);
  size_t es = esize_of(k);
  Shape is = k.in_shape(1);
  return make_fn([=](const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool&) {
    auto idx = in[1]->to_i64();
    auto xs = row_strides(x), ist = row_strides(is);
    const uint8_t* src = in[0]->bytes().data();
    uint8_t* dst = out[0]->mutable_bytes().data();
    for (int64_t i = 0; i < int64_t(idx.size()); ++i) {
      int64_t off = 0, rem = i;
      for (size_t d = 0; d < is.size(); ++d) {
        int64_t c = rem / ist[d];
        rem %= ist[d];
        if (int64_t(d) == axis) {
          c = idx[i] < 0 ? idx[i] + x[d] : idx[i];
          if (c < 0 || c >= x[d]) fail(k.node, "index out of range");
        }
        off += c * xs[d];
      }
      std::memcpy(dst + i * es, src + off * es, es);
    }
  });
}

std::unique_ptr<Kernel> make_transpose(const KernelInit& k) {
  const Shape& x = k.in_shape(0);
  std::vector<int64_t> perm = k.node.attr_ints("perm");
  if (perm.empty())
    for (int64_t i = int64_t(x.size()) - 1; i >= 0; --i) perm.push_back(i);
  check(perm.size() == x.size(), k.node, "perm has the wrong length");
  size_t es = esize_of(k);
  auto xs = row_strides(x);
  std::vector<int64_t> stride;
  Shape os;
  for (int64_t p : perm) {
    stride.push_back(xs[norm_axis(p, int64_t(x.size()), k.node)]);
    os.push_back(x[norm_axis(p, int64_t(x.size()), k.node)]);
  }
  return make_fn([=](const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) {
    strided_copy(in[0]->bytes().data(), 0, stride, os, out[0]->mutable_bytes().data(), es, pool);
  });
}

std::unique_ptr<Kernel> make_expand(const KernelInit& k) {
  Shape x = k.in_shape(0);
  const Shape& y = k.out_shape(0);
  size_t es = esize_of(k);
  x.insert(x.begin(), y.size() - x.size(), 1);
  auto xs = row_strides(x);
  std::vector<int64_t> stride(y.size());
  for (size_t d = 0; d < y.size(); ++d) stride[d] = x[d] == 1 ? 0 : xs[d];
  return make_fn([=](const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) {
    strided_copy(in[0]->bytes().data(), 0, stride, y, out[0]->mutable_bytes().data(), es, pool);
  });
}

std::unique_ptr<Kernel> make_tile(const KernelInit& k) {
  const Shape& x = k.in_shape(0);
  const Shape& y = k.out_shape(0);
  size_t es = esize_of(k);
  return make_fn([=](const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool&) {
    auto xs = row_strides(x), ys = row_strides(y);
    const uint8_t* src = in[0]->bytes().data();
    uint8_t* dst = out[0]->mutable_bytes().data();
    int64_t total = out[0]->numel();
    for (int64_t i = 0; i < total; ++i) {
      int64_t off = 0, rem = i;
      for (size_t d = 0; d < y.size(); ++d) {
        off += ((rem / ys[d]) % x[d]) * xs[d];
        rem %= ys[d];
      }
      std::memcpy(dst + i * es, src + off * es, es);
    }
  });
}

std::unique_ptr<Kernel> make_pad(const KernelInit& k) {
  const Node& n = k.node;
  const Shape& x = k.in_shape(0);
  const Shape& y = k.out_shape(0);
  size_t es = esize_of(k);
  std::string mode = n.attr_string("mode", "constant");
  check(mode == "constant" || mode == "reflect" || mode == "edge" || mode == "wrap", n, "unknown mode '" + mode + "'");
  bool attrs = k.opset < 11;
  std::vector<int64_t> a_pads = n.attr_ints(k.opset < 2 ? "paddings" : "pads");
  float a_value = n.attr_float("value", 0.f);
  DType dt = k.outputs[0]->dtype;
  size_t r = x.size();
  const Node* node = &n;
  return make_fn([=](const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) {
    std::vector<int64_t> pads = a_pads;
    Tensor value = tensor_from_f64(dt, {}, {double(a_value)});
    if (!attrs) {
      pads = in.at(1)->to_i64();
      if (in.size() > 2 && in[2] && in[2]->numel() > 0) value = tensor_from_f64(dt, {}, {in[2]->to_f64()[0]});
      if (in.size() > 3 && in[3]) {  // axes (opset 18)
        auto axes = in[3]->to_i64();
        std::vector<int64_t> full(2 * r, 0);
        for (size_t i = 0; i < axes.size(); ++i) {
          int64_t a = norm_axis(axes[i], int64_t(r), *node);
          full[a] = pads[i];
          full[r + a] = pads[axes.size() + i];
        }
        pads = full;
      }
    }
    check(pads.size() == 2 * r, *node, "pads must have 2 x rank values");
    const uint8_t* src = in[0]->bytes().data();
    uint8_t* dst = out[0]->mutable_bytes().data();
    int64_t total = out[0]->numel();
    if (mode == "constant") {
      if (es == 4) {
        uint32_t v;
        std::memcpy(&v, value.bytes().data(), 4);
        std::fill_n(reinterpret_cast<uint32_t*>(dst), total, v);
      } else {
        for (int64_t i = 0; i < total; ++i) std::memcpy(dst + i * es, value.bytes().data(), es);
      }
      // interior: output region [max(pb,0), ...) <- input region [max(-pb,0), ...), row by row
      auto xs = row_strides(x), ysd = row_strides(y);
      Shape region(r);
      int64_t src_base = 0, dst_base = 0;
      for (size_t d = 0; d < r; ++d) {
        int64_t pb = pads[d], pe = pads[r + d];
        int64_t s0 = std::max<int64_t>(-pb, 0), d0 = std::max<int64_t>(pb, 0);
        region[d] = std::max<int64_t>(0, x[d] - s0 - std::max<int64_t>(-pe, 0));
        src_base += s0 * xs[d];
        dst_base += d0 * ysd[d];
      }
      int64_t rn = shape_numel(region);
      if (rn == 0 || r == 0) {
        if (r == 0) std::memcpy(dst, src, es);
        return;
      }
      // rows of the region in order: an odometer over the outer dims (no divisions)
      int64_t inner = region[r - 1];
      int64_t rows = rn / inner;
      std::vector<int64_t> idx(r, 0);
      int64_t so = src_base, doff = dst_base;
      for (int64_t row = 0; row < rows; ++row) {
        std::memcpy(dst + doff * es, src + so * es, inner * es);
        for (int64_t d = int64_t(r) - 2; d >= 0; --d) {
          so += xs[d];
          doff += ysd[d];
          if (++idx[d] < region[d]) break;
          so -= region[d] * xs[d];
          doff -= region[d] * ysd[d];
          idx[d] = 0;
        }
      }
      return;
    }
    auto xs = row_strides(x), ys = row_strides(y);
    for (int64_t i = 0; i < total; ++i) {
      int64_t off = 0, rem = i;
      for (size_t d = 0; d < r; ++d) {
        int64_t c = rem / ys[d] - pads[d];
        rem %= ys[d];
        int64_t m = x[d];
        if (mode == "edge")
          c = std::clamp<int64_t>(c, 0, m - 1);
        else if (mode == "wrap")
          c = ((c % m) + m) % m;
        else if (m == 1)
          c = 0;
        else {
          int64_t period = 2 * (m - 1);
          c = ((c % period) + period) % period;
          if (c >= m) c = period - c;
        }
        off += c * xs[d];
      }
      std::memcpy(dst + i * es, src + off * es, es);
    }
  });
}

std::unique_ptr<Kernel> make_depth_space(const KernelInit& k, bool to_space) {
  const Node& n = k.node;
  const Shape& x = k.in_shape(0);
  check(x.size() == 4, n, "expected a 4-D input");
  int64_t bs = n.attr_int("blocksize", 0);
  check(bs > 0, n, "blocksize must be positive");
  bool crd = n.attr_string("mode", "DCR") == "CRD";
  size_t es = esize_of(k);
  int64_t N = x[0], C = x[1], H = x[2], W = x[3];
  // Express as a 6-D transpose of a reshaped input.
  Shape v;
  std::vector<int64_t> perm;
  if (to_space) {
    if (crd)
      v = {N, C / (bs * bs), bs, bs, H, W}, perm = {0, 1, 4, 2, 5, 3};
    else
      v = {N, bs, bs, C / (bs * bs), H, W}, perm = {0, 3, 4, 1, 5, 2};
  } else {
    v = {N, C, H / bs, bs, W / bs, bs}, perm = {0, 3, 5, 1, 2, 4};
  }
  auto vs = row_strides(v);
  Shape os;
  std::vector<int64_t> stride;
  for (int64_t p : perm) os.push_back(v[p]), stride.push_back(vs[p]);
  return make_fn([=](const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) {
    strided_copy(in[0]->bytes().data(), 0, stride, os, out[0]->mutable_bytes().data(), es, pool);
  });
}

std::unique_ptr<Kernel> make_shape(const KernelInit& k) {
  Shape x = k.in_shape(0);
  int64_t r = int64_t(x.size());
  int64_t start = k.node.attr_int("start", 0), end = k.node.attr_int("end", r);
  if (start < 0) start += r;
  if (end < 0) end += r;
  start = std::clamp<int64_t>(start, 0, r);
  end = std::clamp<int64_t>(end, start, r);
  std::vector<int64_t> dims(x.begin() + start, x.begin() + end);
  return make_fn([dims](const std::vector<const Tensor*>&, const std::vector<Tensor*>& out, ThreadPool&) {
    *out[0] = tensor_from_i64(out[0]->dtype(), out[0]->shape(), dims);
  });
}

std::unique_ptr<Kernel> make_constant_of_shape(const KernelInit& k) {
  const Tensor* v = k.node.attr_tensor("value");
  std::vector<uint8_t> value;
  if (v) value.assign(v->bytes().begin(), v->bytes().end());
  if (value.empty()) value.assign(dtype_size(k.outputs[0]->dtype), 0);
  return make_fn([value](const std::vector<const Tensor*>&, const std::vector<Tensor*>& out, ThreadPool&) {
    uint8_t* d = out[0]->mutable_bytes().data();
    for (int64_t i = 0; i < out[0]->numel(); ++i) std::memcpy(d + i * value.size(), value.data(), value.size());
  });
}

std::unique_ptr<Kernel> make_range(const KernelInit& k) {
  return make_fn([](const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool&) {
    Tensor& y = *out[0];
    int64_t n = y.numel();
    if (dtype_is_float(y.dtype())) {
      double s = in[0]->to_f64()[0], d = in[2]->to_f64()[0];
      std::vector<double> v(n);
      for (int64_t i = 0; i < n; ++i) v[i] = s + double(i) * d;
      y = tensor_from_f64(y.dtype(), y.shape(), v);
    } else {
      int64_t s = in[0]->to_i64()[0], d = in[2]->to_i64()[0];
      std::vector<int64_t> v(n);
      for (int64_t i = 0; i < n; ++i) v[i] = s + i * d;
      y = tensor_from_i64(y.dtype(), y.shape(), v);
    }
  });
}

}  // namespace

// ---------------------------------------------------------------------------------------
// [registration]
void register_data_kernels(KernelRegistry& r) {
  r["Concat"] = make_concat;
  r["Split"] = make_split;
  r["Slice"] = make_slice;
  r["Gather"] = make_gather;
  r["GatherElements"] = make_gather_elements;
  r["Transpose"] = make_transpose;
  r["Expand"] = make_expand;
  r["Tile"] = make_tile;
  r["Pad"] = make_pad;
  r["DepthToSpace"] = [](const KernelInit& k) { return make_depth_space(k, true); };
  r["SpaceToDepth"] = [](const KernelInit& k) { return make_depth_space(k, false); };
  r["Shape"] = make_shape;
  r["Size"] = [](const KernelInit& k) {
    int64_t n = shape_numel(k.in_shape(0));
    return make_fn([n](const std::vector<const Tensor*>&, const std::vector<Tensor*>& out, ThreadPool&) {
      *out[0] = tensor_from_i64(out[0]->dtype(), out[0]->shape(), {n});
    });
  };
  r["ConstantOfShape"] = make_constant_of_shape;
  r["Range"] = make_range;
  for (const char* v : {"Reshape", "Flatten", "Squeeze", "Unsqueeze"})
    r[v] = [](const KernelInit&) { return make_view_kernel(); };
}

}  // namespace mixq::exec
