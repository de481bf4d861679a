// The models of the exec_ort ctest fixture (tests/exec/make_ort_refs.sh writes
// MIXQ_EXEC_REF_DIR/manifest.txt: "name<TAB>model path" lines, plus <name>.input.npz and
// <name>.ref.npz): each is read, analysed for the shapes of its inputs and handed to fn.
// Returns the number of models; a missing manifest fails the calling test with the reason.
#pragma once
#include <catch2/catch.hpp>
#include <fstream>
#include <functional>
#include <string>

#include "mixq/analysis.h"
#include "mixq/npz.h"
#include "support/onnx_builder.h"

namespace mixq::test {

struct ExecRefModel {
  std::string name, path;
  NpzArrays inputs, refs;
  AnalyzedModel am;
};

inline int for_each_exec_ref_model(const std::function<void(ExecRefModel&)>& fn) {
  const std::string dir = MIXQ_EXEC_REF_DIR;
  std::ifstream manifest(dir + "/manifest.txt");
  INFO(dir + "/manifest.txt is missing: run ctest (fixture exec_ort_refs)");
  REQUIRE(manifest.good());
  std::string line;
  int models = 0;
  while (std::getline(manifest, line)) {
    auto tab = line.find('\t');
    REQUIRE(tab != std::string::npos);
    ExecRefModel m;
    m.name = line.substr(0, tab);
    m.path = line.substr(tab + 1);
    INFO("model " << m.name);
    std::vector<uint8_t> model_bytes, in_bytes, ref_bytes;
    REQUIRE(read_bytes(m.path, model_bytes));
    REQUIRE(read_bytes(dir + "/" + m.name + ".input.npz", in_bytes));
    REQUIRE(read_bytes(dir + "/" + m.name + ".ref.npz", ref_bytes));
    m.inputs = read_npz(in_bytes, m.name + ".input.npz");
    m.refs = read_npz(ref_bytes, m.name + ".ref.npz");
    AnalyzeOptions ao;
    ao.load.source_name = m.path;
    Model probe = load_onnx(model_bytes, ao.load);
    for (const ValueInfo& vi : probe.graph.inputs) ao.input_shapes.push_back(m.inputs.at(vi.name).shape());
    m.am = analyze_model(model_bytes, ao);
    fn(m);
    ++models;
  }
  return models;
}

}  // namespace mixq::test
