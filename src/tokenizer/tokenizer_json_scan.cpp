#include "tokenizer/tokenizer_json_scan.h"

#include <omp.h>

#include <cstring>
#include <list>
#include <nlohmann/json.hpp>
#include <string>

#include "tokenizer/prefault.h"
#include "tokenizer/utf8.h"

namespace fm {

namespace {

constexpr int kMaxDepth = 256;  // deeper nesting is left to nlohmann::json

// A strict recursive-descent JSON reader over one buffer: every method returns false on anything that is not
// valid JSON of the expected shape.
class Scanner {
 public:
  Scanner(std::string_view text, std::list<std::string>* unescaped)
      : text_(text), p_(text.data()), end_(text.data() + text.size()), unescaped_(unescaped) {}

  size_t pos() const { return static_cast<size_t>(p_ - text_.data()); }
  void Seek(size_t pos) { p_ = text_.data() + pos; }
  bool AtEnd() {
    SkipSpace();
    return p_ == end_;
  }
  void SkipSpace() {
    while (p_ < end_) {
      // Pretty-printed files indent every entry: skip runs of spaces 8 at a time.
      if (end_ - p_ >= 8) {
        uint64_t w;
        std::memcpy(&w, p_, 8);
        if (w == 0x2020202020202020ull) {
          p_ += 8;
          continue;
        }
      }
      if (*p_ != ' ' && *p_ != '\n' && *p_ != '\r' && *p_ != '\t') return;
      ++p_;
    }
  }
  // Skips white space, then consumes `c` if it comes next.
  bool Consume(char c) {
    SkipSpace();
    if (p_ < end_ && *p_ == c) {
      ++p_;
      return true;
    }
    return false;
  }

  // A string; *out views the text, or a copy in *unescaped_ when the string has escapes.
  bool String(std::string_view* out) {
    if (!Consume('"')) return false;
    const char* start = p_;
    while (p_ < end_) {
      unsigned char c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        *out = std::string_view(start, static_cast<size_t>(p_ - start));
        ++p_;
        return true;
      }
      if (c == '\\') return Unescape(start, out);
      if (c < 0x20) return false;
      if (c < 0x80) {
        ++p_;
        continue;
      }
      // Two-byte characters (byte-level vocabularies spell spaces as "Ġ") without a call.
      if (c >= 0xC2 && c <= 0xDF && end_ - p_ >= 2 && (static_cast<unsigned char>(p_[1]) & 0xC0) == 0x80) {
        p_ += 2;
        continue;
      }
      size_t len = utf8::ValidSeqLen(text_, pos());
      if (len == 0) return false;
      p_ += len;
    }
    return false;
  }

  // An integer without fraction or exponent that fits in int64.
  bool Integer(int64_t* out) {
    SkipSpace();
    bool negative = p_ < end_ && *p_ == '-';
    if (negative) ++p_;
    const char* digits = p_;
    uint64_t v = 0;
    while (p_ < end_ && *p_ >= '0' && *p_ <= '9') {
      if (p_ - digits >= 18) return false;
      v = v * 10 + static_cast<uint64_t>(*p_ - '0');
      ++p_;
    }
    size_t n = static_cast<size_t>(p_ - digits);
    if (n == 0 || (n > 1 && *digits == '0')) return false;
    if (p_ < end_ && (*p_ == '.' || *p_ == 'e' || *p_ == 'E')) return false;
    *out = negative ? -static_cast<int64_t>(v) : static_cast<int64_t>(v);
    return true;
  }

  // Any value.
  bool SkipValue(int depth = 0) {
    if (depth > kMaxDepth) return false;
    SkipSpace();
    if (p_ == end_) return false;
    std::string_view s;
    switch (*p_) {
      case '"':
        return String(&s);
      case '{':
        ++p_;
        if (Consume('}')) return true;
        do {
          if (!String(&s) || !Consume(':') || !SkipValue(depth + 1)) return false;
        } while (Consume(','));
        return Consume('}');
      case '[':
        ++p_;
        if (Consume(']')) return true;
        do {
          if (!SkipValue(depth + 1)) return false;
        } while (Consume(','));
        return Consume(']');
      case 't':
        return Word("true");
      case 'f':
        return Word("false");
      case 'n':
        return Word("null");
      default:
        return Number();
    }
  }

 private:
  bool Word(std::string_view w) {
    if (static_cast<size_t>(end_ - p_) < w.size() || std::string_view(p_, w.size()) != w) return false;
    p_ += w.size();
    return true;
  }
  bool Number() {
    const char* start = p_;
    while (p_ < end_ && ((*p_ >= '0' && *p_ <= '9') || *p_ == '-' || *p_ == '+' || *p_ == '.' || *p_ == 'e' ||
                         *p_ == 'E')) {
      ++p_;
    }
    return p_ > start;  // nlohmann::json checks the number's syntax when it parses the rest
  }
  static int Hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }
  bool Hex4(uint32_t* cp) {
    if (end_ - p_ < 4) return false;
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      int h = Hex(p_[i]);
      if (h < 0) return false;
      v = v * 16 + static_cast<uint32_t>(h);
    }
    p_ += 4;
    *cp = v;
    return true;
  }
  // Continues String() from the first backslash, copying into a new string.
  bool Unescape(const char* start, std::string_view* out) {
    std::string s(start, static_cast<size_t>(p_ - start));
    while (p_ < end_) {
      unsigned char c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        ++p_;
        unescaped_->push_back(std::move(s));
        *out = unescaped_->back();
        return true;
      }
      if (c < 0x20) return false;
      if (c >= 0x80) {
        size_t len = utf8::ValidSeqLen(text_, pos());
        if (len == 0) return false;
        s.append(p_, len);
        p_ += len;
        continue;
      }
      ++p_;
      if (c != '\\') {
        s.push_back(static_cast<char>(c));
        continue;
      }
      if (p_ == end_) return false;
      char e = *p_++;
      switch (e) {
        case '"':
        case '\\':
        case '/':
          s.push_back(e);
          break;
        case 'b':
          s.push_back('\b');
          break;
        case 'f':
          s.push_back('\f');
          break;
        case 'n':
          s.push_back('\n');
          break;
        case 'r':
          s.push_back('\r');
          break;
        case 't':
          s.push_back('\t');
          break;
        case 'u': {
          uint32_t cp;
          if (!Hex4(&cp)) return false;
          if (cp >= 0xDC00 && cp <= 0xDFFF) return false;  // a low surrogate without its high half
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t lo;
            if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
            p_ += 2;
            if (!Hex4(&lo) || lo < 0xDC00 || lo > 0xDFFF) return false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          utf8::Append(cp, &s);
          break;
        }
        default:
          return false;
      }
    }
    return false;
  }

  std::string_view text_;
  const char* p_;
  const char* end_;
  std::list<std::string>* unescaped_;
};

// {"token": id, ...}
bool ParseVocab(Scanner& s, BpeTables* t) {
  if (!s.Consume('{')) return false;
  if (s.Consume('}')) return true;
  do {
    std::string_view token;
    int64_t id;
    if (!s.String(&token) || !s.Consume(':') || !s.Integer(&id) || id < 0 || id > INT32_MAX) return false;
    t->AddToken(token, static_cast<uint32_t>(id));
  } while (s.Consume(','));
  return s.Consume('}');
}

// ["a b", ...] or [["a", "b"], ...]
bool ParseMerges(Scanner& s, std::string_view text, BpeTables* t) {
  // Pretty-printed files spend 40-80 bytes on a merge: prefault room for most files, grow for the rest.
  if (t->merges.capacity() == 0) ReservePrefaulted(&t->merges, text.size() / 64);
  if (!s.Consume('[')) return false;
  if (s.Consume(']')) return true;
  do {
    std::pair<std::string_view, std::string_view> m;
    if (s.Consume('[')) {
      if (!s.String(&m.first) || !s.Consume(',') || !s.String(&m.second) || !s.Consume(']')) return false;
    } else {
      std::string_view both;
      if (!s.String(&both) || !BpeModel::SplitMergeString(both, &m)) return false;
    }
    t->AddMerge(m.first, m.second);
  } while (s.Consume(','));
  return s.Consume(']');
}

struct Range {
  size_t begin = 0, end = 0;
  bool found = false;
};

// Where the value of the "merges" key that follows `from` seems to start: the first `"merges"` followed by
// ':' and '['. Only a guess (a vocabulary token could be spelled `merges`, but its value is a number; the
// caller checks that the merges key really comes next).
size_t GuessMergesValue(std::string_view text, size_t from) {
  static constexpr std::string_view kKey = "\"merges\"";
  while (from < text.size()) {
    const void* hit = memmem(text.data() + from, text.size() - from, kKey.data(), kKey.size());
    if (!hit) return std::string_view::npos;
    size_t p = static_cast<size_t>(static_cast<const char*>(hit) - text.data()) + kKey.size();
    auto skip_space = [&] {
      while (p < text.size() && (text[p] == ' ' || text[p] == '\n' || text[p] == '\r' || text[p] == '\t'))
        ++p;
    };
    skip_space();
    if (p < text.size() && text[p] == ':') {
      ++p;
      skip_space();
      if (p < text.size() && text[p] == '[') return p;
    }
    from = p;
  }
  return std::string_view::npos;
}

// Whether the scanner, just after a value of the model object, is at `, "merges":` whose value starts at
// `value`; if so the scanner is left at the value, else where it was.
bool MergesKeyNext(Scanner& s, size_t value) {
  size_t was = s.pos();
  std::string_view key;
  if (s.Consume(',') && s.String(&key) && key == "merges" && s.Consume(':')) {
    s.SkipSpace();
    if (s.pos() == value) return true;
  }
  s.Seek(was);
  return false;
}

// The "model" object: parses its vocab and merges, skips the rest.
bool ParseModel(Scanner& s, std::string_view text, BpeTables* t, Range* vocab, Range* merges) {
  if (!s.Consume('{')) return false;
  if (s.Consume('}')) return true;
  do {
    std::string_view key;
    if (!s.String(&key) || !s.Consume(':')) return false;
    Range* r = key == "vocab" ? vocab : key == "merges" ? merges : nullptr;
    if (!r) {
      if (!s.SkipValue(1)) return false;
      continue;
    }
    if (r->found) return false;
    s.SkipSpace();
    r->begin = s.pos();
    size_t guess = std::string_view::npos;
    if (r == vocab && !merges->found && omp_get_max_threads() > 1) guess = GuessMergesValue(text, r->begin);
    if (guess == std::string_view::npos) {
      if (!(r == vocab ? ParseVocab(s, t) : ParseMerges(s, text, t))) return false;
      r->end = s.pos();
      r->found = true;
      continue;
    }
    // Hugging Face writes the merges right after the vocabulary: parse both at once, the merges from where
    // they seem to start, and keep those only if the vocabulary ends where they begin.
    BpeTables side;
    bool vocab_ok = false, side_ok = false;
    size_t side_end = 0;
#pragma omp parallel sections num_threads(2)
    {
#pragma omp section
      vocab_ok = ParseVocab(s, t);
#pragma omp section
      {
        Scanner m(text, &side.unescaped);
        m.Seek(guess);
        side_ok = ParseMerges(m, text, &side);
        side_end = m.pos();
      }
    }
    if (!vocab_ok) return false;
    vocab->end = s.pos();
    vocab->found = true;
    if (side_ok && MergesKeyNext(s, guess)) {
      t->merges = std::move(side.merges);
      t->unescaped.splice(t->unescaped.end(), side.unescaped);
      *merges = {guess, side_end, true};
      s.Seek(side_end);
    }
  } while (s.Consume(','));
  return s.Consume('}');
}

}  // namespace

bool ScanTokenizerJson(std::string_view text, BpeTables* tables, nlohmann::json* rest) {
  Scanner s(text, &tables->unescaped);
  // Pretty-printed files spend 25-60 bytes on a vocabulary entry: prefault room for most files, grow for the
  // rest.
  ReservePrefaulted(&tables->vocab, text.size() / 64);
  Range vocab, merges;
  bool model = false;
  if (!s.Consume('{')) return false;
  if (s.Consume('}')) return false;
  do {
    std::string_view key;
    if (!s.String(&key) || !s.Consume(':')) return false;
    if (key == "model") {
      if (model) return false;
      model = true;
      if (!ParseModel(s, text, tables, &vocab, &merges)) return false;
    } else if (!s.SkipValue(1)) {
      return false;
    }
  } while (s.Consume(','));
  if (!s.Consume('}') || !s.AtEnd() || !vocab.found) return false;

  // The rest: the text with the two values replaced by empty containers.
  std::string small;
  small.reserve(text.size() - (vocab.end - vocab.begin) - (merges.end - merges.begin) + 4);
  size_t at = 0;
  const Range* first = &vocab;
  const Range* second = merges.found ? &merges : nullptr;
  if (second && second->begin < first->begin) std::swap(first, second);
  for (const Range* r : {first, second}) {
    if (!r) continue;
    small.append(text.substr(at, r->begin - at));
    small.append(r == &vocab ? "{}" : "[]");
    at = r->end;
  }
  small.append(text.substr(at));
  try {
    *rest = nlohmann::json::parse(small);
  } catch (const nlohmann::json::exception&) {
    return false;
  }
  return true;
}

}  // namespace fm
