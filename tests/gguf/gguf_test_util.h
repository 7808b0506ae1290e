// Tiny random llama / mistral / qwen2 / qwen3 folders with a real tokenizer (../shared/tokenizers), for the
// GGUF tests.
#pragma once

#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "testing/tiny_checkpoint.h"
#include "tokenizer/tokenizer.h"

namespace fm::gguf::testutil {

inline std::string TokenizerDir(const std::string& name = "qwen3") {
  return "/work/shared/tokenizers/" + name;
}

// The size of a shared tokenizer (the tiny models' vocab_size).
inline int TokenizerSize(const std::string& name = "qwen3") {
  static std::map<std::string, int> sizes;
  auto it = sizes.find(name);
  if (it != sizes.end()) return it->second;
  std::unique_ptr<Tokenizer> t;
  Status s = Tokenizer::Load(TokenizerDir(name), &t);
  return sizes[name] = s.ok() ? static_cast<int>(t->vocab_size()) : 0;
}

struct TinySpec {
  std::string model_type = "llama";  // llama, mistral, qwen2 (q/k/v biases), qwen3 (q/k norms)
  std::string tokenizer = "qwen3";   // a folder of ../shared/tokenizers
  int hidden = 64, heads = 4, kv_heads = 2, ff = 128, layers = 2;
  bool tied = false;
  float stdev = 0.35f;        // of the projection weights and biases
  float embed_stdev = 0.35f;  // of the embedding and lm_head (sets the scale of the logits)
  // > 0: each row of the output matrix (lm_head, or the tied embedding) is scaled by exp(N(0, row_spread)),
  // which spreads the logits' upper tail like a trained model's (top-2 gaps well above float noise).
  float row_spread = 0;
  uint32_t seed = 7;
};

// Writes a tiny model folder: random weights ~ N(0, stdev) (embedding and lm_head N(0, embed_stdev), norms
// 1 + N(0, 0.1)), config.json, and the tokenizer's files.
inline void WriteTinyGgufModel(const std::string& dir, const TinySpec& spec) {
  namespace fs = std::filesystem;
  fs::create_directories(dir);
  const int vocab = TokenizerSize(spec.tokenizer), hd = spec.hidden / spec.heads;
  std::mt19937 rng(spec.seed);
  std::normal_distribution<float> nd(0.0f, spec.stdev), ne(0.0f, spec.embed_stdev), nn(0.0f, 0.1f);
  std::vector<fm::testing::NamedTensor> ts;
  auto add = [&](const std::string& name, std::vector<int64_t> shape, std::normal_distribution<float>& dist,
                 float offset) {
    fm::testing::NamedTensor t{name, shape, {}};
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    t.values.resize(n);
    for (auto& v : t.values) v = offset + dist(rng);
    ts.push_back(std::move(t));
  };
  const int C = spec.hidden, FF = spec.ff;
  std::normal_distribution<float> nr(0.0f, spec.row_spread > 0 ? spec.row_spread : 1.0f);
  auto spread_rows = [&](fm::testing::NamedTensor* t) {
    if (spec.row_spread <= 0) return;
    for (int64_t r = 0; r < t->shape[0]; r++) {
      const float scale = std::exp(nr(rng));
      for (int64_t c = 0; c < t->shape[1]; c++) t->values[r * t->shape[1] + c] *= scale;
    }
  };
  add("model.embed_tokens.weight", {vocab, C}, ne, 0);
  if (spec.tied) spread_rows(&ts.back());
  for (int l = 0; l < spec.layers; l++) {
    std::string p = "model.layers." + std::to_string(l) + ".";
    add(p + "input_layernorm.weight", {C}, nn, 1);
    add(p + "self_attn.q_proj.weight", {spec.heads * hd, C}, nd, 0);
    add(p + "self_attn.k_proj.weight", {spec.kv_heads * hd, C}, nd, 0);
    add(p + "self_attn.v_proj.weight", {spec.kv_heads * hd, C}, nd, 0);
    if (spec.model_type == "qwen2") {
      add(p + "self_attn.q_proj.bias", {spec.heads * hd}, nd, 0);
      add(p + "self_attn.k_proj.bias", {spec.kv_heads * hd}, nd, 0);
      add(p + "self_attn.v_proj.bias", {spec.kv_heads * hd}, nd, 0);
    }
    if (spec.model_type == "qwen3") {
      add(p + "self_attn.q_norm.weight", {hd}, nn, 1);
      add(p + "self_attn.k_norm.weight", {hd}, nn, 1);
    }
    add(p + "self_attn.o_proj.weight", {C, spec.heads * hd}, nd, 0);
    add(p + "post_attention_layernorm.weight", {C}, nn, 1);
    add(p + "mlp.gate_proj.weight", {FF, C}, nd, 0);
    add(p + "mlp.up_proj.weight", {FF, C}, nd, 0);
    add(p + "mlp.down_proj.weight", {C, FF}, nd, 0);
  }
  add("model.norm.weight", {C}, nn, 1);
  if (!spec.tied) {
    add("lm_head.weight", {vocab, C}, ne, 0);
    spread_rows(&ts.back());
  }
  fm::testing::WriteTensors(dir, ts, DType::kF32);
  static const std::map<std::string, std::string> kArch = {{"llama", "LlamaForCausalLM"},
                                                           {"mistral", "MistralForCausalLM"},
                                                           {"qwen2", "Qwen2ForCausalLM"},
                                                           {"qwen3", "Qwen3ForCausalLM"}};
  nlohmann::json cfg = {{"architectures", {kArch.at(spec.model_type)}},
                        {"model_type", spec.model_type},
                        {"vocab_size", vocab},
                        {"hidden_size", C},
                        {"intermediate_size", FF},
                        {"num_hidden_layers", spec.layers},
                        {"num_attention_heads", spec.heads},
                        {"num_key_value_heads", spec.kv_heads},
                        {"head_dim", hd},
                        {"rms_norm_eps", 1e-6},
                        {"rope_theta", 10000.0},
                        {"max_position_embeddings", 512},
                        {"tie_word_embeddings", spec.tied},
                        {"hidden_act", "silu"},
                        {"torch_dtype", "float32"}};
  if (spec.model_type == "mistral") cfg["sliding_window"] = nullptr;
  fm::testing::WriteJsonFile(dir + "/config.json", cfg);
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"}) {
    fs::copy_file(TokenizerDir(spec.tokenizer) + "/" + f, dir + "/" + f,
                  fs::copy_options::overwrite_existing);
  }
}

// The original signature (Qwen3 tokenizer; qwen2 gets q/k/v biases).
inline void WriteTinyGgufModel(const std::string& dir, const std::string& model_type, int hidden, int heads,
                               int kv_heads, int ff, int layers, bool tied, float stdev, uint32_t seed) {
  TinySpec s;
  s.model_type = model_type;
  s.hidden = hidden;
  s.heads = heads;
  s.kv_heads = kv_heads;
  s.ff = ff;
  s.layers = layers;
  s.tied = tied;
  s.stdev = s.embed_stdev = stdev;
  s.seed = seed;
  WriteTinyGgufModel(dir, s);
}

}  // namespace fm::gguf::testutil
