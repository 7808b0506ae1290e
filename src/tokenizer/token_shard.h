// Token shards: the binary files `finmerge tokenize` writes and the trainer reads.
//
// Format (version 1, little-endian), one file per shard (train_00000.bin, train_00001.bin, val_00000.bin,
// ...):
//
//   offset  size  field
//   0       8     magic, the 8 characters "FMTOKSHD" (equivalently uint64 0x4448534B4F544D46)
//   8       4     uint32 version = 1
//   12      4     uint32 vocab_size: every token id is < vocab_size
//   16      8     uint64 token_count
//   24      232   zero
//   256     4*token_count   uint32 token ids
//
// The file is exactly 256 + 4 * token_count bytes. Documents are laid out one after another, each followed by
// the end-of-sequence id named in the folder's manifest.json, and may continue from one shard into the next.
// Readers must check magic, version and size (TokenShard::Open does).
//
// TokenShardWriter appends a token stream to consecutive shard files of at most `shard_tokens` tokens each.
// TokenShard maps one shard read-only. Neither is thread-safe for concurrent mutation; a TokenShard's tokens
// may be read from any number of threads.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"

namespace fm {

constexpr char kTokenShardMagic[8] = {'F', 'M', 'T', 'O', 'K', 'S', 'H', 'D'};
constexpr uint32_t kTokenShardVersion = 1;
constexpr size_t kTokenShardHeaderBytes = 256;

class TokenShard {
 public:
  ~TokenShard();
  TokenShard(const TokenShard&) = delete;
  TokenShard& operator=(const TokenShard&) = delete;

  // Maps `path` and checks magic, version and file size; errors name the file and the problem.
  static Status Open(const std::string& path, std::unique_ptr<TokenShard>* out);

  uint32_t vocab_size() const { return vocab_size_; }
  uint64_t size() const { return count_; }
  // count_ token ids, valid while this object lives.
  const uint32_t* tokens() const { return tokens_; }
  const std::string& path() const { return path_; }

 private:
  TokenShard() = default;
  std::string path_;
  void* map_ = nullptr;
  size_t map_bytes_ = 0;
  uint32_t vocab_size_ = 0;
  uint64_t count_ = 0;
  const uint32_t* tokens_ = nullptr;
};

class TokenShardWriter {
 public:
  // Shards are written as `dir`/`prefix`_NNNNN.bin.
  TokenShardWriter(std::string dir, std::string prefix, uint32_t vocab_size, uint64_t shard_tokens);
  ~TokenShardWriter();
  TokenShardWriter(const TokenShardWriter&) = delete;
  TokenShardWriter& operator=(const TokenShardWriter&) = delete;

  Status Append(const uint32_t* ids, size_t n);
  // Tokens appended so far.
  uint64_t total() const { return total_; }
  // Reads back the tokens from position `from` to the end and drops them from the shards (used to move the
  // last document of one split into the other).
  Status TakeTail(uint64_t from, std::vector<uint32_t>* tail);
  // Completes the last shard's header and closes it.
  Status Finish();

  struct ShardInfo {
    std::string file;  // file name inside dir
    uint64_t tokens;
  };
  const std::vector<ShardInfo>& shards() const { return shards_; }

 private:
  Status OpenNext();
  Status CloseCurrent();
  std::string dir_, prefix_;
  uint32_t vocab_size_;
  uint64_t shard_tokens_, total_ = 0;
  std::FILE* f_ = nullptr;
  std::vector<ShardInfo> shards_;
};

}  // namespace fm
