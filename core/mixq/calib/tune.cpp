// [SECTION] reference activations  [SECTION] one-layer models  [SECTION] candidate search
#include "mixq/calib/tune.h"

#include <cmath>
#include <map>
#include <set>

#include "mixq/calib/batches.h"
#include "mixq/error.h"
#include "mixq/exec/executor.h"
#include "mixq/log.h"

namespace mixq::calib {

void fake_quantize(std::span<float> x, double threshold) {
  const float scale = static_cast<float>(127.0 / threshold);
  for (float& v : x) {
    float q = std::nearbyint(v * scale);  // default rounding mode: half to even, as np.round
    q = std::min(127.f, std::max(-128.f, q));
    v = q / scale;
  }
}

namespace {

// [SECTION] one-layer models -----------------------------------------------------------------

void fake_quantize_weight(Tensor& w, bool per_channel) {
  if (w.dtype() != DType::Float32 || w.numel() == 0) return;
  auto v = w.f32();
  const int64_t channels = per_channel && !w.shape().empty() ? w.shape()[0] : 1;
  const int64_t per = w.numel() / std::max<int64_t>(1, channels);
  for (int64_t c = 0; c < channels; c++) {
    std::span<float> ch = v.subspan(c * per, per);
    float m = 0;
    for (float x : ch) m = std::max(m, std::fabs(x));
    double s = std::max(static_cast<double>(m) / 127.0, 1e-5);
    fake_quantize(ch, s * 127.0);
  }
}

struct LayerModel {
  std::unique_ptr<AnalyzedModel> am;
  std::unique_ptr<Executor> exec;
  std::vector<std::string> input_tensors;
  std::string output_tensor;
};

// A model made of one layer's nodes: its activation inputs become graph inputs.
LayerModel build_layer_model(const AnalyzedModel& full, const Layer& layer,
                             const std::map<std::string, Tensor>& sample_refs) {
  LayerModel lm;
  Model m;
  m.ir_version = full.model.ir_version;
  m.opsets = full.model.opsets;
  const Graph& g = full.model.graph;
  std::set<std::string> produced;
  for (int ni : layer.onnx_nodes) {
    const Node& n = g.nodes[ni];
    m.graph.nodes.push_back(n);
    for (const auto& o : n.outputs) produced.insert(o);
  }
  std::set<std::string> seen_inputs;
  for (const Node& n : m.graph.nodes) {
    for (size_t k = 0; k < n.inputs.size(); k++) {
      const std::string& t = n.inputs[k];
      if (t.empty() || produced.count(t) || seen_inputs.count(t)) continue;
      if (g.is_weight(t)) {
        if (!m.graph.weights.count(t)) {
          Tensor w = g.weights.at(t);
          bool weight_op =
              (n.op_type == "Conv" || n.op_type == "ConvTranspose" || n.op_type == "Gemm" || n.op_type == "MatMul") &&
              k == 1;
          if (weight_op) fake_quantize_weight(w, n.op_type == "Conv");
          m.graph.weights[t] = std::move(w);
        }
        continue;
      }
      auto ref = sample_refs.find(t);
      require(ref != sample_refs.end(), "tune: no reference value for '" + t + "'");
      ValueInfo vi;
      vi.name = t;
      vi.dtype = ref->second.dtype();
      vi.has_shape = true;
      vi.dims = ref->second.shape();
      vi.dim_names.assign(vi.dims.size(), "");
      m.graph.inputs.push_back(vi);
      seen_inputs.insert(t);
      lm.input_tensors.push_back(t);
    }
  }
  lm.output_tensor = layer.outputs.at(0);
  ValueInfo out;
  out.name = lm.output_tensor;
  m.graph.outputs.push_back(out);
  m.graph.index();
  lm.am = std::make_unique<AnalyzedModel>();
  lm.am->source_name = "layer " + layer.name;
  lm.am->model = std::move(m);
  // Shapes and layers of the one-layer model, through the public pipeline.
  std::vector<uint8_t> bytes = save_onnx(lm.am->model);
  AnalyzeOptions ao;
  ao.load.source_name = lm.am->source_name;
  *lm.am = analyze_model(bytes, ao);
  ExecOptions eo;
  eo.threads = 1;
  lm.exec = std::make_unique<Executor>(*lm.am, eo);
  return lm;
}

double l2(std::span<const float> a, std::span<const float> b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); i++) {
    double d = static_cast<double>(a[i]) - b[i];
    s += d * d;
  }
  return std::sqrt(s);
}

}  // namespace

// [SECTION] candidate search ------------------------------------------------------------------

int tune_thresholds(const AnalyzedModel& am, const DataSelection& data, const ReadSampleFile& read,
                    const CalibrateOptions& options, CalibrationResult* result) {
  const auto& layers = am.layers.layers;
  // Which ONNX tensors carry a layer's threshold (all outputs of a layer share it).
  std::map<std::string, int> layer_of_tensor;
  for (int i = 0; i < static_cast<int>(layers.size()); i++) {
    if (layers[i].is_input()) layer_of_tensor[layers[i].name] = i;
    for (const auto& o : layers[i].outputs) layer_of_tensor.emplace(o, i);
  }
  // [SECTION] reference activations: FP32 values of every layer tensor, tune batches only.
  ExecOptions eo;
  eo.threads = options.threads;
  Executor exec(am, eo);
  DataSelection tune_data = data;
  const int64_t batch = exec.inputs().empty() || exec.inputs()[0].shape.empty() ? 1 : exec.inputs()[0].shape[0];
  const size_t want_samples = static_cast<size_t>(options.tune_num) * (data.kind == DataKind::Image ? batch : 1);
  if (tune_data.samples.size() > want_samples) tune_data.samples.resize(want_samples);
  std::vector<std::map<std::string, Tensor>> refs;
  BatchStream stream(exec.inputs(), tune_data, read, options.preprocess);
  std::map<std::string, Tensor> feed;
  while (stream.next(&feed)) {
    std::map<std::string, Tensor> r;
    exec.run(feed, [&](const std::string& name, const Tensor& v) {
      if (layer_of_tensor.count(name)) r[name] = v;
    });
    refs.push_back(std::move(r));
    feed.clear();
  }
  const int n = static_cast<int>(refs.size());
  if (n == 0) return 0;

  std::vector<double> th(layers.size()), absmax(layers.size());
  for (size_t i = 0; i < layers.size(); i++) {
    th[i] = result->layers[i].threshold;
    absmax[i] = std::max(std::fabs(result->layers[i].min), std::fabs(result->layers[i].max));
  }
  std::vector<bool> tuned(layers.size(), false);
  size_t done = 0;
  for (size_t li = 0; li < layers.size(); li++) {
    const Layer& L = layers[li];
    done++;
    if (options.progress && !options.progress("tune", done, layers.size())) throw Error("calibration cancelled");
    if (L.is_input() || L.inputs.empty() || L.outputs.empty()) continue;
    std::vector<int> to_tune;
    bool all_tuned = true;
    for (int p : L.inputs) all_tuned = all_tuned && tuned[p];
    if (all_tuned) {
      to_tune.push_back(L.inputs[0]);
    } else {
      for (int p : L.inputs)
        if (!tuned[p]) to_tune.push_back(p);
    }
    LayerModel lm;
    try {
      lm = build_layer_model(am, L, refs[0]);
    } catch (const Error& e) {
      result->warnings.push_back("tune: layer " + L.name + " skipped (" + e.what() + ")");
      for (int p : to_tune) tuned[p] = true;
      continue;
    }
    for (int p : to_tune) {
      tuned[p] = true;
      const double t0 = th[p];
      const double step = (absmax[p] - t0) / 21;
      if (!(step > 0)) continue;
      double best_th = t0, best_d = INFINITY;
      for (int k = 0; k <= 21; k++) {
        const double cand = k == 21 ? absmax[p] : t0 + k * step;
        double dist = 0;
        for (int b = 0; b < n; b++) {
          std::map<std::string, Tensor> in;
          for (const auto& t : lm.input_tensors) {
            Tensor v = refs[b].at(t);
            int producer = layer_of_tensor.count(t) ? layer_of_tensor.at(t) : -1;
            if (v.dtype() == DType::Float32 && producer >= 0) {
              fake_quantize(v.f32(), producer == p ? cand : th[producer]);
            }
            in[t] = std::move(v);
          }
          auto out = lm.exec->run(in);
          const Tensor& got = out.at(lm.output_tensor);
          const Tensor& ref = refs[b].at(lm.output_tensor);
          auto gv = got.to_f32(), rv = ref.to_f32();
          double norm1 = 0;
          for (float x : rv) norm1 += std::fabs(x);
          dist += norm1 > 0 ? l2(rv, gv) / norm1 : 0;
        }
        dist /= n;
        if (dist < best_d) best_d = dist, best_th = cand;
      }
      th[p] = best_th;
    }
  }
  for (size_t i = 0; i < layers.size(); i++) result->layers[i].threshold = th[i];
  return n;
}

}  // namespace mixq::calib
