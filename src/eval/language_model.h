// LanguageModel: a model folder ready for inference — the weights (model/model.h), the tokenizer and the chat
// format — with the three operations evaluation is built from: log-likelihoods of continuations (multiple
// choice), perplexity of token streams, and generation with a KV cache.
//
// Evaluation code (tasks, IFEval, the side-by-side table) talks to models through the two function types at
// the bottom, so it can be tested on hand-made responses and run on any model.
//
// Not thread-safe: one call at a time; each call uses all cores through OpenMP.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "chat/prompt_format.h"

namespace fm {

class Model;
class Tokenizer;

struct LanguageModelOptions {
  std::string chat_format;         // "" = the folder's chat_template; else a named format (alpaca-ja, chatml...)
  std::string precision = "auto";  // "fp32", "bf16" or "auto" (bf16 where the CPU has native bf16)
  int max_context = 0;             // 0 = the config's max_position_embeddings (capped at 4096)
};

struct GenerateOptions {
  int max_new_tokens = 256;
  float temperature = 0.0f;  // 0 = greedy (argmax; ties to the lowest id)
  int top_k = 0;             // 0 = off
  float top_p = 1.0f;        // 1 = off
  float repetition_penalty = 1.0f;  // 1 = off (CTRL-style: divide positive logits, multiply negative ones)
  uint64_t seed = 0;
  bool stop_at_eos = true;                // the tokenizer's eos and the chat format's end-of-turn token
  std::vector<std::string> stop_strings;  // generation ends before the first occurrence (not included)
};

struct GenerateResult {
  std::vector<uint32_t> tokens;  // the new tokens (without the stop token)
  std::string text;              // decoded new text, cut before a stop string
  std::string finish_reason;     // "eos", "stop" or "length"
  int prompt_tokens = 0;
  double prefill_seconds = 0.0, decode_seconds = 0.0;
};

// One multiple-choice scoring request, as lm-evaluation-harness builds it: the context and the continuation
// are strings; whole = Encode(context + continuation), the continuation's tokens are whole minus the
// tokens of Encode(context) (trailing spaces of the context move to the continuation first).
struct LoglikRequest {
  std::string context;
  std::string continuation;
};
struct LoglikResult {
  double logprob = 0.0;    // summed log p(continuation tokens | context)
  bool is_greedy = false;  // every continuation token is the argmax
  int tokens = 0;          // continuation tokens scored
};

struct PerplexityResult {
  int64_t tokens = 0;  // tokens scored (every token after the first)
  double nll = 0.0;    // mean negative log-likelihood (nats)
  double ppl = 0.0;    // exp(nll)
};

// A scoring request already tokenized: log p(continuation | context). The context must not be empty.
struct LoglikTokens {
  std::vector<uint32_t> context, continuation;
};

class LanguageModel {
 public:
  // `path`: a Hugging Face model folder (config.json, safetensors, tokenizer files), or a GGUF file
  // (imported through a temporary folder: gguf/gguf_input.h).
  static Status Load(const std::string& path, const LanguageModelOptions& opts,
                     std::unique_ptr<LanguageModel>* out);
  // A LanguageModel over a model built in memory (tests, benchmarks). `tokenizer` may be null: then only the
  // token-level operations (GenerateIds, LogLikelihoodsIds, Perplexity) work; `chat` may be default
  // (RenderChat then fails). opts.chat_format is ignored.
  static Status FromModel(std::unique_ptr<Model> model, std::unique_ptr<Tokenizer> tokenizer, ChatFormat chat,
                          const LanguageModelOptions& opts, std::unique_ptr<LanguageModel>* out);
  ~LanguageModel();

  const Tokenizer& tokenizer() const;
  Model& model();
  const ChatFormat& chat_format() const;
  int context_length() const;

  // The chat prompt for `messages`, ending where the assistant's reply begins.
  Status RenderChat(const std::vector<ChatMessage>& messages, std::string* prompt) const;
  // Encodes `prompt` (special tokens as the tokenizer adds them by default: add_special = true) and
  // generates. `on_token`, if set, receives each new piece of text as it is decided (for streaming).
  Status Generate(const std::string& prompt, const GenerateOptions& opts, GenerateResult* out,
                  const std::function<void(const std::string&)>& on_token = nullptr);
  // Token-level generation from ids (no tokenization of the prompt).
  Status GenerateIds(const std::vector<uint32_t>& prompt, const GenerateOptions& opts, GenerateResult* out,
                     const std::function<void(const std::string&)>& on_token = nullptr);
  // Renders `messages` with the chat format (generation prompt added), encodes the prompt without adding
  // special tokens (the format writes them) and generates.
  Status GenerateChat(const std::vector<ChatMessage>& messages, const GenerateOptions& opts, GenerateResult* out,
                      const std::function<void(const std::string&)>& on_token = nullptr);
  // Scores every request; requests sharing a context are computed with one forward of the shared prefix.
  // Texts are encoded without special tokens (lm-evaluation-harness' default for causal models); an empty
  // context becomes the eos token (bos when there is none), and a context + continuation longer than
  // context_length() + 1 tokens loses tokens at the left, as in the harness.
  Status LogLikelihoods(const std::vector<LoglikRequest>& requests, std::vector<LoglikResult>* out);
  // The token-level form of LogLikelihoods (same truncation and prefix sharing).
  Status LogLikelihoodsIds(const std::vector<LoglikTokens>& requests, std::vector<LoglikResult>* out);
  // The tokens LogLikelihoods scores for one request.
  Status EncodeLoglik(const LoglikRequest& request, LoglikTokens* out) const;
  // Perplexity of a token stream in windows of context_length() advancing by `stride` tokens (0 = the
  // context length, i.e. disjoint windows; a smaller stride re-scores with more left context, as in the
  // Hugging Face perplexity recipe). Each token after the first is scored exactly once. Window k covers
  // tokens [k*s, k*s + W) and scores those after the previous window's last one, where W is the context
  // length and s = stride clamped to [1, W-1]: stride 0 or >= W means s = W-1, so that consecutive windows
  // share one token and the first token of a window is never left unpredicted (as it would be with s = W).
  Status Perplexity(const std::vector<uint32_t>& tokens, int stride, PerplexityResult* out);

 private:
  struct Impl;
  explicit LanguageModel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// What evaluation needs from a model, as plain functions (bound to a LanguageModel by BindLoglik/BindChat).
using LoglikFn = std::function<Status(const std::vector<LoglikRequest>&, std::vector<LoglikResult>*)>;
// Answers one conversation (user turn last) greedily with the model's chat format; the reply text.
using ChatFn = std::function<Status(const std::vector<ChatMessage>& messages, int max_new_tokens,
                                    std::string* reply)>;
LoglikFn BindLoglik(LanguageModel* lm);
ChatFn BindChat(LanguageModel* lm);

}  // namespace fm
