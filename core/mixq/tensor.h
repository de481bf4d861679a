// Tensor: a dense, owning, little-endian buffer with an ONNX element type and a
// concrete shape. Used for weights, folded constants and executor values.
// Element types keep ONNX's TensorProto.DataType numbering.
#pragma once
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

namespace mixq {

enum class DType : int32_t {
  Undefined = 0,
  Float32 = 1,
  UInt8 = 2,
  Int8 = 3,
  UInt16 = 4,
  Int16 = 5,
  Int32 = 6,
  Int64 = 7,
  String = 8,
  Bool = 9,
  Float16 = 10,
  Float64 = 11,
  UInt32 = 12,
  UInt64 = 13,
  Complex64 = 14,
  Complex128 = 15,
  BFloat16 = 16,
};

// Bytes per element, 0 for String/Undefined/unknown codes.
size_t dtype_size(DType t);
// "float32", "int64", ... (numpy-style); "dtype(N)" for unknown codes.
std::string dtype_name(DType t);
bool dtype_is_float(DType t);
bool dtype_is_integer(DType t);  // includes Bool

using Shape = std::vector<int64_t>;

// Product of dims; throws mixq::Error on negative dims or overflow past 2^40 elements.
int64_t shape_numel(const Shape& shape, const std::string& what = "tensor");
std::string shape_str(const Shape& shape);  // "[1,3,640,640]"

class Tensor {
 public:
  Tensor() = default;
  Tensor(DType dtype, Shape shape);  // zero-filled
  static Tensor from_f32(Shape shape, std::vector<float> values);
  static Tensor from_i64(Shape shape, std::vector<int64_t> values);
  static Tensor scalar_f32(float v) { return from_f32({}, {v}); }
  static Tensor scalar_i64(int64_t v) { return from_i64({}, {v}); }

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t numel() const { return numel_; }
  size_t nbytes() const { return bytes_.size(); }
  bool empty() const { return dtype_ == DType::Undefined; }

  // Raw little-endian bytes.
  std::span<const uint8_t> bytes() const { return bytes_; }
  std::span<uint8_t> mutable_bytes() { return bytes_; }

  // Typed views; assert the dtype matches.
  std::span<const float> f32() const;
  std::span<float> f32();
  std::span<const int64_t> i64() const;
  std::span<int64_t> i64();

  // Converting reads of any numeric dtype (Float16/BFloat16 included).
  std::vector<float> to_f32() const;
  std::vector<int64_t> to_i64() const;
  std::vector<double> to_f64() const;

  void reshape(Shape shape);  // same numel required
  // Re-types and re-shapes in place, reusing the buffer's capacity (no reallocation when
  // it fits). Contents afterwards are unspecified: the caller overwrites every element.
  void reset(DType dtype, Shape shape);
  size_t capacity() const { return bytes_.capacity(); }

 private:
  friend Tensor tensor_from_bytes(DType dtype, Shape shape, std::span<const uint8_t> bytes, const std::string& what);
  DType dtype_ = DType::Undefined;
  Shape shape_;
  int64_t numel_ = 0;
  std::vector<uint8_t> bytes_;
};

// Builds a tensor of `dtype` from doubles/int64 (values converted with C casts).
Tensor tensor_from_f64(DType dtype, Shape shape, const std::vector<double>& values);
Tensor tensor_from_i64(DType dtype, Shape shape, const std::vector<int64_t>& values);
// Wraps raw little-endian bytes; throws mixq::Error naming `what` when the byte count
// does not match shape x element size.
Tensor tensor_from_bytes(DType dtype, Shape shape, std::span<const uint8_t> bytes, const std::string& what);

float half_to_float(uint16_t h);
uint16_t float_to_half(float f);
float bfloat16_to_float(uint16_t b);

}  // namespace mixq
