// finmerge score --model M --requests FILE.jsonl [--out OUT.jsonl]: log-likelihoods of continuations, the
// primitive multiple-choice evaluation is built on. Each input line is {"context": ..., "continuation": ...};
// each output line {"logprob", "is_greedy", "tokens"} (stdout, or OUT written atomically). Requests sharing a
// context share one forward of it. Prints the scoring speed on stderr.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "base/output_path.h"
#include "cli/command.h"
#include "cli/generation_flags.h"
#include "tokenizer/tokenizer.h"

namespace {

struct ScoreArgs {
  std::string model, requests, out;
  fm::LanguageModelOptions lm;
};

fm::Status ReadRequests(const std::string& path, std::vector<fm::LoglikRequest>* out) {
  std::ifstream f(path);
  if (!f) return fm::Status::NotFound(path + ": cannot open the requests file");
  std::string line;
  for (int n = 1; std::getline(f, line); n++) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(n);
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_object() || !j.contains("context") || !j["context"].is_string() ||
        !j.contains("continuation") || !j["continuation"].is_string()) {
      return fm::Status::InvalidArgument(
          where + ": expected a JSON object with string fields \"context\" and \"continuation\"");
    }
    out->push_back({j["context"].get<std::string>(), j["continuation"].get<std::string>()});
  }
  return fm::Status::Ok();
}

int RunScore(ScoreArgs& a) {
  std::vector<fm::LoglikRequest> requests;
  fm::Status s = ReadRequests(a.requests, &requests);
  if (!s.ok()) return fm::cli::ReportError(s);
  fm::cli::GenerationFlags flags;
  flags.model = a.model;
  flags.lm = a.lm;
  std::unique_ptr<fm::LanguageModel> lm;
  s = fm::cli::LoadForGeneration(&flags, &lm);
  if (!s.ok()) return fm::cli::ReportError(s);
  // Tokenize first, so that the timing below is the model's.
  std::vector<fm::LoglikTokens> tokens(requests.size());
  size_t total_tokens = 0;
  for (size_t i = 0; i < requests.size(); i++) {
    s = lm->EncodeLoglik(requests[i], &tokens[i]);
    if (!s.ok()) return fm::cli::ReportError(s.WithPrefix(a.requests + ": request " + std::to_string(i + 1)));
    total_tokens += tokens[i].context.size() + tokens[i].continuation.size();
  }
  std::vector<fm::LoglikResult> results;
  const auto t0 = std::chrono::steady_clock::now();
  s = lm->LogLikelihoodsIds(tokens, &results);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!s.ok()) return fm::cli::ReportError(s.WithPrefix(a.requests));
  std::string text;
  for (const fm::LoglikResult& r : results) {
    text += nlohmann::json{{"logprob", r.logprob}, {"is_greedy", r.is_greedy}, {"tokens", r.tokens}}.dump() +
            "\n";
  }
  if (a.out.empty()) {
    std::fwrite(text.data(), 1, text.size(), stdout);
  } else {
    fm::OutputPath out(a.out, fm::OutputPath::Kind::kFile);
    s = out.Begin();
    if (s.ok()) {
      std::ofstream f(out.temp_path(), std::ios::binary);
      f << text;
      f.close();
      s = f ? out.Commit() : fm::Status::IOError(a.out + ": cannot write");
    }
    if (!s.ok()) return fm::cli::ReportError(s);
  }
  std::fprintf(stderr, "score: %zu requests, %zu tokens in %.3f s (%.1f requests/s, %.1f tokens/s)%s%s\n",
               requests.size(), total_tokens, secs, secs > 0 ? requests.size() / secs : 0.0,
               secs > 0 ? total_tokens / secs : 0.0, a.out.empty() ? "" : ", written to ", a.out.c_str());
  return 0;
}

FM_REGISTER_COMMAND(
    "score", "Log-likelihoods of continuations given contexts (JSONL in, JSONL out)",
    [](CLI::App& sub) -> std::function<int()> {
      auto a = std::make_shared<ScoreArgs>();
      sub.add_option("--model", a->model, "Hugging Face model folder")->required();
      sub.add_option("--requests", a->requests, "JSONL file of {\"context\": ..., \"continuation\": ...}")
          ->required();
      sub.add_option("--out", a->out, "Write the results here instead of stdout");
      sub.add_option("--precision", a->lm.precision, "fp32, bf16 or auto")->capture_default_str();
      sub.add_option("--max-context", a->lm.max_context, "Context length in tokens");
      return [a] { return RunScore(*a); };
    });

}  // namespace
