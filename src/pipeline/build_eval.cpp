#include <cstdio>
#include <fstream>

#include "eval/eval_suite.h"
#include "pipeline/build_stages.h"

namespace fm {

Status RunEvalStage(const BuildStageInputs& in) {
  const Recipe& r = *in.recipe;
  const RecipeEval& e = r.eval;
  EvalSpec spec;
  std::vector<std::string> parts = {"eval/1", in.salt};
  for (const std::string& m : e.models) {
    if (m == "base") spec.models.push_back({m, r.base}), parts.push_back(in.base_fp);
    if (m == "instruct") spec.models.push_back({m, r.instruct}), parts.push_back(in.instruct_fp);
    if (m == "cpt") spec.models.push_back({m, in.cpt_model}), parts.push_back(in.cpt_fp);
    if (m == "merged") spec.models.push_back({m, in.merged_model}), parts.push_back(in.merged_fp);
  }
  spec.chat_format = e.chat_format;
  spec.ppl = e.ppl;
  spec.ppl_stride = e.ppl_stride;
  spec.tasks = e.tasks;
  spec.prompt_style = e.prompt_style;
  spec.limit = e.limit;
  spec.ifeval = e.ifeval;
  spec.ifeval_limit = e.ifeval_limit;
  spec.max_new_tokens = e.max_new_tokens;
  spec.progress = !in.opts->quiet;
  std::vector<std::string> inputs = spec.ppl;
  inputs.insert(inputs.end(), spec.tasks.begin(), spec.tasks.end());
  if (!spec.ifeval.empty()) inputs.push_back(spec.ifeval);
  for (const std::string& p : inputs) {
    std::string fp;
    Status s = FingerprintPath(p, &fp);
    if (!s.ok()) return s.WithPrefix("eval");
    parts.push_back(p + "=" + fp);
  }
  parts.push_back(r.raw.contains("eval") ? r.raw["eval"].dump() : "");
  StageResult res;
  Status s = in.run->Run(
      "eval", CombineFingerprints(parts),
      [&](const std::string& dir, bool, nlohmann::json* out) {
        ResultsTable table;
        nlohmann::ordered_json details;
        Status st = RunEvalSuite(spec, &table, &details);
        if (!st.ok()) return st;
        std::ofstream j(dir + "/results.json");
        j << EvalResultsJson(table, details).dump(2) << "\n";
        std::ofstream md(dir + "/results.md");
        md << table.RenderMarkdown();
        if (!j || !md) return Status::IOError(dir + ": cannot write the results");
        (*out)["table"] = table.RenderTerminal();
        return Status::Ok();
      },
      &res);
  if (!s.ok()) return s;
  if (!in.opts->quiet) {
    std::fprintf(stderr, "[build] eval      %s in %.1f s\n%s", res.skipped ? "up to date" : "done", res.seconds,
                 res.outputs.value("table", std::string()).c_str());
  }
  return Status::Ok();
}

}  // namespace fm
