#include "mixq/chip.h"

#include <algorithm>
#include <cctype>

#include "mixq/error.h"

namespace mixq {
namespace {

std::vector<std::string> join(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

const std::vector<ChipProfile>& profiles() {
  static const std::vector<ChipProfile> all = [] {
    const std::vector<std::string> x_family = {"INT8",  "UINT8",  "BF16",  "F16",   "F32",
                                               "W8F16", "W8BF16", "W4F16", "W4BF16"};
    const std::vector<std::string> cv = {"INT8", "BF16", "F32", "F16"};  // F32/F16 run as BF16
    std::vector<ChipProfile> p;
    p.push_back({"bm1684", {"INT8", "F32"}, "F32", false, false});
    p.push_back({"bm1684x", x_family, "F16", false, false});
    p.push_back({"bm1688", join(x_family, {"INT4"}), "F16", false, true});
    p.push_back({"cv186x", join(x_family, {"INT4"}), "F16", false, true});
    p.push_back({"bm1690", join(x_family, {"F8", "F8E4M3", "F8E5M2", "W4F8E4M3", "W4F8E5M2"}), "F16", false, false});
    for (const char* n : {"cv183x", "cv182x", "cv181x", "cv180x"}) p.push_back({n, cv, "BF16", true, false});
    p.push_back({"mars3", {"INT8", "BF16"}, "BF16", false, false});
    return p;
  }();
  return all;
}

std::string lower(std::string_view s) {
  std::string r(s);
  for (auto& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

}  // namespace

bool ChipProfile::supports(std::string_view mode) const {
  return std::find(modes.begin(), modes.end(), mode) != modes.end();
}

const std::vector<std::string>& qtable_modes() {
  static const std::vector<std::string> modes = {"INT8", "UINT8",  "INT4",   "BF16",     "F16",
                                                 "F32",  "W8F16",  "W8BF16", "W4F16",    "W4BF16",
                                                 "F8",   "F8E4M3", "F8E5M2", "W4F8E4M3", "W4F8E5M2"};
  return modes;
}

bool is_qtable_mode(std::string_view m) {
  const auto& all = qtable_modes();
  return std::find(all.begin(), all.end(), m) != all.end();
}

const ChipProfile& chip_profile(std::string_view name) {
  std::string n = lower(name);
  for (const auto& p : profiles())
    if (p.name == n) return p;
  std::string known;
  for (const auto& p : profiles()) known += (known.empty() ? "" : ", ") + p.name;
  throw Error("--chip: unknown chip '" + std::string(name) + "' (expected one of: " + known + ")");
}

std::vector<std::string> chip_names() {
  std::vector<std::string> r;
  for (const auto& p : profiles()) r.push_back(p.name);
  return r;
}

std::string normalize_mode(const ChipProfile& chip, std::string_view m) {
  if (m == "AUTO") return chip.float_type;
  if (chip.cv18xx && (m == "F32" || m == "F16")) return "BF16";
  return std::string(m);
}

}  // namespace mixq
