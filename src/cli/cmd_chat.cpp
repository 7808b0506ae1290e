// finmerge chat --model M: an interactive conversation on stdin/stdout through the model's chat format. Each
// input line is a user turn; the reply streams to stdout. /reset starts over, /exit (or end of input) quits.
// When the history outgrows the context, the oldest turns are dropped.
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "cli/command.h"
#include "cli/generation_flags.h"

namespace {

struct ChatArgs {
  fm::cli::GenerationFlags flags;
  std::string system;
};

bool TooLong(const fm::Status& s) {
  return s.message().find("leaves no room in the context") != std::string::npos;
}

int RunChat(ChatArgs& a) {
  std::unique_ptr<fm::LanguageModel> lm;
  fm::Status s = fm::cli::LoadForGeneration(&a.flags, &lm);
  if (!s.ok()) return fm::cli::ReportError(s);
  const bool interactive = isatty(STDIN_FILENO);
  std::vector<fm::ChatMessage> history;
  auto reset = [&] {
    history.clear();
    if (!a.system.empty()) history.push_back({"system", a.system});
  };
  reset();
  if (interactive) std::fprintf(stderr, "chat: type a message; /reset starts over, /exit quits\n");
  int turns = 0;
  size_t new_tokens = 0;
  double decode_seconds = 0;
  std::string line;
  while (true) {
    if (interactive) std::fprintf(stderr, "> ");
    if (!std::getline(std::cin, line)) break;
    if (line == "/exit" || line == "/quit") break;
    if (line == "/reset") {
      reset();
      std::fprintf(stderr, "chat: history cleared\n");
      continue;
    }
    if (line.empty()) continue;
    history.push_back({"user", line});
    fm::GenerateResult r;
    while (true) {
      s = lm->GenerateChat(history, a.flags.gen, &r, [](const std::string& piece) {
        std::fwrite(piece.data(), 1, piece.size(), stdout);
        std::fflush(stdout);
      });
      if (s.ok() || !TooLong(s)) break;
      // Drop the oldest user/assistant exchange (keeping the system message) and try again.
      const size_t first = !history.empty() && history[0].role == "system" ? 1 : 0;
      if (history.size() - first <= 1) break;
      history.erase(history.begin() + static_cast<std::ptrdiff_t>(first),
                    history.begin() + static_cast<std::ptrdiff_t>(std::min(first + 2, history.size() - 1)));
      std::fprintf(stderr, "chat: dropped the oldest turn to fit the context\n");
    }
    if (!s.ok()) {
      history.pop_back();
      std::fprintf(stderr, "finmerge: error: %s\n", s.message().c_str());
      continue;
    }
    std::fputc('\n', stdout);
    std::fflush(stdout);
    history.push_back({"assistant", r.text});
    turns++;
    new_tokens += r.tokens.size();
    decode_seconds += r.decode_seconds;
  }
  std::fprintf(stderr, "chat: %d turns, %zu tokens generated (%.1f tokens/s)\n", turns, new_tokens,
               decode_seconds > 0 ? static_cast<double>(new_tokens) / decode_seconds : 0.0);
  return 0;
}

FM_REGISTER_COMMAND("chat", "Chat with a model on stdin/stdout (multi-turn; /reset, /exit)",
                    [](CLI::App& sub) -> std::function<int()> {
                      auto a = std::make_shared<ChatArgs>();
                      fm::cli::AddGenerationFlags(sub, &a->flags);
                      sub.add_option("--system", a->system, "System message");
                      return [a] { return RunChat(*a); };
                    });

}  // namespace
