// MaxPool's geometry and its separable row computation, shared by the MaxPool kernel and
// a Conv that absorbs a following MaxPool (kernels_conv.cpp: the pooled rows are computed
// from conv rows still in the tile buffer). Both produce each output row with the same
// operations in the same order (max_pool_row), so a fused group is bit-identical to the
// two kernels run one after the other.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "mixq/exec/kernel.h"

namespace mixq::exec {

struct PoolGeometry {
  int64_t planes = 1, H = 1, W = 1, OH = 1, OW = 1;
  int64_t KH = 1, KW = 1, SH = 1, SW = 1, DH = 1, DW = 1, PT = 0, PL = 0, PB = 0, PR = 0;
};
// 1-D and 2-D pools (pads, auto_pad, dilations; the output shape from shape inference).
// Throws mixq::Error naming the node on other ranks or malformed attributes.
PoolGeometry pool_geometry(const KernelInit& k);

// The output columns [lo, hi) whose window column kw reads inside the input row, at input
// offset off + ow * SW.
struct WindowColumns {
  int64_t off, lo, hi;
};
std::vector<WindowColumns> all_window_columns(const PoolGeometry& g);

// orow[ow] = max(orow[ow], src[ow * SW]) for ow in [lo, hi), as std::max does it (a NaN in
// orow stays).
void max_into_row(float* orow, const float* src, int64_t SW, int64_t lo, int64_t hi);

// Output row `oh` of one plane: per input row of the window (input_row(ih) for ih inside
// the plane) the running column max `cm` (g.W floats), then per window column the max
// into `orow` (g.OW floats).
template <class InputRow>
void max_pool_row(const PoolGeometry& g, const std::vector<WindowColumns>& cols, InputRow input_row, int64_t oh,
                  float* cm, float* orow) {
  std::fill_n(orow, g.OW, -INFINITY);
  // -inf first, then every row as the second operand: NaN inputs are skipped as in a
  // plain max over the window
  std::fill_n(cm, g.W, -INFINITY);
  for (int64_t kh = 0; kh < g.KH; ++kh) {
    const int64_t ih = oh * g.SH - g.PT + kh * g.DH;
    if (ih >= 0 && ih < g.H) max_into_row(cm, input_row(ih), 1, 0, g.W);
  }
  for (const WindowColumns& c : cols) max_into_row(orow, cm + c.off, g.SW, c.lo, c.hi);
}

}  // namespace mixq::exec
