// The "Evaluation" section: a table (row per model, column per metric, best per column highlighted) and one
// bar chart per metric, from the demo's results.json or `finmerge eval --json`.
#include <algorithm>
#include <cmath>

#include "report/report_sections.h"
#include "report/svg_chart.h"

namespace fm::report {

std::vector<size_t> BestRows(const ResultsData& r, size_t metric) {
  const bool lower = LowerIsBetter(r.metrics[metric]);
  double best = NAN;
  for (size_t m = 0; m < r.models.size(); m++) {
    const double v = r.values[m][metric];
    if (!std::isfinite(v)) continue;
    if (!std::isfinite(best) || (lower ? v < best : v > best)) best = v;
  }
  std::vector<size_t> rows;
  if (!std::isfinite(best)) return rows;
  for (size_t m = 0; m < r.models.size(); m++) {
    if (std::isfinite(r.values[m][metric]) &&
        std::fabs(r.values[m][metric] - best) <= 1e-12 * (1 + std::fabs(best))) {
      rows.push_back(m);
    }
  }
  return rows;
}

namespace {

// Decimals per metric column, so that each column's numbers line up (3 significant digits of its largest).
std::vector<int> MetricDecimals(const ResultsData& r) {
  std::vector<int> d;
  for (size_t k = 0; k < r.metrics.size(); k++) {
    std::vector<double> column;
    for (const auto& row : r.values) column.push_back(row[k]);
    d.push_back(ColumnDecimals(column));
  }
  return d;
}

std::string PrimarySentence(const ResultsData& r, const std::vector<int>& decimals) {
  auto it = std::find(r.metrics.begin(), r.metrics.end(), r.primary_metric);
  if (r.primary_metric.empty() || it == r.metrics.end()) return "";
  const size_t k = it - r.metrics.begin();
  const bool lower = LowerIsBetter(r.primary_metric);
  std::vector<size_t> order;
  for (size_t m = 0; m < r.models.size(); m++) {
    if (std::isfinite(r.values[m][k])) order.push_back(m);
  }
  if (order.empty()) return "";
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return lower ? r.values[a][k] < r.values[b][k] : r.values[a][k] > r.values[b][k];
  });
  std::string s = "<p class=\"verdict\">Primary metric <b>" + HtmlEscape(r.primary_metric) + "</b> (" +
                  (lower ? "lower" : "higher") + " is better): ";
  for (size_t i = 0; i < order.size(); i++) {
    s += (i ? ", " : "") + std::string(i == 0 ? "<b>" : "") + HtmlEscape(r.models[order[i]]) + " " +
         HtmlEscape(FormatFixed(r.values[order[i]][k], decimals[k])) + (i == 0 ? "</b>" : "");
  }
  s += ".";
  // The paper's claim, when the run has its four models.
  auto idx = [&](const char* name) -> int {
    auto f = std::find(r.models.begin(), r.models.end(), name);
    return f == r.models.end() ? -1 : static_cast<int>(f - r.models.begin());
  };
  const int merged = idx("merged"), instruct = idx("instruct"), cpt = idx("cpt");
  if (merged >= 0 && instruct >= 0 && cpt >= 0 && std::isfinite(r.values[merged][k]) &&
      std::isfinite(r.values[instruct][k]) && std::isfinite(r.values[cpt][k])) {
    auto better = [&](double a, double b) { return lower ? a < b : a > b; };
    const bool beats =
        better(r.values[merged][k], r.values[instruct][k]) && better(r.values[merged][k], r.values[cpt][k]);
    s += beats ? " The merged model beats both of its parents (instruct and cpt) on it."
               : " The merged model does not beat both of its parents (instruct and cpt) on it.";
  }
  return s + "</p>";
}

}  // namespace

std::string EvaluationSection(Presence p, const std::string& path, const ResultsData& r) {
  std::string h = "<section id=\"evaluation\"><h2>Evaluation</h2>";
  if (p != Presence::kLoaded) {
    return h + "<p class=\"lede\">Each model's scores on the evaluation tasks.</p>" +
           NotRun("evaluation", p == Presence::kMissing ? path : "") + "</section>";
  }
  if (r.models.empty() || r.metrics.empty()) {
    return h + "<p class=\"notrun\">" + HtmlEscape(path) + " lists no model scores.</p></section>";
  }
  bool any_se = false;
  for (const auto& row : r.stderrs) {
    for (double e : row) any_se = any_se || std::isfinite(e);
  }
  h += "<p class=\"lede\">Each model's scores; the best value of each column is highlighted (↑ higher is "
       "better, "
       "↓ lower is better)";
  h += any_se ? ". ± is the standard error, drawn as whiskers on the bars.</p>" : ".</p>";
  const std::vector<int> decimals = MetricDecimals(r);
  h += PrimarySentence(r, decimals);
  std::vector<std::vector<size_t>> best(r.metrics.size());
  for (size_t k = 0; k < r.metrics.size(); k++) best[k] = BestRows(r, k);
  h += "<div class=\"scroll\"><table class=\"results\"><thead><tr><th>model</th>";
  for (const std::string& metric : r.metrics) {
    const bool primary = metric == r.primary_metric;
    h += std::string("<th") + (primary ? " class=\"primary\"" : "") + ">" + HtmlEscape(metric) +
         (LowerIsBetter(metric) ? " ↓" : " ↑") + (primary ? " <span class=\"badge\">primary</span>" : "") +
         "</th>";
  }
  h += "</tr></thead><tbody>";
  for (size_t m = 0; m < r.models.size(); m++) {
    h += "<tr><td><span class=\"swatch\" style=\"background:" + ModelColor(r.models[m], m) + "\"></span>" +
         HtmlEscape(r.models[m]) + "</td>";
    for (size_t k = 0; k < r.metrics.size(); k++) {
      const bool is_best = std::find(best[k].begin(), best[k].end(), m) != best[k].end();
      const double v = r.values[m][k];
      h += std::string("<td") + (is_best ? " class=\"best\"" : "") + ">" +
           (std::isfinite(v) ? HtmlEscape(FormatFixed(v, decimals[k])) : "—") +
           (std::isfinite(v) && std::isfinite(r.stderrs[m][k])
                ? "<span class=\"se\"> ± " + HtmlEscape(FormatFixed(r.stderrs[m][k], decimals[k])) + "</span>"
                : "") +
           "</td>";
    }
    h += "</tr>";
  }
  h += "</tbody></table></div><div class=\"grid3\">";
  for (size_t k = 0; k < r.metrics.size(); k++) {
    std::vector<Bar> bars;
    for (size_t m = 0; m < r.models.size(); m++) {
      const bool is_best = std::find(best[k].begin(), best[k].end(), m) != best[k].end();
      bars.push_back({r.models[m], r.values[m][k], ModelColor(r.models[m], m), is_best,
                      FormatFixed(r.values[m][k], decimals[k]), r.stderrs[m][k]});
    }
    BarChartOptions opt;
    opt.aria_label = r.metrics[k] + " by model";
    opt.width = std::max(270.0, 56.0 * static_cast<double>(bars.size()) + 60);
    h += "<figure class=\"chart\"><figcaption>" + HtmlEscape(r.metrics[k]) +
         (r.metrics[k] == r.primary_metric ? " <span class=\"badge\">primary</span>" : "") + "</figcaption>" +
         "<div class=\"stats\">" + (LowerIsBetter(r.metrics[k]) ? "lower is better" : "higher is better") +
         "</div>" + BarChartSvg(bars, opt) + "</figure>";
  }
  h += "</div><div class=\"source\">" + HtmlEscape(path) + "</div>";
  return h + "</section>";
}

}  // namespace fm::report
