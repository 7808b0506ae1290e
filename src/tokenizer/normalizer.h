// Normalizers of tokenizer.json ("normalizer"): NFC, NFD, NFKC, NFKD (through ICU), Prepend, Replace, Strip,
// Lowercase and Sequence. A normalizer maps a valid UTF-8 string to a valid UTF-8 string. Immutable after
// construction; Normalize is thread-safe.
#pragma once

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

#include "base/status.h"

namespace fm {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual std::string Normalize(std::string_view text) const = 0;
  // True when Normalize only applies Unicode normalization forms (so it is local: cutting text at a line
  // start and normalizing the parts gives the same result as normalizing the whole).
  virtual bool IsUnicodeFormOnly() const { return false; }

  // Builds the normalizer described by `j`; a JSON null gives *out == nullptr (no normalization).
  static Status FromJson(const nlohmann::json& j, std::unique_ptr<Normalizer>* out);
};

enum class UnicodeForm { kNFC, kNFD, kNFKC, kNFKD };
// Applies a Unicode normalization form (ASCII text is returned unchanged without calling ICU).
std::string NormalizeUnicode(std::string_view text, UnicodeForm form);

}  // namespace fm
