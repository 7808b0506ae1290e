// Tiny configurations of every supported architecture, and a weight perturbation that makes random models
// produce spread-out logits and large gradients (normal(0, 0.02) weights give near-uniform softmaxes, which
// would let wrong gradients pass a relative tolerance).
#pragma once

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "model/model.h"

namespace fm::testing {

struct TinyCase {
  std::string name;
  ArchConfig cfg;
  int B = 2, T = 12;  // batch shape the tests run it with
};

inline ArchConfig TinyBase(const std::string& model_type) {
  ArchConfig c;
  c.model_type = model_type;
  c.vocab_size = 97;
  c.hidden_size = 64;
  c.intermediate_size = 112;
  c.num_layers = 2;
  c.num_heads = 4;
  c.num_kv_heads = 4;
  c.head_dim = 16;
  c.max_position = 64;
  c.rms_eps = 1e-5f;
  return c;
}

// One case per architecture feature: GQA, Llama-3 rope scaling, attention biases, sliding window, qk-norm
// with head_dim != C/NH, Qwen-1's fused c_attn, tied and untied heads.
inline std::vector<TinyCase> TinyCases() {
  std::vector<TinyCase> cases;
  {
    ArchConfig c =
        TinyBase("llama");  // Llama 3: GQA + llama3 rope scaling (all three frequency bands at HD 16)
    c.num_kv_heads = 2;
    c.rope_llama3 = true;
    c.rope_factor = 8;
    c.rope_low_freq = 1;
    c.rope_high_freq = 4;
    c.rope_original_max_position = 64;
    cases.push_back({"llama_gqa_rope_llama3", c, 2, 12});
  }
  {
    ArchConfig c = TinyBase("llama");  // Llama 2 style, tied, attention_bias (q/k/v/o biases)
    c.tie_word_embeddings = true;
    c.qkv_bias = c.o_bias = true;
    c.rope_theta = 500000.0f;
    cases.push_back({"llama_tied_attention_bias", c, 2, 130});  // several attention query blocks
  }
  {
    ArchConfig c = TinyBase("mistral");  // sliding window shorter than the sequence, one kv head; T spans
    c.num_kv_heads = 1;                  // several of the attention's 64-query blocks
    c.sliding_window = 70;
    c.max_position = 256;
    cases.push_back({"mistral_window_mqa_long", c, 1, 150});
  }
  {
    ArchConfig c = TinyBase("qwen2");  // q/k/v biases, GQA, tied
    c.num_kv_heads = 2;
    c.qkv_bias = true;
    c.tie_word_embeddings = true;
    c.rope_theta = 1000000.0f;
    cases.push_back({"qwen2_bias_gqa_tied", c});
  }
  {
    ArchConfig c = TinyBase("qwen3");  // qk-norm, head_dim 24 != C/NH = 16, GQA, untied
    c.num_kv_heads = 2;
    c.head_dim = 24;
    c.qk_norm = true;
    cases.push_back({"qwen3_qknorm_headdim24", c});
  }
  {
    ArchConfig c = TinyBase("qwen");  // Qwen-1: fused c_attn with bias, w1/w2/c_proj MLP, untied
    c.qkv_bias = true;
    c.fused_qkv = true;
    cases.push_back({"qwen1_fused_cattn", c});
  }
  return cases;
}

// Rescales the weights of a Random() model: matrices normal(0, 1/sqrt(fan_in)), the embedding normal(0, 1),
// norm weights 1 + normal(0, 0.2), biases normal(0, 0.2).
inline void PerturbForTest(Model* m, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> n01(0.0f, 1.0f);
  const std::string embed = TensorNames(m->config()).embed + ".weight";
  for (const ParamTensor& t : m->param_tensors()) {
    float* p = m->params() + t.offset;
    const bool bias = t.name.size() > 5 && t.name.compare(t.name.size() - 5, 5, ".bias") == 0;
    for (size_t i = 0; i < t.numel; i++) {
      if (t.shape.size() == 2) {
        p[i] = n01(rng) * (t.name == embed ? 1.0f : 1.0f / std::sqrt(static_cast<float>(t.shape[1])));
      } else if (bias) {
        p[i] = 0.2f * n01(rng);
      } else {
        p[i] = 1.0f + 0.2f * n01(rng);
      }
    }
  }
}

// Random token ids in [0, V), and targets with a few kIgnoreIndex entries (the first two of row 0 and every
// 7th position).
inline void TinyTokens(int B, int T, int V, uint64_t seed, std::vector<uint32_t>* inputs,
                       std::vector<uint32_t>* targets) {
  std::mt19937_64 rng(seed);
  inputs->resize(static_cast<size_t>(B) * T);
  targets->resize(static_cast<size_t>(B) * T);
  for (size_t i = 0; i < inputs->size(); i++) {
    (*inputs)[i] = static_cast<uint32_t>(rng() % V);
    (*targets)[i] = static_cast<uint32_t>(rng() % V);
    if (i < 2 || i % 7 == 3) (*targets)[i] = Model::kIgnoreIndex;
  }
}

}  // namespace fm::testing
