// ShardCorpus: the library half of `finmerge tokenize` — streams text corpora through a Tokenizer into token
// shards (token_shard.h) plus a manifest.json, with a deterministic train/validation split by document.
//
// Inputs: plain-text files (one document per file, or documents separated by blank lines with
// blank_line_docs) and .jsonl files (one document per line, its "text" string field). Files are streamed in
// blocks: no input is ever loaded whole, and a huge document is cut into exactly-encodable parts
// (Tokenizer::SplitForParallelEncode) so every core works on it. Documents are encoded in parallel (OpenMP)
// in batches and written in input order, so the output does not depend on the thread count. Each document is
// followed by the end-of-sequence id. Invalid UTF-8 is replaced by U+FFFD and reported (file and byte
// offset).
//
// Split: document i (counting from 0 over all inputs in order) goes to validation when
// SplitMix64(i ^ SplitMix64(seed)) / 2^64 < val_fraction; when that leaves validation empty although
// val_fraction > 0 and there are at least two documents, the last document moves to validation.
//
// The output folder is written under a temporary name and renamed into place when complete.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "tokenizer/tokenizer.h"

namespace fm {

struct ShardOptions {
  std::vector<std::string> inputs;
  std::string output_dir;
  std::string tokenizer_path;  // recorded in the manifest
  double val_fraction = 0.01;
  uint64_t seed = 1234;
  bool blank_line_docs = false;
  uint64_t shard_tokens = 100'000'000;  // at most this many tokens per shard file (400 MB)
  std::optional<uint32_t> eos_id;       // document separator; default: the tokenizer's eos
  bool progress = true;                 // draw a progress bar (when stderr is a terminal)
  // Receives each warning line (invalid UTF-8, skipped JSONL lines). Default: printed on stderr.
  std::function<void(const std::string&)> warn;
};

struct ShardSummary {
  uint64_t input_bytes = 0;
  uint64_t train_docs = 0, val_docs = 0, train_tokens = 0, val_tokens = 0;
  uint64_t invalid_utf8 = 0;   // replaced invalid sequences
  uint64_t skipped_lines = 0;  // JSONL lines without a usable "text"
  uint64_t empty_docs = 0;     // documents with no text (not written)
  size_t train_shards = 0, val_shards = 0;
  uint32_t eos_id = 0;
  double seconds = 0;
};

// Whether document `index` belongs to the validation split (before the at-least-one rule).
bool IsValidationDocument(uint64_t index, uint64_t seed, double val_fraction);

Status ShardCorpus(const Tokenizer& tok, const ShardOptions& options, ShardSummary* summary);

}  // namespace fm
