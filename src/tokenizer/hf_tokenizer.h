// HfTokenizer: a Hugging Face tokenizer.json pipeline — normalizer, added tokens, pre-tokenizer, BPE model,
// post-processor, decoder — plus the bos/eos names of tokenizer_config.json. Only "type": "BPE" models are
// supported (every Llama, Mistral, Qwen and GPT-2 style tokenizer); anything else is rejected with a message.
//
// Encode follows Hugging Face tokenizers:
//   1. added tokens with normalized=false (all special tokens) are cut out of the raw text;
//   2. each remaining piece is normalized, then added tokens with normalized=true are cut out of it;
//   3. the rest is pre-tokenized into words and each word is run through BPE;
//   4. with add_special, the post-processor's ids are added around the result.
//
// Ownership: owns its components. Thread-safety: see Tokenizer (all const methods are safe concurrently).
#pragma once

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe_model.h"
#include "tokenizer/decoder.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/post_processor.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace fm {

class HfTokenizer : public Tokenizer {
 public:
  ~HfTokenizer() override;
  // `dir` holds tokenizer.json; tokenizer_config.json is optional (it names bos/eos).
  static Status Load(const std::string& dir, std::unique_ptr<Tokenizer>* out);
  // Builds from parsed JSON (`config` may be null). `source` names the file in error messages.
  static Status FromJson(const nlohmann::json& tokenizer, const nlohmann::json& config,
                         const std::string& source, std::unique_ptr<HfTokenizer>* out);

  Status Encode(std::string_view text, bool add_special, std::vector<uint32_t>* ids) const override;
  std::string Decode(const std::vector<uint32_t>& ids, bool skip_special) const override;
  std::vector<std::pair<std::string, std::string>> Merges() const override;

 protected:
  bool CutsAtLineStartsAreExact() const override { return line_cuts_exact_; }

 private:
  HfTokenizer() = default;
  // `tables` holds model.vocab / model.merges when they were streamed out of the file; null: read them from
  // `tokenizer`.
  static Status Create(const nlohmann::json& tokenizer, const nlohmann::json& config,
                       const std::string& source, const BpeTables* tables, std::unique_ptr<HfTokenizer>* out);
  void EncodeSection(std::string_view section, bool at_input_start, std::vector<uint32_t>* ids) const;
  // What TokenToId gives, from the model's table and the added tokens (without building TokenToId's index).
  std::optional<uint32_t> LowestIdSpelled(std::string_view s) const;
  // The model's spelling of an id that an added token spelled differently took over; a null view otherwise.
  std::string_view ModelSpelling(uint32_t id) const;
  void EncodeWords(std::string_view text, bool at_input_start, std::vector<uint32_t>* ids) const;

  std::unique_ptr<Normalizer> normalizer_;       // null: none
  std::unique_ptr<PreTokenizer> pre_tokenizer_;  // null: the whole piece is one word
  std::unique_ptr<BpeModel> model_;
  std::unique_ptr<Decoder> decoder_;  // null: tokens joined with spaces
  PostProcessor post_;
  AddedTokens added_;
  bool line_cuts_exact_ = false;
  std::vector<std::pair<uint32_t, std::string>> model_spellings_;  // see ModelSpelling (almost always empty)
};

}  // namespace fm
