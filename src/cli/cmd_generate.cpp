// finmerge generate --model M --prompt TEXT [--chat [--system S]] [sampling flags]: continues a prompt (or
// answers it through the chat template with --chat), streaming the text to stdout; speeds go to stderr.
#include <cstdio>

#include "cli/command.h"
#include "cli/generation_flags.h"
#include "model/model.h"

namespace {

struct GenerateArgs {
  fm::cli::GenerationFlags flags;
  std::string prompt, system;
  bool chat = false;
};

int RunGenerate(GenerateArgs& a) {
  std::unique_ptr<fm::LanguageModel> lm;
  fm::Status s = fm::cli::LoadForGeneration(&a.flags, &lm);
  if (!s.ok()) return fm::cli::ReportError(s);
  auto stream = [](const std::string& piece) {
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
  };
  fm::GenerateResult r;
  if (a.chat) {
    std::vector<fm::ChatMessage> messages;
    if (!a.system.empty()) messages.push_back({"system", a.system});
    messages.push_back({"user", a.prompt});
    s = lm->GenerateChat(messages, a.flags.gen, &r, stream);
  } else {
    if (!a.system.empty()) {
      return fm::cli::ReportError(fm::Status::InvalidArgument("--system needs --chat"));
    }
    s = lm->Generate(a.prompt, a.flags.gen, &r, stream);
  }
  if (!s.ok()) return fm::cli::ReportError(s);
  std::fputc('\n', stdout);
  std::fflush(stdout);
  const double n = static_cast<double>(r.tokens.size());
  std::fprintf(
      stderr,
      "generate: prompt %d tokens in %.3f s (%.1f tokens/s), %zu new tokens in %.3f s (%.1f tokens/s), "
      "finish: %s\n",
      r.prompt_tokens, r.prefill_seconds, r.prefill_seconds > 0 ? r.prompt_tokens / r.prefill_seconds : 0.0,
      r.tokens.size(), r.decode_seconds, r.decode_seconds > 0 ? n / r.decode_seconds : 0.0,
      r.finish_reason.c_str());
  return 0;
}

FM_REGISTER_COMMAND("generate", "Generate text from a prompt (KV cache; greedy or sampled)",
                    [](CLI::App& sub) -> std::function<int()> {
                      auto a = std::make_shared<GenerateArgs>();
                      fm::cli::AddGenerationFlags(sub, &a->flags);
                      sub.add_option("--prompt", a->prompt, "Prompt text")->required();
                      sub.add_flag("--chat", a->chat,
                                   "Answer the prompt as a user turn through the chat format");
                      sub.add_option("--system", a->system, "System message (with --chat)");
                      return [a] { return RunGenerate(*a); };
                    });

}  // namespace
