#include "io/model_folder.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace fm {

namespace fs = std::filesystem;
using nlohmann::json;

const std::vector<std::string>& KnownTokenizerFileNames() {
  static const std::vector<std::string> kNames = {
      "tokenizer.json",     "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model",
      "vocab.json",         "merges.txt",            "qwen.tiktoken",           "added_tokens.json",
      "chat_template.jinja", "chat_template.json",  "generation_config.json",
  };
  return kNames;
}

namespace {

Status ReadJson(const std::string& path, json* out) {
  std::ifstream f(path);
  if (!f) return Status::NotFound(path + ": cannot open");
  std::stringstream ss;
  ss << f.rdbuf();
  *out = json::parse(ss.str(), nullptr, false);
  if (out->is_discarded()) return Status::Corruption(path + ": not valid JSON");
  return Status::Ok();
}

template <typename T>
T FirstOf(const json& j, std::initializer_list<const char*> keys, T fallback) {
  for (const char* k : keys) {
    auto it = j.find(k);
    if (it != j.end() && !it->is_null()) {
      try {
        return it->get<T>();
      } catch (const json::exception&) {
      }
    }
  }
  return fallback;
}

}  // namespace

ModelConfig ParseModelConfig(const json& j) {
  ModelConfig c;
  c.raw = j;
  c.model_type = FirstOf<std::string>(j, {"model_type"}, "");
  if (j.contains("architectures") && j["architectures"].is_array() && !j["architectures"].empty() &&
      j["architectures"][0].is_string()) {
    c.architecture = j["architectures"][0].get<std::string>();
  }
  c.num_layers = FirstOf<int>(j, {"num_hidden_layers", "n_layer", "num_layers"}, 0);
  c.vocab_size = FirstOf<int64_t>(j, {"vocab_size", "padded_vocab_size"}, 0);
  c.hidden_size = FirstOf<int64_t>(j, {"hidden_size", "n_embd", "d_model"}, 0);
  c.tie_word_embeddings = FirstOf<bool>(j, {"tie_word_embeddings"}, false);
  return c;
}

Status ModelFolder::Open(const std::string& path, std::unique_ptr<ModelFolder>* out) {
  std::unique_ptr<ModelFolder> m(new ModelFolder());
  m->path_ = path;
  std::error_code ec;
  std::vector<std::string> files;
  if (fs::is_regular_file(path, ec)) {
    files.push_back(path);
  } else if (fs::is_directory(path, ec)) {
    std::string cfg = path + "/config.json";
    if (fs::exists(cfg)) {
      json j;
      FM_RETURN_IF_ERROR(ReadJson(cfg, &j));
      if (!j.is_object()) return Status::Corruption(cfg + ": not a JSON object");
      m->config_ = ParseModelConfig(j);
      m->has_config_ = true;
    }
    std::string index = path + "/model.safetensors.index.json";
    if (fs::exists(index)) {
      json j;
      FM_RETURN_IF_ERROR(ReadJson(index, &j));
      if (!j.contains("weight_map") || !j["weight_map"].is_object()) {
        return Status::Corruption(index + ": missing 'weight_map' object");
      }
      std::set<std::string> seen;
      for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
        if (!it.value().is_string()) return Status::Corruption(index + ": weight_map['" + it.key() + "'] is not a file name");
        std::string f = it.value().get<std::string>();
        if (f.find('/') != std::string::npos) return Status::Corruption(index + ": shard name '" + f + "' has a '/'");
        if (seen.insert(f).second) files.push_back(path + "/" + f);
      }
      std::sort(files.begin(), files.end());
    } else if (fs::exists(path + "/model.safetensors")) {
      files.push_back(path + "/model.safetensors");
    } else {
      for (const auto& e : fs::directory_iterator(path, ec)) {
        if (e.path().extension() == ".safetensors") files.push_back(e.path().string());
      }
      std::sort(files.begin(), files.end());
    }
    if (files.empty()) {
      bool has_bin = fs::exists(path + "/pytorch_model.bin") || fs::exists(path + "/pytorch_model.bin.index.json");
      return Status::NotFound(path + ": no *.safetensors weights found" +
                              std::string(has_bin ? " (only pytorch_model.bin: convert it to safetensors first)"
                                                  : " (is this a Hugging Face model folder?)"));
    }
  } else {
    return Status::NotFound(path + ": no such model folder or file");
  }
  for (const std::string& f : files) {
    std::unique_ptr<SafetensorsFile> sf;
    FM_RETURN_IF_ERROR(SafetensorsFile::Open(f, &sf));
    size_t fi = m->files_.size();
    for (const TensorView& t : sf->tensors()) {
      if (m->index_.count(t.name)) {
        return Status::Corruption(f + ": tensor '" + t.name + "' also appears in " + m->index_[t.name].second->file);
      }
      m->index_[t.name] = {fi, &t};
      m->names_.push_back(t.name);
    }
    m->files_.push_back(std::move(sf));
  }
  *out = std::move(m);
  return Status::Ok();
}

const TensorView* ModelFolder::Find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : it->second.second;
}

void ModelFolder::Release(const TensorView& t) const {
  auto it = index_.find(t.name);
  if (it != index_.end()) files_[it->second.first]->Release(t);
}

uint64_t ModelFolder::num_parameters() const {
  uint64_t n = 0;
  for (const auto& [name, ref] : index_) n += static_cast<uint64_t>(ref.second->numel());
  return n;
}

uint64_t ModelFolder::total_bytes() const {
  uint64_t n = 0;
  for (const auto& [name, ref] : index_) n += ref.second->nbytes;
  return n;
}

std::vector<std::string> ModelFolder::tokenizer_files() const {
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::is_directory(path_, ec)) return out;
  for (const std::string& n : KnownTokenizerFileNames()) {
    if (n != "generation_config.json" && fs::exists(path_ + "/" + n)) out.push_back(n);
  }
  return out;
}

bool ModelFolder::has_generation_config() const {
  std::error_code ec;
  return fs::exists(path_ + "/generation_config.json", ec);
}

std::vector<std::string> ModelFolder::code_files() const {
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::is_directory(path_, ec)) return out;
  for (const auto& e : fs::directory_iterator(path_, ec)) {
    if (e.path().extension() == ".py") out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string ModelFolder::chat_template() const {
  std::error_code ec;
  if (fs::exists(path_ + "/chat_template.jinja", ec)) {
    std::ifstream f(path_ + "/chat_template.jinja");
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }
  for (const char* name : {"chat_template.json", "tokenizer_config.json"}) {
    json j;
    if (!ReadJson(path_ + "/" + name, &j).ok() || !j.is_object()) continue;
    auto it = j.find("chat_template");
    if (it == j.end()) continue;
    if (it->is_string()) return it->get<std::string>();
    if (it->is_array()) {  // [{"name": "default", "template": ...}, ...]
      for (const json& e : *it) {
        if (e.is_object() && e.value("name", "") == "default" && e.contains("template")) return e["template"];
      }
    }
  }
  return "";
}

}  // namespace fm
