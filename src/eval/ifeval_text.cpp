#include "eval/ifeval_text.h"

#include <unicode/uchar.h>

#include <algorithm>
#include <array>
#include <cctype>

#include "eval/py_regex.h"
#include "tokenizer/utf8.h"

namespace fm::ifeval {

std::vector<uint32_t> CodePoints(std::string_view s) {
  std::vector<uint32_t> out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    size_t len = 1;
    out.push_back(utf8::Decode(s, i, &len));
    i += len;
  }
  return out;
}

std::string FromCodePoints(const std::vector<uint32_t>& cps) {
  std::string out;
  for (uint32_t c : cps) utf8::Append(c, &out);
  return out;
}

size_t CodePointCount(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

bool IsPySpace(uint32_t cp) {
  return utf8::IsWhiteSpace(cp) || (cp >= 0x1C && cp <= 0x1F);
}

bool IsLetter(uint32_t cp) {
  switch (u_charType(static_cast<UChar32>(cp))) {
    case U_UPPERCASE_LETTER:
    case U_LOWERCASE_LETTER:
    case U_TITLECASE_LETTER:
    case U_MODIFIER_LETTER:
    case U_OTHER_LETTER:
      return true;
    default:
      return false;
  }
}

bool IsCased(uint32_t cp) {
  int t = u_charType(static_cast<UChar32>(cp));
  return t == U_UPPERCASE_LETTER || t == U_LOWERCASE_LETTER || t == U_TITLECASE_LETTER;
}

bool IsPyWordChar(uint32_t cp) {
  if (cp == '_' || IsLetter(cp)) return true;
  int t = u_charType(static_cast<UChar32>(cp));
  return t == U_DECIMAL_DIGIT_NUMBER || t == U_LETTER_NUMBER || t == U_OTHER_NUMBER;
}

std::string_view Strip(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e) {
    size_t len = 1;
    uint32_t cp = utf8::Decode(s, b, &len);
    if (!IsPySpace(cp)) break;
    b += len;
  }
  while (e > b) {
    size_t start = e - 1;
    while (start > b && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) start--;
    size_t len = 1;
    uint32_t cp = utf8::Decode(s, start, &len);
    if (!IsPySpace(cp)) break;
    e = start;
  }
  return s.substr(b, e - b);
}

std::string StripChars(std::string_view s, std::string_view chars) {
  std::vector<uint32_t> set = CodePoints(chars), cps = CodePoints(s);
  auto in = [&](uint32_t c) { return std::find(set.begin(), set.end(), c) != set.end(); };
  size_t b = 0, e = cps.size();
  while (b < e && in(cps[b])) b++;
  while (e > b && in(cps[e - 1])) e--;
  return FromCodePoints(std::vector<uint32_t>(cps.begin() + b, cps.begin() + e));
}

std::string Lower(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (uint32_t c : CodePoints(s))
    utf8::Append(static_cast<uint32_t>(u_tolower(static_cast<UChar32>(c))), &out);
  return out;
}

namespace {
bool PyCaseCheck(std::string_view s, bool want_upper) {
  bool cased = false;
  for (uint32_t c : CodePoints(s)) {
    int t = u_charType(static_cast<UChar32>(c));
    if (t == U_TITLECASE_LETTER) return false;
    if (t == U_UPPERCASE_LETTER) {
      if (!want_upper) return false;
      cased = true;
    } else if (t == U_LOWERCASE_LETTER) {
      if (want_upper) return false;
      cased = true;
    }
  }
  return cased;
}
}  // namespace

bool PyIsUpper(std::string_view s) {
  return PyCaseCheck(s, true);
}
bool PyIsLower(std::string_view s) {
  return PyCaseCheck(s, false);
}

size_t CountWords(std::string_view s) {
  static const PyRegex kWord = PyRegex::Must(R"(\w+)");
  return kWord.Count(s);
}

namespace {

bool IsAbbreviation(std::string_view word) {
  // Lower-cased, without the final period. Punkt learns these from data; these are the common English ones.
  static const std::array<std::string_view, 26> kAbbrev = {
      "mr",  "mrs", "ms",  "dr",     "prof", "st",  "jr",  "sr",  "inc", "ltd", "co",  "corp", "vs",
      "etc", "e.g", "i.e", "approx", "dept", "est", "fig", "gen", "gov", "no",  "vol", "capt", "lt"};
  std::string w = Lower(word);
  return std::find(kAbbrev.begin(), kAbbrev.end(), w) != kAbbrev.end();
}

bool IsClosing(uint32_t c) {
  return c == '"' || c == '\'' || c == ')' || c == ']' || c == 0x201D || c == 0x2019 || c == 0x00BB;
}

}  // namespace

std::vector<std::string> SplitSentencesEn(std::string_view text) {
  std::vector<uint32_t> cps = CodePoints(text);
  std::vector<std::string> out;
  size_t start = 0;
  auto emit = [&](size_t end) {
    std::string sent(Strip(FromCodePoints(std::vector<uint32_t>(cps.begin() + start, cps.begin() + end))));
    if (!sent.empty()) out.push_back(std::move(sent));
    start = end;
  };
  for (size_t i = 0; i < cps.size(); i++) {
    uint32_t c = cps[i];
    if (c != '.' && c != '!' && c != '?') continue;
    size_t j = i;
    while (j + 1 < cps.size() && (cps[j + 1] == '.' || cps[j + 1] == '!' || cps[j + 1] == '?')) j++;
    size_t k = j + 1;
    while (k < cps.size() && IsClosing(cps[k])) k++;
    if (k < cps.size() && !IsPySpace(cps[k])) {
      i = j;
      continue;  // "3.14", "e.g.x", "word.Next": not a boundary
    }
    if (c == '.' && j == i) {
      // The token before a single period: an abbreviation, an initial or a list number does not end a
      // sentence.
      size_t w = i;
      while (w > start && !IsPySpace(cps[w - 1])) w--;
      std::string word = FromCodePoints(std::vector<uint32_t>(cps.begin() + w, cps.begin() + i));
      while (!word.empty() && (word.front() == '(' || word.front() == '"' || word.front() == '\''))
        word.erase(0, 1);
      bool single_letter = CodePointCount(word) == 1 && IsLetter(CodePoints(word)[0]);
      bool number = !word.empty() && std::all_of(word.begin(), word.end(), [](char ch) {
        return std::isdigit(static_cast<unsigned char>(ch));
      });
      bool at_line_start = w == 0 || cps[w - 1] == '\n';
      if (IsAbbreviation(word) || single_letter || (number && at_line_start)) {
        i = j;
        continue;
      }
    }
    emit(k);
    i = k > 0 ? k - 1 : 0;
  }
  emit(cps.size());
  return out;
}

size_t CountSentencesJa(std::string_view text) {
  std::vector<uint32_t> cps = CodePoints(text);
  for (auto& c : cps) {
    if (c == 0xFF01) c = '!';
    if (c == 0xFF1F) c = '?';
  }
  // Lines, blank ones dropped (after stripping whitespace).
  std::vector<std::vector<uint32_t>> lines;
  std::vector<uint32_t> cur;
  auto flush = [&] {
    std::string s(Strip(FromCodePoints(cur)));
    if (!s.empty()) lines.push_back(CodePoints(s));
    cur.clear();
  };
  for (uint32_t c : cps) {
    if (c == '\n' || c == '\r') {
      flush();
    } else {
      cur.push_back(c);
    }
  }
  flush();
  // A line ending in "の" continues on the next line.
  std::vector<std::vector<uint32_t>> joined;
  for (auto& l : lines) {
    if (!joined.empty() && !joined.back().empty() && joined.back().back() == 0x306E) {
      joined.back().insert(joined.back().end(), l.begin(), l.end());
    } else {
      joined.push_back(l);
    }
  }
  size_t n = 0;
  for (const auto& l : joined) {
    bool pending = false;
    for (size_t i = 0; i < l.size(); i++) {
      uint32_t c = l[i];
      bool punct = c == 0x3002 || c == '!' || c == '?';
      if (punct) {
        // Consecutive punctuation ends one sentence.
        while (i + 1 < l.size() && (l[i + 1] == 0x3002 || l[i + 1] == '!' || l[i + 1] == '?')) i++;
        n++;
        pending = false;
      } else if (!IsPySpace(c)) {
        pending = true;
      }
    }
    if (pending) n++;
  }
  return n;
}

std::vector<std::string> WordTokens(std::string_view text) {
  static const PyRegex kToken = PyRegex::Must(R"(\w+(?:[-.'\x{2019}]\w+)*)");
  static const PyRegex kClitic =
      PyRegex::Must(R"((?:['\x{2019}](?:s|re|ve|ll|d|m)|n['\x{2019}]t)$)", PyRegex::kIgnoreCase);
  std::vector<std::string> out;
  for (std::string& t : kToken.FindAll(text)) {
    std::vector<std::string> pieces = kClitic.Split(t);
    if (pieces.size() == 2 && !pieces[0].empty()) {
      out.push_back(pieces[0]);
      out.push_back(t.substr(pieces[0].size()));
    } else {
      out.push_back(std::move(t));
    }
  }
  return out;
}

}  // namespace fm::ifeval
