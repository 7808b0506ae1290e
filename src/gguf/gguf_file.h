// GGUF (version 3) as specified by ggml's docs/gguf.md: the constants, Q8_0 blocks, a metadata builder for
// writers and a validating memory-mapped reader.
//
// Layout (all little-endian):
//   u32 magic "GGUF", u32 version (3), u64 tensor_count, u64 metadata_kv_count,
//   metadata_kv_count x { string key, u32 value_type, value },      string = u64 length + UTF-8 bytes
//   tensor_count x { string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset },
//   padding to general.alignment (default 32), then the data section; each tensor's offset is relative to the
//   data section and a multiple of the alignment. ne[0] is the innermost (contiguous) dimension: the reverse of
//   the row-major shape PyTorch / safetensors write.
//
// Thread-safety: a const GgufFile may be read from any number of threads.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"

namespace fm::gguf {

constexpr uint32_t kMagic = 0x46554747u;  // "GGUF" read as a little-endian u32
constexpr uint32_t kVersion = 3;
constexpr uint32_t kDefaultAlignment = 32;

enum class ValueType : uint32_t {
  kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7, kString = 8, kArray = 9,
  kU64 = 10, kI64 = 11, kF64 = 12
};

// The ggml tensor types finmerge reads and writes (numbering of ggml.h's enum ggml_type).
enum class TensorType : uint32_t { kF32 = 0, kF16 = 1, kQ8_0 = 8, kBF16 = 30 };
// "F32", "F16", "Q8_0", "BF16"; nullptr for a type finmerge does not handle.
const char* TensorTypeName(uint32_t ggml_type);
// llama.cpp's general.file_type (enum llama_ftype) for a file whose big tensors have type `t`.
uint32_t FileTypeOf(TensorType t);

// Q8_0: blocks of 32 values stored as an fp16 scale d = amax / 127 and 32 int8 q = round(x / d) (34 bytes).
constexpr int kQ8Block = 32;
constexpr size_t kQ8BlockBytes = 34;
// n must be a multiple of 32. Bit-identical to ggml's quantize_row_q8_0_ref.
void QuantizeQ8_0(const float* x, size_t n, uint8_t* out);
void DequantizeQ8_0(const uint8_t* blocks, size_t n, float* out);
// Bytes of a row of n elements of type t (n a multiple of 32 for Q8_0).
uint64_t RowBytes(TensorType t, uint64_t n);

// One metadata value. Arrays hold their elements in `array` (all of type `array_type`).
struct Value {
  ValueType type = ValueType::kU32;
  uint64_t u = 0;  // unsigned integers and bool
  int64_t i = 0;   // signed integers
  double f = 0;    // floats
  std::string s;   // strings
  ValueType array_type = ValueType::kU32;
  std::vector<Value> array;

  // Any integer type as int64 (false for non-integers).
  bool AsInt(int64_t* out) const;
  // Any integer or float type as double.
  bool AsDouble(double* out) const;
  // A short human rendering ("151669 strings", "1e-06", "\"llama\"").
  std::string ToString() const;
};

// Builds the key/value section of a GGUF file in memory (metadata is small next to the tensors).
class MetadataBuilder {
 public:
  void U32(const std::string& key, uint32_t v);
  void I32(const std::string& key, int32_t v);
  void F32(const std::string& key, float v);
  void Bool(const std::string& key, bool v);
  void String(const std::string& key, const std::string& v);
  void StringArray(const std::string& key, const std::vector<std::string>& v);
  void I32Array(const std::string& key, const std::vector<int32_t>& v);
  void F32Array(const std::string& key, const std::vector<float>& v);
  uint64_t count() const { return count_; }
  const std::string& bytes() const { return bytes_; }
  bool Has(const std::string& key) const { return keys_.count(key) != 0; }

 private:
  void Key(const std::string& key, ValueType t);
  std::string bytes_;
  uint64_t count_ = 0;
  std::map<std::string, int> keys_;
};

// Appends a GGUF string (u64 length + bytes) / a little-endian integer to `out`.
void PutString(std::string* out, const std::string& s);
void PutU32(std::string* out, uint32_t v);
void PutU64(std::string* out, uint64_t v);

struct TensorInfo {
  std::string name;
  std::vector<uint64_t> ne;  // ggml order: ne[0] innermost
  TensorType type = TensorType::kF32;
  uint64_t offset = 0;  // relative to the data section
  uint64_t nbytes = 0;
  const uint8_t* data = nullptr;  // into the mapping
  uint64_t numel() const;
  // Row-major (PyTorch) shape: ne reversed.
  std::vector<int64_t> shape() const;
};

class GgufFile {
 public:
  // Maps `path` read-only and validates magic, version (2 or 3), every key, every tensor info (known type,
  // sizes, aligned offsets inside the file, no overlaps). Errors name the file and the key or tensor.
  static Status Open(const std::string& path, std::unique_ptr<GgufFile>* out);
  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  uint64_t file_size() const { return size_; }
  const std::map<std::string, Value>& metadata() const { return metadata_; }
  // Keys in file order.
  const std::vector<std::string>& keys() const { return keys_; }
  const Value* Find(const std::string& key) const;
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* FindTensor(const std::string& name) const;

 private:
  GgufFile() = default;
  std::string path_;
  uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
  uint32_t version_ = 0, alignment_ = kDefaultAlignment;
  std::map<std::string, Value> metadata_;
  std::vector<std::string> keys_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

}  // namespace fm::gguf
