#include "gguf/gguf_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>

#include "base/dtype.h"

namespace fm::gguf {

const char* TensorTypeName(uint32_t t) {
  switch (t) {
    case 0: return "F32";
    case 1: return "F16";
    case 8: return "Q8_0";
    case 30: return "BF16";
    default: return nullptr;
  }
}

uint32_t FileTypeOf(TensorType t) {
  switch (t) {
    case TensorType::kF32: return 0;    // LLAMA_FTYPE_ALL_F32
    case TensorType::kF16: return 1;    // LLAMA_FTYPE_MOSTLY_F16
    case TensorType::kQ8_0: return 7;   // LLAMA_FTYPE_MOSTLY_Q8_0
    case TensorType::kBF16: return 32;  // LLAMA_FTYPE_MOSTLY_BF16
  }
  return 0;
}

void QuantizeQ8_0(const float* x, size_t n, uint8_t* out) {
  for (size_t b = 0; b < n / kQ8Block; b++) {
    const float* xb = x + b * kQ8Block;
    float amax = 0;
    for (int j = 0; j < kQ8Block; j++) amax = std::max(amax, std::fabs(xb[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    uint8_t* ob = out + b * kQ8BlockBytes;
    uint16_t dh = F32ToF16(d);
    std::memcpy(ob, &dh, 2);
    for (int j = 0; j < kQ8Block; j++) {
      ob[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(std::roundf(xb[j] * id)));
    }
  }
}

void DequantizeQ8_0(const uint8_t* blocks, size_t n, float* out) {
  for (size_t b = 0; b < n / kQ8Block; b++) {
    const uint8_t* ib = blocks + b * kQ8BlockBytes;
    uint16_t dh;
    std::memcpy(&dh, ib, 2);
    const float d = F16ToF32(dh);
    for (int j = 0; j < kQ8Block; j++) out[b * kQ8Block + j] = static_cast<int8_t>(ib[2 + j]) * d;
  }
}

uint64_t RowBytes(TensorType t, uint64_t n) {
  switch (t) {
    case TensorType::kF32: return n * 4;
    case TensorType::kF16:
    case TensorType::kBF16: return n * 2;
    case TensorType::kQ8_0: return n / kQ8Block * kQ8BlockBytes;
  }
  return 0;
}

bool Value::AsInt(int64_t* out) const {
  switch (type) {
    case ValueType::kU8: case ValueType::kU16: case ValueType::kU32: case ValueType::kU64:
      *out = static_cast<int64_t>(u);
      return true;
    case ValueType::kI8: case ValueType::kI16: case ValueType::kI32: case ValueType::kI64:
      *out = i;
      return true;
    default: return false;
  }
}

bool Value::AsDouble(double* out) const {
  if (type == ValueType::kF32 || type == ValueType::kF64) {
    *out = f;
    return true;
  }
  int64_t v;
  if (!AsInt(&v)) return false;
  *out = static_cast<double>(v);
  return true;
}

std::string Value::ToString() const {
  switch (type) {
    case ValueType::kString: {
      std::string t = s.size() > 60 ? s.substr(0, 57) + "..." : s;
      for (char& c : t) if (c == '\n') c = ' ';
      return "\"" + t + "\"";
    }
    case ValueType::kBool: return u ? "true" : "false";
    case ValueType::kF32: {
      char buf[32];
      auto r = std::to_chars(buf, buf + sizeof buf, static_cast<float>(f));
      return std::string(buf, r.ptr);
    }
    case ValueType::kF64: return std::to_string(f);
    case ValueType::kArray: {
      static const char* kNames[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array",
                                     "u64", "i64", "f64"};
      return std::to_string(array.size()) + " x " + kNames[static_cast<uint32_t>(array_type)];
    }
    default: {
      int64_t v = 0;
      AsInt(&v);
      return std::to_string(v);
    }
  }
}

void PutU32(std::string* out, uint32_t v) { out->append(reinterpret_cast<const char*>(&v), 4); }
void PutU64(std::string* out, uint64_t v) { out->append(reinterpret_cast<const char*>(&v), 8); }
void PutString(std::string* out, const std::string& s) {
  PutU64(out, s.size());
  out->append(s);
}

void MetadataBuilder::Key(const std::string& key, ValueType t) {
  keys_[key]++;
  PutString(&bytes_, key);
  PutU32(&bytes_, static_cast<uint32_t>(t));
  count_++;
}
void MetadataBuilder::U32(const std::string& key, uint32_t v) {
  Key(key, ValueType::kU32);
  PutU32(&bytes_, v);
}
void MetadataBuilder::I32(const std::string& key, int32_t v) {
  Key(key, ValueType::kI32);
  PutU32(&bytes_, static_cast<uint32_t>(v));
}
void MetadataBuilder::F32(const std::string& key, float v) {
  Key(key, ValueType::kF32);
  bytes_.append(reinterpret_cast<const char*>(&v), 4);
}
void MetadataBuilder::Bool(const std::string& key, bool v) {
  Key(key, ValueType::kBool);
  bytes_.push_back(v ? 1 : 0);
}
void MetadataBuilder::String(const std::string& key, const std::string& v) {
  Key(key, ValueType::kString);
  PutString(&bytes_, v);
}
void MetadataBuilder::StringArray(const std::string& key, const std::vector<std::string>& v) {
  Key(key, ValueType::kArray);
  PutU32(&bytes_, static_cast<uint32_t>(ValueType::kString));
  PutU64(&bytes_, v.size());
  for (const std::string& s : v) PutString(&bytes_, s);
}
void MetadataBuilder::I32Array(const std::string& key, const std::vector<int32_t>& v) {
  Key(key, ValueType::kArray);
  PutU32(&bytes_, static_cast<uint32_t>(ValueType::kI32));
  PutU64(&bytes_, v.size());
  bytes_.append(reinterpret_cast<const char*>(v.data()), v.size() * 4);
}
void MetadataBuilder::F32Array(const std::string& key, const std::vector<float>& v) {
  Key(key, ValueType::kArray);
  PutU32(&bytes_, static_cast<uint32_t>(ValueType::kF32));
  PutU64(&bytes_, v.size());
  bytes_.append(reinterpret_cast<const char*>(v.data()), v.size() * 4);
}

uint64_t TensorInfo::numel() const {
  uint64_t n = 1;
  for (uint64_t d : ne) n *= d;
  return n;
}

std::vector<int64_t> TensorInfo::shape() const {
  std::vector<int64_t> s;
  for (auto it = ne.rbegin(); it != ne.rend(); ++it) s.push_back(static_cast<int64_t>(*it));
  return s;
}

namespace {

// Bounds-checked little-endian cursor over the mapped file.
class Cursor {
 public:
  Cursor(const uint8_t* p, uint64_t size) : p_(p), size_(size) {}
  uint64_t pos() const { return pos_; }
  bool Read(void* out, uint64_t n) {
    if (n > size_ - pos_) return false;
    std::memcpy(out, p_ + pos_, n);
    pos_ += n;
    return true;
  }
  bool U32(uint32_t* v) { return Read(v, 4); }
  bool U64(uint64_t* v) { return Read(v, 8); }
  bool Str(std::string* s) {
    uint64_t n;
    if (!U64(&n) || n > size_ - pos_) return false;
    s->assign(reinterpret_cast<const char*>(p_ + pos_), n);
    pos_ += n;
    return true;
  }

 private:
  const uint8_t* p_;
  uint64_t size_, pos_ = 0;
};

bool ReadScalar(Cursor* c, ValueType t, Value* v) {
  v->type = t;
  switch (t) {
    case ValueType::kU8: case ValueType::kBool: { uint8_t x; if (!c->Read(&x, 1)) return false; v->u = x; return true; }
    case ValueType::kI8: { int8_t x; if (!c->Read(&x, 1)) return false; v->i = x; return true; }
    case ValueType::kU16: { uint16_t x; if (!c->Read(&x, 2)) return false; v->u = x; return true; }
    case ValueType::kI16: { int16_t x; if (!c->Read(&x, 2)) return false; v->i = x; return true; }
    case ValueType::kU32: { uint32_t x; if (!c->Read(&x, 4)) return false; v->u = x; return true; }
    case ValueType::kI32: { int32_t x; if (!c->Read(&x, 4)) return false; v->i = x; return true; }
    case ValueType::kU64: return c->Read(&v->u, 8);
    case ValueType::kI64: return c->Read(&v->i, 8);
    case ValueType::kF32: { float x; if (!c->Read(&x, 4)) return false; v->f = x; return true; }
    case ValueType::kF64: return c->Read(&v->f, 8);
    case ValueType::kString: return c->Str(&v->s);
    default: return false;
  }
}

}  // namespace

Status GgufFile::Open(const std::string& path, std::unique_ptr<GgufFile>* out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IOError(path + ": cannot open: " + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return Status::IOError(path + ": cannot stat: " + std::strerror(errno));
  }
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->path_ = path;
  f->size_ = static_cast<uint64_t>(st.st_size);
  if (f->size_ < 24) {
    ::close(fd);
    return Status::Corruption(path + ": " + std::to_string(f->size_) + " bytes is too short for a GGUF header");
  }
  void* m = ::mmap(nullptr, f->size_, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (m == MAP_FAILED) return Status::IOError(path + ": mmap failed: " + std::strerror(errno));
  f->base_ = static_cast<uint8_t*>(m);

  Cursor c(f->base_, f->size_);
  uint32_t magic = 0;
  uint64_t n_tensors = 0, n_kv = 0;
  c.U32(&magic);
  if (magic != kMagic) return Status::Corruption(path + ": not a GGUF file (bad magic)");
  c.U32(&f->version_);
  if (f->version_ != 2 && f->version_ != 3) {
    return Status::Unsupported(path + ": GGUF version " + std::to_string(f->version_) +
                               " is not supported (2 and 3 are)");
  }
  c.U64(&n_tensors);
  c.U64(&n_kv);
  // Every key and tensor info takes at least 8+4 bytes: bounds the counts before allocating anything.
  if (n_kv > f->size_ / 12 || n_tensors > f->size_ / 12) {
    return Status::Corruption(path + ": header claims " + std::to_string(n_kv) + " keys and " +
                              std::to_string(n_tensors) + " tensors, more than the file can hold (truncated?)");
  }
  for (uint64_t k = 0; k < n_kv; k++) {
    std::string key;
    uint32_t type;
    if (!c.Str(&key) || !c.U32(&type)) {
      return Status::Corruption(path + ": truncated in metadata key " + std::to_string(k));
    }
    Value v;
    bool ok;
    if (type == static_cast<uint32_t>(ValueType::kArray)) {
      uint32_t at;
      uint64_t n;
      ok = c.U32(&at) && c.U64(&n) && at <= 12 && at != static_cast<uint32_t>(ValueType::kArray) &&
           n <= f->size_ - c.pos();
      if (ok) {
        v.type = ValueType::kArray;
        v.array_type = static_cast<ValueType>(at);
        v.array.resize(n);
        for (uint64_t i = 0; ok && i < n; i++) ok = ReadScalar(&c, v.array_type, &v.array[i]);
      }
    } else {
      ok = type <= 12 && ReadScalar(&c, static_cast<ValueType>(type), &v);
    }
    if (!ok) return Status::Corruption(path + ": metadata key '" + key + "': bad type or truncated value");
    if (f->metadata_.count(key)) return Status::Corruption(path + ": metadata key '" + key + "' appears twice");
    f->keys_.push_back(key);
    f->metadata_[key] = std::move(v);
  }
  if (const Value* a = f->Find("general.alignment")) {
    int64_t al = 0;
    if (!a->AsInt(&al) || al <= 0 || (al & (al - 1)) != 0 || al > (1 << 20)) {
      return Status::Corruption(path + ": general.alignment must be a power of two");
    }
    f->alignment_ = static_cast<uint32_t>(al);
  }
  for (uint64_t t = 0; t < n_tensors; t++) {
    TensorInfo ti;
    uint32_t n_dims = 0, type = 0;
    if (!c.Str(&ti.name) || !c.U32(&n_dims) || n_dims > 4) {
      return Status::Corruption(path + ": tensor info " + std::to_string(t) + " truncated or has > 4 dimensions");
    }
    ti.ne.resize(n_dims);
    bool ok = true;
    for (auto& d : ti.ne) ok = ok && c.U64(&d);
    ok = ok && c.U32(&type) && c.U64(&ti.offset);
    if (!ok) return Status::Corruption(path + ": tensor '" + ti.name + "': truncated tensor info");
    if (!TensorTypeName(type)) {
      return Status::Unsupported(path + ": tensor '" + ti.name + "' has ggml type " + std::to_string(type) +
                                 " (finmerge reads F32, F16, BF16 and Q8_0)");
    }
    ti.type = static_cast<TensorType>(type);
    uint64_t n = 1;
    for (uint64_t d : ti.ne) {
      if (d == 0 || d > (1ull << 40) || n > (1ull << 50) / d) {
        return Status::Corruption(path + ": tensor '" + ti.name + "' has an invalid dimension");
      }
      n *= d;
    }
    if (ti.type == TensorType::kQ8_0 && (ti.ne.empty() || ti.ne[0] % kQ8Block != 0)) {
      return Status::Corruption(path + ": Q8_0 tensor '" + ti.name + "' has a row length not a multiple of 32");
    }
    ti.nbytes = RowBytes(ti.type, ti.ne.empty() ? 1 : ti.ne[0]) * (ti.ne.empty() ? 1 : n / ti.ne[0]);
    if (ti.offset % f->alignment_ != 0) {
      return Status::Corruption(path + ": tensor '" + ti.name + "' offset is not a multiple of the alignment");
    }
    if (f->tensor_index_.count(ti.name)) return Status::Corruption(path + ": tensor '" + ti.name + "' appears twice");
    f->tensor_index_[ti.name] = f->tensors_.size();
    f->tensors_.push_back(std::move(ti));
  }
  const uint64_t data_start = (c.pos() + f->alignment_ - 1) / f->alignment_ * f->alignment_;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (TensorInfo& ti : f->tensors_) {
    if (data_start > f->size_ || ti.offset > f->size_ - data_start || ti.nbytes > f->size_ - data_start - ti.offset) {
      return Status::Corruption(path + ": tensor '" + ti.name + "' extends past the end of the file (" +
                                std::to_string(f->size_) + " bytes; truncated download?)");
    }
    ti.data = f->base_ + data_start + ti.offset;
    ranges.emplace_back(ti.offset, ti.offset + ti.nbytes);
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); i++) {
    if (ranges[i].first < ranges[i - 1].second) return Status::Corruption(path + ": tensors overlap in the data section");
  }
  *out = std::move(f);
  return Status::Ok();
}

GgufFile::~GgufFile() {
  if (base_) ::munmap(base_, size_);
}

const Value* GgufFile::Find(const std::string& key) const {
  auto it = metadata_.find(key);
  return it == metadata_.end() ? nullptr : &it->second;
}

const TensorInfo* GgufFile::FindTensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace fm::gguf
