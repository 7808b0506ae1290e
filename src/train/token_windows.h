// PackedTokenWindows: fixed-length pretraining windows packed from a folder of token shards (the files
// `finmerge tokenize` writes, train_NNNNN.bin / val_NNNNN.bin; format in tokenizer/token_shard.h). Documents
// in the shards are separated by the EOS id.
//
// The shards of one split, in file-name order, form one token stream of N tokens. Window i is the T+1 tokens
// starting at i*T: inputs are its first T, targets its last T, so consecutive windows share one token and
// every token after the first is a target exactly once per epoch. Windows cross document (and shard)
// boundaries, as in standard packed pretraining. num_windows = (N - 1) / T; a trailing partial window is
// dropped.
//
// Shards are memory-mapped read-only (TokenShard). Thread-compatible: Read is const.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "tokenizer/token_shard.h"
#include "train/window_source.h"

namespace fm {

class PackedTokenWindows : public WindowSource {
 public:
  // Opens the `split` ("train" or "val") shards of `folder` for windows of T = seq_len. The shards'
  // vocab_size must agree and not exceed `model_vocab` (the model's embedding rows). NotFound when the folder
  // has no shard of that split.
  static Status Open(const std::string& folder, const std::string& split, int seq_len, int64_t model_vocab,
                     std::unique_ptr<PackedTokenWindows>* out);

  uint64_t num_windows() const override { return num_windows_; }
  int seq_len() const override { return seq_len_; }
  Status Read(uint64_t i, uint32_t* inputs, uint32_t* targets) const override;
  std::string Describe() const override;

  uint64_t num_tokens() const { return total_tokens_; }
  uint32_t vocab_size() const { return vocab_size_; }
  size_t num_shards() const { return shards_.size(); }
  const std::string& first_shard_path() const { return shards_.front().file->path(); }

 private:
  PackedTokenWindows() = default;
  struct Shard {
    std::unique_ptr<TokenShard> file;
    uint64_t start = 0;  // index of its first token in the split's stream
  };
  // The shard holding stream position `pos`.
  size_t ShardOf(uint64_t pos) const;
  // Copies stream tokens [pos, pos + n) into dst.
  void CopyTokens(uint64_t pos, uint64_t n, uint32_t* dst) const;

  std::string folder_, split_;
  std::vector<Shard> shards_;
  uint64_t total_tokens_ = 0, num_windows_ = 0;
  uint32_t vocab_size_ = 0;
  int64_t model_vocab_ = 0;
  int seq_len_ = 0;
};

}  // namespace fm
