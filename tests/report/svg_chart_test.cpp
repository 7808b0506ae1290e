// The report's drawing kit: escaping, number formats, axis ticks, scales, colours and the SVG charts.
#include "report/svg_chart.h"

#include <gtest/gtest.h>

#include <cmath>

namespace fm::report {
namespace {

size_t Count(const std::string& s, const std::string& needle) {
  size_t n = 0;
  for (size_t p = s.find(needle); p != std::string::npos; p = s.find(needle, p + needle.size())) n++;
  return n;
}

TEST(HtmlEscape, EscapesTheFiveSpecialCharactersAndKeepsUtf8) {
  EXPECT_EQ(HtmlEscape("<a href=\"x\">Tom & 'Jerry'</a>"),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;");
  EXPECT_EQ(HtmlEscape("金融 ✓"), "金融 ✓");
  EXPECT_EQ(HtmlEscape(""), "");
}

TEST(FormatNumber, SignificantDigitsWithoutExponentForOrdinaryMagnitudes) {
  EXPECT_EQ(FormatNumber(0.012345), "0.01235");
  EXPECT_EQ(FormatNumber(2.5), "2.500");
  EXPECT_EQ(FormatNumber(1234.0), "1234");
  EXPECT_EQ(FormatNumber(123456.0), "123456");
  EXPECT_EQ(FormatNumber(0.0), "0");
  EXPECT_EQ(FormatNumber(-0.5, 3), "-0.500");
  EXPECT_EQ(FormatNumber(1.5e-7, 2), "1.5e-07");
  EXPECT_EQ(FormatNumber(NAN), "n/a");
  EXPECT_EQ(FormatNumber(INFINITY), "n/a");
}

TEST(FormatSeconds, PicksUnits) {
  EXPECT_EQ(FormatSeconds(0.84), "0.8 s");
  EXPECT_EQ(FormatSeconds(42.4), "42 s");
  EXPECT_EQ(FormatSeconds(245), "4 m 05 s");
  EXPECT_EQ(FormatSeconds(7380), "2 h 03 m");
}

TEST(NiceTicks, StepsOfOneTwoOrFiveCoveringTheRange) {
  Ticks t = NiceTicks(0, 1, 5);
  EXPECT_DOUBLE_EQ(t.step, 0.2);
  ASSERT_EQ(t.values.size(), 6u);
  EXPECT_DOUBLE_EQ(t.values.front(), 0);
  EXPECT_NEAR(t.values.back(), 1, 1e-12);

  t = NiceTicks(2.13, 9.87, 5);
  EXPECT_DOUBLE_EQ(t.step, 2);
  EXPECT_DOUBLE_EQ(t.lo, 2);
  EXPECT_DOUBLE_EQ(t.hi, 10);

  t = NiceTicks(-0.37, 0.12, 5);
  EXPECT_DOUBLE_EQ(t.step, 0.1);
  EXPECT_NEAR(t.lo, -0.4, 1e-12);
  EXPECT_NEAR(t.hi, 0.2, 1e-12);
  for (double v : t.values) EXPECT_FALSE(std::signbit(v) && v == 0) << "negative zero tick";

  // A range of exact multiples is not widened by float noise (0.1 * 3 = 0.30000000000000004).
  t = NiceTicks(0, 0.1 * 3, 3);
  EXPECT_NEAR(t.hi, 0.3, 1e-12);

  for (auto [lo, hi] :
       {std::pair{1.0, 1234.0}, {0.001, 0.0042}, {-50.0, -3.0}, {7.0, 7.5}, {0.0, 123456.0}}) {
    t = NiceTicks(lo, hi, 5);
    EXPECT_LE(t.lo, lo);
    EXPECT_GE(t.hi, hi);
    EXPECT_GE(t.values.size(), 3u) << lo << " " << hi;
    EXPECT_LE(t.values.size(), 12u) << lo << " " << hi;
    const double mant = t.step / std::pow(10, std::floor(std::log10(t.step)));
    EXPECT_TRUE(std::fabs(mant - 1) < 1e-9 || std::fabs(mant - 2) < 1e-9 || std::fabs(mant - 5) < 1e-9)
        << t.step;
  }
}

TEST(NiceTicks, DegenerateAndNonFiniteRanges) {
  Ticks t = NiceTicks(3, 3, 5);
  EXPECT_LT(t.lo, 3);
  EXPECT_GT(t.hi, 3);
  t = NiceTicks(0, 0, 5);
  EXPECT_LT(t.lo, 0);
  EXPECT_GT(t.hi, 0);
  t = NiceTicks(NAN, 1, 5);
  EXPECT_GE(t.values.size(), 2u);
}

TEST(FormatTick, DecimalsFollowTheStep) {
  EXPECT_EQ(FormatTick(0.25, 0.05), "0.25");
  EXPECT_EQ(FormatTick(0.4, 0.2), "0.4");
  EXPECT_EQ(FormatTick(3, 1), "3");
  EXPECT_EQ(FormatTick(1500, 500), "1500");
  EXPECT_EQ(FormatTick(20000, 5000), "20k");
  EXPECT_EQ(FormatTick(-1e-17, 0.1), "0.0");
}

TEST(LinearScale, MapsDomainOntoRange) {
  LinearScale y{0, 10, 300, 100};  // y axis pointing up
  EXPECT_DOUBLE_EQ(y(0), 300);
  EXPECT_DOUBLE_EQ(y(10), 100);
  EXPECT_DOUBLE_EQ(y(2.5), 250);
  LinearScale flat{5, 5, 0, 100};
  EXPECT_DOUBLE_EQ(flat(5), 50);
}

TEST(Colors, DivergingScaleIsBlueWhiteRedAndClamps) {
  Rgb zero = DivergingColor(0, 0.1), pos = DivergingColor(0.1, 0.1), neg = DivergingColor(-0.1, 0.1);
  EXPECT_GT(zero.Luminance(), 0.9);
  EXPECT_GT(pos.r, pos.b + 100);
  EXPECT_GT(neg.b, neg.r + 100);
  EXPECT_EQ(DivergingColor(5, 0.1).Hex(), pos.Hex());
  EXPECT_EQ(DivergingColor(-5, 0.1).Hex(), neg.Hex());
  EXPECT_EQ(zero.Hex(), "#f7f7f7");
  // Monotone in luminance from the middle outwards.
  EXPECT_GT(DivergingColor(0.03, 0.1).Luminance(), DivergingColor(0.08, 0.1).Luminance());
  EXPECT_GT(SequentialColor(0, 1).Luminance(), SequentialColor(1, 1).Luminance());
  EXPECT_EQ(Interpolate({{0, 0, 0}, {255, 255, 255}}, 0.5).Hex(), "#808080");
  EXPECT_EQ(ModelColor("merged", 0), ModelColor("Merged", 7));
  EXPECT_NE(ModelColor("base", 0), ModelColor("cpt", 1));
}

TEST(LineChart, MapsPointsOntoThePlotAndEscapesLabels) {
  Series s{"loss <raw> & more", {{0, 0}, {10, 1}}, "#123456", Series::Style::kLine, ""};
  LineChartOptions opt;
  opt.width = 578;   // plot width 500: margins 60 left, 18 right
  opt.height = 382;  // plot height 300: margins 36 top, 46 bottom
  const std::string svg = LineChartSvg({s}, opt);
  // (0, 0) is the bottom-left corner of the plot, (10, 1) the top-right.
  EXPECT_NE(svg.find("points=\"60,336 560,36\""), std::string::npos) << svg;
  EXPECT_NE(svg.find("loss &lt;raw&gt; &amp; more"), std::string::npos);
  EXPECT_EQ(svg.find("<raw>"), std::string::npos);
  EXPECT_EQ(svg.find("<svg"), 0u);
  EXPECT_NE(svg.find("viewBox=\"0 0 578 382\""), std::string::npos);
}

TEST(LineChart, ValidationPointsCarryTooltips) {
  Series v{"validation loss", {{100, 2.5}, {200, 2.25}}, "#e8590c", Series::Style::kDashedDots, "val_loss"};
  const std::string svg = LineChartSvg({v}, LineChartOptions());
  EXPECT_EQ(Count(svg, "<circle"), 3u);  // two points + the legend marker
  EXPECT_NE(svg.find("<title>val_loss 2.250 at step 200</title>"), std::string::npos) << svg;
  EXPECT_NE(svg.find("stroke-dasharray"), std::string::npos);
}

TEST(LineChart, LongCurvesAreReducedButKeepTheirExtremes) {
  Series s;
  s.label = "raw";
  s.color = "#000";
  s.style = Series::Style::kFaint;
  for (int i = 0; i < 100000; i++) s.points.push_back({double(i), i == 54321 ? 9.0 : 1.0 + 0.001 * (i % 7)});
  LineChartOptions opt;
  const std::string svg = LineChartSvg({s}, opt);
  const std::string needle = "points=\"";
  const size_t p = svg.find(needle);
  ASSERT_NE(p, std::string::npos);
  const std::string pts = svg.substr(p + needle.size(), svg.find('"', p + needle.size()) - p - needle.size());
  const size_t n = Count(pts, " ") + 1;
  EXPECT_LE(n, 2 * 500u + 2);
  EXPECT_GE(n, 400u);
  // The spike (y = 9, the top of the axis at 10 -> near the top of the plot) survives the reduction.
  const Ticks yt = NiceTicks(1.0, 9.0, 5);
  const LinearScale sy{yt.lo, yt.hi, 36 + (opt.height - 36 - 46), 36};
  EXPECT_NE(pts.find("," + Px(sy(9.0))), std::string::npos) << "spike lost";
}

TEST(LineChart, NoPointsSaysSo) {
  EXPECT_NE(LineChartSvg({}, LineChartOptions()).find("no data points"), std::string::npos);
}

TEST(BarChart, BarsFromZeroWithValuesAndHighlight) {
  std::vector<Bar> bars = {{"base", 0.25, "#999", false, ""},
                           {"merged <x>", 0.75, "#2e9e6b", true, ""},
                           {"broken", NAN, "#f00", false, ""}};
  BarChartOptions opt;
  const std::string svg = BarChartSvg(bars, opt);
  EXPECT_NE(svg.find("merged &lt;x&gt;"), std::string::npos);
  EXPECT_NE(svg.find(">0.750</text>"), std::string::npos) << svg;
  EXPECT_NE(svg.find("class=\"value best\""), std::string::npos);
  EXPECT_NE(svg.find(">n/a</text>"), std::string::npos);
  EXPECT_EQ(Count(svg, "stroke=\"#111827\""), 1u);  // one highlighted bar
  // Heights proportional to value: the 0.75 bar is three times the 0.25 bar.
  std::vector<double> heights;
  for (const std::string fill : {"#999", "#2e9e6b"}) {
    const size_t at = svg.find("fill=\"" + fill + "\"");
    ASSERT_NE(at, std::string::npos) << fill;
    const size_t h = svg.rfind("height=\"", at);
    ASSERT_GT(h, svg.rfind("<rect", at)) << fill;
    heights.push_back(std::stod(svg.substr(h + 8)));
  }
  EXPECT_NEAR(heights[1] / heights[0], 3.0, 0.05);
}

TEST(BarChart, StandardErrorsAreWhiskersInsideTheAxis) {
  Bar b{"m", 0.5, "#123", false, "", 0.45};
  const std::string svg = BarChartSvg({b}, BarChartOptions());
  EXPECT_NE(svg.find("<title>m: 0.500000 ± 0.450 (s.e.)</title>"), std::string::npos) << svg;
  EXPECT_NE(svg.find(">0.8</text>"), std::string::npos);  // the axis reaches 0.95: ticks to 1.0
  EXPECT_NE(svg.find(">1.0</text>"), std::string::npos);
  EXPECT_EQ(Count(svg, "stroke=\"#374151\""), 3u);  // whisker and two caps
}

TEST(BarChart, NegativeValuesGrowDownFromZero) {
  const std::string svg =
      BarChartSvg({{"a", -2, "#111", false, ""}, {"b", 4, "#222", false, ""}}, BarChartOptions());
  EXPECT_NE(svg.find(">-2</text>"), std::string::npos);  // the axis reaches below zero
  EXPECT_NE(svg.find(">-2.00</text>"), std::string::npos);
}

TEST(Heatmap, CellsColouredWithReadableTextAndEmptyCellsGrey) {
  HeatmapSpec h;
  h.rows = {"0", "1"};
  h.cols = {"q", "k"};
  h.values = {{0.09, -0.09}, {0.0, NAN}};
  h.color = [](double v) { return DivergingColor(v, 0.1); };
  h.cell_text = [](double v) { return FormatNumber(v, 2); };
  h.tooltip = [](size_t r, size_t c) {
    return "cell " + std::to_string(r) + "," + std::to_string(c) + " <&>";
  };
  SvgWriter svg;
  DrawHeatmap(&svg, 0, 0, h);
  const std::string s = svg.Finish(300, 200, "heatmap");
  EXPECT_NE(s.find("fill=\"" + DivergingColor(0.09, 0.1).Hex() + "\""), std::string::npos);
  EXPECT_NE(s.find("fill=\"#f3f4f6\""), std::string::npos);  // the missing cell
  EXPECT_NE(s.find("<title>cell 1,1 &lt;&amp;&gt;</title>"), std::string::npos);
  EXPECT_NE(s.find("fill=\"#ffffff\">0.090</text>"), std::string::npos) << s;  // white text on dark red
  EXPECT_NE(s.find("fill=\"#1f2937\">0</text>"), std::string::npos) << s;      // dark text on near white
  EXPECT_EQ(Count(s, "<rect"), 4u);
  const auto [w, hh] = HeatmapSize(h);
  EXPECT_DOUBLE_EQ(w, h.row_label_w + 2 * h.cell_w);
  EXPECT_GT(hh, 2 * h.cell_h);
}

TEST(Heatmap, TwoWordColumnLabelsGoOnTwoLines) {
  HeatmapSpec h;
  h.rows = {"0"};
  h.cols = {"q", "attn norm"};
  h.values = {{0.5, 0.5}};
  h.color = [](double v) { return SequentialColor(v, 1); };
  SvgWriter svg;
  DrawHeatmap(&svg, 0, 0, h);
  const std::string s = svg.Finish(100, 100, "x");
  EXPECT_NE(s.find(">attn</text>"), std::string::npos) << s;
  EXPECT_NE(s.find(">norm</text>"), std::string::npos);
  EXPECT_EQ(s.find("rotate("), std::string::npos);
}

TEST(Heatmap, LongColumnLabelsAreRotated) {
  HeatmapSpec h;
  h.rows = {"0"};
  h.cols = {"a very long module name"};
  h.values = {{0.5}};
  h.color = [](double v) { return SequentialColor(v, 1); };
  SvgWriter svg;
  DrawHeatmap(&svg, 0, 0, h);
  EXPECT_NE(svg.Finish(100, 100, "x").find("rotate(-40"), std::string::npos);
}

}  // namespace
}  // namespace fm::report
