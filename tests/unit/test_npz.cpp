// npy/npz: round trips (stored and deflated), numpy-written headers, corrupt archives.
#include <catch2/catch.hpp>

#include "mixq/error.h"
#include "mixq/npz.h"

using namespace mixq;

namespace {
NpzArrays sample() {
  NpzArrays a;
  std::vector<float> f(1000);
  for (size_t i = 0; i < f.size(); ++i) f[i] = float(i % 17) * 0.25f - 1.f;
  a["x"] = Tensor::from_f32({10, 100}, f);
  a["idx/long name"] = Tensor::from_i64({3}, {-1, 0, 1LL << 40});
  a["scalar"] = Tensor::scalar_f32(3.5f);
  a["mask"] = tensor_from_i64(DType::Bool, {2, 2}, {1, 0, 0, 1});
  a["empty"] = Tensor(DType::Float32, {0, 4});
  return a;
}
void require_equal(const NpzArrays& a, const NpzArrays& b) {
  REQUIRE(a.size() == b.size());
  for (const auto& [k, t] : a) {
    INFO(k);
    REQUIRE(b.count(k) == 1);
    CHECK(b.at(k).dtype() == t.dtype());
    CHECK(b.at(k).shape() == t.shape());
    CHECK(std::equal(t.bytes().begin(), t.bytes().end(), b.at(k).bytes().begin(), b.at(k).bytes().end()));
  }
}
}  // namespace

TEST_CASE("npz round-trips stored and deflated archives") {
  NpzArrays a = sample();
  auto stored = write_npz(a, false);
  auto deflated = write_npz(a, true);
  CHECK(looks_like_npz(stored));
  CHECK(deflated.size() < stored.size());
  require_equal(a, read_npz(stored, "stored.npz"));
  require_equal(a, read_npz(deflated, "deflated.npz"));
}

TEST_CASE("NpzWriter: members in the order added, the same archive as write_npz, one member per key") {
  const NpzArrays a = sample();
  for (bool compress : {false, true}) {
    INFO("compress " << compress);
    NpzWriter in_key_order(compress), reversed(compress);
    for (const auto& [k, t] : a) in_key_order.add(k, t);
    for (auto it = a.rbegin(); it != a.rend(); ++it) reversed.add(it->first, it->second);
    CHECK(reversed.size() == a.size());
    CHECK(reversed.contains("scalar"));
    CHECK_FALSE(reversed.contains("nope"));
    CHECK(in_key_order.finish() == write_npz(a, compress));  // byte for byte
    const std::vector<uint8_t> bytes = reversed.finish();
    require_equal(read_npz(bytes, "reversed.npz"), a);
    CHECK(reversed.size() == 0);  // finish() empties the writer
  }
  NpzWriter w;
  w.add("x", a.at("x"));
  CHECK_THROWS_WITH(w.add("x", a.at("x")), Catch::Contains("'x' written twice"));
  CHECK(read_npz(NpzWriter().finish(), "empty.npz").empty());
}

TEST_CASE("npy reads numpy-written headers") {
  // np.save of np.arange(6, dtype='<i4').reshape(2,3), header as numpy 1.x writes it.
  std::string header = "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }";
  header.append(128 - 10 - header.size() - 1, ' ');
  header += '\n';
  std::vector<uint8_t> bytes = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, uint8_t(header.size()), 0};
  bytes.insert(bytes.end(), header.begin(), header.end());
  for (int32_t i = 0; i < 6; ++i)
    for (int b = 0; b < 4; ++b) bytes.push_back(uint8_t(i >> (8 * b)));
  Tensor t = read_npy(bytes, "a.npy");
  CHECK(t.dtype() == DType::Int32);
  CHECK(t.shape() == Shape{2, 3});
  CHECK(t.to_i64() == std::vector<int64_t>{0, 1, 2, 3, 4, 5});
  // 1-D shapes are written "(n,)"
  auto one = write_npy(Tensor::from_f32({4}, {1, 2, 3, 4}));
  std::string text(one.begin(), one.end());
  CHECK(text.find("'shape': (4,)") != std::string::npos);
  CHECK((one.size() - 16) % 64 == 0);  // magic + header padded to a multiple of 64, then 16 data bytes
}

TEST_CASE("corrupt npz and npy give clear errors") {
  auto stored = write_npz(sample(), false);
  auto deflated = write_npz(sample(), true);
  SECTION("flipped payload byte: CRC mismatch") {
    auto bad = stored;
    bad[bad.size() - 400] ^= 0x5a;  // inside the last member's array data
    REQUIRE_THROWS_WITH(read_npz(bad, "bad.npz"), Catch::Contains("bad.npz") && Catch::Contains("CRC"));
  }
  SECTION("corrupt deflate stream") {
    auto bad = deflated;
    for (size_t i = 60; i < 90; ++i) bad[i] = 0xff;
    REQUIRE_THROWS_AS(read_npz(bad, "bad.npz"), Error);
  }
  SECTION("truncated archive") {
    std::vector<uint8_t> cut(stored.begin(), stored.begin() + stored.size() / 2);
    REQUIRE_THROWS_WITH(read_npz(cut, "cut.npz"), Catch::Contains("cut.npz"));
  }
  SECTION("not npy") {
    std::vector<uint8_t> junk = {'h', 'e', 'l', 'l', 'o', 0, 0, 0, 0, 0, 0, 0};
    REQUIRE_THROWS_WITH(read_npy(junk, "junk.npy"), Catch::Contains("junk.npy") && Catch::Contains("NUMPY"));
  }
  SECTION("truncated npy data") {
    auto npy = write_npy(Tensor::from_f32({100}, std::vector<float>(100, 1.f)));
    npy.resize(npy.size() - 8);
    REQUIRE_THROWS_WITH(read_npy(npy, "short.npy"), Catch::Contains("truncated"));
  }
}
