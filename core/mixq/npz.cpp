// npy / npz reading and writing (see npz.h). zlib does deflate/inflate and CRC-32.
//
// [SECTIONS]
//   npy header parsing / writing
//   zip reading (central directory, zip64, stored + deflate)
//   zip writing
#include "mixq/npz.h"

#include <zlib.h>

#include <cstring>

#include "mixq/error.h"

namespace mixq {
namespace {

// ---------------------------------------------------------------------------------------
// [npy header parsing / writing]

struct DescrInfo {
  const char* descr;
  DType dtype;
};
constexpr DescrInfo kDescrs[] = {
    {"f4", DType::Float32}, {"f8", DType::Float64}, {"f2", DType::Float16}, {"i8", DType::Int64},
    {"i4", DType::Int32},   {"i2", DType::Int16},   {"i1", DType::Int8},    {"u1", DType::UInt8},
    {"u2", DType::UInt16},  {"u4", DType::UInt32},  {"u8", DType::UInt64},  {"b1", DType::Bool},
};

std::string header_value(const std::string& header, const std::string& key, const std::string& source) {
  size_t k = header.find("'" + key + "'");
  if (k == std::string::npos) k = header.find("\"" + key + "\"");
  require(k != std::string::npos, source + ": npy header has no '" + key + "' entry: " + header);
  size_t colon = header.find(':', k);
  require(colon != std::string::npos, source + ": npy header entry '" + key + "' has no value");
  size_t v = colon + 1;
  while (v < header.size() && header[v] == ' ') ++v;
  require(v < header.size(), source + ": npy header entry '" + key + "' has no value");
  if (header[v] == '(') {
    size_t e = header.find(')', v);
    require(e != std::string::npos, source + ": npy header shape tuple is not closed");
    return header.substr(v, e - v + 1);
  }
  if (header[v] == '\'' || header[v] == '"') {
    size_t e = header.find(header[v], v + 1);
    require(e != std::string::npos, source + ": npy header string for '" + key + "' is not closed");
    return header.substr(v + 1, e - v - 1);
  }
  size_t e = header.find_first_of(",}", v);
  return header.substr(v, e == std::string::npos ? std::string::npos : e - v);
}

Shape parse_shape_tuple(const std::string& tuple, const std::string& source) {
  Shape shape;
  size_t i = 1;
  while (i < tuple.size()) {
    char c = tuple[i];
    if (c == ' ' || c == ',' || c == ')') {
      ++i;
      continue;
    }
    require(c >= '0' && c <= '9', source + ": npy header shape " + tuple + " is not a tuple of integers");
    int64_t v = 0;
    while (i < tuple.size() && tuple[i] >= '0' && tuple[i] <= '9') {
      v = v * 10 + (tuple[i] - '0');
      require(v < (int64_t(1) << 40), source + ": npy header shape " + tuple + " has a dimension too large");
      ++i;
    }
    shape.push_back(v);
  }
  return shape;
}

// ---------------------------------------------------------------------------------------
// [zip reading]

uint32_t rd16(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8;
}
uint32_t rd32(const uint8_t* p) {
  return rd16(p) | rd16(p + 2) << 16;
}
uint64_t rd64(const uint8_t* p) {
  return uint64_t(rd32(p)) | uint64_t(rd32(p + 4)) << 32;
}
void wr16(std::vector<uint8_t>& o, uint32_t v) {
  o.push_back(uint8_t(v));
  o.push_back(uint8_t(v >> 8));
}
void wr32(std::vector<uint8_t>& o, uint32_t v) {
  wr16(o, v & 0xffff);
  wr16(o, v >> 16);
}

std::vector<uint8_t> inflate_raw(std::span<const uint8_t> in, uint64_t expected, const std::string& what) {
  std::vector<uint8_t> out(expected);
  z_stream zs{};
  require(inflateInit2(&zs, -MAX_WBITS) == Z_OK, what + ": cannot initialise zlib inflate");
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = uInt(in.size());
  zs.next_out = out.data();
  zs.avail_out = uInt(out.size());
  int rc = inflate(&zs, Z_FINISH);
  uint64_t produced = zs.total_out;
  inflateEnd(&zs);
  require(rc == Z_STREAM_END, what + ": corrupt deflate data (zlib: " + (zs.msg ? zs.msg : std::to_string(rc)) + ")");
  require(produced == expected, what + ": inflated to " + std::to_string(produced) + " bytes, the zip directory says " +
                                    std::to_string(expected));
  return out;
}

}  // namespace

Tensor read_npy(std::span<const uint8_t> bytes, const std::string& source) {
  static const uint8_t kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  require(bytes.size() >= 10 && std::memcmp(bytes.data(), kMagic, 6) == 0,
          source + ": not an npy array (missing the \\x93NUMPY magic)");
  int major = bytes[6];
  size_t header_len, header_start;
  if (major == 1) {
    header_len = rd16(&bytes[8]);
    header_start = 10;
  } else {
    require(major == 2 || major == 3, source + ": unsupported npy version " + std::to_string(major));
    require(bytes.size() >= 12, source + ": truncated npy header");
    header_len = rd32(&bytes[8]);
    header_start = 12;
  }
  require(header_start + header_len <= bytes.size(), source + ": truncated npy header");
  std::string header(reinterpret_cast<const char*>(bytes.data() + header_start), header_len);
  std::string descr = header_value(header, "descr", source);
  std::string fortran = header_value(header, "fortran_order", source);
  require(fortran.find("False") != std::string::npos,
          source + ": fortran_order arrays are not supported (save with np.ascontiguousarray)");
  Shape shape = parse_shape_tuple(header_value(header, "shape", source), source);
  require(descr.size() >= 2, source + ": npy dtype '" + descr + "' is not supported");
  char order = descr[0];
  std::string code = (order == '<' || order == '|' || order == '=') ? descr.substr(1) : descr;
  require(order != '>', source + ": big-endian npy dtype '" + descr + "' is not supported");
  DType dtype = DType::Undefined;
  for (const auto& d : kDescrs)
    if (code == d.descr) dtype = d.dtype;
  require(dtype != DType::Undefined,
          source + ": npy dtype '" + descr + "' is not supported (expected float32/64/16, int8-64, uint8-64 or bool)");
  int64_t numel = shape_numel(shape, source);
  size_t data_start = header_start + header_len;
  size_t need = size_t(numel) * dtype_size(dtype);
  require(bytes.size() - data_start >= need, source + ": npy data is truncated: shape " + shape_str(shape) + " " +
                                                 dtype_name(dtype) + " needs " + std::to_string(need) +
                                                 " bytes, the file has " + std::to_string(bytes.size() - data_start));
  return tensor_from_bytes(dtype, shape, bytes.subspan(data_start, need), source);
}

std::vector<uint8_t> write_npy(const Tensor& tensor) {
  const char* descr = nullptr;
  for (const auto& d : kDescrs)
    if (d.dtype == tensor.dtype()) descr = d.descr;
  require(descr != nullptr, "npy: cannot write dtype " + dtype_name(tensor.dtype()));
  std::string order = dtype_size(tensor.dtype()) == 1 ? "|" : "<";
  std::string shape = "(";
  for (size_t i = 0; i < tensor.shape().size(); ++i) shape += std::to_string(tensor.shape()[i]) + ", ";
  if (tensor.shape().size() > 1)
    shape.resize(shape.size() - 2);
  else if (tensor.shape().size() == 1)
    shape.resize(shape.size() - 1);
  shape += ")";
  std::string header = "{'descr': '" + order + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::vector<uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
  wr16(out, uint32_t(header.size()));
  out.insert(out.end(), header.begin(), header.end());
  auto b = tensor.bytes();
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

bool looks_like_npz(std::span<const uint8_t> bytes) {
  return bytes.size() >= 4 && bytes[0] == 'P' && bytes[1] == 'K' &&
         ((bytes[2] == 3 && bytes[3] == 4) || (bytes[2] == 5 && bytes[3] == 6));
}

NpzArrays read_npz(std::span<const uint8_t> bytes, const std::string& source) {
  require(looks_like_npz(bytes), source + ": not an npz (zip) archive");
  // End of central directory: scan backwards over a possible comment.
  require(bytes.size() >= 22, source + ": truncated zip archive (no end-of-central-directory record)");
  int64_t eocd = -1;
  for (int64_t p = int64_t(bytes.size()) - 22; p >= 0 && p >= int64_t(bytes.size()) - 22 - 65535; --p) {
    if (rd32(&bytes[p]) == 0x06054b50) {
      eocd = p;
      break;
    }
  }
  require(eocd >= 0, source + ": truncated or corrupt zip archive (no end-of-central-directory record)");
  uint64_t entries = rd16(&bytes[eocd + 10]);
  uint64_t cd_offset = rd32(&bytes[eocd + 16]);
  if ((cd_offset == 0xffffffffu || entries == 0xffff) && eocd >= 20 && rd32(&bytes[eocd - 20]) == 0x07064b50) {
    uint64_t z64 = rd64(&bytes[eocd - 20 + 8]);
    require(z64 + 56 <= bytes.size() && rd32(&bytes[z64]) == 0x06064b50, source + ": corrupt zip64 directory");
    entries = rd64(&bytes[z64 + 32]);
    cd_offset = rd64(&bytes[z64 + 48]);
  }
  NpzArrays arrays;
  uint64_t p = cd_offset;
  for (uint64_t e = 0; e < entries; ++e) {
    require(p + 46 <= bytes.size() && rd32(&bytes[p]) == 0x02014b50,
            source + ": corrupt zip central directory (entry " + std::to_string(e) + ")");
    uint32_t method = rd16(&bytes[p + 10]);
    uint32_t crc = rd32(&bytes[p + 16]);
    uint64_t csize = rd32(&bytes[p + 20]), usize = rd32(&bytes[p + 24]);
    uint32_t name_len = rd16(&bytes[p + 28]), extra_len = rd16(&bytes[p + 30]), comment_len = rd16(&bytes[p + 32]);
    uint64_t local = rd32(&bytes[p + 42]);
    require(p + 46 + name_len + extra_len + comment_len <= bytes.size(), source + ": corrupt zip central directory");
    std::string name(reinterpret_cast<const char*>(&bytes[p + 46]), name_len);
    // zip64 extra field: the 0xffffffff fields, in order usize, csize, offset.
    const uint8_t* ex = &bytes[p + 46 + name_len];
    for (uint32_t q = 0; q + 4 <= extra_len;) {
      uint32_t id = rd16(ex + q), len = rd16(ex + q + 2);
      if (id == 1) {
        uint32_t r = q + 4;
        if (usize == 0xffffffffu && r + 8 <= q + 4 + len) usize = rd64(ex + r), r += 8;
        if (csize == 0xffffffffu && r + 8 <= q + 4 + len) csize = rd64(ex + r), r += 8;
        if (local == 0xffffffffu && r + 8 <= q + 4 + len) local = rd64(ex + r), r += 8;
      }
      q += 4 + len;
    }
    p += 46 + name_len + extra_len + comment_len;
    std::string what = source + ": member '" + name + "'";
    require(local + 30 <= bytes.size() && rd32(&bytes[local]) == 0x04034b50, what + ": corrupt local zip header");
    uint64_t data = local + 30 + rd16(&bytes[local + 26]) + rd16(&bytes[local + 28]);
    require(data <= bytes.size() && csize <= bytes.size() - data, what + ": data is truncated");
    std::span<const uint8_t> raw = bytes.subspan(data, csize);
    std::vector<uint8_t> inflated;
    if (method == 8) {
      inflated = inflate_raw(raw, usize, what);
      raw = inflated;
    } else {
      require(method == 0, what + ": unsupported zip compression method " + std::to_string(method) +
                               " (expected stored or deflate)");
      require(csize == usize, what + ": stored member with different compressed and plain sizes");
    }
    uint32_t actual = uint32_t(crc32(0L, raw.data(), uInt(raw.size())));
    require(actual == crc, what + ": CRC-32 mismatch (the archive is corrupt)");
    std::string key = name;
    if (key.size() > 4 && key.compare(key.size() - 4, 4, ".npy") == 0) key.resize(key.size() - 4);
    arrays[key] = read_npy(raw, what);
  }
  return arrays;
}

// ---------------------------------------------------------------------------------------
// [zip writing]

void NpzWriter::add(const std::string& key, const Tensor& tensor) {
  require(keys_.insert(key).second, "npz: member '" + key + "' written twice");
  std::vector<uint8_t> npy = write_npy(tensor);
  require(npy.size() < 0xffffffffu, "npz: member '" + key + "' is too large (> 4 GiB) to write");
  require(out_.size() < 0xffffffffu, "npz: archive is too large (> 4 GiB) to write");
  require(keys_.size() < 0xffff, "npz: too many members to write");
  uint32_t crc = uint32_t(crc32(0L, npy.data(), uInt(npy.size())));
  std::vector<uint8_t> deflated;
  uint32_t method = 0;
  if (compress_) {
    z_stream zs{};
    require(deflateInit2(&zs, 6, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK,
            "npz: zlib deflateInit failed");
    deflated.resize(deflateBound(&zs, uLong(npy.size())));
    zs.next_in = npy.data();
    zs.avail_in = uInt(npy.size());
    zs.next_out = deflated.data();
    zs.avail_out = uInt(deflated.size());
    int rc = deflate(&zs, Z_FINISH);
    deflated.resize(zs.total_out);
    deflateEnd(&zs);
    require(rc == Z_STREAM_END, "npz: zlib deflate failed");
    method = 8;
  }
  const std::vector<uint8_t>& payload = compress_ ? deflated : npy;
  std::string name = key + ".npy";
  uint32_t offset = uint32_t(out_.size());
  auto header = [&](std::vector<uint8_t>& o, bool is_central) {
    wr32(o, is_central ? 0x02014b50 : 0x04034b50);
    if (is_central) wr16(o, 20);  // version made by
    wr16(o, 20);                  // version needed
    wr16(o, 0);                   // flags
    wr16(o, method);
    wr16(o, 0);     // mod time
    wr16(o, 0x21);  // mod date 1980-01-01
    wr32(o, crc);
    wr32(o, uint32_t(payload.size()));
    wr32(o, uint32_t(npy.size()));
    wr16(o, uint32_t(name.size()));
    wr16(o, 0);  // extra
    if (is_central) {
      wr16(o, 0);  // comment
      wr16(o, 0);  // disk
      wr16(o, 0);  // internal attrs
      wr32(o, 0);  // external attrs
      wr32(o, offset);
    }
    o.insert(o.end(), name.begin(), name.end());
  };
  header(out_, false);
  out_.insert(out_.end(), payload.begin(), payload.end());
  header(central_, true);
}

std::vector<uint8_t> NpzWriter::finish() {
  const uint32_t count = uint32_t(keys_.size());
  require(out_.size() < 0xffffffffu, "npz: archive is too large (> 4 GiB) to write");
  uint32_t cd_offset = uint32_t(out_.size());
  std::vector<uint8_t> out = std::move(out_);
  out.insert(out.end(), central_.begin(), central_.end());
  wr32(out, 0x06054b50);
  wr16(out, 0);
  wr16(out, 0);
  wr16(out, count);
  wr16(out, count);
  wr32(out, uint32_t(central_.size()));
  wr32(out, cd_offset);
  wr16(out, 0);
  out_.clear();
  central_.clear();
  keys_.clear();
  return out;
}

std::vector<uint8_t> write_npz(const NpzArrays& arrays, bool compress) {
  NpzWriter writer(compress);
  for (const auto& [key, tensor] : arrays) writer.add(key, tensor);
  return writer.finish();
}

}  // namespace mixq
