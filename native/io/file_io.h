// Native file-system glue: whole-file reads with clear errors, atomic writes (temp file
// + rename, so a failed run never leaves a half-written output or destroys the old one),
// and the external-data reader for ONNX side files.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "mixq/model.h"

namespace mixq::native {

// Throws mixq::Error("<path>: cannot read: <reason>").
std::vector<uint8_t> read_file(const std::string& path);
std::string read_text_file(const std::string& path);
// Writes to "<path>.tmp.<pid>" then renames over `path`. Throws mixq::Error.
void write_file_atomic(const std::string& path, const void* data, size_t size);
inline void write_file_atomic(const std::string& path, const std::string& text) {
  write_file_atomic(path, text.data(), text.size());
}
// Reads "<dir of model>/<location>"; refuses absolute paths and "..".
ExternalDataReader external_data_reader(const std::string& model_path);
// LoadOptions for a model on disk (source name = path, external data enabled).
LoadOptions load_options_for(const std::string& model_path);

}  // namespace mixq::native
