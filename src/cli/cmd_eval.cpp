// finmerge eval: perplexity, multiple-choice tasks and IFEval for one model (--model) or several side by side
// (--models name=path ...), loading one model at a time; prints one table (a row per model, a column per
// metric) and writes it as JSON and/or Markdown. See docs/evaluation.md.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include "base/output_path.h"
#include "cli/command.h"
#include "eval/eval_suite.h"

namespace {

struct EvalArgs {
  std::string model, chat_format, precision = "auto", prompt_style = "default", ifeval, json_out,
                                  markdown_out;
  std::vector<std::string> models, ppl, tasks;
  int ppl_stride = 0, ifeval_limit = 0, max_new_tokens = 512, limit = 0, max_context = 0;
};

// Writes `text` to `path` atomically (temporary name, then rename).
fm::Status WriteAtomically(const std::string& path, const std::string& text) {
  fm::OutputPath out(path, fm::OutputPath::Kind::kFile);
  FM_RETURN_IF_ERROR(out.Begin());
  {
    std::ofstream f(out.temp_path(), std::ios::binary);
    f << text;
    f.flush();
    if (!f) return fm::Status::IOError(path + ": write failed (disk full?)");
  }
  return out.Commit();
}

fm::Status CheckOutputFolder(const std::string& path) {
  if (path.empty()) return fm::Status::Ok();
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty() && !std::filesystem::is_directory(parent)) {
    return fm::Status::InvalidArgument(path + ": folder " + parent.string() + " does not exist");
  }
  return fm::Status::Ok();
}

int RunEval(const EvalArgs& a) {
  using fm::Status;
  // Models: name -> folder, in the order given.
  std::vector<std::pair<std::string, std::string>> models;
  if (!a.model.empty() && !a.models.empty()) {
    return fm::cli::ReportError(Status::InvalidArgument("give either --model or --models, not both"));
  }
  if (!a.model.empty()) {
    std::string name = std::filesystem::path(a.model).filename().string();
    if (name.empty()) name = std::filesystem::path(a.model).parent_path().filename().string();
    models.push_back({name.empty() ? a.model : name, a.model});
  }
  std::set<std::string> names;
  for (const auto& m : a.models) {
    size_t eq = m.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == m.size()) {
      return fm::cli::ReportError(
          Status::InvalidArgument("--models takes NAME=FOLDER pairs (e.g. base=./base), got \"" + m + "\""));
    }
    std::string name = m.substr(0, eq);
    if (!names.insert(name).second) {
      return fm::cli::ReportError(
          Status::InvalidArgument("--models: the name \"" + name + "\" is used twice"));
    }
    models.push_back({name, m.substr(eq + 1)});
  }
  if (models.empty())
    return fm::cli::ReportError(Status::InvalidArgument("give --model FOLDER or --models NAME=FOLDER ..."));
  if (a.ppl.empty() && a.tasks.empty() && a.ifeval.empty()) {
    return fm::cli::ReportError(
        Status::InvalidArgument("nothing to evaluate: give --ppl, --task and/or --ifeval"));
  }
  for (const auto* out : {&a.json_out, &a.markdown_out}) {
    Status s = CheckOutputFolder(*out);
    if (!s.ok()) return fm::cli::ReportError(s);
  }
  if (a.ppl_stride < 0 || a.limit < 0 || a.ifeval_limit < 0 || a.max_new_tokens <= 0) {
    return fm::cli::ReportError(Status::InvalidArgument(
        "--ppl-stride, --limit and --ifeval-limit must be >= 0 and --max-new-tokens > 0"));
  }

  fm::EvalSpec spec;
  spec.models = models;
  spec.chat_format = a.chat_format;
  spec.precision = a.precision;
  spec.max_context = a.max_context;
  spec.ppl = a.ppl;
  spec.ppl_stride = a.ppl_stride;
  spec.tasks = a.tasks;
  spec.prompt_style = a.prompt_style;
  spec.limit = a.limit;
  spec.ifeval = a.ifeval;
  spec.ifeval_limit = a.ifeval_limit;
  spec.max_new_tokens = a.max_new_tokens;
  auto t0 = std::chrono::steady_clock::now();
  fm::ResultsTable table;
  nlohmann::ordered_json details;
  Status s = fm::RunEvalSuite(spec, &table, &details);
  if (!s.ok()) return fm::cli::ReportError(s);

  std::printf("%s", table.RenderTerminal().c_str());
  nlohmann::ordered_json settings = {
      {"ppl_stride", a.ppl_stride},     {"prompt_style", a.prompt_style},     {"limit", a.limit},
      {"ifeval_limit", a.ifeval_limit}, {"max_new_tokens", a.max_new_tokens}, {"chat_format", a.chat_format},
      {"precision", a.precision}};
  nlohmann::ordered_json out = fm::EvalResultsJson(table, details);
  out["settings"] = settings;
  std::string written;
  if (!a.json_out.empty()) {
    s = WriteAtomically(a.json_out,
                        out.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n");
    if (!s.ok()) return fm::cli::ReportError(s);
    written += " -> " + a.json_out;
  }
  if (!a.markdown_out.empty()) {
    s = WriteAtomically(a.markdown_out, table.RenderMarkdown());
    if (!s.ok()) return fm::cli::ReportError(s);
    written += (written.empty() ? " -> " : ", ") + a.markdown_out;
  }
  const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "[eval] %zu model(s) x %zu metric(s) in %.1f s%s\n", models.size(),
               table.metrics().size(), sec, written.c_str());
  return 0;
}

FM_REGISTER_COMMAND(
    "eval", "Evaluate models: perplexity, multiple-choice tasks, IFEval; side by side with --models",
    [](CLI::App& sub) -> std::function<int()> {
      auto a = std::make_shared<EvalArgs>();
      sub.add_option("--model", a->model, "Model folder to evaluate");
      sub.add_option("--models", a->models,
                     "Models side by side as NAME=FOLDER (e.g. base=./b instruct=./i)");
      sub.add_option("--chat-format", a->chat_format,
                     "Chat format for IFEval: the folder's chat template (default) or alpaca-ja, alpaca, "
                     "chatml, llama3");
      sub.add_option("--precision", a->precision, "auto (default), fp32 or bf16");
      sub.add_option("--max-context", a->max_context, "Context length (default: the config's, at most 4096)");
      sub.add_option("--ppl", a->ppl, "Text files, token shard files or shard folders for perplexity");
      sub.add_option("--ppl-stride", a->ppl_stride,
                     "Perplexity window stride in tokens (default: the context length)");
      sub.add_option("--task", a->tasks,
                     "Multiple-choice files: lm-eval JSONL or japanese-lm-fin-harness JSON");
      sub.add_option("--prompt-style", a->prompt_style,
                     "fin-harness prompt: default or alpaca (version 0.3)");
      sub.add_option("--limit", a->limit, "Score only the first N items of each task");
      sub.add_option("--ifeval", a->ifeval, "IFEval JSONL (en_input_data.jsonl, ja_input_data.jsonl)");
      sub.add_option("--ifeval-limit", a->ifeval_limit, "Use only the first N IFEval prompts");
      sub.add_option("--max-new-tokens", a->max_new_tokens, "Longest IFEval reply in tokens (default 512)");
      sub.add_option("--json", a->json_out, "Write the table and all details as JSON");
      sub.add_option("--markdown", a->markdown_out, "Write the table as Markdown");
      return [a] { return RunEval(*a); };
    });

}  // namespace
