// One evaluation run of one model: perplexity files, multiple-choice tasks and IFEval, as configured by an
// EvalPlan, writing one row of the side-by-side ResultsTable and a details JSON. RunEvalSuite (eval_suite.h)
// loads the plan once and runs it on each model in turn.
//
// Metric names (table columns, JSON keys):
//   ppl/STEM                  perplexity of that file or shard folder (its name without extension; the path
//                             as given when two inputs share a stem); details add tokens and nll
//   TASK/acc, TASK/acc_norm   multiple-choice accuracies, each with TASK/..._stderr in JSON
//   ifeval/prompt_strict, ifeval/inst_strict, ifeval/prompt_loose, ifeval/inst_loose
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/status.h"
#include "eval/ifeval.h"
#include "eval/language_model.h"
#include "eval/multiple_choice.h"
#include "eval/results_table.h"

namespace fm {

struct EvalPlan {
  std::vector<std::string> ppl_files;
  int ppl_stride = 0;  // 0 = disjoint windows of the context length
  std::vector<McTask> tasks;
  int limit = 0;  // items per task, 0 = all
  std::string ifeval_path;
  std::vector<ifeval::Prompt> ifeval;  // already limited
  int max_new_tokens = 512;
  bool progress = true;  // one line per step on stderr
};

// The operations an evaluation needs from one model.
struct EvalModel {
  // Perplexity of the text file, shard file or shard folder at `path` (perplexity_files.h).
  std::function<Status(const std::string& path, int stride, PerplexityResult*)> file_perplexity;
  LoglikFn loglik;
  ChatFn chat;
};
EvalModel BindEvalModel(LanguageModel* lm);

// Runs `plan` on `model`, sets row `name` of `table` and fills *details with
// {"ppl": {STEM: {"file", "tokens", "nll", "ppl", "seconds"}}, "tasks": {TASK: {...}}, "ifeval": {...}}
// (tasks: multiple_choice.h McResultToJson; ifeval: ifeval.h SummaryToJson plus "file", "seconds" and
// "responses": [{"key", "prompt", "response", "instructions": [{"id", "implemented", "strict", "loose"}]}]).
Status EvaluateModel(const std::string& name, const EvalPlan& plan, const EvalModel& model,
                     ResultsTable* table, nlohmann::ordered_json* details);

}  // namespace fm
