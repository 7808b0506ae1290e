// PyRegex: the subset of Python's `re` module that IFEval's checkers use (search, findall, split, sub), with
// Python 3 semantics for str patterns: Unicode \w \s \d \b, `.` stopping at "\n" only, `$` matching before a
// final "\n", re.MULTILINE and re.IGNORECASE. Runs on PCRE2 in UTF + UCP mode, whose syntax agrees with
// Python's for every pattern IFEval writes (no named groups, no look-behind, no Python-only escapes).
//
// Immutable after Compile; the matching methods allocate their own match data, so one PyRegex may be used
// from several threads.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace fm {

class PyRegex {
 public:
  enum Flags : unsigned { kNone = 0, kIgnoreCase = 1, kMultiline = 2 };

  PyRegex() = default;  // matches nothing until Compile() fills it
  ~PyRegex();
  PyRegex(PyRegex&&) noexcept;
  PyRegex& operator=(PyRegex&&) noexcept;
  PyRegex(const PyRegex&) = delete;
  PyRegex& operator=(const PyRegex&) = delete;

  // Compiles `pattern` (UTF-8). Errors name the pattern and the offset PCRE2 complains about.
  static Status Compile(std::string_view pattern, unsigned flags, PyRegex* out);
  // Compile that aborts on error: for the fixed patterns written in this program's source.
  static PyRegex Must(std::string_view pattern, unsigned flags = kNone);

  // re.search(...) is not None.
  bool Search(std::string_view text) const;
  // The whole-match strings of re.findall (patterns here have no groups), left to right, non-overlapping.
  std::vector<std::string> FindAll(std::string_view text) const;
  size_t Count(std::string_view text) const;
  // re.split (no capture groups): the pieces between matches, including empty leading/trailing ones.
  std::vector<std::string> Split(std::string_view text) const;
  // re.sub(pattern, replacement, text) with a literal replacement.
  std::string Sub(std::string_view text, std::string_view replacement) const;

  // re.escape for use inside a pattern.
  static std::string Escape(std::string_view literal);

 private:
  // Byte ranges [begin, end) of successive non-overlapping matches, Python-style (an empty match right after
  // a previous match is allowed; the scan then advances by one character).
  std::vector<std::pair<size_t, size_t>> Matches(std::string_view text, size_t max_matches) const;
  void* code_ = nullptr;  // pcre2_code_8*
};

}  // namespace fm
