#include <filesystem>
#include <fstream>

#include "pipeline/build_stages.h"
#include "report/report.h"

namespace fm {

namespace fs = std::filesystem;

Status RunReportStage(const BuildStageInputs& in, std::string* report_path) {
  const std::string root = in.recipe->run_dir;
  ReportInputs ri;
  ri.title = "finmerge build: " + in.recipe->name;
  // The CPT metrics live beside the trained model (the trainer writes OUT/metrics.jsonl).
  if (fs::exists(root + "/cpt/model/metrics.jsonl")) ri.loss_curves.push_back({"CPT", root + "/cpt/model/metrics.jsonl"});
  ri.analysis_json = in.recipe->analyze ? root + "/analyze/analysis.json" : "";
  ri.results_json = in.recipe->eval_enabled ? root + "/eval/results.json" : "";
  // The recipe as settings.
  const std::string settings = root + "/recipe.json";
  {
    std::ofstream f(settings);
    f << in.recipe->raw.dump(2) << "\n";
    if (!f) return Status::IOError(settings + ": cannot write");
  }
  ri.settings_json = settings;
  for (const StageResult& r : in.run->results()) ri.stage_seconds.push_back({r.name, r.seconds});
  const std::string out = root + "/report.html";
  Status s = WriteReport(ri, out);
  if (!s.ok()) return s.WithPrefix("report");
  if (!in.opts->quiet) std::fprintf(stderr, "[build] report    %s\n", out.c_str());
  *report_path = out;
  return Status::Ok();
}

}  // namespace fm
