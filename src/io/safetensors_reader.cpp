#include "io/safetensors_reader.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "base/progress.h"

namespace fm {

namespace {

constexpr uint64_t kMaxHeaderBytes = 100ull << 20;  // the safetensors specification's limit (100 MB)

// Multiplies with overflow detection.
bool MulOverflow(uint64_t a, uint64_t b, uint64_t* out) { return __builtin_mul_overflow(a, b, out); }

}  // namespace

Status ParseSafetensorsHeader(const std::string& file, const char* header, size_t header_len, uint64_t data_size,
                              std::vector<TensorView>* tensors, std::vector<uint64_t>* offsets,
                              std::map<std::string, std::string>* metadata) {
  using nlohmann::json;
  json j = json::parse(header, header + header_len, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return Status::Corruption(file + ": header is not valid JSON (corrupted or not a safetensors file)");
  }
  if (!j.is_object()) return Status::Corruption(file + ": header JSON is not an object");
  struct Entry {
    TensorView view;
    uint64_t begin, end;
  };
  std::vector<Entry> entries;
  entries.reserve(j.size());
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) return Status::Corruption(file + ": __metadata__ is not an object of strings");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) {
          return Status::Corruption(file + ": __metadata__ value of '" + m.key() + "' is not a string");
        }
        (*metadata)[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string where = file + ": tensor '" + name + "'";
    if (!v.is_object()) return Status::Corruption(where + ": entry is not an object");
    auto dt = v.find("dtype");
    auto sh = v.find("shape");
    auto off = v.find("data_offsets");
    if (dt == v.end() || !dt->is_string()) return Status::Corruption(where + ": missing or non-string dtype");
    if (sh == v.end() || !sh->is_array()) return Status::Corruption(where + ": missing or non-array shape");
    if (off == v.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
        !(*off)[1].is_number_unsigned()) {
      return Status::Corruption(where + ": data_offsets must be two non-negative integers");
    }
    Entry e;
    e.view.name = name;
    e.view.file = file;
    if (!ParseDType(dt->get<std::string>(), &e.view.dtype) || dt->get<std::string>() != DTypeName(e.view.dtype)) {
      return Status::Unsupported(where + ": unknown dtype '" + dt->get<std::string>() + "'");
    }
    uint64_t numel = 1;
    for (const json& d : *sh) {
      if (!d.is_number_unsigned()) return Status::Corruption(where + ": shape has a negative or non-integer dimension");
      uint64_t dim = d.get<uint64_t>();
      if (dim > (1ull << 62) || MulOverflow(numel, dim, &numel)) {
        return Status::Corruption(where + ": shape " + sh->dump() + " overflows");
      }
      e.view.shape.push_back(static_cast<int64_t>(dim));
    }
    e.begin = (*off)[0].get<uint64_t>();
    e.end = (*off)[1].get<uint64_t>();
    if (e.begin > e.end) {
      return Status::Corruption(where + ": data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                                "] are reversed");
    }
    uint64_t want;
    if (MulOverflow(numel, DTypeSize(e.view.dtype), &want) || want != e.end - e.begin) {
      return Status::Corruption(where + ": " + std::to_string(e.end - e.begin) + " bytes for shape " +
                                ShapeString(e.view.shape) + " of " + DTypeName(e.view.dtype) + " (expected " +
                                std::to_string(numel * DTypeSize(e.view.dtype)) + ")");
    }
    if (e.end > data_size) {
      return Status::Corruption(where + ": data ends at byte " + std::to_string(e.end) + " but the data section has " +
                                std::to_string(data_size) + " bytes (truncated download?)");
    }
    e.view.nbytes = want;
    entries.push_back(std::move(e));
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t cursor = 0;
  for (size_t i = 0; i < entries.size(); i++) {
    const Entry& e = entries[i];
    if (e.begin < cursor) {
      return Status::Corruption(file + ": tensor '" + e.view.name + "' overlaps tensor '" + entries[i - 1].view.name +
                                "' (bytes " + std::to_string(e.begin) + ".." + std::to_string(cursor) + ")");
    }
    if (e.begin > cursor) {
      return Status::Corruption(file + ": bytes " + std::to_string(cursor) + ".." + std::to_string(e.begin) +
                                " before tensor '" + e.view.name + "' belong to no tensor (corrupted header)");
    }
    cursor = e.end;
  }
  if (cursor != data_size) {
    return Status::Corruption(file + ": data section has " + std::to_string(data_size) + " bytes but tensors cover " +
                              std::to_string(cursor) + " (trailing garbage or a damaged header)");
  }
  tensors->clear();
  offsets->clear();
  for (Entry& e : entries) {
    offsets->push_back(e.begin);
    tensors->push_back(std::move(e.view));
  }
  return Status::Ok();
}

Status SafetensorsFile::Open(const std::string& path, std::unique_ptr<SafetensorsFile>* out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::NotFound(path + ": cannot open: " + std::strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    ::close(fd);
    return Status::IOError(path + ": cannot stat: " + std::strerror(errno));
  }
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size < 8) {
    ::close(fd);
    return Status::Corruption(path + ": file has " + std::to_string(size) +
                              " bytes, too short for a safetensors header (truncated download?)");
  }
  void* map = mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) return Status::IOError(path + ": cannot mmap: " + std::strerror(errno));
  std::unique_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->path_ = path;
  f->base_ = static_cast<uint8_t*>(map);
  f->size_ = size;
  uint64_t header_len;
  std::memcpy(&header_len, f->base_, 8);  // little-endian host (x86-64, aarch64)
  if (header_len > size - 8) {
    return Status::Corruption(path + ": header length " + std::to_string(header_len) + " exceeds file size " +
                              HumanBytes(static_cast<double>(size)) + " (truncated download?)");
  }
  if (header_len > kMaxHeaderBytes) {
    return Status::Corruption(path + ": header length " + std::to_string(header_len) +
                              " exceeds the 100 MB limit of the safetensors format");
  }
  std::vector<uint64_t> offsets;
  FM_RETURN_IF_ERROR(ParseSafetensorsHeader(path, reinterpret_cast<const char*>(f->base_ + 8), header_len,
                                            size - 8 - header_len, &f->tensors_, &offsets, &f->metadata_));
  const uint8_t* data = f->base_ + 8 + header_len;
  for (size_t i = 0; i < f->tensors_.size(); i++) {
    f->tensors_[i].data = data + offsets[i];
    f->index_[f->tensors_[i].name] = i;
  }
  madvise(f->base_, size, MADV_SEQUENTIAL);
  *out = std::move(f);
  return Status::Ok();
}

SafetensorsFile::~SafetensorsFile() {
  if (base_) munmap(base_, size_);
}

const TensorView* SafetensorsFile::Find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

void SafetensorsFile::Release(const TensorView& t) const {
  const long page = sysconf(_SC_PAGESIZE);
  uintptr_t begin = reinterpret_cast<uintptr_t>(t.data);
  uintptr_t end = begin + t.nbytes;
  // Only whole pages inside the tensor: a neighbour sharing a page may still be in use.
  begin = (begin + page - 1) & ~static_cast<uintptr_t>(page - 1);
  end &= ~static_cast<uintptr_t>(page - 1);
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

}  // namespace fm
