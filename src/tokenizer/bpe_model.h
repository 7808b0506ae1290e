// BpeModel: the "model" of a tokenizer.json with "type": "BPE" — vocabulary, ranked merges, byte fallback,
// unknown-token handling — applied to one pre-tokenized word at a time, exactly as Hugging Face tokenizers'
// BPE does (lowest-rank pair first, leftmost on ties; ignore_merges; byte_fallback to <0xNN>; fuse_unk).
//
// Byte-level models (GPT-2, Llama-3, Qwen) run on raw bytes: their vocabulary is re-keyed from the byte-level
// spelling ("Ġthe") to bytes (" the") when loaded, so no per-call character mapping is needed.
//
// Ownership: owns its vocabulary, merges and word cache. Thread-safety: immutable after FromJson except for
// the internal word cache, which is per thread; EncodeWord may be called from many threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/status.h"

namespace fm {

// Hash and equality that let unordered_map<std::string, V> be searched with a string_view.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using StringIdMap = std::unordered_map<std::string, uint32_t, StringHash, std::equal_to<>>;

// The two big tables of a BPE model, as read from tokenizer.json (hf_tokenizer.cpp streams them out of the
// file without building a JSON tree for them).
struct BpeTables {
  std::vector<std::pair<std::string, int64_t>> vocab;       // token spelling -> id
  std::vector<std::pair<std::string, std::string>> merges;  // by rank
};

class BpeModel {
 public:
  ~BpeModel();
  // `model` is tokenizer.json's "model" object (type BPE); merges may be "a b" strings or ["a", "b"] pairs.
  static Status FromJson(const nlohmann::json& model, bool byte_level, std::unique_ptr<BpeModel>* out);
  // Same, with vocab and merges already extracted (`model` supplies the options only).
  static Status Build(const nlohmann::json& model, const BpeTables& tables, bool byte_level,
                      std::unique_ptr<BpeModel>* out);
  // Splits a merges entry "a b" at its first space (false when there is none).
  static bool SplitMergeString(const std::string& s, std::pair<std::string, std::string>* out);

  // Appends the ids of one word (raw bytes for byte-level models, normalized text otherwise).
  void EncodeWord(std::string_view word, std::vector<uint32_t>* ids) const;

  // 1 + the largest id of the vocabulary.
  uint32_t vocab_size() const { return static_cast<uint32_t>(tokens_.size()); }
  // Token spellings by id as written in tokenizer.json ("" where the vocabulary has no such id).
  const std::vector<std::string>& tokens() const { return tokens_; }
  // Id of a token spelled as in tokenizer.json.
  std::optional<uint32_t> TokenToId(std::string_view spelled) const;
  // The merges by rank, as pairs of token ids.
  const std::vector<std::pair<uint32_t, uint32_t>>& merges() const { return merge_pairs_; }
  bool byte_level() const { return byte_level_; }
  bool byte_fallback() const { return byte_fallback_; }
  std::optional<uint32_t> unk_id() const { return unk_id_; }

 private:
  BpeModel() = default;
  void MergeSymbols(std::vector<uint32_t>* syms) const;
  void InitialSymbols(std::string_view word, std::vector<uint32_t>* syms) const;

  struct Merge {
    uint32_t rank, new_id;
  };
  static uint64_t PairKey(uint32_t a, uint32_t b) { return (static_cast<uint64_t>(a) << 32) | b; }

  bool byte_level_ = false, byte_fallback_ = false, fuse_unk_ = false, ignore_merges_ = false;
  std::string prefix_, suffix_;  // continuing_subword_prefix, end_of_word_suffix
  std::optional<uint32_t> unk_id_;
  std::vector<std::string> tokens_;  // by id, tokenizer.json spelling
  StringIdMap vocab_;                // internal form (raw bytes for byte-level) -> id
  StringIdMap spelled_;              // tokenizer.json spelling -> id
  std::unordered_map<uint64_t, Merge> merges_;
  std::vector<std::pair<uint32_t, uint32_t>> merge_pairs_;
  int64_t byte_ids_[256];      // byte-level: id of each single byte
  int64_t fallback_ids_[256];  // byte_fallback: id of <0xNN>

  // Word cache: words shorter than kMaxCachedWord bytes, one cache per thread (no locks: on repetitive text
  // nearly every word is a cache hit, and shared locked shards serialised the threads on the hot words).
  // cache_id_ tells a thread's caches of different models apart (ids are never reused).
  static constexpr size_t kMaxCachedWord = 256;
  static constexpr size_t kMaxCacheEntries = size_t{1} << 19;  // per thread; cleared when full
  uint64_t cache_id_ = 0;
};

}  // namespace fm
