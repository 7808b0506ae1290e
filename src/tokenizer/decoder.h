// Decoders of tokenizer.json ("decoder"): turn token strings back into text. Supported: ByteLevel, Metaspace,
// ByteFallback, Fuse, Strip, Replace and Sequence, with Hugging Face tokenizers' (Rust) semantics. Each step
// maps a list of strings to a list of strings; the caller joins the final list. Immutable; thread-safe.
#pragma once

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "base/status.h"

namespace fm {

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual void DecodeChain(std::vector<std::string>* tokens) const = 0;
  // Runs the chain and joins the result.
  std::string Decode(std::vector<std::string> tokens) const;

  // Builds from `j` (JSON null gives *out == nullptr: tokens are joined with spaces, as tokenizers does).
  static Status FromJson(const nlohmann::json& j, std::unique_ptr<Decoder>* out);
};

}  // namespace fm
