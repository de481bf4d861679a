#include "mixq/calib/histogram.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cassert>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <utility>

#include "mixq/error.h"
#include "mixq/exec/thread_pool.h"
#include "mixq/exec/vec.h"
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace mixq::calib {

namespace {

// Work is split in fixed chunks (independent of the thread count); integer counts and
// min/max combine exactly, floating sums combine in chunk order: deterministic results.
constexpr int64_t kChunk = 1 << 16;

void for_chunks(ThreadPool* pool, int64_t n, const std::function<void(int64_t, int64_t, int64_t)>& fn,
                int64_t chunk = kChunk) {
  const int64_t chunks = (n + chunk - 1) / chunk;
  auto task = [&](int64_t c) { fn(c, c * chunk, std::min(n, (c + 1) * chunk)); };
  if (pool && chunks > 1) {
    pool->parallel_for(chunks, task);
  } else {
    for (int64_t c = 0; c < chunks; c++) task(c);
  }
}

// Vector types (GCC/Clang: AVX natively, SIMD128 in wasm; the same IEEE float32
// operations per value on every target), one register wide: GCC compiled 16-float
// vectors on AVX2 and SSE into code 10-20x slower (3.6-7.5 ns per value).
constexpr int kSlots = exec::kRegisterLanes;
typedef float VecF __attribute__((vector_size(kSlots * sizeof(float))));
typedef int32_t VecI __attribute__((vector_size(kSlots * sizeof(int32_t))));

inline VecF abs_of(VecF v) {
  return (VecF)((VecI)v & 0x7fffffff);
}

// Min, max and non-finite count of a range, as the sequential scan
// `mn = v < mn ? v : mn; mx = v > mx ? v : mx` gives them when every value is finite
// (callers discard min/max otherwise): kept in kSlots independent accumulators (one
// vector); the only tie the slots could resolve differently is -0 vs +0, fixed in
// finish_scan() by taking the first zero of the range, as the scan does. A slot counts
// at most 2^30 / kSlots non-finite values (lanes_for): int32 is enough.
struct MinMax {
  VecF mn = VecF{} + INFINITY, mx = VecF{} - INFINITY;
  VecI bad{};
  // v: kSlots values, a = |v|
  void add(VecF v, VecF a) {
    mn = v < mn ? v : mn;  // NaN never replaces
    mx = v > mx ? v : mx;
    bad -= !(a <= 3.40282347e38f);  // a vector comparison's true is -1
  }
  void add_block(const MinMax& b) {  // another range's slots (same NaN rule)
    mn = b.mn < mn ? b.mn : mn;
    mx = b.mx > mx ? b.mx : mx;
    bad += b.bad;
  }
  void add_one(int slot, float v) {
    mn[slot] = v < mn[slot] ? v : mn[slot];
    mx[slot] = v > mx[slot] ? v : mx[slot];
    bad[slot] += !(std::fabs(v) <= 3.40282347e38f);
  }
};
struct Scan {
  float mn = INFINITY, mx = -INFINITY;
  int64_t bad = 0;
};

Scan finish_scan(const MinMax& acc, const float* x, int64_t count) {
  Scan r;
  for (int k = 0; k < kSlots; k++) {
    r.mn = acc.mn[k] < r.mn ? acc.mn[k] : r.mn;
    r.mx = acc.mx[k] > r.mx ? acc.mx[k] : r.mx;
    r.bad += acc.bad[k];
  }
  if (r.bad == 0 && (r.mn == 0.f || r.mx == 0.f)) {
    for (int64_t i = 0; i < count; i++) {
      if (x[i] == 0.f) {  // the first zero: its sign is what the sequential scan keeps
        if (r.mn == 0.f) r.mn = x[i];
        if (r.mx == 0.f) r.mx = x[i];
        break;
      }
    }
  }
  return r;
}

Scan scan_range(const float* x, int64_t count) {
  MinMax acc;
  const int64_t full = count - count % kSlots;
  for (int64_t i = 0; i < full; i += kSlots) {
    const VecF v = exec::load_unaligned<VecF>(x + i);
    acc.add(v, abs_of(v));
  }
  for (int64_t i = full; i < count; i++) acc.add_one(static_cast<int>(i % kSlots), x[i]);
  return finish_scan(acc, x, count);
}

// Lane count arrays: `copies` interleaved copies of n bins + 1 overflow slot + kZeroSlots
// slots that zeros rotate through (TPU-MLIR drops zeros; rotating them avoids a chain of
// increments of one counter). Consecutive values often fall in the same bin, and
// increments of one counter form a dependency chain; copies break it (summed after), when
// a lane bins enough values to pay for clearing and summing them. Two, not four: four
// copies of 2048 uint32 bins (33 KB) overflow a 32 KB L1 (the exec bench's stats mode,
// interleaved runs: PP-OCRv4-det 63.2 -> 60.0 ms, fastestdet 3.50 -> 3.44 ms a sample);
// real activations rarely repeat a bin (the most common bin holds ~3 % of det's values).
constexpr int64_t kZeroSlots = kSlots < 8 ? kSlots : 8;
int64_t count_copies(int64_t bins, int64_t lane_values) {
  if (bins > (1 << 18)) return 1;
  return lane_values >= 2 * bins ? 2 : 1;
}
int64_t copy_stride(int64_t n) {
  return n + 1 + kZeroSlots;
}
// Lanes: one per worker for samples large enough to share (at least 16K values each).
// Counts are integers and min/max ties are resolved in lane order, so any split gives the
// same result. A lane counts at most 2^30 values, so 32-bit lane counts (half the cache
// footprint) cannot overflow.
using LaneCount = uint32_t;
int64_t lanes_for(int64_t values, int64_t bins, const ThreadPool* pool) {
  const int64_t needed = (values >> 30) + 1;
  if (bins > (1 << 18) || !pool) return needed;  // huge extended histograms: bound memory
  return std::max(needed, std::clamp<int64_t>(values / (int64_t{1} << 14), 1, pool->size()));
}

// counts[idx[i]]++ for i < m, value i counted in copy i % kCopies (independent chains of
// increments when consecutive values fall in the same bin).
template <int kCopies, class Count>
inline void count_into(const int32_t* idx, int m, Count* counts, int64_t stride) {
  Count* const c0 = counts;
  Count* const c1 = counts + (kCopies == 2 ? stride : 0);  // its own base: no add per value
  int i = 0;
  for (; i + 4 <= m; i += 4) {
    c0[idx[i]]++;
    c1[idx[i + 1]]++;
    c0[idx[i + 2]]++;
    c1[idx[i + 3]]++;
  }
  for (; i < m; i++) counts[idx[i]]++;
}

// Bins |v| of finite values (and, with kScan, accumulates min/max/non-finite of all of
// them into *acc); zeros are dropped, indices past the end ignored.
// counts: copies x copy_stride(n). Same float32 arithmetic as histogram_bin.
template <bool kScan, class Count>
void bin_range(const float* x, int64_t count, float wf, int64_t n, int64_t copies, Count* counts, MinMax* acc) {
  static_assert(kZeroSlots <= kSlots);
  constexpr int kBlock = 1024;
  alignas(64) int32_t idx[kBlock];
  const float limit = static_cast<float>(n);
  const int32_t zero_base = static_cast<int32_t>(n + 1);
#if !defined(__AVX512F__)
  VecI zero_slot;
  for (int k = 0; k < kSlots; k++) zero_slot[k] = zero_base + (k & (kZeroSlots - 1));
#endif
  // Accumulated in a local copy, kept in registers: through `acc`, every register's
  // minimum, maximum and count were stored again (the index stores may alias anything):
  // yolov5n-face's statistics 0.95x.
  MinMax scan;
  if constexpr (kScan) scan = *acc;
  for (int64_t start = 0; start < count; start += kBlock) {
    const int m = static_cast<int>(std::min<int64_t>(kBlock, count - start));
    const float* p = x + start;
    const int full = m - m % kSlots;
    int used = 0;  // indices in idx
    for (int i = 0; i < full; i += kSlots) {
      const VecF v = exec::load_unaligned<VecF>(p + i);
      const VecF a = abs_of(v);
      if constexpr (kScan) scan.add(v, a);
      VecF q = a / wf + 0.5f;
      q = q < limit ? q : limit;  // NaN, inf and values past the range: the overflow slot
#if defined(__AVX512F__)
      static_assert(kSlots == 16, "the mask below is one 16-lane register");
      // Zeros are dropped here (compressed out) rather than counted in the zero slots:
      // ReLU outputs are often half zeros, and the increments are the cost.
      const __mmask16 nonzero = _mm512_cmp_ps_mask((__m512)v, _mm512_setzero_ps(), _CMP_NEQ_UQ);
      const __m512i slot = (__m512i) __builtin_convertvector(q, VecI);
      if (nonzero == 0xffff) {  // no zero (compressing would cost the zero-free data ~1.3x)
        _mm512_storeu_si512(idx + used, slot);
        used += kSlots;
      } else {
        _mm512_storeu_si512(idx + used, _mm512_maskz_compress_epi32(nonzero, slot));
        used += __builtin_popcount(nonzero);
      }
#else
      const VecI slot = v == 0.f ? zero_slot : __builtin_convertvector(q, VecI);
      std::memcpy(idx + i, &slot, sizeof slot);
      used = i + kSlots;
#endif
    }
    for (int i = full; i < m; i++) {
      const float v = p[i];
      if constexpr (kScan) scan.add_one(i % kSlots, v);
      float q = std::fabs(v) / wf + 0.5f;
      q = q < limit ? q : limit;
      idx[used++] = v == 0.f ? zero_base + (i & (kZeroSlots - 1)) : static_cast<int32_t>(q);
    }
    const int64_t stride = copy_stride(n);
    if (copies == 2) {
      count_into<2>(idx, used, counts, stride);
    } else {
      count_into<1>(idx, used, counts, stride);
    }
  }
  if constexpr (kScan) *acc = scan;
}

// Adds the copies of one lane to `counts` (n bins; overflow and zero slots dropped).
void sum_copies(const std::vector<LaneCount>& lane, int64_t copies, std::vector<int64_t>& counts) {
  const int64_t n = static_cast<int64_t>(counts.size());
  const int64_t stride = copy_stride(n);
  for (int64_t c = 0; c < copies; c++)
    for (int64_t i = 0; i < n; i++) counts[i] += lane[c * stride + i];
}

void bin_into(std::span<const float> x, double width, std::vector<int64_t>& counts, ThreadPool* pool) {
  if (!(width > 0)) return;  // all-zero range: every value is zero
  const float wf = static_cast<float>(width);
  const int64_t n = static_cast<int64_t>(counts.size());
  const int64_t total = static_cast<int64_t>(x.size());
  // Lanes with private counts (integers: any order gives the same sums).
  const int64_t lanes = lanes_for(total, n, pool);
  if (lanes == 1 && n > (1 << 18)) {
    // A histogram grown to millions of bins: the values go straight into its counts (a
    // zeroed 32-bit copy and its sum would be two passes over all the bins a sample; the
    // bins past n, overflow and zeros, are dropped after). PP-OCRv4-det's final Sigmoid,
    // 5,002,707 bins for 409,600 values a sample.
    const size_t padded = static_cast<size_t>(copy_stride(n));
    if (counts.capacity() < padded) counts.reserve(padded + padded / 8);  // growth rarely reallocates twice
    counts.resize(padded, 0);
    bin_range<false>(x.data(), total, wf, n, 1, counts.data(), nullptr);
    counts.resize(static_cast<size_t>(n));
    return;
  }
  const int64_t per = (total + lanes - 1) / lanes;
  const int64_t copies = count_copies(n, per);
  std::vector<std::vector<LaneCount>> lane_counts(lanes, std::vector<LaneCount>(copies * copy_stride(n), 0));
  auto lane = [&](int64_t l) {
    int64_t b = l * per, e = std::min(total, b + per);
    if (b < e) bin_range<false>(x.data() + b, e - b, wf, n, copies, lane_counts[l].data(), nullptr);
  };
  if (pool && lanes > 1) {
    pool->parallel_for(lanes, lane);
  } else {
    for (int64_t l = 0; l < lanes; l++) lane(l);
  }
  for (const auto& lc : lane_counts) sum_copies(lc, copies, counts);
}

}  // namespace

double Histogram::prepare_range(float absmax, int default_bins) {
  // A fresh histogram over [0, absmax] with default_bins bins.
  auto start_fresh = [&] {
    counts.assign(default_bins, 0);
    th = absmax;
    th_is_f32 = true;
    width = static_cast<double>(absmax) / (default_bins - 1);
    return width;
  };
  // An all-zero start (th == 0) would make TPU-MLIR divide by a zero step; start afresh.
  if (counts.empty() || th == 0) return start_fresh();
  // TPU-MLIR re-derives the width from the (unchanged) range: same value.
  if (static_cast<double>(absmax) <= th) return th / (static_cast<double>(counts.size()) - 1);
  const double old_n = static_cast<double>(counts.size());
  const double old_step = th / old_n;
  double diff = th_is_f32 ? static_cast<double>(absmax - static_cast<float>(th)) : static_cast<double>(absmax) - th;
  int64_t grow = static_cast<int64_t>(std::floor(diff / old_step) + 1);
  int64_t new_n = grow + static_cast<int64_t>(counts.size());
  if (new_n > 8000000) {
    restarted = true;
    return start_fresh();
  }
  th = static_cast<double>(grow) * old_step + th;
  th_is_f32 = false;
  width = th / static_cast<double>(new_n - 1);
  counts.resize(new_n, 0);  // old counts keep indices [0, old_n)
  return width;
}

void Histogram::add(std::span<const float> x, float absmax, int default_bins, ThreadPool* pool) {
  const double w = prepare_range(absmax, default_bins);
  bin_into(x, w, counts, pool);
}

void Histogram::merge(const Histogram& other, float absmax, int default_bins) {
  if (other.counts.size() < 2 || !(other.th > 0)) return;  // no nonzero values to add
  const double w = prepare_range(absmax, default_bins);
  if (!(w > 0)) return;
  const int64_t n = static_cast<int64_t>(counts.size());
  const int64_t other_n = static_cast<int64_t>(other.counts.size());
  const double ow = other.th / (static_cast<double>(other_n) - 1);
  // Source bin j holds values in [(j-0.5)ow, (j+0.5)ow) (bin 0 from 0, the last up to
  // its th); its count is spread over the target bins [(i-0.5)w, (i+0.5)w) in proportion
  // to the overlap, rounded cumulatively so that counts are conserved exactly.
  for (int64_t j = 0; j < other_n; j++) {
    const int64_t c = other.counts[j];
    if (c == 0) continue;
    const double lo = j == 0 ? 0.0 : (static_cast<double>(j) - 0.5) * ow;
    const double hi = j == other_n - 1 ? other.th : (static_cast<double>(j) + 0.5) * ow;
    const int64_t i0 = std::min<int64_t>(static_cast<int64_t>(std::floor(lo / w + 0.5)), n - 1);
    const int64_t i1 = std::min<int64_t>(static_cast<int64_t>(std::floor(hi / w + 0.5)), n - 1);
    if (i0 == i1 || !(hi > lo)) {
      counts[i0] += c;
      continue;
    }
    int64_t given = 0;
    for (int64_t i = i0; i <= i1; i++) {
      const double end = i == i1 ? hi : std::min(hi, (static_cast<double>(i) + 0.5) * w);
      const int64_t upto = i == i1 ? c : std::llround(static_cast<double>(c) * ((end - lo) / (hi - lo)));
      counts[i] += upto - given;
      given = upto;
    }
  }
}

float TensorStats::absmax() const {
  return std::max(std::fabs(min_), std::fabs(max_));
}

namespace {
// Sum and count of the |x| above `cut` in [0, n), and the minimum of x (NaN never
// replaces). The sums run in 8 double lanes (value i into lane i % 8, two 4-double
// vectors), added in lane order at the end: the same order on every target, for any
// thread count (callers use fixed chunks). The per-value double sum it replaces was one
// dependent add per value (OCTAV: 21 passes per sample; PP-OCRv4-det 2 s per sample).
struct AboveCut {
  double sum = 0;
  int64_t count = 0;
  float min = INFINITY;
};
typedef float F4 __attribute__((vector_size(16)));
typedef int32_t I4 __attribute__((vector_size(16)));
typedef double D4 __attribute__((vector_size(32)));
typedef int64_t L4 __attribute__((vector_size(32)));
inline D4 widen_where(F4 a, I4 mask) {
  return (D4)((L4) __builtin_convertvector(a, D4) & __builtin_convertvector(mask, L4));
}
AboveCut above_cut(const float* x, int64_t n, float cut) {
  D4 sum0{}, sum1{};
  I4 count0{}, count1{};
  F4 mn0 = F4{} + INFINITY, mn1 = mn0;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const F4 v0 = exec::load_unaligned<F4>(x + i), v1 = exec::load_unaligned<F4>(x + i + 4);
    const F4 a0 = (F4)((I4)v0 & 0x7fffffff), a1 = (F4)((I4)v1 & 0x7fffffff);
    const I4 m0 = a0 > cut, m1 = a1 > cut;  // true is -1
    sum0 += widen_where(a0, m0);
    sum1 += widen_where(a1, m1);
    count0 -= m0;
    count1 -= m1;
    mn0 = v0 < mn0 ? v0 : mn0;
    mn1 = v1 < mn1 ? v1 : mn1;
  }
  double lanes[8];
  AboveCut r;
  for (int k = 0; k < 4; k++) {
    lanes[k] = sum0[k];
    lanes[k + 4] = sum1[k];
    r.count += count0[k] + count1[k];
    r.min = mn0[k] < r.min ? mn0[k] : r.min;
    r.min = mn1[k] < r.min ? mn1[k] : r.min;
  }
  for (; i < n; i++) {
    const float a = std::fabs(x[i]);
    if (a > cut) lanes[i % 8] += static_cast<double>(a), r.count++;
    r.min = x[i] < r.min ? x[i] : r.min;
  }
  for (double l : lanes) r.sum += l;
  return r;
}
}  // namespace

double octav_scale(std::span<const float> x, int bits, ThreadPool* pool) {
  const int64_t n = static_cast<int64_t>(x.size());
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<AboveCut> parts(chunks);
  auto sums_above = [&](float cut) {
    for_chunks(pool, n, [&](int64_t c, int64_t b, int64_t e) { parts[c] = above_cut(x.data() + b, e - b, cut); });
    AboveCut total;
    for (const AboveCut& p : parts) total.sum += p.sum, total.count += p.count, total.min = std::min(total.min, p.min);
    return total;
  };
  const AboveCut nonzero = sums_above(0.f);  // sum of |x| (zeros add nothing), count of |x| > 0, min
  if (nonzero.count == 0) return 0;
  const double u = std::fabs(static_cast<double>(nonzero.min) - 0) < 1e-6 ? 4 : 1;
  const double coef = 1.0 / std::pow(4.0, bits) / 3.0 / u;
  double s = nonzero.sum / static_cast<double>(nonzero.count);
  for (int it = 0; it < 20; it++) {
    // numpy compares the float32 |x| with float32(s) (scalar demoted to the array type)
    const AboveCut above = sums_above(static_cast<float>(s));
    const int64_t below = n - above.count;
    double next = above.sum / (coef * static_cast<double>(below) + static_cast<double>(above.count));
    if (std::fabs(next - s) < 1e-6) break;
    s = next;
  }
  return s;
}

double aciq_gauss_clip(std::span<const float> x) {
  float mn = INFINITY, mx = -INFINITY;
  int64_t n = 0;
  for (float v : x) {
    if (!std::isfinite(v)) continue;
    mn = std::min(mn, v);
    mx = std::max(mx, v);
    n++;
  }
  if (n < 2) return 0;
  const double alpha = 3.92403337;
  const double gaussian_const = (0.5 * 0.35) * (1 + std::sqrt(M_PI * std::log(4.0)));
  double std_est = (static_cast<double>(mx - mn) * gaussian_const) / std::sqrt(2 * std::log(static_cast<double>(n)));
  return alpha * std_est;
}

double aciq_laplace_clip(std::span<const float> x) {
  double sum = 0;
  int64_t n = 0;
  for (float v : x) {
    if (!std::isfinite(v)) continue;
    sum += v;
    n++;
  }
  if (n == 0) return 0;
  const double mean = sum / static_cast<double>(n);
  double dev = 0;
  for (float v : x) {
    if (std::isfinite(v)) dev += std::fabs(v - mean);
  }
  return 9.89675982 * dev / static_cast<double>(n);
}

namespace {
// Sorts finite floats ascending, -0 before +0 (std::sort leaves equal zeros in any order;
// every use here takes zeros' magnitudes). From 256 values an LSD radix sort on the
// order-preserving 32-bit keys, a byte a pass, skipping bytes all keys share (the sign
// and exponent of extremes mostly): a layer's first percentile9999 samples sort
// thousands of extremes each (PP-OCRv4-det: std::sort was 12 % of the CPU of a run's
// first 10 samples).
void sort_values(std::vector<float>& v) {
  const size_t n = v.size();
  if (n < 256) {
    std::sort(v.begin(), v.end());
    return;
  }
  std::vector<uint32_t> keys(n), other(n);
  for (size_t i = 0; i < n; i++) {
    uint32_t b;
    std::memcpy(&b, &v[i], sizeof b);
    keys[i] = b & 0x80000000u ? ~b : b | 0x80000000u;  // negatives reversed, below positives
  }
  for (int shift = 0; shift < 32; shift += 8) {
    std::array<uint32_t, 256> start{};
    for (uint32_t k : keys) start[(k >> shift) & 255]++;
    if (start[(keys[0] >> shift) & 255] == n) continue;  // one bucket: the order stands
    uint32_t sum = 0;
    for (uint32_t& c : start) sum += std::exchange(c, sum);
    for (uint32_t k : keys) other[start[(k >> shift) & 255]++] = k;
    keys.swap(other);
  }
  for (size_t i = 0; i < n; i++) {
    const uint32_t k = keys[i];
    const uint32_t b = k & 0x80000000u ? k & 0x7fffffffu : ~k;
    std::memcpy(&v[i], &b, sizeof b);
  }
}

// Keeps the `keep` largest (or smallest) of `kept` + `incoming`, both sorted ascending
// (merging shards' extremes).
void keep_extremes(std::vector<float>& kept, const std::vector<float>& incoming, int64_t keep, bool largest) {
  std::vector<float> merged(kept.size() + incoming.size());
  std::merge(kept.begin(), kept.end(), incoming.begin(), incoming.end(), merged.begin());
  kept.swap(merged);
  if (static_cast<int64_t>(kept.size()) > keep) {
    if (largest) {
      kept.erase(kept.begin(), kept.end() - keep);
    } else {
      kept.resize(keep);
    }
  }
}

// Candidate lists: compacted when they reach L + max(L/2, 64) values, raising the cut.
// (L + L/2 against L + L or L + 2 L: the same statistics time within 2-4 %, yolov5n-face
// and PP-OCRv4-det; the lists hold less.)
int64_t compact_limit(int64_t L) {
  return L + std::max<int64_t>(L / 2, 64);
}
// Keeps the L largest (kLargest) or smallest of the candidates v, unsorted; returns the cut:
// the L-th largest (smallest), the last value kept.
template <bool kLargest>
float keep_candidates(std::vector<float>& v, int64_t L) {
  if constexpr (kLargest) {
    std::nth_element(v.begin(), v.end() - L, v.end());
    v.erase(v.begin(), v.end() - L);
    return v.front();
  } else {
    std::nth_element(v.begin(), v.begin() + (L - 1), v.end());
    v.resize(static_cast<size_t>(L));
    return v.back();
  }
}

// The values of x above hi_cut (into hi) and below lo_cut (into lo), in x's order. A pass
// over chunks of 16K values finds the 1024-value blocks whose min or max lies beyond a cut
// (BeyondMarks: two vector min/max per register, which TensorStats::add's min/max scan
// computes anyway when the cuts are known before the sample, every sample after the
// first) and, on one thread, takes their values while the block is in L1 (a second pass
// over the marked blocks of PP-OCRv4-det's large tensors read them back from L3: 4 % of
// a percentile9999 run). With several threads the blocks are marked, then their values
// counted and copied to their offsets (no allocation on the workers: per-thread malloc
// arenas grew the peak memory with the number of samples). Blocks of 1024, not 256: the
// per-block merge and test were 5-8 % of fastestdet's percentile9999 statistics (exec
// bench `stats`), and a marked block is scanned a register at a time anyway.
constexpr int64_t kBeyondBlock = 1024;
constexpr int64_t kExtremesChunk = 1 << 14;

// A candidate list's room: its limit and a block (compacted between blocks, it never grows
// past that; growing by doubling had taken PP-OCRv4-det's lists to 4 L, +17 MB at 100 samples).
void reserve_candidates(std::vector<float>& v, int64_t L) {
  const auto room = static_cast<size_t>(compact_limit(L) + kBeyondBlock);
  if (v.capacity() < room) v.reserve(room);
}
}  // namespace

struct BeyondMarks {
  float hi_cut = 0, lo_cut = 0;
  bool serial = true;            // chunks run in order on one thread: mark_chunk takes the values
  std::vector<uint8_t> crosses;  // (several threads) per block: 1 if it holds a value beyond a cut
  std::vector<float> hi, lo;     // (one thread) the values beyond the cuts, in x's order

  BeyondMarks(int64_t n, float hi_cut_in, float lo_cut_in, const ThreadPool* pool)
      : hi_cut(hi_cut_in), lo_cut(lo_cut_in), serial(!pool || pool->size() == 1 || n <= kExtremesChunk) {
    if (!serial) crosses.assign((n + kBeyondBlock - 1) / kBeyondBlock, 0);
  }
  ThreadPool* chunk_pool(ThreadPool* pool) const { return serial ? nullptr : pool; }  // for for_chunks
  int64_t chunks(int64_t n) const { return (n + kExtremesChunk - 1) / kExtremesChunk; }

  // take(v) for each value of block p[0, m) beyond a cut, in order (such values are rare
  // and scattered: the lanes set in a register's comparison, a bit at a time).
  template <class Take>
  void in_block(const float* p, int m, Take&& take) const {
    const int full = m - m % kSlots;
    for (int i = 0; i < full; i += kSlots) {
      const VecF v = exec::load_unaligned<VecF>(p + i);
      for (unsigned bits = exec::lane_bits((v > hi_cut) | (v < lo_cut)); bits != 0; bits &= bits - 1)
        take(p[i + std::countr_zero(bits)]);
    }
    for (int j = full; j < m; j++) take(p[j]);
  }
  void append(float v) {
    if (v > hi_cut) hi.push_back(v);
    if (v < lo_cut) lo.push_back(v);
  }

  // Chunk [b, e) of x (b a multiple of kBeyondBlock); with kScan also adds its values to
  // *acc (min/max/non-finite).
  template <bool kScan>
  void mark_chunk(const float* x, int64_t b, int64_t e, MinMax* acc) {
    // Locals, so that they stay in registers: the takes' stores could alias the members.
    const float hi = hi_cut, lo = lo_cut;
    MinMax total;
    for (int64_t start = b; start < e; start += kBeyondBlock) {
      const int m = static_cast<int>(std::min<int64_t>(kBeyondBlock, e - start));
      const float* p = x + start;
      MinMax block;
      const int full = m - m % kSlots;
      for (int i = 0; i < full; i += kSlots) {
        const VecF v = exec::load_unaligned<VecF>(p + i);
        if constexpr (kScan) {
          block.add(v, abs_of(v));
        } else {
          block.mn = v < block.mn ? v : block.mn;
          block.mx = v > block.mx ? v : block.mx;
        }
      }
      for (int i = full; i < m; i++) block.add_one(i % kSlots, p[i]);
      if constexpr (kScan) total.add_block(block);
      if (!exec::any_true((block.mx > hi) | (block.mn < lo))) continue;
      if (serial) {
        in_block(p, m, [this](float v) { append(v); });
      } else {
        crosses[start / kBeyondBlock] = 1;
      }
    }
    if constexpr (kScan) acc->add_block(total);
  }

  // (several threads) take(v) for the values of chunk c of x beyond a cut, in x's order.
  template <class Take>
  void beyond_in_chunk(const float* x, int64_t n, int64_t c, Take&& take) const {
    const int64_t e = std::min(n, (c + 1) * kExtremesChunk);
    for (int64_t start = c * kExtremesChunk; start < e; start += kBeyondBlock) {
      if (crosses[start / kBeyondBlock])
        in_block(x + start, static_cast<int>(std::min<int64_t>(kBeyondBlock, e - start)), take);
    }
  }
};

namespace {

// The values marked: taken already (one thread), or counted and copied to their offsets.
void copy_beyond(std::span<const float> x, BeyondMarks& marks, ThreadPool* pool, std::vector<float>& hi,
                 std::vector<float>& lo) {
  if (marks.serial) {
    hi = std::move(marks.hi);
    lo = std::move(marks.lo);
    return;
  }
  const float hi_cut = marks.hi_cut, lo_cut = marks.lo_cut;
  const int64_t n = static_cast<int64_t>(x.size()), chunks = marks.chunks(n);
  std::vector<int64_t> hi_at(chunks + 1, 0), lo_at(chunks + 1, 0);  // per chunk: counts at [c + 1], then offsets
  pool->parallel_for(chunks, [&](int64_t c) {
    marks.beyond_in_chunk(x.data(), n, c, [&](float v) {
      hi_at[c + 1] += v > hi_cut;
      lo_at[c + 1] += v < lo_cut;
    });
  });
  for (int64_t c = 0; c < chunks; c++) hi_at[c + 1] += hi_at[c], lo_at[c + 1] += lo_at[c];
  hi.resize(hi_at[chunks]);
  lo.resize(lo_at[chunks]);
  if (hi.empty() && lo.empty()) return;  // nothing beyond the cuts
  pool->parallel_for(chunks, [&](int64_t c) {
    int64_t nh = hi_at[c], nl = lo_at[c];
    marks.beyond_in_chunk(x.data(), n, c, [&](float v) {
      if (v > hi_cut) hi[nh++] = v;
      if (v < lo_cut) lo[nl++] = v;
    });
  });
}

// The values of x beyond hi_cut (lo_cut) into hi (lo), block by block, in one thread; a
// list that reaches compact_limit(L) is cut to its L extremes between blocks, raising its
// cut.
void take_beyond(std::span<const float> x, int64_t L, std::vector<float>& hi, float& hi_cut, std::vector<float>& lo,
                 float& lo_cut) {
  const int64_t n = static_cast<int64_t>(x.size());
  const size_t limit = static_cast<size_t>(compact_limit(L));
  BeyondMarks marks(n, hi_cut, lo_cut, nullptr);  // one thread: takes as it marks
  marks.hi.swap(hi);
  marks.lo.swap(lo);
  constexpr float kInf = std::numeric_limits<float>::infinity();
  if (hi_cut < kInf) reserve_candidates(marks.hi, L);  // (an infinite cut takes nothing)
  if (lo_cut > -kInf) reserve_candidates(marks.lo, L);
  for (int64_t b = 0; b < n; b += kBeyondBlock) {
    marks.mark_chunk<false>(x.data(), b, std::min(n, b + kBeyondBlock), nullptr);
    if (marks.hi.size() >= limit) marks.hi_cut = keep_candidates<true>(marks.hi, L);
    if (marks.lo.size() >= limit) marks.lo_cut = keep_candidates<false>(marks.lo, L);
  }
  marks.hi.swap(hi);
  marks.lo.swap(lo);
  hi_cut = marks.hi_cut;
  lo_cut = marks.lo_cut;
}

// Seed cuts for a first sample: the (2 L m/n + 16)-th largest and smallest of a subsample
// of m = 1024 values (one at a fixed pseudo-random position per window: a fixed stride
// aliases with feature-map rows, e.g. reads only PP-OCRv4-det's border columns), about
// 2 L + 16 n/m values deep in x (4096 values took fastestdet's seeds 8 ms, against 1.4).
// False when x is too small to subsample.
bool seed_cuts(std::span<const float> x, int64_t L, float& hi, float& lo) {
  const int64_t n = static_cast<int64_t>(x.size());
  const int64_t m = std::min<int64_t>(1024, n / 4);
  if (m < 256) return false;
  const int64_t stride = n / m, rank = 2 * L * m / n + 16;
  if (rank >= m / 2) return false;
  std::vector<float> sub(static_cast<size_t>(m));
  for (int64_t i = 0; i < m; i++) {
    const uint64_t h = (static_cast<uint64_t>(i) + 1) * 0x9E3779B97F4A7C15ull;
    const auto offset = static_cast<int64_t>(((h >> 32) * static_cast<uint64_t>(stride)) >> 32);
    sub[static_cast<size_t>(i)] = x[static_cast<size_t>(i * stride + offset)];
  }
  std::nth_element(sub.begin(), sub.end() - 1 - rank, sub.end());
  hi = sub[static_cast<size_t>(m - 1 - rank)];
  std::nth_element(sub.begin(), sub.begin() + rank, sub.end());
  lo = sub[static_cast<size_t>(rank)];
  return true;
}

}  // namespace

void TensorStats::add_extremes(std::span<const float> x, ThreadPool* pool, BeyondMarks* marked) {
  // TPU-MLIR concatenates each sample's L smallest and L largest values (both whole
  // arrays when the sample is smaller than 2 L) and later sorts everything; only the L
  // extremes of that multiset matter, so candidates for them are kept incrementally.
  const int64_t L = config_.percentile_keep;
  const int64_t n = static_cast<int64_t>(x.size());
  if (n >= 2 * L) {
    // The sample's L smallest and L largest are disjoint, so the multiset's L largest are
    // the L largest values seen at all, and any value of the sample beyond a cut may be a
    // candidate (a value past the sample's own L largest has L values of the multiset at
    // or above it).
    if (marked) {  // add()'s scan marked the blocks beyond the cuts
      std::vector<float> hi, lo;
      copy_beyond(x, *marked, pool, hi, lo);
      push_extremes(hi, lo);
    } else {
      scan_extremes(x);
    }
    return;
  }
  const int64_t k = std::min(L, n);
  std::vector<float> v(x.begin(), x.end());
  std::vector<float> both(2 * k);
  std::nth_element(v.begin(), v.begin() + (k - 1), v.end());
  std::copy_n(v.begin(), k, both.begin());
  std::nth_element(v.begin(), v.end() - k, v.end());
  std::copy(v.end() - k, v.end(), both.begin() + k);
  push_extremes(both, both);
}

void TensorStats::push_extremes(std::span<const float> hi, std::span<const float> lo) {
  const int64_t L = config_.percentile_keep;
  const auto limit = static_cast<size_t>(compact_limit(L));
  reserve_candidates(top_, L);
  reserve_candidates(bottom_, L);
  for (float v : hi) {
    if (!(v > top_cut_)) continue;
    top_.push_back(v);
    if (top_.size() >= limit) top_cut_ = keep_candidates<true>(top_, L);
  }
  for (float v : lo) {
    if (!(v < bottom_cut_)) continue;
    bottom_.push_back(v);
    if (bottom_.size() >= limit) bottom_cut_ = keep_candidates<false>(bottom_, L);
  }
  compact_extremes();
}

// A sample without marks (the first, mostly): its values beyond the cuts, taken block by
// block. A first sample starts from seed cuts, a few L values deep; a side with fewer than L
// values beyond its seed is scanned again from no cut (the values its seed skipped may be
// among the extremes; ties, a constant or ReLU-like side). From no cut at all, feature
// maps' channels of growing scale let 5.2 M values (11 L) of yolov5n-face's first sample
// in, in 2767 compactions: 150 ms, against 44-54 ms seeded (exec bench, 100 samples' L).
// Before the candidate lists, cuts estimated on a 16K-value subsample, values collected past
// them, sorted and merged cost fastestdet's first sample 26-43 ms (9 ms now), 40 of its
// later samples.
void TensorStats::scan_extremes(std::span<const float> x) {
  const int64_t L = config_.percentile_keep;
  float hi_seed = -kInf, lo_seed = kInf;
  const bool seeded = top_.empty() && bottom_.empty() && seed_cuts(x, L, hi_seed, lo_seed);
  if (seeded) top_cut_ = hi_seed, bottom_cut_ = lo_seed;
  take_beyond(x, L, top_, top_cut_, bottom_, bottom_cut_);
  if (seeded) {
    std::vector<float> none;
    float no_hi = kInf, no_lo = -kInf;  // the other side takes nothing
    if (static_cast<int64_t>(top_.size()) < L) {
      top_.clear();
      top_cut_ = -kInf;
      take_beyond(x, L, top_, top_cut_, none, no_lo);
    }
    if (static_cast<int64_t>(bottom_.size()) < L) {
      bottom_.clear();
      bottom_cut_ = kInf;
      take_beyond(x, L, none, no_hi, bottom_, bottom_cut_);
    }
  }
  compact_extremes();
}

// Compacts a list that reached its limit, or that holds L candidates and has no cut yet
// (the next sample's scan then marks against it).
void TensorStats::compact_extremes() {
  const int64_t L = config_.percentile_keep;
  const auto top = static_cast<int64_t>(top_.size()), bottom = static_cast<int64_t>(bottom_.size());
  if (top >= compact_limit(L) || (top_cut_ == -kInf && top >= L)) top_cut_ = keep_candidates<true>(top_, L);
  if (bottom >= compact_limit(L) || (bottom_cut_ == kInf && bottom >= L))
    bottom_cut_ = keep_candidates<false>(bottom_, L);
  extremes_settled_ = false;
}

void TensorStats::settle_extremes() const {
  if (extremes_settled_) return;
  const int64_t L = config_.percentile_keep;
  if (static_cast<int64_t>(top_.size()) > L) keep_candidates<true>(top_, L);
  if (static_cast<int64_t>(bottom_.size()) > L) keep_candidates<false>(bottom_, L);
  sort_values(top_);
  sort_values(bottom_);
  extremes_settled_ = true;
}

void TensorStats::add(std::span<const float> x, ThreadPool* pool) {
  // One pass for min, max and the non-finite count; a finite copy only when needed.
  // When the histogram already has a range, the same pass bins the sample with the
  // current width (TPU-MLIR's no-extension case, most samples after the first); the
  // counts are kept only if the sample indeed stays within the range.
  std::vector<float> finite;
  float mn = INFINITY, mx = -INFINITY;
  int64_t bad = 0;
  const int64_t n = static_cast<int64_t>(x.size());
  const bool speculate =
      config_.histogram && !hist_.counts.empty() && hist_.th > 0 && hist_.counts.size() <= (size_t{1} << 18);
  std::vector<std::vector<LaneCount>> lane_counts;
  int64_t copies = 1;
  // The extremes' cuts known before the sample: the min/max scan marks the blocks beyond them.
  const int64_t L = config_.percentile_keep;
  const bool mark_extremes = !speculate && L > 0 && n >= 2 * L && has_extreme_cuts();
  std::optional<BeyondMarks> marks;
  {
    std::vector<Scan> parts;
    if (speculate) {
      const int64_t nb = static_cast<int64_t>(hist_.counts.size());
      const float wf = static_cast<float>(hist_.th / (static_cast<double>(nb) - 1));
      const int64_t lanes = lanes_for(n, nb, pool);
      parts.resize(lanes);
      const int64_t per = (n + lanes - 1) / lanes;
      copies = count_copies(nb, per);
      lane_counts.assign(lanes, std::vector<LaneCount>(copies * copy_stride(nb), 0));
      auto lane = [&](int64_t l) {
        const int64_t b = l * per, e = std::min(n, b + per);
        if (b >= e) return;
        MinMax acc;
        bin_range<true>(x.data() + b, e - b, wf, nb, copies, lane_counts[l].data(), &acc);
        parts[l] = finish_scan(acc, x.data() + b, e - b);
      };
      if (pool && lanes > 1) {
        pool->parallel_for(lanes, lane);
      } else {
        for (int64_t l = 0; l < lanes; l++) lane(l);
      }
    } else if (mark_extremes) {  // the scan also runs the extremes' first pass
      marks.emplace(n, top_cut_, bottom_cut_, pool);
      parts.resize(marks->chunks(n));
      for_chunks(
          marks->chunk_pool(pool), n,
          [&](int64_t c, int64_t b, int64_t e) {
            MinMax acc;
            marks->mark_chunk<true>(x.data(), b, e, &acc);
            parts[c] = finish_scan(acc, x.data() + b, e - b);
          },
          kExtremesChunk);
    } else {
      parts.resize((n + kChunk - 1) / kChunk);
      for_chunks(pool, n, [&](int64_t c, int64_t b, int64_t e) { parts[c] = scan_range(x.data() + b, e - b); });
    }
    for (const Scan& p : parts) {
      bad += p.bad;
      mn = std::min(mn, p.mn);
      mx = std::max(mx, p.mx);
    }
  }
  if (speculate && !bad && n > 0) {
    const float new_min = samples_ == 0 ? mn : std::min(min_, mn), new_max = samples_ == 0 ? mx : std::max(max_, mx);
    const float new_abs = std::max(std::fabs(new_min), std::fabs(new_max));
    if (static_cast<double>(new_abs) <= hist_.th) {
      for (const auto& lc : lane_counts) sum_copies(lc, copies, hist_.counts);
      elements_ = n;
      min_elements_ = samples_ == 0 ? n : std::min(min_elements_, n);
      min_ = new_min;
      max_ = new_max;
      samples_++;
      add_others(x, pool);
      return;
    }
  }
  if (bad) {
    marks.reset();  // marked on x, not on its finite values
    nonfinite_ += bad;
    finite.reserve(x.size() - bad);
    mn = INFINITY;
    mx = -INFINITY;
    for (float v : x) {
      if (!std::isfinite(v)) continue;
      finite.push_back(v);
      mn = v < mn ? v : mn;
      mx = v > mx ? v : mx;
    }
    x = finite;
  }
  elements_ = static_cast<int64_t>(x.size());
  min_elements_ = samples_ == 0 ? elements_ : std::min(min_elements_, elements_);
  if (x.empty()) {
    samples_++;
    return;
  }
  if (samples_ == 0) {
    min_ = mn;
    max_ = mx;
  } else {
    min_ = std::min(min_, mn);
    max_ = std::max(max_, mx);
  }
  samples_++;
  if (config_.histogram) hist_.add(x, absmax(), config_.bins, pool);
  add_others(x, pool, marks ? &*marks : nullptr);
}

bool TensorStats::add_permutation_of(const TensorStats& source, std::span<const float> x) {
  const StatsConfig &a = config_, &b = source.config_;
  const int64_t n = static_cast<int64_t>(x.size());
  // percentile9999: a later layer keeps fewer extremes (a higher percentile); when every
  // sample held 2 L of the source's (disjoint largest and smallest), this layer's L
  // extremes are the last L of the source's.
  const bool keep_ok =
      a.percentile_keep == b.percentile_keep ||
      (a.percentile_keep > 0 && b.percentile_keep > a.percentile_keep && source.min_elements_ >= 2 * b.percentile_keep);
  const bool same_config = a.bins == b.bins && a.histogram == b.histogram && a.octav == b.octav &&
                           a.aciq_gauss == b.aciq_gauss && a.aciq_laplace == b.aciq_laplace && keep_ok;
  if (!same_config || a.octav || a.aciq_gauss || a.aciq_laplace) return false;
  if (source.samples_ != samples_ + 1) return false;
  if (source.elements_ + (source.nonfinite_ - nonfinite_) != n) return false;  // this sample's size
  if (static_cast<int64_t>(source.hist_.counts.size()) > n) return false;      // copying would cost more
  // A zero min or max keeps the sign add() gives it: the earlier one if it was zero
  // already, else this sample's first zero (the sequential scan's tie rule).
  float zero = 0.f;
  if (source.min_ == 0.f || source.max_ == 0.f) {
    const auto it = std::find(x.begin(), x.end(), 0.f);
    if (it == x.end()) return false;
    zero = *it;
  }
  const float old_min = min_, old_max = max_;
  const bool first = samples_ == 0;
  const StatsConfig mine = config_;
  *this = source;
  config_ = mine;
  if (min_ == 0.f) min_ = !first && old_min == 0.f ? old_min : zero;
  if (max_ == 0.f) max_ = !first && old_max == 0.f ? old_max : zero;
  if (config_.percentile_keep > 0) compact_extremes();  // the source's cuts hold for a smaller L
  return true;
}

void TensorStats::merge(const TensorStats& later) {
  require(later.config_.bins == config_.bins && later.config_.histogram == config_.histogram &&
              later.config_.octav == config_.octav && later.config_.aciq_gauss == config_.aciq_gauss &&
              later.config_.aciq_laplace == config_.aciq_laplace &&
              (later.config_.percentile_keep > 0) == (config_.percentile_keep > 0),
          "statistics merge: the shards were collected with different settings");
  if (later.samples_ == 0) return;
  const bool first = samples_ == 0;
  min_ = first ? later.min_ : std::min(min_, later.min_);
  max_ = first ? later.max_ : std::max(max_, later.max_);
  samples_ += later.samples_;
  elements_ = later.elements_;
  min_elements_ = first ? later.min_elements_ : std::min(min_elements_, later.min_elements_);
  nonfinite_ += later.nonfinite_;
  if (config_.histogram) {
    if (first) {
      hist_ = later.hist_;  // exactly the state a single run has after these samples
    } else {
      hist_.merge(later.hist_, absmax(), config_.bins);
    }
  }
  octav_sum_ += later.octav_sum_;
  aciq_gauss_sum_ += later.aciq_gauss_sum_;
  aciq_laplace_sum_ += later.aciq_laplace_sum_;
  if (config_.percentile_keep > 0) {
    const int64_t L = config_.percentile_keep;
    settle_extremes();  // both sides sorted (later's by top(), to its own L)
    keep_extremes(top_, later.top(), L, true);
    keep_extremes(bottom_, later.bottom(), L, false);
    // Every value either side dropped lies within the L extremes of the union.
    top_cut_ = static_cast<int64_t>(top_.size()) == L ? top_.front() : -kInf;
    bottom_cut_ = static_cast<int64_t>(bottom_.size()) == L ? bottom_.back() : kInf;
    extremes_settled_ = true;
  }
}

void TensorStats::add_others(std::span<const float> x, ThreadPool* pool, BeyondMarks* marked) {
  if (config_.octav) octav_sum_ += octav_scale(x, 8, pool);
  if (config_.aciq_gauss) aciq_gauss_sum_ += aciq_gauss_clip(x);
  if (config_.aciq_laplace) aciq_laplace_sum_ += aciq_laplace_clip(x);
  if (config_.percentile_keep > 0) add_extremes(x, pool, marked);
}

}  // namespace mixq::calib
