// Layered DAG layout (see graph_layout.h for the contract).
//
// [SECTION] acyclic order and ranks
// [SECTION] dummies for long edges
// [SECTION] crossing count and barycenter sweeps
// [SECTION] x coordinates (isotonic regression with gaps)
// [SECTION] assembly: rows, y, polylines
#include "mixq/graph_layout.h"

#include <algorithm>
#include <numeric>
#include <queue>
#include <set>

#include "mixq/layers.h"

namespace mixq {
namespace {

// -----------------------------------------------------------------------------
// [SECTION] acyclic order and ranks
// -----------------------------------------------------------------------------

// Kahn's algorithm with the smallest ready index first; nodes stuck in cycles are
// released by smallest index. Returns the position of every node in the order.
std::vector<int> acyclic_positions(int n, const std::vector<std::vector<int>>& succ,
                                   const std::vector<std::vector<int>>& pred) {
  std::vector<int> indegree(n), position(n, -1);
  for (int v = 0; v < n; ++v) indegree[v] = int(pred[v].size());
  std::priority_queue<int, std::vector<int>, std::greater<int>> ready;
  for (int v = 0; v < n; ++v)
    if (indegree[v] == 0) ready.push(v);
  int placed = 0, next_stuck = 0;
  while (placed < n) {
    if (ready.empty()) {  // a cycle: release the smallest unplaced node
      while (position[next_stuck] >= 0) ++next_stuck;
      ready.push(next_stuck);
      indegree[next_stuck] = 0;
    }
    int v = ready.top();
    ready.pop();
    if (position[v] >= 0) continue;
    position[v] = placed++;
    for (int s : succ[v])
      if (position[s] < 0 && --indegree[s] == 0) ready.push(s);
  }
  return position;
}

// -----------------------------------------------------------------------------
// [SECTION] crossing count and barycenter sweeps
// -----------------------------------------------------------------------------

struct Fenwick {
  std::vector<int> tree;
  explicit Fenwick(int n) : tree(n + 1, 0) {}
  void add(int i) {
    for (++i; i < int(tree.size()); i += i & -i) ++tree[i];
  }
  int prefix(int i) const {  // count of values < i
    int s = 0;
    for (; i > 0; i -= i & -i) s += tree[i];
    return s;
  }
};

// Positions of dummies and real nodes: one "virtual" graph with segment edges
// between consecutive rows only.
struct VirtualGraph {
  int real_count = 0;
  std::vector<int> rank;                   // per virtual node
  std::vector<std::vector<int>> up, down;  // neighbours in the row above / below
  std::vector<float> width, height;
  std::vector<std::vector<int>> rows;  // order of virtual nodes in each row
  std::vector<int> pos;                // index within its row
};

long long row_pair_crossings(const VirtualGraph& g, int r) {
  std::vector<std::pair<int, int>> edges;
  for (int v : g.rows[r])
    for (int w : g.down[v]) edges.emplace_back(g.pos[v], g.pos[w]);
  return count_crossings(std::move(edges), int(g.rows[r + 1].size()));
}

long long total_crossings(const VirtualGraph& g) {
  long long total = 0;
  for (int r = 0; r + 1 < int(g.rows.size()); ++r) total += row_pair_crossings(g, r);
  return total;
}

void reorder_row(VirtualGraph& g, int r, bool use_up) {
  auto& row = g.rows[r];
  std::vector<std::pair<double, int>> keyed;
  keyed.reserve(row.size());
  for (int v : row) {
    const auto& nb = use_up ? g.up[v] : g.down[v];
    double key = g.pos[v];
    if (!nb.empty()) {
      double sum = 0;
      for (int w : nb) sum += g.pos[w];
      // Scale into this row's index space so nodes without neighbours keep their place.
      const int other = use_up ? r - 1 : r + 1;
      const double scale = double(row.size()) / std::max<size_t>(1, g.rows[other].size());
      key = sum / nb.size() * scale;
    }
    keyed.emplace_back(key, v);
  }
  std::stable_sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (size_t i = 0; i < keyed.size(); ++i) {
    row[i] = keyed[i].second;
    g.pos[row[i]] = int(i);
  }
}

long long reduce_crossings(VirtualGraph& g, int sweeps) {
  auto best_rows = g.rows;
  long long best = total_crossings(g);
  int stale = 0;
  for (int it = 0; it < sweeps && best > 0 && stale < 3; ++it) {
    for (int r = 1; r < int(g.rows.size()); ++r) reorder_row(g, r, true);
    for (int r = int(g.rows.size()) - 2; r >= 0; --r) reorder_row(g, r, false);
    long long c = total_crossings(g);
    if (c < best) {
      best = c;
      best_rows = g.rows;
      stale = 0;
    } else {
      ++stale;
    }
  }
  g.rows = best_rows;
  for (auto& row : g.rows)
    for (size_t i = 0; i < row.size(); ++i) g.pos[row[i]] = int(i);
  return best;
}

// -----------------------------------------------------------------------------
// [SECTION] x coordinates (isotonic regression with gaps)
// -----------------------------------------------------------------------------

// Places one row: keeps the order, keeps the minimum gaps, and minimises the weighted
// squared distance to `desired` (pool-adjacent-violators on x - offset).
void place_row(const std::vector<int>& row, const std::vector<double>& desired, const std::vector<double>& weight,
               const std::vector<double>& offset, std::vector<float>& x) {
  struct Block {
    double w, wsum;
    int count;
  };
  std::vector<Block> blocks;
  for (size_t i = 0; i < row.size(); ++i) {
    blocks.push_back({weight[i], weight[i] * (desired[i] - offset[i]), 1});
    while (blocks.size() > 1) {
      Block& b = blocks.back();
      Block& a = blocks[blocks.size() - 2];
      if (a.wsum / a.w <= b.wsum / b.w) break;
      a.w += b.w;
      a.wsum += b.wsum;
      a.count += b.count;
      blocks.pop_back();
    }
  }
  size_t i = 0;
  for (const Block& b : blocks)
    for (int k = 0; k < b.count; ++k, ++i) x[row[i]] = float(b.wsum / b.w + offset[i]);
}

void assign_x(VirtualGraph& g, const LayoutOptions& opt, std::vector<float>& x) {
  const int n = int(g.rank.size());
  x.assign(n, 0.0f);
  std::vector<std::vector<double>> offsets(g.rows.size());
  for (size_t r = 0; r < g.rows.size(); ++r) {
    const auto& row = g.rows[r];
    auto& off = offsets[r];
    off.resize(row.size());
    double acc = 0;
    for (size_t i = 0; i < row.size(); ++i) {
      if (i > 0) {
        const bool both_dummies = row[i - 1] >= g.real_count && row[i] >= g.real_count;
        acc += g.width[row[i - 1]] / 2 + (both_dummies ? opt.node_gap / 3 : opt.node_gap) + g.width[row[i]] / 2;
      }
      off[i] = acc;
      x[row[i]] = float(acc);
    }
  }
  // Centre every row on the widest one as the starting point.
  double widest = 0;
  for (auto& off : offsets)
    if (!off.empty()) widest = std::max(widest, off.back());
  for (size_t r = 0; r < g.rows.size(); ++r)
    if (!offsets[r].empty())
      for (int v : g.rows[r]) x[v] += float((widest - offsets[r].back()) / 2);

  std::vector<double> desired, weight;
  auto pass = [&](int r, int mode) {  // mode: 0 up neighbours, 1 down, 2 both
    const auto& row = g.rows[r];
    desired.assign(row.size(), 0);
    weight.assign(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) {
      const int v = row[i];
      double sum = 0;
      int count = 0;
      if (mode != 1)
        for (int w : g.up[v]) sum += x[w], ++count;
      if (mode != 0)
        for (int w : g.down[v]) sum += x[w], ++count;
      desired[i] = count ? sum / count : x[v];
      // Dummies pull harder so long edges stay straight; loose nodes barely pull.
      weight[i] = count == 0 ? 0.05 : (v >= g.real_count ? 4.0 : 1.0) * count;
    }
    place_row(row, desired, weight, offsets[r], x);
  };
  for (int p = 0; p < opt.coordinate_passes; ++p) {
    if (p % 2 == 0)
      for (int r = 1; r < int(g.rows.size()); ++r) pass(r, 0);
    else
      for (int r = int(g.rows.size()) - 2; r >= 0; --r) pass(r, 1);
  }
  for (int r = 0; r < int(g.rows.size()); ++r) pass(r, 2);
}

}  // namespace

long long count_crossings(std::vector<std::pair<int, int>> edges, int lower_row_size) {
  std::sort(edges.begin(), edges.end());
  Fenwick tree(std::max(1, lower_row_size));
  long long crossings = 0;
  // For each edge in (upper, lower) order, count earlier edges with a larger lower end
  // (edges sharing the upper end never cross).
  size_t i = 0;
  int inserted = 0;
  while (i < edges.size()) {
    size_t j = i;
    while (j < edges.size() && edges[j].first == edges[i].first) ++j;
    for (size_t k = i; k < j; ++k) crossings += inserted - tree.prefix(edges[k].second + 1);
    for (size_t k = i; k < j; ++k) tree.add(edges[k].second), ++inserted;
    i = j;
  }
  return crossings;
}

std::vector<std::pair<int, int>> layer_edges(const LayerGraph& layers) {
  std::vector<std::pair<int, int>> edges;
  std::set<std::pair<int, int>> seen;
  for (int i = 0; i < int(layers.layers.size()); ++i)
    for (int p : layers.layers[i].inputs)
      if (p >= 0 && seen.insert({p, i}).second) edges.emplace_back(p, i);
  return edges;
}

// -----------------------------------------------------------------------------
// [SECTION] assembly: rows, y, polylines
// -----------------------------------------------------------------------------

GraphLayout layout_dag(const std::vector<LayoutPoint>& sizes, const std::vector<std::pair<int, int>>& input_edges,
                       const LayoutOptions& options) {
  const int n = int(sizes.size());
  GraphLayout out;
  out.sizes = sizes;
  if (n == 0) return out;

  // Valid, deduplicated edges; then drop the ones closing a cycle.
  std::vector<std::vector<int>> succ(n), pred(n);
  std::vector<std::pair<int, int>> edges;
  {
    std::set<std::pair<int, int>> seen;
    for (auto [a, b] : input_edges)
      if (a >= 0 && b >= 0 && a < n && b < n && a != b && seen.insert({a, b}).second) edges.emplace_back(a, b);
    for (auto [a, b] : edges) succ[a].push_back(b), pred[b].push_back(a);
    const std::vector<int> position = acyclic_positions(n, succ, pred);
    std::vector<std::pair<int, int>> kept;
    for (auto e : edges)
      if (position[e.first] < position[e.second]) kept.push_back(e);
    edges.swap(kept);
    for (auto& s : succ) s.clear();
    for (auto& p : pred) p.clear();
    for (auto [a, b] : edges) succ[a].push_back(b), pred[b].push_back(a);
  }
  std::vector<int> order(n);
  {
    const std::vector<int> position = acyclic_positions(n, succ, pred);
    for (int v = 0; v < n; ++v) order[position[v]] = v;
  }

  // Ranks: longest path from sources, then pull nodes down towards their consumers.
  std::vector<int> rank(n, 0);
  for (int v : order)
    for (int s : succ[v]) rank[s] = std::max(rank[s], rank[v] + 1);
  for (int i = n - 1; i >= 0; --i) {
    const int v = order[i];
    if (succ[v].empty() || pred[v].empty()) continue;  // keep sources on top, sinks where they are
    int lowest = 1 << 30;
    for (int s : succ[v]) lowest = std::min(lowest, rank[s]);
    rank[v] = std::max(rank[v], lowest - 1);
  }
  const int rank_count = 1 + *std::max_element(rank.begin(), rank.end());

  // [SECTION] dummies for long edges
  VirtualGraph g;
  g.real_count = n;
  g.rank = rank;
  g.up.assign(n, {});
  g.down.assign(n, {});
  for (int v = 0; v < n; ++v) {
    g.width.push_back(sizes[v].x);
    g.height.push_back(sizes[v].y);
  }
  std::vector<std::vector<int>> chains(edges.size());  // virtual nodes of each edge, top to bottom
  for (size_t e = 0; e < edges.size(); ++e) {
    auto [a, b] = edges[e];
    int prev = a;
    for (int r = rank[a] + 1; r < rank[b]; ++r) {
      const int d = int(g.rank.size());
      g.rank.push_back(r);
      g.up.push_back({prev});
      g.down.push_back({});
      g.width.push_back(options.dummy_width);
      g.height.push_back(0);
      g.down[prev].push_back(d);
      chains[e].push_back(d);
      prev = d;
    }
    g.down[prev].push_back(b);
    g.up[b].push_back(prev);
  }

  // Initial order: real nodes in acyclic order, each followed by the dummies it starts.
  g.rows.assign(rank_count, {});
  g.pos.assign(g.rank.size(), 0);
  {
    std::vector<std::vector<int>> edges_from(n);
    for (size_t e = 0; e < edges.size(); ++e) edges_from[edges[e].first].push_back(int(e));
    for (int v : order) {
      g.pos[v] = int(g.rows[rank[v]].size());
      g.rows[rank[v]].push_back(v);
      for (int e : edges_from[v])
        for (int d : chains[e]) {
          g.pos[d] = int(g.rows[g.rank[d]].size());
          g.rows[g.rank[d]].push_back(d);
        }
    }
  }
  out.crossings = int(reduce_crossings(g, options.sweeps));

  std::vector<float> x;
  assign_x(g, options, x);

  // y: each row as tall as its tallest node.
  std::vector<float> row_top(rank_count), row_height(rank_count, 0.0f);
  for (size_t v = 0; v < g.rank.size(); ++v) row_height[g.rank[v]] = std::max(row_height[g.rank[v]], g.height[v]);
  float y = 0;
  for (int r = 0; r < rank_count; ++r) {
    row_top[r] = y;
    y += row_height[r] + options.rank_gap;
  }
  float min_x = 1e30f, max_x = -1e30f;
  for (size_t v = 0; v < g.rank.size(); ++v) {
    min_x = std::min(min_x, x[v] - g.width[v] / 2);
    max_x = std::max(max_x, x[v] + g.width[v] / 2);
  }
  auto center_y = [&](int v) { return row_top[g.rank[v]] + row_height[g.rank[v]] / 2; };

  out.rank = rank;
  out.rank_count = rank_count;
  out.centers.resize(n);
  for (int v = 0; v < n; ++v) out.centers[v] = {x[v] - min_x, center_y(v)};
  out.width = max_x - min_x;
  out.height = y - options.rank_gap;
  for (size_t e = 0; e < edges.size(); ++e) {
    auto [a, b] = edges[e];
    LayoutEdge le;
    le.from = a;
    le.to = b;
    le.points.push_back({out.centers[a].x, out.centers[a].y + sizes[a].y / 2});
    for (int d : chains[e]) le.points.push_back({x[d] - min_x, center_y(d)});
    le.points.push_back({out.centers[b].x, out.centers[b].y - sizes[b].y / 2});
    out.edges.push_back(std::move(le));
  }
  return out;
}

}  // namespace mixq
