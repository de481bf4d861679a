#include "io/file_io.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "mixq/error.h"

namespace mixq::native {

std::vector<uint8_t> read_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw Error(path + ": is a directory, expected a file");
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path + ": cannot read: " + std::strerror(errno));
  f.seekg(0, std::ios::end);
  std::streamoff size = f.tellg();
  require(size >= 0, path + ": cannot determine the file size");
  f.seekg(0);
  std::vector<uint8_t> data(static_cast<size_t>(size));
  if (size > 0 && !f.read(reinterpret_cast<char*>(data.data()), size)) throw Error(path + ": read failed");
  return data;
}

std::string read_text_file(const std::string& path) {
  auto bytes = read_file(path);
  return {bytes.begin(), bytes.end()};
}

void write_file_atomic(const std::string& path, const void* data, size_t size) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) throw Error(path + ": cannot write: " + std::strerror(errno));
    f.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
    f.flush();
    if (!f) {
      std::remove(tmp.c_str());
      throw Error(path + ": write failed: " + std::strerror(errno));
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    std::remove(tmp.c_str());
    throw Error(path + ": cannot replace the file: " + std::strerror(err));
  }
}

ExternalDataReader external_data_reader(const std::string& model_path) {
  std::filesystem::path dir = std::filesystem::path(model_path).parent_path();
  return [dir](const std::string& location, int64_t offset, int64_t length) {
    std::filesystem::path rel(location);
    require(!rel.is_absolute(), "external data location '" + location + "' must be relative to the model");
    for (const auto& part : rel)
      require(part != "..", "external data location '" + location + "' leaves the model's folder");
    std::filesystem::path p = dir / rel;
    std::ifstream f(p, std::ios::binary);
    require(static_cast<bool>(f), "external data file '" + p.string() + "' cannot be read");
    f.seekg(0, std::ios::end);
    int64_t size = f.tellg();
    require(offset <= size, "external data file '" + p.string() + "' is shorter (" + std::to_string(size) +
                                " bytes) than the offset " + std::to_string(offset));
    int64_t n = length < 0 ? size - offset : length;
    require(offset + n <= size, "external data file '" + p.string() + "' has " + std::to_string(size - offset) +
                                    " bytes after offset " + std::to_string(offset) + ", " + std::to_string(n) +
                                    " needed");
    std::vector<uint8_t> data(static_cast<size_t>(n));
    f.seekg(offset);
    if (n > 0) f.read(reinterpret_cast<char*>(data.data()), n);
    return data;
  };
}

LoadOptions load_options_for(const std::string& model_path) {
  LoadOptions o;
  o.source_name = model_path;
  o.external_data = external_data_reader(model_path);
  return o;
}

}  // namespace mixq::native
