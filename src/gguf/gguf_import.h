// ImportGguf: turns a GGUF file written for llama.cpp's llama / qwen2 / qwen3 architectures back into a Hugging
// Face folder: config.json rebuilt from the hyperparameter keys, and model.safetensors with the HF tensor names
// and shapes (Q/K rows of `llama` files put back into HF's rotate-half order). F32, F16 and BF16 tensors keep
// their type and bytes (an F32 round trip safetensors -> GGUF -> safetensors is bit-exact); Q8_0 tensors are
// dequantised to F32 (exact: int8 times an fp16 scale). The tokenizer is rebuilt as tokenizer.json and
// tokenizer_config.json (with the chat template) where GGUF's vocabulary can express one (gguf_tokenizer.h);
// otherwise the folder has no tokenizer and ImportSummary::notes says why.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/status.h"
#include "gguf/gguf_file.h"

namespace fm::gguf {

// The config.json of a GGUF file (errors name the file and the missing or mistyped key).
Status HfConfigFromGguf(const GgufFile& file, nlohmann::json* config);

struct ImportSummary {
  size_t tensors = 0;
  uint64_t bytes = 0;
  bool tokenizer = false;          // tokenizer.json was written
  std::vector<std::string> notes;  // what was not carried over, and why
};

// Writes the HF folder `out_dir` (created atomically; replaced if it exists).
Status ImportGguf(const std::string& gguf_path, const std::string& out_dir, ImportSummary* summary);

// Prints a summary of a GGUF file (version, metadata keys, tensors) to stdout, as `finmerge inspect` does for a
// safetensors model. `all` lists every tensor.
Status PrintGgufSummary(const std::string& gguf_path, bool all);

}  // namespace fm::gguf
