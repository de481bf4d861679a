// mixq run MODEL --test_input IN.npz -o OUT.npz [--dump_all] [--keys tpu|onnx] [--repeat N]
// FP32 reference inference with the core Executor (spec/cli.md).
#include <algorithm>
#include <chrono>
#include <cstdio>

#include "cli/commands.h"
#include "io/file_io.h"
#include "mixq/analysis.h"
#include "mixq/error.h"
#include "mixq/exec/executor.h"
#include "mixq/npz.h"

namespace mixq::cli {

namespace {

// ONNX tensor name -> TPU-MLIR key: a layer's name for its outputs[0], bare names for
// graph inputs, "<tensor>_<op_type>" for further outputs of multi-output layers.
std::map<std::string, std::string> tpu_keys(const AnalyzedModel& am) {
  std::map<std::string, std::string> keys;
  for (const Layer& l : am.layers.layers) {
    for (size_t i = 0; i < l.outputs.size(); ++i) {
      if (l.is_input())
        keys[l.outputs[i]] = l.name;
      else
        keys[l.outputs[i]] = i == 0 ? l.name : l.outputs[i] + "_" + l.op_type;
    }
  }
  return keys;
}

}  // namespace

void add_run_command(CLI::App& app) {
  struct Opts {
    std::string model, test_input, output, keys = "tpu", input_shapes, mlir, json;
    bool dump_all = false, compress = false, profile = false;
    int repeat = 0, threads = 0;
  };
  auto opts = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand("run", "FP32 reference inference (the executor), optionally benchmarked");
  cmd->add_option("MODEL", opts->model, "ONNX model")->required();
  cmd->add_option("--test_input", opts->test_input, "inputs: .npz keyed by input name, or one .npy")->required();
  cmd->add_option("-o,--output", opts->output, "output .npz (graph outputs, or every tensor with --dump_all)")
      ->required();
  cmd->add_flag("--dump_all", opts->dump_all, "write every tensor, not only the graph outputs");
  cmd->add_option("--keys", opts->keys, "npz keys: tpu (TPU-MLIR layer names) or onnx (ONNX tensor names)")
      ->check(CLI::IsMember({"tpu", "onnx"}));
  cmd->add_option("--repeat", opts->repeat, "benchmark: one warm-up, then N timed inferences")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--threads", opts->threads, "worker threads (default: all cores)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--input_shapes", opts->input_shapes,
                  "fix input shapes, e.g. [[1,3,640,640]] (default: from the inputs)");
  cmd->add_option("--mlir", opts->mlir, "top .mlir from model_transform.py: the authority for layer names");
  cmd->add_flag("--profile", opts->profile,
                "print the time spent per op type (two extra tapped runs, the second is reported)");
  cmd->add_flag("--compress", opts->compress, "deflate-compress the output npz");
  cmd->add_option("--json", opts->json, "write the JSON report to FILE ('-' = stdout)");
  cmd->callback([opts] {
    auto in_bytes = native::read_file(opts->test_input);
    NpzArrays inputs;
    bool lone_npy = !looks_like_npz(in_bytes);
    if (lone_npy)
      inputs[""] = read_npy(in_bytes, opts->test_input);
    else
      inputs = read_npz(in_bytes, opts->test_input);

    auto model_bytes = native::read_file(opts->model);
    AnalyzeOptions ao;
    ao.load = native::load_options_for(opts->model);
    if (!opts->mlir.empty()) {
      ao.mlir_text = native::read_text_file(opts->mlir);
      ao.mlir_source = opts->mlir;
    }
    // Input shapes: --input_shapes, else those of the given arrays (so dynamic models run).
    Model model = load_onnx(model_bytes, ao.load);
    const std::vector<ValueInfo> graph_inputs = model.graph.inputs;
    if (lone_npy) {
      require(graph_inputs.size() == 1, opts->test_input + ": a lone .npy can only feed a model with one input; " +
                                            opts->model + " has " + std::to_string(graph_inputs.size()));
      inputs[graph_inputs[0].name] = std::move(inputs[""]);
      inputs.erase("");
    }
    if (!opts->input_shapes.empty()) {
      ao.input_shapes = parse_input_shapes(opts->input_shapes);
    } else {
      for (const ValueInfo& vi : graph_inputs) {
        auto it = inputs.find(vi.name);
        require(it != inputs.end(), opts->test_input + ": no array for model input '" + vi.name + "'");
        ao.input_shapes.push_back(it->second.shape());
      }
    }
    AnalyzedModel am = analyze_model(std::move(model), ao);
    Executor exec(am, ExecOptions{opts->threads});
    std::map<std::string, Tensor> feed;
    for (const auto& spec : exec.inputs()) {
      auto it = inputs.find(spec.name);
      require(it != inputs.end(), opts->test_input + ": no array for model input '" + spec.name + "'");
      feed[spec.name] = it->second;
    }
    for (const auto& [name, t] : inputs)
      require(feed.count(name), opts->test_input + ": array '" + name + "' is not an input of " + opts->model);

    bool tpu = opts->keys == "tpu";
    auto keys = tpu ? tpu_keys(am) : std::map<std::string, std::string>();
    auto key_of = [&](const std::string& onnx) -> std::string {
      if (!tpu) return onnx;
      auto it = keys.find(onnx);
      return it == keys.end() ? std::string() : it->second;
    };
    // Each tensor goes into the archive as it is produced (not kept): peak memory is about
    // the archive, not the archive plus every tensor.
    NpzWriter npz(opts->compress);
    Executor::Tap tap;
    if (opts->dump_all) {
      tap = [&](const std::string& name, const Tensor& t) {
        std::string k = key_of(name);
        if (!k.empty() && !npz.contains(k)) npz.add(k, t);
      };
    }
    auto outputs = exec.run(feed, tap);
    for (auto& [name, t] : outputs) {
      std::string k = key_of(name);
      if (!npz.contains(k.empty() ? name : k)) npz.add(k.empty() ? name : k, t);
    }
    const size_t arrays = npz.size();
    const std::vector<uint8_t> bytes = npz.finish();
    native::write_file_atomic(opts->output, bytes.data(), bytes.size());

    nlohmann::json report;
    report["model"] = opts->model;
    report["threads"] = exec.threads();
    report["arrays"] = arrays;
    for (const std::string& o : exec.outputs()) {
      std::string k = key_of(o);
      report["outputs"].push_back({{"onnx_name", o}, {"key", k.empty() ? o : k}, {"shape", am.shapes.find(o)->shape}});
    }
    std::string text = "wrote " + std::to_string(arrays) + " arrays to " + opts->output + "\n";
    if (opts->repeat > 0) {
      exec.run(feed);  // warm-up
      std::vector<double> ms;
      for (int i = 0; i < opts->repeat; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        exec.run(feed);
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      }
      std::sort(ms.begin(), ms.end());
      double median = ms.size() % 2 ? ms[ms.size() / 2] : 0.5 * (ms[ms.size() / 2 - 1] + ms[ms.size() / 2]);
      double gflops = 2.0 * double(exec.macs()) / (median * 1e6);
      char line[200];
      std::snprintf(line, sizeof line, "latency_ms median=%.3f min=%.3f (threads=%d, %.2f GFLOP/s)\n", median, ms[0],
                    exec.threads(), gflops);
      text += line;
      double mean = 0;  // throughput's latency (what a samples/s figure compares with)
      for (double m : ms) mean += m / static_cast<double>(ms.size());
      report["latency_ms"] = {{"median", median}, {"mean", mean}, {"min", ms[0]}, {"repeat", opts->repeat}};
      report["gflops"] = gflops;
    }
    if (opts->profile) {
      // Time between consecutive tap calls, attributed to the op producing the tensor; the
      // second of two tapped runs is reported (the first one allocates the tapped path's
      // buffers, whose page faults would be charged to the first ops touching them).
      std::map<std::string, double> per_op;
      std::vector<std::pair<double, std::string>> per_node;
      auto last = std::chrono::steady_clock::now();
      const Graph& g = am.model.graph;
      exec.run(feed, [](const std::string&, const Tensor&) {});
      last = std::chrono::steady_clock::now();
      exec.run(feed, [&](const std::string& name, const Tensor&) {
        auto now = std::chrono::steady_clock::now();
        int p = g.producer(name);
        double ms = std::chrono::duration<double, std::milli>(now - last).count();
        per_op[p >= 0 ? g.nodes[p].op_type : "Input"] += ms;
        if (p >= 0) per_node.push_back({ms, g.nodes[p].describe() + " " + shape_str(am.shapes.find(name)->shape)});
        last = std::chrono::steady_clock::now();
      });
      std::vector<std::pair<double, std::string>> rows;
      for (auto& [op, ms] : per_op) rows.push_back({ms, op});
      std::sort(rows.rbegin(), rows.rend());
      for (auto& [ms, op] : rows) {
        char line[120];
        std::snprintf(line, sizeof line, "  %-24s %9.3f ms\n", op.c_str(), ms);
        text += line;
        report["profile_ms"][op] = ms;
      }
      std::sort(per_node.rbegin(), per_node.rend());
      text += "  slowest nodes:\n";
      for (size_t i = 0; i < per_node.size() && i < 12; ++i) {
        char line[300];
        std::snprintf(line, sizeof line, "  %9.3f ms  %s\n", per_node[i].first, per_node[i].second.c_str());
        text += line;
      }
    }
    report["macs"] = exec.macs();
    if (!opts->json.empty()) write_json_report(opts->json, report);
    if (opts->json != "-") std::fwrite(text.data(), 1, text.size(), stdout);
    g_exit_code = 0;
  });
}

}  // namespace mixq::cli
