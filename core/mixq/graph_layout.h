// Layered (Sugiyama-style) layout of a DAG for the studio's graph view. No GL.
//
// Contract: layout_dag() takes node sizes and edges (from -> to, any order; edges that
// would close a cycle or point to an invalid node are ignored) and returns top-to-bottom
// coordinates: every edge goes from a lower rank to a higher one, nodes of one rank
// share a row and never overlap, long edges are routed through dummy points (one per
// crossed rank) so they run between nodes instead of through them. Deterministic (same
// input, same output) and roughly O((V + D) * sweeps * log) for D dummy points: a
// 1000-layer model lays out in milliseconds.
//
// Steps: (1) ranks = longest path from the sources, then nodes pulled down next to
// their consumers; (2) long edges split at each rank by dummies; (3) crossing reduction
// by barycenter sweeps (down and up), keeping the order with the fewest crossings
// (counted exactly); (4) x coordinates by isotonic regression per rank towards the
// neighbours' mean (optimal under "keep order, keep gaps"), alternating directions;
// (5) edge polylines: source bottom centre, dummies, target top centre.
#pragma once
#include <utility>
#include <vector>

namespace mixq {

class LayerGraph;

struct LayoutOptions {
  float rank_gap = 36.0f;    // vertical space between rows
  float node_gap = 18.0f;    // horizontal space between neighbours in a row
  float dummy_width = 6.0f;  // width reserved by a long edge crossing a row
  int sweeps = 12;           // crossing-reduction passes (each down + up)
  int coordinate_passes = 8;
};

struct LayoutPoint {
  float x = 0, y = 0;
};

struct LayoutEdge {
  int from = -1, to = -1;
  std::vector<LayoutPoint> points;  // >= 2 points, top to bottom
};

struct GraphLayout {
  std::vector<LayoutPoint> centers;  // per node: centre of its box
  std::vector<LayoutPoint> sizes;    // per node: width, height (copied from the input)
  std::vector<int> rank;             // per node: row index
  std::vector<LayoutEdge> edges;     // the kept edges, in input order
  int rank_count = 0;
  int crossings = 0;            // edge crossings of the final order (dummies included)
  float width = 0, height = 0;  // bounding box, origin (0, 0) top-left
};

// sizes[i] = {width, height} of node i.
GraphLayout layout_dag(const std::vector<LayoutPoint>& sizes, const std::vector<std::pair<int, int>>& edges,
                       const LayoutOptions& options = {});

// Edges of a LayerGraph (producer layer -> consumer layer), deduplicated.
std::vector<std::pair<int, int>> layer_edges(const LayerGraph& layers);

// Exact number of crossings between two consecutive rows: `edges` are (position in the
// upper row, position in the lower row). Exposed for tests.
long long count_crossings(std::vector<std::pair<int, int>> edges, int lower_row_size);

}  // namespace mixq
