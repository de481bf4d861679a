// mixq::Error — the one exception type for bad user input (ONNX, qtables, tables,
// npz, images, session URLs). The message names the source (file or field), the place
// (line, node, tensor) and what was expected. Programmer bugs use assert(), not this.
// Exceptions are enabled natively and in wasm (-fexceptions), so both report alike.
#pragma once
#include <stdexcept>
#include <string>

namespace mixq {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Throws mixq::Error(message) unless `condition` holds.
inline void require(bool condition, const std::string& message) {
  if (!condition) throw Error(message);
}

}  // namespace mixq
