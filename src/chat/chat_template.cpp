#include "chat/chat_template.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "chat/jinja_template.h"

namespace fm {

namespace {

Status ReadFile(const std::string& path, std::string* out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::NotFound(path + ": cannot open");
  std::ostringstream ss;
  ss << f.rdbuf();
  *out = ss.str();
  return Status::Ok();
}

Status ReadJsonFile(const std::string& path, nlohmann::ordered_json* out) {
  std::string text;
  FM_RETURN_IF_ERROR(ReadFile(path, &text));
  try {
    *out = nlohmann::ordered_json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    return Status::Corruption(path + ": invalid JSON: " + e.what());
  }
  return Status::Ok();
}

// Picks the template text out of a "chat_template" value: a string, or a list of {"name", "template"}.
Status PickTemplate(const nlohmann::ordered_json& value, const std::string& origin, const std::string& name,
                    std::string* out) {
  if (value.is_string()) {
    if (!name.empty() && name != "default") {
      return Status::NotFound(origin + ": has a single chat template, not one named '" + name + "'");
    }
    *out = value.get<std::string>();
    return Status::Ok();
  }
  if (value.is_array()) {
    const std::string want = name.empty() ? "default" : name;
    std::string names;
    for (const auto& entry : value) {
      if (!entry.is_object() || !entry.contains("name") || !entry.contains("template") ||
          !entry["template"].is_string()) {
        return Status::Corruption(origin + ": chat_template list entries must be {\"name\", \"template\"}");
      }
      std::string n = entry["name"].is_string() ? entry["name"].get<std::string>() : "";
      if (n == want) {
        *out = entry["template"].get<std::string>();
        return Status::Ok();
      }
      names += (names.empty() ? "" : ", ") + n;
    }
    return Status::NotFound(origin + ": no chat template named '" + want + "' (available: " + names + ")");
  }
  return Status::Corruption(origin + ": chat_template must be a string or a list of named templates");
}

}  // namespace

Status ReadSpecialTokens(const nlohmann::ordered_json& config,
                         std::vector<std::pair<std::string, std::string>>* out) {
  out->clear();
  static const char* kNames[] = {"bos_token", "eos_token", "unk_token", "sep_token",
                                 "pad_token", "cls_token", "mask_token"};
  for (const char* name : kNames) {
    if (!config.contains(name)) continue;
    const auto& v = config[name];
    if (v.is_null()) continue;
    if (v.is_string()) {
      out->emplace_back(name, v.get<std::string>());
    } else if (v.is_object() && v.contains("content") && v["content"].is_string()) {
      out->emplace_back(name, v["content"].get<std::string>());
    } else {
      return Status::Corruption(std::string(name) + " must be a string or an object with \"content\"");
    }
  }
  return Status::Ok();
}

ChatTemplate::~ChatTemplate() = default;

Status ChatTemplate::FromString(const std::string& source, const std::string& origin,
                                std::shared_ptr<const ChatTemplate>* out) {
  std::shared_ptr<ChatTemplate> t(new ChatTemplate());
  t->origin_ = origin;
  t->source_ = source;
  jinja::TemplateOptions opts;  // trim_blocks and lstrip_blocks on, as transformers renders
  Status s = jinja::Template::Parse(source, opts, &t->template_);
  if (!s.ok()) return s.WithPrefix(origin);
  *out = std::move(t);
  return Status::Ok();
}

Status ChatTemplate::FromTokenizerDir(const std::string& dir, const std::string& template_name,
                                      std::shared_ptr<const ChatTemplate>* out) {
  namespace fs = std::filesystem;
  const std::string config_path = (fs::path(dir) / "tokenizer_config.json").string();
  nlohmann::ordered_json config = nlohmann::ordered_json::object();
  const bool has_config = fs::exists(config_path);
  if (has_config) FM_RETURN_IF_ERROR(ReadJsonFile(config_path, &config));
  std::string source, origin;
  if (config.contains("chat_template") && !config["chat_template"].is_null()) {
    origin = config_path + " chat_template";
    FM_RETURN_IF_ERROR(PickTemplate(config["chat_template"], config_path, template_name, &source));
  } else if (fs::exists(fs::path(dir) / "chat_template.jinja")) {
    origin = (fs::path(dir) / "chat_template.jinja").string();
    FM_RETURN_IF_ERROR(ReadFile(origin, &source));
  } else if (fs::exists(fs::path(dir) / "chat_template.json")) {
    const std::string path = (fs::path(dir) / "chat_template.json").string();
    nlohmann::ordered_json j;
    FM_RETURN_IF_ERROR(ReadJsonFile(path, &j));
    if (!j.contains("chat_template")) return Status::Corruption(path + ": no \"chat_template\" key");
    origin = path + " chat_template";
    FM_RETURN_IF_ERROR(PickTemplate(j["chat_template"], path, template_name, &source));
  } else {
    return Status::NotFound(dir +
                            ": no chat template (tokenizer_config.json has no \"chat_template\" and there is "
                            "no chat_template.jinja); use a named prompt format instead (--format alpaca-ja, "
                            "alpaca, chatml, llama3)");
  }
  std::shared_ptr<const ChatTemplate> parsed;
  FM_RETURN_IF_ERROR(FromString(source, origin, &parsed));
  auto t = std::const_pointer_cast<ChatTemplate>(parsed);
  Status s = ReadSpecialTokens(config, &t->special_tokens_);
  if (!s.ok()) return s.WithPrefix(config_path);
  *out = std::move(t);
  return Status::Ok();
}

std::string ChatTemplate::special_token(const std::string& name) const {
  for (const auto& [k, v] : special_tokens_) {
    if (k == name) return v;
  }
  return "";
}

Status ChatTemplate::Render(const ChatTemplateInputs& in, std::string* out) const {
  if (!in.messages.is_array()) return Status::InvalidArgument(origin_ + ": messages must be a JSON list");
  if (!in.template_kwargs.is_object() && !in.template_kwargs.is_null()) {
    return Status::InvalidArgument(origin_ + ": template kwargs must be a JSON object");
  }
  jinja::ValueDict vars;
  vars.Set("messages", jinja::Value::FromJson(in.messages));
  vars.Set("tools", jinja::Value::FromJson(in.tools));
  vars.Set("documents", jinja::Value::FromJson(in.documents));
  vars.Set("add_generation_prompt", jinja::Value::Bool(in.add_generation_prompt));
  for (const auto& [k, v] : special_tokens_) vars.Set(k, jinja::Value::String(v));
  if (in.template_kwargs.is_object()) {
    for (auto it = in.template_kwargs.begin(); it != in.template_kwargs.end(); ++it) {
      vars.Set(it.key(), jinja::Value::FromJson(it.value()));
    }
  }
  Status s = template_->Render(vars, out);
  return s.ok() ? s : s.WithPrefix(origin_);
}

}  // namespace fm
