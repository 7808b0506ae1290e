#include "report/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace fm::report {

std::string HtmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string FormatNumber(double v, int significant) {
  if (!std::isfinite(v)) return "n/a";
  if (v == 0) return "0";
  char buf[64];
  const double mag = std::floor(std::log10(std::fabs(v)));
  if (mag < -4 || mag >= 9) {
    std::snprintf(buf, sizeof buf, "%.*e", std::max(0, significant - 1), v);
    return buf;
  }
  const int decimals = std::max(0, significant - 1 - static_cast<int>(mag));
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

int ColumnDecimals(const std::vector<double>& values, int significant) {
  double m = 0;
  for (double v : values) {
    if (std::isfinite(v)) m = std::max(m, std::fabs(v));
  }
  if (m == 0) return 0;
  return std::clamp(significant - 1 - static_cast<int>(std::floor(std::log10(m))), 0, 12);
}

std::string FormatFixed(double v, int decimals) {
  if (!std::isfinite(v)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  std::string s = buf;
  if (s[0] == '-' && s.find_first_not_of("-0.") == std::string::npos) s.erase(0, 1);
  return s;
}

std::string FormatSeconds(double s) {
  char buf[64];
  if (!std::isfinite(s) || s < 0) return "n/a";
  if (s < 10) {
    std::snprintf(buf, sizeof buf, "%.1f s", s);
  } else if (s < 60) {
    std::snprintf(buf, sizeof buf, "%.0f s", s);
  } else if (s < 3600) {
    const long t = std::lround(s);
    std::snprintf(buf, sizeof buf, "%ld m %02ld s", t / 60, t % 60);
  } else {
    const long t = std::lround(s / 60);
    std::snprintf(buf, sizeof buf, "%ld h %02ld m", t / 60, t % 60);
  }
  return buf;
}

Ticks NiceTicks(double lo, double hi, int target) {
  Ticks t;
  if (!std::isfinite(lo) || !std::isfinite(hi)) lo = 0, hi = 1;
  if (lo > hi) std::swap(lo, hi);
  if (hi == lo) {
    const double pad = lo == 0 ? 1 : std::fabs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  target = std::max(1, target);
  const double raw = (hi - lo) / target;
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / p;
  t.step = (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
  // Tolerate float noise so that 0.30000000000000004 is not pushed to the next step.
  const double eps = t.step * 1e-9;
  t.lo = std::floor((lo + eps) / t.step) * t.step;
  t.hi = std::ceil((hi - eps) / t.step) * t.step;
  const int n = static_cast<int>(std::lround((t.hi - t.lo) / t.step));
  for (int i = 0; i <= n; i++) {
    double v = t.lo + i * t.step;
    if (std::fabs(v) < eps) v = 0;  // no "-0"
    t.values.push_back(v);
  }
  return t;
}

std::string FormatTick(double v, double step) {
  char buf[64];
  if (std::fabs(v) < step * 1e-9) v = 0;
  const double k = std::round(step / 1000);
  if (step >= 1000 && std::fabs(step - k * 1000) < 1e-9 * step && std::fabs(v) >= 10000) {
    std::snprintf(buf, sizeof buf, "%gk", v / 1000);
    return buf;
  }
  const int decimals = std::max(0, static_cast<int>(std::ceil(-std::log10(step) - 1e-9)));
  std::snprintf(buf, sizeof buf, "%.*f", std::min(decimals, 12), v);
  return buf;
}

std::string Rgb::Hex() const {
  auto c = [](double x) { return static_cast<int>(std::lround(std::clamp(x, 0.0, 255.0))); };
  char buf[8];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", c(r), c(g), c(b));
  return buf;
}

double Rgb::Luminance() const {
  auto lin = [](double x) {
    x /= 255.0;
    return x <= 0.03928 ? x / 12.92 : std::pow((x + 0.055) / 1.055, 2.4);
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

Rgb Interpolate(const std::vector<Rgb>& stops, double t) {
  if (stops.empty()) return {};
  if (stops.size() == 1 || !std::isfinite(t)) return stops[0];
  t = std::clamp(t, 0.0, 1.0) * static_cast<double>(stops.size() - 1);
  const size_t i = std::min(static_cast<size_t>(t), stops.size() - 2);
  const double f = t - static_cast<double>(i);
  const Rgb &a = stops[i], &b = stops[i + 1];
  return {a.r + (b.r - a.r) * f, a.g + (b.g - a.g) * f, a.b + (b.b - a.b) * f};
}

Rgb DivergingColor(double v, double max_abs) {
  // ColorBrewer RdBu (7 classes), reversed so that negative is blue.
  static const std::vector<Rgb> kStops = {{33, 102, 172},  {103, 169, 207}, {209, 229, 240}, {247, 247, 247},
                                          {253, 219, 199}, {239, 138, 98},  {178, 24, 43}};
  if (max_abs <= 0) return kStops[3];
  return Interpolate(kStops, 0.5 + 0.5 * v / max_abs);
}

Rgb SequentialColor(double v, double max) {
  // ColorBrewer GnBu-like ramp ending in a deep teal.
  static const std::vector<Rgb> kStops = {
      {247, 252, 240}, {204, 235, 197}, {123, 204, 196}, {43, 140, 190}, {8, 64, 129}};
  if (max <= 0) return kStops[0];
  return Interpolate(kStops, v / max);
}

std::string SeriesColor(size_t index) {
  static const char* kPalette[] = {"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2",
                                   "#b07aa1", "#edc948", "#ff9da7", "#9c755f", "#bab0ac"};
  return kPalette[index % (sizeof kPalette / sizeof kPalette[0])];
}

std::string ModelColor(const std::string& name, size_t index) {
  std::string n;
  for (char c : name) n += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (n == "base") return "#9aa0a6";
  if (n == "instruct" || n == "instruction" || n == "sft") return "#4e79a7";
  if (n == "cpt" || n == "domain") return "#f28e2b";
  if (n == "merged" || n == "merge" || n == "chat-vector") return "#2e9e6b";
  return SeriesColor(index + 3);
}

std::string Px(double v) {
  char buf[32];
  if (!std::isfinite(v)) v = 0;
  std::snprintf(buf, sizeof buf, "%.1f", v);
  std::string s = buf;
  if (s.size() > 2 && s.compare(s.size() - 2, 2, ".0") == 0) s.resize(s.size() - 2);
  if (s == "-0") s = "0";
  return s;
}

namespace {

std::string TitleElement(std::string_view tooltip) {
  return tooltip.empty() ? std::string() : "<title>" + HtmlEscape(tooltip) + "</title>";
}

}  // namespace

void SvgWriter::Rect(double x, double y, double w, double h, const std::string& fill,
                     std::string_view tooltip, const std::string& extra) {
  body_ += "<rect x=\"" + Px(x) + "\" y=\"" + Px(y) + "\" width=\"" + Px(std::max(0.0, w)) + "\" height=\"" +
           Px(std::max(0.0, h)) + "\" fill=\"" + fill + "\"" + (extra.empty() ? "" : " " + extra);
  body_ += tooltip.empty() ? "/>" : ">" + TitleElement(tooltip) + "</rect>";
}

void SvgWriter::Line(double x1, double y1, double x2, double y2, const std::string& stroke, double width,
                     const std::string& extra) {
  body_ += "<line x1=\"" + Px(x1) + "\" y1=\"" + Px(y1) + "\" x2=\"" + Px(x2) + "\" y2=\"" + Px(y2) +
           "\" stroke=\"" + stroke + "\" stroke-width=\"" + Px(width) + "\"" +
           (extra.empty() ? "" : " " + extra) + "/>";
}

void SvgWriter::Text(double x, double y, std::string_view text, const std::string& attrs,
                     std::string_view tooltip) {
  body_ += "<text x=\"" + Px(x) + "\" y=\"" + Px(y) + "\"" + (attrs.empty() ? "" : " " + attrs) + ">" +
           TitleElement(tooltip) + HtmlEscape(text) + "</text>";
}

void SvgWriter::Polyline(const std::vector<std::pair<double, double>>& pts, const std::string& stroke,
                         double width, const std::string& extra) {
  if (pts.empty()) return;
  body_ += "<polyline fill=\"none\" stroke=\"" + stroke + "\" stroke-width=\"" + Px(width) +
           "\" stroke-linejoin=\"round\" stroke-linecap=\"round\"" + (extra.empty() ? "" : " " + extra) +
           " points=\"";
  for (size_t i = 0; i < pts.size(); i++) {
    if (i) body_ += ' ';
    body_ += Px(pts[i].first) + "," + Px(pts[i].second);
  }
  body_ += "\"/>";
}

void SvgWriter::Circle(double cx, double cy, double r, const std::string& fill, std::string_view tooltip,
                       const std::string& extra) {
  body_ += "<circle cx=\"" + Px(cx) + "\" cy=\"" + Px(cy) + "\" r=\"" + Px(r) + "\" fill=\"" + fill + "\"" +
           (extra.empty() ? "" : " " + extra);
  body_ += tooltip.empty() ? "/>" : ">" + TitleElement(tooltip) + "</circle>";
}

std::string SvgWriter::Finish(double width, double height, std::string_view aria_label) const {
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " + Px(width) + " " + Px(height) +
         "\" width=\"" + Px(width) + "\" height=\"" + Px(height) + "\" role=\"img\" aria-label=\"" +
         HtmlEscape(aria_label) + "\">" + body_ + "</svg>";
}

namespace {

// Keeps the first and last point and, per pixel column, the lowest and highest point (in x order), so a
// polyline of 100k steps draws like the full one.
std::vector<std::pair<double, double>> Envelope(const std::vector<std::pair<double, double>>& pts,
                                                size_t columns) {
  if (pts.size() <= 2 * columns) return pts;
  const double x0 = pts.front().first, x1 = pts.back().first;
  std::vector<std::pair<double, double>> out;
  out.push_back(pts.front());
  size_t i = 1;
  while (i + 1 < pts.size()) {
    const size_t col = static_cast<size_t>((pts[i].first - x0) / std::max(1e-300, x1 - x0) * columns);
    size_t lo = i, hi = i, j = i;
    while (j + 1 < pts.size() &&
           static_cast<size_t>((pts[j].first - x0) / std::max(1e-300, x1 - x0) * columns) == col) {
      if (pts[j].second < pts[lo].second) lo = j;
      if (pts[j].second > pts[hi].second) hi = j;
      j++;
    }
    out.push_back(pts[std::min(lo, hi)]);
    if (lo != hi) out.push_back(pts[std::max(lo, hi)]);
    i = j;
  }
  out.push_back(pts.back());
  return out;
}

// Rough text width in px at the page's 11px chart font (for layout only).
double TextWidth(std::string_view s, double font_px = 11) {
  size_t chars = 0;
  for (unsigned char c : s) chars += (c & 0xC0) != 0x80;  // count UTF-8 code points
  return static_cast<double>(chars) * font_px * 0.58;
}

// At most `max_chars` code points, with an ellipsis when cut.
std::string Truncate(const std::string& s, size_t max_chars) {
  size_t chars = 0, i = 0;
  for (; i < s.size(); i++) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (chars == max_chars) return s.substr(0, i) + "\xE2\x80\xA6";
      chars++;
    }
  }
  return s;
}

// An x value for a tooltip: steps are integers.
std::string FormatX(double x) {
  if (std::fabs(x) < 1e15 && x == std::round(x)) return std::to_string(static_cast<long long>(x));
  return FormatNumber(x, 6);
}

}  // namespace

std::string LineChartSvg(const std::vector<Series>& series, const LineChartOptions& opt) {
  const double ml = 60, mr = 18, mb = 46;
  // Legend items left to right above the plot, wrapping onto more rows when they do not fit.
  struct LegendItem {
    const Series* s;
    double x, y;
  };
  std::vector<LegendItem> legend;
  double lx = ml, ly = 16;
  for (const Series& s : series) {
    if (s.label.empty()) continue;
    const double w = 28 + TextWidth(s.label, 12) + 18;
    if (lx > ml && lx + w - 18 > opt.width - mr) lx = ml, ly += 20;
    legend.push_back({&s, lx, ly});
    lx += w;
  }
  const double mt = ly + 20;
  const double pw = opt.width - ml - mr, ph = opt.height - mt - mb;
  double xmin = std::numeric_limits<double>::infinity(), xmax = -xmin, ymin = xmin, ymax = -xmin;
  for (const Series& s : series) {
    for (auto [x, y] : s.points) {
      xmin = std::min(xmin, x), xmax = std::max(xmax, x);
      ymin = std::min(ymin, y), ymax = std::max(ymax, y);
    }
  }
  SvgWriter svg;
  if (!std::isfinite(xmin)) {
    svg.Text(opt.width / 2, opt.height / 2, "no data points", "class=\"muted\" text-anchor=\"middle\"");
    return svg.Finish(opt.width, opt.height, opt.aria_label);
  }
  const Ticks xt = NiceTicks(xmin, xmax, 6), yt = NiceTicks(ymin, ymax, 5);
  const LinearScale sx{xt.lo, xt.hi, ml, ml + pw}, sy{yt.lo, yt.hi, mt + ph, mt};
  svg.Rect(ml, mt, pw, ph, "#fcfcfd");
  for (double v : yt.values) {
    svg.Line(ml, sy(v), ml + pw, sy(v), v == yt.lo ? "#9ca3af" : "#e5e7eb", 1);
    svg.Text(ml - 8, sy(v) + 4, FormatTick(v, yt.step), "class=\"tick\" text-anchor=\"end\"");
  }
  for (double v : xt.values) {
    svg.Line(sx(v), mt + ph, sx(v), mt + ph + 5, "#9ca3af", 1);
    svg.Text(sx(v), mt + ph + 18, FormatTick(v, xt.step), "class=\"tick\" text-anchor=\"middle\"");
  }
  svg.Line(ml, mt, ml, mt + ph, "#9ca3af", 1);
  svg.Text(ml + pw / 2, opt.height - 8, opt.x_label, "class=\"axis\" text-anchor=\"middle\"");
  svg.Text(16, mt + ph / 2, opt.y_label,
           "class=\"axis\" text-anchor=\"middle\" transform=\"rotate(-90 16 " + Px(mt + ph / 2) + ")\"");

  // Faint lines first, so the smoothed line and the validation points sit on top.
  for (int pass = 0; pass < 3; pass++) {
    for (const Series& s : series) {
      const int order = s.style == Series::Style::kFaint ? 0 : s.style == Series::Style::kLine ? 1 : 2;
      if (order != pass || s.points.empty()) continue;
      std::vector<std::pair<double, double>> px;
      for (auto [x, y] : Envelope(s.points, static_cast<size_t>(std::max(1.0, pw))))
        px.push_back({sx(x), sy(y)});
      if (s.style == Series::Style::kFaint) {
        svg.Polyline(px, s.color, 1.1, "stroke-opacity=\"0.35\"");
      } else if (s.style == Series::Style::kLine) {
        svg.Polyline(px, s.color, 2.2);
      } else {
        svg.Polyline(px, s.color, 1.6, "stroke-dasharray=\"5 4\"");
        if (s.points.size() <= 400) {
          for (auto [x, y] : s.points) {
            svg.Circle(sx(x), sy(y), 3.6, s.color,
                       s.point_name + " " + FormatNumber(y) + " at " + opt.x_label + " " + FormatX(x),
                       "stroke=\"#fff\" stroke-width=\"1.2\"");
          }
        }
      }
    }
  }
  for (const LegendItem& item : legend) {
    const Series& s = *item.s;
    const double x = item.x, y = item.y;
    if (s.style == Series::Style::kFaint) {
      svg.Line(x, y, x + 22, y, s.color, 1.4, "stroke-opacity=\"0.45\"");
    } else if (s.style == Series::Style::kLine) {
      svg.Line(x, y, x + 22, y, s.color, 2.4);
    } else {
      svg.Line(x, y, x + 22, y, s.color, 1.6, "stroke-dasharray=\"5 4\"");
      svg.Circle(x + 11, y, 3.6, s.color, {}, "stroke=\"#fff\" stroke-width=\"1.2\"");
    }
    svg.Text(x + 28, y + 4, s.label, "class=\"legend\"");
  }
  return svg.Finish(opt.width, opt.height, opt.aria_label);
}

std::string BarChartSvg(const std::vector<Bar>& bars, const BarChartOptions& opt) {
  const double ml = 50, mr = 10, mt = 22, mb = 46;
  const double pw = opt.width - ml - mr, ph = opt.height - mt - mb;
  SvgWriter svg;
  double lo = 0, hi = 0;
  bool any = false;
  for (const Bar& b : bars) {
    if (!std::isfinite(b.value)) continue;
    const double e = std::isfinite(b.error) ? std::fabs(b.error) : 0.0;
    lo = std::min(lo, b.value - e), hi = std::max(hi, b.value + e), any = true;
  }
  if (!any) {
    svg.Text(opt.width / 2, opt.height / 2, "no values", "class=\"muted\" text-anchor=\"middle\"");
    return svg.Finish(opt.width, opt.height, opt.aria_label);
  }
  const Ticks yt = NiceTicks(lo, hi, 4);
  const LinearScale sy{yt.lo, yt.hi, mt + ph, mt};
  for (double v : yt.values) {
    svg.Line(ml, sy(v), ml + pw, sy(v), "#e5e7eb", 1);
    svg.Text(ml - 7, sy(v) + 4, FormatTick(v, yt.step), "class=\"tick\" text-anchor=\"end\"");
  }
  const double slot = pw / static_cast<double>(bars.size());
  const double bw = std::min(64.0, slot * 0.64);
  const size_t max_chars = static_cast<size_t>(std::max(4.0, slot / 6.6));
  for (size_t i = 0; i < bars.size(); i++) {
    const Bar& b = bars[i];
    const double cx = ml + slot * (static_cast<double>(i) + 0.5);
    const std::string label = Truncate(b.label, max_chars);
    svg.Text(cx, mt + ph + 17, label, "class=\"tick\" text-anchor=\"middle\"", b.label);
    if (!std::isfinite(b.value)) {
      svg.Text(cx, sy(0) - 6, "n/a", "class=\"muted\" text-anchor=\"middle\"");
      continue;
    }
    const double y0 = sy(0), y1 = sy(b.value);
    const std::string extra = b.highlight ? "stroke=\"#111827\" stroke-width=\"1.5\" rx=\"3\"" : "rx=\"3\"";
    svg.Rect(cx - bw / 2, std::min(y0, y1), bw, std::max(1.0, std::fabs(y1 - y0)), b.color,
             b.label + ": " + FormatNumber(b.value, 6), extra);
    double top = y1, bottom = y1;  // of the whisker, when there is one
    if (std::isfinite(b.error) && b.error != 0) {
      const double e = std::fabs(b.error);
      top = sy(b.value + e), bottom = sy(b.value - e);
      const std::string tip =
          b.label + ": " + FormatNumber(b.value, 6) + " ± " + FormatNumber(e, 3) + " (s.e.)";
      svg.Line(cx, top, cx, bottom, "#374151", 1.2, "stroke-linecap=\"round\"");
      svg.Line(cx - 5, top, cx + 5, top, "#374151", 1.2);
      svg.Line(cx - 5, bottom, cx + 5, bottom, "#374151", 1.2);
      svg.Rect(cx - 6, top, 12, std::max(1.0, bottom - top), "transparent", tip);
    }
    const double ty = b.value >= 0 ? top - 6 : bottom + 14;
    svg.Text(cx, ty, b.text.empty() ? FormatNumber(b.value, 3) : b.text,
             std::string("class=\"value") + (b.highlight ? " best" : "") + "\" text-anchor=\"middle\"");
  }
  svg.Line(ml, sy(0), ml + pw, sy(0), "#6b7280", 1);
  return svg.Finish(opt.width, opt.height, opt.aria_label);
}

std::string HBarChartSvg(const std::vector<Bar>& bars, const std::vector<std::string>& value_text,
                         double width) {
  const double row = 24, label_w = 120, value_w = 80;
  const double height = row * static_cast<double>(bars.size()) + 8;
  double hi = 0;
  for (const Bar& b : bars) {
    if (std::isfinite(b.value)) hi = std::max(hi, b.value);
  }
  const LinearScale sx{0, hi > 0 ? hi : 1, label_w, width - value_w};
  SvgWriter svg;
  for (size_t i = 0; i < bars.size(); i++) {
    const double y = 4 + row * static_cast<double>(i);
    svg.Text(label_w - 8, y + row / 2 + 4, Truncate(bars[i].label, 18), "class=\"tick\" text-anchor=\"end\"",
             bars[i].label);
    const double v = std::isfinite(bars[i].value) ? std::max(0.0, bars[i].value) : 0;
    svg.Rect(label_w, y + 4, std::max(2.0, sx(v) - label_w), row - 8, bars[i].color,
             bars[i].label + ": " + (i < value_text.size() ? value_text[i] : ""), "rx=\"3\"");
    svg.Text(std::max(label_w, sx(v)) + 6, y + row / 2 + 4, i < value_text.size() ? value_text[i] : "",
             "class=\"value\"");
  }
  return svg.Finish(width, height, "bar chart");
}

namespace {

// Column labels are drawn horizontally when they fit in a cell, else on two lines split at the first space
// ("attn norm" -> "attn" / "norm") when both halves fit, else rotated by -40 degrees.
enum class LabelMode { kFlat, kTwoLines, kRotated };

std::pair<std::string, std::string> SplitAtSpace(const std::string& s) {
  const size_t sp = s.find(' ');
  if (sp == std::string::npos) return {s, ""};
  return {s.substr(0, sp), s.substr(sp + 1)};
}

LabelMode ColumnLabelMode(const HeatmapSpec& h) {
  bool flat = true, two = true;
  for (const std::string& c : h.cols) {
    if (TextWidth(c) > h.cell_w - 4) flat = false;
    auto [a, b] = SplitAtSpace(c);
    if (TextWidth(a) > h.cell_w - 4 || TextWidth(b) > h.cell_w - 4) two = false;
  }
  return flat ? LabelMode::kFlat : two ? LabelMode::kTwoLines : LabelMode::kRotated;
}

double ColumnLabelHeight(const HeatmapSpec& h) {
  switch (ColumnLabelMode(h)) {
    case LabelMode::kFlat:
      return 20;
    case LabelMode::kTwoLines:
      return 33;
    case LabelMode::kRotated:
      break;
  }
  double w = 0;
  for (const std::string& c : h.cols) w = std::max(w, TextWidth(Truncate(c, 18)));
  return 12 + w * std::sin(40 * M_PI / 180);
}

}  // namespace

std::pair<double, double> HeatmapSize(const HeatmapSpec& h) {
  return {h.row_label_w + h.cell_w * static_cast<double>(h.cols.size()),
          ColumnLabelHeight(h) + h.cell_h * static_cast<double>(h.rows.size())};
}

std::pair<double, double> DrawHeatmap(SvgWriter* svg, double x, double y, const HeatmapSpec& h) {
  const LabelMode mode = ColumnLabelMode(h);
  const double gx = x + h.row_label_w, gy = y + ColumnLabelHeight(h);
  for (size_t c = 0; c < h.cols.size(); c++) {
    const double cx = gx + h.cell_w * (static_cast<double>(c) + 0.5);
    if (mode == LabelMode::kRotated) {
      svg->Text(cx - 2, gy - 7, Truncate(h.cols[c], 18),
                "class=\"tick\" text-anchor=\"start\" transform=\"rotate(-40 " + Px(cx - 2) + " " +
                    Px(gy - 7) + ")\"",
                h.cols[c]);
    } else if (mode == LabelMode::kTwoLines && h.cols[c].find(' ') != std::string::npos) {
      auto [a, b] = SplitAtSpace(h.cols[c]);
      svg->Text(cx, gy - 20, a, "class=\"tick\" text-anchor=\"middle\"");
      svg->Text(cx, gy - 7, b, "class=\"tick\" text-anchor=\"middle\"");
    } else {
      svg->Text(cx, gy - 7, h.cols[c], "class=\"tick\" text-anchor=\"middle\"");
    }
  }
  if (!h.row_title.empty()) {
    svg->Text(x + h.row_label_w - 8, gy - 7, h.row_title, "class=\"tick strong\" text-anchor=\"end\"");
  }
  for (size_t r = 0; r < h.rows.size(); r++) {
    const double cy = gy + h.cell_h * static_cast<double>(r);
    svg->Text(gx - 8, cy + h.cell_h / 2 + 4, Truncate(h.rows[r], 14), "class=\"tick\" text-anchor=\"end\"",
              h.rows[r]);
    for (size_t c = 0; c < h.cols.size(); c++) {
      const double cx = gx + h.cell_w * static_cast<double>(c);
      const double v = r < h.values.size() && c < h.values[r].size() ? h.values[r][c] : NAN;
      const std::string tip = h.tooltip ? h.tooltip(r, c) : std::string();
      if (!std::isfinite(v)) {
        svg->Rect(cx + 1, cy + 1, h.cell_w - 2, h.cell_h - 2, "#f3f4f6", tip, "rx=\"2\"");
        continue;
      }
      const Rgb fill = h.color(v);
      svg->Rect(cx + 1, cy + 1, h.cell_w - 2, h.cell_h - 2, fill.Hex(), tip, "rx=\"2\"");
      const std::string text = h.cell_text ? h.cell_text(v) : std::string();
      if (!text.empty() && h.cell_h >= 14) {
        svg->Text(cx + h.cell_w / 2, cy + h.cell_h / 2 + 3.5, text,
                  std::string("class=\"cell\" text-anchor=\"middle\" fill=\"") +
                      (fill.Luminance() < 0.35 ? "#ffffff" : "#1f2937") + "\"");
      }
    }
  }
  return {gx, gy};
}

void DrawColorLegend(SvgWriter* svg, double x, double y, double height,
                     const std::function<Rgb(double)>& color, double lo, double hi,
                     const std::vector<double>& ticks, const std::function<std::string(double)>& tick_text,
                     const std::string& title) {
  const int n = 64;
  const double w = 12, step = height / n;
  svg->Text(x, y - 8, title, "class=\"tick strong\"");
  for (int i = 0; i < n; i++) {
    const double v = hi - (hi - lo) * (i + 0.5) / n;
    svg->Rect(x, y + step * i, w, step + 0.6, color(v).Hex());
  }
  svg->Rect(x, y, w, height, "none", {}, "stroke=\"#d1d5db\"");
  const LinearScale s{lo, hi, y + height, y};
  for (double t : ticks) {
    if (t < lo - 1e-12 || t > hi + 1e-12) continue;
    svg->Line(x + w, s(t), x + w + 4, s(t), "#6b7280", 1);
    svg->Text(x + w + 7, s(t) + 4, tick_text(t), "class=\"tick\"");
  }
}

}  // namespace fm::report
