// ChipProfile: what a Sophgo chip can run, as TPU-MLIR's qtable reader and lowering see it
// (spec/tpu-mlir-compat.md sections 2, 5 and 8).
//
// - modes: the qtable modes TPU-MLIR accepts for this chip (upper case);
// - float_type: the float used for fallback layers and for fp_forward's `auto`
//   (bm1684 F32; bm1684x/bm1688/cv186x/bm1690 F16; cv18xx and mars3 BF16);
// - cv18xx: F32/F16 qtable modes silently become BF16;
// - int4: INT4 is runnable (on Conv/MatMul only; other layers fall back to INT8).
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace mixq {

struct ChipProfile {
  std::string name;                // "bm1684x"
  std::vector<std::string> modes;  // runnable qtable modes
  std::string float_type;          // F32 / F16 / BF16
  bool cv18xx = false;
  bool int4 = false;

  bool supports(std::string_view mode) const;
};

// Every qtable mode TPU-MLIR's init_qtable accepts (any chip), upper case.
const std::vector<std::string>& qtable_modes();
bool is_qtable_mode(std::string_view upper_mode);

// Profile by name (case-insensitive); throws mixq::Error listing the known chips.
const ChipProfile& chip_profile(std::string_view name);
std::vector<std::string> chip_names();

// The mode TPU-MLIR actually uses for `mode` (upper case, valid) on `chip`: F32/F16 ->
// BF16 on cv18xx. "AUTO" -> the chip's float type (mixq's own shorthand, not TPU-MLIR's).
std::string normalize_mode(const ChipProfile& chip, std::string_view upper_mode);

}  // namespace mixq
