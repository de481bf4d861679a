// mixq info MODEL [--input_shapes] [--mlir] [--json FILE] [--all]
#include <cstdio>

#include "cli/commands.h"
#include "io/model_file.h"
#include "mixq/analysis.h"
#include "mixq/info_report.h"

namespace mixq::cli {

void add_info_command(CLI::App& app) {
  struct Opts {
    std::string model, input_shapes, mlir, json;
    bool all = false;
  };
  auto opts = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand("info", "Inputs, outputs, op types and the TPU-MLIR layer names of a model");
  cmd->add_option("MODEL", opts->model, "ONNX model")->required();
  cmd->add_option("--input_shapes", opts->input_shapes, "fix input shapes, e.g. [[1,3,640,640]]");
  cmd->add_option("--mlir", opts->mlir, "top .mlir from model_transform.py: the authority for layer names");
  cmd->add_option("--json", opts->json, "write the JSON report to FILE ('-' = stdout)");
  cmd->add_flag("--all", opts->all, "list every layer in the text report");
  cmd->callback([opts] {
    AnalyzedModel am = native::analyze_model_file(opts->model, opts->input_shapes, opts->mlir);
    if (!opts->json.empty()) write_json_report(opts->json, info_json(am));
    if (opts->json != "-") {
      std::string text = info_text(am, opts->all);
      std::fwrite(text.data(), 1, text.size(), stdout);
    }
    g_exit_code = 0;
  });
}

}  // namespace mixq::cli
