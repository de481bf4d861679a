// mixq fp_forward MODEL --chip CHIP -o QTABLE [--fpfwd_inputs] [--fpfwd_outputs]
//   [--fpfwd_blocks] [--fp_type auto|F16|F32|BF16] [--yolo_heads] [--first_convs K]
// fp_forward.py semantics (spec/tpu-mlir-compat.md section 5); unknown names exit 2.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "io/file_io.h"
#include "io/model_file.h"
#include "mixq/analysis.h"
#include "mixq/chip.h"
#include "mixq/error.h"
#include "mixq/fp_forward.h"
#include "mixq/qtable.h"

namespace mixq::cli {

void add_fp_forward_command(CLI::App& app) {
  struct Opts {
    std::string model, chip, output, inputs, outputs, blocks, fp_type = "auto", mlir, json, input_shapes;
    bool yolo_heads = false;
    int first_convs = 0;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand("fp_forward", "Write a qtable keeping chosen layers (and their closure) in float");
  cmd->add_option("MODEL", o->model, "ONNX model")->required();
  cmd->add_option("--chip", o->chip, "target chip (bm1684, bm1684x, bm1688, cv186x, bm1690, cv18xx, mars3)")
      ->required();
  cmd->add_option("-o,--output", o->output, "qtable to write")->required();
  cmd->add_option("--fpfwd_inputs", o->inputs, "a,b: these layers and all their ancestors become float");
  cmd->add_option("--fpfwd_outputs", o->outputs, "c,d: these layers and all their descendants become float");
  cmd->add_option("--fpfwd_blocks", o->blocks, "\"s1,s2:e1,e2\": descendants(starts) and ancestors(ends) become float");
  cmd->add_option("--fp_type", o->fp_type, "auto|F16|F32|BF16 (auto: the chip's float type)");
  cmd->add_flag("--yolo_heads", o->yolo_heads, "the detection-head convs and everything after them become float");
  cmd->add_option("--first_convs", o->first_convs, "also the first K convs")->check(CLI::NonNegativeNumber);
  cmd->add_option("--mlir", o->mlir, "top .mlir from model_transform.py: the authority for layer names");
  cmd->add_option("--input_shapes", o->input_shapes, "fix input shapes, e.g. [[1,3,640,640]]");
  cmd->add_option("--json", o->json, "write the JSON report to FILE ('-' = stdout)");
  cmd->callback([o] {
    const ChipProfile& chip = chip_profile(o->chip);
    std::string fp = o->fp_type;
    for (auto& c : fp) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    require(fp == "AUTO" || fp == "F16" || fp == "F32" || fp == "BF16",
            "--fp_type: '" + o->fp_type + "' (expected auto, F16, F32 or BF16)");
    std::string mode = normalize_mode(chip, fp);
    require(chip.supports(mode), "--fp_type: " + chip.name + " cannot run " + mode + " (its float type is " +
                                     chip.float_type + "; use --fp_type auto)");
    FpForwardOptions fo;
    fo.inputs = split_names(o->inputs);
    fo.outputs = split_names(o->outputs);
    fo.blocks = parse_fpfwd_blocks(o->blocks);
    fo.yolo_heads = o->yolo_heads;
    fo.first_convs = o->first_convs;
    require(!fo.inputs.empty() || !fo.outputs.empty() || !fo.blocks.empty() || fo.yolo_heads || fo.first_convs > 0,
            "fp_forward: nothing selected (give --fpfwd_inputs, --fpfwd_outputs, --fpfwd_blocks, --yolo_heads or "
            "--first_convs)");
    AnalyzeOptions ao = native::analyze_options_for(o->model, o->input_shapes, o->mlir);
    auto bytes = native::read_file(o->model);
    AnalyzedModel am = analyze_model(bytes, ao);
    FpForwardResult r = fp_forward(am.layers, fo);
    std::vector<std::pair<int, std::string>> lm;
    for (int l : r.layers) lm.push_back({l, mode});
    std::string text = write_qtable(am.layers, lm, {native::generated_time_now(), chip.name, std::nullopt});
    native::write_file_atomic(o->output, text);
    if (!o->json.empty()) {
      nlohmann::json j;
      nlohmann::json layers = nlohmann::json::array(), heads = nlohmann::json::array();
      for (int l : r.layers) layers.push_back({{"name", am.layers.layers[l].name}, {"mode", mode}});
      for (int l : r.head_convs) heads.push_back(am.layers.layers[l].name);
      j["layers"] = layers;
      j["head_convs"] = heads;
      j["notes"] = r.notes;
      j["summary"] = {{"chip", chip.name},
                      {"fp_type", mode},
                      {"float_layers", r.layers.size()},
                      {"total_layers", am.layers.layers.size()},
                      {"output", o->output}};
      make_utf8_safe(j);
      write_json_report(o->json, j);
    }
    if (o->json != "-") {
      for (const auto& n : r.notes) std::printf("note: %s\n", n.c_str());
      if (o->yolo_heads) {
        std::printf("detection-head convs:");
        for (int l : r.head_convs) std::printf(" %s", am.layers.layers[l].name.c_str());
        std::printf("\n");
      }
      std::printf("wrote %s: %zu of %zu layers in %s\n", o->output.c_str(), r.layers.size(), am.layers.layers.size(),
                  mode.c_str());
    }
    g_exit_code = 0;
  });
}

}  // namespace mixq::cli
