// StudioSession (see studio_session.h).
//
// [SECTION] modes, chips, base64url
// [SECTION] model and chip
// [SECTION] re-analysis (input shapes, .mlir names)
// [SECTION] precisions and history
// [SECTION] exports
// [SECTION] session payload
#include "mixq/studio_session.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "mixq/error.h"
#include "mixq/fp_forward.h"
#include "mixq/qtable.h"
#include "mixq/shape_inference.h"

namespace mixq {

// -----------------------------------------------------------------------------
// [SECTION] modes, chips, base64url
// -----------------------------------------------------------------------------

std::string parse_qtable_mode(const std::string& mode, const std::string& where) {
  std::string upper = mode;
  for (char& c : upper) c = char(std::toupper(static_cast<unsigned char>(c)));
  if (!is_qtable_mode(upper)) {
    std::string list;
    for (const auto& m : qtable_modes()) list += (list.empty() ? "" : " ") + m;
    throw Error(where + ": unknown quantize mode '" + mode + "' (expected one of " + list + ")");
  }
  return upper;
}

std::vector<std::string> studio_chips() {
  return chip_names();
}

std::string chip_float_mode(const std::string& chip) {
  return mixq::chip_profile(chip).float_type;
}

namespace {
constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
}

std::string base64url_encode(std::span<const uint8_t> bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = (uint32_t(bytes[i]) << 16) | (uint32_t(bytes[i + 1]) << 8) | bytes[i + 2];
    for (int s = 18; s >= 0; s -= 6) out += kB64[(v >> s) & 63];
  }
  if (i + 1 == bytes.size()) {
    const uint32_t v = uint32_t(bytes[i]) << 16;
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
  } else if (i + 2 == bytes.size()) {
    const uint32_t v = (uint32_t(bytes[i]) << 16) | (uint32_t(bytes[i + 1]) << 8);
    for (int s = 18; s >= 6; s -= 6) out += kB64[(v >> s) & 63];
  }
  return out;
}

std::vector<uint8_t> base64url_decode(const std::string& text, const std::string& what) {
  std::vector<uint8_t> out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '-' || c == '+')
      v = 62;
    else if (c == '_' || c == '/')
      v = 63;
    else if (c == '=')
      break;
    else
      throw Error(what + ": invalid character '" + std::string(1, c) + "' at offset " + std::to_string(i) +
                  " (expected base64url)");
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(uint8_t((acc >> bits) & 0xff));
    }
  }
  return out;
}

// -----------------------------------------------------------------------------
// [SECTION] model and chip
// -----------------------------------------------------------------------------

void StudioSession::load_model(std::span<const uint8_t> onnx_bytes, const std::string& name,
                               std::vector<Shape> input_shapes, std::optional<std::string> mlir_text,
                               const std::string& mlir_source) {
  AnalyzeOptions options;
  options.load.source_name = name;
  options.input_shapes = input_shapes;
  options.mlir_text = mlir_text;
  options.mlir_source = mlir_source;
  auto analyzed = std::make_unique<AnalyzedModel>(analyze_model(onnx_bytes, options));
  model_ = std::move(analyzed);
  model_bytes_.assign(onnx_bytes.begin(), onnx_bytes.end());
  input_shapes_ = std::move(input_shapes);
  mlir_text_ = std::move(mlir_text);
  mlir_source_ = mlir_text_ ? mlir_source : "";
  reference_.reset();
  model_name_ = name;
  overrides_.assign(model_->layers.layers.size(), "");
  undo_.clear();
  redo_.clear();
  ++revision_;
}

void StudioSession::load_reference(std::span<const uint8_t> onnx_bytes, const std::string& name) {
  AnalyzeOptions options;
  options.load.source_name = name;
  reference_ = std::make_unique<AnalyzedModel>(analyze_model(onnx_bytes, options));
  ++revision_;
}

const AnalyzedModel& StudioSession::model() const {
  if (!model_) throw Error("no model is open");
  return *model_;
}

int StudioSession::set_chip(const std::string& chip) {
  const ChipProfile& profile = mixq::chip_profile(chip);  // throws on an unknown chip
  std::vector<std::string> next = overrides_;
  int changed = 0;
  for (auto& o : next) {
    if (o.empty()) continue;
    std::string m = normalize_mode(profile, o);
    if (!profile.supports(m)) m = (m == "UINT8" || m == "INT4") ? "INT8" : profile.float_type;
    if (m == base_mode_) m.clear();
    if (m != o) ++changed, o = m;
  }
  chip_ = profile.name;
  ++revision_;
  commit(std::move(next));
  return changed;
}

// -----------------------------------------------------------------------------
// [SECTION] re-analysis (input shapes, .mlir names)
// -----------------------------------------------------------------------------

struct StudioSession::Reanalysis {
  std::unique_ptr<AnalyzedModel> model;
  std::vector<Shape> input_shapes;
  std::optional<std::string> mlir_text;
  std::string mlir_source;
};

StudioSession::Reanalysis StudioSession::prepare_reanalysis(std::vector<Shape> shapes,
                                                            std::optional<std::string> mlir_text,
                                                            const std::string& mlir_source) const {
  if (!model_) throw Error("no model is open");
  AnalyzeOptions options;
  options.load.source_name = model_name_;
  options.input_shapes = shapes;
  options.mlir_text = mlir_text;
  options.mlir_source = mlir_source;
  Reanalysis r;
  r.model = std::make_unique<AnalyzedModel>(analyze_model(model_bytes_, options));
  r.input_shapes = std::move(shapes);
  r.mlir_text = std::move(mlir_text);
  r.mlir_source = r.mlir_text ? mlir_source : "";
  return r;
}

std::vector<std::string> StudioSession::apply_reanalysis(Reanalysis&& r) {
  const auto& old_layers = model_->layers.layers;
  const LayerGraph& fresh = r.model->layers;
  std::map<int, int> by_node;  // ONNX main node -> new layer
  for (size_t j = 0; j < fresh.layers.size(); ++j)
    if (fresh.layers[j].main_node >= 0) by_node[fresh.layers[j].main_node] = int(j);
  std::vector<int> target(old_layers.size(), -1);
  for (size_t i = 0; i < old_layers.size(); ++i) {
    int j = fresh.find(old_layers[i].name);
    if (j < 0 && old_layers[i].main_node >= 0) {
      auto it = by_node.find(old_layers[i].main_node);
      if (it != by_node.end()) j = it->second;
    }
    if (j >= 0 && fresh.layers[j].is_input()) j = -1;
    target[i] = j;
  }
  auto remap = [&](const std::vector<std::string>& modes) {
    std::vector<std::string> out(fresh.layers.size());
    for (size_t i = 0; i < modes.size() && i < target.size(); ++i)
      if (!modes[i].empty() && target[i] >= 0) out[target[i]] = modes[i];
    return out;
  };
  std::vector<std::string> lost;
  for (size_t i = 0; i < overrides_.size(); ++i)
    if (!overrides_[i].empty() && target[i] < 0) lost.push_back(old_layers[i].name);
  overrides_ = remap(overrides_);
  for (auto& u : undo_) u = remap(u);
  for (auto& u : redo_) u = remap(u);
  model_ = std::move(r.model);
  input_shapes_ = std::move(r.input_shapes);
  mlir_text_ = std::move(r.mlir_text);
  mlir_source_ = std::move(r.mlir_source);
  ++revision_;
  return lost;
}

std::vector<std::string> StudioSession::set_input_shapes(std::vector<Shape> shapes) {
  return apply_reanalysis(prepare_reanalysis(std::move(shapes), mlir_text_, mlir_source_));
}

std::vector<std::string> StudioSession::set_input_shapes(const std::string& text) {
  const auto q = text.find('?');
  if (q != std::string::npos)
    throw Error("--input_shapes: '?' at character " + std::to_string(q + 1) + " of '" + text +
                "': replace every unknown dim with a size (e.g. [[1,3,640,640]])");
  std::string trimmed = text;
  trimmed.erase(0, trimmed.find_first_not_of(" \t\r\n"));
  return set_input_shapes(trimmed.empty() ? std::vector<Shape>{} : parse_input_shapes(text));
}

std::vector<std::string> StudioSession::set_mlir(std::optional<std::string> mlir_text, const std::string& source) {
  return apply_reanalysis(prepare_reanalysis(input_shapes_, std::move(mlir_text), source));
}

namespace {
// --input_shapes text of given shapes: "[[1,3,640,640],[1,10]]".
std::string shapes_text(const std::vector<Shape>& shapes) {
  std::string out = "[";
  for (size_t i = 0; i < shapes.size(); ++i) {
    out += i ? ",[" : "[";
    for (size_t d = 0; d < shapes[i].size(); ++d) {
      if (d) out += ',';
      out += std::to_string(shapes[i][d]);
    }
    out += "]";
  }
  return out + "]";
}
}  // namespace

std::string StudioSession::input_shapes_text() const {
  if (!model_) return "";
  std::string out = "[";
  const auto& inputs = model_->model.graph.inputs;
  for (size_t i = 0; i < inputs.size(); ++i) {
    out += i ? ",[" : "[";
    const ValueState* st = model_->shapes.find(inputs[i].name);
    if (!st || !st->rank_known) {
      out += "?";
    } else {
      for (size_t d = 0; d < st->shape.size(); ++d) {
        if (d) out += ',';
        out += st->shape[d] < 0 ? std::string("?") : std::to_string(st->shape[d]);
      }
    }
    out += "]";
  }
  return out + "]";
}

int StudioSession::unknown_input_dims() const {
  const std::string t = input_shapes_text();
  return int(std::count(t.begin(), t.end(), '?'));
}

int StudioSession::layers_with_unknown_shape() const {
  if (!model_) return 0;
  int n = 0;
  for (const auto& l : model_->layers.layers)
    if (std::any_of(l.shape.begin(), l.shape.end(), [](int64_t d) { return d < 0; })) ++n;
  return n;
}

// -----------------------------------------------------------------------------
// [SECTION] precisions and history
// -----------------------------------------------------------------------------

void StudioSession::require_layer(int layer) const {
  if (!model_) throw Error("no model is open");
  if (layer < 0 || layer >= int(overrides_.size()))
    throw Error("layer index " + std::to_string(layer) + " is out of range (the model has " +
                std::to_string(overrides_.size()) + " layers)");
}

std::string StudioSession::precision(int layer) const {
  const std::string& o = overrides_.at(layer);
  return o.empty() ? base_mode_ : o;
}

int StudioSession::override_count() const {
  return int(std::count_if(overrides_.begin(), overrides_.end(), [](const std::string& s) { return !s.empty(); }));
}

void StudioSession::commit(std::vector<std::string> next) {
  if (next == overrides_) return;
  undo_.push_back(overrides_);
  if (undo_.size() > 256) undo_.erase(undo_.begin());
  redo_.clear();
  overrides_ = std::move(next);
  ++revision_;
}

void StudioSession::set_precision(const std::vector<int>& layers, const std::string& mode) {
  for (int l : layers) require_layer(l);
  std::string m = mode.empty() ? "" : normalize_mode(chip_profile(), parse_qtable_mode(mode, "precision"));
  if (!m.empty() && !chip_profile().supports(m)) {
    std::string list;
    for (const auto& x : chip_profile().modes) list += (list.empty() ? "" : " ") + x;
    throw Error("precision: " + chip_ + " cannot run " + m + " (it runs " + list + ")");
  }
  if (m == base_mode_) m.clear();
  auto next = overrides_;
  for (int l : layers)
    if (!model_->layers.layers[l].is_input()) next[l] = m;
  commit(std::move(next));
}

namespace {
std::vector<int> closure_layers(const LayerGraph& layers, const std::vector<bool>& in) {
  std::vector<int> out;
  for (size_t i = 0; i < in.size(); ++i)
    if (in[i] && !layers.layers[i].is_input()) out.push_back(int(i));
  return out;
}
}  // namespace

std::vector<int> StudioSession::descendants(int layer) const {
  require_layer(layer);
  return closure_layers(model_->layers, mixq::descendants(model_->layers, {layer}));
}

std::vector<int> StudioSession::ancestors(int layer) const {
  require_layer(layer);
  return closure_layers(model_->layers, mixq::ancestors(model_->layers, {layer}));
}

void StudioSession::set_precision_from(int layer, const std::string& mode) {
  set_precision(descendants(layer), mode);
}
void StudioSession::set_precision_until(int layer, const std::string& mode) {
  set_precision(ancestors(layer), mode);
}

void StudioSession::reset_precisions() {
  if (!model_) return;
  commit(std::vector<std::string>(overrides_.size(), ""));
}

bool StudioSession::undo() {
  if (undo_.empty()) return false;
  redo_.push_back(std::move(overrides_));
  overrides_ = std::move(undo_.back());
  undo_.pop_back();
  ++revision_;
  return true;
}

bool StudioSession::redo() {
  if (redo_.empty()) return false;
  undo_.push_back(std::move(overrides_));
  overrides_ = std::move(redo_.back());
  redo_.pop_back();
  ++revision_;
  return true;
}

// -----------------------------------------------------------------------------
// [SECTION] exports
// -----------------------------------------------------------------------------

std::string StudioSession::export_qtable(const std::string& generated_time) const {
  const LayerGraph& layers = model().layers;
  std::vector<std::pair<int, std::string>> modes;
  for (size_t i = 0; i < overrides_.size(); ++i)
    if (!overrides_[i].empty()) modes.emplace_back(int(i), overrides_[i]);
  QTableHeader header;
  header.generated_time = generated_time;
  header.chip = chip_;
  return write_qtable(layers, modes, header);
}

std::string StudioSession::export_precisions_json() const {
  const auto& L = model().layers.layers;
  nlohmann::json arr = nlohmann::json::array();
  for (size_t i = 0; i < L.size(); ++i)
    arr.push_back({{"name", L[i].name},
                   {"op_type", L[i].op_type},
                   {"kind", L[i].kind},
                   {"mode", L[i].is_input() ? std::string("") : precision(int(i))}});
  return arr.dump();
}

// -----------------------------------------------------------------------------
// [SECTION] session payload
// -----------------------------------------------------------------------------

std::string StudioSession::serialize() const {
  nlohmann::json j;
  j["v"] = 1;
  j["model"] = model_name_;
  j["chip"] = chip_;
  if (!input_shapes_.empty()) j["input_shapes"] = shapes_text(input_shapes_);
  nlohmann::json p = nlohmann::json::object();
  if (model_)
    for (size_t i = 0; i < overrides_.size(); ++i)
      if (!overrides_[i].empty()) p[model_->layers.layers[i].name] = overrides_[i];
  j["precisions"] = p;
  const std::string text = j.dump();
  uLongf bound = compressBound(uLong(text.size()));
  std::vector<uint8_t> buf(4 + bound);
  const uint32_t n = uint32_t(text.size());
  for (int k = 0; k < 4; ++k) buf[k] = uint8_t(n >> (8 * k));
  if (compress2(buf.data() + 4, &bound, reinterpret_cast<const Bytef*>(text.data()), uLong(text.size()), 9) != Z_OK)
    throw Error("session: compression failed");
  buf.resize(4 + bound);
  return base64url_encode(buf);
}

std::vector<std::string> StudioSession::restore(const std::string& payload) {
  const std::vector<uint8_t> bytes = base64url_decode(payload, "session URL");
  require(bytes.size() > 4, "session URL: payload too short (" + std::to_string(bytes.size()) + " bytes)");
  uint32_t n = 0;
  for (int k = 0; k < 4; ++k) n |= uint32_t(bytes[k]) << (8 * k);
  require(n <= (16u << 20), "session URL: declared size " + std::to_string(n) + " exceeds the 16 MiB limit");
  std::string text(n, '\0');
  uLongf out_len = n;
  if (uncompress(reinterpret_cast<Bytef*>(text.data()), &out_len, bytes.data() + 4, uLong(bytes.size() - 4)) != Z_OK ||
      out_len != n)
    throw Error("session URL: the payload is not valid zlib data (truncated or corrupted link?)");
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  require(!j.is_discarded() && j.is_object(), "session URL: the payload is not a JSON object");
  require(j.value("v", 0) == 1, "session URL: unsupported version (expected \"v\":1)");
  std::string chip = chip_;
  if (j.contains("chip")) {
    require(j["chip"].is_string(), "session URL: \"chip\" must be a string");
    chip = j["chip"].get<std::string>();
  }
  // Input shapes first: the precisions name the layers of the re-analyzed model.
  std::optional<Reanalysis> reanalysis;
  if (j.contains("input_shapes")) {
    require(j["input_shapes"].is_string(), "session URL: \"input_shapes\" must be a string like \"[[1,3,640,640]]\"");
    require(model_ != nullptr, "session URL: open the model before applying input shapes");
    std::vector<Shape> shapes = parse_input_shapes(j["input_shapes"].get<std::string>());
    if (shapes != input_shapes_) reanalysis = prepare_reanalysis(std::move(shapes), mlir_text_, mlir_source_);
  }
  const LayerGraph* layers = reanalysis ? &reanalysis->model->layers : model_ ? &model_->layers : nullptr;
  std::vector<std::string> missing;
  std::vector<std::string> next = overrides_;
  if (layers && (reanalysis || j.contains("precisions"))) next.assign(layers->layers.size(), "");
  if (j.contains("precisions")) {
    require(j["precisions"].is_object(), "session URL: \"precisions\" must be an object");
    require(model_ != nullptr || j["precisions"].empty(), "session URL: open the model before applying precisions");
    for (auto& [name, mode] : j["precisions"].items()) {
      require(mode.is_string(), "session URL: precision of '" + name + "' must be a string");
      std::string m = parse_qtable_mode(mode.get<std::string>(), "session URL: precision of '" + name + "'");
      const int l = layers->find(name);
      if (l < 0) {
        missing.push_back(name);
        continue;
      }
      next[l] = m == base_mode_ ? "" : m;
    }
  }
  const ChipProfile& profile = mixq::chip_profile(chip);  // validates before anything changes
  for (auto& o : next)
    if (!o.empty()) {
      o = normalize_mode(profile, o);
      if (!profile.supports(o)) throw Error("session URL: " + profile.name + " cannot run " + o);
    }
  if (reanalysis) apply_reanalysis(std::move(*reanalysis));
  chip_ = profile.name;
  ++revision_;
  commit(std::move(next));
  return missing;
}

}  // namespace mixq
