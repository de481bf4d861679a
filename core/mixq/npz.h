// npy / npz: numpy's array files, read from and written to bytes (no file system).
//
// .npy: magic "\x93NUMPY", version 1.0/2.0/3.0, a Python-dict header with 'descr'
// (little-endian '<f4', '<f8', '<i8', '<i4', '<u1', '|b1', '<f2', ... ), 'fortran_order'
// (must be False) and 'shape'. .npz: a zip archive of "<key>.npy" members, stored
// (method 0) or deflate-compressed (method 8, np.savez_compressed), zip64 extras honoured.
// Every malformed input is a mixq::Error naming `source`, the member and what was expected.
#pragma once
#include <cstdint>
#include <map>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "mixq/tensor.h"

namespace mixq {

// Ordered by key (numpy's order on write does not matter to readers).
using NpzArrays = std::map<std::string, Tensor>;

Tensor read_npy(std::span<const uint8_t> bytes, const std::string& source);
std::vector<uint8_t> write_npy(const Tensor& tensor);

// Keys are member names without the ".npy" suffix.
NpzArrays read_npz(std::span<const uint8_t> bytes, const std::string& source);
// compress: deflate each member (as np.savez_compressed), else stored (as np.savez).
std::vector<uint8_t> write_npz(const NpzArrays& arrays, bool compress = false);

// The same archive built one member at a time, in the order added: each array is
// serialized when added, so the caller need not keep it (`mixq run --dump_all` adds every
// tensor as the executor produces it). Throws mixq::Error on a repeated key or past the
// format's 4 GiB / 65535-member limits.
class NpzWriter {
 public:
  explicit NpzWriter(bool compress = false) : compress_(compress) {}
  void add(const std::string& key, const Tensor& tensor);
  bool contains(const std::string& key) const { return keys_.count(key) > 0; }
  size_t size() const { return keys_.size(); }
  std::vector<uint8_t> finish();  // the archive; the writer is empty afterwards

 private:
  bool compress_;
  std::vector<uint8_t> out_, central_;
  std::set<std::string> keys_;
};

// True when `bytes` start like a zip archive ("PK\x03\x04" or an empty archive).
bool looks_like_npz(std::span<const uint8_t> bytes);

}  // namespace mixq
