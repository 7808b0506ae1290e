// SafetensorsFile: a memory-mapped .safetensors file with strictly validated header and zero-copy tensor views.
//
// Format (https://github.com/huggingface/safetensors): u64 little-endian header length N, N bytes of JSON
// {"name": {"dtype": "BF16", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {str: str}},
// then the data section; offsets are relative to the data section's start.
//
// Validation: header length against file size, JSON parse, known dtypes, non-negative shapes, byte size ==
// numel * dtype size, offsets inside the file, no overlapping tensors, no holes in the data section.
// Every error names the file and the tensor.
//
// Thread-safety: a const SafetensorsFile may be read from any number of threads.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "io/tensor.h"

namespace fm {

// Parses and validates a safetensors JSON header of `header_len` bytes, for a data section of `data_size`
// bytes. `file` is used in error messages. Tensor views get data == nullptr and offsets relative to the data
// section in `offsets`. Exposed separately for the fuzz target.
Status ParseSafetensorsHeader(const std::string& file, const char* header, size_t header_len, uint64_t data_size,
                              std::vector<TensorView>* tensors, std::vector<uint64_t>* offsets,
                              std::map<std::string, std::string>* metadata);

class SafetensorsFile {
 public:
  // Maps `path` read-only and validates it.
  static Status Open(const std::string& path, std::unique_ptr<SafetensorsFile>* out);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  uint64_t file_size() const { return size_; }
  // Tensors in data order (ascending offset).
  const std::vector<TensorView>& tensors() const { return tensors_; }
  // nullptr if absent.
  const TensorView* Find(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // Drops the tensor's pages from this process's resident memory (they stay in the page cache), so streaming
  // over a model larger than RAM keeps RSS flat. The view stays valid; touching it faults pages back in.
  void Release(const TensorView& t) const;

 private:
  SafetensorsFile() = default;
  std::string path_;
  uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
  std::vector<TensorView> tensors_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace fm
