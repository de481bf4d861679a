// Shard merge of calibration statistics (statistics.h): shards of a built model merged vs
// one run over all samples (exact for max, percentile9999 sized for the total, min/max
// everywhere; mse/aciq up to double rounding; kl histograms re-binned), TensorStats::merge
// on same-range and extending shards, the byte format's round trip and its errors.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <numeric>

#include "mixq/analysis.h"
#include "mixq/calib/calibrate.h"
#include "mixq/calib/statistics.h"
#include "mixq/error.h"
#include "mixq/npz.h"
#include "support/onnx_builder.h"

using namespace mixq;
using namespace mixq::calib;

namespace {

AnalyzedModel shard_model() {
  test::OnnxBuilder b;
  b.input("x", {1, 1, 64, 64}).output("y");
  b.conv("x", "c", 1, 4, 3);
  b.node("Relu", {"c"}, {"r"});
  b.conv("r", "y", 4, 4, 1);
  return analyze_model(b.bytes(), {});
}

struct ShardData {
  std::map<std::string, std::vector<uint8_t>> files;
  std::vector<Sample> samples;
  ReadSampleFile read() {
    return [this](const std::string& f) { return files.at(f); };
  }
  DataSelection select(size_t begin, size_t end) const {
    DataSelection sel;
    sel.kind = DataKind::Npy;
    sel.samples.assign(samples.begin() + begin, samples.begin() + end);
    return sel;
  }
};

// Six samples of growing and shrinking amplitude (the histogram extends mid-way).
ShardData six_samples() {
  ShardData d;
  const float amps[6] = {1.0f, 0.7f, 2.5f, 0.4f, 3.0f, 1.2f};
  for (int s = 0; s < 6; s++) {
    std::vector<float> v(64 * 64);
    for (int i = 0; i < 64 * 64; i++) v[i] = amps[s] * std::sin(0.37f * i + s) * std::cos(0.011f * i * (s + 1));
    const std::string name = "s" + std::to_string(s) + ".npy";
    d.files[name] = write_npy(Tensor::from_f32({1, 1, 64, 64}, v));
    d.samples.push_back({{name}});
  }
  return d;
}

std::string table_text(const CalibrationResult& r) {
  CaliTableHeader h;
  h.generated_time = "fixed";
  return write_cali_table(h, r.table());
}

// Statistics of samples [begin, end), through the byte format.
CalibrationStatistics shard_stats(const AnalyzedModel& am, ShardData& d, size_t begin, size_t end,
                                  const CalibrateOptions& o) {
  Calibration run(am, d.select(begin, end), d.read(), o);
  return read_statistics(write_statistics(run.statistics()), "shard" + std::to_string(begin));
}

int64_t total_count(const Histogram& h) {
  return std::accumulate(h.counts.begin(), h.counts.end(), int64_t{0});
}

}  // namespace

TEST_CASE("statistics: merged shards vs one run over all samples") {
  AnalyzedModel am = shard_model();
  ShardData d = six_samples();
  const std::vector<std::string> names = {"a.stats", "b.stats"};
  auto merged_result = [&](const CalibrateOptions& o, CalibrationStatistics* merged_out = nullptr) {
    CalibrationStatistics m = merge_statistics({shard_stats(am, d, 0, 3, o), shard_stats(am, d, 3, 6, o)}, names);
    CHECK(m.samples == 6);
    CHECK(m.runs == 6);
    if (merged_out) *merged_out = m;
    return thresholds_from_statistics(am, m, o);
  };
  CalibrateOptions o;

  SECTION("max: identical table") {
    o.method = CaliMethod::Max;
    CHECK(table_text(merged_result(o)) == table_text(calibrate(am, d.select(0, 6), d.read(), o)));
  }
  SECTION("percentile9999: identical when the shards keep the extremes for the total, else flagged") {
    o.method = CaliMethod::Percentile9999;
    const std::string single = table_text(calibrate(am, d.select(0, 6), d.read(), o));
    CalibrationStatistics m;
    CalibrationResult approx = merged_result(o, &m);
    bool flagged = false;
    for (const auto& w : approx.warnings) flagged = flagged || w.find("approximate") != std::string::npos;
    CHECK(flagged);  // a shard of 3 keeps fewer extremes than 6 samples need (L grows with N)
    o.shard_total_samples = 6;
    CHECK(table_text(merged_result(o)) == single);
    // a shard sized for the total still writes its own table as without the option
    CalibrateOptions own = o;
    own.shard_total_samples = 0;
    CHECK(table_text(calibrate(am, d.select(0, 3), d.read(), o)) ==
          table_text(calibrate(am, d.select(0, 3), d.read(), own)));
  }
  SECTION("mse, aciq: equal up to double rounding; min/max exact") {
    for (CaliMethod method : {CaliMethod::Mse, CaliMethod::AciqGauss, CaliMethod::AciqLaplace}) {
      o.method = method;
      CalibrationResult single = calibrate(am, d.select(0, 6), d.read(), o);
      CalibrationResult merged = merged_result(o);
      REQUIRE(merged.layers.size() == single.layers.size());
      for (size_t i = 0; i < single.layers.size(); i++) {
        CHECK(merged.layers[i].min == single.layers[i].min);
        CHECK(merged.layers[i].max == single.layers[i].max);
        CHECK(std::fabs(merged.layers[i].threshold - single.layers[i].threshold) <=
              1e-12 * std::fabs(single.layers[i].threshold));
      }
    }
  }
  SECTION("kl: counts conserved, range as the single run's, flagged approximate; one shard alone is exact") {
    o.method = CaliMethod::Kl;
    Calibration single_run(am, d.select(0, 6), d.read(), o);
    CalibrationStatistics single = single_run.statistics();
    CalibrationResult single_result = single_run.finish();
    CalibrationStatistics m;
    CalibrationResult merged = merged_result(o, &m);
    REQUIRE(m.stats.size() == single.stats.size());
    for (size_t i = 0; i < m.stats.size(); i++) {
      REQUIRE(m.stats[i].has_value());
      const Histogram& hm = m.stats[i]->histogram();
      const Histogram& hs = single.stats[i]->histogram();
      CHECK(total_count(hm) == total_count(hs));
      CHECK(m.stats[i]->absmax() == single.stats[i]->absmax());
      CHECK(hm.th >= m.stats[i]->absmax());
      CHECK(merged.layers[i].min == single_result.layers[i].min);
      CHECK(merged.layers[i].max == single_result.layers[i].max);
      CHECK(merged.layers[i].threshold > 0);
      CHECK(merged.layers[i].threshold <= single_result.layers[i].absmax);
    }
    bool flagged = false;
    for (const auto& w : merged.warnings) flagged = flagged || w.find("re-binned") != std::string::npos;
    CHECK(flagged);
    // a "merge" of one shard is that shard's own table
    CalibrationStatistics alone = merge_statistics({read_statistics(write_statistics(single), "all")}, {"all"});
    CHECK(table_text(thresholds_from_statistics(am, alone, o)) == table_text(single_result));
  }
}

TEST_CASE("statistics: TensorStats::merge re-bins exactly on a shared grid, extends as a single run") {
  StatsConfig c;
  c.bins = 256;
  auto wave = [](float amp, int phase) {
    std::vector<float> v(5000);
    for (int i = 0; i < 5000; i++) v[i] = amp * std::sin(0.013f * i * (phase + 1) + phase);
    v[17] = phase % 2 ? amp : -amp;  // the sample's absmax exactly
    return v;
  };
  const auto a1 = wave(2.0f, 0), a2 = wave(1.5f, 1), b2 = wave(0.5f, 3);
  SECTION("a later shard starting at the same absmax: identical histogram") {
    const auto b1 = wave(2.0f, 2);
    TensorStats single(c), a(c), b(c);
    for (const auto* x : {&a1, &a2, &b1, &b2}) single.add(*x);
    a.add(a1), a.add(a2), b.add(b1), b.add(b2);
    a.merge(b);
    CHECK(a.histogram().counts == single.histogram().counts);
    CHECK(a.histogram().th == single.histogram().th);
    CHECK(a.min() == single.min());
    CHECK(a.max() == single.max());
    CHECK(a.samples() == 4);
  }
  SECTION("a later shard with a larger absmax: the same extension, counts conserved") {
    const auto b1 = wave(5.0f, 2);
    TensorStats single(c), a(c), b(c);
    for (const auto* x : {&a1, &a2, &b1, &b2}) single.add(*x);
    a.add(a1), a.add(a2), b.add(b1), b.add(b2);
    a.merge(b);
    CHECK(a.histogram().counts.size() == single.histogram().counts.size());
    CHECK(a.histogram().counts.size() > 256);
    CHECK(a.histogram().th == single.histogram().th);
    CHECK(total_count(a.histogram()) == total_count(single.histogram()));
    // a's own counts keep their indices; only b's are re-binned (within half a bin)
    const double w = single.histogram().th / (single.histogram().counts.size() - 1);
    double mean_m = 0, mean_s = 0;
    for (size_t j = 0; j < a.histogram().counts.size(); j++) {
      mean_m += j * w * a.histogram().counts[j];
      mean_s += j * w * single.histogram().counts[j];
    }
    CHECK(std::fabs(mean_m - mean_s) / total_count(single.histogram()) <= w);
  }
}

TEST_CASE("statistics: byte format round trip and clear errors") {
  AnalyzedModel am = shard_model();
  ShardData d = six_samples();
  CalibrateOptions o;
  o.method = CaliMethod::Kl;
  o.int4_th = true;
  Calibration run(am, d.select(0, 2), d.read(), o);
  const std::vector<uint8_t> bytes = write_statistics(run.statistics());
  CalibrationStatistics st = read_statistics(bytes, "a.stats");
  CHECK(write_statistics(st) == bytes);
  CHECK(st.samples == 2);
  CHECK(st.int4_th);
  CHECK(st.layers == am.layers.names());

  auto error_of = [](const std::function<void()>& f) -> std::string {
    try {
      f();
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  auto truncated = bytes;
  truncated.resize(bytes.size() - 3);
  std::string e = error_of([&] { read_statistics(truncated, "t.stats"); });
  CHECK(e.find("t.stats") != std::string::npos);
  CHECK(e.find("the file ends") != std::string::npos);
  auto foreign = bytes;
  foreign[0] = 'X';
  CHECK(error_of([&] { read_statistics(foreign, "f.stats"); }).find("not a mixq statistics file") != std::string::npos);
  auto longer = bytes;
  longer.push_back(0);
  CHECK(error_of([&] { read_statistics(longer, "l.stats"); }).find("expected the end of the file") !=
        std::string::npos);
  auto version = bytes;
  version[8] = 9;
  CHECK(error_of([&] { read_statistics(version, "v.stats"); }).find("version") != std::string::npos);

  CalibrateOptions max_o;
  max_o.method = CaliMethod::Max;
  Calibration other(am, d.select(2, 4), d.read(), max_o);
  e = error_of([&] { merge_statistics({st, other.statistics()}, {"a.stats", "b.stats"}); });
  CHECK(e.find("b.stats: method: expected kl") != std::string::npos);

  test::OnnxBuilder b;
  b.input("x", {1, 1, 64, 64}).output("z");
  b.node("Relu", {"x"}, {"z"});
  AnalyzedModel another = analyze_model(b.bytes(), {});
  CHECK(error_of([&] { thresholds_from_statistics(another, st, o); }).find("statistics of another model") !=
        std::string::npos);
}
