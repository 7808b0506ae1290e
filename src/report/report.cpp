#include "report/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "base/output_path.h"
#include "report/report_data.h"
#include "report/report_sections.h"
#include "report/svg_chart.h"

namespace fm {
namespace report {

std::string WithCommas(double v) {
  if (!std::isfinite(v)) return "n/a";
  const long long n = std::llround(v);
  std::string digits = std::to_string(n < 0 ? -n : n), out;
  for (size_t i = 0; i < digits.size(); i++) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return (n < 0 ? "-" : "") + out;
}

std::string NotRun(const std::string& what, const std::string& missing_path) {
  std::string s = "<p class=\"notrun\">" + HtmlEscape(what) + ": not run";
  if (!missing_path.empty()) s += " (no file at <code>" + HtmlEscape(missing_path) + "</code>)";
  return s + ".</p>";
}

std::string CosineVerdict(double c) {
  const double a = std::fabs(c);
  if (!std::isfinite(c)) return "cosine similarity not defined (a task vector is zero)";
  if (a < 0.1) return "near-zero cosine similarity: the two vectors are nearly independent";
  const bool pos = c > 0;
  if (a < 0.3) {
    return pos ? "weak positive cosine similarity: the two vectors share a small common direction"
               : "weak negative cosine similarity: the two vectors partly point against each other";
  }
  if (a < 0.6) {
    return pos ? "moderate positive cosine similarity: the two vectors overlap noticeably"
               : "moderate negative cosine similarity: adding them undoes part of each";
  }
  return pos ? "strong positive cosine similarity: the two vectors largely point the same way"
             : "strong negative cosine similarity: adding one largely undoes the other";
}

namespace {

std::string NowUtc() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
  return buf;
}

bool Exists(const std::string& path) {
  std::error_code ec;
  return std::filesystem::exists(path, ec);
}

// The part before the colon, for tiles.
std::string ShortVerdict(double c) {
  const std::string v = CosineVerdict(c);
  const size_t colon = v.find(':');
  return colon == std::string::npos ? v : v.substr(colon + 2);
}

// ---- Header
// ------------------------------------------------------------------------------------------------

struct Tile {
  std::string key, value, sub;
};

std::string TilesHtml(const std::vector<Tile>& tiles) {
  if (tiles.empty()) return "";
  std::string h = "<div class=\"tiles\">";
  for (const Tile& t : tiles) {
    h += "<div class=\"tile\"><div class=\"k\">" + HtmlEscape(t.key) + "</div><div class=\"v\">" +
         HtmlEscape(t.value) + "</div><div class=\"s\">" + HtmlEscape(t.sub) + "</div></div>";
  }
  return h + "</div>";
}

std::string SettingsHtml(Presence p, const std::string& path,
                         const std::vector<std::pair<std::string, std::string>>& settings) {
  std::string h = "<div class=\"panel\"><h3>Settings</h3>";
  if (p == Presence::kNotGiven) return h + "<p class=\"muted-text\">No settings file given.</p></div>";
  if (p == Presence::kMissing) return h + NotRun("settings", path) + "</div>";
  if (settings.empty()) return h + "<p class=\"muted-text\">The settings file is empty.</p></div>";
  h += "<dl class=\"settings\">";
  for (const auto& [k, v] : settings) h += "<dt>" + HtmlEscape(k) + "</dt><dd>" + HtmlEscape(v) + "</dd>";
  return h + "</dl></div>";
}

std::string StageTimesHtml(const std::vector<std::pair<std::string, double>>& stages) {
  std::string h = "<div class=\"panel\"><h3>Stage times</h3>";
  if (stages.empty()) return h + "<p class=\"muted-text\">No stage times recorded.</p></div>";
  std::vector<Bar> bars;
  std::vector<std::string> text;
  double total = 0;
  for (size_t i = 0; i < stages.size(); i++) {
    bars.push_back({stages[i].first, stages[i].second, "#5b7bd5", false, ""});
    text.push_back(FormatSeconds(stages[i].second));
    if (std::isfinite(stages[i].second)) total += stages[i].second;
  }
  h += HBarChartSvg(bars, text, 460);
  h += "<p class=\"stats\">Total " + HtmlEscape(FormatSeconds(total)) + " over " +
       std::to_string(stages.size()) + (stages.size() == 1 ? " stage" : " stages") + ".</p>";
  return h + "</div>";
}

Status Render(const ReportInputs& in, std::string* html, std::vector<std::string>* missing) {
  auto present = [&](const std::string& path) {
    if (path.empty()) return Presence::kNotGiven;
    if (!Exists(path)) {
      if (missing) missing->push_back(path);
      return Presence::kMissing;
    }
    return Presence::kLoaded;
  };
  std::vector<CurveInput> curves;
  for (const auto& [label, path] : in.loss_curves) {
    CurveInput c;
    c.label = label;
    c.path = path;
    c.presence = present(path);
    if (c.presence == Presence::kLoaded) {
      c.curve.label = label;
      FM_RETURN_IF_ERROR(ReadLossCurve(path, &c.curve));
    }
    curves.push_back(std::move(c));
  }
  AnalysisData analysis;
  const Presence pa = present(in.analysis_json);
  if (pa == Presence::kLoaded) FM_RETURN_IF_ERROR(ReadAnalysis(in.analysis_json, &analysis));
  ResultsData results;
  const Presence pr = present(in.results_json);
  if (pr == Presence::kLoaded) FM_RETURN_IF_ERROR(ReadResults(in.results_json, &results));
  std::vector<std::pair<std::string, std::string>> settings;
  const Presence ps = present(in.settings_json);
  if (ps == Presence::kLoaded) FM_RETURN_IF_ERROR(ReadSettings(in.settings_json, &settings));

  // Stage times: the results file's, then the caller's (which win for a stage named in both).
  std::vector<std::pair<std::string, double>> stages = results.stage_seconds;
  for (const auto& [name, s] : in.stage_seconds) {
    auto it = std::find_if(stages.begin(), stages.end(), [&](const auto& e) { return e.first == name; });
    if (it != stages.end()) {
      it->second = s;
    } else {
      stages.push_back({name, s});
    }
  }

  // Headline tiles.
  std::vector<Tile> tiles;
  if (pr == Presence::kLoaded && !results.primary_metric.empty()) {
    auto it = std::find(results.metrics.begin(), results.metrics.end(), results.primary_metric);
    if (it != results.metrics.end()) {
      const std::vector<size_t> best = BestRows(results, it - results.metrics.begin());
      if (!best.empty()) {
        tiles.push_back({"best on " + results.primary_metric, results.models[best[0]],
                         FormatNumber(results.values[best[0]][it - results.metrics.begin()], 3) + " (" +
                             std::to_string(results.models.size()) + " models compared)"});
      }
    }
  }
  if (pa == Presence::kLoaded && analysis.labels.size() >= 2) {
    const double c = analysis.overall.cosine[0][1];
    tiles.push_back({"task-vector cosine", FormatNumber(c, 3),
                     analysis.labels[0] + " vs " + analysis.labels[1] + ": " + ShortVerdict(c)});
  } else if (pr == Presence::kLoaded && results.has_cosine) {
    tiles.push_back({"task-vector cosine", FormatNumber(results.task_vector_cosine, 3),
                     ShortVerdict(results.task_vector_cosine)});
  }
  for (const CurveInput& c : curves) {
    if (c.presence != Presence::kLoaded || c.curve.train.empty() || tiles.size() >= 5) continue;
    const LossCurve& lc = c.curve;
    const bool val = !lc.val.empty();
    const auto& series = val ? lc.val : lc.train;
    std::string sub = "after " + WithCommas(lc.train.back().first) + " steps";
    if (series.size() > 1) sub += ", from " + FormatNumber(series.front().second);
    tiles.push_back({c.label + (val ? " val loss" : " loss"), FormatNumber(series.back().second), sub});
  }
  if (!stages.empty()) {
    double total = 0;
    for (const auto& [n, s] : stages) total += std::isfinite(s) ? s : 0;
    tiles.push_back({"total time", FormatSeconds(total),
                     std::to_string(stages.size()) + (stages.size() == 1 ? " stage" : " stages")});
  }

  const std::string title = in.title.empty() ? "finmerge report" : in.title;
  std::string h;
  h.reserve(1 << 16);
  h += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
       "<meta name=\"generator\" content=\"finmerge report\">\n<title>" +
       HtmlEscape(title) + "</title>\n<style>" + kPageCss + "</style>\n</head>\n<body>\n<main>\n";
  h += "<header class=\"hero\" id=\"summary\"><div class=\"eyebrow\">finmerge · run report</div><h1>" +
       HtmlEscape(title) + "</h1><div class=\"meta\">Generated " +
       HtmlEscape(in.date.empty() ? NowUtc() : in.date) + "</div>" + TilesHtml(tiles) + "</header>\n";
  h += "<section id=\"run-settings\"><h2>Run</h2><div class=\"split\">" +
       SettingsHtml(ps, in.settings_json, settings) + StageTimesHtml(stages) + "</div></section>\n";
  h += LossSection(curves) + "\n";
  h += TaskVectorSection(pa, in.analysis_json, analysis) + "\n";
  h += EvaluationSection(pr, in.results_json, results) + "\n";
  h += "<footer>Written by <code>finmerge report</code>: one self-contained file (inline SVG and CSS, no "
       "scripts, "
       "no network). Hover charts for exact values.</footer>\n</main>\n</body>\n</html>\n";
  *html = std::move(h);
  return Status::Ok();
}

}  // namespace
}  // namespace report

Status RenderReport(const ReportInputs& in, std::string* html, std::vector<std::string>* missing) {
  return report::Render(in, html, missing);
}

Status WriteReport(const ReportInputs& in, const std::string& out_html, std::vector<std::string>* missing) {
  std::string html;
  FM_RETURN_IF_ERROR(RenderReport(in, &html, missing));
  OutputPath out(out_html, OutputPath::Kind::kFile);
  FM_RETURN_IF_ERROR(out.Begin());
  {
    std::ofstream f(out.temp_path(), std::ios::binary);
    f.write(html.data(), static_cast<std::streamsize>(html.size()));
    f.close();
    if (!f) return Status::IOError(out_html + ": cannot write (disk full?)");
  }
  return out.Commit();
}

}  // namespace fm