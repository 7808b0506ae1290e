#include "model/arch.h"

namespace fm {

using nlohmann::json;

namespace {

// One supported architecture: what its config.json calls things, which features it has, and its tensor names.
struct ArchSpec {
  const char* model_type;
  const char* architecture;  // architectures[0] written by ArchConfigToJson
  bool qkv_bias;             // always has q/k/v biases (qwen2, qwen)
  bool qk_norm;              // per-head RMSNorm on q and k before RoPE (qwen3)
  bool attention_bias_key;   // honours "attention_bias" (q/k/v/o biases)
  bool sliding_window_key;   // honours "sliding_window" (mistral)
  // config.json keys where they differ between families.
  const char* eps_key;
  const char* theta_key;
  const char* max_position_key;
  const char* head_dim_key;
  int ff_multiple;  // config intermediate_size = ff_multiple * FF (Qwen-1 counts both SwiGLU branches)
  ArchTensorNames names;
};

ArchTensorNames LlamaNames() {
  ArchTensorNames n;
  n.embed = "model.embed_tokens";
  n.final_norm = "model.norm";
  n.lm_head = "lm_head";
  n.attn_norm = "model.layers.{L}.input_layernorm";
  n.mlp_norm = "model.layers.{L}.post_attention_layernorm";
  n.qkv = {"model.layers.{L}.self_attn.q_proj", "model.layers.{L}.self_attn.k_proj",
           "model.layers.{L}.self_attn.v_proj"};
  n.q_norm = "model.layers.{L}.self_attn.q_norm";
  n.k_norm = "model.layers.{L}.self_attn.k_norm";
  n.o_proj = "model.layers.{L}.self_attn.o_proj";
  n.gate_up = {"model.layers.{L}.mlp.gate_proj", "model.layers.{L}.mlp.up_proj"};
  n.down = "model.layers.{L}.mlp.down_proj";
  return n;
}

// Qwen-1 (e.g. rinna/nekomata-14b): fused c_attn with q|k|v rows, and an MLP c_proj(w1(x) * silu(w2(x))), so
// w2 is the gate and w1 the up projection.
ArchTensorNames QwenNames() {
  ArchTensorNames n;
  n.embed = "transformer.wte";
  n.final_norm = "transformer.ln_f";
  n.lm_head = "lm_head";
  n.attn_norm = "transformer.h.{L}.ln_1";
  n.mlp_norm = "transformer.h.{L}.ln_2";
  n.qkv = {"transformer.h.{L}.attn.c_attn"};
  n.o_proj = "transformer.h.{L}.attn.c_proj";
  n.gate_up = {"transformer.h.{L}.mlp.w2", "transformer.h.{L}.mlp.w1"};
  n.down = "transformer.h.{L}.mlp.c_proj";
  return n;
}

const std::vector<ArchSpec>& Specs() {
  static const std::vector<ArchSpec> kSpecs = {
      {"llama", "LlamaForCausalLM", false, false, true, false, "rms_norm_eps", "rope_theta",
       "max_position_embeddings", "head_dim", 1, LlamaNames()},
      {"mistral", "MistralForCausalLM", false, false, false, true, "rms_norm_eps", "rope_theta",
       "max_position_embeddings", "head_dim", 1, LlamaNames()},
      {"qwen2", "Qwen2ForCausalLM", true, false, false, false, "rms_norm_eps", "rope_theta",
       "max_position_embeddings", "head_dim", 1, LlamaNames()},
      {"qwen3", "Qwen3ForCausalLM", false, true, true, false, "rms_norm_eps", "rope_theta",
       "max_position_embeddings", "head_dim", 1, LlamaNames()},
      {"qwen", "QWenLMHeadModel", true, false, false, false, "layer_norm_epsilon", "rotary_emb_base",
       "seq_length", "kv_channels", 2, QwenNames()},
  };
  return kSpecs;
}

const ArchSpec* FindSpec(const std::string& model_type) {
  for (const ArchSpec& s : Specs()) {
    if (model_type == s.model_type) return &s;
  }
  return nullptr;
}

bool Present(const json& j, const char* key) {
  return j.contains(key) && !j[key].is_null();
}

Status GetInt(const json& j, const char* key, bool required, int* out) {
  if (!Present(j, key)) {
    return required ? Status::InvalidArgument(std::string("config.json: missing '") + key + "'")
                    : Status::Ok();
  }
  if (!j[key].is_number_integer() || j[key].get<int64_t>() < 0 || j[key].get<int64_t>() > (1ll << 31) - 1) {
    return Status::InvalidArgument(std::string("config.json: '") + key + "' must be a non-negative integer");
  }
  *out = j[key].get<int>();
  return Status::Ok();
}

Status GetFloat(const json& j, const char* key, float* out) {
  if (!Present(j, key)) return Status::Ok();
  if (!j[key].is_number())
    return Status::InvalidArgument(std::string("config.json: '") + key + "' must be a number");
  *out = j[key].get<float>();
  return Status::Ok();
}

Status GetBool(const json& j, const char* key, bool* out) {
  if (!Present(j, key)) return Status::Ok();
  if (!j[key].is_boolean())
    return Status::InvalidArgument(std::string("config.json: '") + key + "' must be true/false");
  *out = j[key].get<bool>();
  return Status::Ok();
}

Status ParseRopeScaling(const json& j, ArchConfig* c) {
  if (!Present(j, "rope_scaling")) return Status::Ok();
  const json& rs = j["rope_scaling"];
  if (!rs.is_object())
    return Status::InvalidArgument("config.json: 'rope_scaling' must be an object or null");
  std::string type = rs.value("rope_type", rs.value("type", std::string("default")));
  if (type == "default") return Status::Ok();
  if (type != "llama3") {
    return Status::Unsupported("config.json: rope_scaling type '" + type +
                               "' is not supported (supported: llama3)");
  }
  c->rope_llama3 = true;
  FM_RETURN_IF_ERROR(GetFloat(rs, "factor", &c->rope_factor));
  FM_RETURN_IF_ERROR(GetFloat(rs, "low_freq_factor", &c->rope_low_freq));
  FM_RETURN_IF_ERROR(GetFloat(rs, "high_freq_factor", &c->rope_high_freq));
  FM_RETURN_IF_ERROR(GetInt(rs, "original_max_position_embeddings", false, &c->rope_original_max_position));
  if (!(c->rope_factor > 0) || !(c->rope_high_freq > c->rope_low_freq) ||
      c->rope_original_max_position <= 0) {
    return Status::InvalidArgument(
        "config.json: rope_scaling needs factor > 0, high_freq_factor > low_freq_factor "
        "and original_max_position_embeddings > 0");
  }
  return Status::Ok();
}

}  // namespace

std::string SupportedModelTypes() {
  std::string s;
  for (const ArchSpec& a : Specs()) s += (s.empty() ? "" : ", ") + std::string(a.model_type);
  return s;
}

const ArchTensorNames& TensorNames(const ArchConfig& cfg) {
  const ArchSpec* s = FindSpec(cfg.model_type);
  return s ? s->names : Specs()[0].names;
}

Status ParseArchConfig(const json& j, ArchConfig* out) {
  if (!j.is_object()) return Status::InvalidArgument("config.json: not a JSON object");
  if (!j.contains("model_type") || !j["model_type"].is_string()) {
    return Status::InvalidArgument("config.json: missing 'model_type' (supported: " + SupportedModelTypes() +
                                   ")");
  }
  ArchConfig c;
  c.model_type = j["model_type"].get<std::string>();
  const ArchSpec* spec = FindSpec(c.model_type);
  if (!spec) {
    return Status::Unsupported("model_type '" + c.model_type +
                               "' is not supported (supported: " + SupportedModelTypes() + ")");
  }
  FM_RETURN_IF_ERROR(GetInt(j, "vocab_size", true, &c.vocab_size));
  FM_RETURN_IF_ERROR(GetInt(j, "hidden_size", true, &c.hidden_size));
  FM_RETURN_IF_ERROR(GetInt(j, "intermediate_size", true, &c.intermediate_size));
  FM_RETURN_IF_ERROR(GetInt(j, "num_hidden_layers", true, &c.num_layers));
  FM_RETURN_IF_ERROR(GetInt(j, "num_attention_heads", true, &c.num_heads));
  c.num_kv_heads = c.num_heads;
  FM_RETURN_IF_ERROR(GetInt(j, "num_key_value_heads", false, &c.num_kv_heads));
  FM_RETURN_IF_ERROR(GetInt(j, spec->head_dim_key, false, &c.head_dim));
  FM_RETURN_IF_ERROR(GetInt(j, spec->max_position_key, false, &c.max_position));
  FM_RETURN_IF_ERROR(GetFloat(j, spec->eps_key, &c.rms_eps));
  FM_RETURN_IF_ERROR(GetFloat(j, spec->theta_key, &c.rope_theta));
  FM_RETURN_IF_ERROR(GetBool(j, "tie_word_embeddings", &c.tie_word_embeddings));
  FM_RETURN_IF_ERROR(ParseRopeScaling(j, &c));

  if (c.intermediate_size % spec->ff_multiple != 0) {
    return Status::InvalidArgument("config.json: intermediate_size " + std::to_string(c.intermediate_size) +
                                   " must be a multiple of " + std::to_string(spec->ff_multiple) + " for " +
                                   c.model_type);
  }
  c.intermediate_size /= spec->ff_multiple;
  if (c.vocab_size <= 0 || c.hidden_size <= 0 || c.intermediate_size <= 0 || c.num_layers <= 0 ||
      c.num_heads <= 0 || c.num_kv_heads <= 0) {
    return Status::InvalidArgument(
        "config.json: vocab_size, hidden_size, intermediate_size, num_hidden_layers, "
        "num_attention_heads and num_key_value_heads must be positive");
  }
  if (c.head_dim == 0) {
    if (c.hidden_size % c.num_heads != 0) {
      return Status::InvalidArgument("config.json: hidden_size " + std::to_string(c.hidden_size) +
                                     " is not a multiple of num_attention_heads " +
                                     std::to_string(c.num_heads));
    }
    c.head_dim = c.hidden_size / c.num_heads;
  }
  if (c.head_dim % 2 != 0) return Status::InvalidArgument("config.json: head_dim must be even for RoPE");
  if (c.num_heads % c.num_kv_heads != 0) {
    return Status::InvalidArgument("config.json: num_attention_heads " + std::to_string(c.num_heads) +
                                   " is not a multiple of num_key_value_heads " +
                                   std::to_string(c.num_kv_heads));
  }
  if (!(c.rms_eps > 0) || !(c.rope_theta > 0)) {
    return Status::InvalidArgument("config.json: the norm epsilon and the rope base must be positive");
  }
  if (Present(j, "hidden_act") && j["hidden_act"] != "silu") {
    return Status::Unsupported("config.json: hidden_act '" + j["hidden_act"].dump() +
                               "' is not supported (silu only)");
  }
  bool mlp_bias = false;
  FM_RETURN_IF_ERROR(GetBool(j, "mlp_bias", &mlp_bias));
  if (mlp_bias) return Status::Unsupported("config.json: 'mlp_bias': true is not supported");
  bool use_sliding = false;
  FM_RETURN_IF_ERROR(GetBool(j, "use_sliding_window", &use_sliding));
  if (use_sliding) return Status::Unsupported("config.json: 'use_sliding_window': true is not supported");
  if (c.model_type == "qwen") {
    // Qwen-1 keeps all other linears bias-free only with no_bias; partial rotary is a different model.
    bool no_bias = true;
    FM_RETURN_IF_ERROR(GetBool(j, "no_bias", &no_bias));
    if (!no_bias) return Status::Unsupported("config.json: Qwen-1 with 'no_bias': false is not supported");
    float rotary_pct = 1.0f;
    FM_RETURN_IF_ERROR(GetFloat(j, "rotary_pct", &rotary_pct));
    if (rotary_pct != 1.0f)
      return Status::Unsupported("config.json: Qwen-1 with 'rotary_pct' != 1 is not supported");
    c.fused_qkv = true;
    if (c.num_kv_heads != c.num_heads) return Status::InvalidArgument("config.json: Qwen-1 has no GQA");
  }
  c.qkv_bias = spec->qkv_bias;
  c.qk_norm = spec->qk_norm;
  if (spec->attention_bias_key) {
    bool ab = false;
    FM_RETURN_IF_ERROR(GetBool(j, "attention_bias", &ab));
    c.qkv_bias = c.qkv_bias || ab;
    c.o_bias = ab;
  }
  if (spec->sliding_window_key) FM_RETURN_IF_ERROR(GetInt(j, "sliding_window", false, &c.sliding_window));
  c.raw = j;
  *out = std::move(c);
  return Status::Ok();
}

json ArchConfigToJson(const ArchConfig& c) {
  const ArchSpec* spec = FindSpec(c.model_type);
  if (!spec) spec = &Specs()[0];
  json j = json::object();
  j["architectures"] = {spec->architecture};
  j["model_type"] = spec->model_type;
  j["vocab_size"] = c.vocab_size;
  j["hidden_size"] = c.hidden_size;
  j["intermediate_size"] = c.intermediate_size * spec->ff_multiple;
  j["num_hidden_layers"] = c.num_layers;
  j["num_attention_heads"] = c.num_heads;
  if (c.model_type != "qwen") {
    j["num_key_value_heads"] = c.num_kv_heads;
    j["hidden_act"] = "silu";
  } else {
    j["no_bias"] = true;
    j["rotary_pct"] = 1.0;
  }
  j[spec->head_dim_key] = c.head_dim;
  j[spec->max_position_key] = c.max_position;
  j[spec->eps_key] = c.rms_eps;
  j[spec->theta_key] = c.rope_theta;
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  if (c.rope_llama3) {
    j["rope_scaling"] = {{"rope_type", "llama3"},
                         {"factor", c.rope_factor},
                         {"low_freq_factor", c.rope_low_freq},
                         {"high_freq_factor", c.rope_high_freq},
                         {"original_max_position_embeddings", c.rope_original_max_position}};
  }
  if (spec->attention_bias_key) j["attention_bias"] = c.o_bias;
  if (spec->sliding_window_key)
    j["sliding_window"] = c.sliding_window > 0 ? json(c.sliding_window) : json(nullptr);
  j["torch_dtype"] = "float32";
  return j;
}

}  // namespace fm
