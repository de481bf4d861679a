// mixq_exec_bench — the executor benchmark runner used by tools/bench, built natively and
// for wasm (run under node with NODERAWFS), so both report the same way.
//   mixq_exec_bench MODEL INPUT.npz REPEAT [THREADS]  -> "latency_ms median=M min=m macs=N"
//                                                      (REPEAT timed runs after 1 s of warm-up)
//   mixq_exec_bench MODEL INPUT.npz REPEAT THREADS profile
//                                                      -> also ms per op type (tapped, unfused run)
//   mixq_exec_bench MODEL INPUT.npz REPEAT THREADS profile_all
//                                                      -> also ms of every node, in production order, on
//                                                         stderr (as MIXQ_PROFILE_ALL=1 with profile; wasm
//                                                         does not see the environment)
//   mixq_exec_bench MODEL INPUT.npz REPEAT THREADS profile_fused
//                                                      -> as profile_all, but the runs observe only the
//                                                         layers' tensors (calibration's tap): Conv
//                                                         epilogues stay fused, so each row is a fused
//                                                         step (plus the unobserved steps before it)
//   mixq_exec_bench MODEL INPUT.npz REPEAT THREADS tap|tap_background
//                                                      -> also "tap_latency_ms median=M min=m": the run
//                                                         calibration makes (every layer tensor observed,
//                                                         an empty tap), timed alternately with the plain run
//   mixq_exec_bench MODEL INPUT.npz REPEAT THREADS stats [kl|max|percentile9999]
//                                                      -> also "stats_ms_per_sample median=M min=m": the
//                                                         method's statistics (default kl) of every layer
//                                                         tensor of one run (copied once), added REPEAT times
//                                                         on one thread (as a sample lane does), each tensor
//                                                         read just before (in cache as after its kernel),
//                                                         without inference; percentile9999 keeps the
//                                                         extremes calibrate would for REPEAT+1 samples;
//                                                         also the values and the nonzero values counted
//   mixq_exec_bench --peak [THREADS]                   -> "peak_gflops G" (exec::sgemm 1024^3,
//                                                         one product per thread)
#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "mixq/analysis.h"
#include "mixq/calib/calibrate.h"
#include "mixq/calib/histogram.h"
#include "mixq/error.h"
#include "mixq/exec/executor.h"
#include "mixq/exec/sgemm.h"
#include "mixq/npz.h"

namespace {
std::vector<uint8_t> read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw mixq::Error(path + ": cannot read");
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}
double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
double peak(int threads) {
  const int n = 1024;
  auto product = [n] {
    Eigen::MatrixXf a = Eigen::MatrixXf::Random(n, n), b = Eigen::MatrixXf::Random(n, n), c(n, n);
    auto multiply = [&] { mixq::exec::sgemm(n, n, n, a.data(), n, b.data(), n, c.data(), n); };
    multiply();  // warm-up
    double t0 = now_ms();
    for (int i = 0; i < 3; ++i) multiply();
    return (now_ms() - t0) / 3;
  };
  if (threads <= 1) return 2.0 * n * n * n / (product() * 1e6);
  std::vector<double> ms(threads);
  std::vector<std::thread> pool;
  double t0 = now_ms();
  for (int t = 0; t < threads; ++t) pool.emplace_back([&, t] { ms[t] = product(); });
  for (auto& t : pool) t.join();
  (void)t0;
  return threads * 2.0 * n * n * n / (*std::max_element(ms.begin(), ms.end()) * 1e6);
}
// Time between consecutive tap calls of tapped (unfused) runs, per producing op type and
// node, summed over `runs` runs and printed per run.
void print_profile(mixq::Executor& ex, const mixq::AnalyzedModel& am, const std::map<std::string, mixq::Tensor>& feed,
                   int runs, bool all_nodes) {
  std::map<std::string, double> per_op, per_node;
  std::vector<std::string> order;  // nodes in production order
  auto noop = [](const std::string&, const mixq::Tensor&) {};
  ex.run(feed, noop);  // first tapped run allocates the tapped path's buffers
  double total = 0;
  for (int r = 0; r < runs; ++r) {
    double last = now_ms(), t0 = last;
    ex.run(feed, [&](const std::string& name, const mixq::Tensor&) {
      int p = am.model.graph.producer(name);
      double ms = now_ms() - last;
      per_op[p >= 0 ? am.model.graph.nodes[p].op_type : "Input"] += ms;
      if (p >= 0) {
        std::string key =
            am.model.graph.nodes[p].describe() + " -> " + name + " " + mixq::shape_str(am.shapes.find(name)->shape);
        if (r == 0) order.push_back(key);
        per_node[key] += ms;
      }
      last = now_ms();
    });
    total += now_ms() - t0;
  }
  std::vector<std::pair<double, std::string>> rows, nodes;
  for (auto& [op, ms] : per_op) rows.push_back({ms / runs, op});
  for (auto& [key, ms] : per_node) nodes.push_back({ms / runs, key});
  std::sort(rows.rbegin(), rows.rend());
  std::sort(nodes.rbegin(), nodes.rend());
  std::printf("profile (tapped runs, %.3f ms per run):\n", total / runs);
  for (auto& [ms, op] : rows) std::printf("  %-24s %9.3f ms\n", op.c_str(), ms);
  for (size_t i = 0; i < nodes.size() && i < 10; ++i)
    std::printf("  %9.3f ms  %s\n", nodes[i].first, nodes[i].second.substr(0, 110).c_str());
  if (all_nodes)  // every node in production order, to stderr
    for (const std::string& key : order) std::fprintf(stderr, "%.4f %s\n", per_node[key] / runs, key.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc >= 2 && std::string(argv[1]) == "--peak") {
      int threads = argc > 2 ? std::atoi(argv[2]) : 1;
      std::printf("peak_gflops %.2f\n", peak(threads));
      return 0;
    }
    if (argc < 4) {
      std::fprintf(stderr,
                   "usage: mixq_exec_bench MODEL INPUT.npz REPEAT [THREADS "
                   "[profile|profile_all|profile_fused|tap|tap_background|"
                   "stats]] | "
                   "--peak [THREADS]\n");
      return 2;
    }
    std::string model = argv[1];
    auto bytes = read_all(model);
    auto inputs = mixq::read_npz(read_all(argv[2]), argv[2]);
    int repeat = std::atoi(argv[3]), threads = argc > 4 ? std::atoi(argv[4]) : 0;
    mixq::AnalyzeOptions ao;
    ao.load.source_name = model;
    mixq::Model probe = mixq::load_onnx(bytes, ao.load);
    for (const auto& vi : probe.graph.inputs) ao.input_shapes.push_back(inputs.at(vi.name).shape());
    mixq::AnalyzedModel am = mixq::analyze_model(bytes, ao);
    mixq::Executor ex(am, mixq::ExecOptions{threads});
    std::map<std::string, mixq::Tensor> feed(inputs.begin(), inputs.end());
    // Warm-up: at least one run and 1 s, so that wasm engines have replaced their baseline
    // code (V8's Liftoff) with optimised code (TurboFan tiers up in the background) and the
    // timed runs measure the steady state that calibration's hundreds of runs see.
    for (double start = now_ms(); ex.run(feed), now_ms() - start < 1000;) {
    }
    const std::string mode = argc > 5 ? argv[5] : "";
    // Calibration's run: the layers' tensors observed (fusion kept where it hides none).
    std::unique_ptr<mixq::Executor> tapped;
    if (mode == "tap" || mode == "tap_background") {
      mixq::ExecOptions eo{threads};
      eo.observe = mixq::calib::calibrated_tensors(am);
      eo.background_tap = mode == "tap_background";
      tapped = std::make_unique<mixq::Executor>(am, eo);
      for (double start = now_ms();
           tapped->run(feed, [](const std::string&, const mixq::Tensor&) {}), now_ms() - start < 1000;) {
      }
    }
    if (mode == "stats") {
      mixq::ExecOptions eo{threads};
      eo.observe = mixq::calib::calibrated_tensors(am);
      std::vector<std::vector<float>> tensors;
      mixq::Executor(am, eo).run(feed, [&](const std::string&, const mixq::Tensor& t) {
        if (t.dtype() == mixq::DType::Float32) tensors.emplace_back(t.f32().begin(), t.f32().end());
      });
      const std::string method = argc > 6 ? argv[6] : "kl";
      const auto cali = mixq::calib::parse_cali_method(method);
      std::vector<mixq::calib::TensorStats> stats;
      const int count = static_cast<int>(tensors.size());
      for (int k = 0; k < count; ++k) {
        int64_t keep = 0;
        if (cali == mixq::calib::CaliMethod::Percentile9999) {
          keep = mixq::calib::percentile_keep(mixq::calib::percentile_for_layer(k, count), repeat + 1,
                                              static_cast<int64_t>(tensors[static_cast<size_t>(k)].size()));
        }
        stats.emplace_back(mixq::calib::stats_config_for(cali, 2048, keep));
      }
      std::vector<double> per_sample;
      double first_ms = 0;             // the first sample sets ranges (and percentile9999's first extremes)
      size_t values = 0, nonzero = 0;  // (a histogram counts each nonzero |x|)
      for (const auto& t : tensors) {
        values += t.size();
        for (float v : t) nonzero += v != 0.f;
      }
      volatile float sink = 0;
      for (int i = 0; i < repeat + 1; ++i) {
        double ms = 0;
        for (size_t k = 0; k < tensors.size(); ++k) {
          float warm = 0;  // in cache, as a tensor the executor has just written
          for (float v : tensors[k]) warm += v;
          sink = sink + warm;
          const double t0 = now_ms();
          stats[k].add(tensors[k]);
          ms += now_ms() - t0;
        }
        if (i > 0)
          per_sample.push_back(ms);
        else
          first_ms = ms;
      }
      double total = 0;  // percentile9999's first samples cost more: the mean shows them
      for (double ms : per_sample) total += ms;
      std::sort(per_sample.begin(), per_sample.end());
      std::printf("stats_ms_per_sample median=%.3f min=%.3f mean=%.3f first=%.3f tensors=%zu values=%zu nonzero=%zu\n",
                  per_sample[per_sample.size() / 2], per_sample[0], total / static_cast<double>(per_sample.size()),
                  first_ms, tensors.size(), values, nonzero);
      return 0;
    }
    std::vector<double> ms, tap_ms;
    for (int i = 0; i < repeat; ++i) {
      double t0 = now_ms();
      ex.run(feed);
      ms.push_back(now_ms() - t0);
      if (tapped) {
        t0 = now_ms();
        tapped->run(feed, [](const std::string&, const mixq::Tensor&) {});
        tap_ms.push_back(now_ms() - t0);
      }
    }
    auto median_of = [](std::vector<double>& v) {
      std::sort(v.begin(), v.end());
      return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
    };
    double median = median_of(ms);
    std::printf("latency_ms median=%.3f min=%.3f macs=%lld threads=%d\n", median, ms[0], (long long)ex.macs(),
                ex.threads());
    if (tapped) {
      const double tap_median = median_of(tap_ms);  // sorts
      std::printf("tap_latency_ms median=%.3f min=%.3f fused_nodes=%d fused_with_tap=%d\n", tap_median, tap_ms[0],
                  ex.fused_nodes(), tapped->fused_nodes_with_tap());
    }
    if (mode == "profile" || mode == "profile_all")
      print_profile(ex, am, feed, repeat, mode == "profile_all" || std::getenv("MIXQ_PROFILE_ALL"));
    if (mode == "profile_fused") {
      mixq::ExecOptions eo{threads};
      eo.observe = mixq::calib::calibrated_tensors(am);
      mixq::Executor fused(am, eo);
      print_profile(fused, am, feed, repeat, true);
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mixq_exec_bench: %s\n", e.what());
    return 2;
  }
}
