// SentencePieceTokenizer: a model folder with only a SentencePiece `tokenizer.model`, run by Debian's
// libsentencepiece. Control pieces (<s>, </s>) and the unknown piece written in the text are cut out first
// and the text between them is encoded piece by piece, as Hugging Face's slow LlamaTokenizer (legacy mode)
// does. add_special prepends bos (and appends eos) as tokenizer_config.json's add_bos_token / add_eos_token
// say (default: bos only).
//
// Ownership: owns the processor. Thread-safety: libsentencepiece's const Encode/Decode are thread-safe, so
// all const methods are.
#pragma once

#include <memory>
#include <string>

#include "tokenizer/added_tokens.h"
#include "tokenizer/tokenizer.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace fm {

class SentencePieceTokenizer : public Tokenizer {
 public:
  ~SentencePieceTokenizer() override;
  // Loads `dir`/tokenizer.model (and tokenizer_config.json when present).
  static Status Load(const std::string& dir, std::unique_ptr<Tokenizer>* out);

  Status Encode(std::string_view text, bool add_special, std::vector<uint32_t>* ids) const override;
  std::string Decode(const std::vector<uint32_t>& ids, bool skip_special) const override;

 private:
  SentencePieceTokenizer();
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
  AddedTokens specials_;
};

}  // namespace fm
