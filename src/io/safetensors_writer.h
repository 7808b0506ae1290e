// SafetensorsWriter: streams tensors into one or more .safetensors shards without buffering a shard in memory.
//
// The caller declares every tensor (name, dtype, shape) up front; the writer plans the shards (in declaration
// order, starting a new shard when the next tensor would push a shard past `max_shard_bytes`; a tensor larger
// than the limit gets a shard of its own), writes each shard's header, sizes the files, and then accepts the
// tensors' bytes in any order and from any number of threads (pwrite). Finish() checks that every byte of every
// tensor was written and writes model.safetensors.index.json when there is more than one shard.
//
// Shard names follow Hugging Face: "model.safetensors" for one shard, else
// "model-00001-of-00003.safetensors", ... Headers are padded with spaces to a multiple of 8 bytes so that the
// data section is 8-byte aligned.
//
// The writer writes into an existing folder; atomic publication of the folder is the caller's job (OutputPath).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/dtype.h"

namespace fm {

struct TensorSpec {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t nbytes() const;
};

class SafetensorsWriter {
 public:
  static constexpr uint64_t kDefaultMaxShardBytes = 5000000000ull;  // 5 GB, as transformers' "5GB"

  static Status Create(const std::string& dir, std::vector<TensorSpec> specs, uint64_t max_shard_bytes,
                       const std::map<std::string, std::string>& metadata, std::unique_ptr<SafetensorsWriter>* out,
                       const std::string& prefix = "model");
  ~SafetensorsWriter();

  const std::vector<TensorSpec>& specs() const { return specs_; }
  // Writes `n` bytes at byte `offset` of tensor `index`'s data. Thread-safe.
  Status Write(size_t index, uint64_t offset, const void* data, size_t n);
  // Convenience: the whole tensor at once.
  Status WriteAll(size_t index, const void* data) { return Write(index, 0, data, specs_[index].nbytes()); }
  // Verifies completeness, closes the files, writes the index. Files written so far stay in `dir`.
  Status Finish();
  // File names (relative to dir) of the shards.
  std::vector<std::string> shard_files() const;
  uint64_t total_bytes() const { return total_bytes_; }

 private:
  SafetensorsWriter() = default;
  struct Shard {
    std::string file;
    int fd = -1;
    uint64_t data_start = 0;  // byte offset of the data section in the file
  };
  std::string dir_;
  std::vector<TensorSpec> specs_;
  std::vector<size_t> shard_of_;       // per tensor
  std::vector<uint64_t> file_offset_;  // per tensor: absolute offset of its data in its shard file
  std::unique_ptr<std::atomic<uint64_t>[]> written_;
  std::vector<Shard> shards_;
  uint64_t total_bytes_ = 0;
  std::string prefix_;
};

}  // namespace fm
