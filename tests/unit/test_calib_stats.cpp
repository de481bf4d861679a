// Statistics and threshold methods, each checked against a plain implementation of the
// spec's formula written here, on synthetic data with known properties.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "mixq/calib/cali_table.h"
#include "mixq/calib/histogram.h"
#include "mixq/calib/thresholds.h"
#include "mixq/exec/thread_pool.h"

using namespace mixq::calib;

namespace {
std::vector<float> gaussian(int n, float sigma, uint32_t seed, float outlier = 0) {
  std::mt19937 g(seed);
  std::vector<float> v(n);
  // Box-Muller from raw 32-bit draws: identical natively and in wasm
  for (int i = 0; i < n; i += 2) {
    double u1 = (g() + 1.0) / 4294967297.0, u2 = g() / 4294967296.0;
    double r = std::sqrt(-2 * std::log(u1));
    v[i] = static_cast<float>(sigma * r * std::cos(2 * M_PI * u2));
    if (i + 1 < n) v[i + 1] = static_cast<float>(sigma * r * std::sin(2 * M_PI * u2));
  }
  if (outlier != 0) v[n / 2] = outlier;
  return v;
}

// Plain |x| histogram of one sample with a given range (spec section 4).
std::vector<int64_t> plain_histogram(const std::vector<float>& x, double th, int bins) {
  std::vector<int64_t> h(bins, 0);
  float w = static_cast<float>(th / (bins - 1));
  for (float v : x) {
    if (v == 0) continue;
    long b = static_cast<long>(std::floor(std::fabs(v) / w + 0.5f));
    if (b < bins) h[b]++;
  }
  return h;
}

float first_absmax(const std::vector<float>& x) {
  float m = 0;
  for (float v : x) m = std::max(m, std::fabs(v));
  return m;
}

// Plain double-precision KL search (same candidates and distributions).
double plain_kl(const std::vector<int64_t>& hist, double width, int target = 128) {
  const size_t N = hist.size();
  double total = 0;
  for (auto c : hist) total += c;
  double best = 1e300;
  size_t best_i = target;
  for (size_t i = target; i <= N; i += target) {
    std::vector<double> P(hist.begin(), hist.begin() + i), Q(i, 0);
    for (size_t j = i; j < N; j++) P[i - 1] += hist[j];
    double sum = 0;
    for (size_t j = 0; j < i; j++) sum += hist[j];
    size_t chunk = i / target;
    for (size_t c = 0; c < static_cast<size_t>(target); c++) {
      double s = 0, nz = 0;
      for (size_t k = c * chunk; k < (c + 1) * chunk; k++) s += hist[k], nz += hist[k] > 0;
      for (size_t k = c * chunk; k < (c + 1) * chunk; k++) Q[k] = hist[k] ? s / std::max(nz, 1.0) / sum : 0;
    }
    double kl = 0;
    for (size_t j = 0; j < i; j++) {
      double p = P[j] / total;
      kl += p * (std::log10(p + 1e-30) - std::log10(Q[j] + 1e-30));
    }
    if (kl < best) best = kl, best_i = i;
  }
  return width * best_i;
}
}  // namespace

TEST_CASE("histogram: first sample binning and TPU-MLIR's extension rule") {
  auto a = gaussian(20000, 1.f, 1);
  TensorStats s(StatsConfig{});
  s.add(a);
  float absmax = s.absmax();
  CHECK(s.histogram().counts == plain_histogram(a, absmax, 2048));
  CHECK(s.histogram().width == Approx(absmax / 2047.0));
  // second sample 3x larger: bins appended at step th/2048, old counts keep their index
  auto b = gaussian(20000, 3.f, 2);
  s.add(b);
  double old_th = absmax;
  double step = old_th / 2048;
  float new_abs = std::max(absmax, s.absmax());
  int64_t grow = static_cast<int64_t>(std::floor((new_abs - absmax) / step) + 1);
  REQUIRE(static_cast<int64_t>(s.histogram().counts.size()) == 2048 + grow);
  double th = grow * step + old_th;
  CHECK(s.histogram().th == Approx(th).epsilon(1e-12));
  auto hb = plain_histogram(b, th, 2048 + grow);
  auto ha = plain_histogram(a, absmax, 2048);
  for (size_t i = 0; i < hb.size(); i++) {
    int64_t expected = hb[i] + (i < ha.size() ? ha[i] : 0);
    if (s.histogram().counts[i] != expected) FAIL("bin " << i);
  }
  // a smaller later sample uses the existing range
  auto c = gaussian(1000, 0.1f, 3);
  auto before = s.histogram().counts;
  s.add(c);
  auto hc = plain_histogram(c, s.histogram().th, static_cast<int>(before.size()));
  for (size_t i = 0; i < hc.size(); i++) REQUIRE(s.histogram().counts[i] == before[i] + hc[i]);
  CHECK(s.samples() == 3);
  CHECK(s.min() == std::min({*std::min_element(a.begin(), a.end()), *std::min_element(b.begin(), b.end()),
                             *std::min_element(c.begin(), c.end())}));
}

TEST_CASE("histogram and extremes: vector paths equal a plain scan for any size, thread count, zeros, NaN") {
  // Sizes around the 16-value vectors, 1024-value blocks, 64K chunks and multi-lane
  // samples; values with runs (repeated bins), +-0, non-finite values; samples within the
  // range (binned speculatively) and beyond it (extensions).
  const int sizes[] = {1, 15, 17, 1023, 1025, 70001, 300007};
  for (int threads : {1, 3}) {
    mixq::ThreadPool pool(threads);
    StatsConfig c;
    c.percentile_keep = 40;
    TensorStats s(c);
    float mn = INFINITY, mx = -INFINITY;
    std::vector<float> top, bottom;  // plain extremes of the per-sample concatenation
    int64_t nonfinite = 0;
    int seed = 0;
    for (int round = 0; round < 3; round++) {
      for (int n : sizes) {
        auto x = gaussian(n, round == 1 ? 2.f : 1.f, 500 + seed++);
        for (int i = 0; i < n; i += 7) x[i] = std::round(x[i] * 4) / 4;  // repeated bins
        for (int i = 3; i < n; i += 101) x[i] = (i / 101) % 2 ? 0.f : -0.f;
        if (round == 2 && n > 1000) x[n - 2] = NAN, x[n / 3] = INFINITY, nonfinite += 2;
        if (round == 0 && n == 1023) std::fill(x.begin(), x.end(), 0.5f);  // ties: no value beyond a cut
        std::vector<float> finite;
        for (float v : x)
          if (std::isfinite(v)) finite.push_back(v);
        // expected histogram: the state before, the range rule, plain float32 binning
        Histogram expected = s.histogram();
        for (float v : finite) mn = v < mn ? v : mn, mx = v > mx ? v : mx;
        const double w = expected.prepare_range(std::max(std::fabs(mn), std::fabs(mx)), 2048);
        for (float v : finite) {
          const int64_t b = v == 0 ? -1 : histogram_bin(std::fabs(v), static_cast<float>(w));
          if (b >= 0 && b < static_cast<int64_t>(expected.counts.size())) expected.counts[b]++;
        }
        auto sorted = finite;
        std::sort(sorted.begin(), sorted.end());
        const size_t k = std::min<size_t>(40, sorted.size());
        for (auto* kept : {&top, &bottom}) {  // TPU-MLIR: concat(a_sort[:k], a_sort[-k:]) of every sample
          kept->insert(kept->end(), sorted.begin(), sorted.begin() + k);
          kept->insert(kept->end(), sorted.end() - k, sorted.end());
          std::sort(kept->begin(), kept->end());
        }
        if (top.size() > 40) top.erase(top.begin(), top.end() - 40);
        if (bottom.size() > 40) bottom.resize(40);

        s.add(x, &pool);
        INFO("threads " << threads << " round " << round << " size " << n);
        REQUIRE(s.histogram().counts == expected.counts);
        REQUIRE(s.histogram().th == expected.th);
        REQUIRE(s.min() == mn);
        REQUIRE(std::signbit(s.min()) == std::signbit(mn));
        REQUIRE(s.max() == mx);
        REQUIRE(std::signbit(s.max()) == std::signbit(mx));
        REQUIRE(s.nonfinite() == nonfinite);
        REQUIRE(s.top() == top);
        REQUIRE(s.bottom() == bottom);
      }
    }
  }
}

TEST_CASE("statistics of a reordered tensor (Reshape/Transpose) copied from its source equal add()'s values") {
  auto same = [](const TensorStats& a, const TensorStats& b) {
    REQUIRE(a.samples() == b.samples());
    REQUIRE(a.elements() == b.elements());
    REQUIRE(a.nonfinite() == b.nonfinite());
    REQUIRE(a.min() == b.min());
    REQUIRE(std::signbit(a.min()) == std::signbit(b.min()));
    REQUIRE(a.max() == b.max());
    REQUIRE(std::signbit(a.max()) == std::signbit(b.max()));
    REQUIRE(a.histogram().counts == b.histogram().counts);
    REQUIRE(a.histogram().th == b.histogram().th);
    REQUIRE(a.top() == b.top());  // as values: a zero's sign among them is the source's
    REQUIRE(a.bottom() == b.bottom());
  };
  // percentile9999: the same L, or a source keeping more (an earlier layer: a lower percentile)
  for (auto [source_keep, keep] : {std::pair<int64_t, int64_t>{0, 0}, {30, 30}, {50, 30}}) {
    StatsConfig c, cs;
    c.percentile_keep = keep;
    cs.percentile_keep = source_keep;
    TensorStats source(cs), copied(c), direct(c);
    int shared = 0;
    for (int k = 0; k < 6; k++) {
      auto x = gaussian(20000, 1.f + 0.1f * k, 900 + k);
      if (k < 4) {  // ReLU-like samples: min 0, whose sign the first zero decides
        for (float& v : x) v = v > 0 ? v : 0.f;
        const auto first = std::find(x.begin(), x.end(), 0.f);
        const auto last = std::find(x.rbegin(), x.rend(), 0.f);
        *first = k % 2 ? -0.f : 0.f;  // the two orders meet different signs first
        *last = k % 2 ? 0.f : -0.f;
      }
      if (k == 4) x[17] = NAN;
      std::vector<float> y(x.rbegin(), x.rend());  // a reordering: the first zero differs
      source.add(x);
      direct.add(y);
      if (k % 2) (void)source.top();  // a source read (its extremes sorted, cut to its L) or not
      if (copied.add_permutation_of(source, y))
        shared++;
      else
        copied.add(y);
      INFO("sample " << k << " keep " << keep << " source keeps " << source_keep);
      same(copied, direct);
    }
    CHECK(shared == 6);  // extremes holding zeros (ReLU's smallest) too
  }
  SECTION("refused: other size, OCTAV's order-dependent sums, a source not one sample ahead") {
    StatsConfig c;
    TensorStats a(c), b(c);
    auto x = gaussian(100, 1.f, 5);
    a.add(x);
    CHECK_FALSE(b.add_permutation_of(a, std::vector<float>(x.begin(), x.end() - 1)));
    b.add(x);
    CHECK_FALSE(b.add_permutation_of(a, x));  // a has no new sample
    StatsConfig o = c;
    o.octav = true;
    TensorStats p(o), q(o);
    p.add(x);
    CHECK_FALSE(q.add_permutation_of(p, x));
    CHECK(q.samples() == 0);
    // a source keeping more extremes from samples smaller than twice that many (its
    // largest and smallest overlap: TPU-MLIR counts such values twice), or fewer
    StatsConfig k40 = c, k60 = c;
    k40.histogram = k60.histogram = false;  // (a 2048-bin histogram alone refuses 100 values)
    k40.percentile_keep = 40;
    k60.percentile_keep = 60;
    TensorStats s60(k60), t40(k40), s40(k40), t60(k60);
    s60.add(x);
    CHECK_FALSE(t40.add_permutation_of(s60, x));
    t40.add(x);
    auto wide = gaussian(1000, 1.f, 6);  // large enough, but the source kept duplicates of x's
    s60.add(wide);
    CHECK_FALSE(t40.add_permutation_of(s60, wide));
    s40.add(x);
    CHECK_FALSE(t60.add_permutation_of(s40, x));
    TensorStats u40(k40);
    CHECK(u40.add_permutation_of(s40, x));  // the same L: copied
  }
}

TEST_CASE("kl: same candidate as a plain double implementation; clips outliers; keeps uniform ranges") {
  auto a = gaussian(200000, 1.f, 7, 40.f);  // one far outlier
  TensorStats s(stats_config_for(CaliMethod::Kl, 2048, 0));
  s.add(a);
  float th = kl_threshold(s.histogram());
  double ref = plain_kl(s.histogram().counts, s.histogram().width);
  CHECK(th == Approx(ref).epsilon(1e-5));
  CHECK(th < 10.f);  // far below the 40 outlier
  CHECK(th > 2.f);
  auto r = compute_threshold(CaliMethod::Kl, s, {}, "g");
  CHECK(r.threshold == Approx(th));
  CHECK(r.warning.empty());
  // uniform |x| on [0, 1]: every candidate but the full range loses mass -> th ~ absmax
  std::vector<float> u(100000);
  for (size_t i = 0; i < u.size(); i++) u[i] = static_cast<float>((i % 1000) + 1) / 1000.f;
  TensorStats su(stats_config_for(CaliMethod::Kl, 2048, 0));
  su.add(u);
  CHECK(compute_threshold(CaliMethod::Kl, su, {}, "u").threshold == Approx(1.0).epsilon(0.01));
}

TEST_CASE("kl: the prefix-sum form gives the float loop's divergences; grown histograms take it") {
  // Histograms the float loop handles (up to 2^18 bins): gaussian, laplace-like, ReLU-like
  // and bimodal |x|, at the default bins and extended ranges.
  struct Case {
    const char* name;
    std::vector<float> values;
    int bins;
  };
  std::vector<Case> cases;
  cases.push_back({"gaussian", gaussian(100000, 1.f, 11, 30.f), 2048});
  auto lap = gaussian(100000, 1.f, 12);
  for (float& v : lap) v = v * std::fabs(v);  // heavier tails
  cases.push_back({"heavy tails", lap, 8192});
  auto relu = gaussian(100000, 2.f, 13);
  for (float& v : relu) v = std::max(v, 0.f);
  cases.push_back({"relu", relu, 2048});
  auto two = gaussian(100000, 0.5f, 14);
  for (size_t i = 0; i < two.size(); i += 3) two[i] += 6.f;
  cases.push_back({"bimodal", two, 32768});
  for (const Case& c : cases) {
    INFO(c.name);
    TensorStats s(stats_config_for(CaliMethod::Kl, c.bins, 0));
    s.add(c.values);
    std::vector<int64_t> padded = s.histogram().counts;
    padded.resize((padded.size() + 127) / 128 * 128, 0);
    for (int target : {128, 8}) {
      const auto loop = kl_divergences(padded, target, KlForm::FloatLoop);
      const auto sums = kl_divergences(padded, target, KlForm::PrefixSums);
      REQUIRE(loop.size() == sums.size());
      for (size_t k = 0; k < loop.size(); k++) {
        INFO("target " << target << " candidate " << k);
        CHECK(sums[k] == Approx(loop[k]).epsilon(1e-3).margin(1e-6));  // float accumulation
      }
      auto first_min = [](const std::vector<double>& v) { return std::min_element(v.begin(), v.end()) - v.begin(); };
      CHECK(first_min(sums) == first_min(loop));
    }
  }
  // A first sample a thousandth of the later range grows the histogram to ~2M bins (as a
  // detector's output on an empty first image): the threshold step stays O(bins).
  TensorStats grown(stats_config_for(CaliMethod::Kl, 2048, 0));
  const auto first = gaussian(20000, 0.001f, 15), second = gaussian(20000, 1.f, 16, 8.f);
  grown.add(first);
  grown.add(second);
  REQUIRE(grown.histogram().counts.size() > (size_t{1} << 20));
  // past 2^18 bins the values go straight into the counts: the same counts as a plain scan
  // (the first sample's at its own width, the second's at the grown one), also for a
  // later sample within the range, with zeros and values of any sign
  const Histogram& h = grown.histogram();
  const int n = static_cast<int>(h.counts.size());
  auto expected = plain_histogram(second, h.th, n);
  const auto at_first = plain_histogram(first, first_absmax(first), 2048);
  for (size_t i = 0; i < at_first.size(); i++) expected[i] += at_first[i];
  auto differing = [&](const std::vector<int64_t>& got) {  // (Catch would print 2M bins)
    int64_t d = got.size() == expected.size() ? 0 : -1;
    for (size_t i = 0; d >= 0 && i < got.size(); i++) d += got[i] != expected[i];
    return d;
  };
  CHECK(differing(h.counts) == 0);
  auto third = gaussian(30001, 0.5f, 17);
  for (size_t i = 0; i < third.size(); i += 7) third[i] = 0.f;
  grown.add(third);
  const auto at_third = plain_histogram(third, h.th, n);
  for (size_t i = 0; i < expected.size(); i++) expected[i] += at_third[i];
  CHECK(differing(grown.histogram().counts) == 0);
  auto r = compute_threshold(CaliMethod::Kl, grown, {}, "grown");
  CHECK(r.threshold > 1.0);  // the later samples' gaussian, not the first sample's range
  CHECK(r.threshold < 8.0);
}

TEST_CASE("max, guard for all-zero tensors") {
  TensorStats s(stats_config_for(CaliMethod::Max, 2048, 0));
  s.add(std::vector<float>{-3.f, 1.f, 2.5f});
  s.add(std::vector<float>{0.5f, 2.f});
  auto r = compute_threshold(CaliMethod::Max, s, {}, "m");
  CHECK(r.threshold == 3.0);
  CHECK(r.min == -3.0);
  CHECK(r.max == 2.5);
  TensorStats z(stats_config_for(CaliMethod::Kl, 2048, 0));
  z.add(std::vector<float>(100, 0.f));
  z.add(std::vector<float>(100, 0.f));
  auto rz = compute_threshold(CaliMethod::Kl, z, {}, "zeros");
  CHECK(rz.threshold == 1e-5);
  CHECK(rz.min == 0);
  CHECK(rz.max == 1e-5);
  CHECK_THAT(rz.warning, Catch::Contains("zeros"));
  // NaN values are skipped and counted, never poison the statistics
  TensorStats n(stats_config_for(CaliMethod::Max, 2048, 0));
  n.add(std::vector<float>{NAN, 1.f, -2.f, INFINITY});
  CHECK(n.nonfinite() == 2);
  CHECK(compute_threshold(CaliMethod::Max, n, {}, "n").threshold == 2.0);
}

TEST_CASE("percentile9999: TPU-MLIR's interpolation between extreme values, memory bounded by L") {
  const int samples = 4, size = 50000;
  const double p = percentile_for_layer(3, 10);
  CHECK(p == Approx(99.99 + 3 * (99.999999 - 99.99) / 10));
  const int64_t L = percentile_keep(p, samples, size);
  TensorStats s(stats_config_for(CaliMethod::Percentile9999, 2048, L));
  std::vector<float> all;
  for (int i = 0; i < samples; i++) {
    auto x = gaussian(size, 1.f, 100 + i);
    all.insert(all.end(), x.begin(), x.end());
    s.add(x);
  }
  CHECK(static_cast<int64_t>(s.top().size()) == L);
  std::sort(all.begin(), all.end());
  const double inter = static_cast<double>(all.size() - 1);
  const double ratio = p / 100 * inter - static_cast<int64_t>(p / 100 * inter);
  double hi = all[all.size() - L] + ratio * (all[all.size() - L + 1] - all[all.size() - L]);
  double lo = all[L - 1] + ratio * (all[L - 2] - all[L - 1]);
  ThresholdContext ctx;
  ctx.percentile = p;
  ctx.num_samples = samples;
  auto r = compute_threshold(CaliMethod::Percentile9999, s, ctx, "p");
  CHECK(r.max == Approx(hi).epsilon(1e-12));
  CHECK(r.min == Approx(lo).epsilon(1e-12));
  CHECK(r.threshold == Approx(std::max(std::fabs(hi), std::fabs(lo))));
  CHECK(r.threshold < 4.5);  // ~3.7-4 sigma for a standard normal at 99.99..%
  CHECK(r.threshold > 3.3);
}

TEST_CASE("percentile extremes: TPU-MLIR's per-sample concatenation, overlapping when a sample is small") {
  StatsConfig c;
  c.histogram = false;
  c.percentile_keep = 8;
  TensorStats s(c);
  std::vector<float> concat;
  for (int k = 0; k < 5; k++) {
    auto x = gaussian(10 + 10 * k, 1.f + k, 300 + k);  // 10, 20 (= 2L: disjoint), 30, ... values
    s.add(x);
    std::sort(x.begin(), x.end());
    size_t keep = std::min<size_t>(8, x.size());
    concat.insert(concat.end(), x.begin(), x.begin() + keep);  // a_sort[:k]
    concat.insert(concat.end(), x.end() - keep, x.end());      // a_sort[-k:]
  }
  std::sort(concat.begin(), concat.end());
  CHECK(s.top() == std::vector<float>(concat.end() - 8, concat.end()));
  CHECK(s.bottom() == std::vector<float>(concat.begin(), concat.begin() + 8));
}

// The L largest and L smallest of every sample's L smallest and L largest values (TPU-MLIR's
// per-sample concatenation, samples of at least 2 L values), by full sorts: what
// TensorStats keeps for percentile9999.
struct ReferenceExtremes {
  size_t L;
  std::vector<float> top, bottom;
  void add(std::vector<float> x) {
    std::sort(x.begin(), x.end());
    for (auto* kept : {&top, &bottom}) {
      kept->insert(kept->end(), x.begin(), x.begin() + static_cast<std::ptrdiff_t>(L));
      kept->insert(kept->end(), x.end() - static_cast<std::ptrdiff_t>(L), x.end());
      std::sort(kept->begin(), kept->end());
    }
    top.erase(top.begin(), top.end() - static_cast<std::ptrdiff_t>(L));
    bottom.resize(L);
  }
};

// Adds samples make(k), k < count, to percentile9999 statistics keeping L, on 1 and on 3
// threads, and requires the kept extremes of ReferenceExtremes after each sample (each read
// sorts the candidates) and, from statistics read only at the end, after the last; then
// check(stats, x, k) for anything else.
template <class Make, class Check>
void require_extremes(size_t L, int count, Make make, Check check) {
  for (int threads : {1, 3}) {
    mixq::ThreadPool pool(threads);
    StatsConfig c;
    c.histogram = false;
    c.percentile_keep = static_cast<int64_t>(L);
    TensorStats s(c), unread(c);
    ReferenceExtremes ref{L, {}, {}};
    for (int k = 0; k < count; k++) {
      const std::vector<float> x = make(k);
      s.add(x, &pool);
      unread.add(x, &pool);
      ref.add(x);
      INFO("threads " << threads << " sample " << k);
      REQUIRE(s.top() == ref.top);
      REQUIRE(s.bottom() == ref.bottom);
      check(s, x, k);
    }
    INFO("threads " << threads << ", read after the last sample");
    REQUIRE(unread.top() == ref.top);
    REQUIRE(unread.bottom() == ref.bottom);
  }
}

TEST_CASE("percentile extremes: ReLU outputs (ties at the cut) and later samples scanned once, any thread count") {
  // A ReLU output's L smallest values are zeros: nothing lies below the estimated cut, the
  // ties fill the list (first sample); later samples are marked during the min/max scan.
  auto make = [](int k) {
    auto x = gaussian(70001, 1.f + 0.5f * k, 700 + k);
    if (k < 3) {
      for (float& v : x) v = v > 0 ? v : 0.f;  // half zeros
    }
    if (k == 2) x[123] = 1e6f;  // one value far beyond the kept ones
    return x;
  };
  float mn = INFINITY, mx = -INFINITY;
  require_extremes(500, 4, make, [&](const TensorStats& s, const std::vector<float>& x, int k) {
    if (k == 0) mn = INFINITY, mx = -INFINITY;  // (a new thread count)
    const auto [lo, hi] = std::minmax_element(x.begin(), x.end());
    mn = std::min(mn, *lo);
    mx = std::max(mx, *hi);
    REQUIRE(s.max() == mx);
    REQUIRE(s.min() == mn);
  });
}

TEST_CASE("percentile extremes: any order of values in a sample (the cuts rise as the scan goes)") {
  // The first sample's scan starts with no cuts and raises them at each compaction: values
  // in ascending order all enter (a compaction every L + max(L, 64) values), descending ones
  // almost never after the first block; equal values tie at the cut; the extremes of a
  // feature map in one border column (16 planes of 160 x 160). Later samples in another
  // order go through the min/max scan's marks.
  const int64_t w = 160, n = 16 * w * w;
  std::mt19937 g(7);
  std::uniform_real_distribution<float> body(-1.f, 1.f), border(10.f, 20.f);
  std::vector<float> columns(static_cast<size_t>(n)), ramp(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; i++) {
    columns[static_cast<size_t>(i)] = i % w == 0 ? border(g) : body(g);
    ramp[static_cast<size_t>(i)] = static_cast<float>(i % 100003) / 64.f - 700.f;  // ascending runs, ties
  }
  std::vector<float> descending(ramp.rbegin(), ramp.rend()), constant(static_cast<size_t>(n), 0.5f);
  const std::vector<float>* orders[] = {&columns, &ramp, &descending, &constant};
  for (size_t first = 0; first < 4; first++) {
    for (size_t L : {size_t{1}, size_t{37}, static_cast<size_t>(n / w / 3)}) {
      INFO("first sample " << first << ", L " << L);
      require_extremes(
          L, 3, [&](int k) { return *orders[(first + static_cast<size_t>(k)) % 4]; },
          [](const TensorStats&, const std::vector<float>&, int) {});
    }
  }
}

TEST_CASE("percentile extremes: thousands kept (radix-sorted), negatives, signed zeros, ties, any thread count") {
  // L = 3000: the first samples bring thousands of new extremes each, sorted by the radix
  // path; values rounded to 1/256 (ties), one sample ReLU-like with zeros of both signs as
  // its smallest values.
  auto make = [](int k) {
    auto x = gaussian(24000, 1.f + 0.25f * static_cast<float>(k), 1300 + k);
    for (size_t i = 0; i < x.size(); i++) {
      x[i] = std::round(x[i] * 256.f) / 256.f;
      if (k == 1 && x[i] <= 0.f) x[i] = i % 2 ? 0.f : -0.f;
    }
    return x;
  };
  require_extremes(3000, 5, make, [](const TensorStats& s, const std::vector<float>&, int) {
    REQUIRE(std::is_sorted(s.top().begin(), s.top().end()));
    REQUIRE(std::is_sorted(s.bottom().begin(), s.bottom().end()));
  });
}

TEST_CASE("percentile extremes: many samples, few new extremes each, ties, any thread count") {
  // After the first samples each brings a few values beyond the cuts; a wide sample brings
  // many. Values are rounded to 1/64 so that many are equal, at the cuts too.
  auto make = [](int k) {
    auto x = gaussian(20000 + 37 * k, k == 41 ? 3.f : 1.f, 900 + k);
    for (float& v : x) v = std::round(v * 64.f) / 64.f;
    return x;
  };
  require_extremes(400, 60, make, [](const TensorStats&, const std::vector<float>&, int) {});
}

TEST_CASE("mse (OCTAV) and ACIQ: mean of per-sample estimates against plain formulas") {
  auto a = gaussian(30000, 1.f, 11), b = gaussian(30000, 2.f, 12);
  auto plain_octav = [](const std::vector<float>& x) {
    double s = 0, nz = 0, mn = 1e30;
    for (float v : x) s += std::fabs(v), nz += v != 0, mn = std::min<double>(mn, v);
    double u = std::fabs(mn) < 1e-6 ? 4 : 1;
    s /= nz;
    for (int it = 0; it < 20; it++) {
      double num = 0, above = 0, below = 0;
      for (float v : x) {
        if (std::fabs(v) > s)
          num += std::fabs(v), above++;
        else
          below++;
      }
      double next = num / (1.0 / 65536 / 3 / u * below + above);
      if (std::fabs(next - s) < 1e-6) break;
      s = next;
    }
    return s;
  };
  TensorStats s(stats_config_for(CaliMethod::Mse, 2048, 0));
  s.add(a);
  s.add(b);
  auto r = compute_threshold(CaliMethod::Mse, s, {}, "o");
  CHECK(r.threshold == Approx((plain_octav(a) + plain_octav(b)) / 2).epsilon(1e-9));
  ThresholdContext input;
  input.is_graph_input = true;
  CHECK(compute_threshold(CaliMethod::Mse, s, input, "in").threshold == Approx(s.absmax()));

  // ACIQ gauss on data with known min/max/N, laplace on a known mean absolute deviation
  std::vector<float> k = {-2.f, 0.f, 1.f, 3.f};
  double c = 0.175 * (1 + std::sqrt(M_PI * std::log(4.0)));
  CHECK(aciq_gauss_clip(k) == Approx(3.92403337 * 5 * c / std::sqrt(2 * std::log(4.0))));
  CHECK(aciq_laplace_clip(k) == Approx(9.89675982 * (2.5 + 0.5 + 0.5 + 2.5) / 4));
  TensorStats g(stats_config_for(CaliMethod::AciqGauss, 2048, 0));
  g.add(a);
  auto rg = compute_threshold(CaliMethod::AciqGauss, g, {}, "g");
  CHECK(rg.threshold == Approx(std::min<double>(aciq_gauss_clip(a), g.absmax())));
  TensorStats l(stats_config_for(CaliMethod::AciqLaplace, 2048, 0));
  l.add(a);
  l.add(b);
  CHECK(compute_threshold(CaliMethod::AciqLaplace, l, {}, "l").threshold ==
        Approx(std::min<double>((aciq_laplace_clip(a) + aciq_laplace_clip(b)) / 2, l.absmax())));
  CHECK(aciq_laplace_clip(a) == Approx(9.89675982 * std::sqrt(2 / M_PI)).epsilon(0.02));  // E|x| of N(0,1)
}

TEST_CASE("admm: reaches the least-squares optimum of a brute-force threshold search") {
  auto a = gaussian(100000, 1.f, 21, 25.f);
  TensorStats s(stats_config_for(CaliMethod::Admm, 2048, 0));
  s.add(a);
  const auto& h = s.histogram();
  auto mse = [&](double th) {
    double sc = th / 127, e = 0;
    for (size_t b = 0; b < h.counts.size(); b++) {
      double x = b * h.width, q = std::min(127.0, std::nearbyint(x / sc)) * sc;
      e += h.counts[b] * (x - q) * (x - q);
    }
    return e;
  };
  double best = s.absmax(), best_e = mse(best);
  for (double th = 0.5; th < s.absmax(); th += 0.005)
    if (mse(th) < best_e) best_e = mse(th), best = th;
  double th = compute_threshold(CaliMethod::Admm, s, {}, "a").threshold;
  CHECK(mse(th) <= best_e * 1.05);
  CHECK(th < s.absmax());
  // The documented formulation, every bin summed in every round (admm_threshold sums the
  // bins of each level from prefix sums): the same threshold.
  double plain_s = s.absmax() / 127.0, plain_e = mse(s.absmax());
  for (int k = 1; k <= 64; k++) {
    double sc = s.absmax() * k / 64.0 / 127.0;
    for (int round = 0; round < 100; round++) {
      double xq = 0, qq = 0;
      for (size_t b = 0; b < h.counts.size(); b++) {
        double x = b * h.width, q = std::min(127.0, std::nearbyint(x / sc));
        xq += h.counts[b] * x * q;
        qq += h.counts[b] * q * q;
      }
      if (qq <= 0) break;
      const double next = xq / qq;
      const bool done = std::fabs(next - sc) <= 1e-12 * sc;
      sc = next;
      if (done) break;
    }
    if (mse(127 * sc) < plain_e) plain_e = mse(127 * sc), plain_s = sc;
  }
  CHECK(th == Approx(std::min<double>(127 * plain_s, s.absmax())).epsilon(1e-9));
}

TEST_CASE("cali table: exact format, no exponents or inf; reader reports rows TPU-MLIR drops") {
  CaliTable t;
  t.rows = {{"images", 1.0, 0.0, 1.0}, {"122_Conv", 4.2162232, -3.9913502, 4.2162232}, {"big", 1e6, -1e-9, INFINITY}};
  t.asym_ops = {"122_Conv"};
  CaliTableHeader h;
  h.model_name = "m.onnx";
  h.generated_time = "2024-01-01 12:00:00.000000";
  h.sample_number = 10;
  std::string text = write_cali_table(h, t);
  CHECK_THAT(text, Catch::Contains("# genetated time: 2024-01-01 12:00:00.000000\n# histogram number: 2048\n"
                                   "# sample number: 10\n###\n# op_name    threshold    min    max\n"
                                   "images 1.0000000 0.0000000 1.0000000\n122_Conv 4.2162232 -3.9913502 4.2162232\n"
                                   "big 1000000.0000000 -0.0000000 340282346638528859811704183484516925440.0000000\n"
                                   "#asym_op\n122_Conv\n"));
  CHECK(text.find("inf") == std::string::npos);
  auto rep = read_cali_table(text, "t.txt");
  REQUIRE(rep.table.rows.size() == 3);
  CHECK(rep.table.rows[1].threshold == 4.2162232);
  CHECK(rep.table.asym_ops == std::vector<std::string>{"122_Conv"});
  CHECK(rep.issues.empty());
  auto bad = read_cali_table("# x\nconv 1e+05 0 1\nrelu inf 0 1\nok 1.0 0.0 1.0\nok 2.0 0.0 1.0\n", "b.txt");
  REQUIRE(bad.issues.size() == 3);
  CHECK(bad.issues[0].status == "dropped");
  CHECK(bad.issues[0].line == 2);
  CHECK(bad.issues[1].status == "dropped");
  CHECK(bad.issues[2].status == "duplicate");
}

TEST_CASE("TensorRT cache and onnxruntime ranges") {
  std::vector<TensorRange> r = {{"x", 127.0, -1, 1}, {"y", 254.0, 0, 2}};
  CHECK(write_tensorrt_cache(r) == "TRT-8601-EntropyCalibration2\nx: 3f800000\ny: 40000000\n");
  auto j = write_onnxruntime_ranges(r);
  CHECK_THAT(j, Catch::Contains("\"x\": [\n    -127.0,\n    127.0\n  ]"));
}
