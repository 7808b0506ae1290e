#include "eval/eval_suite.h"
#include "gguf/gguf_input.h"

#include <cstdio>
#include <filesystem>
#include <memory>

#include "eval/evaluation.h"
#include "eval/language_model.h"

namespace fm {

namespace fs = std::filesystem;

Status RunEvalSuite(const EvalSpec& spec, ResultsTable* table, nlohmann::ordered_json* details) {
  if (spec.models.empty()) return Status::InvalidArgument("no models to evaluate");
  if (spec.ppl.empty() && spec.tasks.empty() && spec.ifeval.empty()) {
    return Status::InvalidArgument("nothing to evaluate: give --ppl, --task or --ifeval");
  }
  for (const auto& [name, path] : spec.models) {
    if (!fs::is_directory(path) && !gguf::IsGgufFile(path))
      return Status::NotFound(path + ": no such model folder or GGUF file (model '" + name + "')");
  }
  // Read and check every input before the first model loads, so a typo fails in seconds.
  EvalPlan plan;
  plan.progress = spec.progress;
  plan.ppl_files = spec.ppl;
  plan.ppl_stride = spec.ppl_stride;
  plan.limit = spec.limit;
  plan.max_new_tokens = spec.max_new_tokens;
  for (const std::string& p : spec.ppl) {
    if (!fs::exists(p)) return Status::NotFound(p + ": no such perplexity file or shard folder");
  }
  PromptStyle style;
  FM_RETURN_IF_ERROR(ParsePromptStyle(spec.prompt_style, &style));
  for (const std::string& file : spec.tasks) {
    McTask task;
    FM_RETURN_IF_ERROR(LoadMcTask(file, style, &task));
    for (const McTask& t : plan.tasks) {
      if (t.name == task.name) {
        return Status::InvalidArgument(file + ": a task named '" + task.name + "' is already given (" +
                                       t.path + ")");
      }
    }
    if (spec.progress) {
      std::fprintf(stderr, "[eval] task %s: %zu items (%s, prompt %s)\n", task.name.c_str(),
                   task.items.size(), task.format.c_str(),
                   task.format == "fin-harness" ? PromptStyleName(style) : "query");
    }
    plan.tasks.push_back(std::move(task));
  }
  if (!spec.ifeval.empty()) {
    plan.ifeval_path = spec.ifeval;
    FM_RETURN_IF_ERROR(ifeval::LoadPrompts(spec.ifeval, &plan.ifeval));
    if (spec.ifeval_limit > 0 && plan.ifeval.size() > static_cast<size_t>(spec.ifeval_limit)) {
      plan.ifeval.resize(spec.ifeval_limit);
    }
    if (spec.progress)
      std::fprintf(stderr, "[eval] ifeval %s: %zu prompts\n", spec.ifeval.c_str(), plan.ifeval.size());
  }

  *details = nlohmann::ordered_json::object();
  for (const auto& [name, path] : spec.models) {  // one model in memory at a time
    if (spec.progress) std::fprintf(stderr, "[eval] %s: loading %s\n", name.c_str(), path.c_str());
    LanguageModelOptions lo;
    lo.chat_format = spec.chat_format;
    lo.precision = spec.precision;
    lo.max_context = spec.max_context;
    std::unique_ptr<LanguageModel> lm;
    Status s = LanguageModel::Load(path, lo, &lm);
    if (!s.ok()) return s.WithPrefix("model '" + name + "'");
    nlohmann::ordered_json d;
    s = EvaluateModel(name, plan, BindEvalModel(lm.get()), table, &d);
    if (!s.ok()) return s.WithPrefix("model '" + name + "'");
    nlohmann::ordered_json entry = {{"path", path}};
    entry.update(d);
    (*details)[name] = std::move(entry);
  }
  return Status::Ok();
}

nlohmann::ordered_json EvalResultsJson(const ResultsTable& table, const nlohmann::ordered_json& details) {
  return {{"models", table.ToJson()}, {"metrics", table.metrics()}, {"details", details}};
}

}  // namespace fm
