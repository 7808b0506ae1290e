// The drawing kit of report.html: HTML escaping, number formatting, "nice" axis ticks, colour scales, and
// charts written as inline SVG strings (line chart, vertical and horizontal bar charts, heatmap, colour
// legend). No JavaScript: tooltips are SVG <title> elements, which browsers show on hover. Text styling
// (font, colour) comes from the page's CSS; every string drawn is HTML-escaped here, so callers pass raw
// text.
#pragma once

#include <cmath>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fm::report {

// Escapes & < > " ' for HTML text and attribute values (also valid inside inline SVG).
std::string HtmlEscape(std::string_view s);

// `v` with `significant` significant digits, no exponent for ordinary magnitudes ("0.01234", "1234",
// "1.2e-07"). NaN/inf print as "n/a".
std::string FormatNumber(double v, int significant = 4);
// Decimals that show the largest magnitude in a column of values with `significant` significant digits
// (0.91 -> 3: "0.910"; 30 -> 1: "30.0"; 1234 -> 0), so a table column lines up.
int ColumnDecimals(const std::vector<double>& values, int significant = 3);
// `v` with `decimals` decimals ("n/a" for NaN/inf, no "-0.000").
std::string FormatFixed(double v, int decimals);
// "0.8 s", "12.3 s", "4 m 05 s", "2 h 03 m".
std::string FormatSeconds(double s);

// Round axis ticks covering [lo, hi]: a step of 1, 2 or 5 x 10^k giving about `target` intervals; lo and hi
// are widened to multiples of the step. A degenerate range (lo == hi) is widened around the value.
struct Ticks {
  double lo = 0, hi = 1, step = 1;
  std::vector<double> values;
};
Ticks NiceTicks(double lo, double hi, int target = 5);
// A tick label with as many decimals as the step needs ("0.25", "3", "12k" for multiples of 1000 >= 10000).
std::string FormatTick(double v, double step);

// Maps [d0, d1] linearly onto [r0, r1] (r1 < r0 for a y axis pointing up).
struct LinearScale {
  double d0, d1, r0, r1;
  double operator()(double v) const {
    return d1 == d0 ? (r0 + r1) / 2 : r0 + (v - d0) / (d1 - d0) * (r1 - r0);
  }
};

struct Rgb {
  double r = 0, g = 0, b = 0;  // 0..255
  std::string Hex() const;
  // Relative luminance 0 (black) .. 1 (white), to pick a readable text colour on top.
  double Luminance() const;
};
// Piecewise-linear interpolation through evenly spaced `stops`; t is clamped to [0, 1].
Rgb Interpolate(const std::vector<Rgb>& stops, double t);
// Blue (-max_abs) .. near-white (0) .. red (+max_abs).
Rgb DivergingColor(double v, double max_abs);
// Near-white (0) .. deep teal (max).
Rgb SequentialColor(double v, double max);
// Distinct categorical colours; the well-known model roles (base, instruct, cpt, merged) always get the same
// one.
std::string SeriesColor(size_t index);
std::string ModelColor(const std::string& name, size_t index);

// Collects SVG elements; coordinates in CSS pixels.
class SvgWriter {
 public:
  // `tooltip` (escaped) becomes a <title> child; `extra` is raw attribute text added to the element.
  void Rect(double x, double y, double w, double h, const std::string& fill, std::string_view tooltip = {},
            const std::string& extra = "");
  void Line(double x1, double y1, double x2, double y2, const std::string& stroke, double width = 1,
            const std::string& extra = "");
  // `attrs` is raw attribute text (class, text-anchor, transform...); `text` is escaped.
  void Text(double x, double y, std::string_view text, const std::string& attrs = "",
            std::string_view tooltip = {});
  void Polyline(const std::vector<std::pair<double, double>>& pts, const std::string& stroke, double width,
                const std::string& extra = "");
  void Circle(double cx, double cy, double r, const std::string& fill, std::string_view tooltip = {},
              const std::string& extra = "");
  void Raw(std::string_view svg) { body_ += svg; }
  // The complete <svg> element (role="img" with an escaped aria-label), scaling to its container's width.
  std::string Finish(double width, double height, std::string_view aria_label) const;

 private:
  std::string body_;
};

// A coordinate with one decimal ("12.5").
std::string Px(double v);

// ---- Line chart -------------------------------------------------------------------------------------------
struct Series {
  enum class Style { kFaint, kLine, kDashedDots };
  std::string label;                              // legend text; empty = not in the legend
  std::vector<std::pair<double, double>> points;  // (x, y), x ascending
  std::string color;
  Style style = Style::kLine;
  std::string point_name;  // tooltip text of kDashedDots markers: "<point_name> <y> at <x_label> <x>"
};
struct LineChartOptions {
  std::string x_label = "step", y_label = "loss", aria_label;
  double width = 560, height = 320;
};
// Axes from NiceTicks over all points, horizontal grid lines, a legend above the plot. Polylines of more than
// ~1000 points are reduced to the min and max of each pixel column (the shape of the raw curve is kept).
std::string LineChartSvg(const std::vector<Series>& series, const LineChartOptions& opt);

// ---- Bar charts -------------------------------------------------------------------------------------------
struct Bar {
  std::string label;
  double value = 0;
  std::string color;
  bool highlight = false;  // drawn with a dark outline and a bold value
  std::string text;        // the value label; empty = FormatNumber(value, 3)
  double error = NAN;      // standard error: a whisker from value - error to value + error; NaN = none
};
struct BarChartOptions {
  std::string aria_label;
  double width = 360, height = 250;
};
// Vertical bars from zero (the axis covers zero, every value and every whisker), the value above each bar,
// labels below.
std::string BarChartSvg(const std::vector<Bar>& bars, const BarChartOptions& opt);
// Horizontal bars (label on the left, `value_text[i]` right of the bar), e.g. stage times.
std::string HBarChartSvg(const std::vector<Bar>& bars, const std::vector<std::string>& value_text,
                         double width);

// ---- Heatmap ----------------------------------------------------------------------------------------------
struct HeatmapSpec {
  std::vector<std::string> rows, cols;
  std::vector<std::vector<double>> values;  // [row][col]; NaN = no such cell (drawn empty grey)
  std::function<Rgb(double)> color;
  std::function<std::string(double)> cell_text;        // empty result = no text in the cell
  std::function<std::string(size_t, size_t)> tooltip;  // (row, col) -> text
  std::string row_title;                               // drawn above the row labels, e.g. "layer"
  double cell_w = 50, cell_h = 24, row_label_w = 56;
};
// Size of the drawn heatmap (column labels on top, row labels on the left).
std::pair<double, double> HeatmapSize(const HeatmapSpec& h);
// Draws at (x, y) = top-left corner of the whole block. Returns the top-left of the cell grid.
std::pair<double, double> DrawHeatmap(SvgWriter* svg, double x, double y, const HeatmapSpec& h);
// A vertical colour bar of `height` at (x, y) with tick labels on its right for the ticks in [lo, hi].
void DrawColorLegend(SvgWriter* svg, double x, double y, double height,
                     const std::function<Rgb(double)>& color, double lo, double hi,
                     const std::vector<double>& ticks, const std::function<std::string(double)>& tick_text,
                     const std::string& title);

}  // namespace fm::report
