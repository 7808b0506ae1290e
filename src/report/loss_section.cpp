// The "Training and validation loss" section: one line chart per training stage's metrics.jsonl.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "report/report_sections.h"
#include "report/svg_chart.h"

namespace fm::report {

namespace {

std::string LossFigure(const CurveInput& c, size_t index) {
  std::string h = "<figure class=\"chart\"><figcaption>" + HtmlEscape(c.label) + "</figcaption>";
  if (c.presence == Presence::kMissing) return h + NotRun(c.label, c.path) + "</figure>";
  const LossCurve& lc = c.curve;
  if (lc.train.empty()) {
    return h + "<p class=\"notrun\">" + HtmlEscape(c.path) + " holds no finite training loss.</p></figure>";
  }
  // Stats line.
  std::string stats =
      WithCommas(lc.train.back().first) + " steps · final loss " + FormatNumber(lc.train.back().second);
  if (!lc.val.empty()) {
    auto best = std::min_element(lc.val.begin(), lc.val.end(),
                                 [](const auto& a, const auto& b) { return a.second < b.second; });
    stats += " · final val loss " + FormatNumber(lc.val.back().second) + " · best val loss " +
             FormatNumber(best->second) + " at step " + WithCommas(best->first);
  }
  if (!lc.lr.empty()) {
    double peak = 0;
    for (auto [s, v] : lc.lr) peak = std::max(peak, v);
    stats += " · peak lr " + FormatNumber(peak, 3);
  }
  if (lc.median_tokens_per_s > 0) stats += " · " + WithCommas(lc.median_tokens_per_s) + " tokens/s (median)";
  if (lc.nonfinite > 0) stats += " · " + std::to_string(lc.nonfinite) + " non-finite losses left out";
  h += "<div class=\"stats\">" + HtmlEscape(stats) + "</div>";

  const std::string color = index % 2 == 0 ? "#3b5bdb" : "#7048e8";
  const std::string val_color = "#e8590c";
  std::vector<Series> series;
  const double w = SmoothingWeight(lc.train.size());
  if (w > 0) {
    series.push_back({"train loss", lc.train, color, Series::Style::kFaint, ""});
    char label[64];
    std::snprintf(label, sizeof label, "smoothed (EMA %.2f)", w);
    series.push_back({label, Smooth(lc.train, w), color, Series::Style::kLine, ""});
  } else {
    series.push_back({"train loss", lc.train, color, Series::Style::kLine, ""});
  }
  if (!lc.val.empty()) {
    series.push_back({"val loss", lc.val, val_color, Series::Style::kDashedDots, "val_loss"});
  }
  LineChartOptions opt;
  opt.aria_label = c.label + ": training and validation loss by step";
  opt.width = 540;
  opt.height = 320;
  h += LineChartSvg(series, opt);
  h += "<div class=\"source\">" + HtmlEscape(c.path) + "</div>";
  return h + "</figure>";
}

}  // namespace

std::string LossSection(const std::vector<CurveInput>& curves) {
  std::string h = "<section id=\"loss-curves\"><h2>Training and validation loss</h2>";
  bool any = false;
  for (const CurveInput& c : curves) any = any || c.presence == Presence::kLoaded;
  if (!any) {
    h += "<p class=\"lede\">Loss per optimizer step, read from each training stage's "
         "<code>metrics.jsonl</code>.</p>";
    if (curves.empty()) return h + NotRun("training") + "</section>";
    for (const CurveInput& c : curves) h += NotRun(c.label, c.path);
    return h + "</section>";
  }
  h +=
      "<p class=\"lede\">Loss per optimizer step, read from each training stage's "
      "<code>metrics.jsonl</code>: the "
      "raw training loss (faint), its exponential moving average (solid) and the loss on held-out validation "
      "windows (dashed, with points; hover a point for its value).</p><div class=\"grid2\">";
  for (size_t i = 0; i < curves.size(); i++) h += LossFigure(curves[i], i);
  return h + "</div></section>";
}

}  // namespace fm::report
