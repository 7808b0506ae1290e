#include "train/token_windows.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace fm {

namespace {

namespace fs = std::filesystem;

// "train_00012.bin" for split "train".
bool IsShardOf(const std::string& name, const std::string& split) {
  const std::string prefix = split + "_";
  if (name.size() <= prefix.size() + 4 || name.compare(0, prefix.size(), prefix) != 0) return false;
  if (name.compare(name.size() - 4, 4, ".bin") != 0) return false;
  for (size_t i = prefix.size(); i < name.size() - 4; i++) {
    if (name[i] < '0' || name[i] > '9') return false;
  }
  return true;
}

}  // namespace

Status PackedTokenWindows::Open(const std::string& folder, const std::string& split, int seq_len,
                                int64_t model_vocab, std::unique_ptr<PackedTokenWindows>* out) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) {
    return Status::NotFound(folder + ": token shard folder not found (make one with `finmerge tokenize`)");
  }
  if (seq_len < 1) return Status::InvalidArgument("--seq-len must be at least 1");
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    std::string name = entry.path().filename().string();
    if (IsShardOf(name, split)) names.push_back(name);
  }
  if (ec) return Status::IOError(folder + ": cannot list folder: " + ec.message());
  if (names.empty()) {
    return Status::NotFound(folder + ": no " + split +
                            "_NNNNN.bin token shards (make them with `finmerge tokenize`)");
  }
  std::sort(names.begin(), names.end());

  std::unique_ptr<PackedTokenWindows> w(new PackedTokenWindows());
  w->folder_ = folder;
  w->split_ = split;
  w->seq_len_ = seq_len;
  w->model_vocab_ = model_vocab;
  for (const std::string& name : names) {
    Shard s;
    FM_RETURN_IF_ERROR(TokenShard::Open(folder + "/" + name, &s.file));
    const TokenShard& f = *s.file;
    if (w->vocab_size_ == 0) w->vocab_size_ = f.vocab_size();
    if (f.vocab_size() != w->vocab_size_) {
      return Status::InvalidArgument(f.path() + ": vocab_size " + std::to_string(f.vocab_size()) +
                                     " differs from " + std::to_string(w->vocab_size_) + " of " +
                                     w->shards_.front().file->path() +
                                     " (shards made by different tokenizers?)");
    }
    if (model_vocab > 0 && f.vocab_size() > model_vocab) {
      return Status::InvalidArgument(f.path() + ": token vocab_size " + std::to_string(f.vocab_size()) +
                                     " exceeds the model's " + std::to_string(model_vocab) +
                                     " embedding rows (tokenized with another model's tokenizer?)");
    }
    s.start = w->total_tokens_;
    w->total_tokens_ += f.size();
    w->shards_.push_back(std::move(s));
  }
  w->num_windows_ = w->total_tokens_ > 0 ? (w->total_tokens_ - 1) / static_cast<uint64_t>(seq_len) : 0;
  if (w->num_windows_ == 0) {
    return Status::InvalidArgument(
        folder + ": the " + split + " shards hold " + std::to_string(w->total_tokens_) +
        " tokens, fewer than one window of --seq-len + 1 = " + std::to_string(seq_len + 1));
  }
  *out = std::move(w);
  return Status::Ok();
}

size_t PackedTokenWindows::ShardOf(uint64_t pos) const {
  // The last shard starting at or before pos.
  auto it = std::upper_bound(shards_.begin(), shards_.end(), pos,
                             [](uint64_t p, const Shard& s) { return p < s.start; });
  return static_cast<size_t>(it - shards_.begin()) - 1;
}

void PackedTokenWindows::CopyTokens(uint64_t pos, uint64_t n, uint32_t* dst) const {
  size_t si = ShardOf(pos);
  while (n > 0) {
    const Shard& s = shards_[si];
    const uint64_t local = pos - s.start;
    const uint64_t take = std::min(n, s.file->size() - local);
    std::memcpy(dst, s.file->tokens() + local, take * sizeof(uint32_t));
    dst += take;
    pos += take;
    n -= take;
    si++;
  }
}

Status PackedTokenWindows::Read(uint64_t i, uint32_t* inputs, uint32_t* targets) const {
  if (i >= num_windows_) {
    return Status::Internal("window " + std::to_string(i) + " out of range " + std::to_string(num_windows_));
  }
  const uint64_t T = static_cast<uint64_t>(seq_len_);
  CopyTokens(i * T, T, inputs);
  CopyTokens(i * T + 1, T, targets);
  // Token ids index the embedding: an id past it would read out of bounds, so refuse it with its location.
  const uint32_t limit = static_cast<uint32_t>(model_vocab_ > 0 ? model_vocab_ : vocab_size_);
  for (uint64_t t = 0; t < T; t++) {
    if (inputs[t] >= limit || targets[t] >= limit) {
      const uint64_t pos = i * T + t + (inputs[t] >= limit ? 0 : 1);
      const Shard& s = shards_[ShardOf(pos)];
      const uint32_t id = inputs[t] >= limit ? inputs[t] : targets[t];
      return Status::Corruption(s.file->path() + ": token " + std::to_string(pos - s.start) + " has id " +
                                std::to_string(id) + " >= vocabulary size " + std::to_string(limit));
    }
  }
  return Status::Ok();
}

std::string PackedTokenWindows::Describe() const {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.2fM", static_cast<double>(total_tokens_) / 1e6);
  return folder_ + "/" + split_ + "_*.bin (" + std::to_string(shards_.size()) + " shards, " + buf +
         " tokens, " + std::to_string(num_windows_) + " windows)";
}

}  // namespace fm
