// finmerge report -o report.html [--title T] [--loss LABEL=metrics.jsonl]... [--analysis A.json]
//                 [--results R.json] [--settings S.json]
// One self-contained HTML page (inline SVG, no scripts, no network) from the files the other stages write.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "cli/command.h"
#include "report/report.h"

namespace {

struct ReportFlags {
  std::string out, title = "finmerge report", analysis, results, settings;
  std::vector<std::string> losses;
};

int RunReport(const ReportFlags& f) {
  const auto t0 = std::chrono::steady_clock::now();
  fm::ReportInputs in;
  in.title = f.title;
  in.analysis_json = f.analysis;
  in.results_json = f.results;
  in.settings_json = f.settings;
  for (const std::string& l : f.losses) {
    const size_t eq = l.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == l.size()) {
      return fm::cli::ReportError(fm::Status::InvalidArgument(
          "--loss '" + l + "' must be LABEL=PATH (e.g. --loss CPT=run/cpt/metrics.jsonl)"));
    }
    in.loss_curves.push_back({l.substr(0, eq), l.substr(eq + 1)});
  }
  std::vector<std::string> missing;
  fm::Status s = fm::WriteReport(in, f.out, &missing);
  if (!s.ok()) return fm::cli::ReportError(s);
  for (const std::string& m : missing) {
    std::fprintf(stderr, "finmerge: note: %s does not exist; its section says \"not run\"\n", m.c_str());
  }
  auto shown = [&](const std::string& path) {
    return !path.empty() && std::find(missing.begin(), missing.end(), path) == missing.end();
  };
  size_t curves = 0;
  for (const auto& [label, path] : in.loss_curves) curves += shown(path);
  std::error_code ec;
  const auto bytes = std::filesystem::file_size(f.out, ec);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("report: wrote %s (%.0f KB: %zu loss curve%s, task vectors %s, evaluation %s) in %.2f s\n",
              f.out.c_str(), ec ? 0.0 : static_cast<double>(bytes) / 1024.0, curves, curves == 1 ? "" : "s",
              shown(f.analysis) ? "shown" : "not run", shown(f.results) ? "shown" : "not run", secs);
  return 0;
}

FM_REGISTER_COMMAND("report",
                    "Write a self-contained report.html: loss curves, task-vector heatmap, evaluation",
                    [](CLI::App& sub) -> std::function<int()> {
                      auto f = std::make_shared<ReportFlags>();
                      sub.add_option("-o,--out", f->out, "Output HTML file (written atomically)")->required();
                      sub.add_option("--title", f->title, "Page title")->capture_default_str();
                      sub.add_option("--loss", f->losses,
                                     "LABEL=metrics.jsonl of a training stage (repeatable, drawn in order)");
                      sub.add_option("--analysis", f->analysis, "JSON of `finmerge analyze --json`");
                      sub.add_option(
                          "--results", f->results,
                          "Evaluation results JSON (the demo's results.json or `finmerge eval --json`)");
                      sub.add_option("--settings", f->settings,
                                     "A JSON object of run settings shown in the header");
                      return [f] { return RunReport(*f); };
                    });

}  // namespace
