// Jinja2's lexer, restricted to the default delimiters ({{ }}, {% %}, {# #}), with its whitespace rules:
// `{%-`/`-%}` strip all whitespace before/after a tag; trim_blocks removes the first newline after a block or
// comment tag; lstrip_blocks removes spaces and tabs between the start of a line and a block or comment tag;
// `{%+`/`+%}` opt out of lstrip/trim for one tag.
#include <cctype>
#include <cstring>

#include "chat/jinja_ast.h"

namespace fm::jinja {

std::string DescribePosition(std::string_view source, size_t pos) {
  size_t line = 1, col = 1;
  for (size_t i = 0; i < pos && i < source.size(); ++i) {
    if (source[i] == '\n') {
      ++line;
      col = 1;
    } else if ((static_cast<unsigned char>(source[i]) & 0xC0) != 0x80) {
      ++col;  // count code points, not bytes
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(col);
}

namespace {

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool IsNameStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_';
}
bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}
bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}

class Lexer {
 public:
  Lexer(std::string_view src, const LexOptions& opts, std::vector<Token>* out)
      : s_(src), opts_(opts), out_(out) {}

  Status Run() {
    size_t pos = 0;
    bool line_starting = true;  // the previous tag ended a line (or we are at the start)
    while (pos < s_.size()) {
      size_t open = FindOpen(pos);
      std::string text(s_.substr(pos, open == std::string_view::npos ? std::string_view::npos : open - pos));
      if (open == std::string_view::npos) {
        Emit(TokenType::kText, text, pos);
        break;
      }
      const char kind = s_[open + 1];
      char sign = open + 2 < s_.size() ? s_[open + 2] : '\0';
      if (sign != '-' && !(sign == '+' && kind != '{')) sign = '\0';  // `{{+` is not a modifier
      if (sign == '-') {
        size_t keep = text.size();
        while (keep > 0 && IsSpace(text[keep - 1])) --keep;
        text.resize(keep);
      } else if (sign != '+' && opts_.lstrip_blocks && kind != '{') {
        size_t l_pos = text.rfind('\n');
        l_pos = l_pos == std::string::npos ? 0 : l_pos + 1;
        if (l_pos > 0 || line_starting) {
          bool blank = l_pos < text.size();
          for (size_t i = l_pos; i < text.size(); ++i) blank = blank && IsSpace(text[i]);
          if (blank) text.resize(l_pos);
        }
      }
      Emit(TokenType::kText, text, pos);
      size_t p = open + 2 + (sign != '\0' ? 1 : 0);
      if (kind == '#') {
        size_t end = s_.find("#}", p);
        if (end == std::string_view::npos) return Error(open, "missing end of comment tag '#}'");
        char end_sign = end > p ? s_[end - 1] : '\0';
        pos = AfterTag(end + 2, end_sign, /*is_block=*/true, &line_starting);
        continue;
      }
      if (kind == '%' && IsRawBegin(p)) {
        FM_RETURN_IF_ERROR(LexRaw(open, p, &pos, &line_starting));
        continue;
      }
      Emit(kind == '%' ? TokenType::kBlockBegin : TokenType::kVarBegin, kind == '%' ? "{%" : "{{", open);
      FM_RETURN_IF_ERROR(LexTag(kind == '%', p, &pos, &line_starting));
    }
    Emit(TokenType::kEof, "", s_.size());
    return Status::Ok();
  }

 private:
  size_t FindOpen(size_t from) const {
    for (size_t i = from; i + 1 < s_.size(); ++i) {
      if (s_[i] == '{' && (s_[i + 1] == '{' || s_[i + 1] == '%' || s_[i + 1] == '#')) return i;
    }
    return std::string_view::npos;
  }

  void Emit(TokenType t, std::string value, size_t pos) {
    if (t == TokenType::kText && value.empty()) return;
    Token tok;
    tok.type = t;
    tok.value = std::move(value);
    tok.pos = pos;
    out_->push_back(std::move(tok));
  }

  Status Error(size_t pos, const std::string& msg) const {
    return Status::InvalidArgument(DescribePosition(s_, pos) + ": syntax error: " + msg);
  }

  // Position after a closing tag that ends at `after`, applying `-` (strip following whitespace) or
  // trim_blocks (drop one newline) unless the tag ended with `+`.
  size_t AfterTag(size_t after, char end_sign, bool is_block, bool* line_starting) const {
    if (end_sign == '-') {
      while (after < s_.size() && IsSpace(s_[after])) ++after;
    } else if (end_sign != '+' && is_block && opts_.trim_blocks && after < s_.size() && s_[after] == '\n') {
      ++after;
    }
    *line_starting = after > 0 && s_[after - 1] == '\n';
    return after;
  }

  bool IsRawBegin(size_t p) const {
    while (p < s_.size() && IsSpace(s_[p])) ++p;
    if (s_.compare(p, 3, "raw") != 0) return false;
    p += 3;
    if (p < s_.size() && IsNameChar(s_[p])) return false;
    while (p < s_.size() && IsSpace(s_[p])) ++p;
    if (p < s_.size() && (s_[p] == '-' || s_[p] == '+')) ++p;
    return s_.compare(p, 2, "%}") == 0;
  }

  // {% raw %}...{% endraw %}: the body is text, untouched.
  Status LexRaw(size_t open, size_t p, size_t* pos, bool* line_starting) {
    size_t close = s_.find("%}", p);
    char begin_sign = s_[close - 1];
    size_t body = AfterTag(close + 2, begin_sign, true, line_starting);
    for (size_t i = body; (i = s_.find("{%", i)) != std::string_view::npos; i += 2) {
      size_t q = i + 2;
      char end_open_sign = q < s_.size() ? s_[q] : '\0';
      if (end_open_sign == '-' || end_open_sign == '+') ++q;
      while (q < s_.size() && IsSpace(s_[q])) ++q;
      if (s_.compare(q, 6, "endraw") != 0) continue;
      q += 6;
      while (q < s_.size() && IsSpace(s_[q])) ++q;
      char end_sign = '\0';
      if (q < s_.size() && (s_[q] == '-' || s_[q] == '+')) end_sign = s_[q++];
      if (s_.compare(q, 2, "%}") != 0) continue;
      std::string text(s_.substr(body, i - body));
      if (end_open_sign == '-') {
        while (!text.empty() && IsSpace(text.back())) text.pop_back();
      }
      Emit(TokenType::kText, text, body);
      *pos = AfterTag(q + 2, end_sign, true, line_starting);
      return Status::Ok();
    }
    return Error(open, "missing {% endraw %} for this {% raw %}");
  }

  Status LexTag(bool is_block, size_t p, size_t* pos, bool* line_starting) {
    int depth = 0;  // open (, [, { inside the tag: a closing delimiter is only recognized at depth 0
    const size_t tag_start = p;
    while (true) {
      while (p < s_.size() && IsSpace(s_[p])) ++p;
      if (p >= s_.size()) {
        return Error(tag_start, is_block ? "unexpected end of template, expected '%}'"
                                         : "unexpected end of template, expected '}}'");
      }
      if (depth == 0) {
        const char* close = is_block ? "%}" : "}}";
        char sign = '\0';
        size_t q = p;
        if ((s_[q] == '-' || (is_block && s_[q] == '+')) && s_.compare(q + 1, 2, close) == 0) sign = s_[q++];
        if (s_.compare(q, 2, close) == 0) {
          Emit(is_block ? TokenType::kBlockEnd : TokenType::kVarEnd, close, p);
          *pos = AfterTag(q + 2, sign, is_block, line_starting);
          return Status::Ok();
        }
      }
      char c = s_[p];
      if (c == '\'' || c == '"') {
        FM_RETURN_IF_ERROR(LexString(&p));
        continue;
      }
      if (IsDigit(c)) {
        LexNumber(&p);
        continue;
      }
      if (IsNameStart(c)) {
        size_t b = p;
        while (p < s_.size() && IsNameChar(s_[p])) ++p;
        Emit(TokenType::kName, std::string(s_.substr(b, p - b)), b);
        continue;
      }
      static const char* kOps[] = {"//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[",
                                   "]",  "(",  ")",  "{",  "}",  ">",  "<", "=", ".", ":", "|", ",", ";"};
      bool matched = false;
      for (const char* op : kOps) {
        size_t n = std::strlen(op);
        if (s_.compare(p, n, op) == 0) {
          if (n == 1 && (c == '(' || c == '[' || c == '{')) ++depth;
          if (n == 1 && (c == ')' || c == ']' || c == '}')) {
            if (depth == 0) return Error(p, std::string("unexpected '") + c + "'");
            --depth;
          }
          Emit(TokenType::kOp, op, p);
          p += n;
          matched = true;
          break;
        }
      }
      if (!matched) return Error(p, std::string("unexpected character '") + c + "'");
    }
  }

  static int HexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  // A quoted string with Python escapes (\n, \t, \\, \', \", \xhh, \uhhhh, \Uhhhhhhhh; others kept as is).
  Status LexString(size_t* pp) {
    size_t p = *pp;
    const size_t start = p;
    const char quote = s_[p++];
    std::string value;
    while (true) {
      if (p >= s_.size()) return Error(start, "unterminated string");
      char c = s_[p];
      if (c == quote) {
        ++p;
        break;
      }
      if (c != '\\' || p + 1 >= s_.size()) {
        value += c;
        ++p;
        continue;
      }
      char e = s_[p + 1];
      p += 2;
      switch (e) {
        case 'n':
          value += '\n';
          break;
        case 't':
          value += '\t';
          break;
        case 'r':
          value += '\r';
          break;
        case 'a':
          value += '\a';
          break;
        case 'b':
          value += '\b';
          break;
        case 'f':
          value += '\f';
          break;
        case 'v':
          value += '\v';
          break;
        case '0':
          value += '\0';
          break;
        case '\\':
        case '\'':
        case '"':
          value += e;
          break;
        case '\n':
          break;  // line continuation
        case 'x':
        case 'u':
        case 'U': {
          int n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          uint32_t cp = 0;
          for (int k = 0; k < n; ++k) {
            int h = p + k < s_.size() ? HexValue(s_[p + k]) : -1;
            if (h < 0) return Error(p - 2, std::string("truncated \\") + e + " escape in string");
            cp = cp * 16 + static_cast<uint32_t>(h);
          }
          p += n;
          AppendUtf8(cp, &value);
          break;
        }
        default:
          value += '\\';
          value += e;
      }
    }
    Emit(TokenType::kString, std::move(value), start);
    *pp = p;
    return Status::Ok();
  }

  void LexNumber(size_t* pp) {
    size_t p = *pp;
    const size_t start = p;
    auto digits = [&]() {
      while (p < s_.size() && (IsDigit(s_[p]) || (s_[p] == '_' && p + 1 < s_.size() && IsDigit(s_[p + 1]))))
        ++p;
    };
    digits();
    bool is_float = false;
    // After a '.', a number is an attribute index (foo.0.1), never a float.
    bool after_dot = !out_->empty() && out_->back().type == TokenType::kOp && out_->back().value == ".";
    if (!after_dot && p + 1 < s_.size() && s_[p] == '.' && IsDigit(s_[p + 1])) {
      ++p;
      digits();
      is_float = true;
    }
    if (!after_dot && p < s_.size() && (s_[p] == 'e' || s_[p] == 'E')) {
      size_t q = p + 1;
      if (q < s_.size() && (s_[q] == '+' || s_[q] == '-')) ++q;
      if (q < s_.size() && IsDigit(s_[q])) {
        p = q;
        digits();
        is_float = true;
      }
    }
    std::string text;
    for (size_t i = start; i < p; ++i) {
      if (s_[i] != '_') text += s_[i];
    }
    Token tok;
    tok.type = is_float ? TokenType::kFloat : TokenType::kInt;
    tok.value = text;
    tok.pos = start;
    if (is_float) {
      tok.float_value = std::stod(text);
    } else {
      try {
        tok.int_value = std::stoll(text);
      } catch (const std::out_of_range&) {
        tok.type = TokenType::kFloat;
        tok.float_value = std::stod(text);
      }
    }
    out_->push_back(std::move(tok));
    *pp = p;
  }

  std::string_view s_;
  LexOptions opts_;
  std::vector<Token>* out_;
};

}  // namespace

Status Lex(std::string_view source, const LexOptions& opts, std::string* normalized,
           std::vector<Token>* tokens) {
  normalized->clear();
  normalized->reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      *normalized += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      *normalized += source[i];
    }
  }
  if (!opts.keep_trailing_newline && !normalized->empty() && normalized->back() == '\n')
    normalized->pop_back();
  tokens->clear();
  Lexer lexer(*normalized, opts, tokens);
  return lexer.Run();
}

}  // namespace fm::jinja
