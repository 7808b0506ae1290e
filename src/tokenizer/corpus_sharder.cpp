#include "tokenizer/corpus_sharder.h"

#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "base/output_path.h"
#include "base/progress.h"
#include "base/splitmix.h"
#include "tokenizer/token_shard.h"
#include "tokenizer/utf8.h"

namespace fm {

namespace {

constexpr size_t kBlockBytes = 4 << 20;   // read size
constexpr size_t kPartBytes = 256 << 10;  // target size of the parts a huge document is cut into
constexpr size_t kBatchBytes = 32 << 20;  // text encoded per parallel batch
constexpr size_t kBatchItems = 1 << 16;
constexpr size_t kMaxUncutBytes = 256u << 20;  // a document the tokenizer cannot cut exactly is cut anyway
constexpr int kMaxWarningsPerFile = 20;

bool EndsWith(const std::string& s, const char* suffix) {
  size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

// Reads a file in blocks of valid UTF-8 (invalid sequences replaced and reported with their file offset; a
// character split across two blocks is carried over).
class Utf8BlockReader {
 public:
  Utf8BlockReader(std::string path, ShardSummary* summary,
                  const std::function<void(const std::string&)>& warn)
      : path_(std::move(path)), summary_(summary), warn_(warn) {}
  ~Utf8BlockReader() {
    if (f_) std::fclose(f_);
    if (warnings_ > kMaxWarningsPerFile) {
      warn_(path_ + ": " + std::to_string(warnings_ - kMaxWarningsPerFile) +
            " more invalid UTF-8 sequences not shown (all replaced with U+FFFD)");
    }
  }
  Status Open() {
    f_ = std::fopen(path_.c_str(), "rb");
    if (!f_) return Status::NotFound(path_ + ": cannot open input file");
    return Status::Ok();
  }
  // Next block of valid UTF-8 into *out; false at end of file.
  bool Next(std::string* out, uint64_t* bytes_read) {
    if (eof_ && carry_.empty()) return false;
    std::string raw = std::move(carry_);
    carry_.clear();
    size_t old = raw.size();
    raw.resize(old + kBlockBytes);
    size_t got = eof_ ? 0 : std::fread(raw.data() + old, 1, kBlockBytes, f_);
    raw.resize(old + got);
    *bytes_read += got;
    if (got < kBlockBytes) eof_ = true;
    uint64_t base = offset_;
    if (!eof_) {
      // Carry an incomplete trailing character to the next block.
      size_t n = raw.size(), p = n;
      for (size_t k = 0; k < 3 && p > 0; ++k) {
        --p;
        unsigned char c = static_cast<unsigned char>(raw[p]);
        if ((c & 0xC0) != 0x80) {
          if (c >= 0xC0 && p + utf8::CharLen(c) > n) {
            carry_ = raw.substr(p);
            raw.resize(p);
          }
          break;
        }
      }
    }
    offset_ += raw.size();
    std::vector<size_t> bad;
    size_t replaced = utf8::Repair(raw, out, &bad);
    if (replaced) {
      summary_->invalid_utf8 += replaced;
      for (size_t b : bad) {
        if (warnings_++ < kMaxWarningsPerFile) {
          warn_(path_ + ": invalid UTF-8 at byte offset " + std::to_string(base + b) +
                ", replaced with U+FFFD");
        }
      }
    }
    return true;
  }

 private:
  std::string path_;
  ShardSummary* summary_;
  const std::function<void(const std::string&)>& warn_;
  std::FILE* f_ = nullptr;
  std::string carry_;
  uint64_t offset_ = 0;
  bool eof_ = false;
  int warnings_ = 0;
};

class Sharder {
 public:
  Sharder(const Tokenizer& tok, const ShardOptions& o, const std::string& dir, uint32_t eos, ShardSummary* s)
      : tok_(tok),
        o_(o),
        eos_(eos),
        s_(s),
        train_(dir, "train", tok.vocab_size(), o.shard_tokens),
        val_(dir, "val", tok.vocab_size(), o.shard_tokens) {}

  // Appends text to the current document (opening one if none is open).
  Status Append(std::string_view text) {
    if (text.empty()) return Status::Ok();
    if (!doc_open_) {
      doc_open_ = true;
      doc_ = next_doc_++;
      doc_first_ = true;
      tried_at_ = 0;
    }
    pending_.append(text);
    if (pending_.size() >= tried_at_ + 2 * kPartBytes) {
      tried_at_ = pending_.size();
      std::vector<std::string_view> parts;
      tok_.SplitForParallelEncode(pending_, kPartBytes, &parts);
      if (parts.size() == 1 && pending_.size() > kMaxUncutBytes) {
        size_t nl = pending_.rfind('\n');
        if (nl != std::string::npos && nl + 1 < pending_.size()) {
          if (!warned_uncut_) {
            warned_uncut_ = true;
            warn()("document " + std::to_string(doc_) + " is larger than " + HumanBytes(kMaxUncutBytes) +
                   " and this tokenizer cannot cut it exactly: cutting it at line ends (ids next to the cuts "
                   "may "
                   "differ from encoding it whole)");
          }
          parts = {std::string_view(pending_).substr(0, nl + 1), std::string_view(pending_).substr(nl + 1)};
        }
      }
      if (parts.size() > 1) {
        for (size_t i = 0; i + 1 < parts.size(); ++i) FM_RETURN_IF_ERROR(Emit(std::string(parts[i]), false));
        pending_ = std::string(parts.back());
        tried_at_ = 0;
      }
    }
    return Status::Ok();
  }

  // Ends the current document (nothing happens when it has no text).
  Status EndDoc() {
    if (!doc_open_) {
      ++s_->empty_docs;
      return Status::Ok();
    }
    doc_open_ = false;
    std::string text;
    text.swap(pending_);
    return Emit(std::move(text), true);
  }
  bool doc_open() const { return doc_open_; }

  Status Flush() {
    size_t n = batch_.size();
    if (n == 0) return Status::Ok();
    std::vector<std::vector<uint32_t>> ids(n);
    std::vector<Status> st(n);
#pragma omp parallel for schedule(dynamic, 1)
    for (size_t i = 0; i < n; ++i) st[i] = tok_.Encode(batch_[i].text, false, &ids[i]);
    for (size_t i = 0; i < n; ++i) {
      FM_RETURN_IF_ERROR(st[i]);
      const Item& it = batch_[i];
      bool val = IsValidationDocument(it.doc, o_.seed, o_.val_fraction);
      TokenShardWriter& w = val ? val_ : train_;
      if (it.first && !val) last_train_start_ = train_.total();
      FM_RETURN_IF_ERROR(w.Append(ids[i].data(), ids[i].size()));
      if (it.last) {
        FM_RETURN_IF_ERROR(w.Append(&eos_, 1));
        ++(val ? s_->val_docs : s_->train_docs);
      }
    }
    batch_.clear();
    batch_bytes_ = 0;
    return Status::Ok();
  }

  // Applies the at-least-one-validation-document rule and closes the shards.
  Status Finish() {
    FM_RETURN_IF_ERROR(Flush());
    if (o_.val_fraction > 0 && s_->val_docs == 0 && s_->train_docs >= 2) {
      std::vector<uint32_t> tail;
      FM_RETURN_IF_ERROR(train_.TakeTail(last_train_start_, &tail));
      FM_RETURN_IF_ERROR(val_.Append(tail.data(), tail.size()));
      --s_->train_docs;
      ++s_->val_docs;
    }
    FM_RETURN_IF_ERROR(train_.Finish());
    FM_RETURN_IF_ERROR(val_.Finish());
    s_->train_tokens = train_.total();
    s_->val_tokens = val_.total();
    s_->train_shards = train_.shards().size();
    s_->val_shards = val_.shards().size();
    return Status::Ok();
  }

  size_t batch_bytes() const {
    return batch_bytes_;
  }
  const TokenShardWriter& train() const {
    return train_;
  }
  const TokenShardWriter& val() const {
    return val_;
  }

 private:
  struct Item {
    uint64_t doc;
    std::string text;
    bool first, last;
  };
  const std::function<void(const std::string&)>& warn() const {
    return o_.warn;
  }

  Status Emit(std::string text, bool last) {
    batch_bytes_ += text.size();
    batch_.push_back({doc_, std::move(text), doc_first_, last});
    doc_first_ = false;
    if (batch_bytes_ >= kBatchBytes || batch_.size() >= kBatchItems) return Flush();
    return Status::Ok();
  }

  const Tokenizer& tok_;
  const ShardOptions& o_;
  uint32_t eos_;
  ShardSummary* s_;
  TokenShardWriter train_, val_;
  std::vector<Item> batch_;
  size_t batch_bytes_ = 0;
  std::string pending_;
  size_t tried_at_ = 0;
  bool doc_open_ = false, doc_first_ = false, warned_uncut_ = false;
  uint64_t doc_ = 0, next_doc_ = 0, last_train_start_ = 0;
};

bool IsBlank(std::string_view line) {
  for (char c : line) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\f' && c != '\v') return false;
  }
  return true;
}

// Calls fn(line) for each line (without its '\n') of the blocks from `r`; returns false when fn fails.
template <typename Fn>
Status ForEachLine(Utf8BlockReader& r, uint64_t* bytes_read, const std::function<Status()>& on_block, Fn fn) {
  std::string block, partial;
  while (r.Next(&block, bytes_read)) {
    size_t start = 0;
    while (true) {
      size_t nl = block.find('\n', start);
      if (nl == std::string::npos) break;
      if (!partial.empty()) {
        partial.append(block, start, nl - start);
        FM_RETURN_IF_ERROR(fn(std::string_view(partial)));
        partial.clear();
      } else {
        FM_RETURN_IF_ERROR(fn(std::string_view(block).substr(start, nl - start)));
      }
      start = nl + 1;
    }
    partial.append(block, start, std::string::npos);
    FM_RETURN_IF_ERROR(on_block());
  }
  if (!partial.empty()) FM_RETURN_IF_ERROR(fn(std::string_view(partial)));
  return Status::Ok();
}

}  // namespace

bool IsValidationDocument(uint64_t index, uint64_t seed, double val_fraction) {
  if (val_fraction <= 0) return false;
  uint64_t h = SplitMix64(index ^ SplitMix64(seed));
  double u = static_cast<double>(h >> 11) * (1.0 / 9007199254740992.0);  // [0, 1)
  return u < val_fraction;
}

Status ShardCorpus(const Tokenizer& tok, const ShardOptions& opts, ShardSummary* summary) {
  auto start = std::chrono::steady_clock::now();
  ShardOptions o = opts;
  if (!o.warn)
    o.warn = [](const std::string& m) { std::fprintf(stderr, "finmerge: warning: %s\n", m.c_str()); };
  *summary = ShardSummary();
  if (o.inputs.empty()) return Status::InvalidArgument("no input files");
  if (o.val_fraction < 0 || o.val_fraction >= 1) {
    return Status::InvalidArgument("--val-fraction " + std::to_string(o.val_fraction) + " must be in [0, 1)");
  }
  if (o.shard_tokens == 0) return Status::InvalidArgument("--shard-tokens must be positive");
  std::optional<uint32_t> eos = o.eos_id ? o.eos_id : tok.eos_id();
  if (!eos) {
    return Status::InvalidArgument(tok.dir() +
                                   ": the tokenizer names no eos token (tokenizer_config.json); give one "
                                   "with --eos TOKEN");
  }
  if (*eos >= tok.vocab_size())
    return Status::InvalidArgument("eos id " + std::to_string(*eos) + " is outside the vocabulary");
  summary->eos_id = *eos;

  uint64_t total_bytes = 0;
  for (const auto& in : o.inputs) {
    struct stat st;
    if (stat(in.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
      return Status::NotFound(in + ": input file does not exist or is not a regular file");
    }
    total_bytes += static_cast<uint64_t>(st.st_size);
  }

  OutputPath out(o.output_dir, OutputPath::Kind::kDirectory);
  FM_RETURN_IF_ERROR(out.Begin());
  Sharder sharder(tok, o, out.temp_path(), *eos, summary);
  ProgressBar bar("tokenize", total_bytes, "B");
  uint64_t bytes_read = 0;
  std::function<Status()> on_block = [&]() {
    if (o.progress) bar.Update(bytes_read);
    return Status::Ok();
  };

  for (const auto& path : o.inputs) {
    Utf8BlockReader reader(path, summary, o.warn);
    FM_RETURN_IF_ERROR(reader.Open());
    if (EndsWith(path, ".jsonl")) {
      uint64_t line_no = 0;
      FM_RETURN_IF_ERROR(ForEachLine(reader, &bytes_read, on_block, [&](std::string_view line) -> Status {
        ++line_no;
        if (IsBlank(line)) return Status::Ok();
        std::string where = path + ":" + std::to_string(line_no);
        nlohmann::json j;
        try {
          j = nlohmann::json::parse(line);
        } catch (const nlohmann::json::exception& e) {
          ++summary->skipped_lines;
          o.warn(where + ": not valid JSON, line skipped (" + e.what() + ")");
          return Status::Ok();
        }
        if (!j.is_object() || !j.contains("text") || !j["text"].is_string()) {
          ++summary->skipped_lines;
          o.warn(where + ": no \"text\" string field, line skipped");
          return Status::Ok();
        }
        FM_RETURN_IF_ERROR(sharder.Append(j["text"].get_ref<const std::string&>()));
        return sharder.EndDoc();
      }));
    } else if (o.blank_line_docs) {
      FM_RETURN_IF_ERROR(ForEachLine(reader, &bytes_read, on_block, [&](std::string_view line) -> Status {
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (IsBlank(line)) return sharder.doc_open() ? sharder.EndDoc() : Status::Ok();
        if (sharder.doc_open()) FM_RETURN_IF_ERROR(sharder.Append("\n"));
        return sharder.Append(line);
      }));
      if (sharder.doc_open()) FM_RETURN_IF_ERROR(sharder.EndDoc());
    } else {
      std::string block;
      while (reader.Next(&block, &bytes_read)) {
        FM_RETURN_IF_ERROR(sharder.Append(block));
        FM_RETURN_IF_ERROR(on_block());
      }
      FM_RETURN_IF_ERROR(sharder.EndDoc());
    }
  }
  FM_RETURN_IF_ERROR(sharder.Finish());
  summary->input_bytes = bytes_read;
  if (o.progress) {
    bar.Update(bytes_read);
    bar.Finish();
  }

  nlohmann::json m;
  m["format"] = "finmerge-token-shards";
  m["version"] = kTokenShardVersion;
  m["header_bytes"] = kTokenShardHeaderBytes;
  m["dtype"] = "uint32";
  m["tokenizer"] = o.tokenizer_path.empty() ? tok.dir() : o.tokenizer_path;
  m["tokenizer_kind"] = TokenizerKindName(tok.kind());
  m["vocab_size"] = tok.vocab_size();
  m["eos_id"] = *eos;
  m["eos_token"] = tok.IdToToken(*eos);
  m["val_fraction"] = o.val_fraction;
  m["seed"] = o.seed;
  m["blank_line_docs"] = o.blank_line_docs;
  m["shard_tokens"] = o.shard_tokens;
  m["inputs"] = o.inputs;
  m["input_bytes"] = summary->input_bytes;
  m["documents"] = {
      {"train", summary->train_docs}, {"val", summary->val_docs}, {"empty_skipped", summary->empty_docs}};
  m["tokens"] = {{"train", summary->train_tokens},
                 {"val", summary->val_tokens},
                 {"total", summary->train_tokens + summary->val_tokens}};
  m["invalid_utf8_replaced"] = summary->invalid_utf8;
  m["skipped_jsonl_lines"] = summary->skipped_lines;
  for (const auto* w : {&sharder.train(), &sharder.val()}) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& sh : w->shards()) list.push_back({{"file", sh.file}, {"tokens", sh.tokens}});
    m[w == &sharder.train() ? "train" : "val"] = list;
  }
  std::string manifest = out.temp_path() + "/manifest.json";
  std::ofstream mf(manifest);
  mf << m.dump(2) << "\n";
  mf.close();
  if (!mf) return Status::IOError(manifest + ": cannot write");
  FM_RETURN_IF_ERROR(out.Commit());
  summary->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return Status::Ok();
}

}  // namespace fm
