// Tokenizer: text <-> token ids for a model folder, giving the same ids as the model's own Hugging Face
// tokenizer. Tokenizer::Load picks the implementation from the files in the folder:
//
//   tokenizer.json (+ tokenizer_config.json)  Hugging Face tokenizers pipeline (hf_tokenizer.h): normalizer,
//                                             added/special tokens, pre-tokenizer, BPE (byte-level as in
//                                             GPT-2 / Llama-3 / Qwen2-3, or byte-fallback as in Llama-2 /
//                                             Mistral), post-processor, decoder.
//   qwen.tiktoken                             Qwen-1's tiktoken ranks (tiktoken_model.h).
//   tokenizer.model                           a SentencePiece model run by libsentencepiece
//                                             (sentencepiece_model.h).
//
// Ownership: a Tokenizer owns everything it loaded; the caller owns the Tokenizer (unique_ptr).
// Thread-safety: after Load, every const method may be called from any number of threads at once (Encode is
// meant to be run by many threads on one shared Tokenizer).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "tokenizer/string_id_table.h"

namespace fm {

// Token types, numbered as GGUF's tokenizer.ggml.token_type (llama.cpp's llama_token_type).
enum class TokenType : uint8_t {
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6
};

enum class TokenizerKind {
  kByteLevelBpe,     // tokenizer.json BPE over GPT-2 byte-level characters (GGUF model "gpt2")
  kByteFallbackBpe,  // tokenizer.json BPE over characters with <0xNN> byte fallback, SentencePiece-like
                     // ("llama")
  kTiktoken,         // qwen.tiktoken: byte-level BPE by rank ("gpt2" once merges are derived)
  kSentencePiece,    // tokenizer.model through libsentencepiece ("llama")
};
// "bpe", "spm-like byte fallback", "tiktoken", "sentencepiece".
const char* TokenizerKindName(TokenizerKind k);

class Tokenizer {
 public:
  virtual ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Loads the tokenizer of model folder `dir` (see above). Errors name the file and what is wrong.
  static Status Load(const std::string& dir, std::unique_ptr<Tokenizer>* out);

  // Encodes `text`, which must be valid UTF-8 (otherwise InvalidArgument naming the byte offset; repair it
  // first with utf8::Repair). Special and added tokens written in the text become their ids. With
  // `add_special`, adds what the model's post-processor adds (e.g. Llama-3's <|begin_of_text|>).
  // Replaces *ids.
  virtual Status Encode(std::string_view text, bool add_special, std::vector<uint32_t>* ids) const = 0;
  // Turns ids back into text; ids outside the vocabulary are skipped; `skip_special` drops special (control)
  // tokens. Invalid UTF-8 produced by byte tokens becomes U+FFFD.
  virtual std::string Decode(const std::vector<uint32_t>& ids, bool skip_special) const = 0;

  // Cuts `text` into consecutive parts of roughly `target_bytes` whose encodings, concatenated, equal the
  // encoding of `text` (cuts fall at line starts where this tokenizer's pipeline provably splits anyway).
  // Returns one part when no such cut is known for this tokenizer. Used to spread one huge document over
  // threads.
  void SplitForParallelEncode(std::string_view text, size_t target_bytes,
                              std::vector<std::string_view>* parts) const;

  // 1 + the largest token id (added tokens included).
  uint32_t vocab_size() const { return static_cast<uint32_t>(tokens_.size()); }
  // Token spellings by id as the model files write them (byte-level "Ġthe", "<0x0A>", "<|im_end|>"); "" for
  // ids that name no token.
  const std::vector<std::string>& tokens() const { return tokens_; }
  const std::vector<TokenType>& token_types() const { return types_; }
  // SentencePiece piece scores by id (empty for BPE kinds).
  const std::vector<float>& scores() const { return scores_; }
  // BPE merges by rank as (left, right) spellings (derived from the ranks for tiktoken; empty for
  // SentencePiece). Computed on each call.
  virtual std::vector<std::pair<std::string, std::string>> Merges() const { return {}; }

  std::string IdToToken(uint32_t id) const { return id < tokens_.size() ? tokens_[id] : std::string(); }
  std::optional<uint32_t> TokenToId(std::string_view token) const;

  TokenizerKind kind() const { return kind_; }
  std::optional<uint32_t> bos_id() const { return bos_; }
  std::optional<uint32_t> eos_id() const { return eos_; }
  std::optional<uint32_t> unk_id() const { return unk_; }
  std::optional<uint32_t> pad_id() const { return pad_; }
  // Whether Encode(..., add_special=true) puts bos_id() first / eos_id() last.
  bool add_bos() const { return add_bos_; }
  bool add_eos() const { return add_eos_; }
  // The folder and the main file this tokenizer was loaded from.
  const std::string& dir() const { return dir_; }
  const std::string& source_file() const { return source_file_; }

 protected:
  Tokenizer() = default;
  // True when SplitForParallelEncode may cut after a "\n" that sits between two non-space characters.
  virtual bool CutsAtLineStartsAreExact() const { return false; }

  TokenizerKind kind_ = TokenizerKind::kByteLevelBpe;
  std::vector<std::string> tokens_;
  std::vector<TokenType> types_;
  std::vector<float> scores_;
  std::optional<uint32_t> bos_, eos_, unk_, pad_;
  bool add_bos_ = false, add_eos_ = false;
  std::string dir_, source_file_;

 private:
  // tokens_ -> id (the lowest id where a spelling repeats), built by the first TokenToId call: loading
  // does not pay for an index that most commands never use.
  mutable std::once_flag index_once_;
  mutable StringIdTable by_spelling_;
};

}  // namespace fm
