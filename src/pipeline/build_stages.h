// The evaluation and report stages of `finmerge build` (pipeline/build.h), split out because they are the
// stages that read every other stage's outputs.
#pragma once

#include <string>

#include "base/status.h"
#include "pipeline/build.h"
#include "pipeline/recipe.h"
#include "pipeline/run_folder.h"

namespace fm {

struct BuildStageInputs {
  const Recipe* recipe;
  RunFolder* run;
  const BuildOptions* opts;
  std::string base_fp, instruct_fp, cpt_fp, merged_fp;  // fingerprints of the four models
  std::string cpt_model, merged_model;                  // folders
  std::string salt;  // non-empty with --force: changes every fingerprint
};

// RUN/eval/results.json: the recipe's evaluations for each model in recipe.eval.models, side by side.
Status RunEvalStage(const BuildStageInputs& in);
// RUN/report.html from the run folder's files (always rewritten: it is cheap and shows the latest run).
Status RunReportStage(const BuildStageInputs& in, std::string* report_path);

}  // namespace fm
