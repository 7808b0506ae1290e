// Turning a conversation into the prompt text a model expects: through a tokenizer folder's chat template
// (chat_template.h) or through a named format for models that ship none:
//
//   alpaca-ja  rinna/nekomata-14b-instruction (Japanese Alpaca), exactly as its model card builds the prompt:
//              "\n以下は、タスクを説明する指示と、文脈のある入力の組み合わせです。要求を適切に満たす応答を書きなさい。"
//              "\n\n### 指示:\n{instruction}" ["\n\n### 入力:\n{input}"] "\n\n### 応答:\n" {response}{eos}
//   alpaca     Stanford Alpaca (train.py PROMPT_DICT): "Below is an instruction that describes a task[,
//   paired
//              with an input that provides further context]. Write a response that appropriately completes
//              the request.\n\n### Instruction:\n{instruction}[\n\n### Input:\n{input}]\n\n### Response:"
//              {response}{eos}
//   chatml     "<|im_start|>{role}\n{content}<|im_end|>\n" ..., generation prompt "<|im_start|>assistant\n"
//   llama3     "{bos}<|start_header_id|>{role}<|end_header_id|>\n\n{content, stripped}<|eot_id|>" ...,
//   generation
//              prompt "<|start_header_id|>assistant<|end_header_id|>\n\n"; bos defaults to <|begin_of_text|>
//
// Alpaca formats take roles system (replaces the preamble), user (the instruction), input (optional, right
// after a user message) and assistant; later turns repeat the instruction/response sections after "\n\n". The
// rendered text already contains bos where the format or template puts it: tokenize it without adding special
// tokens.
//
// Thread-safety: a ChatFormat is immutable after setup; rendering is const and may run concurrently.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/status.h"
#include "chat/chat_template.h"

namespace fm {

struct ChatMessage {
  std::string role;  // system, user, assistant, tool; alpaca formats also accept "input"
  std::string content;
  // Other keys seen by chat templates (reasoning_content, tool_calls, name, ...). Named formats ignore them.
  // A "content" key here replaces `content` (e.g. null content of a tool-call message).
  nlohmann::ordered_json extra = nlohmann::ordered_json::object();
};

struct ChatRenderOptions {
  bool add_generation_prompt = false;
  nlohmann::ordered_json tools;  // JSON list of tool schemas for templates that support them; null = none
};

class ChatFormat {
 public:
  // The chat template of a tokenizer folder (see ChatTemplate::FromTokenizerDir).
  static Status FromTokenizerDir(const std::string& dir, ChatFormat* out);
  // A named format ("alpaca-ja", "alpaca", "chatml", "llama3") with its default special tokens.
  static Status FromName(const std::string& name, ChatFormat* out);
  // A folder with an optional format override: `name` empty -> the folder's chat template; otherwise the
  // named format, taking bos/eos strings from the folder's tokenizer_config.json when present.
  static Status Load(const std::string& dir, const std::string& name, ChatFormat* out);
  // The named formats, for help texts.
  static std::vector<std::string> Names();

  // "chat_template" or the format name.
  std::string name() const;
  bool uses_template() const { return template_ != nullptr; }
  const ChatTemplate* chat_template() const { return template_.get(); }
  const std::string& bos_token() const { return bos_; }
  const std::string& eos_token() const { return eos_; }
  // eos is appended after each assistant response by the alpaca formats; bos starts llama3 prompts.
  void set_bos_token(std::string s) { bos_ = std::move(s); }
  void set_eos_token(std::string s) { eos_ = std::move(s); }
  // Extra variables for chat templates, e.g. {"enable_thinking": false} for Qwen3.
  const nlohmann::ordered_json& template_kwargs() const { return template_kwargs_; }
  void set_template_kwargs(nlohmann::ordered_json kwargs) { template_kwargs_ = std::move(kwargs); }

 private:
  friend Status RenderChat(const ChatFormat&, const std::vector<ChatMessage>&, const ChatRenderOptions&,
                           std::string*);
  enum class Kind { kTemplate, kAlpacaJa, kAlpaca, kChatML, kLlama3 };
  Kind kind_ = Kind::kTemplate;
  std::shared_ptr<const ChatTemplate> template_;
  std::string bos_, eos_;
  nlohmann::ordered_json template_kwargs_ = nlohmann::ordered_json::object();
};

// Renders `msgs` as one prompt. With add_generation_prompt the text ends where the assistant's reply begins.
Status RenderChat(const ChatFormat& fmt, const std::vector<ChatMessage>& msgs, const ChatRenderOptions& opts,
                  std::string* out);
Status RenderChat(const ChatFormat& fmt, const std::vector<ChatMessage>& msgs, bool add_generation_prompt,
                  std::string* out);

// A byte range [begin, end) of a rendered prompt.
struct TextSpan {
  size_t begin = 0, end = 0;
};

// For supervised fine-tuning: renders the whole conversation (no generation prompt) and returns, for each
// assistant message, the span of text the model must learn to produce. Span i is computed by rendering
// prefixes: P = msgs[0..i) with the generation prompt, Q = msgs[0..i] without it; the span is Q minus P (the
// reply plus its end-of-turn marker, e.g. "Answer<|im_end|>\n" or "Answer<eos>"). Fails with a clear message
// when the format is not prefix-stable (Q does not start with P, or the full text does not start with Q), as
// with Qwen3's template, which drops the <think> block of earlier turns: render one example per assistant
// turn (msgs[0..i]) instead. Also fails for templates that ignore add_generation_prompt (the original Llama-3
// template always appends an assistant header, which would land inside the spans). Loss masks are then the
// tokens whose offsets fall inside the spans.
Status RenderChatWithAssistantSpans(const ChatFormat& fmt, const std::vector<ChatMessage>& msgs,
                                    const ChatRenderOptions& opts, std::string* out,
                                    std::vector<TextSpan>* spans);

// Reads a JSON list of {"role", "content", ...} (content may be null); other keys go to ChatMessage::extra.
Status ParseChatMessages(const nlohmann::ordered_json& j, std::vector<ChatMessage>* out);

}  // namespace fm
