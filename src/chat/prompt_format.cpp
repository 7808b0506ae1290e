#include "chat/prompt_format.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "chat/jinja_value.h"

namespace fm {

namespace {

// rinna/nekomata-14b-instruction model card.
constexpr const char* kAlpacaJaPreamble =
    "以下は、タスクを説明する指示と、文脈のある入力の組み合わせです。要求を適切に満たす応答を書きなさい。";
// tatsu-lab/stanford_alpaca train.py PROMPT_DICT.
constexpr const char* kAlpacaPreambleInput =
    "Below is an instruction that describes a task, paired with an input that provides further context. "
    "Write a response that appropriately completes the request.";
constexpr const char* kAlpacaPreambleNoInput =
    "Below is an instruction that describes a task. Write a response that appropriately completes the "
    "request.";

struct AlpacaLayout {
  const char* name;
  const char* lead;  // before the preamble
  const char* instruction_header;
  const char* input_header;
  const char* response_header;  // also the generation prompt
};
constexpr AlpacaLayout kAlpacaJa = {"alpaca-ja", "\n", "\n\n### 指示:\n", "\n\n### 入力:\n",
                                    "\n\n### 応答:\n"};
constexpr AlpacaLayout kAlpaca = {"alpaca", "", "\n\n### Instruction:\n", "\n\n### Input:\n",
                                  "\n\n### Response:"};

Status RenderAlpaca(const AlpacaLayout& l, const std::vector<ChatMessage>& msgs, bool add_generation_prompt,
                    const std::string& eos, std::string* out) {
  size_t i = 0;
  std::string preamble;
  if (!msgs.empty() && msgs[0].role == "system") {
    preamble = msgs[0].content;
    i = 1;
  } else if (&l == &kAlpacaJa) {
    preamble = kAlpacaJaPreamble;
  } else {
    bool first_turn_has_input = i + 1 < msgs.size() && msgs[i + 1].role == "input";
    preamble = first_turn_has_input ? kAlpacaPreambleInput : kAlpacaPreambleNoInput;
  }
  std::string text = std::string(l.lead) + preamble;
  bool awaiting_response = false;  // the last turn has an instruction but no response yet
  for (; i < msgs.size(); ++i) {
    const ChatMessage& m = msgs[i];
    const std::string where = std::string(l.name) + ": message " + std::to_string(i) + " (" + m.role + ")";
    if (m.role == "user") {
      if (awaiting_response) {
        return Status::InvalidArgument(where +
                                       ": two instructions in a row (merge them, or put the assistant "
                                       "response between them)");
      }
      text += l.instruction_header + m.content;
      awaiting_response = true;
    } else if (m.role == "input") {
      if (i == 0 || msgs[i - 1].role != "user") {
        return Status::InvalidArgument(where + ": an input must directly follow a user instruction");
      }
      text += l.input_header + m.content;
    } else if (m.role == "assistant") {
      if (!awaiting_response) {
        return Status::InvalidArgument(where + ": an assistant response must follow a user instruction");
      }
      text += l.response_header + m.content + eos;
      awaiting_response = false;
    } else {
      return Status::InvalidArgument(where +
                                     ": this format supports the roles system (first), user, input and "
                                     "assistant");
    }
  }
  if (add_generation_prompt) text += l.response_header;
  *out = std::move(text);
  return Status::Ok();
}

std::string PyStrip(const std::string& s) {
  std::vector<uint32_t> cps = jinja::DecodeUtf8(s);
  size_t b = 0, e = cps.size();
  while (b < e && jinja::IsPySpace(cps[b])) ++b;
  while (e > b && jinja::IsPySpace(cps[e - 1])) --e;
  return jinja::EncodeUtf8(cps, b, e);
}

nlohmann::ordered_json MessagesToJson(const std::vector<ChatMessage>& msgs) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const ChatMessage& m : msgs) {
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    j["role"] = m.role;
    j["content"] = m.content;
    if (m.extra.is_object()) {
      for (auto it = m.extra.begin(); it != m.extra.end(); ++it) j[it.key()] = it.value();
    }
    list.push_back(std::move(j));
  }
  return list;
}

}  // namespace

Status ChatFormat::FromTokenizerDir(const std::string& dir, ChatFormat* out) {
  return Load(dir, "", out);
}

Status ChatFormat::FromName(const std::string& name, ChatFormat* out) {
  ChatFormat f;
  if (name == "alpaca-ja") {
    f.kind_ = Kind::kAlpacaJa;
  } else if (name == "alpaca") {
    f.kind_ = Kind::kAlpaca;
  } else if (name == "chatml") {
    f.kind_ = Kind::kChatML;
  } else if (name == "llama3") {
    f.kind_ = Kind::kLlama3;
    f.bos_ = "<|begin_of_text|>";
  } else {
    std::string names;
    for (const auto& n : Names()) names += (names.empty() ? "" : ", ") + n;
    return Status::InvalidArgument("unknown prompt format '" + name + "' (known: " + names + ")");
  }
  *out = std::move(f);
  return Status::Ok();
}

Status ChatFormat::Load(const std::string& dir, const std::string& name, ChatFormat* out) {
  if (name.empty()) {
    ChatFormat f;
    FM_RETURN_IF_ERROR(ChatTemplate::FromTokenizerDir(dir, "", &f.template_));
    f.kind_ = Kind::kTemplate;
    f.bos_ = f.template_->special_token("bos_token");
    f.eos_ = f.template_->special_token("eos_token");
    *out = std::move(f);
    return Status::Ok();
  }
  ChatFormat f;
  FM_RETURN_IF_ERROR(FromName(name, &f));
  const std::string config_path = (std::filesystem::path(dir) / "tokenizer_config.json").string();
  if (std::filesystem::exists(config_path)) {
    std::ifstream in(config_path);
    nlohmann::ordered_json config;
    try {
      config = nlohmann::ordered_json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      return Status::Corruption(config_path + ": invalid JSON: " + e.what());
    }
    std::vector<std::pair<std::string, std::string>> tokens;
    Status s = ReadSpecialTokens(config, &tokens);
    if (!s.ok()) return s.WithPrefix(config_path);
    for (const auto& [k, v] : tokens) {
      if (k == "bos_token") f.bos_ = v;
      if (k == "eos_token") f.eos_ = v;
    }
  }
  *out = std::move(f);
  return Status::Ok();
}

std::vector<std::string> ChatFormat::Names() {
  return {"alpaca-ja", "alpaca", "chatml", "llama3"};
}

std::string ChatFormat::name() const {
  switch (kind_) {
    case Kind::kTemplate:
      return "chat_template";
    case Kind::kAlpacaJa:
      return "alpaca-ja";
    case Kind::kAlpaca:
      return "alpaca";
    case Kind::kChatML:
      return "chatml";
    case Kind::kLlama3:
      return "llama3";
  }
  return "?";
}

Status RenderChat(const ChatFormat& fmt, const std::vector<ChatMessage>& msgs, const ChatRenderOptions& opts,
                  std::string* out) {
  switch (fmt.kind_) {
    case ChatFormat::Kind::kTemplate: {
      ChatTemplateInputs in;
      in.messages = MessagesToJson(msgs);
      in.add_generation_prompt = opts.add_generation_prompt;
      in.tools = opts.tools;
      in.template_kwargs = fmt.template_kwargs_;
      return fmt.template_->Render(in, out);
    }
    case ChatFormat::Kind::kAlpacaJa:
      return RenderAlpaca(kAlpacaJa, msgs, opts.add_generation_prompt, fmt.eos_, out);
    case ChatFormat::Kind::kAlpaca:
      return RenderAlpaca(kAlpaca, msgs, opts.add_generation_prompt, fmt.eos_, out);
    case ChatFormat::Kind::kChatML: {
      std::string text;
      for (const ChatMessage& m : msgs) text += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
      if (opts.add_generation_prompt) text += "<|im_start|>assistant\n";
      *out = std::move(text);
      return Status::Ok();
    }
    case ChatFormat::Kind::kLlama3: {
      // Meta's template strips each message (`message['content'] | trim`).
      std::string text = fmt.bos_;
      for (const ChatMessage& m : msgs) {
        text += "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n" + PyStrip(m.content) + "<|eot_id|>";
      }
      if (opts.add_generation_prompt) text += "<|start_header_id|>assistant<|end_header_id|>\n\n";
      *out = std::move(text);
      return Status::Ok();
    }
  }
  return Status::Internal("unknown chat format");
}

Status RenderChat(const ChatFormat& fmt, const std::vector<ChatMessage>& msgs, bool add_generation_prompt,
                  std::string* out) {
  ChatRenderOptions opts;
  opts.add_generation_prompt = add_generation_prompt;
  return RenderChat(fmt, msgs, opts, out);
}

Status RenderChatWithAssistantSpans(const ChatFormat& fmt, const std::vector<ChatMessage>& msgs,
                                    const ChatRenderOptions& opts, std::string* out,
                                    std::vector<TextSpan>* spans) {
  ChatRenderOptions full_opts = opts;
  full_opts.add_generation_prompt = false;
  std::string full;
  FM_RETURN_IF_ERROR(RenderChat(fmt, msgs, full_opts, &full));
  spans->clear();
  const bool has_assistant =
      std::any_of(msgs.begin(), msgs.end(), [](const ChatMessage& m) { return m.role == "assistant"; });
  if (has_assistant) {
    // A template that ignores add_generation_prompt (the original Llama-3 one always appends an assistant
    // header) would put that header inside every span.
    ChatRenderOptions with_prompt = opts;
    with_prompt.add_generation_prompt = true;
    std::string prompted;
    FM_RETURN_IF_ERROR(RenderChat(fmt, msgs, with_prompt, &prompted));
    if (prompted == full) {
      return Status::Unsupported(
          "chat format '" + fmt.name() +
          "' ignores add_generation_prompt (it always ends with an assistant header), so "
          "assistant spans cannot be separated from it: use a named format (e.g. --format "
          "llama3 or chatml) for training data");
    }
  }
  for (size_t i = 0; i < msgs.size(); ++i) {
    if (msgs[i].role != "assistant") continue;
    std::vector<ChatMessage> before(msgs.begin(), msgs.begin() + i), upto(msgs.begin(), msgs.begin() + i + 1);
    ChatRenderOptions with_prompt = opts, without_prompt = opts;
    with_prompt.add_generation_prompt = true;
    without_prompt.add_generation_prompt = false;
    std::string p, q;
    FM_RETURN_IF_ERROR(RenderChat(fmt, before, with_prompt, &p));
    FM_RETURN_IF_ERROR(RenderChat(fmt, upto, without_prompt, &q));
    if (q.compare(0, p.size(), p) != 0 || full.compare(0, q.size(), q) != 0) {
      return Status::Unsupported(
          "chat format '" + fmt.name() + "' is not prefix-stable at message " + std::to_string(i) +
          " (the text of earlier turns changes when later turns are added, as Qwen3's template drops the "
          "<think> "
          "block of earlier turns): render one training example per assistant turn (messages 0.." +
          std::to_string(i) + ") instead");
    }
    spans->push_back({p.size(), q.size()});
  }
  *out = std::move(full);
  return Status::Ok();
}

Status ParseChatMessages(const nlohmann::ordered_json& j, std::vector<ChatMessage>* out) {
  if (!j.is_array())
    return Status::InvalidArgument("messages must be a JSON list of {\"role\", \"content\"}");
  out->clear();
  for (size_t i = 0; i < j.size(); ++i) {
    const auto& m = j[i];
    const std::string where = "message " + std::to_string(i);
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string()) {
      return Status::InvalidArgument(where + ": expected an object with a string \"role\"");
    }
    ChatMessage msg;
    msg.role = m["role"].get<std::string>();
    for (auto it = m.begin(); it != m.end(); ++it) {
      if (it.key() == "role") continue;
      if (it.key() == "content" && it.value().is_string()) {
        msg.content = it.value().get<std::string>();
      } else {
        msg.extra[it.key()] = it.value();  // includes a non-string content (null, or a list of parts)
      }
    }
    out->push_back(std::move(msg));
  }
  return Status::Ok();
}

}  // namespace fm
