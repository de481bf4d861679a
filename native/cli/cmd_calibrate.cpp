// mixq calibrate MODEL (--dataset DIR | --data_list FILE) -o CALI_TABLE
// run_calibration.py's job (spec/cli.md, spec/tpu-mlir-compat.md sections 3-4) on the core
// calibration engine; also checks an existing table (--check_table) and exports the
// thresholds as a TensorRT calibration cache and onnxruntime-style JSON ranges.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>

#include "cli/commands.h"
#include "io/file_io.h"
#include "io/model_file.h"
#include "mixq/analysis.h"
#include "mixq/calib/calibrate.h"
#include "mixq/calib/statistics.h"
#include "mixq/error.h"
#include "mixq/log.h"

namespace mixq::cli {

namespace {

// Every regular file under `dir`, as "<dir>/<relative path>" (pathlib's glob('**/*')).
std::vector<std::string> list_dataset(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  require(fs::is_directory(dir, ec), dir + ": --dataset is not a directory");
  std::vector<std::string> out;
  fs::path root(dir);
  for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::follow_directory_symlink, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec)) out.push_back((root / fs::relative(it->path(), root, ec)).generic_string());
  }
  require(!ec, dir + ": cannot list: " + ec.message());
  return out;
}

class ProgressBar {
 public:
  ProgressBar() : tty_(isatty(2) != 0) {}
  bool update(const std::string& stage, size_t done, size_t total) {
    if (!tty_ || total == 0) return true;
    const int width = 30;
    int filled = static_cast<int>(width * done / total);
    std::fprintf(stderr, "\r%-9s [%s%s] %zu/%zu", stage.c_str(), std::string(filled, '#').c_str(),
                 std::string(width - filled, ' ').c_str(), done, total);
    if (done == total) std::fprintf(stderr, "\n");
    std::fflush(stderr);
    return true;
  }

 private:
  bool tty_;
};

// --merge_stats F1,F2,...: reads the saved statistics of each shard (in sample order),
// merges them and computes the table; the method and its settings come from the files.
calib::CalibrationResult merge_saved_statistics(const AnalyzedModel& am, const std::string& list,
                                                calib::CalibrateOptions& co, bool method_given,
                                                const std::string& save_stats, nlohmann::json* report) {
  std::vector<std::string> files;
  size_t start = 0;
  while (true) {
    const size_t comma = list.find(',', start);
    files.push_back(list.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    require(!files.back().empty(),
            "--merge_stats: expected comma-separated file names, got an empty one in '" + list + "'");
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  std::vector<calib::CalibrationStatistics> shards;
  for (const auto& f : files) {
    shards.push_back(calib::read_statistics(native::read_file(f), f));
    const auto& layers = am.layers.layers;
    const auto& names = shards.back().layers;
    require(names.size() == layers.size(), f + ": layer count: expected " + std::to_string(layers.size()) +
                                               " (the model's), got " + std::to_string(names.size()) +
                                               ": statistics of another model?");
    for (size_t i = 0; i < names.size(); i++) {
      require(names[i] == layers[i].name, f + ": layer " + std::to_string(i) + ": expected '" + layers[i].name +
                                              "' (the model's), got '" + names[i] + "': statistics of another model?");
    }
  }
  calib::CalibrationStatistics merged = calib::merge_statistics(shards, files);
  require(!method_given || merged.method == co.method,
          std::string("--cali_method: expected ") + calib::cali_method_name(merged.method) +
              " (the saved statistics hold what that method needs), got " + calib::cali_method_name(co.method));
  require(co.tune_num == 0, "--tune_num: tuning runs the model on samples; it is not available with --merge_stats");
  co.method = merged.method;
  co.histogram_bins = merged.histogram_bins;
  co.int4_th = merged.int4_th;
  co.part_asymmetric = merged.part_asymmetric;
  if (!save_stats.empty()) {
    auto bytes = calib::write_statistics(merged);
    native::write_file_atomic(save_stats, bytes.data(), bytes.size());
  }
  (*report)["merged_stats"] = files;
  calib::CalibrationResult r = calib::thresholds_from_statistics(am, merged, co);
  for (const auto& w : r.warnings) log_warning(w);
  return r;
}

}  // namespace

void add_calibrate_command(CLI::App& app) {
  struct Opts {
    std::string model, dataset, data_list, output, cali_method = "kl", input_shapes, mlir, json, trt_cache, ort_json,
                                                   check_table, save_stats, merge_stats;
    int input_num = 0, histogram_bin_num = 2048, tune_num = 0, threads = 0;
    int64_t shard_total_num = 0;
    std::string resize_dims, mean = "0,0,0", scale = "1,1,1", pixel_format = "bgr", channel_format = "nchw",
                             pad_type = "center";
    int pad_value = 0;
    bool keep_aspect_ratio = false, int4_th = false, part_asymmetric = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand("calibrate", "calibration table (run_calibration.py) from a dataset");
  cmd->add_option("MODEL", o->model, "ONNX model")->required();
  auto* ds = cmd->add_option("--dataset", o->dataset, "directory of npz/npy/jpg/jpeg/png/bmp/jfif samples (recursive)");
  auto* dl = cmd->add_option("--data_list", o->data_list, "file with one sample a line (comma-separated per input)");
  ds->excludes(dl);
  cmd->add_option("-o,--calibration_table", o->output, "output calibration table");
  cmd->add_option("--input_num", o->input_num, "number of samples (0 = all)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--cali_method", o->cali_method, "kl|max|percentile9999|mse|aciq_gauss|aciq_laplace|admm");
  cmd->add_option("--histogram_bin_num", o->histogram_bin_num, "histogram bins (default 2048)");
  cmd->add_option("--tune_num", o->tune_num, "samples for the tune step (0 = no tuning)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--threads", o->threads, "worker threads (default: all cores)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--input_shapes", o->input_shapes, "fix input shapes, e.g. [[1,3,640,640]]");
  cmd->add_option("--mlir", o->mlir, "top .mlir from model_transform.py: the authority for layer names");
  cmd->add_option("--resize_dims", o->resize_dims, "resize images to H,W (default: the input's H,W)");
  cmd->add_flag("--keep_aspect_ratio", o->keep_aspect_ratio, "letterbox resize");
  cmd->add_option("--pad_value", o->pad_value, "letterbox pad value (default 0)");
  cmd->add_option("--pad_type", o->pad_type, "center|normal (default center)");
  cmd->add_option("--mean", o->mean, "per-channel mean (default 0,0,0)");
  cmd->add_option("--scale", o->scale, "per-channel scale (default 1,1,1)");
  cmd->add_option("--pixel_format", o->pixel_format, "rgb|bgr|gray (default bgr)");
  cmd->add_option("--channel_format", o->channel_format, "nchw|nhwc (default nchw)");
  cmd->add_flag("--int4_th", o->int4_th, "also write the #int4_th section (kl with 8 target bins)");
  cmd->add_flag("--part_asymmetric", o->part_asymmetric,
                "SiLU/GELU layers feeding only Conv/MatMul get asymmetric ranges (#asym_op section)");
  cmd->add_option("--trt_cache", o->trt_cache, "also write a TensorRT calibration cache");
  cmd->add_option("--ort_json", o->ort_json, "also write onnxruntime-style JSON ranges");
  cmd->add_option("--check_table", o->check_table,
                  "check an existing calibration table against MODEL (rows TPU-MLIR drops, unknown names)");
  cmd->add_option("--save_stats", o->save_stats,
                  "also write this run's statistics to FILE (for --merge_stats; shards of a dataset "
                  "computed apart)");
  auto* merge = cmd->add_option("--merge_stats", o->merge_stats,
                                "F1,F2,...: the table from saved statistics of disjoint sample shards, in sample "
                                "order, without running the model");
  merge->excludes(ds)->excludes(dl);
  cmd->add_option("--shard_total_num", o->shard_total_num,
                  "with --save_stats: samples over all shards, so percentile9999 keeps the extremes an exact "
                  "merge needs")
      ->check(CLI::NonNegativeNumber);
  auto* method_opt = cmd->get_option("--cali_method");
  cmd->add_option("--json", o->json, "write the JSON report to FILE ('-' = stdout)");
  cmd->callback([o, method_opt] {
    AnalyzedModel am = native::analyze_model_file(o->model, o->input_shapes, o->mlir);
    nlohmann::json report;
    report["model"] = o->model;
    std::string text;
    int exit_code = 0;

    if (!o->check_table.empty()) {
      auto rep = calib::read_cali_table(native::read_text_file(o->check_table), o->check_table);
      calib::check_cali_table(rep, am.layers);
      nlohmann::json issues = nlohmann::json::array();
      for (const auto& i : rep.issues) {
        issues.push_back(
            {{"line", i.line},
             {"name", i.name},
             {"status", i.status},
             {"message", i.message},
             {"suggestion", i.suggestion.empty() ? nlohmann::json(nullptr) : nlohmann::json(i.suggestion)}});
        text += o->check_table + (i.line ? ":" + std::to_string(i.line) : "") + ": " + i.status + ": " + i.message +
                (i.suggestion.empty() ? "" : " -> use '" + i.suggestion + "'") + "\n";
      }
      report["check"] = {
          {"rows", rep.table.rows.size()}, {"issues", issues}, {"layers_without_row", rep.layers_without_row}};
      text += o->check_table + ": " + std::to_string(rep.table.rows.size()) + " rows, " +
              std::to_string(rep.issues.size()) + " issue(s), " + std::to_string(rep.layers_without_row.size()) +
              " layer(s) without a row (TPU-MLIR quantizes those without calibration)\n";
      if (!rep.issues.empty() || !rep.layers_without_row.empty()) exit_code = 1;
    }

    const bool run_model = !o->dataset.empty() || !o->data_list.empty();
    if (run_model || !o->merge_stats.empty()) {
      require(!o->output.empty(), "calibrate: -o CALI_TABLE is required with --dataset/--data_list/--merge_stats");
      calib::CalibrateOptions co;
      co.method = calib::parse_cali_method(o->cali_method);
      co.histogram_bins = o->histogram_bin_num;
      co.tune_num = o->tune_num;
      co.threads = o->threads;
      co.int4_th = o->int4_th;
      co.part_asymmetric = o->part_asymmetric;
      co.shard_total_samples = o->shard_total_num;
      auto& p = co.preprocess;
      if (!o->resize_dims.empty()) p.resize_dims = calib::parse_int_list(o->resize_dims, "--resize_dims");
      p.keep_aspect_ratio = o->keep_aspect_ratio;
      p.pad_value = o->pad_value;
      p.pad_type = o->pad_type;
      p.mean = calib::parse_float_list(o->mean, "--mean");
      p.scale = calib::parse_float_list(o->scale, "--scale");
      p.pixel_format = o->pixel_format;
      p.channel_format = o->channel_format;
      calib::validate(p);
      auto bar = std::make_shared<ProgressBar>();
      co.progress = [bar](const std::string& stage, size_t done, size_t total) {
        return bar->update(stage, done, total);
      };
      calib::CalibrationResult r;
      if (run_model) {
        calib::DataSelection sel =
            !o->dataset.empty()
                ? calib::select_dataset(list_dataset(o->dataset), o->input_num, o->dataset)
                : calib::parse_data_list(native::read_text_file(o->data_list), o->input_num, o->data_list);
        if (sel.kind == calib::DataKind::Image && o->json != "-") {
          for (const Layer& l : am.layers.layers)
            if (l.is_input()) std::fprintf(stderr, "preprocess: %s\n", calib::describe(p, l.shape).c_str());
        }
        calib::ReadSampleFile read = [](const std::string& f) { return native::read_file(f); };
        calib::Calibration run(am, sel, read, co);
        while (run.step()) {
          if (!bar->update("inference", run.batches_done(), run.batches_total())) throw Error("calibration cancelled");
        }
        if (!o->save_stats.empty()) {
          auto bytes = calib::write_statistics(run.statistics());
          native::write_file_atomic(o->save_stats, bytes.data(), bytes.size());
        }
        r = run.finish();
      } else {
        r = merge_saved_statistics(am, o->merge_stats, co, method_opt->count() > 0, o->save_stats, &report);
      }

      calib::CaliTableHeader h;
      h.model_name = o->model;
      h.generated_time = native::generated_time_now();
      h.histogram_bins = co.histogram_bins;
      h.sample_number = r.samples;
      h.tune_number = r.tune_samples;
      native::write_file_atomic(o->output, calib::write_cali_table(h, r.table()));
      if (!o->trt_cache.empty())
        native::write_file_atomic(o->trt_cache, calib::write_tensorrt_cache(r.tensor_ranges()));
      if (!o->ort_json.empty())
        native::write_file_atomic(o->ort_json, calib::write_onnxruntime_ranges(r.tensor_ranges()));

      const double sps = r.seconds_inference > 0 ? r.samples / r.seconds_inference : 0;
      char line[256];
      std::snprintf(line, sizeof line,
                    "calibrated %zu layers with %s on %d samples (%d batches, %.2f samples/s), wrote %s\n",
                    r.layers.size(), calib::cali_method_name(co.method), r.samples, r.batches, sps, o->output.c_str());
      text += line;
      if (r.tune_samples > 0) text += "tuned thresholds on " + std::to_string(r.tune_samples) + " batch(es)\n";
      nlohmann::json layers = nlohmann::json::array();
      for (const auto& l : r.layers) {
        layers.push_back({{"name", l.layer},
                          {"tensor", l.tensor},
                          {"threshold", l.threshold},
                          {"min", l.min},
                          {"max", l.max},
                          {"untuned_threshold", l.untuned_threshold}});
      }
      report["calibration"] = {{"method", calib::cali_method_name(co.method)},
                               {"samples", r.samples},
                               {"batches", r.batches},
                               {"tune_samples", r.tune_samples},
                               {"samples_per_second", sps},
                               {"seconds_inference", r.seconds_inference},
                               {"seconds_loading", r.seconds_loading},
                               {"seconds_statistics", r.seconds_statistics},
                               {"statistics_copied", r.statistics_copied},
                               {"seconds_thresholds", r.seconds_thresholds},
                               {"preprocess", r.preprocess_description},
                               {"warnings", r.warnings},
                               {"layers", layers},
                               {"table", o->output}};
    } else {
      require(!o->check_table.empty(),
              "calibrate: give --dataset DIR or --data_list FILE (or --merge_stats FILES, or --check_table FILE)");
    }
    if (!o->json.empty()) write_json_report(o->json, report);
    if (o->json != "-") std::fwrite(text.data(), 1, text.size(), stdout);
    g_exit_code = exit_code;
  });
}

}  // namespace mixq::cli
