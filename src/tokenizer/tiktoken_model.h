// TiktokenTokenizer: Qwen-1's tokenizer — a `qwen.tiktoken` file of "<base64 token bytes> <rank>" lines,
// byte-level BPE by rank (tiktoken's byte_pair_merge: repeatedly join the adjacent pair whose joined bytes
// have the lowest rank, leftmost on ties), Qwen-1's split regex, NFC normalization, and the special tokens
// <|endoftext|> = N, <|im_start|> = N+1, <|im_end|> = N+2, <|extra_0|> .. <|extra_204|> = N+3 .. where N is
// the number of ranks (151643 for Qwen-1). Special tokens written in the text become their ids (Qwen-1's
// tokenize() allows all of them). eos is <|endoftext|>; there is no bos.
//
// Ownership: owns its tables. Thread-safety: immutable after loading; Encode/Decode are thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe_model.h"
#include "tokenizer/pattern.h"
#include "tokenizer/tokenizer.h"

namespace fm {

class TiktokenTokenizer : public Tokenizer {
 public:
  ~TiktokenTokenizer() override;
  // Loads `dir`/qwen.tiktoken.
  static Status Load(const std::string& dir, std::unique_ptr<Tokenizer>* out);
  // Builds from the text of a .tiktoken file; `source` names it in error messages.
  static Status FromRanksText(std::string_view text, const std::string& source,
                              std::unique_ptr<TiktokenTokenizer>* out);

  Status Encode(std::string_view text, bool add_special, std::vector<uint32_t>* ids) const override;
  std::string Decode(const std::vector<uint32_t>& ids, bool skip_special) const override;
  // Merges that reproduce the ranks as an ordinary BPE (what llama.cpp's converter derives for Qwen-1).
  std::vector<std::pair<std::string, std::string>> Merges() const override;

  static constexpr const char* kSplitRegex =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s+(?!\S)|\s+)";

 protected:
  bool CutsAtLineStartsAreExact() const override { return true; }

 private:
  TiktokenTokenizer() = default;
  void EncodePiece(std::string_view piece, std::vector<uint32_t>* ids) const;
  // Part boundaries of `piece` after merging by rank, considering only ranks below `max_rank`.
  void BytePairMerge(std::string_view piece, uint32_t max_rank, std::vector<size_t>* bounds) const;
  uint32_t RankOf(std::string_view bytes) const;

  StringIdMap ranks_;               // token bytes -> rank (= id)
  std::vector<std::string> bytes_;  // id -> token bytes (special tokens: their text)
  uint32_t num_ranks_ = 0;
  AddedTokens specials_;
  std::unique_ptr<Pattern> regex_;
};

}  // namespace fm
