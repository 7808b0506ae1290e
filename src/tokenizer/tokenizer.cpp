#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <filesystem>

#include "tokenizer/hf_tokenizer.h"
#include "tokenizer/sentencepiece_model.h"
#include "tokenizer/tiktoken_model.h"
#include "tokenizer/utf8.h"

namespace fm {

const char* TokenizerKindName(TokenizerKind k) {
  switch (k) {
    case TokenizerKind::kByteLevelBpe:
      return "bpe";
    case TokenizerKind::kByteFallbackBpe:
      return "spm-like byte fallback";
    case TokenizerKind::kTiktoken:
      return "tiktoken";
    case TokenizerKind::kSentencePiece:
      return "sentencepiece";
  }
  return "?";
}

Tokenizer::~Tokenizer() = default;

Status Tokenizer::Load(const std::string& dir, std::unique_ptr<Tokenizer>* out) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return Status::NotFound(dir +
                            ": tokenizer folder does not exist (give a model folder holding tokenizer.json, "
                            "qwen.tiktoken or tokenizer.model)");
  }
  if (fs::exists(dir + "/tokenizer.json", ec)) return HfTokenizer::Load(dir, out);
  if (fs::exists(dir + "/qwen.tiktoken", ec)) return TiktokenTokenizer::Load(dir, out);
  if (fs::exists(dir + "/tokenizer.model", ec)) return SentencePieceTokenizer::Load(dir, out);
  return Status::NotFound(dir + ": no tokenizer.json, qwen.tiktoken or tokenizer.model in this folder");
}

std::optional<uint32_t> Tokenizer::TokenToId(std::string_view token) const {
  std::call_once(index_once_, [this] {
    size_t bytes = 0;
    for (const auto& t : tokens_) bytes += t.size();
    by_spelling_.Reserve(tokens_.size(), bytes);
    for (size_t i = 0; i < tokens_.size(); ++i) {
      if (!tokens_[i].empty()) by_spelling_.Insert(tokens_[i], static_cast<uint32_t>(i));
    }
  });
  return by_spelling_.Find(token);
}

void Tokenizer::SplitForParallelEncode(std::string_view text, size_t target_bytes,
                                       std::vector<std::string_view>* parts) const {
  parts->clear();
  if (target_bytes == 0 || text.size() <= target_bytes || !CutsAtLineStartsAreExact()) {
    parts->push_back(text);
    return;
  }
  auto is_space_at = [&](size_t i) {
    size_t len;
    return utf8::IsWhiteSpace(utf8::Decode(text, i, &len));
  };
  auto space_before = [&](size_t i) {  // i > 0: the character ending at byte i is white space
    size_t b = i - 1;
    while (b > 0 && (static_cast<unsigned char>(text[b]) & 0xC0) == 0x80) --b;
    return is_space_at(b);
  };
  size_t start = 0;
  while (text.size() - start > target_bytes) {
    // A cut at c: text[c-1] == '\n', the characters before that "\n" and at c are not white space.
    size_t c = start + target_bytes, found = 0;
    while (c < text.size()) {
      size_t nl = text.find('\n', c);
      if (nl == std::string_view::npos || nl + 1 >= text.size()) break;
      c = nl + 1;
      if (nl > start && !space_before(nl) && !is_space_at(c)) {
        found = c;
        break;
      }
    }
    if (!found) break;
    parts->push_back(text.substr(start, found - start));
    start = found;
  }
  parts->push_back(text.substr(start));
}

}  // namespace fm
