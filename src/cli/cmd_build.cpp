// `finmerge build RECIPE.yaml`: the whole method in one command — tokenize, cpt, merge, analyze, eval, report —
// in a run folder whose stages are skipped when their inputs are unchanged and resumed when killed
// (src/pipeline/build.h). Under `mpirun -np N` the CPT stage trains data-parallel on every rank.
#include <cstdio>

#include "cli/command.h"
#include "pipeline/build.h"
#include "pipeline/recipe.h"
#include "train/distributed.h"

namespace fm::cli {
namespace {

struct BuildArgs {
  std::string recipe;
  std::string run_dir;
  BuildOptions opts;
};

int RunBuildCommand(const BuildArgs& a) {
  Recipe r;
  Status s = LoadRecipe(a.recipe, &r);
  if (s.ok() && !a.run_dir.empty()) r.run_dir = a.run_dir;
  BuildSummary sum;
  if (s.ok()) s = RunBuild(r, a.opts, &sum);
  const bool root = Distributed::Get().is_root();
  if (!s.ok()) return root ? ReportError(s) : 1;
  if (root) {
    std::printf("built %s in %.1f s: merged model %s%s%s\n", r.name.c_str(), sum.seconds, sum.merged_model.c_str(),
                sum.report.empty() ? "" : ", report ", sum.report.c_str());
  }
  return 0;
}

}  // namespace

FM_REGISTER_COMMAND("build", "run a recipe: tokenize -> cpt -> merge -> analyze -> eval -> report (resumable)",
                    [](CLI::App& sub) -> std::function<int()> {
                      auto a = std::make_shared<BuildArgs>();
                      sub.add_option("recipe", a->recipe, "recipe YAML (see examples/nekomata-fin.yaml)")
                          ->required();
                      sub.add_option("--run-dir", a->run_dir, "run folder (default: the recipe's run_dir)");
                      sub.add_flag("--force", a->opts.force, "redo every stage even when its inputs are unchanged");
                      sub.add_flag("-q,--quiet", a->opts.quiet, "no progress output");
                      return [a] { return RunBuildCommand(*a); };
                    });

}  // namespace fm::cli
