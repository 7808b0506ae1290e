#include "eval/evaluation.h"

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "eval/perplexity_files.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace fm {

namespace {

double Since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Column label of a perplexity input: its name without extension, or the path as given when two inputs share
// it.
std::string Stem(const std::string& path) {
  std::filesystem::path p(path);
  if (!p.has_filename()) p = p.parent_path();  // "shards/"
  return p.stem().string();
}
std::string PplLabel(const std::vector<std::string>& files, size_t i) {
  const std::string stem = Stem(files[i]);
  for (size_t k = 0; k < files.size(); k++) {
    if (k != i && Stem(files[k]) == stem) return files[i];
  }
  return stem.empty() ? files[i] : stem;
}

}  // namespace

EvalModel BindEvalModel(LanguageModel* lm) {
  EvalModel m;
  m.file_perplexity = [lm](const std::string& path, int stride, PerplexityResult* out) {
    std::vector<uint32_t> tokens;
    FM_RETURN_IF_ERROR(LoadPerplexityTokens(path, lm->tokenizer(),
                                            static_cast<uint32_t>(lm->model().config().vocab_size), &tokens));
    if (tokens.size() < 2) {
      return Status::InvalidArgument(path + ": " + std::to_string(tokens.size()) +
                                     " token(s); perplexity needs at least two");
    }
    return lm->Perplexity(tokens, stride, out).WithPrefix(path);
  };
  m.loglik = BindLoglik(lm);
  m.chat = BindChat(lm);
  return m;
}

Status EvaluateModel(const std::string& name, const EvalPlan& plan, const EvalModel& model,
                     ResultsTable* table, nlohmann::ordered_json* details) {
  table->AddModel(name);
  *details = nlohmann::ordered_json::object();
  if (!plan.ppl_files.empty()) {
    nlohmann::ordered_json ppl = nlohmann::ordered_json::object();
    for (size_t i = 0; i < plan.ppl_files.size(); i++) {
      const std::string label = PplLabel(plan.ppl_files, i);
      auto t0 = std::chrono::steady_clock::now();
      PerplexityResult r;
      FM_RETURN_IF_ERROR(model.file_perplexity(plan.ppl_files[i], plan.ppl_stride, &r));
      const double sec = Since(t0);
      if (plan.progress)
        std::fprintf(stderr, "[eval] %s: ppl %s: %lld tokens, nll %.4f, ppl %.3f (%.1f s, %.0f tokens/s)\n",
                     name.c_str(), label.c_str(), static_cast<long long>(r.tokens), r.nll, r.ppl, sec,
                     sec > 0 ? r.tokens / sec : 0.0);
      table->Set(name, "ppl/" + label, r.ppl);
      ppl[label] = {{"file", plan.ppl_files[i]},
                    {"tokens", r.tokens},
                    {"nll", r.nll},
                    {"ppl", r.ppl},
                    {"seconds", sec}};
    }
    (*details)["ppl"] = std::move(ppl);
  }
  if (!plan.tasks.empty()) {
    nlohmann::ordered_json tasks = nlohmann::ordered_json::object();
    for (const auto& task : plan.tasks) {
      auto t0 = std::chrono::steady_clock::now();
      McResult r;
      FM_RETURN_IF_ERROR(EvaluateMcTask(task, model.loglik, plan.limit, &r));
      const double sec = Since(t0);
      if (plan.progress)
        std::fprintf(stderr, "[eval] %s: %s: %d items, acc %.4f ± %.4f, acc_norm %.4f ± %.4f (%.1f s)\n",
                     name.c_str(), task.name.c_str(), r.n, r.acc, r.acc_stderr, r.acc_norm, r.acc_norm_stderr,
                     sec);
      table->Set(name, task.name + "/acc", r.acc, r.acc_stderr);
      table->Set(name, task.name + "/acc_norm", r.acc_norm, r.acc_norm_stderr);
      nlohmann::ordered_json j = McResultToJson(task, r);
      j["seconds"] = sec;
      tasks[task.name] = std::move(j);
    }
    (*details)["tasks"] = std::move(tasks);
  }
  if (!plan.ifeval.empty()) {
    auto t0 = std::chrono::steady_clock::now();
    std::vector<ifeval::PromptResult> results;
    FM_RETURN_IF_ERROR(ifeval::Run(plan.ifeval, model.chat, plan.max_new_tokens, &results));
    const double sec = Since(t0);
    ifeval::Summary s = ifeval::Summarize(results);
    if (plan.progress)
      std::fprintf(
          stderr,
          "[eval] %s: ifeval: %d prompts, %d instructions: prompt strict %.4f loose %.4f, instruction strict "
          "%.4f loose %.4f (%.1f s)\n",
          name.c_str(), s.prompts, s.instructions, s.prompt_strict, s.prompt_loose, s.inst_strict,
          s.inst_loose, sec);
    if (!s.not_implemented.empty()) {
      int total = 0;
      std::string ids;
      for (const auto& [id, n] : s.not_implemented) {
        total += n;
        ids += (ids.empty() ? "" : ", ") + id + " (" + std::to_string(n) + ")";
      }
      std::fprintf(stderr,
                   "[eval] %s: ifeval: %d instruction(s) not implemented, excluded from the counts: %s\n",
                   name.c_str(), total, ids.c_str());
    }
    table->Set(name, "ifeval/prompt_strict", s.prompt_strict);
    table->Set(name, "ifeval/inst_strict", s.inst_strict);
    table->Set(name, "ifeval/prompt_loose", s.prompt_loose);
    table->Set(name, "ifeval/inst_loose", s.inst_loose);
    nlohmann::ordered_json j;
    j["file"] = plan.ifeval_path;
    j.update(ifeval::SummaryToJson(s));
    j["seconds"] = sec;
    nlohmann::ordered_json responses = nlohmann::ordered_json::array();
    for (const auto& r : results) {
      nlohmann::ordered_json ins = nlohmann::ordered_json::array();
      for (const auto& i : r.instructions) {
        ins.push_back(
            {{"id", i.id}, {"implemented", i.implemented}, {"strict", i.strict}, {"loose", i.loose}});
      }
      responses.push_back(
          {{"key", r.key}, {"prompt", r.prompt}, {"response", r.response}, {"instructions", ins}});
    }
    j["responses"] = std::move(responses);
    (*details)["ifeval"] = std::move(j);
  }
  return Status::Ok();
}

}  // namespace fm
