// A Hugging Face chat template: the Jinja text of tokenizer_config.json "chat_template" plus the
// special-token strings transformers passes to it, rendered the way transformers' apply_chat_template does:
//   template.render(messages=..., tools=..., documents=..., add_generation_prompt=...,
//                   bos_token=..., eos_token=..., <other special tokens>, **template_kwargs)
// with trim_blocks and lstrip_blocks on. Messages and tools are JSON (any keys: role, content,
// reasoning_content, tool_calls, ...); see prompt_format.h for the higher-level API most callers want.
//
// Thread-safety: immutable after loading; Render may be called concurrently.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"

namespace fm {

namespace jinja {
class Template;
}

struct ChatTemplateInputs {
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  bool add_generation_prompt = false;
  nlohmann::ordered_json tools;      // null renders as tools=None, as transformers does without tools
  nlohmann::ordered_json documents;  // null renders as documents=None
  // Extra template variables (e.g. {"enable_thinking": false} for Qwen3); they override everything else.
  nlohmann::ordered_json template_kwargs = nlohmann::ordered_json::object();
};

class ChatTemplate {
 public:
  // Parses template text. `origin` names the template in error messages.
  static Status FromString(const std::string& source, const std::string& origin,
                           std::shared_ptr<const ChatTemplate>* out);
  // Loads the chat template of a tokenizer folder: tokenizer_config.json "chat_template" (a string, or a list
  // of
  // {"name", "template"} from which `template_name` is picked, "default" when empty), else
  // chat_template.jinja, else chat_template.json. Special tokens (strings or {"content": ...} objects) come
  // from tokenizer_config.json. NotFound when the folder has no chat template.
  static Status FromTokenizerDir(const std::string& dir, const std::string& template_name,
                                 std::shared_ptr<const ChatTemplate>* out);
  ~ChatTemplate();

  Status Render(const ChatTemplateInputs& in, std::string* out) const;

  // Special-token variables passed to the template (bos_token, eos_token, unk_token, pad_token, ...).
  const std::vector<std::pair<std::string, std::string>>& special_tokens() const { return special_tokens_; }
  // The value of one special token, or "" when the tokenizer does not define it.
  std::string special_token(const std::string& name) const;
  const std::string& origin() const { return origin_; }
  const std::string& source() const { return source_; }

 private:
  ChatTemplate() = default;
  std::string origin_, source_;
  std::unique_ptr<jinja::Template> template_;
  std::vector<std::pair<std::string, std::string>> special_tokens_;
};

// Reads the special tokens of tokenizer_config.json (bos/eos/unk/pad/sep/cls/mask), each a string or an
// {"content": ...} object; absent or null tokens are left out.
Status ReadSpecialTokens(const nlohmann::ordered_json& config,
                         std::vector<std::pair<std::string, std::string>>* out);

}  // namespace fm
