// ArchConfig: the hyperparameters and feature flags of one decoder architecture, read from config.json.
// Adding an architecture = one entry in the table in arch.cpp (feature flags + tensor name patterns), not
// a copy of the model code.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "base/status.h"

namespace fm {

struct ArchConfig {
  std::string model_type;        // "llama", "mistral", "qwen2", "qwen3", "qwen"
  int vocab_size = 0;            // V (rows of the embedding; may exceed the tokenizer size, e.g. Qwen padding)
  int hidden_size = 0;           // C
  int intermediate_size = 0;     // FF (per branch of the SwiGLU MLP)
  int num_layers = 0;            // L
  int num_heads = 0;             // NH
  int num_kv_heads = 0;          // NKV (GQA when < NH)
  int head_dim = 0;              // HD (C / NH unless given)
  int max_position = 2048;
  float rms_eps = 1e-6f;
  float rope_theta = 10000.0f;
  // Llama-3 rope scaling ("rope_type": "llama3"): factor, low/high freq factors, original context.
  bool rope_llama3 = false;
  float rope_factor = 1, rope_low_freq = 1, rope_high_freq = 4;
  int rope_original_max_position = 8192;
  bool tie_word_embeddings = false;
  bool qkv_bias = false;   // qwen2, qwen (c_attn bias)
  bool qk_norm = false;    // qwen3: RMSNorm over head_dim on q and k
  bool fused_qkv = false;  // qwen (Qwen-1): transformer.h.N.attn.c_attn
  nlohmann::json raw;      // the full config.json (written back on save)
};

// Parses config.json. Unsupported model_type -> InvalidArgument naming it and listing the supported ones.
Status ParseArchConfig(const nlohmann::json& config, ArchConfig* out);
// A config.json document for `cfg` (used for random test models): round-trips through ParseArchConfig.
nlohmann::json ArchConfigToJson(const ArchConfig& cfg);

}  // namespace fm
