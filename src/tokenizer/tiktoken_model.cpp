#include "tokenizer/tiktoken_model.h"

#include <fstream>
#include <limits>
#include <queue>
#include <sstream>

#include "tokenizer/byte_level.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/utf8.h"

namespace fm {

namespace {

constexpr uint32_t kNoTiktokenRank = std::numeric_limits<uint32_t>::max();

bool Base64Decode(std::string_view in, std::string* out) {
  out->clear();
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '+')
      v = 62;
    else if (c == '/')
      v = 63;
    else if (c == '=')
      break;
    else
      return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return true;
}

}  // namespace

TiktokenTokenizer::~TiktokenTokenizer() = default;

Status TiktokenTokenizer::Load(const std::string& dir, std::unique_ptr<Tokenizer>* out) {
  std::string path = dir + "/qwen.tiktoken";
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::IOError(path + ": cannot open");
  std::stringstream ss;
  ss << f.rdbuf();
  std::unique_ptr<TiktokenTokenizer> t;
  FM_RETURN_IF_ERROR(FromRanksText(ss.str(), path, &t));
  t->dir_ = dir;
  *out = std::move(t);
  return Status::Ok();
}

Status TiktokenTokenizer::FromRanksText(std::string_view text, const std::string& source,
                                        std::unique_ptr<TiktokenTokenizer>* out) {
  std::unique_ptr<TiktokenTokenizer> t(new TiktokenTokenizer());
  t->kind_ = TokenizerKind::kTiktoken;
  t->source_file_ = source;
  size_t line_no = 0, pos = 0;
  std::string bytes;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    size_t sp = line.find(' ');
    std::string where = source + ":" + std::to_string(line_no);
    if (sp == std::string_view::npos) return Status::Corruption(where + ": expected \"<base64> <rank>\"");
    if (!Base64Decode(line.substr(0, sp), &bytes) || bytes.empty()) {
      return Status::Corruption(where + ": token is not base64");
    }
    uint64_t rank = 0;
    std::string_view r = line.substr(sp + 1);
    if (r.empty()) return Status::Corruption(where + ": missing rank");
    for (char c : r) {
      if (c < '0' || c > '9')
        return Status::Corruption(where + ": rank \"" + std::string(r) + "\" is not a number");
      rank = rank * 10 + static_cast<uint64_t>(c - '0');
      if (rank > 100000000) return Status::Corruption(where + ": rank " + std::string(r) + " is too large");
    }
    if (rank >= t->bytes_.size()) t->bytes_.resize(rank + 1);
    if (!t->bytes_[rank].empty())
      return Status::Corruption(where + ": rank " + std::to_string(rank) + " appears twice");
    t->bytes_[rank] = bytes;
    t->ranks_.emplace(bytes, static_cast<uint32_t>(rank));
  }
  if (t->ranks_.size() != t->bytes_.size()) {
    return Status::Corruption(source + ": ranks are not contiguous (" + std::to_string(t->ranks_.size()) +
                              " tokens, largest rank " + std::to_string(t->bytes_.size() - 1) + ")");
  }
  for (int b = 0; b < 256; ++b) {
    if (!t->ranks_.count(std::string(1, static_cast<char>(b)))) {
      return Status::Corruption(source + ": byte " + std::to_string(b) +
                                " has no rank (not a byte-level BPE)");
    }
  }
  t->num_ranks_ = static_cast<uint32_t>(t->bytes_.size());

  std::vector<std::string> specials = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
  for (int i = 0; i < 205; ++i) specials.push_back("<|extra_" + std::to_string(i) + "|>");
  std::vector<AddedToken> added;
  for (size_t i = 0; i < specials.size(); ++i) {
    AddedToken a;
    a.id = t->num_ranks_ + static_cast<uint32_t>(i);
    a.content = specials[i];
    a.special = true;
    added.push_back(a);
    t->bytes_.push_back(specials[i]);
  }
  t->specials_ = AddedTokens(std::move(added));
  FM_RETURN_IF_ERROR(Pattern::Regex(kSplitRegex, &t->regex_));

  t->tokens_.resize(t->bytes_.size());
  t->types_.assign(t->bytes_.size(), TokenType::kNormal);
  for (uint32_t i = 0; i < t->bytes_.size(); ++i) {
    if (i < t->num_ranks_) {
      t->tokens_[i] = byte_level::Encode(t->bytes_[i]);
    } else {
      t->tokens_[i] = t->bytes_[i];
      t->types_[i] = TokenType::kControl;
    }
  }
  t->eos_ = t->num_ranks_;  // <|endoftext|>
  t->pad_ = t->num_ranks_;
  *out = std::move(t);
  return Status::Ok();
}

uint32_t TiktokenTokenizer::RankOf(std::string_view b) const {
  auto it = ranks_.find(b);
  return it == ranks_.end() ? kNoTiktokenRank : it->second;
}

void TiktokenTokenizer::BytePairMerge(std::string_view piece, uint32_t max_rank,
                                      std::vector<size_t>* bounds) const {
  size_t n = piece.size();
  auto rank_of = [&](size_t b, size_t e) {
    uint32_t r = RankOf(piece.substr(b, e - b));
    return r < max_rank ? r : kNoTiktokenRank;
  };
  bounds->clear();
  for (size_t i = 0; i <= n; ++i) bounds->push_back(i);
  if (n < 2) return;
  if (n <= 256) {
    // rank[i]: rank of joining part i and i+1 (parts i..i+1 span bounds[i]..bounds[i+2]).
    std::vector<uint32_t> rank(n - 1);
    for (size_t i = 0; i + 1 < n; ++i) rank[i] = rank_of(i, i + 2);
    while (!rank.empty()) {
      size_t best = 0;
      uint32_t best_rank = kNoTiktokenRank;
      for (size_t i = 0; i < rank.size(); ++i) {
        if (rank[i] < best_rank) {
          best_rank = rank[i];
          best = i;
        }
      }
      if (best_rank == kNoTiktokenRank) break;
      bounds->erase(bounds->begin() + best + 1);
      rank.erase(rank.begin() + best);
      auto& bd = *bounds;
      if (best > 0) rank[best - 1] = rank_of(bd[best - 1], bd[best + 1]);
      if (best < rank.size()) rank[best] = rank_of(bd[best], bd[best + 2]);
    }
    return;
  }
  // Long pieces: linked parts and a heap of (rank, start) candidates, invalidated by part versions.
  struct Part {
    size_t start;
    int64_t prev, next;
    uint32_t version;
    bool alive;
  };
  std::vector<Part> parts(n);
  for (size_t i = 0; i < n; ++i)
    parts[i] = {i, static_cast<int64_t>(i) - 1, i + 1 < n ? static_cast<int64_t>(i + 1) : -1, 0, true};
  auto end_of = [&](size_t i) { return parts[i].next >= 0 ? parts[parts[i].next].start : n; };
  struct Cand {
    uint32_t rank;
    size_t pos;
    uint32_t v_left, v_right;
    bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> heap;
  auto push = [&](size_t i) {
    if (parts[i].next < 0) return;
    size_t j = static_cast<size_t>(parts[i].next);
    uint32_t r = rank_of(parts[i].start, end_of(j));
    if (r != kNoTiktokenRank) heap.push({r, i, parts[i].version, parts[j].version});
  };
  for (size_t i = 0; i + 1 < n; ++i) push(i);
  while (!heap.empty()) {
    Cand c = heap.top();
    heap.pop();
    Part& left = parts[c.pos];
    if (!left.alive || left.next < 0 || left.version != c.v_left) continue;
    Part& right = parts[left.next];
    if (right.version != c.v_right) continue;
    right.alive = false;
    left.next = right.next;
    if (right.next >= 0) parts[right.next].prev = static_cast<int64_t>(c.pos);
    ++left.version;
    // Candidates that involved the old left part carry its old version and are skipped when popped.
    if (left.prev >= 0) push(static_cast<size_t>(left.prev));
    push(c.pos);
  }
  bounds->clear();
  for (int64_t i = 0; i >= 0; i = parts[i].next) bounds->push_back(parts[i].start);
  bounds->push_back(n);
}

void TiktokenTokenizer::EncodePiece(std::string_view piece, std::vector<uint32_t>* ids) const {
  uint32_t whole = RankOf(piece);
  if (whole != kNoTiktokenRank) {
    ids->push_back(whole);
    return;
  }
  thread_local std::vector<size_t> bounds;
  BytePairMerge(piece, kNoTiktokenRank, &bounds);
  for (size_t i = 0; i + 1 < bounds.size(); ++i)
    ids->push_back(RankOf(piece.substr(bounds[i], bounds[i + 1] - bounds[i])));
}

Status TiktokenTokenizer::Encode(std::string_view text, bool add_special, std::vector<uint32_t>* ids) const {
  (void)add_special;  // Qwen-1 adds no special tokens around a sequence
  ids->clear();
  size_t bad = utf8::FirstInvalid(text);
  if (bad != text.size()) {
    return Status::InvalidArgument("invalid UTF-8 at byte " + std::to_string(bad) + " of the text to encode");
  }
  std::string nfc = NormalizeUnicode(text, UnicodeForm::kNFC);
  std::string_view s = nfc;
  std::vector<AddedTokens::Piece> pieces;
  specials_.Split(s, false, &pieces);
  std::vector<std::pair<size_t, size_t>> matches;
  for (const auto& p : pieces) {
    if (p.id >= 0) {
      ids->push_back(static_cast<uint32_t>(p.id));
      continue;
    }
    std::string_view seg = s.substr(p.begin, p.end - p.begin);
    matches.clear();
    regex_->FindAll(seg, &matches);
    size_t prev = 0;
    for (auto [b, e] : matches) {
      if (b > prev) EncodePiece(seg.substr(prev, b - prev), ids);
      EncodePiece(seg.substr(b, e - b), ids);
      prev = e;
    }
    if (prev < seg.size()) EncodePiece(seg.substr(prev), ids);
  }
  return Status::Ok();
}

std::string TiktokenTokenizer::Decode(const std::vector<uint32_t>& ids, bool skip_special) const {
  std::string bytes;
  for (uint32_t id : ids) {
    if (id >= bytes_.size()) continue;
    if (id >= num_ranks_ && skip_special) continue;
    bytes += bytes_[id];
  }
  return utf8::Lossy(bytes);
}

std::vector<std::pair<std::string, std::string>> TiktokenTokenizer::Merges() const {
  std::vector<std::pair<std::string, std::string>> out;
  std::vector<size_t> bounds;
  for (uint32_t r = 0; r < num_ranks_; ++r) {
    const std::string& b = bytes_[r];
    if (b.size() < 2) continue;
    BytePairMerge(b, r, &bounds);
    if (bounds.size() != 3)
      continue;  // not reachable by one merge: no merge entry (as llama.cpp's converter)
    out.emplace_back(byte_level::Encode(b.substr(0, bounds[1])), byte_level::Encode(b.substr(bounds[1])));
  }
  return out;
}

}  // namespace fm
