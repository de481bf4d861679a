// Image preprocessing with model_transform.py's flags and semantics (TPU-MLIR
// python/utils/preprocess.py), so calibration sees what inference will see:
//   decode (stb_image; TPU-MLIR uses cv2.imread: BGR order, gray via OpenCV's
//   Y = (4899 R + 9617 G + 1868 B + 8192) >> 14) ->
//   resize to resize_dims (H,W; default = the input's H,W; each dim at least the input's):
//     stretch (cv2.resize INTER_LINEAR, OpenCV's 11-bit fixed-point arithmetic) or, with
//     keep_aspect_ratio, letterbox: s = min(W/iw, H/ih), resize to (int(iw*s), int(ih*s)),
//     paste centered (pad_type center) or top-left (normal) on a pad_value canvas ->
//   center crop to the input's H,W when resize_dims is larger ->
//   channel order: bgr (as decoded by OpenCV), rgb (swapped), gray (1 channel) ->
//   x = (x - mean[c]) * scale[c] in float32 -> nchw or nhwc layout.
// Known differences from OpenCV: JPEG decoding (stb's IDCT/upsampling vs libjpeg, +-1..2
// levels), EXIF orientation is not applied, and cv2's 2x-integer downscale shortcut
// (INTER_AREA) is not reproduced.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "mixq/tensor.h"

namespace mixq::calib {

struct PreprocessOptions {
  std::vector<int64_t> resize_dims;  // {H, W}; empty = the model input's H,W
  bool keep_aspect_ratio = false;
  int pad_value = 0;
  std::string pad_type = "center";  // center | normal
  std::vector<float> mean = {0, 0, 0};
  std::vector<float> scale = {1, 1, 1};
  std::string pixel_format = "bgr";     // rgb | bgr | gray
  std::string channel_format = "nchw";  // nchw | nhwc
};

// Parses "a,b,c" lists as the CLI flags take them. Throw mixq::Error naming `flag`.
std::vector<float> parse_float_list(const std::string& text, const std::string& flag);
std::vector<int64_t> parse_int_list(const std::string& text, const std::string& flag);
// Checks choices and list lengths; throws mixq::Error naming the flag.
void validate(const PreprocessOptions& options);
// "resize_dims=640,640 keep_aspect_ratio=1 pad_value=114 ... " for the log.
std::string describe(const PreprocessOptions& options, const Shape& input_shape);

// 8-bit interleaved image (HWC).
struct Image {
  int height = 0, width = 0, channels = 0;
  std::vector<uint8_t> pixels;
};
// Decodes jpg/png/bmp bytes to BGR (channels=3) or gray (channels=1), like cv2.imread.
// Throws mixq::Error("<name>: cannot decode image: <reason>").
Image decode_image(std::span<const uint8_t> bytes, const std::string& name, int channels);
// cv2.resize(img, (w, h)) with INTER_LINEAR on 8-bit data.
Image resize_linear(const Image& src, int height, int width);

// One model input from `images` (one per batch item; a single image is repeated over the
// batch, as TPU-MLIR does). `input_shape`: the model input's static shape, 4-D.
Tensor preprocess_images(const std::vector<Image>& images, const PreprocessOptions& options, const Shape& input_shape,
                         const std::string& input_name);

}  // namespace mixq::calib
