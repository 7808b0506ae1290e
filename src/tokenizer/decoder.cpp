#include "tokenizer/decoder.h"

#include <nlohmann/json.hpp>

#include "tokenizer/byte_level.h"
#include "tokenizer/pattern.h"
#include "tokenizer/utf8.h"

namespace fm {

namespace {

void ReplaceAllLiteral(std::string* s, std::string_view from, std::string_view to) {
  if (from.empty() || s->find(from) == std::string::npos) return;
  std::string out;
  out.reserve(s->size());
  size_t prev = 0, pos;
  while ((pos = s->find(from, prev)) != std::string::npos) {
    out.append(*s, prev, pos - prev);
    out.append(to);
    prev = pos + from.size();
  }
  out.append(*s, prev, std::string::npos);
  s->swap(out);
}

// All tokens become one string; a token whose characters are all in the byte-level alphabet contributes its
// bytes, any other (an added token such as "<|im_end|>" spelled outside it) its own text; invalid UTF-8 in
// the result becomes U+FFFD.
class ByteLevelDecoder : public Decoder {
 public:
  void DecodeChain(std::vector<std::string>* tokens) const override {
    std::string bytes, one;
    for (const auto& t : *tokens) {
      if (byte_level::Decode(t, &one)) {
        bytes += one;
      } else {
        bytes += t;
      }
    }
    tokens->assign(1, utf8::Lossy(bytes));
  }
};

class MetaspaceDecoder : public Decoder {
 public:
  MetaspaceDecoder(std::string replacement, bool strip_first)
      : rep_(std::move(replacement)), strip_first_(strip_first) {}
  void DecodeChain(std::vector<std::string>* tokens) const override {
    for (size_t i = 0; i < tokens->size(); ++i) {
      std::string& t = (*tokens)[i];
      ReplaceAllLiteral(&t, rep_, " ");
      if (i == 0 && strip_first_ && !t.empty() && t[0] == ' ') t.erase(0, 1);
    }
  }

 private:
  std::string rep_;
  bool strip_first_;
};

// Runs of <0xNN> tokens become the text of their bytes; an invalid run becomes one U+FFFD per byte.
class ByteFallbackDecoder : public Decoder {
 public:
  void DecodeChain(std::vector<std::string>* tokens) const override {
    std::vector<std::string> out;
    out.reserve(tokens->size());
    std::string run;
    size_t run_len = 0;
    auto flush = [&]() {
      if (run_len == 0) return;
      if (utf8::IsValid(run)) {
        out.push_back(run);
      } else {
        for (size_t k = 0; k < run_len; ++k) out.push_back("\xEF\xBF\xBD");
      }
      run.clear();
      run_len = 0;
    };
    for (auto& t : *tokens) {
      int byte = ParseByteToken(t);
      if (byte >= 0) {
        run.push_back(static_cast<char>(byte));
        ++run_len;
      } else {
        flush();
        out.push_back(std::move(t));
      }
    }
    flush();
    tokens->swap(out);
  }

 private:
  static int ParseByteToken(const std::string& t) {
    if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') return -1;
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    int hi = hex(t[3]), lo = hex(t[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
  }
};

class FuseDecoder : public Decoder {
 public:
  void DecodeChain(std::vector<std::string>* tokens) const override {
    std::string all;
    for (const auto& t : *tokens) all += t;
    tokens->assign(1, std::move(all));
  }
};

// Removes up to `start` leading and `stop` trailing occurrences of one character from every token.
class StripDecoder : public Decoder {
 public:
  StripDecoder(std::string content, size_t start, size_t stop)
      : content_(std::move(content)), start_(start), stop_(stop) {}
  void DecodeChain(std::vector<std::string>* tokens) const override {
    if (content_.empty()) return;
    for (auto& t : *tokens) {
      size_t b = 0;
      for (size_t k = 0; k < start_ && t.compare(b, content_.size(), content_) == 0; ++k)
        b += content_.size();
      size_t e = t.size();
      for (size_t k = 0; k < stop_ && e >= b + content_.size() &&
                         t.compare(e - content_.size(), content_.size(), content_) == 0;
           ++k) {
        e -= content_.size();
      }
      t = t.substr(b, e - b);
    }
  }

 private:
  std::string content_;
  size_t start_, stop_;
};

class ReplaceDecoder : public Decoder {
 public:
  ReplaceDecoder(std::unique_ptr<Pattern> p, std::string content)
      : pattern_(std::move(p)), content_(std::move(content)) {}
  void DecodeChain(std::vector<std::string>* tokens) const override {
    for (auto& t : *tokens) t = pattern_->ReplaceAll(t, content_);
  }

 private:
  std::unique_ptr<Pattern> pattern_;
  std::string content_;
};

class SequenceDecoder : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> steps) : steps_(std::move(steps)) {}
  void DecodeChain(std::vector<std::string>* tokens) const override {
    for (const auto& s : steps_) s->DecodeChain(tokens);
  }

 private:
  std::vector<std::unique_ptr<Decoder>> steps_;
};

}  // namespace

std::string Decoder::Decode(std::vector<std::string> tokens) const {
  DecodeChain(&tokens);
  std::string out;
  for (const auto& t : tokens) out += t;
  return out;
}

Status Decoder::FromJson(const nlohmann::json& j, std::unique_ptr<Decoder>* out) {
  out->reset();
  if (j.is_null()) return Status::Ok();
  std::string type = j.value("type", std::string());
  if (type == "ByteLevel") {
    *out = std::make_unique<ByteLevelDecoder>();
  } else if (type == "Metaspace") {
    std::string scheme = j.value("prepend_scheme", std::string("always"));
    bool strip_first = scheme != "never";
    if (!j.contains("prepend_scheme") && j.contains("add_prefix_space"))
      strip_first = j.value("add_prefix_space", true);
    *out =
        std::make_unique<MetaspaceDecoder>(j.value("replacement", std::string("\xE2\x96\x81")), strip_first);
  } else if (type == "ByteFallback") {
    *out = std::make_unique<ByteFallbackDecoder>();
  } else if (type == "Fuse") {
    *out = std::make_unique<FuseDecoder>();
  } else if (type == "Strip") {
    *out = std::make_unique<StripDecoder>(j.value("content", std::string(" ")), j.value("start", size_t{0}),
                                          j.value("stop", size_t{0}));
  } else if (type == "Replace") {
    std::unique_ptr<Pattern> p;
    FM_RETURN_IF_ERROR(
        Pattern::FromJson(j.value("pattern", nlohmann::json()), &p).WithPrefix("decoder Replace"));
    *out = std::make_unique<ReplaceDecoder>(std::move(p), j.value("content", std::string()));
  } else if (type == "Sequence") {
    std::vector<std::unique_ptr<Decoder>> steps;
    for (const auto& d : j.value("decoders", nlohmann::json::array())) {
      std::unique_ptr<Decoder> step;
      FM_RETURN_IF_ERROR(FromJson(d, &step));
      if (step) steps.push_back(std::move(step));
    }
    *out = std::make_unique<SequenceDecoder>(std::move(steps));
  } else {
    return Status::Unsupported(
        "decoder type \"" + type +
        "\" is not supported (supported: ByteLevel, Metaspace, ByteFallback, Fuse, Strip, "
        "Replace, Sequence)");
  }
  return Status::Ok();
}

}  // namespace fm
