// Build: runs a recipe (pipeline/recipe.h) as stages in a run folder (pipeline/run_folder.h):
//
//   tokenize  -> RUN/tokenize/shards      domain corpus as token shards (skipped with cpt_model)
//   replay    -> RUN/replay/shards        the replay corpus, when the recipe has one
//   cpt       -> RUN/cpt/model            continual pretraining of the base (MPI data-parallel under mpirun)
//   merge     -> RUN/merge/model          the merge (the paper's chat vector by default)
//   analyze   -> RUN/analyze/analysis.json the task vectors (instruct - base, cpt - base) compared
//   eval      -> RUN/eval/results.json     the evaluations, side by side
//   report    -> RUN/report.html          one self-contained page
//
// Under mpirun every rank calls RunBuild: the CPT stage runs on all ranks, every other stage on rank 0 only
// (the run folder must be on a file system all ranks see, as for `finmerge cpt`).
#pragma once

#include <string>

#include "base/status.h"
#include "pipeline/recipe.h"

namespace fm {

struct BuildOptions {
  bool quiet = false;
  bool force = false;  // redo every stage even when its fingerprint matches
};

struct BuildSummary {
  std::string run_dir;
  std::string merged_model;  // RUN/merge/model
  std::string report;        // RUN/report.html ("" when disabled)
  double seconds = 0.0;
};

Status RunBuild(const Recipe& recipe, const BuildOptions& opts, BuildSummary* summary);

}  // namespace fm
