// [SECTION] flag parsing  [SECTION] decode  [SECTION] resize (OpenCV INTER_LINEAR)
// [SECTION] preprocess_images
#include "mixq/calib/preprocess.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "mixq/error.h"

#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_NO_STDIO
#define STBI_NO_HDR
#define STBI_NO_LINEAR
#define STBI_FAILURE_USERMSG
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#endif
#include <stb/stb_image.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

namespace mixq::calib {

// [SECTION] flag parsing ------------------------------------------------------------------

namespace {
std::vector<std::string> split_list(const std::string& text) {
  std::string t = text;
  t.erase(std::remove_if(t.begin(), t.end(), [](char c) { return c == '[' || c == ']' || c == ' '; }), t.end());
  std::vector<std::string> parts;
  std::stringstream ss(t);
  std::string item;
  while (std::getline(ss, item, ',')) parts.push_back(item);
  return parts;
}
}  // namespace

std::vector<float> parse_float_list(const std::string& text, const std::string& flag) {
  std::vector<float> out;
  for (const auto& p : split_list(text)) {
    char* end = nullptr;
    double v = std::strtod(p.c_str(), &end);
    require(!p.empty() && end && *end == '\0' && std::isfinite(v),
            flag + ": '" + text + "' is not a comma-separated list of numbers");
    out.push_back(static_cast<float>(v));
  }
  require(!out.empty(), flag + ": empty list");
  return out;
}

std::vector<int64_t> parse_int_list(const std::string& text, const std::string& flag) {
  std::vector<int64_t> out;
  for (const auto& p : split_list(text)) {
    char* end = nullptr;
    long long v = std::strtoll(p.c_str(), &end, 10);
    require(!p.empty() && end && *end == '\0' && v > 0 && v <= 65536,
            flag + ": '" + text + "' is not a comma-separated list of positive integers");
    out.push_back(v);
  }
  return out;
}

void validate(const PreprocessOptions& o) {
  require(o.resize_dims.empty() || o.resize_dims.size() == 2, "--resize_dims: expected 'H,W'");
  require(o.pad_type == "center" || o.pad_type == "normal",
          "--pad_type: expected center or normal, got '" + o.pad_type + "'");
  require(o.pixel_format == "rgb" || o.pixel_format == "bgr" || o.pixel_format == "gray",
          "--pixel_format: expected rgb, bgr or gray, got '" + o.pixel_format + "'");
  require(o.channel_format == "nchw" || o.channel_format == "nhwc",
          "--channel_format: expected nchw or nhwc, got '" + o.channel_format + "'");
  size_t need = o.pixel_format == "gray" ? 1 : 3;
  require(o.mean.size() >= need, "--mean: expected at least " + std::to_string(need) + " values");
  require(o.scale.size() >= need, "--scale: expected at least " + std::to_string(need) + " values");
  require(o.pad_value >= 0 && o.pad_value <= 255, "--pad_value: expected 0..255");
}

std::string describe(const PreprocessOptions& o, const Shape& input_shape) {
  std::ostringstream s;
  auto list = [&](const auto& v) {
    std::ostringstream t;
    for (size_t i = 0; i < v.size(); i++) t << (i ? "," : "") << v[i];
    return t.str();
  };
  s << "input " << shape_str(input_shape)
    << ": resize_dims=" << (o.resize_dims.empty() ? std::string("(input H,W)") : list(o.resize_dims))
    << " keep_aspect_ratio=" << (o.keep_aspect_ratio ? "true" : "false");
  if (o.keep_aspect_ratio) s << " pad_value=" << o.pad_value << " pad_type=" << o.pad_type;
  s << " pixel_format=" << o.pixel_format << " channel_format=" << o.channel_format
    << " x=(x-mean)*scale mean=" << list(o.mean) << " scale=" << list(o.scale);
  return s.str();
}

// [SECTION] decode --------------------------------------------------------------------

Image decode_image(std::span<const uint8_t> bytes, const std::string& name, int channels) {
  require(channels == 1 || channels == 3, name + ": only 1- or 3-channel model inputs take images");
  require(bytes.size() < (size_t{1} << 31), name + ": image file too large");
  int w = 0, h = 0, n = 0;
  require(stbi_info_from_memory(bytes.data(), static_cast<int>(bytes.size()), &w, &h, &n) == 1,
          name + ": cannot decode image: " + (stbi_failure_reason() ? stbi_failure_reason() : "unknown format"));
  require(w > 0 && h > 0 && static_cast<int64_t>(w) * h <= (int64_t{1} << 28),
          name + ": image dimensions " + std::to_string(w) + "x" + std::to_string(h) + " are out of range");
  unsigned char* rgb = stbi_load_from_memory(bytes.data(), static_cast<int>(bytes.size()), &w, &h, &n, 3);
  require(rgb != nullptr,
          name + ": cannot decode image: " + (stbi_failure_reason() ? stbi_failure_reason() : "corrupt data"));
  Image img;
  img.height = h;
  img.width = w;
  img.channels = channels;
  size_t count = static_cast<size_t>(w) * h;
  img.pixels.resize(count * channels);
  for (size_t i = 0; i < count; i++) {
    int r = rgb[3 * i], g = rgb[3 * i + 1], b = rgb[3 * i + 2];
    if (channels == 3) {
      img.pixels[3 * i] = static_cast<uint8_t>(b);
      img.pixels[3 * i + 1] = static_cast<uint8_t>(g);
      img.pixels[3 * i + 2] = static_cast<uint8_t>(r);
    } else {
      img.pixels[i] = static_cast<uint8_t>((r * 4899 + g * 9617 + b * 1868 + 8192) >> 14);
    }
  }
  stbi_image_free(rgb);
  return img;
}

// [SECTION] resize (OpenCV INTER_LINEAR) --------------------------------------------------

namespace {
constexpr int kCoefBits = 11;
constexpr int kCoefScale = 1 << kCoefBits;

struct Tap {
  int index, next;  // next = min(index + 1, size - 1); a1 is 0 wherever next == index
  int16_t a0, a1;
};

int16_t saturate_short(float v) {
  long r = std::lrint(v);
  return static_cast<int16_t>(std::clamp<long>(r, -32768, 32767));
}

std::vector<Tap> linear_taps(int src_size, int dst_size) {
  double scale = 1.0 / (static_cast<double>(dst_size) / src_size);
  std::vector<Tap> taps(dst_size);
  for (int d = 0; d < dst_size; d++) {
    float f = static_cast<float>((d + 0.5) * scale - 0.5);
    int s = static_cast<int>(std::floor(f));
    f -= static_cast<float>(s);
    if (s < 0) f = 0, s = 0;
    if (s >= src_size - 1) f = 0, s = src_size - 1;
    taps[d] = {s, std::min(s + 1, src_size - 1), saturate_short((1.f - f) * kCoefScale),
               saturate_short(f * kCoefScale)};
  }
  return taps;
}

// The horizontal pass of one source row into `out` (width * kChannels fixed-point values).
// At the right edge a1 is 0 and next == index: v0 * a0 with a0 = 2^11, OpenCV's v0 << 11.
template <int kChannels>
void resize_row(const uint8_t* s, const std::vector<Tap>& xt, int32_t* out) {
  for (size_t dx = 0; dx < xt.size(); dx++) {
    const Tap& t = xt[dx];
    const uint8_t* p0 = s + t.index * kChannels;
    const uint8_t* p1 = s + t.next * kChannels;
    for (int c = 0; c < kChannels; c++) out[dx * kChannels + c] = p0[c] * t.a0 + p1[c] * t.a1;
  }
}
}  // namespace

Image resize_linear(const Image& src, int height, int width) {
  require(height > 0 && width > 0, "resize: empty target size");
  require(src.channels == 1 || src.channels == 3, "resize: expected 1 or 3 channels");
  Image dst;
  dst.height = height;
  dst.width = width;
  dst.channels = src.channels;
  const int cn = src.channels;
  if (src.height == height && src.width == width) {
    dst.pixels = src.pixels;
    return dst;
  }
  dst.pixels.resize(static_cast<size_t>(height) * width * cn);
  const auto xt = linear_taps(src.width, width);
  const auto yt = linear_taps(src.height, height);
  const int row_len = width * cn;
  // The two horizontally resized source rows in use, kept while consecutive output rows
  // read them (row index -1: none yet).
  std::vector<int32_t> rows[2] = {std::vector<int32_t>(row_len), std::vector<int32_t>(row_len)};
  int row_of[2] = {-1, -1};
  auto resized_row = [&](int sy, int keep) -> const int32_t* {
    for (int k = 0; k < 2; k++)
      if (row_of[k] == sy) return rows[k].data();
    const int k = row_of[0] == keep ? 1 : 0;  // replace the row not needed now
    const uint8_t* s = src.pixels.data() + static_cast<size_t>(sy) * src.width * cn;
    if (cn == 3) {
      resize_row<3>(s, xt, rows[k].data());
    } else {
      resize_row<1>(s, xt, rows[k].data());
    }
    row_of[k] = sy;
    return rows[k].data();
  };
  // OpenCV's SIMD vertical pass (VResizeLinearVec_32s8u) covers whole 8-lane chunks; the
  // scalar tail rounds exactly.
  const int simd_len = row_len / 8 * 8;
  for (int dy = 0; dy < height; dy++) {
    const Tap& t = yt[dy];
    const int32_t* b0 = resized_row(t.index, t.next);
    const int32_t* b1 = resized_row(t.next, t.index);
    const int a0 = t.a0, a1 = t.a1;
    uint8_t* d = dst.pixels.data() + static_cast<size_t>(dy) * row_len;
    for (int x = 0; x < simd_len; x++) {
      const int s0 = std::clamp(b0[x] >> 4, -32768, 32767), s1 = std::clamp(b1[x] >> 4, -32768, 32767);
      const int v = (((s0 * a0) >> 16) + ((s1 * a1) >> 16) + 2) >> 2;
      d[x] = static_cast<uint8_t>(std::clamp(v, 0, 255));
    }
    for (int x = simd_len; x < row_len; x++) {
      const int v = static_cast<int>(
          (static_cast<int64_t>(b0[x]) * a0 + static_cast<int64_t>(b1[x]) * a1 + (int64_t{1} << 21)) >> 22);
      d[x] = static_cast<uint8_t>(std::clamp(v, 0, 255));
    }
  }
  return dst;
}

// [SECTION] preprocess_images -------------------------------------------------------------

namespace {
Image letterbox(const Image& img, int h, int w, int pad_value, const std::string& pad_type) {
  double s = std::min(static_cast<double>(w) / img.width, static_cast<double>(h) / img.height);
  int rw = std::max(1, static_cast<int>(img.width * s)), rh = std::max(1, static_cast<int>(img.height * s));
  rw = std::min(rw, w);
  rh = std::min(rh, h);
  Image resized = resize_linear(img, rh, rw);
  Image out;
  out.height = h;
  out.width = w;
  out.channels = img.channels;
  out.pixels.assign(static_cast<size_t>(h) * w * img.channels, static_cast<uint8_t>(pad_value));
  int ph = pad_type == "center" ? (h - rh) / 2 : 0, pw = pad_type == "center" ? (w - rw) / 2 : 0;
  const int cn = img.channels;
  for (int y = 0; y < rh; y++) {
    std::copy_n(resized.pixels.data() + static_cast<size_t>(y) * rw * cn, rw * cn,
                out.pixels.data() + (static_cast<size_t>(y + ph) * w + pw) * cn);
  }
  return out;
}
}  // namespace

Tensor preprocess_images(const std::vector<Image>& images, const PreprocessOptions& o, const Shape& shape,
                         const std::string& input_name) {
  validate(o);
  require(shape.size() == 4, "input '" + input_name + "': images need a 4-D input, the model has " + shape_str(shape));
  for (int64_t d : shape)
    require(d > 0,
            "input '" + input_name + "' has a dynamic shape " + shape_str(shape) + "; fix it with --input_shapes");
  const bool nhwc = o.channel_format == "nhwc";
  const int64_t batch = shape[0];
  const int64_t C = nhwc ? shape[3] : shape[1], H = nhwc ? shape[1] : shape[2], W = nhwc ? shape[2] : shape[3];
  const int want_c = o.pixel_format == "gray" ? 1 : 3;
  require(C == want_c, "input '" + input_name + "' has " + std::to_string(C) + " channel(s) in " + o.channel_format +
                           " layout " + shape_str(shape) + " but --pixel_format " + o.pixel_format + " gives " +
                           std::to_string(want_c) + " (check --channel_format / --pixel_format)");
  require(!images.empty() && (images.size() == 1 || static_cast<int64_t>(images.size()) == batch),
          "input '" + input_name + "': expected 1 or " + std::to_string(batch) + " images per batch");
  int64_t rh = H, rw = W;
  if (!o.resize_dims.empty()) {
    rh = std::max(o.resize_dims[0], H);
    rw = std::max(o.resize_dims[1], W);
  }
  Tensor out(DType::Float32, shape);
  auto data = out.f32();
  const int64_t plane = H * W;
  for (int64_t b = 0; b < batch; b++) {
    const Image& src = images.size() == 1 ? images[0] : images[b];
    require(src.channels == want_c, "input '" + input_name + "': image decoded with the wrong channel count");
    Image img = o.keep_aspect_ratio
                    ? letterbox(src, static_cast<int>(rh), static_cast<int>(rw), o.pad_value, o.pad_type)
                    : resize_linear(src, static_cast<int>(rh), static_cast<int>(rw));
    const int64_t y0 = rh / 2 - H / 2, x0 = rw / 2 - W / 2;  // center crop
    float* dst = data.data() + b * C * plane;
    const bool rgb = o.pixel_format == "rgb";  // (compared once, not per pixel)
    for (int64_t c = 0; c < C; c++) {
      const int64_t src_c = rgb ? 2 - c : c;
      const float mean = o.mean[c], scale = o.scale[c];
      for (int64_t y = 0; y < H; y++) {
        const uint8_t* row = img.pixels.data() + ((y + y0) * rw + x0) * want_c + src_c;
        for (int64_t x = 0; x < W; x++) {
          const float v = (static_cast<float>(row[x * want_c]) - mean) * scale;
          if (nhwc) {
            dst[(y * W + x) * C + c] = v;
          } else {
            dst[c * plane + y * W + x] = v;
          }
        }
      }
    }
  }
  return out;
}

}  // namespace mixq::calib
