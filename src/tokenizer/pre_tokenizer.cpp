#include "tokenizer/pre_tokenizer.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "tokenizer/pattern.h"
#include "tokenizer/utf8.h"

namespace fm {

namespace {

enum class Behavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

Status ParseBehavior(const std::string& s, Behavior* b) {
  if (s == "Removed")
    *b = Behavior::kRemoved;
  else if (s == "Isolated")
    *b = Behavior::kIsolated;
  else if (s == "MergedWithPrevious")
    *b = Behavior::kMergedWithPrevious;
  else if (s == "MergedWithNext")
    *b = Behavior::kMergedWithNext;
  else if (s == "Contiguous")
    *b = Behavior::kContiguous;
  else
    return Status::Unsupported("split behavior \"" + s + "\" is unknown");
  return Status::Ok();
}

using Span = std::pair<uint32_t, uint32_t>;

// Splits text[span] at the matches of `pattern` following Hugging Face's SplitDelimiterBehavior; appends the
// non-empty pieces to *out.
void SplitSpan(const Pattern& pattern, bool invert, Behavior behavior, const std::string& text, Span span,
               std::vector<std::pair<size_t, size_t>>* scratch, std::vector<Span>* out) {
  std::string_view piece(text.data() + span.first, span.second - span.first);
  scratch->clear();
  pattern.FindAll(piece, scratch);
  // Segments covering the span: (begin, end, is_match).
  struct Seg {
    uint32_t b, e;
    bool m;
  };
  thread_local std::vector<Seg> segs;  // reused: this runs for every piece of text encoded
  segs.clear();
  segs.reserve(scratch->size() * 2 + 1);
  uint32_t prev = 0;
  for (auto [b, e] : *scratch) {
    if (b > prev) segs.push_back({prev, static_cast<uint32_t>(b), invert});
    segs.push_back({static_cast<uint32_t>(b), static_cast<uint32_t>(e), !invert});
    prev = static_cast<uint32_t>(e);
  }
  if (prev < piece.size()) segs.push_back({prev, static_cast<uint32_t>(piece.size()), invert});

  thread_local std::vector<Span> res;
  res.clear();
  res.reserve(segs.size());
  switch (behavior) {
    case Behavior::kIsolated:
      for (const Seg& s : segs) res.push_back({s.b, s.e});
      break;
    case Behavior::kRemoved:
      for (const Seg& s : segs) {
        if (!s.m) res.push_back({s.b, s.e});
      }
      break;
    case Behavior::kMergedWithPrevious: {
      bool prev_match = false;
      for (const Seg& s : segs) {
        if (s.m && !prev_match && !res.empty()) {
          res.back().second = s.e;
        } else {
          res.push_back({s.b, s.e});
        }
        prev_match = s.m;
      }
      break;
    }
    case Behavior::kMergedWithNext: {
      bool prev_match = false;
      for (auto it = segs.rbegin(); it != segs.rend(); ++it) {
        if (it->m && !prev_match && !res.empty()) {
          res.back().first = it->b;
        } else {
          res.push_back({it->b, it->e});
        }
        prev_match = it->m;
      }
      std::reverse(res.begin(), res.end());
      break;
    }
    case Behavior::kContiguous: {
      bool prev_match = false;
      for (const Seg& s : segs) {
        if (s.m == prev_match && !res.empty()) {
          res.back().second = s.e;
        } else {
          res.push_back({s.b, s.e});
        }
        prev_match = s.m;
      }
      break;
    }
  }
  for (const Span& s : res) {
    if (s.second > s.first) out->push_back({span.first + s.first, span.first + s.second});
  }
}

class SplitPreTokenizer : public PreTokenizer {
 public:
  SplitPreTokenizer(std::unique_ptr<Pattern> p, Behavior b, bool invert, bool line_safe)
      : pattern_(std::move(p)), behavior_(b), invert_(invert), line_safe_(line_safe) {}
  void Apply(PreTokens* p, bool) const override {
    thread_local std::vector<Span> out;  // swapped with p->spans: the two buffers alternate
    thread_local std::vector<std::pair<size_t, size_t>> scratch;
    out.clear();
    out.reserve(p->spans.size() * 4);
    for (const Span& s : p->spans) SplitSpan(*pattern_, invert_, behavior_, p->text, s, &scratch, &out);
    p->spans.swap(out);
  }
  bool CutsAtLineStarts() const override { return line_safe_; }

 private:
  std::unique_ptr<Pattern> pattern_;
  Behavior behavior_;
  bool invert_;
  bool line_safe_;
};

// Prepends `prefix` to every span that does not already start with it (when `cond` says so) and/or replaces
// `from` by `to` inside spans, rebuilding the buffer.
void RewriteSpans(PreTokens* p, const std::string& from, const std::string& to, bool prepend,
                  const std::string& prefix, const std::string& skip_if_starts_with) {
  std::string text;
  text.reserve(p->text.size() + p->spans.size() * prefix.size());
  std::vector<Span> spans;
  spans.reserve(p->spans.size());
  for (const Span& s : p->spans) {
    std::string_view piece(p->text.data() + s.first, s.second - s.first);
    uint32_t b = static_cast<uint32_t>(text.size());
    size_t start = text.size();
    if (from.empty()) {
      text.append(piece);
    } else {
      size_t prev = 0, pos;
      while ((pos = piece.find(from, prev)) != std::string_view::npos) {
        text.append(piece.substr(prev, pos - prev));
        text.append(to);
        prev = pos + from.size();
      }
      text.append(piece.substr(prev));
    }
    if (prepend && std::string_view(text).substr(start).rfind(skip_if_starts_with, 0) != 0) {
      text.insert(start, prefix);
    }
    spans.push_back({b, static_cast<uint32_t>(text.size())});
  }
  p->text.swap(text);
  p->spans.swap(spans);
}

class ByteLevelPreTokenizer : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, std::unique_ptr<Pattern> regex)
      : add_prefix_space_(add_prefix_space), regex_(std::move(regex)) {}
  void Apply(PreTokens* p, bool) const override {
    if (add_prefix_space_) RewriteSpans(p, "", "", true, " ", " ");
    if (regex_) {
      std::vector<Span> out;
      std::vector<std::pair<size_t, size_t>> scratch;
      for (const Span& s : p->spans)
        SplitSpan(*regex_, false, Behavior::kIsolated, p->text, s, &scratch, &out);
      p->spans.swap(out);
    }
  }
  bool CutsAtLineStarts() const override { return !add_prefix_space_; }

 private:
  bool add_prefix_space_;
  std::unique_ptr<Pattern> regex_;  // GPT-2's split regex when use_regex
};

class MetaspacePreTokenizer : public PreTokenizer {
 public:
  enum class Prepend { kAlways, kFirst, kNever };
  MetaspacePreTokenizer(std::string replacement, Prepend prepend, bool split)
      : replacement_(std::move(replacement)), prepend_(prepend), split_(split) {
    if (split_) splitter_ = Pattern::Literal(replacement_);
  }
  void Apply(PreTokens* p, bool at_input_start) const override {
    bool prepend = prepend_ == Prepend::kAlways || (prepend_ == Prepend::kFirst && at_input_start);
    // "first" applies to the split that starts at the input's first character only.
    if (prepend_ == Prepend::kFirst && prepend && !p->spans.empty()) {
      RewriteSpans(p, " ", replacement_, false, "", "");
      PrependFirst(p);
    } else {
      RewriteSpans(p, " ", replacement_, prepend, replacement_, replacement_);
    }
    if (split_) {
      std::vector<Span> out;
      std::vector<std::pair<size_t, size_t>> scratch;
      for (const Span& s : p->spans) {
        SplitSpan(*splitter_, false, Behavior::kMergedWithNext, p->text, s, &scratch, &out);
      }
      p->spans.swap(out);
    }
  }

 private:
  void PrependFirst(PreTokens* p) const {
    auto& first = p->spans.front();
    if (first.first != 0) return;
    std::string_view piece(p->text.data(), first.second);
    if (piece.rfind(replacement_, 0) == 0) return;
    p->text.insert(0, replacement_);
    uint32_t add = static_cast<uint32_t>(replacement_.size());
    first.second += add;
    for (size_t i = 1; i < p->spans.size(); ++i) {
      p->spans[i].first += add;
      p->spans[i].second += add;
    }
  }
  std::string replacement_;
  Prepend prepend_;
  bool split_;
  std::unique_ptr<Pattern> splitter_;
};

class SequencePreTokenizer : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> steps)
      : steps_(std::move(steps)) {}
  void Apply(PreTokens* p, bool at_input_start) const override {
    for (const auto& s : steps_) s->Apply(p, at_input_start);
  }
  bool CutsAtLineStarts() const override {
    for (const auto& s : steps_) {
      if (!s->CutsAtLineStarts()) return false;
    }
    return !steps_.empty();
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

constexpr const char* kGpt2Regex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// The split regexes whose every match boundary next to "\n" falls right after the "\n" when the characters
// around it are not spaces (checked by hand for these patterns: GPT-2, Llama-3, Qwen2/3, Qwen-1).
bool IsKnownLineSafeRegex(const std::string& re) {
  static const char* kKnown[] = {
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s+(?!\S)|\s+)",
      kGpt2Regex,
  };
  for (const char* k : kKnown) {
    if (re == k) return true;
  }
  return false;
}

Status Build(const nlohmann::json& j, std::unique_ptr<PreTokenizer>* out, bool* byte_level) {
  if (!j.is_object() || !j.contains("type"))
    return Status::Unsupported("pre_tokenizer without a \"type\": " + j.dump());
  std::string type = j["type"].get<std::string>();
  if (type == "Sequence") {
    std::vector<std::unique_ptr<PreTokenizer>> steps;
    const auto& list = j.value("pretokenizers", nlohmann::json::array());
    for (size_t i = 0; i < list.size(); ++i) {
      bool bl = false;
      std::unique_ptr<PreTokenizer> step;
      FM_RETURN_IF_ERROR(Build(list[i], &step, &bl));
      if (bl && i + 1 != list.size()) {
        return Status::Unsupported(
            "pre_tokenizer Sequence has ByteLevel before other steps (only a final "
            "ByteLevel is supported)");
      }
      if (bl) *byte_level = true;
      steps.push_back(std::move(step));
    }
    *out = std::make_unique<SequencePreTokenizer>(std::move(steps));
  } else if (type == "Split") {
    std::unique_ptr<Pattern> p;
    FM_RETURN_IF_ERROR(
        Pattern::FromJson(j.value("pattern", nlohmann::json()), &p).WithPrefix("pre_tokenizer Split"));
    Behavior b;
    FM_RETURN_IF_ERROR(ParseBehavior(j.value("behavior", std::string("Isolated")), &b));
    bool invert = j.value("invert", false);
    bool line_safe = b == Behavior::kIsolated && !invert && j["pattern"].contains("Regex") &&
                     IsKnownLineSafeRegex(p->source());
    *out = std::make_unique<SplitPreTokenizer>(std::move(p), b, invert, line_safe);
  } else if (type == "ByteLevel") {
    std::unique_ptr<Pattern> re;
    if (j.value("use_regex", true)) FM_RETURN_IF_ERROR(Pattern::Regex(kGpt2Regex, &re));
    *out = std::make_unique<ByteLevelPreTokenizer>(j.value("add_prefix_space", false), std::move(re));
    *byte_level = true;
  } else if (type == "Metaspace") {
    std::string rep = j.value("replacement", std::string("\xE2\x96\x81"));
    auto scheme = MetaspacePreTokenizer::Prepend::kAlways;
    if (j.contains("prepend_scheme") && j["prepend_scheme"].is_string()) {
      std::string s = j["prepend_scheme"].get<std::string>();
      if (s == "first")
        scheme = MetaspacePreTokenizer::Prepend::kFirst;
      else if (s == "never")
        scheme = MetaspacePreTokenizer::Prepend::kNever;
      else if (s != "always")
        return Status::Unsupported("Metaspace prepend_scheme \"" + s + "\" is unknown");
    } else if (j.contains("add_prefix_space") && j["add_prefix_space"].is_boolean()) {
      scheme = j["add_prefix_space"].get<bool>() ? scheme : MetaspacePreTokenizer::Prepend::kNever;
    }
    *out = std::make_unique<MetaspacePreTokenizer>(rep, scheme, j.value("split", true));
  } else if (type == "Digits") {
    std::unique_ptr<Pattern> p;
    FM_RETURN_IF_ERROR(Pattern::Regex(R"(\p{N})", &p));
    bool individual = j.value("individual_digits", false);
    *out = std::make_unique<SplitPreTokenizer>(
        std::move(p), individual ? Behavior::kIsolated : Behavior::kContiguous, false, false);
  } else if (type == "Whitespace") {
    std::unique_ptr<Pattern> p;
    FM_RETURN_IF_ERROR(Pattern::Regex(R"(\w+|[^\w\s]+)", &p));
    *out = std::make_unique<SplitPreTokenizer>(std::move(p), Behavior::kRemoved, true, false);
  } else if (type == "WhitespaceSplit") {
    std::unique_ptr<Pattern> p;
    FM_RETURN_IF_ERROR(Pattern::Regex(R"(\s)", &p));
    *out = std::make_unique<SplitPreTokenizer>(std::move(p), Behavior::kRemoved, false, false);
  } else if (type == "Punctuation") {
    std::unique_ptr<Pattern> p;
    FM_RETURN_IF_ERROR(Pattern::Regex(R"([\p{P}!-/:-@\[-`{-~])", &p));
    Behavior b;
    FM_RETURN_IF_ERROR(ParseBehavior(j.value("behavior", std::string("Isolated")), &b));
    *out = std::make_unique<SplitPreTokenizer>(std::move(p), b, false, false);
  } else {
    return Status::Unsupported(
        "pre_tokenizer type \"" + type +
        "\" is not supported (supported: Sequence, Split, ByteLevel, Metaspace, Digits, "
        "Whitespace, WhitespaceSplit, Punctuation)");
  }
  return Status::Ok();
}

}  // namespace

Status PreTokenizer::FromJson(const nlohmann::json& j, std::unique_ptr<PreTokenizer>* out, bool* byte_level) {
  out->reset();
  *byte_level = false;
  if (j.is_null()) return Status::Ok();
  return Build(j, out, byte_level);
}

}  // namespace fm
