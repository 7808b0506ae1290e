#include "eval/ifeval_checkers.h"

#include <algorithm>
#include <map>
#include <memory>

#include "eval/ifeval_text.h"
#include "eval/language_id.h"
#include "eval/py_regex.h"

namespace fm::ifeval {

namespace {

using json = nlohmann::json;

// Typed access to an instruction's kwargs; errors name the argument.
class Args {
 public:
  explicit Args(const json& j) : j_(j) {}
  bool Has(const char* key) const { return j_.is_object() && j_.contains(key) && !j_.at(key).is_null(); }
  Status Int(const char* key, int64_t* out) const {
    if (!Has(key)) return Missing(key);
    const json& v = j_.at(key);
    if (v.is_number_integer()) {
      *out = v.get<int64_t>();
    } else if (v.is_number_float() && v.get<double>() == static_cast<int64_t>(v.get<double>())) {
      *out = static_cast<int64_t>(v.get<double>());
    } else {
      return Status::InvalidArgument(std::string("argument \"") + key + "\" must be an integer, got " +
                                     v.dump());
    }
    return Status::Ok();
  }
  Status Str(const char* key, std::string* out) const {
    if (!Has(key)) return Missing(key);
    if (!j_.at(key).is_string()) {
      return Status::InvalidArgument(std::string("argument \"") + key + "\" must be a string, got " +
                                     j_.at(key).dump());
    }
    *out = j_.at(key).get<std::string>();
    return Status::Ok();
  }
  Status StrList(const char* key, std::vector<std::string>* out) const {
    if (!Has(key)) return Missing(key);
    const json& v = j_.at(key);
    if (!v.is_array() || v.empty()) {
      return Status::InvalidArgument(std::string("argument \"") + key +
                                     "\" must be a non-empty list of strings");
    }
    out->clear();
    for (const auto& e : v) {
      if (!e.is_string())
        return Status::InvalidArgument(std::string("argument \"") + key + "\" holds a non-string");
      out->push_back(e.get<std::string>());
    }
    return Status::Ok();
  }
  // A relation: `less` (e.g. "less than" / "未満") or `at_least` ("at least" / "以上"). *is_less receives
  // which.
  Status Relation(const char* key, const char* less, const char* at_least, bool* is_less) const {
    std::string r;
    FM_RETURN_IF_ERROR(Str(key, &r));
    if (r == less) {
      *is_less = true;
    } else if (r == at_least) {
      *is_less = false;
    } else {
      return Status::InvalidArgument(std::string("argument \"") + key + "\" must be \"" + less + "\" or \"" +
                                     at_least + "\", got \"" + r + "\"");
    }
    return Status::Ok();
  }

 private:
  static Status Missing(const char* key) {
    return Status::InvalidArgument(std::string("missing argument \"") + key + "\"");
  }
  const json& j_;
};

bool Compare(int64_t actual, bool is_less, int64_t threshold) {
  return is_less ? actual < threshold : actual >= threshold;
}

bool StartsWith(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}
bool EndsWith(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}

// Counts non-overlapping occurrences of `needle` (Python's str.count).
size_t CountSubstr(std::string_view hay, std::string_view needle) {
  if (needle.empty()) return 0;
  size_t n = 0;
  for (size_t p = hay.find(needle); p != std::string_view::npos; p = hay.find(needle, p + needle.size())) n++;
  return n;
}

using Builder = std::function<Status(const Args&, InstructionCheck*)>;

// Checks shared by both languages (identical semantics in IFEval and M-IFEval's Japanese set).

Status Placeholders(const Args& a, InstructionCheck* out) {
  int64_t n;
  FM_RETURN_IF_ERROR(a.Int("num_placeholders", &n));
  static const PyRegex kRe = PyRegex::Must(R"(\[.*?\])");
  *out = [n](std::string_view v) { return static_cast<int64_t>(kRe.Count(v)) >= n; };
  return Status::Ok();
}

Status MarkdownParagraphs(const Args& a, InstructionCheck* out) {
  int64_t n;
  FM_RETURN_IF_ERROR(a.Int("num_paragraphs", &n));
  static const PyRegex kRe = PyRegex::Must(R"(\s?\*\*\*\s?)");
  *out = [n](std::string_view v) {
    std::vector<std::string> parts = kRe.Split(v);
    int64_t count = static_cast<int64_t>(parts.size());
    for (size_t i = 0; i < parts.size(); i++) {
      if (Strip(parts[i]).empty()) {
        if (i == 0 || i + 1 == parts.size()) {
          count--;
        } else {
          return false;  // an empty paragraph between two dividers
        }
      }
    }
    return count == n;
  };
  return Status::Ok();
}

Status JsonFormat(const Args&, InstructionCheck* out) {
  *out = [](std::string_view v) {
    std::string_view s = Strip(v);
    for (std::string_view p : {"```json", "```Json", "```JSON", "```"}) {
      if (StartsWith(s, p)) s.remove_prefix(p.size());
    }
    if (EndsWith(s, "```")) s.remove_suffix(3);
    s = Strip(s);
    return json::accept(s);
  };
  return Status::Ok();
}

Status TwoResponses(const Args&, InstructionCheck* out) {
  *out = [](std::string_view v) {
    std::vector<std::string_view> parts;
    for (size_t start = 0;;) {
      size_t p = v.find("******", start);
      parts.push_back(v.substr(start, p == std::string_view::npos ? std::string_view::npos : p - start));
      if (p == std::string_view::npos) break;
      start = p + 6;
    }
    std::vector<std::string_view> valid;
    for (size_t i = 0; i < parts.size(); i++) {
      if (Strip(parts[i]).empty()) {
        if (i != 0 && i + 1 != parts.size()) return false;
      } else {
        valid.push_back(parts[i]);
      }
    }
    return valid.size() == 2 && Strip(valid[0]) != Strip(valid[1]);
  };
  return Status::Ok();
}

Status ResponseLanguage(const Args& a, InstructionCheck* out) {
  std::string lang;
  FM_RETURN_IF_ERROR(a.Str("language", &lang));
  *out = [lang](std::string_view v) {
    std::string got = DetectLanguage(v);
    return got.empty() || got == lang;  // no letters: langdetect raises and IFEval counts it as followed
  };
  return Status::Ok();
}

// English (IFEval).

Status EnKeywordExistence(const Args& a, InstructionCheck* out) {
  std::vector<std::string> kws;
  FM_RETURN_IF_ERROR(a.StrList("keywords", &kws));
  auto res = std::make_shared<std::vector<PyRegex>>();
  for (const auto& k : kws) {  // keywords are used as regular expressions, as in IFEval
    PyRegex r;
    FM_RETURN_IF_ERROR(PyRegex::Compile(k, PyRegex::kIgnoreCase, &r));
    res->push_back(std::move(r));
  }
  *out = [res](std::string_view v) {
    return std::all_of(res->begin(), res->end(), [&](const PyRegex& r) { return r.Search(v); });
  };
  return Status::Ok();
}

Status EnKeywordFrequency(const Args& a, InstructionCheck* out) {
  std::string kw;
  int64_t n;
  bool less;
  FM_RETURN_IF_ERROR(a.Str("keyword", &kw));
  FM_RETURN_IF_ERROR(a.Int("frequency", &n));
  FM_RETURN_IF_ERROR(a.Relation("relation", "less than", "at least", &less));
  auto re = std::make_shared<PyRegex>();
  FM_RETURN_IF_ERROR(PyRegex::Compile(Strip(kw), PyRegex::kIgnoreCase, re.get()));
  *out = [re, n, less](std::string_view v) { return Compare(static_cast<int64_t>(re->Count(v)), less, n); };
  return Status::Ok();
}

Status EnForbiddenWords(const Args& a, InstructionCheck* out) {
  std::vector<std::string> words;
  FM_RETURN_IF_ERROR(a.StrList("forbidden_words", &words));
  auto res = std::make_shared<std::vector<PyRegex>>();
  for (const auto& w : words) {
    PyRegex r;
    FM_RETURN_IF_ERROR(PyRegex::Compile("\\b" + w + "\\b", PyRegex::kIgnoreCase, &r));
    res->push_back(std::move(r));
  }
  *out = [res](std::string_view v) {
    return std::none_of(res->begin(), res->end(), [&](const PyRegex& r) { return r.Search(v); });
  };
  return Status::Ok();
}

Status EnLetterFrequency(const Args& a, InstructionCheck* out) {
  std::string letter;
  int64_t n;
  bool less;
  FM_RETURN_IF_ERROR(a.Str("letter", &letter));
  FM_RETURN_IF_ERROR(a.Int("let_frequency", &n));
  FM_RETURN_IF_ERROR(a.Relation("let_relation", "less than", "at least", &less));
  if (CodePointCount(letter) != 1)
    return Status::InvalidArgument("argument \"letter\" must be one character");
  uint32_t want = CodePoints(Lower(letter))[0];
  *out = [want, n, less](std::string_view v) {
    std::vector<uint32_t> cps = CodePoints(Lower(v));
    return Compare(std::count(cps.begin(), cps.end(), want), less, n);
  };
  return Status::Ok();
}

Status EnNumberSentences(const Args& a, InstructionCheck* out) {
  int64_t n;
  bool less;
  FM_RETURN_IF_ERROR(a.Int("num_sentences", &n));
  FM_RETURN_IF_ERROR(a.Relation("relation", "less than", "at least", &less));
  *out = [n, less](std::string_view v) { return Compare(SplitSentencesEn(v).size(), less, n); };
  return Status::Ok();
}

Status EnNumberWords(const Args& a, InstructionCheck* out) {
  int64_t n;
  bool less;
  FM_RETURN_IF_ERROR(a.Int("num_words", &n));
  FM_RETURN_IF_ERROR(a.Relation("relation", "less than", "at least", &less));
  *out = [n, less](std::string_view v) { return Compare(CountWords(v), less, n); };
  return Status::Ok();
}

// Paragraphs separated by "\n\n"; paragraph `nth` must start with `first_word`. `ja` selects M-IFEval's
// Japanese rule (a prefix of the same length, after leading 「 and 『) over IFEval's (the first
// whitespace-separated word, lower-cased, up to the first punctuation mark).
Status NthParagraphFirstWord(const Args& a, bool ja, InstructionCheck* out) {
  int64_t num, nth;
  std::string first;
  FM_RETURN_IF_ERROR(a.Int("num_paragraphs", &num));
  FM_RETURN_IF_ERROR(a.Int("nth_paragraph", &nth));
  FM_RETURN_IF_ERROR(a.Str("first_word", &first));
  if (nth <= 0 || nth > num) {
    return Status::InvalidArgument("argument \"nth_paragraph\" must be between 1 and num_paragraphs");
  }
  first = Lower(first);
  *out = [num, nth, first, ja](std::string_view v) {
    std::vector<std::string> paras;
    for (size_t start = 0;;) {
      size_t p = v.find("\n\n", start);
      paras.emplace_back(v.substr(start, p == std::string_view::npos ? std::string_view::npos : p - start));
      if (p == std::string_view::npos) break;
      start = p + 2;
    }
    int64_t count = static_cast<int64_t>(paras.size());
    for (const auto& p : paras) count -= Strip(p).empty();
    if (nth > count) return false;
    std::string para(Strip(paras[nth - 1]));
    if (para.empty()) return false;
    std::string word;
    if (ja) {
      std::vector<uint32_t> cps = CodePoints(para);
      size_t i = 0;
      while (i < cps.size() && cps[i] == 0x300C) i++;  // lstrip("「")
      while (i < cps.size() && cps[i] == 0x300E) i++;  // then lstrip("『")
      size_t len = CodePointCount(first);
      word =
          FromCodePoints(std::vector<uint32_t>(cps.begin() + i, cps.begin() + std::min(cps.size(), i + len)));
    } else {
      std::vector<uint32_t> cps = CodePoints(para);
      size_t i = 0;
      while (i < cps.size() && !IsPySpace(cps[i])) i++;
      std::vector<uint32_t> w(cps.begin(), cps.begin() + i);
      size_t b = 0;
      while (b < w.size() && w[b] == '\'') b++;
      while (b < w.size() && w[b] == '"') b++;
      std::vector<uint32_t> kept;
      for (size_t k = b; k < w.size(); k++) {
        uint32_t c = w[k];
        if (c == '.' || c == ',' || c == '?' || c == '!' || c == '\'' || c == '"') break;
        kept.push_back(c);
      }
      word = Lower(FromCodePoints(kept));
    }
    return count == num && word == first;
  };
  return Status::Ok();
}

Status EnPostscript(const Args& a, InstructionCheck* out) {
  std::string marker;
  FM_RETURN_IF_ERROR(a.Str("postscript_marker", &marker));
  marker = std::string(Strip(marker));
  std::string pattern;
  if (marker == "P.P.S") {
    pattern = R"(\s*p\.\s?p\.\s?s.*$)";
  } else if (marker == "P.S.") {
    pattern = R"(\s*p\.\s?s\..*$)";
  } else {
    pattern = "\\s*" + Lower(marker) + ".*$";  // IFEval does not escape the marker
  }
  auto re = std::make_shared<PyRegex>();
  FM_RETURN_IF_ERROR(PyRegex::Compile(pattern, PyRegex::kMultiline, re.get()));
  *out = [re](std::string_view v) { return re->Search(Lower(v)); };
  return Status::Ok();
}

Status EnBulletLists(const Args& a, InstructionCheck* out) {
  int64_t n;
  FM_RETURN_IF_ERROR(a.Int("num_bullets", &n));
  static const PyRegex kStar = PyRegex::Must(R"(^\s*\*[^\*].*$)", PyRegex::kMultiline);
  static const PyRegex kDash = PyRegex::Must(R"(^\s*-.*$)", PyRegex::kMultiline);
  *out = [n](std::string_view v) { return static_cast<int64_t>(kStar.Count(v) + kDash.Count(v)) == n; };
  return Status::Ok();
}

Status ConstrainedResponse(std::vector<std::string> options, InstructionCheck* out) {
  *out = [options](std::string_view v) {
    std::string_view s = Strip(v);
    return std::any_of(options.begin(), options.end(),
                       [&](const std::string& o) { return s.find(o) != s.npos; });
  };
  return Status::Ok();
}

Status EnHighlights(const Args& a, InstructionCheck* out) {
  int64_t n;
  FM_RETURN_IF_ERROR(a.Int("num_highlights", &n));
  static const PyRegex kSingle = PyRegex::Must(R"(\*[^\n\*]*\*)");
  static const PyRegex kDouble = PyRegex::Must(R"(\*\*[^\n\*]*\*\*)");
  *out = [n](std::string_view v) {
    int64_t count = 0;
    for (const auto& h : kSingle.FindAll(v)) count += !Strip(StripChars(h, "*")).empty();
    for (const auto& h : kDouble.FindAll(v))
      count += !Strip(std::string_view(h).substr(2, h.size() - 4)).empty();
    return count >= n;
  };
  return Status::Ok();
}

Status EnSections(const Args& a, InstructionCheck* out) {
  std::string splitter;
  int64_t n;
  FM_RETURN_IF_ERROR(a.Str("section_spliter", &splitter));
  FM_RETURN_IF_ERROR(a.Int("num_sections", &n));
  auto re = std::make_shared<PyRegex>();
  FM_RETURN_IF_ERROR(PyRegex::Compile("\\s?" + std::string(Strip(splitter)) + "\\s?\\d+\\s?", 0, re.get()));
  *out = [re, n](std::string_view v) { return static_cast<int64_t>(re->Split(v).size()) - 1 >= n; };
  return Status::Ok();
}

Status EnTitle(const Args&, InstructionCheck* out) {
  static const PyRegex kRe = PyRegex::Must(R"(<<[^\n]+>>)");
  *out = [](std::string_view v) {
    for (const auto& t : kRe.FindAll(v)) {
      std::string s = t;
      s.erase(0, s.find_first_not_of('<'));
      s.erase(s.find_last_not_of('>') + 1);
      if (!Strip(s).empty()) return true;
    }
    return false;
  };
  return Status::Ok();
}

Status EnRepeatPrompt(const Args& a, InstructionCheck* out) {
  std::string p;
  FM_RETURN_IF_ERROR(a.Str("prompt_to_repeat", &p));
  std::string want = Lower(Strip(p));
  *out = [want](std::string_view v) { return StartsWith(Lower(Strip(v)), want); };
  return Status::Ok();
}

Status EnEndChecker(const Args& a, InstructionCheck* out) {
  std::string p;
  FM_RETURN_IF_ERROR(a.Str("end_phrase", &p));
  std::string want = Lower(Strip(p));
  *out = [want](std::string_view v) { return EndsWith(Lower(StripChars(Strip(v), "\"")), want); };
  return Status::Ok();
}

Status EnCapitalWordFrequency(const Args& a, InstructionCheck* out) {
  int64_t n;
  bool less;
  FM_RETURN_IF_ERROR(a.Int("capital_frequency", &n));
  FM_RETURN_IF_ERROR(a.Relation("capital_relation", "less than", "at least", &less));
  *out = [n, less](std::string_view v) {
    int64_t count = 0;
    for (const auto& w : WordTokens(v)) count += PyIsUpper(w);
    return Compare(count, less, n);
  };
  return Status::Ok();
}

Status EnglishCase(bool upper, InstructionCheck* out) {
  *out = [upper](std::string_view v) {
    if (!(upper ? PyIsUpper(v) : PyIsLower(v))) return false;
    std::string lang = DetectLanguage(v);
    return lang.empty() || lang == "en";
  };
  return Status::Ok();
}

Status NoChar(std::string ch, InstructionCheck* out) {
  *out = [ch](std::string_view v) { return v.find(ch) == std::string_view::npos; };
  return Status::Ok();
}

Status Wrapped(uint32_t open, uint32_t close, InstructionCheck* out) {
  *out = [open, close](std::string_view v) {
    std::vector<uint32_t> cps = CodePoints(Strip(v));
    return cps.size() > 1 && cps.front() == open && cps.back() == close;
  };
  return Status::Ok();
}

// Japanese (M-IFEval). Keyword checks there match Janome morphemes; here they match substrings.

Status JaKeywordExistence(const Args& a, InstructionCheck* out) {
  std::vector<std::string> kws;
  FM_RETURN_IF_ERROR(a.StrList("keywords", &kws));
  *out = [kws](std::string_view v) {
    return std::all_of(kws.begin(), kws.end(), [&](const std::string& k) { return v.find(k) != v.npos; });
  };
  return Status::Ok();
}

Status JaKeywordFrequency(const Args& a, InstructionCheck* out) {
  std::string kw;
  int64_t n;
  bool less;
  FM_RETURN_IF_ERROR(a.Str("keyword", &kw));
  FM_RETURN_IF_ERROR(a.Int("frequency", &n));
  FM_RETURN_IF_ERROR(a.Relation("relation", "未満", "以上", &less));
  kw = std::string(Strip(kw));
  *out = [kw, n, less](std::string_view v) { return Compare(CountSubstr(v, kw), less, n); };
  return Status::Ok();
}

Status JaForbiddenWords(const Args& a, InstructionCheck* out) {
  std::vector<std::string> words;
  FM_RETURN_IF_ERROR(a.StrList("forbidden_words", &words));
  *out = [words](std::string_view v) {
    return std::none_of(words.begin(), words.end(),
                        [&](const std::string& w) { return v.find(w) != v.npos; });
  };
  return Status::Ok();
}

Status JaLetterFrequency(const Args& a, InstructionCheck* out) {
  std::string letter;
  int64_t n;
  bool less;
  FM_RETURN_IF_ERROR(a.Str("letter", &letter));
  FM_RETURN_IF_ERROR(a.Int("let_frequency", &n));
  FM_RETURN_IF_ERROR(a.Relation("let_relation", "未満", "以上", &less));
  std::vector<uint32_t> l = CodePoints(letter);
  if (l.size() != 1 || l[0] < 0x3041 || l[0] > 0x3093) {
    return Status::InvalidArgument("argument \"letter\" must be one hiragana character (ぁ-ん)");
  }
  uint32_t hira = l[0], kata = l[0] + 96;  // the katakana of the same sound counts too
  *out = [hira, kata, n, less](std::string_view v) {
    std::vector<uint32_t> cps = CodePoints(v);
    int64_t c = std::count(cps.begin(), cps.end(), hira) + std::count(cps.begin(), cps.end(), kata);
    return Compare(c, less, n);
  };
  return Status::Ok();
}

Status JaNumberSentences(const Args& a, InstructionCheck* out) {
  int64_t n;
  bool less;
  FM_RETURN_IF_ERROR(a.Int("num_sentences", &n));
  FM_RETURN_IF_ERROR(a.Relation("relation", "未満", "以上", &less));
  *out = [n, less](std::string_view v) { return Compare(CountSentencesJa(v), less, n); };
  return Status::Ok();
}

Status JaNumberLetters(const Args& a, InstructionCheck* out) {
  int64_t n;
  bool less;
  FM_RETURN_IF_ERROR(a.Int("num_letters", &n));
  FM_RETURN_IF_ERROR(a.Relation("relation", "未満", "以上", &less));
  *out = [n, less](std::string_view v) { return Compare(CodePointCount(v), less, n); };
  return Status::Ok();
}

Status JaPostscript(const Args& a, InstructionCheck* out) {
  std::string marker;
  FM_RETURN_IF_ERROR(a.Str("postscript_marker", &marker));
  marker = std::string(Strip(marker));
  std::string pattern;
  if (marker == "P.P.S") {
    pattern = R"(\s*p\.\s?p\.\s?s.*$)";
  } else if (marker == "P.S.") {
    pattern = R"(\s*p\.\s?s\..*$)";
  } else {
    pattern = "\\s*" + PyRegex::Escape(marker) + ".*$";
  }
  auto re = std::make_shared<PyRegex>();
  FM_RETURN_IF_ERROR(PyRegex::Compile(pattern, PyRegex::kMultiline | PyRegex::kIgnoreCase, re.get()));
  *out = [re](std::string_view v) { return re->Search(v); };
  return Status::Ok();
}

Status JaBulletLists(const Args& a, InstructionCheck* out) {
  int64_t n;
  FM_RETURN_IF_ERROR(a.Int("num_bullets", &n));
  static const PyRegex kRe = PyRegex::Must("^\\s*・[^・].*$", PyRegex::kMultiline);
  *out = [n](std::string_view v) { return static_cast<int64_t>(kRe.Count(v)) == n; };
  return Status::Ok();
}

Status JaNumberedLists(const Args& a, InstructionCheck* out) {
  int64_t n;
  FM_RETURN_IF_ERROR(a.Int("num_items", &n));
  static const PyRegex kRe = PyRegex::Must(R"(^\s*\d+\.\s.*$)", PyRegex::kMultiline);
  *out = [n](std::string_view v) { return static_cast<int64_t>(kRe.Count(v)) == n; };
  return Status::Ok();
}

Status JaHighlights(const Args& a, InstructionCheck* out) {
  int64_t n;
  FM_RETURN_IF_ERROR(a.Int("num_highlights", &n));
  static const PyRegex kRe = PyRegex::Must("《[^\\n《》]*》");
  *out = [n](std::string_view v) {
    int64_t count = 0;
    for (const auto& h : kRe.FindAll(v)) count += !Strip(StripChars(h, "《》")).empty();
    return count >= n;
  };
  return Status::Ok();
}

Status JaSections(const Args& a, InstructionCheck* out) {
  std::string splitter;
  int64_t n;
  FM_RETURN_IF_ERROR(a.Str("section_spliter", &splitter));
  FM_RETURN_IF_ERROR(a.Int("num_sections", &n));
  auto re = std::make_shared<PyRegex>();
  FM_RETURN_IF_ERROR(PyRegex::Compile(
      "\\s?第[\\d\\x{FF10}-\\x{FF19}]+" + std::string(Strip(splitter)) + "\\s?", 0, re.get()));
  *out = [re, n](std::string_view v) { return static_cast<int64_t>(re->Split(v).size()) - 1 >= n; };
  return Status::Ok();
}

Status JaTitle(const Args&, InstructionCheck* out) {
  static const PyRegex kRe = PyRegex::Must("『[^\\n]+』");
  *out = [](std::string_view v) {
    for (const auto& t : kRe.FindAll(v)) {
      std::vector<uint32_t> cps = CodePoints(t);
      size_t b = 0, e = cps.size();
      while (b < e && cps[b] == 0x300E) b++;
      while (e > b && cps[e - 1] == 0x300F) e--;
      if (!Strip(FromCodePoints(std::vector<uint32_t>(cps.begin() + b, cps.begin() + e))).empty())
        return true;
    }
    return false;
  };
  return Status::Ok();
}

Status JaRepeatPrompt(const Args& a, InstructionCheck* out) {
  std::string p;
  FM_RETURN_IF_ERROR(a.Str("prompt_to_repeat", &p));
  std::string want(Strip(p));
  *out = [want](std::string_view v) { return StartsWith(Strip(v), want); };
  return Status::Ok();
}

Status JaEndChecker(const Args& a, InstructionCheck* out) {
  std::string p;
  FM_RETURN_IF_ERROR(a.Str("end_phrase", &p));
  std::string want = StripChars(Strip(p), "」』");
  *out = [want](std::string_view v) { return EndsWith(StripChars(Strip(v), "」』"), want); };
  return Status::Ok();
}

Status JaUnifiedEnding(const Args& a, InstructionCheck* out) {
  std::string ending;
  FM_RETURN_IF_ERROR(a.Str("ending", &ending));
  static const PyRegex kQuote1 = PyRegex::Must("「.*?」");
  static const PyRegex kQuote2 = PyRegex::Must("『.*?』");
  static const PyRegex kSplit = PyRegex::Must("[。！？]");
  *out = [ending](std::string_view v) {
    std::string s = kQuote2.Sub(kQuote1.Sub(v, ""), "");
    for (const auto& sent : kSplit.Split(s)) {
      if (!sent.empty() && !EndsWith(sent, ending)) return false;
    }
    return true;
  };
  return Status::Ok();
}

bool IsKanji(uint32_t c) {
  return c >= 0x4E00 && c <= 0x9FAF;
}

Status JaFurigana(const Args&, InstructionCheck* out) {
  static const PyRegex kKanji = PyRegex::Must("[\\x{4e00}-\\x{9faf}]+");
  static const PyRegex kWithReading = PyRegex::Must("[\\x{4e00}-\\x{9faf}]+（[ぁ-ん]+）");
  *out = [](std::string_view v) { return kKanji.Count(v) == kWithReading.Count(v); };
  return Status::Ok();
}

Status JaKanjiLimit(const Args& a, InstructionCheck* out) {
  int64_t n;
  bool less;
  FM_RETURN_IF_ERROR(a.Int("kanji_limit", &n));
  FM_RETURN_IF_ERROR(a.Relation("relation", "未満", "以上", &less));
  *out = [n, less](std::string_view v) {
    std::vector<uint32_t> cps = CodePoints(v);
    return Compare(std::count_if(cps.begin(), cps.end(), IsKanji), less, n);
  };
  return Status::Ok();
}

Status JaKansuuji(const Args&, InstructionCheck* out) {
  static const PyRegex kDigit = PyRegex::Must(R"(\d)");
  *out = [](std::string_view v) { return !kDigit.Search(v); };
  return Status::Ok();
}

bool IsKatakana(uint32_t c) {
  return (c >= 0x30A1 && c <= 0x30FA) || (c >= 0xFF66 && c <= 0xFF9F);
}

Status JaScriptRule(int rule, InstructionCheck* out) {
  // 0 no hiragana, 1 hiragana only, 2 no katakana, 3 katakana only. "Only" ignores every non-letter.
  *out = [rule](std::string_view v) {
    for (uint32_t c : CodePoints(v)) {
      switch (rule) {
        case 0:
          if (c >= 0x3041 && c <= 0x3096) return false;
          break;
        case 1:
          if (!((c >= 0x3041 && c <= 0x3093) || c == 0x30FC) && IsLetter(c)) return false;
          break;
        case 2:
          if (IsKatakana(c)) return false;
          break;
        default:
          if (!((c >= 0x30A1 && c <= 0x30F3) || c == 0x30FC || c == 0x30FB || (c >= 0xFF66 && c <= 0xFF9F)) &&
              IsLetter(c)) {
            return false;
          }
      }
    }
    return true;
  };
  return Status::Ok();
}

const std::map<std::string, Builder>& Registry() {
  static const std::map<std::string, Builder> k = {
      // English
      {"en:keywords:existence", EnKeywordExistence},
      {"en:keywords:frequency", EnKeywordFrequency},
      {"en:keywords:forbidden_words", EnForbiddenWords},
      {"en:keywords:letter_frequency", EnLetterFrequency},
      {"en:language:response_language", ResponseLanguage},
      {"en:length_constraints:number_sentences", EnNumberSentences},
      {"en:length_constraints:number_paragraphs", MarkdownParagraphs},
      {"en:length_constraints:number_words", EnNumberWords},
      {"en:length_constraints:nth_paragraph_first_word",
       [](const Args& a, InstructionCheck* o) { return NthParagraphFirstWord(a, false, o); }},
      {"en:detectable_content:number_placeholders", Placeholders},
      {"en:detectable_content:postscript", EnPostscript},
      {"en:detectable_format:number_bullet_lists", EnBulletLists},
      {"en:detectable_format:constrained_response",
       [](const Args&, InstructionCheck* o) {
         return ConstrainedResponse({"My answer is yes.", "My answer is no.", "My answer is maybe."}, o);
       }},
      {"en:detectable_format:number_highlighted_sections", EnHighlights},
      {"en:detectable_format:multiple_sections", EnSections},
      {"en:detectable_format:json_format", JsonFormat},
      {"en:detectable_format:title", EnTitle},
      {"en:combination:two_responses", TwoResponses},
      {"en:combination:repeat_prompt", EnRepeatPrompt},
      {"en:startend:end_checker", EnEndChecker},
      {"en:startend:quotation", [](const Args&, InstructionCheck* o) { return Wrapped('"', '"', o); }},
      {"en:change_case:capital_word_frequency", EnCapitalWordFrequency},
      {"en:change_case:english_capital",
       [](const Args&, InstructionCheck* o) { return EnglishCase(true, o); }},
      {"en:change_case:english_lowercase",
       [](const Args&, InstructionCheck* o) { return EnglishCase(false, o); }},
      {"en:punctuation:no_comma", [](const Args&, InstructionCheck* o) { return NoChar(",", o); }},
      // Japanese
      {"ja:keywords:existence", JaKeywordExistence},
      {"ja:keywords:frequency", JaKeywordFrequency},
      {"ja:keywords:forbidden_words", JaForbiddenWords},
      {"ja:keywords:letter_frequency", JaLetterFrequency},
      {"ja:language:response_language", ResponseLanguage},
      {"ja:length_constraints:number_sentences", JaNumberSentences},
      {"ja:length_constraints:number_paragraphs", MarkdownParagraphs},
      {"ja:length_constraints:number_letters", JaNumberLetters},
      {"ja:length_constraints:nth_paragraph_first_word",
       [](const Args& a, InstructionCheck* o) { return NthParagraphFirstWord(a, true, o); }},
      {"ja:detectable_content:number_placeholders", Placeholders},
      {"ja:detectable_content:postscript", JaPostscript},
      {"ja:detectable_format:number_bullet_lists", JaBulletLists},
      {"ja:detectable_format:number_numbered_lists", JaNumberedLists},
      {"ja:detectable_format:constrained_response",
       [](const Args&, InstructionCheck* o) {
         return ConstrainedResponse({"はい、そうです。", "いいえ、違います。", "どちらとも言えません。"}, o);
       }},
      {"ja:detectable_format:number_highlighted_sections", JaHighlights},
      {"ja:detectable_format:multiple_sections", JaSections},
      {"ja:detectable_format:json_format", JsonFormat},
      {"ja:detectable_format:title", JaTitle},
      {"ja:combination:two_responses", TwoResponses},
      {"ja:combination:repeat_prompt", JaRepeatPrompt},
      {"ja:startend:end_checker", JaEndChecker},
      {"ja:startend:quotation", [](const Args&, InstructionCheck* o) { return Wrapped(0x300C, 0x300D, o); }},
      {"ja:startend:sentence_unified_end", JaUnifiedEnding},
      {"ja:letters:furigana", JaFurigana},
      {"ja:letters:kanji", JaKanjiLimit},
      {"ja:letters:kansuuji", JaKansuuji},
      {"ja:letters:no_hiragana", [](const Args&, InstructionCheck* o) { return JaScriptRule(0, o); }},
      {"ja:letters:hiragana_only", [](const Args&, InstructionCheck* o) { return JaScriptRule(1, o); }},
      {"ja:letters:no_katakana", [](const Args&, InstructionCheck* o) { return JaScriptRule(2, o); }},
      {"ja:letters:katakana_only", [](const Args&, InstructionCheck* o) { return JaScriptRule(3, o); }},
      {"ja:punctuation:no_comma", [](const Args&, InstructionCheck* o) { return NoChar("、", o); }},
      {"ja:punctuation:no_period", [](const Args&, InstructionCheck* o) { return NoChar("。", o); }},
  };
  return k;
}

}  // namespace

Status BuildInstructionCheck(const std::string& id, const json& kwargs, InstructionCheck* out) {
  std::string full = id;
  if (full.rfind("en:", 0) != 0 && full.rfind("ja:", 0) != 0 && full.find(':') != std::string::npos &&
      full.find(':') == full.rfind(':')) {
    full = "en:" + full;  // original IFEval ids have no language prefix
  }
  const auto& reg = Registry();
  auto it = reg.find(full);
  if (it == reg.end()) return Status::Unsupported("instruction \"" + id + "\" is not implemented");
  Args args(kwargs);
  Status s = it->second(args, out);
  if (!s.ok()) return s.WithPrefix(id);
  return s;
}

std::vector<std::string> ImplementedInstructions() {
  std::vector<std::string> out;
  for (const auto& [id, b] : Registry()) out.push_back(id);
  return out;
}

std::vector<std::string> LooseVariants(std::string_view response) {
  std::vector<std::string_view> lines;
  for (size_t start = 0;;) {
    size_t p = response.find('\n', start);
    lines.push_back(response.substr(start, p == std::string_view::npos ? std::string_view::npos : p - start));
    if (p == std::string_view::npos) break;
    start = p + 1;
  }
  auto join = [&](size_t b, size_t e) {  // "\n".join(lines[b:e]).strip()
    std::string s;
    for (size_t i = b; i < e && i < lines.size(); i++) {
      if (i > b) s += '\n';
      s.append(lines[i]);
    }
    return std::string(Strip(s));
  };
  auto no_stars = [](std::string s) {
    s.erase(std::remove(s.begin(), s.end(), '*'), s.end());
    return s;
  };
  const size_t n = lines.size();
  std::string first = join(1, n), last = join(0, n == 0 ? 0 : n - 1), both = n >= 2 ? join(1, n - 1) : "";
  return {std::string(response),
          no_stars(std::string(response)),
          first,
          last,
          both,
          no_stars(first),
          no_stars(last),
          no_stars(both)};
}

}  // namespace fm::ifeval
