// qtable doctor: TPU-MLIR line rules, classification against a model and chip, writing,
// fixing, and repair accuracy on simulated re-exports of the shared models.
#include <catch2/catch.hpp>
#include <cstdio>
#include <set>

#include "mixq/analysis.h"
#include "mixq/chip.h"
#include "mixq/error.h"
#include "mixq/fp_forward.h"
#include "mixq/qtable.h"
#include "mixq/qtable_repair.h"
#include "support/onnx_builder.h"
#include "support/reexport.h"

using namespace mixq;
using mixq::test::OnnxBuilder;

namespace {

AnalyzedModel analyze(const std::vector<uint8_t>& bytes, const std::string& name = "m.onnx") {
  AnalyzeOptions o;
  o.load.source_name = name;
  return analyze_model(bytes, o);
}

// x -> Conv c1 -> Sigmoid s1 -> Mul m1 (SiLU) -> Conv c2 -> BN b2 -> Relu r2 -> Conv c3 -> y
std::vector<uint8_t> small_model() {
  OnnxBuilder b;
  b.input("x", {1, 3, 8, 8}).output("y");
  b.conv("x", "c1", 3, 4);
  b.node("Sigmoid", {"c1"}, {"s1"}, "sig1");
  b.node("Mul", {"c1", "s1"}, {"m1"}, "mul1");
  b.conv("m1", "c2", 4, 4);
  b.weight("bn_s", {4}, 1.0f).weight("bn_b", {4}, 0.0f).weight("bn_m", {4}, 0.0f).weight("bn_v", {4}, 1.0f);
  b.node("BatchNormalization", {"c2", "bn_s", "bn_b", "bn_m", "bn_v"}, {"b2"}, "bn2");
  b.node("Relu", {"b2"}, {"r2"}, "relu2");
  b.conv("r2", "y", 4, 2);
  return b.bytes();
}

const QTableEntry& entry_at(const QTableReport& r, int line) {
  for (const auto& e : r.entries)
    if (e.line == line) return e;
  FAIL("no entry for line " << line);
  return r.entries.front();
}

}  // namespace

TEST_CASE("qtable lines follow TPU-MLIR's reader exactly") {
  auto lines = parse_qtable_lines(
      "# comment\r\n\r\n   \nname F16\r\n  # indented\na\tBF16\n lead F16\ntrail F16 \n"
      "a b c\nx F16 # note\nlone\n#x y z\n");
  using K = QTableLine::Kind;
  REQUIRE(lines.size() == 12);
  CHECK(lines[0].kind == K::Comment);
  CHECK(lines[1].kind == K::Blank);
  CHECK(lines[2].kind == K::Blank);
  CHECK(lines[3].kind == K::Entry);
  CHECK(lines[3].tokens[1] == "F16");  // CRLF tolerated
  CHECK(lines[4].kind == K::Abort);    // an indented '#' is no comment
  CHECK(lines[5].kind == K::Entry);    // tab separator
  CHECK(lines[6].kind == K::Abort);
  CHECK(lines[6].problem == "leading blanks");
  CHECK(lines[7].kind == K::Abort);
  CHECK(lines[7].problem == "trailing blanks");
  CHECK(lines[8].kind == K::Abort);
  CHECK(lines[9].kind == K::Abort);
  CHECK(lines[9].problem.find("inline") != std::string::npos);
  CHECK(lines[10].kind == K::LoneToken);
  CHECK(lines[11].kind == K::Comment);
  CHECK(lines[11].line == 12);
}

TEST_CASE("chip profiles: modes, float types, cv18xx rules") {
  CHECK(chip_profile("BM1684").float_type == "F32");
  CHECK(chip_profile("bm1688").float_type == "F16");
  CHECK(chip_profile("cv186x").float_type == "F16");
  CHECK(chip_profile("bm1690").float_type == "F16");
  CHECK(chip_profile("cv181x").float_type == "BF16");
  CHECK(chip_profile("mars3").float_type == "BF16");
  CHECK_FALSE(chip_profile("bm1684").supports("F16"));
  CHECK_FALSE(chip_profile("bm1684x").supports("INT4"));
  CHECK(chip_profile("bm1688").supports("INT4"));
  CHECK(normalize_mode(chip_profile("cv183x"), "F32") == "BF16");
  CHECK(normalize_mode(chip_profile("bm1684x"), "AUTO") == "F16");
  REQUIRE_THROWS_WITH(chip_profile("bm9999"), Catch::Contains("bm1684x"));
}

TEST_CASE("check_qtable classifies every line with a message and a suggestion") {
  AnalyzedModel am = analyze(small_model());
  // layer names: c1_Conv, m1_Mul (SiLU), r2_Relu (Conv+BN+Relu), y_Conv
  REQUIRE(am.layers.find("m1_Mul") >= 0);
  REQUIRE(am.layers.find("r2_Relu") >= 0);
  std::string q =
      "# header\n"
      "c1_Conv F16\n"                // 2 ok
      "s1_Sigmoid F16\n"             // 3 vanished: SiLU's Sigmoid -> m1_Mul
      "c2_Conv F16\n"                // 4 vanished: Conv fused into Relu -> r2_Relu
      "b2_BatchNormalization F16\n"  // 5 vanished: BN folded
      "y F16\n"                      // 6 bare tensor -> y_Conv
      "FP16 F16\n"                   // 7 no such layer
      "y_Relu fp16\n"                // 8 wrong suffix + unknown mode
      "lone\n"                       // 9 ignored
      "c1_Conv BF16\n"               // 10 overrides line 2
      " x_in F16\n";                 // 11 leading blank
  QTableReport r = check_qtable(am, q, chip_profile("bm1684x"));
  REQUIRE(r.entries.size() == 10);
  CHECK(entry_at(r, 2).status == QStatus::Ignored);  // overridden by line 10
  CHECK(entry_at(r, 2).message.find("line 10") != std::string::npos);
  CHECK(entry_at(r, 10).status == QStatus::Ok);
  auto suggested = [&](int line) {
    return entry_at(r, line).suggestions.empty() ? std::string() : entry_at(r, line).suggestions[0].name;
  };
  CHECK(entry_at(r, 3).status == QStatus::Unmatched);
  CHECK(suggested(3) == "m1_Mul");
  CHECK(entry_at(r, 3).message.find("SiLU") != std::string::npos);
  CHECK(suggested(4) == "r2_Relu");
  CHECK(suggested(5) == "r2_Relu");
  CHECK(suggested(6) == "y_Conv");
  CHECK(entry_at(r, 7).status == QStatus::Unmatched);
  CHECK(entry_at(r, 8).status == QStatus::Invalid);
  CHECK(entry_at(r, 8).fixed_mode == "F16");
  CHECK(suggested(8) == "y_Conv");
  CHECK(entry_at(r, 9).status == QStatus::Ignored);
  CHECK(entry_at(r, 11).status == QStatus::Invalid);
  CHECK(entry_at(r, 11).message.find("leading blanks") != std::string::npos);
  for (const auto& e : r.entries) {
    CHECK_FALSE(e.message.empty());
    for (const auto& s : e.suggestions) CHECK((s.confidence >= 0.0 && s.confidence <= 1.0));
  }
  // lines 4 and 5 both aim at r2_Relu: reported, not silent
  CHECK_FALSE(entry_at(r, 4).conflicts.empty());
  auto j = qtable_report_json(r);
  CHECK(j["summary"]["ok"] == 1);
  CHECK(j["summary"]["ignored"] == 2);
  CHECK(j["entries"][0].contains("suggestion"));
  CHECK(j["entries"][1]["suggestion"]["name"] == "m1_Mul");
}

TEST_CASE("modes the chip cannot run are invalid, with the mode to use") {
  AnalyzedModel am = analyze(small_model());
  std::string q = "c1_Conv F16\nm1_Mul INT4\ny_Conv INT4\nr2_Relu F32\n";
  auto r1684 = check_qtable(am, q, chip_profile("bm1684"));
  CHECK(r1684.entries[0].status == QStatus::Invalid);
  CHECK(r1684.entries[0].fixed_mode == "F32");
  CHECK(r1684.entries[3].status == QStatus::Ok);
  auto r1684x = check_qtable(am, q, chip_profile("bm1684x"));
  CHECK(r1684x.entries[2].status == QStatus::Invalid);  // INT4 on bm1684x
  CHECK(r1684x.entries[2].fixed_mode == "INT8");
  auto r1688 = check_qtable(am, q, chip_profile("bm1688"));
  CHECK(r1688.entries[2].status == QStatus::Ok);       // INT4 Conv on bm1688
  CHECK(r1688.entries[1].status == QStatus::Invalid);  // INT4 on a SiLU
  CHECK(r1688.entries[1].fixed_mode == "INT8");
  auto rcv = check_qtable(am, q, chip_profile("cv183x"));
  CHECK(rcv.entries[0].status == QStatus::Ok);  // runs as BF16
  CHECK(rcv.entries[0].fixed_mode == "BF16");
}

TEST_CASE("write_qtable: generator header, model order, one line per layer") {
  AnalyzedModel am = analyze(small_model());
  int y = am.layers.find("y_Conv"), c1 = am.layers.find("c1_Conv");
  std::string t =
      write_qtable(am.layers, {{y, "F16"}, {c1, "F16"}, {y, "F16"}}, {"2024-01-01 12:00:00.000000", "bm1684x", {}});
  CHECK(t ==
        "# genetated time: 2024-01-01 12:00:00.000000\n# chip: bm1684x  mix_mode: F16\n# number of F16 layer: 2\n###\n"
        "# op_name   quantize_mode\nc1_Conv F16\ny_Conv F16\n");
  // and it reads back all ok
  CHECK(check_qtable(am, t, chip_profile("bm1684x")).all_ok());
}

TEST_CASE("fix_qtable reports every line and never maps two entries onto one layer") {
  AnalyzedModel am = analyze(small_model());
  std::string q =
      "c1_Conv FP16\ns1_Sigmoid F16\nc2_Conv F16\nb2_BatchNormalization BF16\nnothing_here F16\nlone\nm1 F16 # c\n";
  const ChipProfile& chip = chip_profile("bm1684x");
  QTableReport r = check_qtable(am, q, chip);
  QTableFix f = fix_qtable(am, r, chip, 0.5, {"T", "bm1684x", {}});
  CHECK(f.changes.size() == r.entries.size());
  std::set<int> lines;
  for (const auto& c : f.changes) lines.insert(c.line);
  CHECK(lines.size() == r.entries.size());
  QTableReport again = check_qtable(am, f.text, chip);
  CHECK(again.all_ok());
  std::set<std::string> names;
  for (const auto& e : again.entries) CHECK(names.insert(e.name).second);
  CHECK(names.count("c1_Conv"));
  CHECK(names.count("m1_Mul"));
  CHECK(names.count("r2_Relu"));
  CHECK(f.dropped >= 2);  // nothing_here, lone, and the conflicting BF16 for r2_Relu
  bool conflict_reported = false;
  for (const auto& c : f.changes)
    conflict_reported |= c.line == 4 && c.action == "dropped" && c.reason.find("conflict") != std::string::npos;
  CHECK(conflict_reported);
}

// [fp_forward] -----------------------------------------------------------------------------------

namespace {
// Independent closure: reachability over ONNX tensor names (not the layer index lists).
std::set<std::string> tensor_closure(const AnalyzedModel& am, const std::string& layer, bool forward) {
  const auto& L = am.layers.layers;
  std::set<std::string> names{layer};
  bool grew = true;
  while (grew) {
    grew = false;
    for (const auto& a : L)
      for (const auto& b : L) {
        if (names.count(b.name) || !names.count(a.name)) continue;
        // edge a -> b (forward) or b -> a (backward) when b reads a's output / a reads b's
        const Layer& from = forward ? a : b;
        const Layer& to = forward ? b : a;
        bool edge = false;
        for (const auto& t : to.input_tensors)
          for (const auto& o : from.outputs) edge |= t == o;
        if (edge) {
          names.insert(b.name);
          grew = true;
        }
      }
  }
  return names;
}
std::set<std::string> names_of(const AnalyzedModel& am, const std::vector<int>& ls) {
  std::set<std::string> r;
  for (int l : ls) r.insert(am.layers.layers[l].name);
  return r;
}
}  // namespace

TEST_CASE("fp_forward closures match an independent computation") {
  MIXQ_REQUIRE_SHARED(bytes, "models/yolov5n-0.5-face.onnx");
  AnalyzedModel am = analyze(bytes);
  const auto& L = am.layers.layers;
  for (size_t pick : {size_t(40), size_t(120), size_t(200)}) {
    REQUIRE(pick < L.size());
    std::string name = L[pick].name;
    FpForwardOptions o;
    o.outputs = {name};
    CHECK(names_of(am, fp_forward(am.layers, o).layers) == tensor_closure(am, name, true));
    FpForwardOptions i;
    i.inputs = {name};
    auto expect = tensor_closure(am, name, false);
    expect.erase("data");  // graph inputs excluded
    CHECK(names_of(am, fp_forward(am.layers, i).layers) == expect);
  }
  // blocks: descendants(start) ∩ ancestors(end); names as ONNX tensor / node names
  FpForwardOptions b;
  b.blocks = parse_fpfwd_blocks(L[40].outputs[0] + ":" + L[120].name);
  auto d = tensor_closure(am, L[40].name, true), a = tensor_closure(am, L[120].name, false);
  std::set<std::string> both;
  for (const auto& x : d)
    if (a.count(x)) both.insert(x);
  CHECK(names_of(am, fp_forward(am.layers, b).layers) == both);
  FpForwardOptions bad;
  bad.outputs = {"9499_Conv"};
  REQUIRE_THROWS_WITH(fp_forward(am.layers, bad), Catch::Contains("949_Conv"));
}

TEST_CASE("yolo heads: the convs with a conv-free path to an output") {
  MIXQ_REQUIRE_SHARED(bytes, "models/yolov5n-0.5-face.onnx");
  AnalyzedModel am = analyze(bytes);
  auto heads = yolo_head_convs(am.layers);
  CHECK(names_of(am, heads) == std::set<std::string>{"949_Conv", "969_Conv", "989_Conv"});
  const auto& L = am.layers.layers;
  // independent check: DFS over consumers that stops at convs
  for (size_t c = 0; c < L.size(); ++c) {
    if (L[c].kind != "Conv") continue;
    std::vector<int> stack(L[c].consumers.begin(), L[c].consumers.end());
    std::set<int> seen;
    bool free_path = L[c].is_output;
    while (!stack.empty() && !free_path) {
      int x = stack.back();
      stack.pop_back();
      if (!seen.insert(x).second || L[x].kind == "Conv") continue;
      free_path = L[x].is_output;
      for (int y : L[x].consumers) stack.push_back(y);
    }
    bool is_head = std::find(heads.begin(), heads.end(), static_cast<int>(c)) != heads.end();
    CHECK(is_head == free_path);
  }
  FpForwardOptions o;
  o.yolo_heads = true;
  o.first_convs = 2;
  auto r = fp_forward(am.layers, o);
  CHECK(r.layers.size() == 9 + 2);
  CHECK(names_of(am, r.layers).count("389_Conv"));
}

// [Repair accuracy on simulated re-exports] ------------------------------------------------------

namespace {

struct Accuracy {
  int entries = 0, top1 = 0, applied = 0, applied_right = 0;
};

// Writes a qtable for `orig` (layers chosen by `pick`), checks it against the re-export
// and counts how many entries end on the right layer.
enum class NameForm { Layer, Node, Tensor };  // how the qtable's author wrote the names

// `inserted_after`: the re-export has one extra node after this node index (-1: none).
Accuracy measure(const AnalyzedModel& orig, const AnalyzedModel& re, const std::vector<int>& picked, bool with_ref,
                 NameForm form = NameForm::Layer, int inserted_after = -1) {
  std::map<int, int> by_main;
  for (size_t l = 0; l < re.layers.layers.size(); ++l)
    if (re.layers.layers[l].main_node >= 0) by_main[re.layers.layers[l].main_node] = static_cast<int>(l);
  std::vector<std::pair<int, std::string>> lm;
  for (int l : picked) lm.push_back({l, "F16"});
  auto written_name = [&](int l) {
    const Layer& L = orig.layers.layers[l];
    if (form == NameForm::Node && L.main_node >= 0 && !orig.model.graph.nodes[L.main_node].name.empty())
      return orig.model.graph.nodes[L.main_node].name;
    if (form == NameForm::Tensor && !L.outputs.empty()) return L.outputs[0];
    return L.name;
  };
  std::string text = write_qtable(orig.layers, lm, {"T", "bm1684x", {}});
  if (form != NameForm::Layer) {
    text.clear();
    for (int l : picked) text += written_name(l) + " F16\n";
  }
  const ChipProfile& chip = chip_profile("bm1684x");
  QTableReport r = check_qtable(re, text, chip, with_ref ? &orig : nullptr);
  Accuracy a;
  std::map<std::string, int> truth;
  for (int l : picked) {
    const Layer& L = orig.layers.layers[l];
    int main = L.main_node >= 0 && inserted_after >= 0 && L.main_node > inserted_after ? L.main_node + 1 : L.main_node;
    truth[written_name(l)] = main >= 0 ? by_main.at(main) : l;
  }
  std::set<int> applied_layers;
  for (const auto& e : r.entries) {
    ++a.entries;
    int got = e.layer >= 0 && !e.misnamed ? e.layer : (e.suggestions.empty() ? -1 : e.suggestions[0].layer);
    a.top1 += got == truth.at(e.name);
    bool applied = e.layer >= 0 && !e.misnamed ? true : (!e.suggestions.empty() && e.suggestions[0].confidence >= 0.5);
    if (applied) {
      ++a.applied;
      a.applied_right += got == truth.at(e.name);
    }
  }
  return a;
}

std::vector<int> pick_heads(const AnalyzedModel& am) {
  FpForwardOptions o;
  o.yolo_heads = true;
  return fp_forward(am.layers, o).layers;
}
std::vector<int> pick_every(const AnalyzedModel& am, int step) {
  std::vector<int> r;
  for (size_t l = 1; l < am.layers.layers.size(); l += step)
    if (!am.layers.layers[l].is_input()) r.push_back(static_cast<int>(l));
  return r;
}

}  // namespace

TEST_CASE("repair accuracy on simulated re-exports of the shared models") {
  using mixq::test::Reexport;
  std::printf("\nqtable repair accuracy (top-1 / applied at confidence >= 0.5: right of applied)\n");
  std::printf("%-36s %-15s %-7s %-4s %16s %16s\n", "model", "re-export", "qtable", "ref", "top-1", "applied");
  for (const char* rel : {"models/yolov5n-0.5-face.onnx", "models/fastestdet.onnx",
                          "models/st_mobilenet_v2_0.35_128_tfs.onnx", "models/mnist.onnx"}) {
    MIXQ_REQUIRE_SHARED(bytes, rel);
    AnalyzedModel orig = analyze(bytes, rel);
    for (auto [kind, offset] : std::vector<std::pair<Reexport, long>>{
             {Reexport::Renumber, 100}, {Reexport::Renumber, 3}, {Reexport::PathStyle, 0}, {Reexport::NodeNames, 0}}) {
      Model m = mixq::test::simulate_reexport(orig.model, kind, offset);
      AnalyzedModel re = analyze(save_onnx(m), std::string(rel) + " (re-export)");
      REQUIRE(re.layers.layers.size() == orig.layers.layers.size());
      for (int q = 0; q < 3; ++q) {
        std::vector<int> picked = q == 0 ? pick_heads(orig) : q == 1 ? pick_every(orig, 3) : pick_every(orig, 1);
        const char* qname = q == 0 ? "heads" : q == 1 ? "every3" : "all";
        for (bool with_ref : {true, false}) {
          Accuracy a = measure(orig, re, picked, with_ref);
          if (kind == Reexport::Renumber && offset == 100) {
            // the same qtable on its own model: every line ok, nothing flagged as misnamed
            Accuracy self = measure(orig, orig, picked, with_ref);
            CHECK(self.top1 == self.entries);
            std::vector<std::pair<int, std::string>> lm;
            for (int l : picked) lm.push_back({l, "F16"});
            CHECK(check_qtable(orig, write_qtable(orig.layers, lm, {"T", "bm1684x", {}}), chip_profile("bm1684x"),
                               with_ref ? &orig : nullptr)
                      .all_ok());
          }
          std::string kname = reexport_name(kind) + (kind == Reexport::Renumber ? " +" + std::to_string(offset) : "");
          std::printf("%-36s %-15s %-7s %-4s %5d/%-4d %5.1f%% %5d/%-4d %5.1f%%\n", rel + 7, kname.c_str(), qname,
                      with_ref ? "yes" : "no", a.top1, a.entries, 100.0 * a.top1 / std::max(1, a.entries),
                      a.applied_right, a.applied, 100.0 * a.applied_right / std::max(1, a.applied));
          if (with_ref) CHECK(a.top1 == a.entries);  // a pure rename maps 100% with the reference
          if (kind == Reexport::NodeNames) CHECK(a.top1 == a.entries);
          // a consistent renumbering is found by voting over the whole file
          if (kind == Reexport::Renumber) CHECK(a.top1 >= 0.95 * a.entries);
          // what `fix` applies at its default threshold is right (positional guesses stay below it)
          CHECK(a.applied_right >= 0.9 * a.applied);
        }
      }
    }
  }
}

TEST_CASE("path-style names renumbered (/model.22/ -> /model.23/) are mapped without the reference") {
  using mixq::test::Reexport;
  MIXQ_REQUIRE_SHARED(bytes, "models/yolov5n-0.5-face.onnx");
  AnalyzedModel base = analyze(bytes);
  AnalyzedModel orig = analyze(save_onnx(mixq::test::simulate_reexport(base.model, Reexport::PathStyle)), "path.onnx");
  AnalyzedModel re = analyze(save_onnx(mixq::test::simulate_reexport(orig.model, Reexport::Renumber, 1)), "path2.onnx");
  REQUIRE(orig.layers.find("/model.0/conv/Conv_output_0_Conv") >= 0);
  for (bool with_ref : {false, true}) {
    Accuracy a = measure(orig, re, pick_every(orig, 3), with_ref);
    CHECK(a.top1 >= 0.95 * a.entries);
    CHECK(a.applied_right == a.applied);
  }
}

TEST_CASE("repair accuracy for qtables written with ONNX node or tensor names") {
  using mixq::test::Reexport;
  std::printf("\nqtables written with ONNX names (top-1 / applied right of applied)\n");
  for (const char* rel : {"models/yolov5n-0.5-face.onnx", "models/fastestdet.onnx"}) {
    MIXQ_REQUIRE_SHARED(bytes, rel);
    AnalyzedModel orig = analyze(bytes, rel);
    for (auto [kind, offset] : std::vector<std::pair<Reexport, long>>{
             {Reexport::Renumber, 100}, {Reexport::PathStyle, 0}, {Reexport::NodeNames, 0}}) {
      AnalyzedModel same = analyze(bytes, rel);
      AnalyzedModel re = analyze(save_onnx(mixq::test::simulate_reexport(orig.model, kind, offset)), "re.onnx");
      for (NameForm form : {NameForm::Node, NameForm::Tensor}) {
        for (bool with_ref : {true, false}) {
          Accuracy a = measure(orig, re, pick_every(orig, 3), with_ref, form);
          std::printf("%-26s %-15s %-7s %-4s %5d/%-4d %5.1f%% %5d/%-4d\n", rel + 7,
                      mixq::test::reexport_name(kind).c_str(), form == NameForm::Node ? "node" : "tensor",
                      with_ref ? "yes" : "no", a.top1, a.entries, 100.0 * a.top1 / std::max(1, a.entries),
                      a.applied_right, a.applied);
          if (with_ref) CHECK(a.top1 == a.entries);
          if (kind == Reexport::Renumber) CHECK(a.top1 >= 0.9 * a.entries);
          CHECK(a.applied_right >= 0.85 * a.applied);
        }
        // on the model they were written for, ONNX names map through resolve()
        Accuracy self = measure(orig, same, pick_every(orig, 3), false, form);
        CHECK(self.top1 == self.entries);
      }
    }
  }
}

TEST_CASE("garbage qtables never crash and every line is accounted for") {
  AnalyzedModel am = analyze(small_model());
  uint32_t seed = 1684;
  auto next = [&] {
    seed = seed * 1664525u + 1013904223u;
    return seed >> 8;
  };
  const std::string alphabet = "ab_1209 \t#\r\nF16INT8BF16c1_Conv/.:";
  for (int round = 0; round < 200; ++round) {
    std::string text;
    size_t len = next() % 300;
    for (size_t k = 0; k < len; ++k)
      text += (next() % 17 == 0) ? static_cast<char>(next() % 256) : alphabet[next() % alphabet.size()];
    for (const char* chip : {"bm1684", "bm1688", "cv183x"}) {
      QTableReport r = check_qtable(am, text, chip_profile(chip), round % 2 ? &am : nullptr);
      size_t entry_lines = 0;
      for (const auto& l : parse_qtable_lines(text))
        entry_lines += l.kind != QTableLine::Kind::Blank && l.kind != QTableLine::Kind::Comment;
      CHECK(r.entries.size() == entry_lines);
      QTableFix f = fix_qtable(am, r, chip_profile(chip), 0.5, {"T", chip, {}});
      CHECK(f.changes.size() == r.entries.size());
      CHECK(check_qtable(am, f.text, chip_profile(chip)).all_ok());
      (void)qtable_report_json(r).dump();
    }
  }
}

TEST_CASE("a UTF-8 byte-order mark is reported as TPU-MLIR sees it") {
  AnalyzedModel am = analyze(small_model());
  auto r = check_qtable(am,
                        "\xEF\xBB\xBF"
                        "c1_Conv F16\ny_Conv F16\n",
                        chip_profile("bm1684x"));
  REQUIRE(r.entries.size() == 2);
  CHECK(r.entries[0].status == QStatus::Unmatched);  // the BOM is part of the name for TPU-MLIR
  REQUIRE_FALSE(r.entries[0].suggestions.empty());
  CHECK(r.entries[0].suggestions[0].name == "c1_Conv");
  auto c = check_qtable(am, "\xEF\xBB\xBF# genetated time: x\ny_Conv F16\n", chip_profile("bm1684x"));
  CHECK(c.entries[0].status == QStatus::Invalid);
  CHECK(c.entries[0].message.find("byte-order mark") != std::string::npos);
}

TEST_CASE("the reference still maps when the new export has another input resolution") {
  using mixq::test::Reexport;
  MIXQ_REQUIRE_SHARED(bytes, "models/st_mobilenet_v2_0.35_128_tfs.onnx");  // global pooling: any size
  AnalyzedModel orig = analyze(bytes);
  AnalyzeOptions o;
  o.load.source_name = "re320.onnx";
  o.input_shapes = {{1, 3, 160, 160}};
  AnalyzedModel re = analyze_model(save_onnx(mixq::test::simulate_reexport(orig.model, Reexport::Renumber, 100)), o);
  REQUIRE(re.layers.layers.size() == orig.layers.layers.size());
  LayerAlignment al = align_layers(orig, re);
  int right = 0;
  for (size_t l = 0; l < orig.layers.layers.size(); ++l)
    right += al.target[l] >= 0 && re.layers.layers[al.target[l]].main_node == orig.layers.layers[l].main_node;
  CHECK(right == static_cast<int>(orig.layers.layers.size()));
  Accuracy a = measure(orig, re, pick_every(orig, 3), true);
  std::printf("reference at another resolution: %d/%d right, %d/%d applied right\n", a.top1, a.entries, a.applied_right,
              a.applied);
  CHECK(a.top1 >= 0.95 * a.entries);
  CHECK(a.applied_right >= 0.95 * a.applied);
}

TEST_CASE("the reference maps a re-export with a local structural change") {
  using mixq::test::Reexport;
  MIXQ_REQUIRE_SHARED(bytes, "models/yolov5n-0.5-face.onnx");
  AnalyzedModel orig = analyze(bytes);
  for (int at : {60, 150}) {
    // an extra (unfusable) LeakyRelu after node `at`, then path-style names: no name evidence
    Model changed = orig.model;
    Graph& g = changed.graph;
    std::string out = g.nodes[at].outputs[0], extra = out + "_extra";
    for (auto& n : g.nodes)
      for (auto& in : n.inputs)
        if (in == out) in = extra;
    Node leaky;
    leaky.name = "extra_leaky";
    leaky.op_type = "LeakyRelu";
    leaky.inputs = {out};
    leaky.outputs = {extra};
    g.nodes.insert(g.nodes.begin() + at + 1, leaky);
    g.index();
    AnalyzedModel re = analyze(save_onnx(mixq::test::simulate_reexport(changed, Reexport::PathStyle)), "changed.onnx");
    REQUIRE(re.layers.layers.size() == orig.layers.layers.size() + 1);
    Accuracy a = measure(orig, re, pick_every(orig, 3), true, NameForm::Layer, at);
    std::printf("reference with an extra layer after node %d: %d/%d right, %d/%d applied right\n", at, a.top1,
                a.entries, a.applied_right, a.applied);
    CHECK(a.top1 >= 0.95 * a.entries);
    CHECK(a.applied_right >= 0.95 * a.applied);
  }
}
