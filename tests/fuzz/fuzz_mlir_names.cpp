// libFuzzer target: .mlir text -> parse_mlir_names.
#include <cstddef>
#include <cstdint>
#include <string>

#include "mixq/error.h"
#include "mixq/layers.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    mixq::parse_mlir_names(std::string(reinterpret_cast<const char*>(data), size), "fuzz.mlir");
  } catch (const mixq::Error&) {
  }
  return 0;
}
