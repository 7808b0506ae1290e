// report.html: one self-contained page (inline SVG and CSS, no JavaScript, no network) that shows a finmerge
// run: loss curves of the training stages, the task-vector analysis as a heatmap of cosine similarity by
// layer and module with the norms beside it, and the evaluation table with a bar chart per metric.
//
// Everything comes from FILES that other stages write, so the report depends on no other stage's code:
//   - metrics.jsonl of `finmerge cpt` / `finmerge sft` (one JSON object a line: step, loss, lr, grad_norm,
//     tokens_per_s, and val_loss on evaluated steps),
//   - the analysis JSON of `finmerge analyze ... --json`,
//   - a results JSON: the demo's {"primary_metric", "models": {MODEL: {METRIC: value}}, "task_vector_cosine",
//     "stage_seconds": {STAGE: seconds}} or the eval shape {"models": {MODEL: {METRIC: value}}},
//   - an optional settings JSON object (the recipe), shown as a definition list.
// Every input is optional: an empty path, or a path where no file exists (the stage did not run), makes its
// section say "not run". A file that exists but is malformed is an error naming the file and the line. Every
// string taken from an input is HTML-escaped.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "base/status.h"

namespace fm {

struct ReportInputs {
  std::string title = "finmerge report";
  // (label, path of a metrics.jsonl), drawn in this order, e.g. {"CPT", "run/cpt/metrics.jsonl"}.
  std::vector<std::pair<std::string, std::string>> loss_curves;
  std::string analysis_json;  // `finmerge analyze --json` output; empty = not run
  std::string results_json;   // demo results.json or `finmerge eval --json`; empty = not run
  std::string settings_json;  // any JSON object (recipe, run settings); empty = none
  // Stage times (stage, seconds) shown in the header, in this order; appended to any "stage_seconds" of the
  // results file (a stage named in both shows this value).
  std::vector<std::pair<std::string, double>> stage_seconds;
  // The date printed in the header; empty = now (UTC, "2026-11-26 01:02 UTC").
  std::string date;
};

// Renders the page into *html. Fails (naming the file and line) only on an input file that exists but is
// malformed or unreadable. `missing`, if not null, receives the given paths that do not exist (so a front end
// can warn about a typo).
Status RenderReport(const ReportInputs& in, std::string* html, std::vector<std::string>* missing = nullptr);

// RenderReport, then writes `out_html` atomically (temporary name, renamed into place).
Status WriteReport(const ReportInputs& in, const std::string& out_html,
                   std::vector<std::string>* missing = nullptr);

}  // namespace fm
