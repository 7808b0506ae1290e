// Training the demo world's tokenizer: a byte-level BPE (GPT-2 style: the GPT-2 regex pre-tokenizer, the
// byte-level alphabet, merges learned greedily by pair frequency) written as a Hugging Face tokenizer.json +
// tokenizer_config.json, which Tokenizer::Load (and the Hugging Face libraries) read.
//
// Vocabulary: ids 0..255 are the 256 bytes, then one id per learned merge in order, then the special tokens.
// Since every byte has a token, decode(encode(x)) == x for any valid UTF-8 x.
//
// Training is exact BPE: the corpus is split into words by the same pre-tokenizer the tokenizer.json
// declares; each step merges the most frequent adjacent pair over all words (ties: the pair whose merged
// spelling sorts first, then the lower ids), everywhere, left to right. Deterministic.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/status.h"

namespace fm {

struct BpeTrainOptions {
  int vocab_size = 2048;  // total, special tokens included
  std::vector<std::string> special_tokens = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
  int min_frequency = 2;  // stop merging when the best pair occurs less often
};

struct BpeTrainSummary {
  size_t unique_words = 0;
  size_t merges = 0;
  int vocab_size = 0;
};

// Learns merges from `texts` and returns the tokenizer.json document.
Status TrainByteLevelBpe(const std::vector<std::string>& texts, const BpeTrainOptions& opts,
                         nlohmann::ordered_json* tokenizer_json, BpeTrainSummary* summary);

// Writes tokenizer.json and tokenizer_config.json into the existing folder `dir`. The config names
// `eos_token` (the end-of-turn token generation stops at), `pad_token` and the Jinja `chat_template`.
Status WriteTokenizerFolder(const nlohmann::ordered_json& tokenizer_json, const std::string& eos_token,
                            const std::string& pad_token, const std::string& chat_template,
                            const std::string& dir);

}  // namespace fm
