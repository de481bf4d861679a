// Element-wise ops: unary activations and math, binary/variadic arithmetic with numpy
// broadcasting, comparisons and logic (bool outputs), Where, Cast, PRelu, Clip.
//
// [SECTIONS]
//   broadcast engine     collapse dims, innermost row loop with 0/1 strides
//   unary float ops      Eigen array paths for exp/tanh/log; logistic and Softmax's exp
//                        in register-wide vectors; scalar loops else
//   binary / variadic    float fast path; int64 and double paths for other dtypes
//   Where, Cast, Not, Clip
//   registration
#include <Eigen/Core>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "mixq/exec/kernel.h"
#include "mixq/exec/vec.h"

namespace mixq::exec {
namespace {

// ---------------------------------------------------------------------------------------
// [broadcast engine]
struct Bcast {
  std::vector<int64_t> dims;    // collapsed output dims (outer..inner)
  std::vector<int64_t> sa, sb;  // element strides of a and b per collapsed dim
  int64_t inner = 1, rows = 1;  // innermost length; product of the other dims
};

Bcast make_bcast(Shape a, Shape b, const Shape& out) {
  size_t r = out.size();
  a.insert(a.begin(), r - a.size(), 1);
  b.insert(b.begin(), r - b.size(), 1);
  auto as = row_strides(a), bs = row_strides(b);
  Bcast p;
  for (size_t d = 0; d < r; ++d) {
    if (out[d] == 1) continue;
    int64_t sa = a[d] == 1 ? 0 : as[d], sb = b[d] == 1 ? 0 : bs[d];
    if (!p.dims.empty() && p.sa.back() == sa * out[d] && p.sb.back() == sb * out[d]) {
      p.dims.back() *= out[d];
      p.sa.back() = sa;
      p.sb.back() = sb;
    } else {
      p.dims.push_back(out[d]);
      p.sa.push_back(sa);
      p.sb.push_back(sb);
    }
  }
  if (p.dims.empty()) {
    p.dims = {1};
    p.sa = {0};
    p.sb = {0};
  }
  p.inner = p.dims.back();
  for (size_t d = 0; d + 1 < p.dims.size(); ++d) p.rows *= p.dims[d];
  return p;
}

template <class T, class U, class Op>
inline void bcast_row(const T* a, int64_t sa, const T* b, int64_t sb, U* o, int64_t n, Op op) {
  // In place (o == a or o == b): loops that read the output pointer itself, so that clang's
  // vectoriser does not fall back to scalar code on its overlap check (see map_values).
  if constexpr (std::is_same_v<T, U>) {
    if (o == a && sa == 1) {
      if (sb == 0) {
        T bv = b[0];
        for (int64_t i = 0; i < n; ++i) o[i] = op(o[i], bv);
        return;
      }
      if (sb == 1 && o != b) {
        for (int64_t i = 0; i < n; ++i) o[i] = op(o[i], b[i]);
        return;
      }
    } else if (o == b && sb == 1) {
      if (sa == 0) {
        T av = a[0];
        for (int64_t i = 0; i < n; ++i) o[i] = op(av, o[i]);
        return;
      }
      if (sa == 1) {
        for (int64_t i = 0; i < n; ++i) o[i] = op(a[i], o[i]);
        return;
      }
    }
  }
  if (sa == 1 && sb == 1) {
    for (int64_t i = 0; i < n; ++i) o[i] = op(a[i], b[i]);
  } else if (sa == 1 && sb == 0) {
    T bv = b[0];
    for (int64_t i = 0; i < n; ++i) o[i] = op(a[i], bv);
  } else if (sa == 0 && sb == 1) {
    T av = a[0];
    for (int64_t i = 0; i < n; ++i) o[i] = op(av, b[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) o[i] = op(a[i * sa], b[i * sb]);
  }
}

// o[out] = op(a, b) with numpy broadcasting. o may alias a when a has the output shape.
template <class T, class U, class Op>
void broadcast_apply(const T* a, const Shape& ashape, const T* b, const Shape& bshape, U* o, const Shape& oshape, Op op,
                     ThreadPool& pool) {
  Bcast p = make_bcast(ashape, bshape, oshape);
  int64_t inner = p.inner;
  size_t outer_rank = p.dims.size() - 1;
  int64_t isa = p.sa.back(), isb = p.sb.back();
  // Split long rows into fixed chunks too.
  constexpr int64_t kChunk = 16384;
  int64_t row_chunks = (inner + kChunk - 1) / kChunk;
  int64_t rows_per_task = std::max<int64_t>(1, kChunk / std::max<int64_t>(inner, 1));
  int64_t tasks = row_chunks > 1 ? p.rows * row_chunks : (p.rows + rows_per_task - 1) / rows_per_task;
  pool.parallel_for(tasks, [&](int64_t t) {
    int64_t r0, r1, c0 = 0, c1 = inner;
    if (row_chunks > 1) {
      r0 = t / row_chunks;
      r1 = r0 + 1;
      c0 = (t % row_chunks) * kChunk;
      c1 = std::min(inner, c0 + kChunk);
    } else {
      r0 = t * rows_per_task;
      r1 = std::min(p.rows, r0 + rows_per_task);
    }
    for (int64_t r = r0; r < r1; ++r) {
      int64_t oa = 0, ob = 0, rem = r;
      for (int64_t d = int64_t(outer_rank) - 1; d >= 0; --d) {
        int64_t idx = rem % p.dims[d];
        rem /= p.dims[d];
        oa += idx * p.sa[d];
        ob += idx * p.sb[d];
      }
      bcast_row(a + oa + c0 * isa, isa, b + ob + c0 * isb, isb, o + r * inner + c0, c1 - c0, op);
    }
  });
}

// ---------------------------------------------------------------------------------------
// [unary float ops]
using ArrMap = Eigen::Map<Eigen::ArrayXf>;
using ConstArrMap = Eigen::Map<const Eigen::ArrayXf>;

// A float32 unary op, in place when the planner allows: chunk(x, y, n) on fixed chunks of
// 16384 values (a multiple of every vector width: results never depend on the split).
template <class Chunk>
std::unique_ptr<Kernel> unary_chunks(const KernelInit& k, Chunk chunk) {
  check(k.inputs[0]->dtype == DType::Float32, k.node, "only float32 inputs are supported");
  return make_fn(
      [chunk](const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) {
        const float* x = in[0]->f32().data();
        float* y = out[0]->f32().data();
        parallel_range(pool, in[0]->numel(), 16384, [&](int64_t b, int64_t e) { chunk(x + b, y + b, e - b); });
      },
      0, {0});
}

// y = f(x) per value.
template <class F>
std::unique_ptr<Kernel> unary_scalar(const KernelInit& k, F f) {
  return unary_chunks(k, [f](const float* x, float* y, int64_t n) { map_values(x, y, n, f); });
}

// An Eigen array expression per chunk: g(ConstArrMap) -> array expression.
template <class G>
std::unique_ptr<Kernel> unary_eigen(const KernelInit& k, G g) {
  return unary_chunks(k, [g](const float* x, float* y, int64_t n) { ArrMap(y, n) = g(ConstArrMap(x, n)); });
}

}  // namespace

namespace {
// Vectors of L floats (GCC/Clang vector types); kMathLanes (below) is the width of the
// logistic and exp loops.
template <int L>
struct Lanes {
  typedef float F __attribute__((vector_size(L * sizeof(float))));
  typedef int32_t I __attribute__((vector_size(L * sizeof(int32_t))));
};

template <int L>
bool any_lane(typename Lanes<L>::I mask) {
  int32_t w[L];
  std::memcpy(w, &mask, sizeof w);
  int32_t any = 0;
  for (int k = 0; k < L; k++) any |= w[k];
  return any != 0;
}

// The polynomial coefficients, read once per call through a volatile table: as opaque
// values they stay in registers or spill slots, where literal vector constants would be
// rebuilt at every use by V8's wasm compiler (measured 1.4x slower).
template <int L>
struct MathCoefficients {
  using V = typename Lanes<L>::F;
  V v[20];
  MathCoefficients() {
    static const volatile float c[20] = {
        -87.3f,
        1.44269504088896341f,
        0.693359375f,
        -2.12194440e-4f,
        1.9875691500e-4f,
        1.3981999507e-3f,
        8.3334519073e-3f,
        4.1665795894e-2f,
        1.6666665459e-1f,
        5.0000001201e-1f,  // exp
        4.37031012579801e-11f,
        1.15627324459942e-07f,
        6.08574864600143e-05f,
        8.51377133304701e-03f,
        2.48287947061529e-01f,  // logistic numerator
        6.10247389755681e-13f,
        5.76102136993427e-09f,
        6.29106785017040e-06f,
        1.70198817374094e-03f,
        1.16817656904453e-01f};  // logistic denominator (the last, 9.93151921023180e-01, below)
    for (int k = 0; k < 20; k++) v[k] = V{} + c[k];
  }
};

// e^x for x <= 0 (Cephes' expf: x = n ln2 + r, |r| <= ln2/2, degree-7 polynomial, 2^n by
// the exponent bits); x below -87.3 gives e^-87.3 (~1e-38) instead of denormals.
template <int L>
typename Lanes<L>::F exp_nonpositive(typename Lanes<L>::F x, const MathCoefficients<L>& k) {
  using V = typename Lanes<L>::F;
  using VI = typename Lanes<L>::I;
  x = clamp_below(x, k.v[0]);
  const V fx = x * k.v[1] + 0.5f;
  V n = __builtin_convertvector(__builtin_convertvector(fx, VI), V);  // truncation
  n = n > fx ? n - 1.f : n;                                           // floor
  V r = x - n * k.v[2];
  r = r - n * k.v[3];
  V p = r * k.v[4] + k.v[5];
  p = p * r + k.v[6];
  p = p * r + k.v[7];
  p = p * r + k.v[8];
  p = p * r + k.v[9];
  const V y = p * (r * r) + r + 1.f;
  const VI bits = (__builtin_convertvector(n, VI) + 127) << 23;
  return y * (V)bits;
}

// Eigen's float logistic (a rational approximation, exact to ~1 ulp, saturating at 1; e^x
// below -9).
template <int L>
typename Lanes<L>::F logistic_lanes(typename Lanes<L>::F x_in, const MathCoefficients<L>& k) {
  using V = typename Lanes<L>::F;
  using VI = typename Lanes<L>::I;
  const V x = clamp_above(x_in, V{} + 15.6437711715698242f);  // NaN stays NaN
  const V x2 = x * x;
  V p = x2 * k.v[10] + k.v[11];
  p = x2 * p + k.v[12];
  p = x2 * p + k.v[13];
  p = x2 * p + k.v[14];
  p = x * p;
  V q = x2 * k.v[15] + k.v[16];
  q = x2 * q + k.v[17];
  q = x2 * q + k.v[18];
  q = x2 * q + k.v[19];
  q = x2 * q + 9.93151921023180e-01f;
  V y = p / q + 0.5f;
  y = clamp_above(y, V{} + 1.f);
  const VI small = x_in < -9.f;
  if (any_lane<L>(small)) y = small ? exp_nonpositive<L>(x_in, k) : y;
  return y;
}

// y = f(x) over n floats, L at a time (the tail through a zero-padded block).
template <int L, class F>
void map_lanes(const float* x, float* y, int64_t n, F f) {
  using V = typename Lanes<L>::F;
  int64_t i = 0;
  for (; i + L <= n; i += L) store_unaligned(y + i, f(load_unaligned<V>(x + i)));
  if (i < n) {
    float tmp[L] = {};
    std::memcpy(tmp, x + i, (n - i) * sizeof(float));
    store_unaligned(tmp, f(load_unaligned<V>(tmp)));
    std::memcpy(y + i, tmp, (n - i) * sizeof(float));
  }
}

// One register: under AVX2 GCC compiled 16-float vectors into code 8x slower (yolov5n-face's
// Sigmoids 54 -> 6.6 ms with 8); in wasm 4 and 16 lanes measured alike in node.
constexpr int kMathLanes = kRegisterLanes;
}  // namespace

void logistic(const float* x, float* y, int64_t n, bool times_x) {
  using V = Lanes<kMathLanes>::F;
  const MathCoefficients<kMathLanes> k;
  if (times_x) {
    map_lanes<kMathLanes>(x, y, n, [&](V v) { return v * logistic_lanes<kMathLanes>(v, k); });
  } else {
    map_lanes<kMathLanes>(x, y, n, [&](V v) { return logistic_lanes<kMathLanes>(v, k); });
  }
}

// e^(x - shift) for x <= shift (Softmax's shifted exponentials; above, the result is wrong).
void exp_shifted(const float* x, float* y, int64_t n, float shift) {
  using V = Lanes<kMathLanes>::F;
  const MathCoefficients<kMathLanes> k;
  map_lanes<kMathLanes>(x, y, n, [&](V v) { return exp_nonpositive<kMathLanes>(v - shift, k); });
}

namespace {

float erf_f(float x) {
  return std::erf(x);
}

// ---------------------------------------------------------------------------------------
// [binary / variadic]
enum class Bin { Add, Sub, Mul, Div, Pow, Max, Min, Mod, Eq, Lt, Gt, Le, Ge, And, Or, Xor, PRelu };
bool is_compare(Bin b) {
  return b >= Bin::Eq && b <= Bin::Xor;
}

template <class T>
void apply_bin(Bin op, const T* a, const Shape& as, const T* b, const Shape& bs, T* o, const Shape& os,
               ThreadPool& pool) {
  switch (op) {
    case Bin::Add:
      return broadcast_apply(
          a, as, b, bs, o, os, [](T x, T y) { return T(x + y); }, pool);
    case Bin::Sub:
      return broadcast_apply(
          a, as, b, bs, o, os, [](T x, T y) { return T(x - y); }, pool);
    case Bin::Mul:
      return broadcast_apply(
          a, as, b, bs, o, os, [](T x, T y) { return T(x * y); }, pool);
    case Bin::Div:
      if constexpr (std::is_integral_v<T>) {
        return broadcast_apply(
            a, as, b, bs, o, os, [](T x, T y) { return y == 0 ? T(0) : T(x / y); }, pool);
      } else {
        return broadcast_apply(
            a, as, b, bs, o, os, [](T x, T y) { return T(x / y); }, pool);
      }
    case Bin::Pow:
      return broadcast_apply(
          a, as, b, bs, o, os, [](T x, T y) { return T(std::pow(x, y)); }, pool);
    case Bin::Max:
      return broadcast_apply(
          a, as, b, bs, o, os, [](T x, T y) { return x > y ? x : y; }, pool);
    case Bin::Min:
      return broadcast_apply(
          a, as, b, bs, o, os, [](T x, T y) { return x < y ? x : y; }, pool);
    case Bin::PRelu:
      return broadcast_apply(
          a, as, b, bs, o, os, [](T x, T y) { return x < 0 ? T(x * y) : x; }, pool);
    case Bin::Mod:
      if constexpr (std::is_integral_v<T>) {
        return broadcast_apply(
            a, as, b, bs, o, os,
            [](T x, T y) {
              if (y == 0) return T(0);
              T m = x % y;
              return (m != 0 && ((m < 0) != (y < 0))) ? T(m + y) : m;
            },
            pool);
      } else {
        return broadcast_apply(
            a, as, b, bs, o, os, [](T x, T y) { return T(std::fmod(x, y)); }, pool);
      }
    default:
      break;
  }
}

template <class T>
void apply_cmp(Bin op, const T* a, const Shape& as, const T* b, const Shape& bs, uint8_t* o, const Shape& os,
               ThreadPool& pool) {
  switch (op) {
    case Bin::Eq:
      return broadcast_apply(
          a, as, b, bs, o, os, [](T x, T y) { return uint8_t(x == y); }, pool);
    case Bin::Lt:
      return broadcast_apply(
          a, as, b, bs, o, os, [](T x, T y) { return uint8_t(x < y); }, pool);
    case Bin::Gt:
      return broadcast_apply(
          a, as, b, bs, o, os, [](T x, T y) { return uint8_t(x > y); }, pool);
    case Bin::Le:
      return broadcast_apply(
          a, as, b, bs, o, os, [](T x, T y) { return uint8_t(x <= y); }, pool);
    case Bin::Ge:
      return broadcast_apply(
          a, as, b, bs, o, os, [](T x, T y) { return uint8_t(x >= y); }, pool);
    case Bin::And:
      return broadcast_apply(
          a, as, b, bs, o, os, [](T x, T y) { return uint8_t(x && y); }, pool);
    case Bin::Or:
      return broadcast_apply(
          a, as, b, bs, o, os, [](T x, T y) { return uint8_t(x || y); }, pool);
    case Bin::Xor:
      return broadcast_apply(
          a, as, b, bs, o, os, [](T x, T y) { return uint8_t(bool(x) != bool(y)); }, pool);
    default:
      break;
  }
}

// Stores converted values into an already allocated output.
template <class T>
void store(Tensor& out, const std::vector<T>& v) {
  Tensor t = std::is_integral_v<T> ? tensor_from_i64(out.dtype(), out.shape(), std::vector<int64_t>(v.begin(), v.end()))
                                   : tensor_from_f64(out.dtype(), out.shape(), std::vector<double>(v.begin(), v.end()));
  out = std::move(t);
}

std::unique_ptr<Kernel> make_binary(const KernelInit& k, Bin op, bool variadic) {
  const Node& n = k.node;
  size_t count = k.inputs.size();
  check(count >= 1 && (variadic || count == 2), n, "expected " + std::string(variadic ? "1 or more" : "2") + " inputs");
  std::vector<Shape> shapes;
  for (size_t i = 0; i < count; ++i) {
    check(k.has_input(i), n, "missing input " + std::to_string(i));
    shapes.push_back(k.in_shape(i));
  }
  DType in_type = k.inputs[0]->dtype;
  for (size_t i = 1; i < count; ++i)
    check(k.inputs[i]->dtype == in_type, n,
          "inputs have different element types (" + dtype_name(in_type) + ", " + dtype_name(k.inputs[i]->dtype) + ")");
  Shape oshape = k.out_shape(0);
  bool mean = false;
  if (n.op_type == "Mean") mean = true;
  // Pow with a constant scalar exponent 2 or 0.5: exact fast paths (as onnxruntime).
  float pow_scalar = 0;
  bool pow_fast = false;
  if (op == Bin::Pow && k.constant(1) && k.constant(1)->numel() == 1 && in_type == DType::Float32) {
    double e = k.constant(1)->to_f64()[0];
    if (e == 2.0 || e == 0.5 || e == 1.0 || e == 3.0) pow_fast = true, pow_scalar = float(e);
  }
  std::vector<int> inplace;
  if (in_type == DType::Float32 && !is_compare(op) && k.outputs[0]->dtype == DType::Float32 && count == 2)
    for (int i = 0; i < 2; ++i)
      if (shapes[i] == oshape) inplace.push_back(i);
  return make_fn(
      [=](const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) {
        Tensor& y = *out[0];
        if (pow_fast) {
          const float* x = in[0]->f32().data();
          float* o = y.f32().data();
          float e = pow_scalar;
          parallel_range(pool, y.numel(), 16384, [&](int64_t b, int64_t end) {
            if (e == 2.f)
              for (int64_t i = b; i < end; ++i) o[i] = x[i] * x[i];
            else if (e == 3.f)
              for (int64_t i = b; i < end; ++i) o[i] = x[i] * x[i] * x[i];
            else if (e == 0.5f)
              for (int64_t i = b; i < end; ++i) o[i] = std::sqrt(x[i]);
            else
              for (int64_t i = b; i < end; ++i) o[i] = x[i];
          });
          return;
        }
        if (count == 1) {
          y = *in[0];
          return;
        }
        if (in_type == DType::Float32 && !is_compare(op) && y.dtype() == DType::Float32) {
          float* o = y.f32().data();
          apply_bin<float>(op, in[0]->f32().data(), shapes[0], in[1]->f32().data(), shapes[1], o, oshape, pool);
          for (size_t i = 2; i < count; ++i)
            apply_bin<float>(op, o, oshape, in[i]->f32().data(), shapes[i], o, oshape, pool);
          if (mean) {
            float inv = 1.f / float(count);
            for (int64_t i = 0; i < y.numel(); ++i) o[i] *= inv;
          }
          return;
        }
        if (is_compare(op)) {
          check(y.dtype() == DType::Bool, n, "comparison output must be bool");
          uint8_t* o = y.mutable_bytes().data();
          if (in_type == DType::Float32) {
            apply_cmp<float>(op, in[0]->f32().data(), shapes[0], in[1]->f32().data(), shapes[1], o, oshape, pool);
          } else if (dtype_is_integer(in_type)) {
            auto a = in[0]->to_i64(), b = in[1]->to_i64();
            apply_cmp<int64_t>(op, a.data(), shapes[0], b.data(), shapes[1], o, oshape, pool);
          } else {
            auto a = in[0]->to_f64(), b = in[1]->to_f64();
            apply_cmp<double>(op, a.data(), shapes[0], b.data(), shapes[1], o, oshape, pool);
          }
          return;
        }
        // Integers fold in int64, other types in double; inputs 2.. fold into the accumulator.
        auto fold = [&](auto widen) {
          using T = typename decltype(widen(in[0]))::value_type;
          std::vector<T> acc(y.numel());
          auto a = widen(in[0]), b = widen(in[1]);
          apply_bin<T>(op, a.data(), shapes[0], b.data(), shapes[1], acc.data(), oshape, pool);
          for (size_t i = 2; i < count; ++i) {
            auto c = widen(in[i]);
            apply_bin<T>(op, acc.data(), oshape, c.data(), shapes[i], acc.data(), oshape, pool);
          }
          if (mean)
            for (auto& v : acc) v /= T(count);
          store(y, acc);
        };
        if (dtype_is_integer(in_type))
          fold([](const Tensor* t) { return t->to_i64(); });
        else
          fold([](const Tensor* t) { return t->to_f64(); });
      },
      0, inplace);
}

// ---------------------------------------------------------------------------------------
// [Where, Cast, Not, Clip]
std::unique_ptr<Kernel> make_where(const KernelInit& k) {
  Shape cs = k.in_shape(0), xs = k.in_shape(1), ys = k.in_shape(2), os = k.out_shape(0);
  size_t esize = dtype_size(k.outputs[0]->dtype);
  return make_fn([=](const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool&) {
    size_t r = os.size();
    auto pad = [&](Shape s) {
      s.insert(s.begin(), r - s.size(), 1);
      return s;
    };
    Shape c = pad(cs), x = pad(xs), y = pad(ys);
    auto sc = row_strides(c), sx = row_strides(x), sy = row_strides(y), so = row_strides(os);
    std::vector<uint8_t> cond(in[0]->numel());
    if (in[0]->dtype() == DType::Bool)
      std::memcpy(cond.data(), in[0]->bytes().data(), cond.size());
    else {
      auto v = in[0]->to_f64();
      for (size_t i = 0; i < v.size(); ++i) cond[i] = v[i] != 0;
    }
    const uint8_t* xb = in[1]->bytes().data();
    const uint8_t* yb = in[2]->bytes().data();
    uint8_t* ob = out[0]->mutable_bytes().data();
    int64_t total = out[0]->numel();
    for (int64_t i = 0; i < total; ++i) {
      int64_t ic = 0, ix = 0, iy = 0, rem = i;
      for (size_t d = 0; d < r; ++d) {
        int64_t idx = rem / so[d];
        rem %= so[d];
        if (c[d] != 1) ic += idx * sc[d];
        if (x[d] != 1) ix += idx * sx[d];
        if (y[d] != 1) iy += idx * sy[d];
      }
      std::memcpy(ob + i * esize, cond[ic] ? xb + ix * esize : yb + iy * esize, esize);
    }
  });
}

std::unique_ptr<Kernel> make_cast(const KernelInit& k) {
  DType to = k.outputs[0]->dtype;
  DType from = k.inputs[0]->dtype;
  check(dtype_size(to) != 0 && dtype_size(from) != 0 && to != DType::String && from != DType::String, k.node,
        "Cast from " + dtype_name(from) + " to " + dtype_name(to) + " is not supported");
  return make_fn([=](const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool&) {
    Tensor& y = *out[0];
    if (from == to) {
      std::memcpy(y.mutable_bytes().data(), in[0]->bytes().data(), y.nbytes());
    } else if (to == DType::Bool) {
      auto v = in[0]->to_f64();
      uint8_t* o = y.mutable_bytes().data();
      for (size_t i = 0; i < v.size(); ++i) o[i] = v[i] != 0;
    } else if (to == DType::Float32) {
      auto v = in[0]->to_f32();
      std::memcpy(y.f32().data(), v.data(), v.size() * sizeof(float));
    } else if (dtype_is_integer(to) && dtype_is_integer(from)) {
      y = tensor_from_i64(to, y.shape(), in[0]->to_i64());
    } else {
      y = tensor_from_f64(to, y.shape(), in[0]->to_f64());
    }
  });
}

std::unique_ptr<Kernel> make_clip(const KernelInit& k) {
  const Node& n = k.node;
  check(k.inputs[0]->dtype == DType::Float32, n, "only float32 Clip is supported");
  bool attrs = k.opset < 11;
  float amin = n.attr_float("min", -INFINITY), amax = n.attr_float("max", INFINITY);
  return make_fn(
      [=](const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool& pool) {
        float lo = amin, hi = amax;
        if (!attrs) {
          lo = in.size() > 1 && in[1] ? in[1]->to_f32().at(0) : -INFINITY;
          hi = in.size() > 2 && in[2] ? in[2]->to_f32().at(0) : INFINITY;
        }
        const float* x = in[0]->f32().data();
        float* y = out[0]->f32().data();
        auto clamp = [lo, hi](float v) { return std::min(std::max(v, lo), hi); };
        parallel_range(pool, in[0]->numel(), 16384,
                       [&](int64_t b, int64_t e) { map_values(x + b, y + b, e - b, clamp); });
      },
      0, {0});
}

class ViewKernel : public Kernel {
 public:
  void run(const std::vector<const Tensor*>&, const std::vector<Tensor*>&, ThreadPool&) override {}
  bool is_view() const override { return true; }
};

}  // namespace

std::unique_ptr<Kernel> make_view_kernel() {
  return std::make_unique<ViewKernel>();
}

// ---------------------------------------------------------------------------------------
// [registration]
void register_elementwise_kernels(KernelRegistry& r) {
  r["Relu"] = [](const KernelInit& k) { return unary_scalar(k, [](float x) { return x > 0.f ? x : 0.f; }); };
  r["LeakyRelu"] = [](const KernelInit& k) {
    float a = k.node.attr_float("alpha", 0.01f);
    return unary_scalar(k, [a](float x) { return x >= 0.f ? x : x * a; });
  };
  r["Elu"] = [](const KernelInit& k) {
    float a = k.node.attr_float("alpha", 1.f);
    return unary_scalar(k, [a](float x) { return x >= 0.f ? x : a * (std::exp(x) - 1.f); });
  };
  r["Selu"] = [](const KernelInit& k) {
    float a = k.node.attr_float("alpha", 1.67326319217681884765625f),
          g = k.node.attr_float("gamma", 1.05070102214813232421875f);
    return unary_scalar(k, [a, g](float x) { return x > 0.f ? g * x : g * (a * std::exp(x) - a); });
  };
  r["Sigmoid"] = [](const KernelInit& k) {
    return unary_chunks(k, [](const float* x, float* y, int64_t n) { logistic(x, y, n); });
  };
  r["HardSigmoid"] = [](const KernelInit& k) {
    float a = k.node.attr_float("alpha", 0.2f), b = k.node.attr_float("beta", 0.5f);
    return unary_scalar(k, [a, b](float x) { return std::max(0.f, std::min(1.f, a * x + b)); });
  };
  r["HardSwish"] = [](const KernelInit& k) {
    return unary_scalar(k, [](float x) { return x * std::max(0.f, std::min(1.f, x * (1.f / 6.f) + 0.5f)); });
  };
  r["Tanh"] = [](const KernelInit& k) { return unary_eigen(k, [](const ConstArrMap& x) { return x.tanh(); }); };
  r["Exp"] = [](const KernelInit& k) { return unary_eigen(k, [](const ConstArrMap& x) { return x.exp(); }); };
  r["Log"] = [](const KernelInit& k) { return unary_eigen(k, [](const ConstArrMap& x) { return x.log(); }); };
  // std::sqrt, not Eigen's: with EIGEN_FAST_MATH its SSE sqrt is _mm_rsqrt_ps plus a Newton
  // step, whose result depends on the CPU (and differs from the exact wasm f32x4.sqrt).
  r["Sqrt"] = [](const KernelInit& k) { return unary_scalar(k, [](float x) { return std::sqrt(x); }); };
  r["Abs"] = [](const KernelInit& k) { return unary_scalar(k, [](float x) { return std::fabs(x); }); };
  r["Neg"] = [](const KernelInit& k) { return unary_scalar(k, [](float x) { return -x; }); };
  r["Reciprocal"] = [](const KernelInit& k) { return unary_scalar(k, [](float x) { return 1.f / x; }); };
  r["Floor"] = [](const KernelInit& k) { return unary_scalar(k, [](float x) { return std::floor(x); }); };
  r["Ceil"] = [](const KernelInit& k) { return unary_scalar(k, [](float x) { return std::ceil(x); }); };
  r["Round"] = [](const KernelInit& k) { return unary_scalar(k, [](float x) { return std::nearbyint(x); }); };
  r["Sin"] = [](const KernelInit& k) { return unary_scalar(k, [](float x) { return std::sin(x); }); };
  r["Cos"] = [](const KernelInit& k) { return unary_scalar(k, [](float x) { return std::cos(x); }); };
  r["Sign"] = [](const KernelInit& k) { return unary_scalar(k, [](float x) { return float((x > 0) - (x < 0)); }); };
  r["Erf"] = [](const KernelInit& k) { return unary_scalar(k, erf_f); };
  r["Softplus"] = [](const KernelInit& k) {
    return unary_scalar(k, [](float x) { return x > 20.f ? x : std::log1p(std::exp(x)); });
  };
  r["Mish"] = [](const KernelInit& k) {
    return unary_scalar(k, [](float x) { return x * std::tanh(x > 20.f ? x : std::log1p(std::exp(x))); });
  };
  r["Gelu"] = [](const KernelInit& k) {
    if (k.node.attr_string("approximate", "none") == "tanh")
      return unary_scalar(
          k, [](float x) { return 0.5f * x * (1.f + std::tanh(0.7978845608028654f * (x + 0.044715f * x * x * x))); });
    return unary_scalar(k, [](float x) { return 0.5f * x * (1.f + std::erf(x * 0.7071067811865476f)); });
  };
  r["Clip"] = make_clip;
  r["Cast"] = make_cast;
  r["Where"] = make_where;
  r["Not"] = [](const KernelInit& k) {
    return make_fn([](const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out, ThreadPool&) {
      auto x = in[0]->bytes();
      auto y = out[0]->mutable_bytes();
      for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] ? 0 : 1;
    });
  };
  auto bin = [&](const char* name, Bin op, bool variadic = false) {
    r[name] = [op, variadic](const KernelInit& k) { return make_binary(k, op, variadic); };
  };
  bin("Add", Bin::Add);
  bin("Sub", Bin::Sub);
  bin("Mul", Bin::Mul);
  bin("Div", Bin::Div);
  bin("Pow", Bin::Pow);
  bin("Mod", Bin::Mod);
  bin("PRelu", Bin::PRelu);
  bin("Max", Bin::Max, true);
  bin("Min", Bin::Min, true);
  bin("Sum", Bin::Add, true);
  bin("Mean", Bin::Add, true);
  bin("Equal", Bin::Eq);
  bin("Less", Bin::Lt);
  bin("Greater", Bin::Gt);
  bin("LessOrEqual", Bin::Le);
  bin("GreaterOrEqual", Bin::Ge);
  bin("And", Bin::And);
  bin("Or", Bin::Or);
  bin("Xor", Bin::Xor);
  for (const char* v : {"Identity", "Dropout"}) r[v] = [](const KernelInit&) { return make_view_kernel(); };
}

}  // namespace mixq::exec
