// libFuzzer target: ONNX bytes -> analyze_model (load, shape inference, layer naming).
// Anything but success or mixq::Error is a bug.
#include <cstddef>
#include <cstdint>

#include "mixq/analysis.h"
#include "mixq/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    mixq::AnalyzeOptions o;
    o.load.source_name = "fuzz.onnx";
    mixq::analyze_model({data, size}, o);
  } catch (const mixq::Error&) {
  }
  return 0;
}
