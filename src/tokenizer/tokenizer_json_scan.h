// Fast reading of a Hugging Face tokenizer.json. Nearly all of such a file is model.vocab and model.merges
// (150k entries each for Qwen or Llama-3): ScanTokenizerJson parses those two values straight from the text
// into BpeTables, as views into the text (a string is copied only when it holds a JSON escape), and hands the
// rest of the file — the same text with those two values replaced by {} and [] — to nlohmann::json, for
// which it is small.
//
// It returns false, leaving *tables and *rest unspecified, whenever the text is not exactly what it expects:
// invalid JSON, a vocab entry whose value is not an integer, a merge that is neither "a b" nor ["a", "b"], a
// key given twice, no model.vocab object. The caller then parses the whole file with nlohmann::json and
// reports the problem precisely (HfTokenizer::Load does).
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string_view>

#include "tokenizer/bpe_model.h"

namespace fm {

// `text` must outlive *tables.
bool ScanTokenizerJson(std::string_view text, BpeTables* tables, nlohmann::json* rest);

}  // namespace fm
