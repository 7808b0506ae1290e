#include "tokenizer/normalizer.h"

#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/unistr.h>
#include <unicode/ustring.h>

#include <nlohmann/json.hpp>
#include <vector>

#include "tokenizer/pattern.h"
#include "tokenizer/utf8.h"

namespace fm {

namespace {

const icu::Normalizer2* IcuNormalizer(UnicodeForm form) {
  UErrorCode err = U_ZERO_ERROR;
  switch (form) {
    case UnicodeForm::kNFC:
      return icu::Normalizer2::getNFCInstance(err);
    case UnicodeForm::kNFD:
      return icu::Normalizer2::getNFDInstance(err);
    case UnicodeForm::kNFKC:
      return icu::Normalizer2::getNFKCInstance(err);
    case UnicodeForm::kNFKD:
      return icu::Normalizer2::getNFKDInstance(err);
  }
  return nullptr;
}

class UnicodeNormalizer : public Normalizer {
 public:
  explicit UnicodeNormalizer(UnicodeForm form) : form_(form) {}
  std::string Normalize(std::string_view text) const override { return NormalizeUnicode(text, form_); }
  bool IsUnicodeFormOnly() const override { return true; }

 private:
  UnicodeForm form_;
};

class PrependNormalizer : public Normalizer {
 public:
  explicit PrependNormalizer(std::string prepend) : prepend_(std::move(prepend)) {}
  std::string Normalize(std::string_view text) const override {
    if (text.empty()) return std::string();
    return prepend_ + std::string(text);
  }

 private:
  std::string prepend_;
};

class ReplaceNormalizer : public Normalizer {
 public:
  ReplaceNormalizer(std::unique_ptr<Pattern> p, std::string content)
      : pattern_(std::move(p)), content_(std::move(content)) {}
  std::string Normalize(std::string_view text) const override { return pattern_->ReplaceAll(text, content_); }

 private:
  std::unique_ptr<Pattern> pattern_;
  std::string content_;
};

class StripNormalizer : public Normalizer {
 public:
  StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
  std::string Normalize(std::string_view text) const override {
    size_t b = 0, e = text.size();
    if (left_) {
      while (b < e) {
        size_t len;
        uint32_t cp = utf8::Decode(text, b, &len);
        if (!utf8::IsWhiteSpace(cp)) break;
        b += len;
      }
    }
    if (right_) {
      while (e > b) {
        size_t s = e - 1;
        while (s > b && (static_cast<unsigned char>(text[s]) & 0xC0) == 0x80) --s;
        size_t len;
        if (!utf8::IsWhiteSpace(utf8::Decode(text, s, &len))) break;
        e = s;
      }
    }
    return std::string(text.substr(b, e - b));
  }

 private:
  bool left_, right_;
};

class LowercaseNormalizer : public Normalizer {
 public:
  std::string Normalize(std::string_view text) const override {
    icu::UnicodeString u =
        icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), static_cast<int32_t>(text.size())));
    u.toLower(icu::Locale::getRoot());
    std::string out;
    u.toUTF8String(out);
    return out;
  }
};

class SequenceNormalizer : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> parts) : parts_(std::move(parts)) {}
  std::string Normalize(std::string_view text) const override {
    std::string s(text);
    for (const auto& p : parts_) s = p->Normalize(s);
    return s;
  }
  bool IsUnicodeFormOnly() const override {
    for (const auto& p : parts_) {
      if (!p->IsUnicodeFormOnly()) return false;
    }
    return true;
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> parts_;
};

}  // namespace

std::string NormalizeUnicode(std::string_view text, UnicodeForm form) {
  if (utf8::IsAscii(text)) return std::string(text);
  const icu::Normalizer2* n = IcuNormalizer(form);
  icu::UnicodeString u =
      icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), static_cast<int32_t>(text.size())));
  UErrorCode err = U_ZERO_ERROR;
  if (n->isNormalized(u, err) && U_SUCCESS(err)) return std::string(text);
  err = U_ZERO_ERROR;
  icu::UnicodeString result = n->normalize(u, err);
  if (U_FAILURE(err)) return std::string(text);
  std::string out;
  result.toUTF8String(out);
  return out;
}

Status Normalizer::FromJson(const nlohmann::json& j, std::unique_ptr<Normalizer>* out) {
  out->reset();
  if (j.is_null()) return Status::Ok();
  if (!j.is_object() || !j.contains("type"))
    return Status::Unsupported("normalizer without a \"type\": " + j.dump());
  std::string type = j["type"].get<std::string>();
  if (type == "NFC") {
    *out = std::make_unique<UnicodeNormalizer>(UnicodeForm::kNFC);
  } else if (type == "NFD") {
    *out = std::make_unique<UnicodeNormalizer>(UnicodeForm::kNFD);
  } else if (type == "NFKC") {
    *out = std::make_unique<UnicodeNormalizer>(UnicodeForm::kNFKC);
  } else if (type == "NFKD") {
    *out = std::make_unique<UnicodeNormalizer>(UnicodeForm::kNFKD);
  } else if (type == "Prepend") {
    *out = std::make_unique<PrependNormalizer>(j.value("prepend", std::string()));
  } else if (type == "Replace") {
    std::unique_ptr<Pattern> p;
    FM_RETURN_IF_ERROR(
        Pattern::FromJson(j.value("pattern", nlohmann::json()), &p).WithPrefix("normalizer Replace"));
    *out = std::make_unique<ReplaceNormalizer>(std::move(p), j.value("content", std::string()));
  } else if (type == "Strip") {
    *out = std::make_unique<StripNormalizer>(j.value("strip_left", false), j.value("strip_right", false));
  } else if (type == "Lowercase") {
    *out = std::make_unique<LowercaseNormalizer>();
  } else if (type == "Sequence") {
    std::vector<std::unique_ptr<Normalizer>> parts;
    for (const auto& sub : j.value("normalizers", nlohmann::json::array())) {
      std::unique_ptr<Normalizer> n;
      FM_RETURN_IF_ERROR(FromJson(sub, &n));
      if (n) parts.push_back(std::move(n));
    }
    *out = std::make_unique<SequenceNormalizer>(std::move(parts));
  } else {
    return Status::Unsupported(
        "normalizer type \"" + type +
        "\" is not supported (supported: NFC, NFD, NFKC, NFKD, Prepend, Replace, Strip, "
        "Lowercase, Sequence)");
  }
  return Status::Ok();
}

}  // namespace fm
