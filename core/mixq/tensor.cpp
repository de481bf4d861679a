#include "mixq/tensor.h"

#include <cassert>
#include <cmath>

#include "mixq/error.h"

namespace mixq {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::Float32:
    case DType::Int32:
    case DType::UInt32:
      return 4;
    case DType::UInt8:
    case DType::Int8:
    case DType::Bool:
      return 1;
    case DType::UInt16:
    case DType::Int16:
    case DType::Float16:
    case DType::BFloat16:
      return 2;
    case DType::Int64:
    case DType::Float64:
    case DType::UInt64:
    case DType::Complex64:
      return 8;
    case DType::Complex128:
      return 16;
    default:
      return 0;
  }
}

std::string dtype_name(DType t) {
  switch (t) {
    case DType::Float32:
      return "float32";
    case DType::UInt8:
      return "uint8";
    case DType::Int8:
      return "int8";
    case DType::UInt16:
      return "uint16";
    case DType::Int16:
      return "int16";
    case DType::Int32:
      return "int32";
    case DType::Int64:
      return "int64";
    case DType::String:
      return "string";
    case DType::Bool:
      return "bool";
    case DType::Float16:
      return "float16";
    case DType::Float64:
      return "float64";
    case DType::UInt32:
      return "uint32";
    case DType::UInt64:
      return "uint64";
    case DType::Complex64:
      return "complex64";
    case DType::Complex128:
      return "complex128";
    case DType::BFloat16:
      return "bfloat16";
    case DType::Undefined:
      return "undefined";
  }
  return "dtype(" + std::to_string(static_cast<int>(t)) + ")";
}

bool dtype_is_float(DType t) {
  return t == DType::Float32 || t == DType::Float16 || t == DType::Float64 || t == DType::BFloat16;
}
bool dtype_is_integer(DType t) {
  switch (t) {
    case DType::UInt8:
    case DType::Int8:
    case DType::UInt16:
    case DType::Int16:
    case DType::Int32:
    case DType::Int64:
    case DType::UInt32:
    case DType::UInt64:
    case DType::Bool:
      return true;
    default:
      return false;
  }
}

int64_t shape_numel(const Shape& shape, const std::string& what) {
  constexpr int64_t kMaxElements = int64_t(1) << 40;
  int64_t n = 1;
  for (int64_t d : shape) {  // messages built only on failure (this runs per kernel call)
    if (d < 0) throw Error(what + ": negative dimension " + std::to_string(d) + " in shape " + shape_str(shape));
    if (d == 0) return 0;
    if (n > kMaxElements / d)
      throw Error(what + ": shape " + shape_str(shape) + " is too large (more than 2^40 elements)");
    n *= d;
  }
  return n;
}

std::string shape_str(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ",";
    s += shape[i] < 0 ? std::string("?") : std::to_string(shape[i]);
  }
  return s + "]";
}

Tensor::Tensor(DType dtype, Shape shape) : dtype_(dtype), shape_(std::move(shape)) {
  numel_ = shape_numel(shape_);
  size_t es = dtype_size(dtype_);
  if (es == 0 && numel_ != 0) throw Error("tensor of unsupported element type " + dtype_name(dtype_));
  bytes_.assign(static_cast<size_t>(numel_) * es, 0);
}

void Tensor::reset(DType dtype, Shape shape) {
  int64_t n = shape_numel(shape);
  size_t es = dtype_size(dtype);
  if (es == 0 && n != 0) throw Error("tensor of unsupported element type " + dtype_name(dtype));
  dtype_ = dtype;
  shape_ = std::move(shape);
  numel_ = n;
  bytes_.resize(static_cast<size_t>(n) * es);
}

Tensor Tensor::from_f32(Shape shape, std::vector<float> values) {
  Tensor t(DType::Float32, std::move(shape));
  assert(static_cast<int64_t>(values.size()) == t.numel_);
  if (!values.empty()) std::memcpy(t.bytes_.data(), values.data(), values.size() * 4);
  return t;
}

Tensor Tensor::from_i64(Shape shape, std::vector<int64_t> values) {
  Tensor t(DType::Int64, std::move(shape));
  assert(static_cast<int64_t>(values.size()) == t.numel_);
  if (!values.empty()) std::memcpy(t.bytes_.data(), values.data(), values.size() * 8);
  return t;
}

std::span<const float> Tensor::f32() const {
  assert(dtype_ == DType::Float32);
  return {reinterpret_cast<const float*>(bytes_.data()), static_cast<size_t>(numel_)};
}
std::span<float> Tensor::f32() {
  assert(dtype_ == DType::Float32);
  return {reinterpret_cast<float*>(bytes_.data()), static_cast<size_t>(numel_)};
}
std::span<const int64_t> Tensor::i64() const {
  assert(dtype_ == DType::Int64);
  return {reinterpret_cast<const int64_t*>(bytes_.data()), static_cast<size_t>(numel_)};
}
std::span<int64_t> Tensor::i64() {
  assert(dtype_ == DType::Int64);
  return {reinterpret_cast<int64_t*>(bytes_.data()), static_cast<size_t>(numel_)};
}

namespace {
template <typename T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

template <typename Out, typename Fn>
std::vector<Out> convert_all(const Tensor& t, Fn&& fn) {
  std::vector<Out> out(static_cast<size_t>(t.numel()));
  const uint8_t* p = t.bytes().data();
  size_t es = dtype_size(t.dtype());
  for (size_t i = 0; i < out.size(); ++i) out[i] = fn(p + i * es);
  return out;
}

double element_as_f64(DType t, const uint8_t* p) {
  switch (t) {
    case DType::Float32:
      return load<float>(p);
    case DType::Float64:
      return load<double>(p);
    case DType::Float16:
      return half_to_float(load<uint16_t>(p));
    case DType::BFloat16:
      return bfloat16_to_float(load<uint16_t>(p));
    case DType::UInt8:
      return load<uint8_t>(p);
    case DType::Int8:
      return load<int8_t>(p);
    case DType::UInt16:
      return load<uint16_t>(p);
    case DType::Int16:
      return load<int16_t>(p);
    case DType::Int32:
      return load<int32_t>(p);
    case DType::Int64:
      return static_cast<double>(load<int64_t>(p));
    case DType::UInt32:
      return load<uint32_t>(p);
    case DType::UInt64:
      return static_cast<double>(load<uint64_t>(p));
    case DType::Bool:
      return load<uint8_t>(p) ? 1.0 : 0.0;
    default:
      throw Error("cannot read elements of type " + dtype_name(t) + " as numbers");
  }
}

int64_t element_as_i64(DType t, const uint8_t* p) {
  switch (t) {
    case DType::Int64:
      return load<int64_t>(p);
    case DType::UInt64:
      return static_cast<int64_t>(load<uint64_t>(p));
    case DType::Int32:
      return load<int32_t>(p);
    case DType::UInt32:
      return load<uint32_t>(p);
    case DType::Int16:
      return load<int16_t>(p);
    case DType::UInt16:
      return load<uint16_t>(p);
    case DType::Int8:
      return load<int8_t>(p);
    case DType::UInt8:
      return load<uint8_t>(p);
    case DType::Bool:
      return load<uint8_t>(p) ? 1 : 0;
    default: {
      double v = element_as_f64(t, p);
      if (std::isnan(v)) return 0;
      if (v >= 9.2e18) return INT64_MAX;
      if (v <= -9.2e18) return INT64_MIN;
      return static_cast<int64_t>(v);
    }
  }
}

template <typename T>
void store(uint8_t* p, T v) {
  std::memcpy(p, &v, sizeof(T));
}

void store_f64(DType t, uint8_t* p, double v) {
  switch (t) {
    case DType::Float32:
      store<float>(p, static_cast<float>(v));
      break;
    case DType::Float64:
      store<double>(p, v);
      break;
    case DType::Float16:
      store<uint16_t>(p, float_to_half(static_cast<float>(v)));
      break;
    case DType::Bool:
      store<uint8_t>(p, v != 0.0);
      break;
    default: {
      int64_t i = std::isnan(v) ? 0 : v >= 9.2e18 ? INT64_MAX : v <= -9.2e18 ? INT64_MIN : static_cast<int64_t>(v);
      switch (t) {
        case DType::Int64:
          store<int64_t>(p, i);
          break;
        case DType::UInt64:
          store<uint64_t>(p, static_cast<uint64_t>(i));
          break;
        case DType::Int32:
          store<int32_t>(p, static_cast<int32_t>(i));
          break;
        case DType::UInt32:
          store<uint32_t>(p, static_cast<uint32_t>(i));
          break;
        case DType::Int16:
          store<int16_t>(p, static_cast<int16_t>(i));
          break;
        case DType::UInt16:
          store<uint16_t>(p, static_cast<uint16_t>(i));
          break;
        case DType::Int8:
          store<int8_t>(p, static_cast<int8_t>(i));
          break;
        case DType::UInt8:
          store<uint8_t>(p, static_cast<uint8_t>(i));
          break;
        default:
          throw Error("cannot store numbers as " + dtype_name(t));
      }
    }
  }
}

void store_i64(DType t, uint8_t* p, int64_t v) {
  switch (t) {
    case DType::Int64:
      store<int64_t>(p, v);
      break;
    case DType::UInt64:
      store<uint64_t>(p, static_cast<uint64_t>(v));
      break;
    case DType::Int32:
      store<int32_t>(p, static_cast<int32_t>(v));
      break;
    case DType::UInt32:
      store<uint32_t>(p, static_cast<uint32_t>(v));
      break;
    case DType::Int16:
      store<int16_t>(p, static_cast<int16_t>(v));
      break;
    case DType::UInt16:
      store<uint16_t>(p, static_cast<uint16_t>(v));
      break;
    case DType::Int8:
      store<int8_t>(p, static_cast<int8_t>(v));
      break;
    case DType::UInt8:
      store<uint8_t>(p, static_cast<uint8_t>(v));
      break;
    case DType::Bool:
      store<uint8_t>(p, v != 0);
      break;
    default:
      store_f64(t, p, static_cast<double>(v));
  }
}
}  // namespace

std::vector<float> Tensor::to_f32() const {
  if (dtype_ == DType::Float32) return {f32().begin(), f32().end()};
  return convert_all<float>(*this, [&](const uint8_t* p) { return static_cast<float>(element_as_f64(dtype_, p)); });
}
std::vector<int64_t> Tensor::to_i64() const {
  return convert_all<int64_t>(*this, [&](const uint8_t* p) { return element_as_i64(dtype_, p); });
}
std::vector<double> Tensor::to_f64() const {
  return convert_all<double>(*this, [&](const uint8_t* p) { return element_as_f64(dtype_, p); });
}

void Tensor::reshape(Shape shape) {
  if (shape_numel(shape) != numel_) throw Error("cannot reshape " + shape_str(shape_) + " to " + shape_str(shape));
  shape_ = std::move(shape);
}

Tensor tensor_from_f64(DType dtype, Shape shape, const std::vector<double>& values) {
  Tensor t(dtype, std::move(shape));
  assert(static_cast<int64_t>(values.size()) == t.numel());
  size_t es = dtype_size(dtype);
  for (size_t i = 0; i < values.size(); ++i) store_f64(dtype, t.mutable_bytes().data() + i * es, values[i]);
  return t;
}

Tensor tensor_from_i64(DType dtype, Shape shape, const std::vector<int64_t>& values) {
  Tensor t(dtype, std::move(shape));
  assert(static_cast<int64_t>(values.size()) == t.numel());
  size_t es = dtype_size(dtype);
  for (size_t i = 0; i < values.size(); ++i) store_i64(dtype, t.mutable_bytes().data() + i * es, values[i]);
  return t;
}

Tensor tensor_from_bytes(DType dtype, Shape shape, std::span<const uint8_t> bytes, const std::string& what) {
  int64_t n = shape_numel(shape, what);
  size_t es = dtype_size(dtype);
  require(es > 0, what + ": unsupported element type " + dtype_name(dtype));
  require(static_cast<uint64_t>(n) * es == bytes.size(),
          what + ": expected " + std::to_string(static_cast<uint64_t>(n) * es) + " bytes for " + dtype_name(dtype) +
              shape_str(shape) + ", found " + std::to_string(bytes.size()));
  Tensor t;  // the bytes copied once (not zero-filled first): npy/npz samples of every batch
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.numel_ = n;
  t.bytes_.assign(bytes.begin(), bytes.end());
  return t;
}

float half_to_float(uint16_t h) {
  uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal
      exp = 127 - 15 + 1;
      while (!(mant & 0x400)) {
        mant <<= 1;
        --exp;
      }
      mant &= 0x3ff;
      bits = sign | (exp << 23) | (mant << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t float_to_half(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t absx = x & 0x7fffffffu;
  if (absx >= 0x7f800000u) return static_cast<uint16_t>(sign | 0x7c00u | (absx > 0x7f800000u ? 0x200u : 0));
  if (absx >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // overflow -> inf
  if (absx < 0x38800000u) {                                               // subnormal or zero: round to nearest even
    float a;
    std::memcpy(&a, &absx, 4);
    float scaled = a * 16777216.0f;  // 2^24
    uint32_t m = static_cast<uint32_t>(std::nearbyint(scaled));
    return static_cast<uint16_t>(sign | m);
  }
  uint32_t mant = absx & 0x7fffffu;
  uint32_t exp = (absx >> 23) - 127 + 15;
  uint32_t h = (exp << 10) | (mant >> 13);
  uint32_t rest = mant & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;
  return static_cast<uint16_t>(sign | h);
}

float bfloat16_to_float(uint16_t b) {
  uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

}  // namespace mixq
