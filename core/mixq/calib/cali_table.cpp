#include "mixq/calib/cali_table.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

namespace mixq::calib {

std::string format_cali_number(double v) {
  if (std::isnan(v)) v = 0;
  if (v > 3.4028234663852886e38) v = 3.4028234663852886e38;
  if (v < -3.4028234663852886e38) v = -3.4028234663852886e38;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.7f", v);
  if (std::strcmp(buf, "-0.0000000") == 0) return "-0.0000000";  // Python prints the same
  return buf;
}

std::string write_cali_table(const CaliTableHeader& h, const CaliTable& t) {
  std::string out;
  out += "# mlir version: " + h.tool_version + "\n";
  out += "# mlir: " + h.model_name + "\n";
  out += "# genetated time: " + h.generated_time + "\n";
  out += "# histogram number: " + std::to_string(h.histogram_bins) + "\n";
  out += "# sample number: " + std::to_string(h.sample_number) + "\n";
  if (h.tune_number > 0) out += "# tune number: " + std::to_string(h.tune_number) + "\n";
  out += "###\n";
  out += "# op_name    threshold    min    max\n";
  auto row = [](const CaliRow& r) {
    return r.name + " " + format_cali_number(r.threshold) + " " + format_cali_number(r.min) + " " +
           format_cali_number(r.max) + "\n";
  };
  for (const auto& r : t.rows) out += row(r);
  if (!t.int4_rows.empty()) {
    out += "#int4_th\n";
    for (const auto& r : t.int4_rows) out += row(r);
  }
  if (!t.asym_ops.empty()) {
    out += "#asym_op\n";
    for (const auto& n : t.asym_ops) out += n + "\n";
  }
  if (!t.int4_ops.empty()) {
    out += "#int4_op\n";
    for (const auto& n : t.int4_ops) out += n + "\n";
  }
  return out;
}

CaliTableReport read_cali_table(const std::string& text, const std::string& source_name) {
  static const std::regex row_re(R"(\S+\s+[-0-9.e]+\s+[-0-9.e]+\s+[-0-9.e]+)");
  CaliTableReport rep;
  enum class Section { Main, Int4, WeightScale, Asym, Int4Op } section = Section::Main;
  std::map<std::string, int> seen;
  size_t start = 0;
  int line_no = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    std::string line = text.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    start = nl == std::string::npos ? text.size() : nl + 1;
    line_no++;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    if (line[0] == '#') {
      if (line.find("#int4_th") != std::string::npos) {
        section = Section::Int4;
      } else if (line.find("#weight_scale") != std::string::npos) {
        section = Section::WeightScale;
      } else if (line.find("#asym_op") != std::string::npos) {
        section = Section::Asym;
      } else if (line.find("#int4_op") != std::string::npos) {
        section = Section::Int4Op;
      } else if (section == Section::Main) {
        std::string h = line.substr(1);
        if (!h.empty() && h[0] == ' ') h.erase(0, 1);
        rep.table.header.push_back(h);
      }
      continue;
    }
    if (section == Section::Asym || section == Section::Int4Op) {
      std::string name = line;
      while (!name.empty() && std::isspace(static_cast<unsigned char>(name.back()))) name.pop_back();
      (section == Section::Asym ? rep.table.asym_ops : rep.table.int4_ops).push_back(name);
      continue;
    }
    if (section == Section::WeightScale) continue;
    std::smatch m;
    if (!std::regex_search(line, m, row_re)) {
      rep.issues.push_back({line_no, "", "dropped",
                            source_name + ":" + std::to_string(line_no) +
                                ": TPU-MLIR silently drops this row (expected '<name> <th> <min> <max>' with plain "
                                "decimal numbers; inf, nan and exponents with '+' do not match)",
                            ""});
      continue;
    }
    char name_buf[4096];
    CaliRow r;
    std::string rest;
    {
      std::istringstream ss(line);
      ss >> r.name;
      std::string a, b, c, extra;
      ss >> a >> b >> c;
      bool numeric = true;
      for (const std::string* f : {&a, &b, &c}) {
        char* end = nullptr;
        double v = std::strtod(f->c_str(), &end);
        if (f->empty() || *end != '\0' || !std::isfinite(v)) numeric = false;
      }
      if (!numeric || (ss >> extra)) {
        rep.issues.push_back({line_no, r.name, "invalid",
                              source_name + ":" + std::to_string(line_no) +
                                  ": row is not exactly '<name> <th> <min> <max>' with finite numbers; TPU-MLIR's "
                                  "importer may misread it and its Python tools reject it",
                              ""});
        if (!numeric) continue;
      }
      r.threshold = std::strtod(a.c_str(), nullptr);
      r.min = std::strtod(b.c_str(), nullptr);
      r.max = std::strtod(c.c_str(), nullptr);
    }
    (void)name_buf;
    if (section == Section::Int4) {
      rep.table.int4_rows.push_back(r);
      continue;
    }
    if (!(r.threshold > 0)) {
      rep.issues.push_back({line_no, r.name, "invalid",
                            source_name + ":" + std::to_string(line_no) + ": threshold " + std::to_string(r.threshold) +
                                " is not positive",
                            ""});
    }
    auto [it, inserted] = seen.emplace(r.name, line_no);
    if (!inserted) {
      rep.issues.push_back({line_no, r.name, "duplicate",
                            source_name + ":" + std::to_string(line_no) + ": '" + r.name + "' already on line " +
                                std::to_string(it->second) + " (the later row wins in TPU-MLIR's map)",
                            ""});
    }
    rep.table.rows.push_back(r);
  }
  return rep;
}

void check_cali_table(CaliTableReport& rep, const LayerGraph& layers) {
  std::set<std::string> covered;
  for (const auto& r : rep.table.rows) {
    int exact = layers.find(r.name);
    if (exact >= 0) {
      covered.insert(r.name);
      continue;
    }
    NameMatch m = layers.resolve(r.name);
    CaliTableIssue issue;
    issue.name = r.name;
    if (m.how != NameMatch::How::None && m.layer >= 0) {
      issue.status = m.how == NameMatch::How::Vanished ? "vanished" : "unmatched";
      issue.suggestion = layers.layers[m.layer].name;
      issue.message = "'" + r.name + "' is no layer name; TPU-MLIR ignores the row. It resolves to '" +
                      issue.suggestion + "'" + (m.reason.empty() ? "" : " (" + m.reason + ")");
    } else {
      issue.status = "unmatched";
      issue.message = "'" + r.name + "' matches no layer of the model; TPU-MLIR ignores the row";
    }
    rep.issues.push_back(issue);
  }
  for (const auto& l : layers.layers) {
    if (!covered.count(l.name)) rep.layers_without_row.push_back(l.name);
  }
}

std::string write_tensorrt_cache(const std::vector<TensorRange>& ranges) {
  std::string out = "TRT-8601-EntropyCalibration2\n";
  for (const auto& r : ranges) {
    float scale = static_cast<float>(r.threshold / 127.0);
    uint32_t bits;
    std::memcpy(&bits, &scale, 4);
    char hex[16];
    std::snprintf(hex, sizeof hex, "%08x", bits);
    out += r.tensor + ": " + hex + "\n";
  }
  return out;
}

std::string write_onnxruntime_ranges(const std::vector<TensorRange>& ranges) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (const auto& r : ranges) j[r.tensor] = {-r.threshold, r.threshold};
  return j.dump(2) + "\n";
}

}  // namespace mixq::calib
