// The "Task vectors" section: the words about the overall cosine, a heatmap of cosine similarity by layer and
// module per pair of task vectors with the per-layer norms beside it, relative-norm heatmaps per model, and
// the per-module-type table, from `finmerge analyze --json`.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "report/report_sections.h"
#include "report/svg_chart.h"

namespace fm::report {

namespace {

// Sums that combine tensors into one heatmap cell exactly: dot products and squared norms.
struct CellSums {
  std::vector<double> sq, base_sq;
  std::vector<std::vector<double>> dot;
  bool any = false;
  void Add(const VectorStats& s) {
    const size_t n = s.norm.size();
    if (!any) {
      sq.assign(n, 0), base_sq.assign(n, 0), dot.assign(n, std::vector<double>(n, 0));
      any = true;
    }
    for (size_t i = 0; i < n; i++) {
      sq[i] += s.norm[i] * s.norm[i];
      // relative_norm = |delta| / |base|, so |base|^2 = |delta|^2 / rel^2.
      if (s.relative_norm[i] > 0)
        base_sq[i] += s.norm[i] * s.norm[i] / (s.relative_norm[i] * s.relative_norm[i]);
      for (size_t j = 0; j < n; j++) {
        const double c = std::isfinite(s.cosine[i][j]) ? s.cosine[i][j] : 0.0;
        dot[i][j] += c * s.norm[i] * s.norm[j];
      }
    }
  }
  double Cosine(size_t i, size_t j) const {
    const double d = std::sqrt(sq[i]) * std::sqrt(sq[j]);
    return d > 0 ? dot[i][j] / d : NAN;
  }
  double Norm(size_t i) const { return std::sqrt(sq[i]); }
  double RelativeNorm(size_t i) const { return base_sq[i] > 0 ? std::sqrt(sq[i] / base_sq[i]) : NAN; }
};

struct Grid {
  std::vector<int> layers;
  std::vector<std::string> cols;
  std::vector<std::vector<CellSums>> cells;  // [layer row][col]
  std::vector<std::string> outside_cols;     // tensors outside the layers, by column
  std::vector<CellSums> outside;
};

Grid BuildGrid(const AnalysisData& a) {
  Grid g;
  std::vector<std::string> cols, outside;
  std::vector<int> layers;
  for (const auto& t : a.tensors) {
    const std::string col = HeatmapColumn(t.name, t.module);
    auto& list = t.layer >= 0 ? cols : outside;
    if (std::find(list.begin(), list.end(), col) == list.end()) list.push_back(col);
    if (t.layer >= 0 && std::find(layers.begin(), layers.end(), t.layer) == layers.end())
      layers.push_back(t.layer);
  }
  auto by_order = [](const std::string& a, const std::string& b) { return ColumnOrder(a) < ColumnOrder(b); };
  std::stable_sort(cols.begin(), cols.end(), by_order);
  std::stable_sort(outside.begin(), outside.end(), by_order);
  std::sort(layers.begin(), layers.end());
  g.layers = layers, g.cols = cols, g.outside_cols = outside;
  g.cells.assign(layers.size(), std::vector<CellSums>(cols.size()));
  g.outside.assign(outside.size(), CellSums());
  for (const auto& t : a.tensors) {
    const std::string col = HeatmapColumn(t.name, t.module);
    if (t.layer >= 0) {
      const size_t r = std::find(layers.begin(), layers.end(), t.layer) - layers.begin();
      const size_t c = std::find(cols.begin(), cols.end(), col) - cols.begin();
      g.cells[r][c].Add(t.stats);
    } else {
      g.outside[std::find(outside.begin(), outside.end(), col) - outside.begin()].Add(t.stats);
    }
  }
  return g;
}

// The colour scale's end for cosines: at least 0.1, so that near-zero similarity stays pale.
double CosineScaleMax(double max_abs) {
  for (double m : {0.1, 0.2, 0.5}) {
    if (max_abs <= m) return m;
  }
  return 1.0;
}

// "0.123" -> ".123", "-0.05" -> "-.05": cell text that fits a narrow cell.
std::string CompactFixed(double v, int decimals) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  std::string s = buf;
  if (s.rfind("0.", 0) == 0) s.erase(0, 1);
  if (s.rfind("-0.", 0) == 0) s.erase(1, 1);
  if (s == "-.000" || s == "-.00") s.erase(0, 1);
  return s;
}

std::string PairFigure(const AnalysisData& a, const Grid& g, size_t i, size_t j) {
  const std::string li = a.labels[i], lj = a.labels[j];
  double max_abs = 0;
  for (const auto& row : g.cells) {
    for (const CellSums& c : row) {
      if (c.any && std::isfinite(c.Cosine(i, j))) max_abs = std::max(max_abs, std::fabs(c.Cosine(i, j)));
    }
  }
  for (const CellSums& c : g.outside) {
    if (c.any && std::isfinite(c.Cosine(i, j))) max_abs = std::max(max_abs, std::fabs(c.Cosine(i, j)));
  }
  const double m = CosineScaleMax(max_abs);
  const int decimals = m <= 0.2 ? 3 : 2;
  auto color = [m](double v) { return DivergingColor(v, m); };

  HeatmapSpec h;
  h.row_title = "layer";
  h.row_label_w = 100;
  h.cell_w = 52;
  h.cell_h = g.layers.size() <= 12 ? 28 : g.layers.size() <= 32 ? 22 : 16;
  for (int l : g.layers) h.rows.push_back(std::to_string(l));
  h.cols = g.cols;
  h.values.assign(g.layers.size(), std::vector<double>(g.cols.size(), NAN));
  for (size_t r = 0; r < g.layers.size(); r++) {
    for (size_t c = 0; c < g.cols.size(); c++) {
      if (g.cells[r][c].any) h.values[r][c] = g.cells[r][c].Cosine(i, j);
    }
  }
  h.color = color;
  h.cell_text = [decimals](double v) { return CompactFixed(v, decimals); };
  h.tooltip = [&](size_t r, size_t c) {
    const CellSums& s = g.cells[r][c];
    if (!s.any) return "layer " + std::to_string(g.layers[r]) + ", " + g.cols[c] + ": no such tensor";
    return "layer " + std::to_string(g.layers[r]) + ", " + g.cols[c] + ": cosine " +
           FormatNumber(s.Cosine(i, j)) + "; L2 norm " + li + " " + FormatNumber(s.Norm(i)) + ", " + lj +
           " " + FormatNumber(s.Norm(j));
  };
  auto [hw, hh] = HeatmapSize(h);

  HeatmapSpec strip = h;
  strip.row_title = "";
  strip.rows = {"outside layers"};
  strip.cols = g.outside_cols;
  strip.cell_h = 28;
  strip.values.assign(1, std::vector<double>(g.outside_cols.size(), NAN));
  for (size_t c = 0; c < g.outside_cols.size(); c++) {
    if (g.outside[c].any) strip.values[0][c] = g.outside[c].Cosine(i, j);
  }
  strip.tooltip = [&](size_t, size_t c) {
    const CellSums& s = g.outside[c];
    return g.outside_cols[c] + ": cosine " + FormatNumber(s.Cosine(i, j)) + "; L2 norm " + li + " " +
           FormatNumber(s.Norm(i)) + ", " + lj + " " + FormatNumber(s.Norm(j));
  };
  const bool has_strip = !g.outside_cols.empty();
  auto [sw, sh] = has_strip ? HeatmapSize(strip) : std::pair<double, double>{0, 0};

  SvgWriter svg;
  const double top = 8;
  auto [gx, gy] = DrawHeatmap(&svg, 0, top, h);
  const double grid_bottom = gy + h.cell_h * static_cast<double>(h.rows.size());
  double height = grid_bottom + 8;
  if (has_strip) {
    DrawHeatmap(&svg, 0, grid_bottom + 22, strip);
    height = grid_bottom + 22 + sh + 8;
  }
  // Colour legend right of the grid.
  const double legend_x = std::max(hw, sw) + 22;
  const double legend_h = std::max(120.0, std::min(240.0, grid_bottom - gy));
  DrawColorLegend(
      &svg, legend_x, gy, legend_h, color, -m, m, {-m, -m / 2, 0, m / 2, m},
      [m](double v) { return FormatTick(v, m / 2); }, "cosine");
  double width = legend_x + 60;

  // Per-layer L2 norms of both task vectors, rows aligned with the heatmap.
  if (!a.by_layer.empty()) {
    const double bx = width + 36, bw = 230;
    double max_norm = 0;
    for (const auto& [l, s] : a.by_layer) max_norm = std::max({max_norm, s.norm[i], s.norm[j]});
    const Ticks t = NiceTicks(0, max_norm > 0 ? max_norm : 1, 3);
    const LinearScale sx{0, t.hi, bx, bx + bw};
    svg.Text(bx, gy - 24, "L2 norm per layer", "class=\"tick strong\"");
    double lx = bx;
    for (size_t k : {i, j}) {
      const std::string& name = a.labels[k];
      svg.Rect(lx, gy - 15, 10, 10, ModelColor(name, k), {}, "rx=\"2\"");
      svg.Text(lx + 14, gy - 6, name, "class=\"tick\"");
      lx += 14 + name.size() * 6.6 + 14;
    }
    for (double v : t.values) {
      svg.Line(sx(v), gy, sx(v), grid_bottom, "#eef0f3", 1);
      svg.Text(sx(v), grid_bottom + 14, FormatTick(v, t.step), "class=\"tick\" text-anchor=\"middle\"");
    }
    for (size_t r = 0; r < g.layers.size(); r++) {
      const VectorStats* s = nullptr;
      for (const auto& [l, st] : a.by_layer) {
        if (l == g.layers[r]) s = &st;
      }
      if (!s) continue;
      const double y = gy + h.cell_h * static_cast<double>(r);
      const double bar_h = (h.cell_h - 6) / 2;
      size_t slot = 0;
      for (size_t k : {i, j}) {
        char tip[256];
        std::snprintf(tip, sizeof tip, "layer %d, %s: L2 norm %s (%s of the base layer's)", g.layers[r],
                      a.labels[k].c_str(), FormatNumber(s->norm[k]).c_str(),
                      std::isfinite(s->relative_norm[k])
                          ? (FormatNumber(100 * s->relative_norm[k], 3) + "%").c_str()
                          : "n/a");
        svg.Rect(bx, y + 3 + bar_h * static_cast<double>(slot), std::max(1.0, sx(s->norm[k]) - bx), bar_h - 1,
                 ModelColor(a.labels[k], k), tip, "rx=\"1.5\"");
        slot++;
      }
    }
    svg.Line(bx, gy, bx, grid_bottom, "#9ca3af", 1);
    width = bx + bw + 20;
    height = std::max(height, grid_bottom + 24);
  }
  return svg.Finish(width, height,
                    "cosine similarity of the " + li + " and " + lj +
                        " task vectors by layer and module, with per-layer norms");
}

std::string RelativeNormFigures(const AnalysisData& a, const Grid& g) {
  double max_rel = 0;
  for (const auto& row : g.cells) {
    for (const CellSums& c : row) {
      if (!c.any) continue;
      for (size_t k = 0; k < a.labels.size(); k++) {
        if (std::isfinite(c.RelativeNorm(k))) max_rel = std::max(max_rel, c.RelativeNorm(k));
      }
    }
  }
  if (max_rel <= 0) return "";
  const Ticks t = NiceTicks(0, max_rel, 4);
  auto color = [&](double v) { return SequentialColor(v, t.hi); };
  std::string h = "<div class=\"grid2 tight\">";
  for (size_t k = 0; k < a.labels.size(); k++) {
    HeatmapSpec hm;
    hm.row_title = "layer";
    hm.row_label_w = 60;
    hm.cell_w = 46;
    hm.cell_h = g.layers.size() <= 12 ? 24 : g.layers.size() <= 32 ? 18 : 14;
    for (int l : g.layers) hm.rows.push_back(std::to_string(l));
    hm.cols = g.cols;
    hm.values.assign(g.layers.size(), std::vector<double>(g.cols.size(), NAN));
    for (size_t r = 0; r < g.layers.size(); r++) {
      for (size_t c = 0; c < g.cols.size(); c++) {
        if (g.cells[r][c].any) hm.values[r][c] = g.cells[r][c].RelativeNorm(k);
      }
    }
    hm.color = color;
    hm.cell_text = [](double v) {
      const double pct = 100 * v;
      char buf[32];
      // Two significant digits ("9.9", "10", "0.22"); %g switches to an exponent only from 100.
      std::snprintf(buf, sizeof buf, pct < 99.5 ? "%.2g" : "%.0f", pct);
      return std::string(buf);
    };
    const std::string label = a.labels[k];
    hm.tooltip = [&g, k, label](size_t r, size_t c) {
      const CellSums& s = g.cells[r][c];
      if (!s.any) return "layer " + std::to_string(g.layers[r]) + ", " + g.cols[c] + ": no such tensor";
      return label + ", layer " + std::to_string(g.layers[r]) + ", " + g.cols[c] + ": L2 norm " +
             FormatNumber(s.Norm(k)) + " = " + FormatNumber(100 * s.RelativeNorm(k), 3) +
             "% of the base weights' norm";
    };
    SvgWriter svg;
    auto [hw, hh] = HeatmapSize(hm);
    auto [gx, gy] = DrawHeatmap(&svg, 0, 4, hm);
    const double grid_h = hm.cell_h * static_cast<double>(hm.rows.size());
    DrawColorLegend(
        &svg, hw + 18, gy, std::max(100.0, std::min(200.0, grid_h)), color, 0, t.hi, t.values,
        [](double v) { return FormatNumber(100 * v, 2) + "%"; }, "% of base");
    const double height = std::max(4 + hh, gy + std::max(100.0, std::min(200.0, grid_h))) + 8;
    h += "<figure class=\"chart\"><figcaption><span class=\"swatch\" style=\"background:" +
         ModelColor(label, k) + "\"></span>" + HtmlEscape(label) +
         " task vector: norm relative to the base weights</figcaption>" +
         svg.Finish(hw + 90, height, label + " task vector: relative norm by layer and module") + "</figure>";
  }
  return h + "</div>";
}

}  // namespace

std::string TaskVectorSection(Presence p, const std::string& path, const AnalysisData& a) {
  std::string h = "<section id=\"task-vectors\"><h2>Task vectors</h2>";
  if (p != Presence::kLoaded) {
    h += "<p class=\"lede\">How the models' weight deltas from the common base relate "
         "(<code>finmerge analyze --json</code>).</p>";
    return h + NotRun("task-vector analysis", p == Presence::kMissing ? path : "") + "</section>";
  }
  const size_t n = a.labels.size();
  h += "<p class=\"lede\">Each model's task vector is its weights minus the base's";
  if (!a.base.empty()) h += " (<code>" + HtmlEscape(a.base) + "</code>)";
  h += ". The paper's argument: when the instruction vector and the domain vector are nearly orthogonal, "
       "adding "
       "one to the other's model does not undo it.</p>";
  // Verdicts, one per pair.
  for (size_t i = 0; i < n; i++) {
    for (size_t j = i + 1; j < n; j++) {
      const double c = a.overall.cosine[i][j];
      const bool near_zero = std::isfinite(c) && std::fabs(c) < 0.1;
      h += "<p class=\"verdict" + std::string(near_zero ? " good" : "") +
           "\">Overall cosine similarity of <b>" + HtmlEscape(a.labels[i]) + "</b> and <b>" +
           HtmlEscape(a.labels[j]) + "</b>: <b class=\"num\">" + HtmlEscape(FormatNumber(c, 3)) + "</b> — " +
           HtmlEscape(CosineVerdict(c)) + ".";
      if (std::isfinite(a.overall.sign_agreement[i][j])) {
        h += " Their signs agree on " + HtmlEscape(FormatNumber(100 * a.overall.sign_agreement[i][j], 3)) +
             "% of the weights both change (50% for unrelated vectors).";
      }
      h += "</p>";
    }
  }
  // Overall norms.
  h += "<table class=\"compact\"><thead><tr><th>task vector</th><th>L2 norm</th><th>relative to base</th>"
       "</tr></thead><tbody>";
  for (size_t k = 0; k < n; k++) {
    h += "<tr><td><span class=\"swatch\" style=\"background:" + ModelColor(a.labels[k], k) + "\"></span>" +
         HtmlEscape(a.labels[k]) + "</td><td>" + HtmlEscape(FormatNumber(a.overall.norm[k])) + "</td><td>" +
         (std::isfinite(a.overall.relative_norm[k])
              ? HtmlEscape(FormatNumber(100 * a.overall.relative_norm[k], 3)) + "%"
              : "n/a") +
         "</td></tr>";
  }
  h += "</tbody></table>";

  const Grid g = BuildGrid(a);
  if (g.layers.empty() && g.outside_cols.empty()) {
    h += "<p class=\"muted-text\">The analysis has no per-tensor statistics, so there is no heatmap.</p>";
  } else if (n >= 2) {
    for (size_t i = 0; i < n; i++) {
      for (size_t j = i + 1; j < n; j++) {
        h += "<figure class=\"chart wide\"><figcaption>Cosine similarity of the " + HtmlEscape(a.labels[i]) +
             " and " + HtmlEscape(a.labels[j]) +
             " task vectors by layer and module</figcaption><div class=\"stats\">Red: the two deltas point "
             "the "
             "same way; blue: opposite ways; pale: independent. Hover a cell for its norms.</div>" +
             PairFigure(a, g, i, j) + "</figure>";
      }
    }
  }
  if (!g.layers.empty()) {
    h += "<h3>How far each model moved, by layer and module</h3><p class=\"stats\">L2 norm of the task "
         "vector as a "
         "percentage of the base weights' norm.</p>" +
         RelativeNormFigures(a, g);
  }
  if (!a.by_module.empty()) {
    h += "<h3>By module type</h3><table class=\"compact\"><thead><tr><th>module</th>";
    for (size_t i = 0; i < n; i++) {
      for (size_t j = i + 1; j < n; j++)
        h += "<th>cosine " + HtmlEscape(a.labels[i]) + " · " + HtmlEscape(a.labels[j]) + "</th>";
    }
    for (size_t k = 0; k < n; k++) h += "<th>norm " + HtmlEscape(a.labels[k]) + "</th>";
    h += "</tr></thead><tbody>";
    std::vector<double> norms;
    for (const auto& [mod, s] : a.by_module) norms.insert(norms.end(), s.norm.begin(), s.norm.end());
    const int norm_decimals = ColumnDecimals(norms, 4);
    for (const auto& [mod, s] : a.by_module) {
      h += "<tr><td>" + HtmlEscape(mod) + "</td>";
      for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; j < n; j++) h += "<td>" + FormatFixed(s.cosine[i][j], 4) + "</td>";
      }
      for (size_t k = 0; k < n; k++) h += "<td>" + FormatFixed(s.norm[k], norm_decimals) + "</td>";
      h += "</tr>";
    }
    h += "</tbody></table>";
  }
  h += "<div class=\"source\">" + HtmlEscape(path) + "</div>";
  return h + "</section>";
}

}  // namespace fm::report
