#include "tokenizer/token_shard.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace fm {

namespace {

std::string Errno() {
  return std::strerror(errno);
}

void EncodeHeader(uint32_t vocab, uint64_t count, unsigned char* h) {
  std::memset(h, 0, kTokenShardHeaderBytes);
  std::memcpy(h, kTokenShardMagic, 8);
  std::memcpy(h + 8, &kTokenShardVersion, 4);
  std::memcpy(h + 12, &vocab, 4);
  std::memcpy(h + 16, &count, 8);
}

}  // namespace

TokenShard::~TokenShard() {
  if (map_) munmap(map_, map_bytes_);
}

Status TokenShard::Open(const std::string& path, std::unique_ptr<TokenShard>* out) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return Status::IOError(path + ": cannot open token shard: " + Errno());
  struct stat st;
  if (fstat(fd, &st) != 0) {
    ::close(fd);
    return Status::IOError(path + ": cannot stat: " + Errno());
  }
  size_t bytes = static_cast<size_t>(st.st_size);
  if (bytes < kTokenShardHeaderBytes) {
    ::close(fd);
    return Status::Corruption(path + ": " + std::to_string(bytes) +
                              " bytes is shorter than the 256-byte token shard header");
  }
  void* map = mmap(nullptr, bytes, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) return Status::IOError(path + ": cannot mmap: " + Errno());
  std::unique_ptr<TokenShard> s(new TokenShard());
  s->path_ = path;
  s->map_ = map;
  s->map_bytes_ = bytes;
  const auto* h = static_cast<const unsigned char*>(map);
  if (std::memcmp(h, kTokenShardMagic, 8) != 0) {
    return Status::Corruption(path + ": not a finmerge token shard (magic is not FMTOKSHD)");
  }
  uint32_t version;
  std::memcpy(&version, h + 8, 4);
  if (version != kTokenShardVersion) {
    return Status::Unsupported(path + ": token shard version " + std::to_string(version) +
                               " (this build reads version " + std::to_string(kTokenShardVersion) +
                               "; re-run finmerge tokenize)");
  }
  std::memcpy(&s->vocab_size_, h + 12, 4);
  std::memcpy(&s->count_, h + 16, 8);
  uint64_t expect = kTokenShardHeaderBytes + 4 * s->count_;
  if (s->count_ > (bytes / 4) || expect != bytes) {
    return Status::Corruption(path + ": header says " + std::to_string(s->count_) + " tokens (" +
                              std::to_string(expect) + " bytes) but the file has " + std::to_string(bytes) +
                              " bytes (truncated copy?)");
  }
  s->tokens_ = reinterpret_cast<const uint32_t*>(h + kTokenShardHeaderBytes);
  *out = std::move(s);
  return Status::Ok();
}

TokenShardWriter::TokenShardWriter(std::string dir, std::string prefix, uint32_t vocab_size,
                                   uint64_t shard_tokens)
    : dir_(std::move(dir)),
      prefix_(std::move(prefix)),
      vocab_size_(vocab_size),
      shard_tokens_(shard_tokens ? shard_tokens : 1) {}

TokenShardWriter::~TokenShardWriter() {
  if (f_) std::fclose(f_);
}

Status TokenShardWriter::OpenNext() {
  char name[64];
  std::snprintf(name, sizeof name, "%s_%05zu.bin", prefix_.c_str(), shards_.size());
  std::string path = dir_ + "/" + name;
  f_ = std::fopen(path.c_str(), "wb");
  if (!f_) return Status::IOError(path + ": cannot create: " + Errno());
  std::setvbuf(f_, nullptr, _IOFBF, 1 << 20);
  unsigned char h[kTokenShardHeaderBytes];
  EncodeHeader(vocab_size_, 0, h);
  if (std::fwrite(h, 1, sizeof h, f_) != sizeof h)
    return Status::IOError(path + ": write failed: " + Errno());
  shards_.push_back({name, 0});
  return Status::Ok();
}

Status TokenShardWriter::CloseCurrent() {
  if (!f_) return Status::Ok();
  std::string path = dir_ + "/" + shards_.back().file;
  unsigned char h[kTokenShardHeaderBytes];
  EncodeHeader(vocab_size_, shards_.back().tokens, h);
  bool ok = std::fseek(f_, 0, SEEK_SET) == 0 && std::fwrite(h, 1, sizeof h, f_) == sizeof h;
  ok = std::fclose(f_) == 0 && ok;
  f_ = nullptr;
  if (!ok) return Status::IOError(path + ": cannot finish the shard: " + Errno() + " (disk full?)");
  return Status::Ok();
}

Status TokenShardWriter::Append(const uint32_t* ids, size_t n) {
  while (n > 0) {
    if (!f_ || shards_.back().tokens == shard_tokens_) {
      FM_RETURN_IF_ERROR(CloseCurrent());
      FM_RETURN_IF_ERROR(OpenNext());
    }
    size_t take = static_cast<size_t>(std::min<uint64_t>(n, shard_tokens_ - shards_.back().tokens));
    if (std::fwrite(ids, 4, take, f_) != take) {
      return Status::IOError(dir_ + "/" + shards_.back().file + ": write failed: " + Errno() +
                             " (disk full?)");
    }
    shards_.back().tokens += take;
    total_ += take;
    ids += take;
    n -= take;
  }
  return Status::Ok();
}

Status TokenShardWriter::TakeTail(uint64_t from, std::vector<uint32_t>* tail) {
  tail->clear();
  if (from > total_) return Status::Internal("TakeTail beyond the end of the token stream");
  FM_RETURN_IF_ERROR(CloseCurrent());
  // Find the shard holding position `from`.
  uint64_t start = 0;
  size_t first = 0;
  while (first < shards_.size() && start + shards_[first].tokens <= from) start += shards_[first++].tokens;
  tail->reserve(total_ - from);
  for (size_t i = first; i < shards_.size(); ++i) {
    std::string path = dir_ + "/" + shards_[i].file;
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) return Status::IOError(path + ": cannot reopen: " + Errno());
    uint64_t skip = i == first ? from - start : 0;
    size_t n = static_cast<size_t>(shards_[i].tokens - skip);
    size_t old = tail->size();
    tail->resize(old + n);
    bool ok = std::fseek(f, static_cast<long>(kTokenShardHeaderBytes + 4 * skip), SEEK_SET) == 0 &&
              std::fread(tail->data() + old, 4, n, f) == n;
    std::fclose(f);
    if (!ok) return Status::IOError(path + ": cannot read back: " + Errno());
  }
  // Drop whole shards after `first`, then cut `first` (removing it when it becomes empty).
  for (size_t i = shards_.size(); i-- > first + 1;) {
    std::remove((dir_ + "/" + shards_[i].file).c_str());
    shards_.pop_back();
  }
  if (first < shards_.size()) {
    std::string path = dir_ + "/" + shards_[first].file;
    uint64_t keep = from - start;
    if (keep == 0) {
      std::remove(path.c_str());
      shards_.pop_back();
    } else {
      if (truncate(path.c_str(), static_cast<off_t>(kTokenShardHeaderBytes + 4 * keep)) != 0) {
        return Status::IOError(path + ": cannot truncate: " + Errno());
      }
      f_ = std::fopen(path.c_str(), "r+b");
      if (!f_) return Status::IOError(path + ": cannot reopen: " + Errno());
      std::fseek(f_, 0, SEEK_END);
      shards_[first].tokens = keep;
    }
  }
  total_ = from;
  return Status::Ok();
}

Status TokenShardWriter::Finish() {
  return CloseCurrent();
}

}  // namespace fm
