// finmerge render-chat --tokenizer DIR --messages FILE.json [--format NAME] [--add-generation-prompt]
//                      [--template-kwargs JSON] [--assistant-spans]
// Prints the prompt a conversation becomes, through the folder's chat template (tokenizer_config.json) or a
// named format (alpaca-ja, alpaca, chatml, llama3). FILE.json is a list of {"role", "content", ...} or an
// object {"messages": [...], "tools": [...]}.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "cli/command.h"
#include "chat/prompt_format.h"

namespace {

struct RenderArgs {
  std::string tokenizer, messages, format, template_kwargs;
  bool add_generation_prompt = false, assistant_spans = false;
};

int RunRender(const RenderArgs& a) {
  auto start = std::chrono::steady_clock::now();
  if (a.tokenizer.empty() && a.format.empty()) {
    return fm::cli::ReportError(fm::Status::InvalidArgument("give --tokenizer DIR, --format NAME, or both"));
  }
  fm::ChatFormat fmt;
  fm::Status s = a.tokenizer.empty() ? fm::ChatFormat::FromName(a.format, &fmt)
                                     : fm::ChatFormat::Load(a.tokenizer, a.format, &fmt);
  if (!s.ok()) return fm::cli::ReportError(s);
  if (!a.template_kwargs.empty()) {
    auto kwargs = nlohmann::ordered_json::parse(a.template_kwargs, nullptr, false);
    if (!kwargs.is_object()) {
      return fm::cli::ReportError(fm::Status::InvalidArgument(
          "--template-kwargs must be a JSON object, e.g. '{\"enable_thinking\": false}'"));
    }
    fmt.set_template_kwargs(kwargs);
  }
  std::ifstream in(a.messages, std::ios::binary);
  if (!in) return fm::cli::ReportError(fm::Status::NotFound(a.messages + ": cannot open the messages file"));
  std::stringstream text;
  text << in.rdbuf();
  auto doc = nlohmann::ordered_json::parse(text.str(), nullptr, false);
  if (doc.is_discarded())
    return fm::cli::ReportError(fm::Status::InvalidArgument(a.messages + ": invalid JSON"));
  fm::ChatRenderOptions opts;
  opts.add_generation_prompt = a.add_generation_prompt;
  nlohmann::ordered_json list = doc;
  if (doc.is_object()) {
    list = doc.contains("messages") ? doc["messages"] : nlohmann::ordered_json();
    if (doc.contains("tools")) opts.tools = doc["tools"];
  }
  std::vector<fm::ChatMessage> msgs;
  s = fm::ParseChatMessages(list, &msgs);
  if (!s.ok()) return fm::cli::ReportError(s.WithPrefix(a.messages));
  std::string out;
  std::vector<fm::TextSpan> spans;
  s = a.assistant_spans ? fm::RenderChatWithAssistantSpans(fmt, msgs, opts, &out, &spans)
                        : fm::RenderChat(fmt, msgs, opts, &out);
  if (!s.ok()) return fm::cli::ReportError(s);
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  for (const auto& span : spans)
    std::fprintf(stderr, "assistant span: bytes [%zu, %zu)\n", span.begin, span.end);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "render-chat: %zu messages -> %zu bytes with %s%s in %.3f s\n", msgs.size(),
               out.size(), fmt.name().c_str(), a.add_generation_prompt ? " (+ generation prompt)" : "", secs);
  return 0;
}

FM_REGISTER_COMMAND(
    "render-chat", "Print the prompt a conversation becomes (chat template or named format)",
    [](CLI::App& sub) -> std::function<int()> {
      auto a = std::make_shared<RenderArgs>();
      sub.add_option("--tokenizer", a->tokenizer,
                     "Model folder with tokenizer_config.json (chat_template, bos/eos tokens)");
      sub.add_option("--messages", a->messages, "JSON file: a list of {role, content} or {messages, tools}")
          ->required();
      sub.add_option("--format", a->format,
                     "Named format instead of the chat template: alpaca-ja, alpaca, chatml, llama3");
      sub.add_flag("--add-generation-prompt", a->add_generation_prompt,
                   "End with the header that starts the assistant's reply");
      sub.add_option("--template-kwargs", a->template_kwargs,
                     "Extra template variables as JSON, e.g. '{\"enable_thinking\": false}'");
      sub.add_flag("--assistant-spans", a->assistant_spans,
                   "Also print the byte spans of assistant replies (for SFT loss masks) on stderr");
      return [a] { return RunRender(*a); };
    });

}  // namespace
