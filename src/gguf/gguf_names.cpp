#include "gguf/gguf_names.h"

#include <cstring>
#include <utility>
#include <vector>

namespace fm::gguf {

namespace {

// Per-layer suffixes: HF "model.layers.N.<hf>" <-> GGUF "blk.N.<gguf>".
const std::vector<std::pair<std::string, std::string>>& LayerNames() {
  static const std::vector<std::pair<std::string, std::string>> k = {
      {"input_layernorm.weight", "attn_norm.weight"},
      {"self_attn.q_proj.weight", "attn_q.weight"},
      {"self_attn.q_proj.bias", "attn_q.bias"},
      {"self_attn.k_proj.weight", "attn_k.weight"},
      {"self_attn.k_proj.bias", "attn_k.bias"},
      {"self_attn.v_proj.weight", "attn_v.weight"},
      {"self_attn.v_proj.bias", "attn_v.bias"},
      {"self_attn.o_proj.weight", "attn_output.weight"},
      {"self_attn.o_proj.bias", "attn_output.bias"},
      {"self_attn.q_norm.weight", "attn_q_norm.weight"},
      {"self_attn.k_norm.weight", "attn_k_norm.weight"},
      {"post_attention_layernorm.weight", "ffn_norm.weight"},
      {"mlp.gate_proj.weight", "ffn_gate.weight"},
      {"mlp.up_proj.weight", "ffn_up.weight"},
      {"mlp.down_proj.weight", "ffn_down.weight"},
  };
  return k;
}

const std::vector<std::pair<std::string, std::string>>& GlobalNames() {
  static const std::vector<std::pair<std::string, std::string>> k = {
      {"model.embed_tokens.weight", "token_embd.weight"},
      {"model.norm.weight", "output_norm.weight"},
      {"lm_head.weight", "output.weight"},
  };
  return k;
}

// Splits "<prefix><digits>.<rest>"; false when `s` does not have that form.
bool SplitLayer(const std::string& s, const std::string& prefix, std::string* layer, std::string* rest) {
  if (s.compare(0, prefix.size(), prefix) != 0) return false;
  size_t p = prefix.size(), q = p;
  while (q < s.size() && s[q] >= '0' && s[q] <= '9') q++;
  if (q == p || q >= s.size() || s[q] != '.') return false;
  *layer = s.substr(p, q - p);
  *rest = s.substr(q + 1);
  return true;
}

}  // namespace

Status MapArchitecture(const std::string& model_type, ArchMapping* out) {
  if (model_type == "llama" || model_type == "mistral") {
    *out = {"llama", true};
  } else if (model_type == "qwen2" || model_type == "qwen3") {
    *out = {model_type, false};
  } else {
    return Status::Unsupported("model_type '" + model_type +
                               "' has no GGUF mapping in finmerge (supported: llama, mistral, qwen2, qwen3)");
  }
  return Status::Ok();
}

Status ModelTypeForGgufArch(const std::string& gguf_arch, std::string* model_type) {
  if (gguf_arch == "llama" || gguf_arch == "qwen2" || gguf_arch == "qwen3") {
    *model_type = gguf_arch;
    return Status::Ok();
  }
  return Status::Unsupported("GGUF architecture '" + gguf_arch +
                             "' cannot be imported (supported: llama, qwen2, qwen3)");
}

bool HfToGgufName(const std::string& hf, std::string* gguf) {
  for (const auto& [h, g] : GlobalNames()) {
    if (hf == h) {
      *gguf = g;
      return true;
    }
  }
  std::string layer, rest;
  if (!SplitLayer(hf, "model.layers.", &layer, &rest)) return false;
  for (const auto& [h, g] : LayerNames()) {
    if (rest == h) {
      *gguf = "blk." + layer + "." + g;
      return true;
    }
  }
  return false;
}

bool GgufToHfName(const std::string& gguf, std::string* hf) {
  for (const auto& [h, g] : GlobalNames()) {
    if (gguf == g) {
      *hf = h;
      return true;
    }
  }
  std::string layer, rest;
  if (!SplitLayer(gguf, "blk.", &layer, &rest)) return false;
  for (const auto& [h, g] : LayerNames()) {
    if (rest == g) {
      *hf = "model.layers." + layer + "." + h;
      return true;
    }
  }
  return false;
}

char RotaryProjection(const std::string& hf_name) {
  auto ends = [&](const char* s) {
    size_t n = std::strlen(s);
    return hf_name.size() >= n && hf_name.compare(hf_name.size() - n, n, s) == 0;
  };
  if (ends("self_attn.q_proj.weight") || ends("self_attn.q_proj.bias")) return 'q';
  if (ends("self_attn.k_proj.weight") || ends("self_attn.k_proj.bias")) return 'k';
  return 0;
}

void PermuteRotaryRows(const uint8_t* src, uint8_t* dst, size_t rows, size_t row_bytes, size_t head_dim,
                       bool inverse) {
  const size_t half = head_dim / 2;
  for (size_t head = 0; head < rows / head_dim; head++) {
    const size_t base = head * head_dim;
    for (size_t h = 0; h < 2; h++) {
      for (size_t i = 0; i < half; i++) {
        const size_t hf_row = base + h * half + i, gg_row = base + 2 * i + h;
        const size_t from = inverse ? gg_row : hf_row, to = inverse ? hf_row : gg_row;
        std::memcpy(dst + to * row_bytes, src + from * row_bytes, row_bytes);
      }
    }
  }
}

}  // namespace fm::gguf
