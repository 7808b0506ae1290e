#include "eval/py_regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>

namespace fm {

namespace {
pcre2_code* Code(void* p) {
  return static_cast<pcre2_code*>(p);
}
}  // namespace

PyRegex::~PyRegex() {
  if (code_) pcre2_code_free(Code(code_));
}
PyRegex::PyRegex(PyRegex&& o) noexcept : code_(o.code_) {
  o.code_ = nullptr;
}
PyRegex& PyRegex::operator=(PyRegex&& o) noexcept {
  if (this != &o) {
    if (code_) pcre2_code_free(Code(code_));
    code_ = o.code_;
    o.code_ = nullptr;
  }
  return *this;
}

Status PyRegex::Compile(std::string_view pattern, unsigned flags, PyRegex* out) {
  uint32_t options = PCRE2_UTF | PCRE2_UCP;
  if (flags & kIgnoreCase) options |= PCRE2_CASELESS;
  if (flags & kMultiline) options |= PCRE2_MULTILINE;
  pcre2_compile_context* ctx = pcre2_compile_context_create(nullptr);
  pcre2_set_newline(ctx, PCRE2_NEWLINE_LF);  // Python: only "\n" ends a line for `.`, `^`, `$`
  int err = 0;
  PCRE2_SIZE err_off = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options,
                                   &err, &err_off, ctx);
  pcre2_compile_context_free(ctx);
  if (!code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof msg);
    return Status::InvalidArgument("regular expression \"" + std::string(pattern) + "\" at offset " +
                                   std::to_string(err_off) + ": " + reinterpret_cast<char*>(msg));
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // best effort; the interpreter is used when JIT is missing
  PyRegex r;
  r.code_ = code;
  *out = std::move(r);
  return Status::Ok();
}

PyRegex PyRegex::Must(std::string_view pattern, unsigned flags) {
  PyRegex r;
  Status s = Compile(pattern, flags, &r);
  if (!s.ok()) {
    std::fprintf(stderr, "internal error: %s\n", s.message().c_str());
    std::abort();
  }
  return r;
}

std::vector<std::pair<size_t, size_t>> PyRegex::Matches(std::string_view text, size_t max_matches) const {
  std::vector<std::pair<size_t, size_t>> out;
  if (!code_) return out;
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(Code(code_), nullptr);
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t pos = 0;
  while (pos <= text.size() && out.size() < max_matches) {
    int rc = pcre2_match(Code(code_), subject, text.size(), pos, 0, md, nullptr);
    if (rc < 0) break;
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    size_t b = ov[0], e = ov[1];
    out.push_back({b, e});
    if (e > b) {
      pos = e;
    } else {  // empty match: step over one character (UTF-8 aware)
      if (e >= text.size()) break;
      pos = e + 1;
      while (pos < text.size() && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80) pos++;
    }
  }
  pcre2_match_data_free(md);
  return out;
}

bool PyRegex::Search(std::string_view text) const {
  return !Matches(text, 1).empty();
}

std::vector<std::string> PyRegex::FindAll(std::string_view text) const {
  std::vector<std::string> out;
  for (auto [b, e] : Matches(text, SIZE_MAX)) out.emplace_back(text.substr(b, e - b));
  return out;
}

size_t PyRegex::Count(std::string_view text) const {
  return Matches(text, SIZE_MAX).size();
}

std::vector<std::string> PyRegex::Split(std::string_view text) const {
  std::vector<std::string> out;
  size_t last = 0;
  for (auto [b, e] : Matches(text, SIZE_MAX)) {
    out.emplace_back(text.substr(last, b - last));
    last = e;
  }
  out.emplace_back(text.substr(last));
  return out;
}

std::string PyRegex::Sub(std::string_view text, std::string_view replacement) const {
  std::string out;
  size_t last = 0;
  for (auto [b, e] : Matches(text, SIZE_MAX)) {
    out.append(text.substr(last, b - last));
    out.append(replacement);
    last = e;
  }
  out.append(text.substr(last));
  return out;
}

std::string PyRegex::Escape(std::string_view literal) {
  std::string out;
  for (char c : literal) {
    unsigned char u = static_cast<unsigned char>(c);
    // Python's re.escape escapes every ASCII character that is not alphanumeric or "_".
    if (u < 0x80 && !std::isalnum(u) && c != '_') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

}  // namespace fm
