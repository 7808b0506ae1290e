// BpeModel: the "model" of a tokenizer.json with "type": "BPE" — vocabulary, ranked merges, byte fallback,
// unknown-token handling — applied to one pre-tokenized word at a time, exactly as Hugging Face tokenizers'
// BPE does (lowest-rank pair first, leftmost on ties; ignore_merges; byte_fallback to <0xNN>; fuse_unk).
//
// Byte-level models (GPT-2, Llama-3, Qwen) run on raw bytes: their vocabulary is re-keyed from the byte-level
// spelling ("Ġthe") to bytes (" the") when loaded, so no per-call character mapping is needed.
//
// Ownership: owns its vocabulary, merges and word cache. Thread-safety: immutable after FromJson except for
// the internal word cache, which is thread-safe; EncodeWord may be called from many threads at once.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <list>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/status.h"
#include "tokenizer/string_id_table.h"
#include "tokenizer/word_cache.h"

namespace fm {

// Hash and equality that let unordered_map<std::string, V> be searched with a string_view.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using StringIdMap = std::unordered_map<std::string, uint32_t, StringHash, std::equal_to<>>;

// The two big tables of a BPE model, as read from tokenizer.json (hundreds of thousands of entries, so they
// are kept small). The strings are views: into the file's text or the parsed JSON, which must outlive Build,
// or into `unescaped` for strings that had to be rewritten (JSON escapes, or the halves of an "a b" merge
// parsed from a DOM string).
struct BpeTables {
  struct Token {
    const char* data;
    uint32_t size;
    uint32_t id;  // at most INT32_MAX
    std::string_view text() const { return {data, size}; }
  };
  struct Merge {
    const char *left, *right;
    uint32_t left_size, right_size;
    std::string_view first() const { return {left, left_size}; }
    std::string_view second() const { return {right, right_size}; }
  };
  void AddToken(std::string_view text, uint32_t id) {
    vocab.push_back({text.data(), static_cast<uint32_t>(text.size()), id});
  }
  void AddMerge(std::string_view a, std::string_view b) {
    merges.push_back({a.data(), b.data(), static_cast<uint32_t>(a.size()), static_cast<uint32_t>(b.size())});
  }
  std::vector<Token> vocab;          // spelling -> id, in file order
  std::vector<Merge> merges;         // by rank
  std::list<std::string> unescaped;  // stable storage for the views that need it (splice keeps them valid)
};

class BpeModel {
 public:
  ~BpeModel();
  // `model` is tokenizer.json's "model" object (type BPE); merges may be "a b" strings or ["a", "b"] pairs.
  // *tokens receives the token spellings by id as written in tokenizer.json ("" where the vocabulary has no
  // such id); the model keeps only its lookup tables (HfTokenizer owns the token list).
  static Status FromJson(const nlohmann::json& model, bool byte_level, std::unique_ptr<BpeModel>* out,
                         std::vector<std::string>* tokens);
  // Same, with vocab and merges already extracted (`model` supplies the options only).
  static Status Build(const nlohmann::json& model, const BpeTables& tables, bool byte_level,
                      std::unique_ptr<BpeModel>* out, std::vector<std::string>* tokens);
  // Splits a merges entry "a b" at its first space (false when there is none).
  static bool SplitMergeString(std::string_view s, std::pair<std::string_view, std::string_view>* out);

  // Appends the ids of one word (raw bytes for byte-level models, normalized text otherwise).
  void EncodeWord(std::string_view word, std::vector<uint32_t>* ids) const;

  // 1 + the largest id of the vocabulary.
  uint32_t vocab_size() const { return vocab_size_; }
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
    uint32_t rank, new_id;  // rank kNoMerge: the pair has no merge
  };
  static constexpr uint32_t kNoMerge = ~uint32_t{0};
  static uint64_t PairKey(uint32_t a, uint32_t b) { return (static_cast<uint64_t>(a) << 32) | b; }
  static size_t MergeSlotOf(uint64_t key, int shift) { return (key * 0x9E3779B97F4A7C15ull) >> shift; }
  // The merge of the adjacent symbols (a, b).
  Merge FindMerge(uint32_t a, uint32_t b) const {
    uint64_t key = PairKey(a, b) + 1;
    for (size_t i = MergeSlotOf(key, merge_shift_);; i = (i + 1) & merge_mask_) {
      const MergeSlot& s = merge_slots_.get()[i];
      if (s.key == key) return {static_cast<uint32_t>(~s.merge >> 32), static_cast<uint32_t>(~s.merge)};
      if (s.key == 0) return {kNoMerge, 0};
    }
  }
  void PrefetchMerge(uint32_t a, uint32_t b) const {
    __builtin_prefetch(&merge_slots_.get()[MergeSlotOf(PairKey(a, b) + 1, merge_shift_)]);
  }
  // Adds a merge; of two merges of the same pair the lower rank (the first occurrence) wins, as in Hugging
  // Face tokenizers. Thread-safe: the merge table is built by all threads at once.
  void InsertMerge(uint32_t a, uint32_t b, Merge m);

  bool byte_level_ = false, byte_fallback_ = false, fuse_unk_ = false, ignore_merges_ = false;
  std::string prefix_, suffix_;  // continuing_subword_prefix, end_of_word_suffix
  std::optional<uint32_t> unk_id_;
  uint32_t vocab_size_ = 0;
  StringIdTable spelled_;  // tokenizer.json spelling -> id
  StringIdTable vocab_;    // byte-level models: raw bytes -> id, when internal_ needs it (see Build)
  // Where whole words (ignore_merges) and single characters (InitialSymbols' general path) are looked up:
  // spelled_, or vocab_ for byte-level models; null for byte-level models that never take those paths.
  const StringIdTable* internal_ = nullptr;
  // Merges by (left id, right id): open addressing with linear probing, at most 3/4 full. All zeros is an
  // empty slot, so the table comes zeroed from calloc and is first touched by the threads that fill it (on
  // this project's virtual machines a first touch of a page costs ~10 us). Build fills it from all threads
  // through std::atomic_ref; afterwards it is only read.
  struct MergeSlot {
    uint64_t key;    // PairKey + 1, or 0 when the slot is free
    uint64_t merge;  // ~(rank << 32 | new id): the largest value is the lowest rank; 0 until the first merge
  };
  struct FreeDeleter {
    void operator()(void* p) const { std::free(p); }
  };
  std::unique_ptr<MergeSlot, FreeDeleter> merge_slots_;
  size_t merge_mask_ = 0;
  int merge_shift_ = 64;
  std::vector<std::pair<uint32_t, uint32_t>> merge_pairs_;
  int64_t byte_ids_[256];      // byte-level: id of each single byte
  int64_t fallback_ids_[256];  // byte_fallback: id of <0xNN>

  // Words shorter than kMaxCachedWord bytes are encoded once and then read from the cache, which all threads
  // share (word_cache.h).
  static constexpr size_t kMaxCachedWord = 256;
  mutable WordCache cache_;
};

}  // namespace fm
