// The tokenizer in GGUF terms, both ways.
//
// Export: tokenizer.ggml.pre names the pre-tokenizer llama.cpp applies (llama-vocab.cpp knows a fixed list by
// name); PreForTokenizerJson finds that name from a tokenizer.json's pre_tokenizer, as convert_hf_to_gguf.py
// does, and refuses pre-tokenizers llama.cpp would not reproduce.
//
// Import: TokenizerFilesFromGguf rebuilds tokenizer.json and tokenizer_config.json from a "gpt2" (byte-level
// BPE) vocabulary: tokens, merges, token types (control -> special added tokens, user-defined -> added
// tokens, unused padding rows dropped), the pre-tokenizer regex of tokenizer.ggml.pre, BOS/EOS/PAD/UNK,
// add_bos and the chat template. "llama" (SentencePiece) vocabularies are not rebuilt (Unsupported, naming
// the file).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "base/status.h"
#include "gguf/gguf_file.h"

namespace fm::gguf {

// "qwen2", "llama-bpe" or "gpt-2" for a byte-level tokenizer.json `tokenizer` (read from `file`, named in
// errors); Unsupported when llama.cpp knows its pre-tokenizer under no name.
Status PreForTokenizerJson(const nlohmann::json& tokenizer, const std::string& file, std::string* pre);

Status TokenizerFilesFromGguf(const GgufFile& f, nlohmann::json* tokenizer, nlohmann::json* tokenizer_config);

}  // namespace fm::gguf
