// Calibration data selection: CPython-exact random, DataSelector order, data lists, and
// model_transform-style image preprocessing.
#include <array>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <random>

#include "mixq/calib/dataset.h"
#include "mixq/calib/preprocess.h"
#include "mixq/calib/py_random.h"
#include "mixq/error.h"

using namespace mixq;
using namespace mixq::calib;

// Expected values were computed with CPython 3.11:
//   random.seed(s); [random.getrandbits(32) for _ in range(3)]
//   random.seed(1684); l = list(range(n)); random.shuffle(l)
TEST_CASE("PyRandom reproduces CPython's seed and getrandbits") {
  struct Case {
    uint64_t seed;
    uint32_t v[3];
  };
  for (Case c : {Case{1684, {2067858712u, 61194221u, 2215618579u}}, Case{0, {3626764237u, 1654615998u, 3255389356u}},
                 Case{5, {2675342405u, 1097127993u, 3185950873u}},
                 Case{1099511627783ull, {2635837658u, 3209733218u, 3500038837u}}}) {
    PyRandom r(c.seed);
    for (uint32_t expected : c.v) CHECK(r.getrandbits(32) == expected);
  }
  PyRandom r(1684);
  CHECK(r.random() == 0.48146086941844135);
}

TEST_CASE("PyRandom::shuffle reproduces random.shuffle after random.seed(1684)") {
  auto shuffled = [](int n) {
    std::vector<int> v(n);
    for (int i = 0; i < n; i++) v[i] = i;
    PyRandom r(1684);
    r.shuffle(v);
    v.resize(std::min(n, 12));
    return v;
  };
  CHECK(shuffled(1) == std::vector<int>{0});
  CHECK(shuffled(2) == std::vector<int>{0, 1});
  CHECK(shuffled(3) == std::vector<int>{2, 0, 1});
  CHECK(shuffled(10) == std::vector<int>{1, 8, 9, 6, 5, 3, 2, 4, 0, 7});
  CHECK(shuffled(40) == std::vector<int>{23, 37, 34, 14, 6, 1, 29, 32, 3, 8, 25, 4});
  CHECK(shuffled(1000) == std::vector<int>{744, 341, 225, 156, 224, 427, 394, 903, 282, 872, 18, 170});
}

TEST_CASE("select_dataset filters, sorts and shuffles like DataSelector") {
  // CPython: sorted(filtered names), random.seed(1684), random.shuffle
  std::vector<std::string> names = {"d/b.jpg",  "d/a.png",   "d/sub/c.npy", "d/Z.JPG", "d/x.txt",
                                    "d/e.jfif", "d/f.bmp",   "d/g.jpeg",    "d/h.npz", "d/\xc3\xa4.jpg",
                                    "d/a1.jpg", "d/a10.jpg", "d/a2.jpg"};
  std::vector<std::string> expected = {"d/a.png",   "d/sub/c.npy", "d/b.jpg",  "d/a1.jpg", "d/\xc3\xa4.jpg", "d/e.jfif",
                                       "d/a10.jpg", "d/h.npz",     "d/a2.jpg", "d/g.jpeg", "d/Z.JPG",        "d/f.bmp"};
  auto sel = select_dataset(names, 0, "d");
  REQUIRE(sel.samples.size() == expected.size());
  for (size_t i = 0; i < expected.size(); i++) CHECK(sel.samples[i].files[0] == expected[i]);
  // input order does not matter, input_num cuts
  std::reverse(names.begin(), names.end());
  auto first3 = select_dataset(names, 3, "d");
  REQUIRE(first3.samples.size() == 3);
  CHECK(first3.samples[2].files[0] == "d/b.jpg");
  CHECK(first3.available == 12);
  // mixing kinds is refused
  CHECK_THROWS_WITH(check_selection(sel, 1, "d"), Catch::Contains("only one input type"));
  CHECK_THROWS_AS(select_dataset({"a.txt", "b.onnx"}, 0, "d"), Error);
}

TEST_CASE("parse_data_list: comma-separated multi-input lines, input_num, errors with line numbers") {
  auto sel = parse_data_list("a.npy, b.npy\n\n c.npy,d.npy \r\ne.npy,f.npy\n", 2, "list.txt");
  REQUIRE(sel.samples.size() == 2);
  CHECK(sel.samples[1].files == std::vector<std::string>{"c.npy", "d.npy"});
  CHECK(sel.available == 3);
  check_selection(sel, 2, "list.txt");
  CHECK_THROWS_WITH(check_selection(sel, 3, "list.txt"), Catch::Contains("has 2 file(s) but the model has 3"));
  CHECK_THROWS_WITH(parse_data_list("a.jpg\nb.gif\n", 0, "list.txt"), Catch::Contains("list.txt:2"));
}

namespace {
// A 24-bit BMP (bottom-up rows, BGR), built here so the decoder is tested on known pixels.
std::vector<uint8_t> make_bmp(int w, int h, const std::vector<uint8_t>& rgb) {
  int row = (w * 3 + 3) / 4 * 4;
  uint32_t size = 54 + row * h;
  std::vector<uint8_t> b(size, 0);
  auto put32 = [&](size_t at, uint32_t v) { std::memcpy(&b[at], &v, 4); };
  auto put16 = [&](size_t at, uint16_t v) { std::memcpy(&b[at], &v, 2); };
  b[0] = 'B';
  b[1] = 'M';
  put32(2, size);
  put32(10, 54);
  put32(14, 40);
  put32(18, w);
  put32(22, h);
  put16(26, 1);
  put16(28, 24);
  for (int y = 0; y < h; y++) {
    for (int x = 0; x < w; x++) {
      const uint8_t* p = &rgb[(y * w + x) * 3];
      uint8_t* d = &b[54 + (h - 1 - y) * row + x * 3];
      d[0] = p[2];
      d[1] = p[1];
      d[2] = p[0];
    }
  }
  return b;
}
}  // namespace

TEST_CASE("decode_image gives OpenCV's BGR order and gray formula") {
  std::vector<uint8_t> rgb = {10, 20, 30, 200, 100, 50};
  auto bmp = make_bmp(2, 1, rgb);
  Image img = decode_image(bmp, "t.bmp", 3);
  REQUIRE(img.width == 2);
  CHECK(img.pixels == std::vector<uint8_t>{30, 20, 10, 50, 100, 200});
  Image gray = decode_image(bmp, "t.bmp", 1);
  CHECK(gray.pixels[0] == (10 * 4899 + 20 * 9617 + 30 * 1868 + 8192) >> 14);
  std::vector<uint8_t> junk = {1, 2, 3, 4, 5};
  CHECK_THROWS_WITH(decode_image(junk, "bad.jpg", 3), Catch::Contains("bad.jpg: cannot decode image"));
}

TEST_CASE("resize_linear matches a plain float bilinear within one level") {
  Image src{7, 9, 1, {}};
  for (int i = 0; i < 63; i++) src.pixels.push_back(static_cast<uint8_t>((i * 37) % 256));
  for (auto [h, w] : {std::pair{14, 18}, std::pair{4, 5}, std::pair{7, 9}, std::pair{3, 20}}) {
    Image out = resize_linear(src, h, w);
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        double fy = std::max(0.0, (y + 0.5) * src.height / h - 0.5),
               fx = std::max(0.0, (x + 0.5) * src.width / w - 0.5);
        int y0 = std::min(static_cast<int>(fy), src.height - 1), x0 = std::min(static_cast<int>(fx), src.width - 1);
        int y1 = std::min(y0 + 1, src.height - 1), x1 = std::min(x0 + 1, src.width - 1);
        double ay = fy - y0, ax = fx - x0;
        auto p = [&](int yy, int xx) { return static_cast<double>(src.pixels[yy * src.width + xx]); };
        double ref = (1 - ay) * ((1 - ax) * p(y0, x0) + ax * p(y0, x1)) + ay * ((1 - ax) * p(y1, x0) + ax * p(y1, x1));
        CHECK(std::fabs(out.pixels[y * w + x] - ref) <= 1.0);
      }
    }
  }
}

namespace {
// OpenCV's INTER_LINEAR on 8-bit data written out per output pixel: 11-bit coefficients,
// both source rows resized horizontally, the vertical pass as VResizeLinearVec_32s8u for
// whole 8-value chunks of a row and exactly rounded for the rest.
Image opencv_linear_per_pixel(const Image& src, int h, int w) {
  auto taps = [](int in, int out, int d, int& i0, int& a0, int& a1) {
    float f = static_cast<float>((d + 0.5) * (1.0 / (static_cast<double>(out) / in)) - 0.5);
    int s = static_cast<int>(std::floor(f));
    f -= static_cast<float>(s);
    if (s < 0) f = 0, s = 0;
    if (s >= in - 1) f = 0, s = in - 1;
    i0 = s;
    a0 = static_cast<int>(std::clamp<long>(std::lrint((1.f - f) * 2048), -32768, 32767));
    a1 = static_cast<int>(std::clamp<long>(std::lrint(f * 2048), -32768, 32767));
  };
  const int cn = src.channels, row_len = w * cn;
  Image d{h, w, cn, std::vector<uint8_t>(static_cast<size_t>(h) * row_len)};
  for (int y = 0; y < h; y++) {
    int y0, b0, b1;
    taps(src.height, h, y, y0, b0, b1);
    const int y1 = std::min(y0 + 1, src.height - 1);
    for (int x = 0; x < w; x++) {
      int x0, a0, a1;
      taps(src.width, w, x, x0, a0, a1);
      for (int c = 0; c < cn; c++) {
        auto horizontal = [&](int sy) {
          const uint8_t* r = src.pixels.data() + static_cast<size_t>(sy) * src.width * cn;
          return x0 + 1 < src.width ? r[x0 * cn + c] * a0 + r[(x0 + 1) * cn + c] * a1 : r[x0 * cn + c] * 2048;
        };
        const int h0 = horizontal(y0), h1 = horizontal(y1), i = x * cn + c;
        int v;
        if (i < row_len / 8 * 8) {
          int s0 = std::clamp(h0 >> 4, -32768, 32767), s1 = std::clamp(h1 >> 4, -32768, 32767);
          v = (((s0 * b0) >> 16) + ((s1 * b1) >> 16) + 2) >> 2;
        } else {
          v = static_cast<int>((int64_t{h0} * b0 + int64_t{h1} * b1 + (int64_t{1} << 21)) >> 22);
        }
        d.pixels[static_cast<size_t>(y) * row_len + i] = static_cast<uint8_t>(std::clamp(v, 0, 255));
      }
    }
  }
  return d;
}
}  // namespace

TEST_CASE("resize_linear equals OpenCV's fixed-point INTER_LINEAR written out per pixel") {
  std::mt19937 g(5);
  for (int cn : {1, 3}) {
    for (auto [sh, sw, h, w] : {std::array{480, 640, 352, 352}, std::array{37, 53, 640, 640}, std::array{1, 1, 5, 7},
                                std::array{9, 1, 4, 3}, std::array{100, 100, 99, 101}, std::array{31, 17, 8, 300}}) {
      INFO("channels " << cn << " " << sh << "x" << sw << " -> " << h << "x" << w);
      Image src{sh, sw, cn, std::vector<uint8_t>(static_cast<size_t>(sh) * sw * cn)};
      for (auto& p : src.pixels) p = static_cast<uint8_t>(g());
      CHECK(resize_linear(src, h, w).pixels == opencv_linear_per_pixel(src, h, w).pixels);
    }
  }
}

TEST_CASE("preprocess_images: letterbox, pixel/channel formats, mean and scale") {
  // 4x2 image (w=4, h=2), pixel (r,g,b) = (x*10, y*10, 200)
  Image img{2, 4, 3, {}};
  for (int y = 0; y < 2; y++)
    for (int x = 0; x < 4; x++)
      img.pixels.insert(img.pixels.end(), {200, static_cast<uint8_t>(y * 10), static_cast<uint8_t>(x * 10)});
  PreprocessOptions o;
  o.keep_aspect_ratio = true;
  o.pad_value = 114;
  o.pixel_format = "rgb";
  o.mean = {1, 2, 3};
  o.scale = {0.5f, 0.25f, 2};
  Tensor t = preprocess_images({img}, o, {1, 3, 4, 4}, "x");
  auto v = t.f32();
  // s = min(4/4, 4/2) = 1: 4x2 pasted at rows 1..2; rows 0 and 3 are padding
  CHECK(v[0 * 16 + 0 * 4 + 0] == Approx((114 - 1) * 0.5f));
  CHECK(v[0 * 16 + 1 * 4 + 3] == Approx((30 - 1) * 0.5f));  // R channel first (rgb) = x*10
  CHECK(v[2 * 16 + 2 * 4 + 0] == Approx((200 - 3) * 2.f));  // B channel last
  o.pad_type = "normal";
  o.channel_format = "nhwc";
  o.pixel_format = "bgr";
  Tensor n = preprocess_images({img}, o, {1, 4, 4, 3}, "x");
  auto w = n.f32();
  CHECK(w[(0 * 4 + 1) * 3 + 0] == Approx((200 - 1) * 0.5f));  // top-left paste, B first
  CHECK(w[(3 * 4 + 0) * 3 + 2] == Approx((114 - 3) * 2.f));
  // batch 2 from one image repeats it; a channel mismatch is a clear error
  Tensor b2 = preprocess_images({img}, o, {2, 4, 4, 3}, "x");
  CHECK(b2.f32()[5] == b2.f32()[48 + 5]);
  CHECK_THROWS_WITH(preprocess_images({img}, o, {1, 3, 4, 4}, "x"), Catch::Contains("channel"));
  // resize_dims larger than the input: resize then center crop
  PreprocessOptions c;
  c.resize_dims = {4, 8};
  Tensor cr = preprocess_images({img}, c, {1, 3, 2, 4}, "x");
  CHECK(cr.shape() == Shape{1, 3, 2, 4});
}
