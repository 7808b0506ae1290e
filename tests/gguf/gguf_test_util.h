// Tiny random Llama / Qwen2 folders with the real Qwen3 tokenizer, for the GGUF tests.
#pragma once

#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "testing/tiny_checkpoint.h"
#include "tokenizer/tokenizer.h"

namespace fm::gguf::testutil {

inline std::string TokenizerDir() { return "/work/shared/tokenizers/qwen3"; }

// The Qwen3 tokenizer's size (the tiny models' vocab_size).
inline int TokenizerSize() {
  static int n = [] {
    std::unique_ptr<Tokenizer> t;
    Status s = Tokenizer::Load(TokenizerDir(), &t);
    return s.ok() ? static_cast<int>(t->vocab_size()) : 0;
  }();
  return n;
}

// Writes a tiny model folder: random weights ~ N(0, std) (norms 1 + N(0, 0.1), biases N(0, std)), config.json,
// and the Qwen3 tokenizer files. qwen2 gets q/k/v biases.
inline void WriteTinyGgufModel(const std::string& dir, const std::string& model_type, int hidden, int heads,
                               int kv_heads, int ff, int layers, bool tied, float stdev, uint32_t seed) {
  namespace fs = std::filesystem;
  fs::create_directories(dir);
  const int vocab = TokenizerSize(), hd = hidden / heads;
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, stdev), nn(0.0f, 0.1f);
  std::vector<fm::testing::NamedTensor> ts;
  auto add = [&](const std::string& name, std::vector<int64_t> shape, bool norm) {
    fm::testing::NamedTensor t{name, shape, {}};
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    t.values.resize(n);
    for (auto& v : t.values) v = norm ? 1.0f + nn(rng) : nd(rng);
    ts.push_back(std::move(t));
  };
  add("model.embed_tokens.weight", {vocab, hidden}, false);
  for (int l = 0; l < layers; l++) {
    std::string p = "model.layers." + std::to_string(l) + ".";
    add(p + "input_layernorm.weight", {hidden}, true);
    add(p + "self_attn.q_proj.weight", {heads * hd, hidden}, false);
    add(p + "self_attn.k_proj.weight", {kv_heads * hd, hidden}, false);
    add(p + "self_attn.v_proj.weight", {kv_heads * hd, hidden}, false);
    if (model_type == "qwen2") {
      add(p + "self_attn.q_proj.bias", {heads * hd}, false);
      add(p + "self_attn.k_proj.bias", {kv_heads * hd}, false);
      add(p + "self_attn.v_proj.bias", {kv_heads * hd}, false);
    }
    add(p + "self_attn.o_proj.weight", {hidden, heads * hd}, false);
    add(p + "post_attention_layernorm.weight", {hidden}, true);
    add(p + "mlp.gate_proj.weight", {ff, hidden}, false);
    add(p + "mlp.up_proj.weight", {ff, hidden}, false);
    add(p + "mlp.down_proj.weight", {hidden, ff}, false);
  }
  add("model.norm.weight", {hidden}, true);
  if (!tied) add("lm_head.weight", {vocab, hidden}, false);
  fm::testing::WriteTensors(dir, ts, DType::kF32);
  fm::testing::TinyModelShape s;
  s.vocab = vocab;
  s.hidden = hidden;
  s.ff = ff;
  s.layers = layers;
  s.heads = heads;
  s.kv_heads = kv_heads;
  s.tied = tied;
  s.model_type = model_type;
  nlohmann::json cfg = fm::testing::TinyLlamaConfig(s);
  cfg["max_position_embeddings"] = 512;
  cfg["torch_dtype"] = "float32";
  fm::testing::WriteJsonFile(dir + "/config.json", cfg);
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"}) {
    fs::copy_file(TokenizerDir() + "/" + f, dir + "/" + f, fs::copy_options::overwrite_existing);
  }
}

}  // namespace fm::gguf::testutil
