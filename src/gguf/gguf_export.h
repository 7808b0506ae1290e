// ExportGguf: writes a Hugging Face model folder (llama, mistral, qwen2, qwen3) as one GGUF v3 file that
// llama.cpp loads: architecture hyperparameters, the tokenizer (vocabulary, merges or scores, token types,
// special ids, chat template) and the tensors under llama.cpp's names.
//
// Every check (architecture, tensor names and shapes, Q8_0 row lengths, tokenizer) runs before the first byte
// is written. Tensors are streamed in row chunks (memory stays flat for any model size) into a temporary file
// renamed into place at the end (OutputPath). 1-D tensors (norms, biases) stay F32 whatever the chosen type, as
// convert_hf_to_gguf.py does; tied embeddings are written once (no output.weight).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "gguf/gguf_file.h"

namespace fm::gguf {

struct ExportOptions {
  TensorType type = TensorType::kF16;  // of the 2-D weights
};

struct ExportSummary {
  std::string gguf_arch;
  size_t tensors = 0;
  uint64_t bytes = 0;  // file size
  double seconds = 0;
  // What the GGUF cannot carry and how that changes the model's behaviour in llama.cpp.
  std::vector<std::string> notes;
};

// Parses "f32", "f16", "bf16", "q8_0" (upper case accepted).
Status ParseTensorType(const std::string& s, TensorType* out);

Status ExportGguf(const std::string& model_dir, const std::string& out_file, const ExportOptions& options,
                  ExportSummary* summary);

}  // namespace fm::gguf
