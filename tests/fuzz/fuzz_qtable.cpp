// libFuzzer target: qtable text -> check_qtable + fix_qtable against a small built model
// (TPU-MLIR reader rules, repair suggestions, writer). Anything but success or
// mixq::Error is a bug; every fixed qtable must read back without invalid lines.
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <string>

#include "mixq/analysis.h"
#include "mixq/chip.h"
#include "mixq/error.h"
#include "mixq/qtable.h"
#include "support/onnx_builder.h"

namespace {
const mixq::AnalyzedModel& model() {
  static const mixq::AnalyzedModel am = [] {
    mixq::test::OnnxBuilder b(13);
    b.input("images", {1, 3, 16, 16}).output("out");
    b.conv("images", "389", 3, 8);
    b.node("Sigmoid", {"389"}, {"390"});
    b.node("Mul", {"389", "390"}, {"391"});
    b.conv("391", "392", 8, 8);
    b.node("Relu", {"392"}, {"393"});
    b.conv("393", "out", 8, 4, 1);
    return mixq::analyze_model(b.bytes(), {});
  }();
  return am;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  try {
    for (const char* chip : {"bm1684x", "cv183x"}) {
      const auto& profile = mixq::chip_profile(chip);
      auto report = mixq::check_qtable(model(), text, profile, nullptr);
      auto fixed = mixq::fix_qtable(model(), report, profile, 0.5, {});
      auto again = mixq::check_qtable(model(), fixed.text, profile, nullptr);
      for (const auto& e : again.entries)
        if (e.status == mixq::QStatus::Invalid) __builtin_trap();  // a fixed qtable must be valid
      mixq::qtable_report_json(report).dump();
    }
  } catch (const mixq::Error&) {
  }
  return 0;
}
