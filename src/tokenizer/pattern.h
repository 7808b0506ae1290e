// Pattern: the "pattern" of tokenizer.json's Split / Replace components, either {"String": literal} or
// {"Regex": Oniguruma-syntax regex}. Regexes run on PCRE2 (UTF + UCP mode, JIT-compiled); the few places
// where Oniguruma's syntax means something else in PCRE2 are translated first (\s also matches U+0085, \h is
// a hex digit). Immutable after construction; FindAll may be called from many threads at once (each thread
// keeps its own PCRE2 match data and JIT stack).
#pragma once

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace fm {

class Pattern {
 public:
  ~Pattern();
  Pattern(const Pattern&) = delete;
  Pattern& operator=(const Pattern&) = delete;

  // Compiles {"Regex": "..."} or {"String": "..."}.
  static Status FromJson(const nlohmann::json& j, std::unique_ptr<Pattern>* out);
  static Status Regex(const std::string& regex, std::unique_ptr<Pattern>* out);
  static std::unique_ptr<Pattern> Literal(std::string literal);

  // Appends the [begin, end) byte ranges of the non-overlapping matches in `text` (valid UTF-8), left to
  // right. Empty matches are skipped.
  void FindAll(std::string_view text, std::vector<std::pair<size_t, size_t>>* matches) const;
  // Replaces every match with `content`.
  std::string ReplaceAll(std::string_view text, std::string_view content) const;

  const std::string& source() const { return source_; }

 private:
  Pattern() = default;
  std::string source_;    // as written in tokenizer.json
  std::string literal_;   // String patterns
  void* code_ = nullptr;  // pcre2_code_8* for Regex patterns
};

// Translates an Oniguruma (Ruby syntax, Unicode) regex into the PCRE2 equivalent. Exposed for tests.
std::string OnigurumaToPcre2(const std::string& regex);

}  // namespace fm
