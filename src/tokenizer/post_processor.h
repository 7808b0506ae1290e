// Post-processors of tokenizer.json ("post_processor"): what Encode(..., add_special=true) adds around the
// ids of one sequence. Supported: TemplateProcessing (Llama-3 style "<|begin_of_text|> $A"),
// RobertaProcessing and BertProcessing (cls $A sep), ByteLevel (no ids added) and Sequence. Immutable;
// thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <vector>

#include "base/status.h"

namespace fm {

class PostProcessor {
 public:
  // Ids placed before and after the sequence's ids when special tokens are added.
  std::vector<uint32_t> prefix, suffix;

  // Builds from `j` (JSON null: nothing is added).
  static Status FromJson(const nlohmann::json& j, PostProcessor* out);
  void Apply(std::vector<uint32_t>* ids) const {
    if (!prefix.empty()) ids->insert(ids->begin(), prefix.begin(), prefix.end());
    ids->insert(ids->end(), suffix.begin(), suffix.end());
  }
};

}  // namespace fm
