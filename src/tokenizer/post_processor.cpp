#include "tokenizer/post_processor.h"

#include <nlohmann/json.hpp>
#include <string>

namespace fm {

namespace {

Status Build(const nlohmann::json& j, PostProcessor* out) {
  if (j.is_null()) return Status::Ok();
  std::string type = j.value("type", std::string());
  if (type == "ByteLevel") return Status::Ok();
  if (type == "Sequence") {
    for (const auto& p : j.value("processors", nlohmann::json::array())) FM_RETURN_IF_ERROR(Build(p, out));
    return Status::Ok();
  }
  if (type == "RobertaProcessing" || type == "BertProcessing") {
    // "cls": ["<s>", 0], "sep": ["</s>", 2]
    const auto& cls = j.value("cls", nlohmann::json());
    const auto& sep = j.value("sep", nlohmann::json());
    if (!cls.is_array() || cls.size() != 2 || !sep.is_array() || sep.size() != 2) {
      return Status::Corruption("post_processor " + type + ": cls/sep must be [token, id]");
    }
    out->prefix.push_back(cls[1].get<uint32_t>());
    out->suffix.push_back(sep[1].get<uint32_t>());
    return Status::Ok();
  }
  if (type == "TemplateProcessing") {
    const auto& specials = j.value("special_tokens", nlohmann::json::object());
    bool seen_a = false;
    for (const auto& item : j.value("single", nlohmann::json::array())) {
      if (item.contains("Sequence")) {
        if (item["Sequence"].value("id", std::string()) != "A") {
          return Status::Unsupported("post_processor TemplateProcessing: single template uses sequence " +
                                     item["Sequence"].dump());
        }
        seen_a = true;
      } else if (item.contains("SpecialToken")) {
        std::string name = item["SpecialToken"].value("id", std::string());
        if (!specials.contains(name)) {
          return Status::Corruption("post_processor TemplateProcessing: special token \"" + name +
                                    "\" is not listed in special_tokens");
        }
        for (const auto& id : specials[name].value("ids", nlohmann::json::array())) {
          (seen_a ? out->suffix : out->prefix).push_back(id.get<uint32_t>());
        }
      } else {
        return Status::Unsupported("post_processor TemplateProcessing: unknown template item " + item.dump());
      }
    }
    return Status::Ok();
  }
  return Status::Unsupported("post_processor type \"" + type +
                             "\" is not supported (supported: TemplateProcessing, RobertaProcessing, "
                             "BertProcessing, ByteLevel, Sequence)");
}

}  // namespace

Status PostProcessor::FromJson(const nlohmann::json& j, PostProcessor* out) {
  out->prefix.clear();
  out->suffix.clear();
  return Build(j, out);
}

}  // namespace fm
