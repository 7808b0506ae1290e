// How the Hugging Face Llama-family checkpoints map onto llama.cpp's GGUF architectures: the architecture name,
// the tensor names (convert_hf_to_gguf.py / gguf-py constants) and the rotary row order.
//
//   HF model_type   GGUF general.architecture   Q/K rows
//   llama, mistral  llama                       permuted: HF's rotate-half order -> llama.cpp's interleaved pairs
//   qwen2           qwen2                       as is (NEOX rope in llama.cpp)
//   qwen3           qwen3                       as is (NEOX rope in llama.cpp)
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "base/status.h"

namespace fm::gguf {

struct ArchMapping {
  std::string gguf_arch;    // general.architecture
  bool permute_qk = false;  // llama: q/k rows (weights and biases) are permuted within each head
};

// The mapping of a HF model_type; Unsupported naming it (and the supported ones) when GGUF has none here.
Status MapArchitecture(const std::string& model_type, ArchMapping* out);
// The HF model_type to write into config.json for a GGUF general.architecture ("llama" -> "llama").
Status ModelTypeForGgufArch(const std::string& gguf_arch, std::string* model_type);

// "model.layers.3.self_attn.q_proj.weight" -> "blk.3.attn_q.weight"; false when the name has no GGUF mapping.
bool HfToGgufName(const std::string& hf, std::string* gguf);
// The inverse: "blk.3.attn_q.weight" -> "model.layers.3.self_attn.q_proj.weight".
bool GgufToHfName(const std::string& gguf, std::string* hf);

// Which rotary projection a HF tensor is: 'q', 'k' or 0 (q_proj/k_proj weights and biases).
char RotaryProjection(const std::string& hf_name);

// Reorders the rows of one rotary projection (rows = n_heads * head_dim, each `row_bytes` long) between the HF
// and the llama.cpp order. Within a head, HF row h * head_dim/2 + i (h in {0,1}) becomes llama.cpp row 2i + h
// (convert_hf_to_gguf.py's LlamaModel.permute); `inverse` undoes it. `src` and `dst` must not overlap; `rows`
// must be a multiple of head_dim.
void PermuteRotaryRows(const uint8_t* src, uint8_t* dst, size_t rows, size_t row_bytes, size_t head_dim,
                       bool inverse);

}  // namespace fm::gguf
