// StudioSession: the studio's document model, shared by the ImGui UI (web and desktop)
// and the page's script API (window.mixq). No GL, no file system.
//
// Holds: the analyzed model, the target chip, the per-layer precision map (the layers
// that differ from the global INT8 mode), an undo/redo history of precision edits, and
// the exports: the TPU-MLIR qtable of the current precisions and a session payload.
// Errors: every user input (ONNX bytes, mode names, layer names, session payloads) ends
// in mixq::Error with a clear message; a failed call leaves the session unchanged.
//
// Re-analysis: the session keeps the ONNX bytes, so input shapes (model_transform.py's
// --input_shapes) and a top .mlir (the authority for names) can change later; precision
// edits and the undo history follow their layers (by name, else by the ONNX node the layer
// is built around) and the edited layers that vanish are reported.
//
// Session payload (sessionUrl): base64url( 4-byte little-endian length +
// zlib(JSON {"v":1,"model":name,"chip":chip,"input_shapes":"[[1,3,640,640]]",
// "precisions":{layer:mode}}) ); "input_shapes" only when given. The model itself is not
// inside: opening a payload re-applies input shapes, chip and precisions to the loaded
// model by layer name and reports names it cannot find.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "mixq/analysis.h"
#include "mixq/chip.h"

namespace mixq {

// Upper-cases `mode` and checks it is a qtable mode (chip.h qtable_modes()); throws
// mixq::Error naming `where` when unknown.
std::string parse_qtable_mode(const std::string& mode, const std::string& where);
// Chips the studio offers, in menu order (every chip.h profile).
std::vector<std::string> studio_chips();
// The float type fallback layers get on `chip` (ChipProfile::float_type).
std::string chip_float_mode(const std::string& chip);

// base64url without padding, and its checked inverse (throws mixq::Error).
std::string base64url_encode(std::span<const uint8_t> bytes);
std::vector<uint8_t> base64url_decode(const std::string& text, const std::string& what);

class StudioSession {
 public:
  // --- model -----------------------------------------------------------------
  // Parses and analyzes; on mixq::Error the previous model and edits stay.
  // input_shapes: as --input_shapes, in graph-input order (empty: declared shapes, a
  // dynamic batch set to 1, other dynamic dims unknown). mlir_text: a top .mlir whose loc
  // names become the layer names (mlir_source names it in messages).
  void load_model(std::span<const uint8_t> onnx_bytes, const std::string& name, std::vector<Shape> input_shapes = {},
                  std::optional<std::string> mlir_text = std::nullopt, const std::string& mlir_source = "model.mlir");
  bool has_model() const { return model_ != nullptr; }
  const AnalyzedModel& model() const;  // requires has_model()
  const LayerGraph& layers() const { return model().layers; }
  const std::string& model_name() const { return model_name_; }
  // The model a qtable was written for (`qtable check --reference`): enables exact
  // structural mapping of its names. Throws like load_model; cleared by load_model.
  void load_reference(std::span<const uint8_t> onnx_bytes, const std::string& name);
  const AnalyzedModel* reference() const { return reference_.get(); }

  // --- re-analysis of the open model (see the header comment) ---------------------
  // Each returns the names of edited layers that no longer exist (their edits are
  // dropped); on mixq::Error nothing changes.
  std::vector<std::string> set_input_shapes(std::vector<Shape> shapes);
  // Text as --input_shapes ("[[1,3,640,640]]"); a '?' left in it is an error.
  std::vector<std::string> set_input_shapes(const std::string& text);
  // A top .mlir's names (std::nullopt: back to the predicted names).
  std::vector<std::string> set_mlir(std::optional<std::string> mlir_text, const std::string& source = "model.mlir");
  const std::vector<Shape>& input_shapes() const { return input_shapes_; }  // as given ({}: none)
  // Current shapes of the graph inputs as --input_shapes text, unknown dims as '?'
  // ("[[1,3,?,?]]"); "" without a model.
  std::string input_shapes_text() const;
  int unknown_input_dims() const;         // '?' count in input_shapes_text()
  int layers_with_unknown_shape() const;  // layers whose output shape has a '?'
  bool has_mlir() const { return mlir_text_.has_value(); }
  const std::string& mlir_source() const { return mlir_source_; }

  // --- chip ------------------------------------------------------------------
  const std::string& chip() const { return chip_; }
  // Throws on an unknown chip. Precisions are carried over with TPU-MLIR's rules
  // (normalize_mode: F32/F16 -> BF16 on cv18xx); a mode the new chip cannot run becomes
  // its float type (float modes) or INT8. Returns how many layers changed (one undo step).
  int set_chip(const std::string& chip);
  const ChipProfile& chip_profile() const { return mixq::chip_profile(chip_); }
  std::string float_mode() const { return chip_float_mode(chip_); }

  // --- precisions ------------------------------------------------------------
  const std::string& base_mode() const { return base_mode_; }  // "INT8"
  std::string precision(int layer) const;                      // the override, else base_mode()
  bool is_overridden(int layer) const { return !overrides_.at(layer).empty(); }
  int override_count() const;
  // Each edit is one undo step. mode "" (or base_mode) resets to the base mode. The mode
  // is normalized for the chip (F16 -> BF16 on cv18xx); a mode the chip cannot run is a
  // mixq::Error naming the chip and the modes it runs.
  void set_precision(const std::vector<int>& layers, const std::string& mode);
  void set_precision_from(int layer, const std::string& mode);   // layer + all descendants
  void set_precision_until(int layer, const std::string& mode);  // layer + all ancestors (inputs excluded)
  void reset_precisions();
  // fp_forward's closures (fp_forward.h; layer itself included; graph inputs excluded).
  std::vector<int> descendants(int layer) const;
  std::vector<int> ancestors(int layer) const;

  bool can_undo() const { return !undo_.empty(); }
  bool can_redo() const { return !redo_.empty(); }
  bool undo();
  bool redo();
  int revision() const { return revision_; }  // bumps on every change (UI caches key on it)

  // --- exports ---------------------------------------------------------------
  // TPU-MLIR qtable (generator-style header, one "<layer> <mode>" line per override,
  // graph order). `generated_time` goes into the "# genetated time:" line.
  std::string export_qtable(const std::string& generated_time) const;
  // JSON [{"name","op_type","kind","mode"}] of every layer.
  std::string export_precisions_json() const;

  // --- session payload ---------------------------------------------------------
  std::string serialize() const;
  // Applies a payload to the loaded model (chip + precisions, one undo step); returns
  // the layer names it could not find. Throws mixq::Error on a malformed payload.
  std::vector<std::string> restore(const std::string& payload);

 private:
  void require_layer(int layer) const;
  void commit(std::vector<std::string> next);
  struct Reanalysis;
  Reanalysis prepare_reanalysis(std::vector<Shape> shapes, std::optional<std::string> mlir_text,
                                const std::string& mlir_source) const;
  std::vector<std::string> apply_reanalysis(Reanalysis&& r);

  std::unique_ptr<AnalyzedModel> model_;
  std::unique_ptr<AnalyzedModel> reference_;
  std::string model_name_;
  std::vector<uint8_t> model_bytes_;
  std::vector<Shape> input_shapes_;
  std::optional<std::string> mlir_text_;
  std::string mlir_source_;
  std::string chip_ = "bm1684x";
  std::string base_mode_ = "INT8";
  std::vector<std::string> overrides_;  // per layer, "" = base mode
  std::vector<std::vector<std::string>> undo_, redo_;
  int revision_ = 0;
};

}  // namespace mixq
