// mixq qtable check MODEL QTABLE [--chip] [--reference OLD_MODEL] [--mlir] [--json]
// mixq qtable fix MODEL QTABLE -o FIXED [--chip] [--reference] [--min_confidence C]
// spec/cli.md; the report is core/mixq/qtable.h's qtable_report_json.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "io/file_io.h"
#include "io/model_file.h"
#include "mixq/analysis.h"
#include "mixq/qtable.h"

namespace mixq::cli {
namespace {

struct QtOpts {
  std::string model, qtable, chip = "bm1684x", reference, mlir, json, output, input_shapes;
  double min_confidence = 0.5;
  bool verbose = false;
};

void add_common(CLI::App* cmd, QtOpts& o) {
  cmd->add_option("MODEL", o.model, "ONNX model the qtable is for")->required();
  cmd->add_option("QTABLE", o.qtable, "quantize table (model_deploy.py --quantize_table)")->required();
  cmd->add_option("--chip", o.chip, "target chip (bm1684, bm1684x, bm1688, cv186x, bm1690, cv18xx, ...)");
  cmd->add_option("--reference", o.reference, "the model the qtable was written for (exact structural mapping)");
  cmd->add_option("--mlir", o.mlir, "top .mlir from model_transform.py: the authority for layer names");
  cmd->add_option("--input_shapes", o.input_shapes, "fix input shapes, e.g. [[1,3,640,640]]");
  cmd->add_option("--json", o.json, "write the JSON report to FILE ('-' = stdout)");
}

AnalyzedModel open_model(const std::string& path, const QtOpts& o, bool with_mlir) {
  return native::analyze_model_file(path, o.input_shapes, with_mlir ? o.mlir : std::string());
}

}  // namespace

void add_qtable_command(CLI::App& app) {
  CLI::App* group = app.add_subcommand("qtable", "Check and repair TPU-MLIR quantize tables");
  group->require_subcommand(1);

  auto co = std::make_shared<QtOpts>();
  CLI::App* check = group->add_subcommand("check", "Classify every qtable line as TPU-MLIR reads it; suggest fixes");
  add_common(check, *co);
  check->add_flag("--verbose", co->verbose, "also list the ok lines");
  check->callback([co] {
    const ChipProfile& chip = chip_profile(co->chip);
    AnalyzedModel am = open_model(co->model, *co, true);
    std::unique_ptr<AnalyzedModel> ref;
    if (!co->reference.empty()) ref = std::make_unique<AnalyzedModel>(open_model(co->reference, *co, false));
    std::string text = native::read_text_file(co->qtable);
    QTableReport rep = check_qtable(am, text, chip, ref.get());
    if (!co->json.empty()) write_json_report(co->json, qtable_report_json(rep));
    if (co->json != "-") {
      std::string t = qtable_report_text(rep, co->verbose);
      std::fwrite(t.data(), 1, t.size(), stdout);
    }
    g_exit_code = rep.all_ok() ? 0 : 1;
  });

  auto fo = std::make_shared<QtOpts>();
  CLI::App* fix = group->add_subcommand("fix", "Write a qtable TPU-MLIR accepts: names mapped, modes normalized");
  add_common(fix, *fo);
  fix->add_option("-o,--output", fo->output, "fixed qtable to write")->required();
  fix->add_option("--min_confidence", fo->min_confidence, "apply suggestions at or above this confidence (default 0.5)")
      ->check(CLI::Range(0.0, 1.0));
  fix->callback([fo] {
    const ChipProfile& chip = chip_profile(fo->chip);
    AnalyzedModel am = open_model(fo->model, *fo, true);
    std::unique_ptr<AnalyzedModel> ref;
    if (!fo->reference.empty()) ref = std::make_unique<AnalyzedModel>(open_model(fo->reference, *fo, false));
    std::string text = native::read_text_file(fo->qtable);
    QTableReport rep = check_qtable(am, text, chip, ref.get());
    QTableFix f =
        fix_qtable(am, rep, chip, fo->min_confidence, {native::generated_time_now(), chip.name, std::nullopt});
    native::write_file_atomic(fo->output, f.text);
    if (!fo->json.empty()) write_json_report(fo->json, qtable_fix_json(rep, f));
    if (fo->json != "-") {
      for (const auto& c : f.changes) {
        if (c.action == "kept") continue;
        std::printf("line %d: %s: %s%s%s\n", c.line, c.action.c_str(), c.before.c_str(),
                    c.after.empty() ? "" : (" -> " + c.after).c_str(),
                    c.reason.empty() ? "" : ("\n    " + c.reason).c_str());
      }
      std::printf("wrote %s: %d entries (%d input lines dropped)\n", fo->output.c_str(), f.written, f.dropped);
    }
    g_exit_code = f.dropped == 0 ? 0 : 1;
  });
}

}  // namespace mixq::cli
