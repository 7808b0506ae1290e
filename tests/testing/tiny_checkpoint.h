// Helpers for tests: temporary folders and tiny Hugging Face checkpoints with random weights in real
// architectures' tensor layouts (Llama/Qwen2 naming), written with finmerge's own SafetensorsWriter.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "base/dtype.h"
#include "io/safetensors_writer.h"

namespace fm::testing {

// A fresh empty folder under $TMPDIR, removed when the object dies.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "fmtest-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct NamedTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> values;  // f32 values (converted to the file dtype on write)
};

struct TinyModelShape {
  int vocab = 32, hidden = 8, ff = 16, layers = 2, heads = 2, kv_heads = 1;
  bool tied = false;
  std::string model_type = "llama";
};

// The tensors of a Llama-layout model, values ~ N(0, 0.02) from `seed` (norms around 1).
inline std::vector<NamedTensor> TinyLlamaTensors(const TinyModelShape& s, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 0.02f);
  std::vector<NamedTensor> out;
  auto add = [&](const std::string& name, std::vector<int64_t> shape, bool norm) {
    NamedTensor t{name, shape, {}};
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    t.values.resize(n);
    for (auto& v : t.values) v = norm ? 1.0f + nd(rng) : nd(rng);
    out.push_back(std::move(t));
  };
  const int hd = s.hidden / s.heads;
  add("model.embed_tokens.weight", {s.vocab, s.hidden}, false);
  for (int l = 0; l < s.layers; l++) {
    std::string p = "model.layers." + std::to_string(l) + ".";
    add(p + "input_layernorm.weight", {s.hidden}, true);
    add(p + "self_attn.q_proj.weight", {s.heads * hd, s.hidden}, false);
    add(p + "self_attn.k_proj.weight", {s.kv_heads * hd, s.hidden}, false);
    add(p + "self_attn.v_proj.weight", {s.kv_heads * hd, s.hidden}, false);
    add(p + "self_attn.o_proj.weight", {s.hidden, s.heads * hd}, false);
    add(p + "post_attention_layernorm.weight", {s.hidden}, true);
    add(p + "mlp.gate_proj.weight", {s.ff, s.hidden}, false);
    add(p + "mlp.up_proj.weight", {s.ff, s.hidden}, false);
    add(p + "mlp.down_proj.weight", {s.hidden, s.ff}, false);
  }
  add("model.norm.weight", {s.hidden}, true);
  if (!s.tied) add("lm_head.weight", {s.vocab, s.hidden}, false);
  return out;
}

inline nlohmann::json TinyLlamaConfig(const TinyModelShape& s) {
  return {{"architectures", {s.model_type == "qwen2" ? "Qwen2ForCausalLM" : "LlamaForCausalLM"}},
          {"model_type", s.model_type},
          {"vocab_size", s.vocab},
          {"hidden_size", s.hidden},
          {"intermediate_size", s.ff},
          {"num_hidden_layers", s.layers},
          {"num_attention_heads", s.heads},
          {"num_key_value_heads", s.kv_heads},
          {"rms_norm_eps", 1e-6},
          {"rope_theta", 10000.0},
          {"max_position_embeddings", 64},
          {"tie_word_embeddings", s.tied},
          {"torch_dtype", "bfloat16"}};
}

// Writes tensors (converted to `dtype`) as a safetensors checkpoint into the existing folder `dir`.
inline void WriteTensors(const std::string& dir, const std::vector<NamedTensor>& tensors, DType dtype,
                         uint64_t max_shard = SafetensorsWriter::kDefaultMaxShardBytes) {
  std::vector<TensorSpec> specs;
  for (const auto& t : tensors) specs.push_back({t.name, dtype, t.shape});
  std::unique_ptr<SafetensorsWriter> w;
  Status s = SafetensorsWriter::Create(dir, specs, max_shard, {}, &w);
  if (!s.ok()) throw std::runtime_error(s.message());
  for (size_t i = 0; i < tensors.size(); i++) {
    std::vector<uint8_t> buf(specs[i].nbytes());
    FromF32(tensors[i].values.data(), dtype, buf.data(), tensors[i].values.size());
    s = w->WriteAll(i, buf.data());
    if (!s.ok()) throw std::runtime_error(s.message());
  }
  s = w->Finish();
  if (!s.ok()) throw std::runtime_error(s.message());
}

inline void WriteJsonFile(const std::string& path, const nlohmann::json& j) { std::ofstream(path) << j.dump(2); }

// Writes a complete tiny model folder at `dir` (created if missing): config.json, weights, a tokenizer_config.json
// with a chat template naming `tag` (so tests can tell whose tokenizer files were copied).
inline void WriteTinyModel(const std::string& dir, const std::vector<NamedTensor>& tensors, const TinyModelShape& s,
                           DType dtype, const std::string& tag = "", uint64_t max_shard = SafetensorsWriter::kDefaultMaxShardBytes) {
  std::filesystem::create_directories(dir);
  WriteJsonFile(dir + "/config.json", TinyLlamaConfig(s));
  WriteJsonFile(dir + "/tokenizer_config.json", {{"chat_template", "{{ '" + tag + "' }}"}, {"eos_token", "</s>"}});
  WriteJsonFile(dir + "/generation_config.json", {{"tag", tag}});
  WriteTensors(dir, tensors, dtype, max_shard);
}

// Runs a shell command, returns its exit status, stores stdout+stderr in *output.
inline int RunCommand(const std::string& cmd, std::string* output) {
  std::string full = cmd + " 2>&1";
  FILE* p = popen(full.c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  output->clear();
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) output->append(buf, n);
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// The PyTorch oracle's interpreter: the first of $FINMERGE_PYTHON, /usr/bin/python3 (Debian's python3-torch)
// and python3 that imports torch and numpy (a pyenv shim may shadow the Debian interpreter); empty if none.
// Looked up once per process.
inline const std::string& TorchPython() {
  static const std::string python = [] {
    std::vector<std::string> candidates;
    if (const char* env = std::getenv("FINMERGE_PYTHON")) candidates.push_back(env);
    candidates.push_back("/usr/bin/python3");
    candidates.push_back("python3");
    for (const std::string& py : candidates) {
      std::string out;
      if (RunCommand(py + " -c 'import torch, numpy'", &out) == 0) return py;
    }
    return std::string();
  }();
  return python;
}

}  // namespace fm::testing
