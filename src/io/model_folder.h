// ModelFolder: a Hugging Face model folder opened for reading — config.json, the weights (a single
// model.safetensors, or shards listed by model.safetensors.index.json, or any *.safetensors files), and the
// tokenizer / generation files beside them.
//
// All tensors are zero-copy views into memory-mapped shards, valid while the ModelFolder lives.
// Thread-safety: const methods may be called from any number of threads.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/status.h"
#include "io/safetensors_reader.h"
#include "io/tensor.h"

namespace fm {

// The parts of config.json finmerge's stages need; `raw` keeps everything.
struct ModelConfig {
  std::string model_type;    // "llama", "qwen2", "qwen", ...
  std::string architecture;  // architectures[0], e.g. "LlamaForCausalLM"
  int num_layers = 0;        // num_hidden_layers (or n_layer / num_layers)
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  bool tie_word_embeddings = false;
  nlohmann::json raw = nlohmann::json::object();
};

// Parses the fields above from a config.json document. Missing fields keep their defaults; Qwen-1 and GPT-style
// key spellings are accepted.
ModelConfig ParseModelConfig(const nlohmann::json& j);

class ModelFolder {
 public:
  // Opens `path` (a folder, or a single .safetensors file which is then the whole model without config).
  static Status Open(const std::string& path, std::unique_ptr<ModelFolder>* out);

  const std::string& path() const { return path_; }
  bool has_config() const { return has_config_; }
  const ModelConfig& config() const { return config_; }
  // Tensor names in storage order (shard by shard, ascending offset).
  const std::vector<std::string>& tensor_names() const { return names_; }
  // nullptr if absent.
  const TensorView* Find(const std::string& name) const;
  // Drops the tensor's pages from resident memory (see SafetensorsFile::Release).
  void Release(const TensorView& t) const;
  uint64_t num_parameters() const;
  uint64_t total_bytes() const;
  // Non-weight files of the folder by role (file names relative to the folder, only those present):
  // tokenizer files (tokenizer.json, tokenizer_config.json, special_tokens_map.json, tokenizer.model,
  // vocab.json, merges.txt, qwen.tiktoken, added_tokens.json, chat_template.jinja, chat_template.json),
  // generation_config.json, and remote-code *.py files.
  std::vector<std::string> tokenizer_files() const;
  bool has_generation_config() const;
  std::vector<std::string> code_files() const;
  // The chat template from tokenizer_config.json or chat_template.jinja/json; empty if none.
  std::string chat_template() const;

 private:
  ModelFolder() = default;
  std::string path_;
  bool has_config_ = false;
  ModelConfig config_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::vector<std::string> names_;
  std::map<std::string, std::pair<size_t, const TensorView*>> index_;  // name -> (file, view)
};

// The tokenizer/chat/generation file names ModelFolder recognises.
const std::vector<std::string>& KnownTokenizerFileNames();

}  // namespace fm
