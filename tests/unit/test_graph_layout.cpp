// Layered DAG layout: ranks respect edges, rows never overlap, long edges get one point
// per crossed row, crossings are counted exactly and reduced, output is deterministic.
#include <catch2/catch.hpp>

#include "mixq/analysis.h"
#include "mixq/graph_layout.h"
#include "support/onnx_builder.h"

using namespace mixq;

namespace {
void check_invariants(const GraphLayout& g, const std::vector<std::pair<int, int>>& edges, float gap) {
  for (auto [a, b] : edges) CHECK(g.rank[a] < g.rank[b]);
  // No two nodes of one row overlap (gap respected).
  for (size_t i = 0; i < g.centers.size(); ++i)
    for (size_t j = i + 1; j < g.centers.size(); ++j)
      if (g.rank[i] == g.rank[j]) {
        const float dx = std::abs(g.centers[i].x - g.centers[j].x);
        CHECK(dx + 1e-3f >= (g.sizes[i].x + g.sizes[j].x) / 2 + gap);
      }
  for (size_t v = 0; v < g.centers.size(); ++v) {
    CHECK(g.centers[v].x - g.sizes[v].x / 2 >= -1e-3f);
    CHECK(g.centers[v].x + g.sizes[v].x / 2 <= g.width + 1e-3f);
  }
  for (const auto& e : g.edges) {
    REQUIRE(e.points.size() == size_t(g.rank[e.to] - g.rank[e.from] + 1));
    for (size_t k = 1; k < e.points.size(); ++k) CHECK(e.points[k].y > e.points[k - 1].y);
  }
}
}  // namespace

TEST_CASE("count_crossings counts inversions between two rows") {
  CHECK(count_crossings({{0, 0}, {1, 1}}, 2) == 0);
  CHECK(count_crossings({{0, 1}, {1, 0}}, 2) == 1);
  CHECK(count_crossings({{0, 0}, {0, 1}, {1, 0}}, 2) == 1);  // shared upper end never crosses
  CHECK(count_crossings({{0, 2}, {1, 1}, {2, 0}}, 3) == 3);
}

TEST_CASE("layout_dag: a diamond with a long skip edge") {
  // 0 -> 1 -> 2 -> 3, 0 -> 3 (skip), 1 -> 4 -> 3
  std::vector<LayoutPoint> sizes(5, {80, 30});
  std::vector<std::pair<int, int>> edges = {{0, 1}, {1, 2}, {2, 3}, {0, 3}, {1, 4}, {4, 3}};
  GraphLayout g = layout_dag(sizes, edges);
  check_invariants(g, edges, LayoutOptions{}.node_gap);
  CHECK(g.rank[0] == 0);
  CHECK(g.rank[3] == 3);
  CHECK(g.edges.size() == edges.size());
  CHECK(g.crossings == 0);
  CHECK(g.height > 3 * 30);
}

TEST_CASE("layout_dag: cycles and invalid edges are dropped, not fatal") {
  std::vector<LayoutPoint> sizes(3, {40, 20});
  GraphLayout g = layout_dag(sizes, {{0, 1}, {1, 2}, {2, 0}, {1, 1}, {0, 7}, {-1, 2}});
  CHECK(g.edges.size() == 2);
  CHECK(g.rank[0] < g.rank[1]);
  CHECK(g.rank[1] < g.rank[2]);
}

TEST_CASE("layout_dag: barycenter sweeps untangle a crossed bipartite graph") {
  // Upper row 0..3, lower row 4..7, wired in reverse: the initial order crosses 6 times.
  std::vector<LayoutPoint> sizes(8, {50, 20});
  std::vector<std::pair<int, int>> edges = {{0, 7}, {1, 6}, {2, 5}, {3, 4}};
  GraphLayout g = layout_dag(sizes, edges);
  check_invariants(g, edges, LayoutOptions{}.node_gap);
  CHECK(g.crossings == 0);
}

TEST_CASE("layout_dag is deterministic and fast on a wide random DAG") {
  std::vector<LayoutPoint> sizes;
  std::vector<std::pair<int, int>> edges;
  uint32_t seed = 12345;
  auto rnd = [&] { return seed = seed * 1664525u + 1013904223u; };
  const int n = 1200;
  for (int i = 0; i < n; ++i) {
    sizes.push_back({float(60 + rnd() % 80), 30});
    if (i > 0) edges.emplace_back(int(rnd() % i), i);
    if (i > 10 && rnd() % 4 == 0) edges.emplace_back(i - 1 - int(rnd() % 10), i);
  }
  GraphLayout a = layout_dag(sizes, edges);
  GraphLayout b = layout_dag(sizes, edges);
  check_invariants(a, edges, LayoutOptions{}.node_gap);
  REQUIRE(a.centers.size() == b.centers.size());
  for (size_t i = 0; i < a.centers.size(); ++i) {
    CHECK(a.centers[i].x == b.centers[i].x);
    CHECK(a.centers[i].y == b.centers[i].y);
  }
}

TEST_CASE("layer_edges follow the LayerGraph and lay out a real model") {
  MIXQ_REQUIRE_SHARED(bytes, "models/yolov5n-0.5-face.onnx");
  AnalyzeOptions opt;
  AnalyzedModel am = analyze_model(bytes, opt);
  auto edges = layer_edges(am.layers);
  REQUIRE(!edges.empty());
  std::vector<LayoutPoint> sizes(am.layers.layers.size(), {120, 34});
  GraphLayout g = layout_dag(sizes, edges);
  CHECK(g.edges.size() == edges.size());
  check_invariants(g, edges, LayoutOptions{}.node_gap);
}
