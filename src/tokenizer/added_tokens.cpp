#include "tokenizer/added_tokens.h"

#include <unicode/uchar.h>

#include "tokenizer/utf8.h"

namespace fm {

namespace {

// Code point before byte offset `pos` (pos > 0) of valid UTF-8.
uint32_t CodepointBefore(std::string_view s, size_t pos, size_t* start) {
  size_t b = pos - 1;
  while (b > 0 && (static_cast<unsigned char>(s[b]) & 0xC0) == 0x80) --b;
  size_t len;
  *start = b;
  return utf8::Decode(s, b, &len);
}

// Hugging Face's word character for single_word tokens: alphanumeric or '_'.
bool IsWordChar(uint32_t cp) {
  return cp == '_' || u_isalnum(static_cast<UChar32>(cp));
}

}  // namespace

void AddedTokens::Trie::Insert(std::string_view s, int32_t token) {
  if (s.empty()) return;
  int32_t node = 0;
  for (unsigned char c : s) {
    uint64_t key = (static_cast<uint64_t>(node) << 8) | c;
    auto it = edges.find(key);
    if (it == edges.end()) {
      int32_t child = static_cast<int32_t>(terminal.size());
      terminal.push_back(-1);
      edges.emplace(key, child);
      node = child;
    } else {
      node = it->second;
    }
  }
  first[static_cast<unsigned char>(s[0])] = true;
  if (terminal[node] < 0) terminal[node] = token;  // the first token with a given content wins
}

AddedTokens::AddedTokens(std::vector<AddedToken> tokens) : tokens_(std::move(tokens)) {
  for (size_t i = 0; i < tokens_.size(); ++i) {
    const AddedToken& t = tokens_[i];
    by_id_.emplace(t.id, i);
    (t.normalized ? normalized_ : raw_).Insert(t.content, static_cast<int32_t>(i));
  }
}

bool AddedTokens::HasLstrip() const {
  for (const auto& t : tokens_) {
    if (t.lstrip) return true;
  }
  return false;
}

const AddedToken* AddedTokens::ById(uint32_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &tokens_[it->second];
}

const AddedToken* AddedTokens::ByContent(std::string_view content) const {
  for (const auto& t : tokens_) {
    if (t.content == content) return &t;
  }
  return nullptr;
}

void AddedTokens::Split(std::string_view text, bool normalized, std::vector<Piece>* out) const {
  out->clear();
  const Trie& trie = TrieFor(normalized);
  size_t n = text.size(), prev = 0, i = 0;
  if (!trie.empty()) {
    while (i < n) {
      unsigned char c0 = static_cast<unsigned char>(text[i]);
      if (!trie.first[c0]) {
        ++i;
        continue;
      }
      // Longest token starting at i.
      int32_t node = 0, best = -1;
      size_t best_end = 0;
      for (size_t j = i; j < n; ++j) {
        auto it = trie.edges.find((static_cast<uint64_t>(node) << 8) | static_cast<unsigned char>(text[j]));
        if (it == trie.edges.end()) break;
        node = it->second;
        if (trie.terminal[node] >= 0) {
          best = trie.terminal[node];
          best_end = j + 1;
        }
      }
      if (best < 0) {
        ++i;
        continue;
      }
      const AddedToken& t = tokens_[best];
      size_t start = i, stop = best_end;
      if (t.single_word) {
        size_t ps, len;
        bool before_ok = start == 0 || !IsWordChar(CodepointBefore(text, start, &ps));
        bool after_ok = stop == n || !IsWordChar(utf8::Decode(text, stop, &len));
        if (!before_ok || !after_ok) {
          i = stop;  // matches do not overlap: the rejected text stays ordinary text
          continue;
        }
      }
      if (t.lstrip) {
        while (start > prev) {
          size_t ps;
          if (!utf8::IsWhiteSpace(CodepointBefore(text, start, &ps))) break;
          start = ps;
        }
      }
      if (t.rstrip) {
        while (stop < n) {
          size_t len;
          if (!utf8::IsWhiteSpace(utf8::Decode(text, stop, &len))) break;
          stop += len;
        }
      }
      if (start > prev) out->push_back({prev, start, -1});
      out->push_back({start, stop, static_cast<int64_t>(t.id)});
      prev = i = stop;
    }
  }
  if (prev < n) out->push_back({prev, n, -1});
}

}  // namespace fm
