#include "eval/language_model.h"
#include "gguf/gguf_input.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "base/splitmix.h"
#include "eval/sampler.h"
#include "io/model_folder.h"
#include "model/fast_exp.h"
#include "model/inference.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace fm {

namespace {

constexpr int kMaxDefaultContext = 4096;

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// log softmax(row)[target] over V logits; *is_max = target is the argmax (ties to the lowest id).
double LogProb(const float* row, int V, uint32_t target, bool* is_max) {
  float m = row[0];
  int arg = 0;
  for (int i = 1; i < V; i++) {
    if (row[i] > m) m = row[i], arg = i;
  }
  double sum = 0;
  constexpr int kBlock = 1024;
  for (int b = 0; b < V; b += kBlock) {
    const int e = std::min(V, b + kBlock);
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int i = b; i < e; i++) s += FastExp(row[i] - m);
    sum += s;
  }
  if (is_max) *is_max = static_cast<uint32_t>(arg) == target;
  return static_cast<double>(row[target]) - m - std::log(sum);
}

// Python's str.rstrip() whitespace at the end of UTF-8 text: ASCII spaces, NBSP, ideographic space.
size_t TrailingWhitespace(const std::string& s) {
  size_t n = s.size();
  while (n > 0) {
    const unsigned char c = static_cast<unsigned char>(s[n - 1]);
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
      n--;
    } else if (n >= 2 && s.compare(n - 2, 2, "\xC2\xA0") == 0) {
      n -= 2;
    } else if (n >= 3 && s.compare(n - 3, 3, "\xE3\x80\x80") == 0) {
      n -= 3;
    } else {
      break;
    }
  }
  return s.size() - n;
}

// Token ids of eos_token_id in generation_config.json (an int or a list); empty if absent.
std::vector<uint32_t> GenerationConfigEos(const std::string& dir) {
  std::vector<uint32_t> ids;
  std::ifstream f(dir + "/generation_config.json");
  if (!f) return ids;
  nlohmann::json j = nlohmann::json::parse(f, nullptr, false);
  if (!j.is_object() || !j.contains("eos_token_id")) return ids;
  const nlohmann::json& e = j["eos_token_id"];
  if (e.is_number_unsigned()) ids.push_back(e.get<uint32_t>());
  if (e.is_array()) {
    for (const auto& x : e) {
      if (x.is_number_unsigned()) ids.push_back(x.get<uint32_t>());
    }
  }
  return ids;
}

// Length of the longest suffix of `text` that is a proper prefix of one of `stops` (text that must be held
// back while streaming, since the next token may complete a stop string).
size_t HeldBack(const std::string& text, const std::vector<std::string>& stops) {
  size_t held = 0;
  for (const std::string& s : stops) {
    for (size_t len = std::min(s.size() - 1, text.size()); len > held; len--) {
      if (text.compare(text.size() - len, len, s, 0, len) == 0) {
        held = len;
        break;
      }
    }
  }
  return held;
}

bool EndsWithReplacement(const std::string& text) {
  return text.size() >= 3 && text.compare(text.size() - 3, 3, "\xEF\xBF\xBD") == 0;
}

}  // namespace

struct LanguageModel::Impl {
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tokenizer;
  ChatFormat chat;
  Status chat_status;  // why RenderChat cannot work (no chat template), or ok
  int context = 0;
  std::unique_ptr<Inference> inference;
  std::vector<uint32_t> stop_ids;  // eos and end-of-turn tokens

  Status Init(const LanguageModelOptions& opts, const std::string& dir);
  Status CheckIds(const std::vector<uint32_t>& ids, const char* what) const;
};

Status LanguageModel::Impl::Init(const LanguageModelOptions& opts, const std::string& dir) {
  const ArchConfig& cfg = model->config();
  if (opts.precision == "fp32") {
    model->set_precision(Precision::kF32);
  } else if (opts.precision == "bf16") {
    model->set_precision(Precision::kBF16);
  } else if (opts.precision == "auto") {
    model->set_precision(CpuHasBf16() ? Precision::kBF16 : Precision::kF32);
  } else {
    return Status::InvalidArgument("precision '" + opts.precision + "' is not fp32, bf16 or auto");
  }
  if (opts.max_context < 0) return Status::InvalidArgument("max_context must be >= 0");
  context = opts.max_context > 0 ? opts.max_context : std::min(cfg.max_position, kMaxDefaultContext);
  if (context < 2)
    return Status::InvalidArgument("context length " + std::to_string(context) + " is below 2");
  inference = std::make_unique<Inference>(model.get(), context);
  std::set<uint32_t> stops;
  if (tokenizer) {
    if (tokenizer->eos_id()) stops.insert(*tokenizer->eos_id());
    std::vector<std::string> names;
    if (!chat.eos_token().empty()) names.push_back(chat.eos_token());
    // End-of-turn markers of the common chat formats, when the template (or format) uses them.
    const std::string source = chat.chat_template() ? chat.chat_template()->source() : chat.name();
    for (const char* marker : {"<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", "<|endoftext|>"}) {
      if (source.find(marker) != std::string::npos ||
          (chat.name() == "chatml" && std::string(marker) == "<|im_end|>") ||
          (chat.name() == "llama3" && std::string(marker) == "<|eot_id|>")) {
        names.push_back(marker);
      }
    }
    for (const std::string& n : names) {
      if (auto id = tokenizer->TokenToId(n)) stops.insert(*id);
    }
  }
  if (!dir.empty()) {
    for (uint32_t id : GenerationConfigEos(dir)) stops.insert(id);
  }
  for (uint32_t id : stops) {
    if (id < static_cast<uint32_t>(cfg.vocab_size)) stop_ids.push_back(id);
  }
  return Status::Ok();
}

Status LanguageModel::Impl::CheckIds(const std::vector<uint32_t>& ids, const char* what) const {
  const uint32_t V = static_cast<uint32_t>(model->config().vocab_size);
  for (size_t i = 0; i < ids.size(); i++) {
    if (ids[i] >= V) {
      return Status::InvalidArgument(std::string(what) + ": token id " + std::to_string(ids[i]) + " at " +
                                     std::to_string(i) + " is not below the model's vocab_size " +
                                     std::to_string(V) + " (tokenizer and model do not match?)");
    }
  }
  return Status::Ok();
}

LanguageModel::LanguageModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LanguageModel::~LanguageModel() = default;

Status LanguageModel::Load(const std::string& model_path, const LanguageModelOptions& opts,
                           std::unique_ptr<LanguageModel>* out) {
  // A GGUF file is imported into a temporary folder that lives until everything is in memory.
  std::string path;
  std::unique_ptr<gguf::TemporaryModelFolder> keep;
  FM_RETURN_IF_ERROR(gguf::ResolveModelInput(model_path, &path, &keep));
  auto impl = std::make_unique<Impl>();
  {
    std::unique_ptr<ModelFolder> folder;
    FM_RETURN_IF_ERROR(ModelFolder::Open(path, &folder));
    FM_RETURN_IF_ERROR(Model::FromFolder(*folder, &impl->model));
  }
  FM_RETURN_IF_ERROR(Tokenizer::Load(path, &impl->tokenizer));
  impl->chat_status = ChatFormat::Load(path, opts.chat_format, &impl->chat);
  if (!opts.chat_format.empty() && !impl->chat_status.ok()) return impl->chat_status;
  FM_RETURN_IF_ERROR(impl->Init(opts, path));
  out->reset(new LanguageModel(std::move(impl)));
  return Status::Ok();
}

Status LanguageModel::FromModel(std::unique_ptr<Model> model, std::unique_ptr<Tokenizer> tokenizer,
                                ChatFormat chat, const LanguageModelOptions& opts,
                                std::unique_ptr<LanguageModel>* out) {
  auto impl = std::make_unique<Impl>();
  impl->model = std::move(model);
  impl->tokenizer = std::move(tokenizer);
  if (chat.uses_template() || chat.name() != "chat_template") {
    impl->chat = std::move(chat);
  } else {
    impl->chat_status = Status::InvalidArgument("this model has no chat format");
  }
  FM_RETURN_IF_ERROR(impl->Init(opts, ""));
  out->reset(new LanguageModel(std::move(impl)));
  return Status::Ok();
}

const Tokenizer& LanguageModel::tokenizer() const {
  return *impl_->tokenizer;
}
Model& LanguageModel::model() {
  return *impl_->model;
}
const ChatFormat& LanguageModel::chat_format() const {
  return impl_->chat;
}
int LanguageModel::context_length() const {
  return impl_->context;
}

Status LanguageModel::RenderChat(const std::vector<ChatMessage>& messages, std::string* prompt) const {
  if (!impl_->chat_status.ok()) {
    return impl_->chat_status.WithPrefix(
        "cannot build a chat prompt (give a named format with --chat-format)");
  }
  return fm::RenderChat(impl_->chat, messages, true, prompt);
}

Status LanguageModel::Generate(const std::string& prompt, const GenerateOptions& opts, GenerateResult* out,
                               const std::function<void(const std::string&)>& on_token) {
  if (!impl_->tokenizer) return Status::InvalidArgument("Generate needs a tokenizer");
  std::vector<uint32_t> ids;
  FM_RETURN_IF_ERROR(impl_->tokenizer->Encode(prompt, true, &ids).WithPrefix("prompt"));
  return GenerateIds(ids, opts, out, on_token);
}

Status LanguageModel::GenerateChat(const std::vector<ChatMessage>& messages, const GenerateOptions& opts,
                                   GenerateResult* out,
                                   const std::function<void(const std::string&)>& on_token) {
  if (!impl_->tokenizer) return Status::InvalidArgument("GenerateChat needs a tokenizer");
  std::string prompt;
  FM_RETURN_IF_ERROR(RenderChat(messages, &prompt));
  std::vector<uint32_t> ids;
  FM_RETURN_IF_ERROR(impl_->tokenizer->Encode(prompt, false, &ids).WithPrefix("chat prompt"));
  return GenerateIds(ids, opts, out, on_token);
}

Status LanguageModel::GenerateIds(const std::vector<uint32_t>& prompt_in, const GenerateOptions& opts,
                                  GenerateResult* out,
                                  const std::function<void(const std::string&)>& on_token) {
  Impl& I = *impl_;
  *out = GenerateResult();
  std::vector<uint32_t> prompt = prompt_in;
  if (prompt.empty()) {
    const std::optional<uint32_t> start =
        I.tokenizer ? (I.tokenizer->bos_id() ? I.tokenizer->bos_id() : I.tokenizer->eos_id()) : std::nullopt;
    if (!start)
      return Status::InvalidArgument("empty prompt, and the tokenizer has no bos/eos token to start from");
    prompt.push_back(*start);
  }
  FM_RETURN_IF_ERROR(I.CheckIds(prompt, "prompt"));
  if (opts.max_new_tokens < 0) return Status::InvalidArgument("max_new_tokens must be >= 0");
  if (opts.temperature < 0 || opts.top_k < 0 || !(opts.top_p > 0 && opts.top_p <= 1) ||
      !(opts.repetition_penalty > 0)) {
    return Status::InvalidArgument(
        "sampling options out of range (temperature >= 0, top_k >= 0, 0 < top_p <= 1, repetition_penalty > "
        "0)");
  }
  for (const std::string& s : opts.stop_strings) {
    if (s.empty()) return Status::InvalidArgument("a stop string is empty");
  }
  if (static_cast<int>(prompt.size()) >= I.context) {
    return Status::InvalidArgument("the prompt has " + std::to_string(prompt.size()) +
                                   " tokens, which leaves no room in the context length of " +
                                   std::to_string(I.context) + " tokens");
  }
  if (!opts.stop_strings.empty() && !I.tokenizer) {
    return Status::InvalidArgument("stop strings need a tokenizer");
  }
  out->prompt_tokens = static_cast<int>(prompt.size());
  const int V = I.model->config().vocab_size;
  const int max_new = std::min(opts.max_new_tokens, I.context - static_cast<int>(prompt.size()));
  KvCache cache = I.inference->NewCache(static_cast<int>(prompt.size()) + max_new);
  std::vector<float> logits(V);
  Sampler sampler(opts, V);
  for (uint32_t id : prompt) sampler.Observe(id);

  auto t0 = std::chrono::steady_clock::now();
  I.inference->Forward(&cache, prompt.data(), static_cast<int>(prompt.size()), logits.data(), 1);
  out->prefill_seconds = Seconds(t0);
  t0 = std::chrono::steady_clock::now();

  std::string text;                // decoded new tokens
  size_t emitted = 0;              // bytes of text passed to on_token
  size_t cut = std::string::npos;  // where a stop string starts
  out->finish_reason = "length";
  while (static_cast<int>(out->tokens.size()) < max_new) {
    const uint32_t next = sampler.Pick(logits.data());
    if (opts.stop_at_eos && std::find(I.stop_ids.begin(), I.stop_ids.end(), next) != I.stop_ids.end()) {
      out->finish_reason = "eos";
      break;
    }
    out->tokens.push_back(next);
    sampler.Observe(next);
    if (I.tokenizer) {
      const size_t old_size = text.size();
      text = I.tokenizer->Decode(out->tokens, true);
      if (!opts.stop_strings.empty()) {
        // A stop string can only end in the new part; it may start up to its length - 1 bytes earlier.
        size_t longest = 0;
        for (const std::string& s : opts.stop_strings) longest = std::max(longest, s.size());
        const size_t from = old_size > longest ? old_size - longest : 0;
        for (const std::string& s : opts.stop_strings) {
          const size_t p = text.find(s, from);
          if (p != std::string::npos && p < cut) cut = p;
        }
      }
      if (cut != std::string::npos) {
        out->finish_reason = "stop";
        break;
      }
      if (on_token) {
        size_t safe = text.size() - HeldBack(text, opts.stop_strings);
        if (safe == text.size() && EndsWithReplacement(text)) safe -= 3;  // maybe an incomplete character
        if (safe > emitted) {
          on_token(text.substr(emitted, safe - emitted));
          emitted = safe;
        }
      }
    }
    if (static_cast<int>(out->tokens.size()) >= max_new) break;
    I.inference->Forward(&cache, &next, 1, logits.data(), 1);
  }
  out->decode_seconds = Seconds(t0);
  if (I.tokenizer) {
    if (cut != std::string::npos) text.resize(cut);
    if (on_token && text.size() > emitted) on_token(text.substr(emitted));
    out->text = std::move(text);
  }
  return Status::Ok();
}

Status LanguageModel::EncodeLoglik(const LoglikRequest& r, LoglikTokens* out) const {
  const Impl& I = *impl_;
  if (!I.tokenizer) return Status::InvalidArgument("LogLikelihoods needs a tokenizer");
  std::string context = r.context, continuation = r.continuation;
  const size_t spaces = TrailingWhitespace(context);
  if (spaces > 0) {
    continuation = context.substr(context.size() - spaces) + continuation;
    context.resize(context.size() - spaces);
  }
  out->context.clear();
  out->continuation.clear();
  if (context.empty()) {
    const std::optional<uint32_t> start =
        I.tokenizer->eos_id() ? I.tokenizer->eos_id() : I.tokenizer->bos_id();
    if (!start)
      return Status::InvalidArgument("empty context, and the tokenizer has no eos/bos token to use");
    out->context.push_back(*start);
    return I.tokenizer->Encode(continuation, false, &out->continuation).WithPrefix("continuation");
  }
  std::vector<uint32_t> whole;
  FM_RETURN_IF_ERROR(
      I.tokenizer->Encode(context + continuation, false, &whole).WithPrefix("context + continuation"));
  FM_RETURN_IF_ERROR(I.tokenizer->Encode(context, false, &out->context).WithPrefix("context"));
  const size_t n = std::min(out->context.size(), whole.size());
  out->continuation.assign(whole.begin() + static_cast<std::ptrdiff_t>(n), whole.end());
  return Status::Ok();
}

Status LanguageModel::LogLikelihoods(const std::vector<LoglikRequest>& requests,
                                     std::vector<LoglikResult>* out) {
  std::vector<LoglikTokens> tokens(requests.size());
  for (size_t i = 0; i < requests.size(); i++) {
    FM_RETURN_IF_ERROR(EncodeLoglik(requests[i], &tokens[i]).WithPrefix("request " + std::to_string(i)));
  }
  return LogLikelihoodsIds(tokens, out);
}

Status LanguageModel::LogLikelihoodsIds(const std::vector<LoglikTokens>& requests,
                                        std::vector<LoglikResult>* out) {
  Impl& I = *impl_;
  const int W = I.context, V = I.model->config().vocab_size;
  out->assign(requests.size(), LoglikResult());
  // Truncate as the harness does (keep the last W + 1 tokens of context + continuation), then group the
  // requests by their (truncated) context, in order of first appearance.
  std::vector<std::vector<uint32_t>> contexts(requests.size());
  std::map<std::vector<uint32_t>, size_t> group_of;
  std::vector<std::vector<size_t>> groups;
  for (size_t i = 0; i < requests.size(); i++) {
    const LoglikTokens& r = requests[i];
    const std::string where = "request " + std::to_string(i);
    if (r.context.empty()) return Status::InvalidArgument(where + ": empty context");
    FM_RETURN_IF_ERROR(I.CheckIds(r.context, (where + " context").c_str()));
    FM_RETURN_IF_ERROR(I.CheckIds(r.continuation, (where + " continuation").c_str()));
    if (static_cast<int>(r.continuation.size()) > W) {
      return Status::InvalidArgument(where + ": the continuation has " +
                                     std::to_string(r.continuation.size()) +
                                     " tokens, more than the context length " + std::to_string(W));
    }
    const size_t total = r.context.size() + r.continuation.size();
    const size_t drop = total > static_cast<size_t>(W) + 1 ? total - W - 1 : 0;
    contexts[i].assign(r.context.begin() + static_cast<std::ptrdiff_t>(drop), r.context.end());
    auto [it, inserted] = group_of.emplace(contexts[i], groups.size());
    if (inserted) groups.emplace_back();
    groups[it->second].push_back(i);
  }
  KvCache cache = I.inference->NewCache(W);
  std::vector<float> logits;
  std::vector<uint32_t> input;
  for (const std::vector<size_t>& group : groups) {
    const std::vector<uint32_t>& ctx = contexts[group[0]];
    // The context minus its last token is computed once; each continuation then runs from there, with the
    // context's last token as its first input (whose logits predict the first continuation token).
    cache.set_length(0);
    const int shared = static_cast<int>(ctx.size()) - 1;
    I.inference->Forward(&cache, ctx.data(), shared, nullptr, 0);
    for (size_t i : group) {
      const std::vector<uint32_t>& cont = requests[i].continuation;
      LoglikResult& res = (*out)[i];
      res.tokens = static_cast<int>(cont.size());
      res.is_greedy = true;
      if (cont.empty()) continue;
      const int n = static_cast<int>(cont.size());
      input.assign(1, ctx.back());
      input.insert(input.end(), cont.begin(), cont.end() - 1);
      logits.resize(static_cast<size_t>(n) * V);
      cache.set_length(shared);
      I.inference->Forward(&cache, input.data(), n, logits.data(), n);
      double sum = 0;
      bool greedy = true;
#pragma omp parallel for reduction(+ : sum) reduction(&& : greedy) schedule(static)
      for (int t = 0; t < n; t++) {
        bool is_max = false;
        sum += LogProb(logits.data() + static_cast<size_t>(t) * V, V, cont[t], &is_max);
        greedy = greedy && is_max;
      }
      res.logprob = sum;
      res.is_greedy = greedy;
    }
  }
  return Status::Ok();
}

Status LanguageModel::Perplexity(const std::vector<uint32_t>& tokens, int stride, PerplexityResult* out) {
  Impl& I = *impl_;
  *out = PerplexityResult();
  FM_RETURN_IF_ERROR(I.CheckIds(tokens, "perplexity tokens"));
  if (tokens.size() < 2) return Status::InvalidArgument("perplexity needs at least 2 tokens");
  if (stride < 0) return Status::InvalidArgument("stride must be >= 0");
  const int64_t n = static_cast<int64_t>(tokens.size());
  const int W = I.context, V = I.model->config().vocab_size;
  const int s = stride == 0 || stride >= W ? W - 1 : stride;
  const int rows_max = I.inference->max_rows();
  KvCache cache = I.inference->NewCache(W);
  std::vector<float> logits(static_cast<size_t>(rows_max) * V);
  double nll = 0;
  int64_t scored_end = 1;  // tokens [1, scored_end) are scored
  for (int64_t begin = 0; scored_end < n; begin += s) {
    const int64_t end = std::min(n, begin + W);
    // Inputs are tokens [begin, end - 1); input row r predicts token begin + r + 1. Rows predicting tokens
    // in [scored_end, end) are scored: r >= scored_end - 1 - begin.
    const int T = static_cast<int>(end - 1 - begin);
    const int first_scored = static_cast<int>(scored_end - 1 - begin);
    cache.set_length(0);
    for (int c0 = 0; c0 < T; c0 += rows_max) {
      const int c1 = std::min(T, c0 + rows_max);
      const int rows = std::max(0, c1 - std::max(c0, first_scored));
      I.inference->Forward(&cache, tokens.data() + begin + c0, c1 - c0, logits.data(), rows);
      double sum = 0;
#pragma omp parallel for reduction(+ : sum) schedule(static)
      for (int r = 0; r < rows; r++) {
        const int64_t row = c1 - rows + r;  // input row within the window
        sum -= LogProb(logits.data() + static_cast<size_t>(r) * V, V, tokens[begin + row + 1], nullptr);
      }
      nll += sum;
    }
    scored_end = end;
  }
  out->tokens = n - 1;
  out->nll = nll / static_cast<double>(n - 1);
  out->ppl = std::exp(out->nll);
  return Status::Ok();
}

LoglikFn BindLoglik(LanguageModel* lm) {
  return [lm](const std::vector<LoglikRequest>& requests, std::vector<LoglikResult>* out) {
    return lm->LogLikelihoods(requests, out);
  };
}

ChatFn BindChat(LanguageModel* lm) {
  return [lm](const std::vector<ChatMessage>& messages, int max_new_tokens, std::string* reply) {
    GenerateOptions opts;
    opts.max_new_tokens = max_new_tokens;
    GenerateResult r;
    FM_RETURN_IF_ERROR(lm->GenerateChat(messages, opts, &r));
    *reply = std::move(r.text);
    return Status::Ok();
  };
}

}  // namespace fm
