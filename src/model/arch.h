// ArchConfig: the hyperparameters and feature flags of one decoder architecture, read from config.json.
// Adding an architecture = one entry in the table in arch.cpp (feature flags, config.json key spellings and
// tensor name patterns), not a copy of the model code.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/status.h"

namespace fm {

struct ArchConfig {
  std::string model_type;     // "llama", "mistral", "qwen2", "qwen3", "qwen"
  int vocab_size = 0;         // V (rows of the embedding; may exceed the tokenizer size, e.g. Qwen padding)
  int hidden_size = 0;        // C
  int intermediate_size = 0;  // FF (per branch of the SwiGLU MLP; Qwen-1's config.json stores 2*FF)
  int num_layers = 0;         // L
  int num_heads = 0;          // NH
  int num_kv_heads = 0;       // NKV (GQA when < NH)
  int head_dim = 0;           // HD (C / NH unless given)
  int max_position = 2048;
  float rms_eps = 1e-6f;
  float rope_theta = 10000.0f;
  // Llama-3 rope scaling ("rope_type": "llama3"): factor, low/high freq factors, original context.
  bool rope_llama3 = false;
  float rope_factor = 1, rope_low_freq = 1, rope_high_freq = 4;
  int rope_original_max_position = 8192;
  bool tie_word_embeddings = false;
  bool qkv_bias = false;   // qwen2, qwen (c_attn bias); llama/qwen3 with "attention_bias": true
  bool o_bias = false;     // llama/qwen3 with "attention_bias": true (o_proj has a bias too)
  bool qk_norm = false;    // qwen3: RMSNorm over head_dim on q and k
  bool fused_qkv = false;  // qwen (Qwen-1): transformer.h.N.attn.c_attn
  int sliding_window = 0;  // mistral: a query sees at most this many keys (itself included); 0 = unlimited
  nlohmann::json raw;      // the full config.json (written back on save)

  int q_dim() const { return num_heads * head_dim; }      // NH*HD
  int kv_dim() const { return num_kv_heads * head_dim; }  // NKV*HD
  int qkv_dim() const { return q_dim() + 2 * kv_dim(); }  // QKV: rows of the fused q|k|v projection
};

// Hugging Face tensor names of one architecture. "{L}" stands for the layer index; ".weight" / ".bias" are
// appended. Multi-part entries are stored one after another in Model::params(), so that they form one fused
// matrix: q|k|v rows of the attention input projection, gate|up rows of the MLP input projection.
struct ArchTensorNames {
  std::string embed, final_norm, lm_head;
  std::string attn_norm, mlp_norm;
  std::vector<std::string> qkv;      // {q, k, v} (NH*HD, NKV*HD, NKV*HD rows), or {fused} (QKV rows)
  std::string q_norm, k_norm;        // used when qk_norm
  std::string o_proj;                // (C, NH*HD)
  std::vector<std::string> gate_up;  // {gate, up}, each (FF, C)
  std::string down;                  // (C, FF)
};

// Parses config.json. Unsupported model_type -> Unsupported naming it and listing the supported ones;
// features finmerge does not implement (other rope scalings, MLP biases, ...) -> Unsupported naming the key.
Status ParseArchConfig(const nlohmann::json& config, ArchConfig* out);
// A config.json document for `cfg` (used for random test models): round-trips through ParseArchConfig.
nlohmann::json ArchConfigToJson(const ArchConfig& cfg);
// The tensor names of cfg.model_type (which ParseArchConfig has accepted).
const ArchTensorNames& TensorNames(const ArchConfig& cfg);
// "llama, mistral, qwen, qwen2, qwen3"
std::string SupportedModelTypes();

}  // namespace fm
