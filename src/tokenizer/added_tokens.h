// AddedTokens: the "added_tokens" of a tokenizer.json (special tokens such as <|im_end|>, and user-defined
// ones), found in raw text before normalization and pre-tokenization, as Hugging Face tokenizers does by
// default: leftmost-longest matching, single_word (only between non-word characters), lstrip / rstrip (the
// match swallows the whitespace beside it), and normalized (such tokens are matched in normalized text).
//
// Ownership: owns copies of the tokens. Immutable after construction; Split is thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace fm {

struct AddedToken {
  uint32_t id = 0;
  std::string content;
  bool single_word = false, lstrip = false, rstrip = false, normalized = false, special = false;
};

class AddedTokens {
 public:
  AddedTokens() = default;
  explicit AddedTokens(std::vector<AddedToken> tokens);

  // A piece of the input: a matched token (id >= 0) or a text span to encode (id == -1).
  struct Piece {
    size_t begin, end;
    int64_t id;
  };
  // Cuts `text` into pieces using the tokens whose `normalized` flag equals `normalized`.
  void Split(std::string_view text, bool normalized, std::vector<Piece>* out) const;

  bool HasNormalized() const { return !normalized_.empty(); }
  bool HasLstrip() const;
  const std::vector<AddedToken>& tokens() const { return tokens_; }
  const AddedToken* ById(uint32_t id) const;
  const AddedToken* ByContent(std::string_view content) const;

 private:
  // A byte trie of the token contents of one group (normalized or not).
  struct Trie {
    std::vector<int32_t> terminal;                // node -> token index or -1
    std::unordered_map<uint64_t, int32_t> edges;  // (node << 8 | byte) -> child node
    std::array<bool, 256> first{};                // bytes that start some token
    Trie() : terminal(1, -1) {}
    void Insert(std::string_view s, int32_t token);
    bool empty() const { return terminal.size() == 1; }
  };
  const Trie& TrieFor(bool normalized) const { return normalized ? normalized_ : raw_; }

  std::vector<AddedToken> tokens_;
  Trie raw_, normalized_;
  std::unordered_map<uint32_t, size_t> by_id_;
};

}  // namespace fm
