// The tune step of run_calibration.py (--tune_num, spec section 4): refine each layer's
// threshold by the error it causes in its consumer.
//
// For each layer L in order (graph inputs skipped), the producers P of L that are not yet
// tuned (or, when all are, the first one) are tuned: candidates th_k = th + k*(absmax-th)/21,
// k = 0..21 (th: P's current threshold, absmax: max(|min|,|max|) of P's row); for each,
// L is run alone (a one-layer model with L's ONNX nodes and weights; Conv/Gemm/MatMul
// weights fake-quantized to int8, per output channel for Conv) on the FP32 reference
// inputs of `tune_num` batches, P's tensor fake-quantized as round(x*127/th_k) clamped to
// [-128,127] and the other inputs with their current thresholds; the candidate with the
// least mean ||ref - out||_2 / ||ref||_1 of L's output wins (ties: the smaller threshold).
// TPU-MLIR's SimpleTuner differs in details (it skips k = 0 and compares each candidate
// with the previous one); we follow the spec's plain arg-min.
// Memory: the FP32 activations of the tune batches are kept (as TPU-MLIR does).
#pragma once
#include "mixq/calib/calibrate.h"

namespace mixq::calib {

// Updates result->layers[*].threshold; returns the number of tune batches used.
int tune_thresholds(const AnalyzedModel& am, const DataSelection& data, const ReadSampleFile& read,
                    const CalibrateOptions& options, CalibrationResult* result);

// import_quant_bias: x -> clamp(round_half_even(x * 127/th), -128, 127) * th/127.
void fake_quantize(std::span<float> x, double threshold);

}  // namespace mixq::calib
