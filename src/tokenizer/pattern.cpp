#include "tokenizer/pattern.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <nlohmann/json.hpp>

namespace fm {

namespace {

// Per-thread PCRE2 scratch: match data for group 0 and a JIT stack large enough for long whitespace runs.
struct MatchScratch {
  pcre2_match_data* data = nullptr;
  pcre2_match_context* context = nullptr;
  pcre2_jit_stack* stack = nullptr;
  MatchScratch() {
    data = pcre2_match_data_create(1, nullptr);
    context = pcre2_match_context_create(nullptr);
    stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr);
    pcre2_jit_stack_assign(context, nullptr, stack);
  }
  ~MatchScratch() {
    pcre2_match_data_free(data);
    pcre2_match_context_free(context);
    pcre2_jit_stack_free(stack);
  }
};

MatchScratch& Scratch() {
  thread_local MatchScratch scratch;
  return scratch;
}

}  // namespace

std::string OnigurumaToPcre2(const std::string& re) {
  // Oniguruma's \s is White_Space, which includes U+0085; PCRE2's UCP \s does not. Oniguruma's \h is a hex
  // digit (PCRE2: horizontal space). Everything else the tokenizers use (\p{L}, \p{N}, (?i:...), look-ahead,
  // possessive quantifiers) means the same in both.
  std::string out;
  out.reserve(re.size() + 16);
  bool in_class = false;
  for (size_t i = 0; i < re.size(); ++i) {
    char c = re[i];
    if (c == '\\' && i + 1 < re.size()) {
      char e = re[i + 1];
      ++i;
      if (e == 's') {
        out += in_class ? "\\s\\x{85}" : "[\\s\\x{85}]";
      } else if (e == 'S' && !in_class) {
        out += "[^\\s\\x{85}]";
      } else if (e == 'h') {
        out += in_class ? "0-9a-fA-F" : "[0-9a-fA-F]";
      } else if (e == 'H' && !in_class) {
        out += "[^0-9a-fA-F]";
      } else {
        out += c;
        out += e;
      }
      continue;
    }
    if (!in_class && c == '[') {
      in_class = true;
      out += c;
      // A ']' right after '[' or '[^' is a literal.
      if (i + 1 < re.size() && re[i + 1] == '^') out += re[++i];
      if (i + 1 < re.size() && re[i + 1] == ']') out += re[++i];
      continue;
    }
    if (in_class && c == ']') in_class = false;
    out += c;
  }
  return out;
}

Pattern::~Pattern() {
  if (code_) pcre2_code_free(static_cast<pcre2_code*>(code_));
}

std::unique_ptr<Pattern> Pattern::Literal(std::string literal) {
  std::unique_ptr<Pattern> p(new Pattern());
  p->source_ = literal;
  p->literal_ = std::move(literal);
  return p;
}

Status Pattern::Regex(const std::string& regex, std::unique_ptr<Pattern>* out) {
  std::unique_ptr<Pattern> p(new Pattern());
  p->source_ = regex;
  std::string translated = OnigurumaToPcre2(regex);
  int err = 0;
  PCRE2_SIZE err_off = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(),
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &err, &err_off, nullptr);
  if (!code) {
    PCRE2_UCHAR buf[256];
    pcre2_get_error_message(err, buf, sizeof buf);
    return Status::InvalidArgument("regex /" + regex + "/ does not compile at offset " +
                                   std::to_string(err_off) + ": " + reinterpret_cast<char*>(buf));
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter if JIT is unavailable
  p->code_ = code;
  *out = std::move(p);
  return Status::Ok();
}

Status Pattern::FromJson(const nlohmann::json& j, std::unique_ptr<Pattern>* out) {
  if (j.is_object() && j.contains("Regex") && j["Regex"].is_string()) {
    return Regex(j["Regex"].get<std::string>(), out);
  }
  if (j.is_object() && j.contains("String") && j["String"].is_string()) {
    *out = Literal(j["String"].get<std::string>());
    return Status::Ok();
  }
  return Status::Unsupported("pattern " + j.dump() + " is neither {\"Regex\": ...} nor {\"String\": ...}");
}

void Pattern::FindAll(std::string_view text, std::vector<std::pair<size_t, size_t>>* matches) const {
  if (!code_) {
    if (literal_.empty()) return;
    size_t pos = 0;
    while ((pos = text.find(literal_, pos)) != std::string_view::npos) {
      matches->emplace_back(pos, pos + literal_.size());
      pos += literal_.size();
    }
    return;
  }
  auto* code = static_cast<pcre2_code*>(code_);
  MatchScratch& s = Scratch();
  auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t n = text.size(), start = 0;
  while (start <= n) {
    int rc = pcre2_match(code, subject, n, start, PCRE2_NO_UTF_CHECK, s.data, s.context);
    if (rc < 0) break;  // PCRE2_ERROR_NOMATCH (or a resource limit: the rest stays unsplit)
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(s.data);
    size_t b = ov[0], e = ov[1];
    if (e > b) {
      matches->emplace_back(b, e);
      start = e;
    } else {
      // Empty match: step over one character, like JavaScript's matchAll and Rust's find_iter.
      if (b >= n) break;
      start = b + 1;
      while (start < n && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) ++start;
    }
  }
}

std::string Pattern::ReplaceAll(std::string_view text, std::string_view content) const {
  std::vector<std::pair<size_t, size_t>> m;
  FindAll(text, &m);
  if (m.empty()) return std::string(text);
  std::string out;
  out.reserve(text.size());
  size_t prev = 0;
  for (auto [b, e] : m) {
    out.append(text.substr(prev, b - prev));
    out.append(content);
    prev = e;
  }
  out.append(text.substr(prev));
  return out;
}

}  // namespace fm
