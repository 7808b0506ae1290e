#include "tokenizer/corpus_sharder.h"

#include <omp.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>

#include "base/output_path.h"
#include "base/progress.h"
#include "base/splitmix.h"
#include "tokenizer/token_shard.h"
#include "tokenizer/utf8.h"

namespace fm {

namespace {

constexpr size_t kBlockBytes = 1 << 20;        // read size
constexpr size_t kPartBytes = 64 << 10;        // target size of the parts a huge document is cut into
constexpr size_t kChunkBytes = 64 << 10;       // text per unit of parallel work (~5 ms of encoding)
constexpr size_t kMaxUncutBytes = 256u << 20;  // a document the tokenizer cannot cut exactly is cut anyway
constexpr int kMaxWarningsPerFile = 20;

bool EndsWith(const std::string& s, const char* suffix) {
  size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

// Reads a file in blocks of valid UTF-8 (invalid sequences replaced and reported with their file offset; a
// character split across two blocks is carried over). The buffers are reused from block to block.
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
    raw_.assign(carry_);
    carry_.clear();
    size_t old = raw_.size();
    raw_.resize(old + kBlockBytes);
    size_t got = eof_ ? 0 : std::fread(raw_.data() + old, 1, kBlockBytes, f_);
    raw_.resize(old + got);
    *bytes_read += got;
    if (got < kBlockBytes) eof_ = true;
    uint64_t base = offset_;
    if (!eof_) {
      // Carry an incomplete trailing character to the next block.
      size_t n = raw_.size(), p = n;
      for (size_t k = 0; k < 3 && p > 0; ++k) {
        --p;
        unsigned char c = static_cast<unsigned char>(raw_[p]);
        if ((c & 0xC0) != 0x80) {
          if (c >= 0xC0 && p + utf8::CharLen(c) > n) {
            carry_.assign(raw_, p);
            raw_.resize(p);
          }
          break;
        }
      }
    }
    offset_ += raw_.size();
    if (utf8::IsValid(raw_)) {
      out->swap(raw_);  // the old block's buffer is read into next time
      return true;
    }
    std::vector<size_t> bad;
    size_t replaced = utf8::Repair(raw_, out, &bad);
    summary_->invalid_utf8 += replaced;
    for (size_t b : bad) {
      if (warnings_++ < kMaxWarningsPerFile) {
        warn_(path_ + ": invalid UTF-8 at byte offset " + std::to_string(base + b) +
              ", replaced with U+FFFD");
      }
    }
    return true;
  }

 private:
  std::string path_;
  ShardSummary* summary_;
  const std::function<void(const std::string&)>& warn_;
  std::FILE* f_ = nullptr;
  std::string raw_, carry_;
  uint64_t offset_ = 0;
  bool eof_ = false;
  int warnings_ = 0;
};

// A unit of parallel work: consecutive pieces of documents (whole documents, or the parts of a huge one) in
// input order. The reading thread fills it, any thread encodes it, and the chunks are written in input
// order.
struct Chunk {
  struct Piece {
    uint64_t doc;
    size_t end;        // of its text in `text` (it starts where the previous piece ends)
    bool first, last;  // the document's first / last piece
  };
  std::string text;
  std::vector<Piece> pieces;
  std::vector<uint32_t> ids;    // every piece's ids, back to back
  std::vector<size_t> id_ends;  // end of each piece's ids in `ids`
  Status status;                // of encoding
  bool encoded = false;
  void Clear() {
    text.clear();
    pieces.clear();
    ids.clear();
    id_ends.clear();
    status = Status::Ok();
    encoded = false;
  }
};

// Spreads the encoding of chunks over all threads while one of them reads. The reading thread hands each full
// chunk to Submit, which returns at once while few chunks are in flight and otherwise encodes and writes
// until there is room; the other threads run Work. Chunks are written one at a time in submission order (by
// whichever thread finds the oldest one encoded), so the output does not depend on the number of threads, and
// reading, encoding and writing overlap. Chunk buffers are recycled: after the first few, no chunk touches
// fresh memory.
class ChunkPipeline {
 public:
  ChunkPipeline(const Tokenizer& tok, int threads, std::function<Status(const Chunk&)> write)
      : tok_(tok),
        max_in_flight_(threads > 1 ? 4 * static_cast<size_t>(threads) : 1),
        write_(std::move(write)) {}

  std::unique_ptr<Chunk> NewChunk() {
    std::lock_guard<std::mutex> lock(mu_);
    if (free_.empty()) return std::make_unique<Chunk>();
    std::unique_ptr<Chunk> c = std::move(free_.back());
    free_.pop_back();
    return c;
  }

  // Reading thread. Returns the first error of encoding or writing.
  Status Submit(std::unique_ptr<Chunk> c) {
    std::unique_lock<std::mutex> lock(mu_);
    queue_.push_back(std::move(c));
    cv_.notify_all();
    while (error_.ok() && queue_.size() >= max_in_flight_) {
      if (!Step(lock)) cv_.wait(lock);
    }
    return error_;
  }
  // Reading thread, when it fails: the other threads stop and nothing more is written.
  void Abort(const Status& s) {
    std::lock_guard<std::mutex> lock(mu_);
    if (error_.ok()) error_ = s;
    cv_.notify_all();
  }
  // Reading thread, after the last Submit: helps until every chunk is written.
  Status Finish() {
    std::unique_lock<std::mutex> lock(mu_);
    finished_ = true;
    cv_.notify_all();
    while (error_.ok() && !(queue_.empty() && !writing_)) {
      if (!Step(lock)) cv_.wait(lock);
    }
    return error_;
  }
  // The other threads: encode and write until Finish or an error.
  void Work() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      if (Step(lock)) continue;
      if (!error_.ok() || (finished_ && queue_.empty() && !writing_)) return;
      cv_.wait(lock);
    }
  }

 private:
  // Writes the oldest chunk if it is encoded and nobody is writing, else encodes the next chunk; false when
  // there is nothing to do. Called and returns with `lock` held; works without it.
  bool Step(std::unique_lock<std::mutex>& lock) {
    if (!error_.ok()) return false;
    if (!writing_ && !queue_.empty() && queue_.front()->encoded) {
      std::unique_ptr<Chunk> c = std::move(queue_.front());
      queue_.pop_front();
      --encoding_or_done_;
      writing_ = true;
      lock.unlock();
      Status s = c->status.ok() ? write_(*c) : c->status;
      c->Clear();
      lock.lock();
      writing_ = false;
      if (!s.ok() && error_.ok()) error_ = s;
      free_.push_back(std::move(c));
      cv_.notify_all();
      return true;
    }
    if (encoding_or_done_ < queue_.size()) {
      Chunk* c = queue_[encoding_or_done_++].get();
      lock.unlock();
      Encode(c);
      lock.lock();
      c->encoded = true;
      cv_.notify_all();
      return true;
    }
    return false;
  }

  void Encode(Chunk* c) const {
    thread_local std::vector<uint32_t> ids;
    size_t begin = 0;
    for (const Chunk::Piece& p : c->pieces) {
      c->status = tok_.Encode(std::string_view(c->text).substr(begin, p.end - begin), false, &ids);
      if (!c->status.ok()) return;
      c->ids.insert(c->ids.end(), ids.begin(), ids.end());
      c->id_ends.push_back(c->ids.size());
      begin = p.end;
    }
  }

  const Tokenizer& tok_;
  const size_t max_in_flight_;
  std::function<Status(const Chunk&)> write_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Chunk>> queue_;  // submitted and not yet written, in submission order
  size_t encoding_or_done_ = 0;               // queue_[0, this) are taken by an encoding thread
  bool writing_ = false, finished_ = false;
  Status error_;
  std::vector<std::unique_ptr<Chunk>> free_;
};

// Turns the text the reader finds into documents and chunks (reading thread), and writes encoded chunks to
// the train and validation shards (whichever thread the pipeline picks; one at a time).
class Sharder {
 public:
  Sharder(const Tokenizer& tok, const ShardOptions& o, const std::string& dir, uint32_t eos, int threads,
          ShardSummary* s)
      : tok_(tok),
        o_(o),
        eos_(eos),
        s_(s),
        train_(dir, "train", tok.vocab_size(), o.shard_tokens),
        val_(dir, "val", tok.vocab_size(), o.shard_tokens),
        pipeline_(tok, threads, [this](const Chunk& c) { return Write(c); }),
        chunk_(pipeline_.NewChunk()) {}

  ChunkPipeline& pipeline() { return pipeline_; }

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
        for (size_t i = 0; i + 1 < parts.size(); ++i) FM_RETURN_IF_ERROR(Emit(parts[i], false));
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
    Status st = Emit(pending_, true);
    pending_.clear();
    return st;
  }
  bool doc_open() const { return doc_open_; }

  // Hands the last, partly filled chunk to the pipeline (reading thread, after the last document).
  Status SubmitLast() {
    if (chunk_->pieces.empty()) return Status::Ok();
    return pipeline_.Submit(std::move(chunk_));
  }

  // After the pipeline has finished: applies the at-least-one-validation-document rule and closes the
  // shards.
  Status Finish() {
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

  const TokenShardWriter& train() const { return train_; }
  const TokenShardWriter& val() const { return val_; }

 private:
  const std::function<void(const std::string&)>& warn() const { return o_.warn; }

  Status Emit(std::string_view text, bool last) {
    chunk_->text.append(text);
    chunk_->pieces.push_back({doc_, chunk_->text.size(), doc_first_, last});
    doc_first_ = false;
    if (chunk_->text.size() < kChunkBytes) return Status::Ok();
    FM_RETURN_IF_ERROR(pipeline_.Submit(std::move(chunk_)));
    chunk_ = pipeline_.NewChunk();
    return Status::Ok();
  }

  // Called by one thread at a time, chunks in input order.
  Status Write(const Chunk& c) {
    size_t begin = 0;
    for (size_t i = 0; i < c.pieces.size(); ++i) {
      const Chunk::Piece& p = c.pieces[i];
      bool val = IsValidationDocument(p.doc, o_.seed, o_.val_fraction);
      TokenShardWriter& w = val ? val_ : train_;
      if (p.first && !val) last_train_start_ = train_.total();
      FM_RETURN_IF_ERROR(w.Append(c.ids.data() + begin, c.id_ends[i] - begin));
      begin = c.id_ends[i];
      if (p.last) {
        FM_RETURN_IF_ERROR(w.Append(&eos_, 1));
        ++(val ? s_->val_docs : s_->train_docs);
      }
    }
    return Status::Ok();
  }

  const Tokenizer& tok_;
  const ShardOptions& o_;
  uint32_t eos_;
  ShardSummary* s_;
  TokenShardWriter train_, val_;   // written by Write only
  uint64_t last_train_start_ = 0;  // Write only
  ChunkPipeline pipeline_;
  // Reading thread only:
  std::unique_ptr<Chunk> chunk_;  // being filled
  std::string pending_;           // the open document's text not yet emitted
  size_t tried_at_ = 0;
  bool doc_open_ = false, doc_first_ = false, warned_uncut_ = false;
  uint64_t doc_ = 0, next_doc_ = 0;
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
  const int threads = std::max(1, omp_get_max_threads());
  Sharder sharder(tok, o, out.temp_path(), *eos, threads, summary);
  ProgressBar bar("tokenize", total_bytes, "B");
  uint64_t bytes_read = 0;
  std::function<Status()> on_block = [&]() {
    if (o.progress) bar.Update(bytes_read);
    return Status::Ok();
  };

  // Thread 0 reads and cuts documents into chunks (and helps encode when it is ahead); the other threads
  // encode; whichever finds the oldest chunk encoded writes it.
  auto read_all = [&]() -> Status {
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
    return sharder.SubmitLast();
  };
  Status read_status, pipeline_status;
#pragma omp parallel num_threads(threads)
  {
    if (omp_get_thread_num() == 0) {
      read_status = read_all();
      if (!read_status.ok()) sharder.pipeline().Abort(read_status);
      pipeline_status = sharder.pipeline().Finish();
    } else {
      sharder.pipeline().Work();
    }
  }
  FM_RETURN_IF_ERROR(read_status);
  FM_RETURN_IF_ERROR(pipeline_status);
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
