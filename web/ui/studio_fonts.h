// Fonts embedded at build time from Debian's fonts-dejavu-core (cmake/StudioUi.cmake).
#pragma once
#include <cstddef>
#include <span>

namespace mixq::studio::fonts {
extern const unsigned char sans[];
extern const size_t sans_size;
extern const unsigned char sans_bold[];
extern const size_t sans_bold_size;
extern const unsigned char mono[];
extern const size_t mono_size;
inline std::span<const unsigned char> sans_ttf() {
  return {sans, sans_size};
}
inline std::span<const unsigned char> bold_ttf() {
  return {sans_bold, sans_bold_size};
}
inline std::span<const unsigned char> mono_ttf() {
  return {mono, mono_size};
}
}  // namespace mixq::studio::fonts
