// EvalSuite: one set of evaluations (perplexity files, multiple-choice tasks, IFEval) run on several models,
// one model loaded at a time, collected into one side-by-side table (eval/results_table.h) plus per-model
// details. `finmerge eval` and the eval stage of `finmerge build` are both this.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "eval/results_table.h"

namespace fm {

struct EvalSpec {
  std::vector<std::pair<std::string, std::string>> models;  // (name, model folder)
  std::string chat_format;                                   // "" = each model's chat template
  std::string precision = "auto";
  int max_context = 0;  // 0 = the config's max_position_embeddings (capped at 4096)
  std::vector<std::string> ppl;  // text files or token shards
  int ppl_stride = 0;
  std::vector<std::string> tasks;  // multiple-choice files
  std::string prompt_style = "default";
  int limit = 0;       // multiple-choice items per task (0 = all)
  std::string ifeval;  // IFEval JSONL ("" = none)
  int ifeval_limit = 0;
  int max_new_tokens = 256;
  bool progress = true;
};

// Metric names and the details of each model: eval/evaluation.h (EvaluateModel runs one model).
// details: {MODEL: {"path", "ppl": {STEM: {...}}, "tasks": {TASK: {...}}, "ifeval": {...}}}.
// Inputs are all read and checked before the first model is loaded, so a typo fails in seconds.
Status RunEvalSuite(const EvalSpec& spec, ResultsTable* table, nlohmann::ordered_json* details);

// The JSON written by `finmerge eval --json` and RUN/eval/results.json:
// {"models": table.ToJson(), "metrics": [...], "details": details}.
nlohmann::ordered_json EvalResultsJson(const ResultsTable& table, const nlohmann::ordered_json& details);

}  // namespace fm
