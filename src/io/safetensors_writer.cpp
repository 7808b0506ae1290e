#include "io/safetensors_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

namespace fm {

uint64_t TensorSpec::nbytes() const {
  uint64_t n = DTypeSize(dtype);
  for (int64_t d : shape) n *= static_cast<uint64_t>(d);
  return n;
}

namespace {

Status WriteFully(int fd, const void* data, size_t n, uint64_t offset, const std::string& file) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = pwrite(fd, p, n, static_cast<off_t>(offset));
    if (w < 0) {
      if (errno == EINTR) continue;
      return Status::IOError(file + ": write failed: " + std::strerror(errno) + " (disk full?)");
    }
    p += w;
    n -= static_cast<size_t>(w);
    offset += static_cast<uint64_t>(w);
  }
  return Status::Ok();
}

}  // namespace

Status SafetensorsWriter::Create(const std::string& dir, std::vector<TensorSpec> specs, uint64_t max_shard_bytes,
                                 const std::map<std::string, std::string>& metadata,
                                 std::unique_ptr<SafetensorsWriter>* out, const std::string& prefix) {
  std::unique_ptr<SafetensorsWriter> w(new SafetensorsWriter());
  w->dir_ = dir;
  w->prefix_ = prefix;
  w->specs_ = std::move(specs);
  const size_t n = w->specs_.size();
  {
    std::set<std::string> seen;
    for (const TensorSpec& s : w->specs_) {
      if (!seen.insert(s.name).second) return Status::InvalidArgument("tensor '" + s.name + "' declared twice");
      if (s.name == "__metadata__") return Status::InvalidArgument("'__metadata__' is not a valid tensor name");
    }
  }
  // Plan shards: greedy in declaration order.
  std::vector<std::vector<size_t>> plan;
  uint64_t current = 0;
  for (size_t i = 0; i < n; i++) {
    uint64_t b = w->specs_[i].nbytes();
    if (plan.empty() || (current > 0 && current + b > max_shard_bytes)) {
      plan.emplace_back();
      current = 0;
    }
    plan.back().push_back(i);
    current += b;
  }
  if (plan.empty()) plan.emplace_back();
  w->shard_of_.assign(n, 0);
  w->file_offset_.assign(n, 0);
  w->written_.reset(new std::atomic<uint64_t>[n]);
  for (size_t i = 0; i < n; i++) w->written_[i] = 0;
  const size_t nshards = plan.size();
  for (size_t s = 0; s < nshards; s++) {
    Shard shard;
    if (nshards == 1) {
      shard.file = prefix + ".safetensors";
    } else {
      char buf[64];
      std::snprintf(buf, sizeof buf, "-%05zu-of-%05zu.safetensors", s + 1, nshards);
      shard.file = prefix + buf;
    }
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    nlohmann::ordered_json meta = nlohmann::ordered_json::object();
    meta["format"] = "pt";
    for (const auto& [k, v] : metadata) meta[k] = v;
    header["__metadata__"] = meta;
    uint64_t offset = 0;
    for (size_t i : plan[s]) {
      const TensorSpec& t = w->specs_[i];
      header[t.name] = {{"dtype", DTypeName(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.nbytes()}}};
      w->shard_of_[i] = s;
      w->file_offset_[i] = offset;  // made absolute below
      offset += t.nbytes();
    }
    std::string hjson = header.dump();
    while ((hjson.size() + 8) % 8 != 0) hjson.push_back(' ');
    shard.data_start = 8 + hjson.size();
    for (size_t i : plan[s]) w->file_offset_[i] += shard.data_start;
    std::string path = dir + "/" + shard.file;
    shard.fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (shard.fd < 0) return Status::IOError(path + ": cannot create: " + std::strerror(errno));
    w->shards_.push_back(shard);
    uint64_t len = hjson.size();
    FM_RETURN_IF_ERROR(WriteFully(shard.fd, &len, 8, 0, path));
    FM_RETURN_IF_ERROR(WriteFully(shard.fd, hjson.data(), hjson.size(), 8, path));
    if (ftruncate(shard.fd, static_cast<off_t>(shard.data_start + offset)) != 0) {
      return Status::IOError(path + ": cannot size file: " + std::strerror(errno) + " (disk full?)");
    }
    w->total_bytes_ += offset;
  }
  *out = std::move(w);
  return Status::Ok();
}

SafetensorsWriter::~SafetensorsWriter() {
  for (Shard& s : shards_) {
    if (s.fd >= 0) ::close(s.fd);
  }
}

Status SafetensorsWriter::Write(size_t index, uint64_t offset, const void* data, size_t n) {
  if (index >= specs_.size()) return Status::Internal("tensor index out of range");
  const TensorSpec& t = specs_[index];
  if (offset + n > t.nbytes()) {
    return Status::Internal("write past the end of tensor '" + t.name + "'");
  }
  const Shard& s = shards_[shard_of_[index]];
  FM_RETURN_IF_ERROR(WriteFully(s.fd, data, n, file_offset_[index] + offset, dir_ + "/" + s.file));
  written_[index] += n;
  return Status::Ok();
}

Status SafetensorsWriter::Finish() {
  for (size_t i = 0; i < specs_.size(); i++) {
    if (written_[i].load() != specs_[i].nbytes()) {
      return Status::Internal("tensor '" + specs_[i].name + "': " + std::to_string(written_[i].load()) + " of " +
                              std::to_string(specs_[i].nbytes()) + " bytes written");
    }
  }
  for (Shard& s : shards_) {
    if (::close(s.fd) != 0) return Status::IOError(dir_ + "/" + s.file + ": close failed: " + std::strerror(errno));
    s.fd = -1;
  }
  if (shards_.size() > 1) {
    nlohmann::ordered_json index;
    index["metadata"] = {{"total_size", total_bytes_}};
    nlohmann::ordered_json map = nlohmann::ordered_json::object();
    for (size_t i = 0; i < specs_.size(); i++) map[specs_[i].name] = shards_[shard_of_[i]].file;
    index["weight_map"] = map;
    std::string path = dir_ + "/" + prefix_ + ".safetensors.index.json";
    std::ofstream f(path);
    f << index.dump(2) << "\n";
    if (!f) return Status::IOError(path + ": cannot write");
  }
  return Status::Ok();
}

std::vector<std::string> SafetensorsWriter::shard_files() const {
  std::vector<std::string> out;
  for (const Shard& s : shards_) out.push_back(s.file);
  return out;
}

}  // namespace fm
