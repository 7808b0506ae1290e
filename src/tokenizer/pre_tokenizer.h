// Pre-tokenizers of tokenizer.json ("pre_tokenizer"): cut normalized text into the words that BPE runs on.
// Supported: Split (Regex or String pattern, every split behavior, invert), ByteLevel, Metaspace, Digits,
// Whitespace, WhitespaceSplit, Punctuation and Sequence, with the semantics of Hugging Face tokenizers
// (Rust).
//
// ByteLevel's byte-to-character mapping is not done here: BPE models of byte-level tokenizers run on raw
// bytes (their vocabulary is re-keyed by bytes when loaded), so ByteLevel only contributes its optional
// prefix space and GPT-2 regex split. FromJson therefore requires ByteLevel to be the last step of a
// Sequence.
//
// Immutable after construction; Apply is thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace fm {

// Words as [begin, end) byte ranges of one text buffer. Pre-tokenizers that only cut keep the buffer and
// replace the spans; those that rewrite (Metaspace, a prefix space) rebuild both.
struct PreTokens {
  std::string text;
  std::vector<std::pair<uint32_t, uint32_t>> spans;
  void Reset(std::string_view t) {
    text.assign(t);  // reuses the buffer: a PreTokens is usually kept per thread
    spans.assign(1, {0u, static_cast<uint32_t>(text.size())});
  }
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Splits or rewrites `p` in place. `at_input_start`: the text begins at offset 0 of the encoded input
  // (Metaspace's prepend_scheme "first" prepends only then).
  virtual void Apply(PreTokens* p, bool at_input_start) const = 0;
  // True when this step can only cut after a "\n" that follows a non-space and precedes a non-space, and
  // never rewrites text; used to cut huge documents into independently encodable parts.
  virtual bool CutsAtLineStarts() const { return false; }

  // Builds the pre-tokenizer described by `j` (JSON null gives *out == nullptr). Sets *byte_level when the
  // pipeline ends with ByteLevel.
  static Status FromJson(const nlohmann::json& j, std::unique_ptr<PreTokenizer>* out, bool* byte_level);
};

}  // namespace fm
