#include "tokenizer/bpe_model.h"

#include <atomic>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>
#include <queue>

#include "tokenizer/byte_level.h"
#include "tokenizer/utf8.h"

namespace fm {

namespace {

constexpr uint32_t kNoRank = std::numeric_limits<uint32_t>::max();

std::string FallbackToken(unsigned char b) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "<0x%02X>", b);
  return buf;
}

}  // namespace

BpeModel::~BpeModel() = default;

bool BpeModel::SplitMergeString(const std::string& s, std::pair<std::string, std::string>* out) {
  size_t sp = s.find(' ');
  if (sp == std::string::npos) return false;
  out->first = s.substr(0, sp);
  out->second = s.substr(sp + 1);
  return true;
}

Status BpeModel::FromJson(const nlohmann::json& m, bool byte_level, std::unique_ptr<BpeModel>* out) {
  if (!m.contains("vocab") || !m["vocab"].is_object())
    return Status::Corruption("model.vocab is missing or not an object");
  BpeTables t;
  t.vocab.reserve(m["vocab"].size());
  for (auto it = m["vocab"].begin(); it != m["vocab"].end(); ++it) {
    if (!it.value().is_number_integer()) {
      return Status::Corruption("model.vocab[\"" + it.key() + "\"] is not a token id");
    }
    t.vocab.emplace_back(it.key(), it.value().get<int64_t>());
  }
  const auto& merges = m.value("merges", nlohmann::json::array());
  for (size_t r = 0; r < merges.size(); ++r) {
    const auto& e = merges[r];
    std::pair<std::string, std::string> pair;
    if (e.is_string() && SplitMergeString(e.get<std::string>(), &pair)) {
      t.merges.push_back(std::move(pair));
    } else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {
      t.merges.emplace_back(e[0].get<std::string>(), e[1].get<std::string>());
    } else {
      return Status::Corruption("model.merges[" + std::to_string(r) +
                                "] is neither \"a b\" nor [\"a\", \"b\"]");
    }
  }
  return Build(m, t, byte_level, out);
}

Status BpeModel::Build(const nlohmann::json& m, const BpeTables& tables, bool byte_level,
                       std::unique_ptr<BpeModel>* out) {
  std::unique_ptr<BpeModel> b(new BpeModel());
  b->byte_level_ = byte_level;
  if (m.contains("dropout") && m["dropout"].is_number() && m["dropout"].get<double>() > 0) {
    return Status::Unsupported("BPE dropout " + m["dropout"].dump() +
                               " is a training-time option; set it to null");
  }
  b->byte_fallback_ = m.value("byte_fallback", false);
  b->fuse_unk_ = m.value("fuse_unk", false);
  b->ignore_merges_ = m.value("ignore_merges", false);
  if (m.contains("continuing_subword_prefix") && m["continuing_subword_prefix"].is_string()) {
    b->prefix_ = m["continuing_subword_prefix"].get<std::string>();
  }
  if (m.contains("end_of_word_suffix") && m["end_of_word_suffix"].is_string()) {
    b->suffix_ = m["end_of_word_suffix"].get<std::string>();
  }

  int64_t max_id = -1;
  for (const auto& [tok, id] : tables.vocab) {
    if (id < 0 || id > INT32_MAX) return Status::Corruption("model.vocab[\"" + tok + "\"] is not a token id");
    max_id = std::max(max_id, id);
  }
  b->tokens_.assign(static_cast<size_t>(max_id + 1), std::string());
  b->vocab_.reserve(tables.vocab.size());
  b->spelled_.reserve(tables.vocab.size());
  // The two lookup tables are independent: build them side by side (loading a 150k vocabulary is the serial
  // part of `finmerge tokenize`).
#pragma omp parallel sections
  {
#pragma omp section
    {
      for (const auto& [tok, id64] : tables.vocab) {
        b->tokens_[static_cast<uint32_t>(id64)] = tok;
        b->spelled_.emplace(tok, static_cast<uint32_t>(id64));
      }
    }
#pragma omp section
    {
      // Byte-level tokens are looked up by their bytes; a spelling outside the alphabet keeps its text.
      std::string raw;
      for (const auto& [tok, id64] : tables.vocab) {
        if (byte_level && byte_level::Decode(tok, &raw)) {
          b->vocab_.emplace(raw, static_cast<uint32_t>(id64));
        } else {
          b->vocab_.emplace(tok, static_cast<uint32_t>(id64));
        }
      }
    }
  }

  for (int i = 0; i < 256; ++i) {
    b->byte_ids_[i] = -1;
    b->fallback_ids_[i] = -1;
    if (byte_level) {
      auto it = b->vocab_.find(std::string(1, static_cast<char>(i)));
      if (it != b->vocab_.end()) b->byte_ids_[i] = it->second;
    }
    auto it = b->spelled_.find(FallbackToken(static_cast<unsigned char>(i)));
    if (it != b->spelled_.end()) b->fallback_ids_[i] = it->second;
  }

  if (m.contains("unk_token") && m["unk_token"].is_string()) {
    std::string unk = m["unk_token"].get<std::string>();
    auto it = b->spelled_.find(unk);
    if (it == b->spelled_.end())
      return Status::Corruption("model.unk_token \"" + unk + "\" is not in the vocabulary");
    b->unk_id_ = it->second;
  }

  // Resolve every merge's ids in parallel (read-only lookups), then insert in rank order.
  const size_t n = tables.merges.size();
  std::vector<uint32_t> lid(n), rid(n), mid(n);
  std::vector<uint8_t> bad(n, 0);  // 1: left or right unknown, 2: the merged token unknown
#pragma omp parallel
  {
    std::string merged;
#pragma omp for schedule(static)
    for (size_t r = 0; r < n; ++r) {
      const auto& [left, right] = tables.merges[r];
      auto li = b->spelled_.find(left), ri = b->spelled_.find(right);
      if (li == b->spelled_.end() || ri == b->spelled_.end()) {
        bad[r] = 1;
        continue;
      }
      merged.assign(left);
      merged.append(right, std::min(b->prefix_.size(), right.size()));
      auto mi = b->spelled_.find(merged);
      if (mi == b->spelled_.end()) {
        bad[r] = 2;
        continue;
      }
      lid[r] = li->second;
      rid[r] = ri->second;
      mid[r] = mi->second;
    }
  }
  b->merges_.reserve(n);
  b->merge_pairs_.reserve(n);
  for (size_t r = 0; r < n; ++r) {
    const auto& [left, right] = tables.merges[r];
    if (bad[r] == 1) {
      return Status::Corruption("model.merges[" + std::to_string(r) + "] uses \"" +
                                (b->spelled_.count(left) ? right : left) + "\", which is not in the vocabulary");
    }
    if (bad[r] == 2) {
      return Status::Corruption("model.merges[" + std::to_string(r) + "] makes \"" + left +
                                right.substr(std::min(b->prefix_.size(), right.size())) +
                                "\", which is not in the vocabulary");
    }
    // The first occurrence of a pair wins, as in Hugging Face tokenizers.
    b->merges_.emplace(PairKey(lid[r], rid[r]), Merge{static_cast<uint32_t>(r), mid[r]});
    b->merge_pairs_.emplace_back(lid[r], rid[r]);
  }
  static std::atomic<uint64_t> next_cache_id{1};
  b->cache_id_ = next_cache_id.fetch_add(1);
  *out = std::move(b);
  return Status::Ok();
}

std::optional<uint32_t> BpeModel::TokenToId(std::string_view spelled) const {
  auto it = spelled_.find(spelled);
  if (it == spelled_.end()) return std::nullopt;
  return it->second;
}

void BpeModel::InitialSymbols(std::string_view w, std::vector<uint32_t>* syms) const {
  syms->clear();
  if (byte_level_ && prefix_.empty() && suffix_.empty()) {
    bool all = true;
    for (unsigned char c : w) {
      if (byte_ids_[c] < 0) {
        all = false;
        break;
      }
      syms->push_back(static_cast<uint32_t>(byte_ids_[c]));
    }
    if (all) return;
    syms->clear();
  }
  // One symbol per character (per byte for byte-level models), with prefix/suffix, byte fallback and unk.
  int64_t pending_unk = -1;
  std::string s;
  for (size_t i = 0; i < w.size();) {
    size_t len = byte_level_ ? 1 : utf8::CharLen(static_cast<unsigned char>(w[i]));
    if (i + len > w.size()) len = w.size() - i;
    bool first = i == 0, last = i + len == w.size();
    s.assign(w.substr(i, len));
    if (!first && !prefix_.empty()) s.insert(0, prefix_);
    if (last && !suffix_.empty()) s += suffix_;
    i += len;
    auto it = vocab_.find(s);
    if (it != vocab_.end()) {
      if (pending_unk >= 0) syms->push_back(static_cast<uint32_t>(pending_unk));
      pending_unk = -1;
      syms->push_back(it->second);
      continue;
    }
    if (byte_fallback_) {
      bool all = true;
      for (unsigned char c : s) all = all && fallback_ids_[c] >= 0;
      if (all) {
        // Hugging Face keeps a pending unk until the next known character, so byte tokens come first.
        for (unsigned char c : s) syms->push_back(static_cast<uint32_t>(fallback_ids_[c]));
        continue;
      }
    }
    if (unk_id_) {
      if (pending_unk >= 0 && !fuse_unk_) syms->push_back(static_cast<uint32_t>(pending_unk));
      pending_unk = *unk_id_;
    }
  }
  if (pending_unk >= 0) syms->push_back(static_cast<uint32_t>(pending_unk));
}

void BpeModel::MergeSymbols(std::vector<uint32_t>* syms) const {
  std::vector<uint32_t>& ids = *syms;
  size_t n = ids.size();
  if (n < 2) return;
  auto merge_of = [&](uint32_t a, uint32_t b) -> const Merge* {
    auto it = merges_.find(PairKey(a, b));
    return it == merges_.end() ? nullptr : &it->second;
  };
  if (n <= 128) {
    // Short words: keep the rank of every adjacent pair and merge the lowest (leftmost on ties).
    std::vector<uint32_t> rank(n - 1), made(n - 1);
    for (size_t i = 0; i + 1 < n; ++i) {
      const Merge* m = merge_of(ids[i], ids[i + 1]);
      rank[i] = m ? m->rank : kNoRank;
      made[i] = m ? m->new_id : 0;
    }
    while (ids.size() > 1) {
      size_t best = 0;
      uint32_t best_rank = kNoRank;
      for (size_t i = 0; i < rank.size(); ++i) {
        if (rank[i] < best_rank) {
          best_rank = rank[i];
          best = i;
        }
      }
      if (best_rank == kNoRank) break;
      ids[best] = made[best];
      ids.erase(ids.begin() + best + 1);
      rank.erase(rank.begin() + best);
      made.erase(made.begin() + best);
      auto refresh = [&](size_t i) {
        const Merge* m = merge_of(ids[i], ids[i + 1]);
        rank[i] = m ? m->rank : kNoRank;
        made[i] = m ? m->new_id : 0;
      };
      if (best > 0) refresh(best - 1);
      if (best + 1 < ids.size()) refresh(best);
    }
    return;
  }
  // Long words: doubly linked symbols and a heap of candidate merges (rank, position), as in tokenizers'
  // Word.
  struct Sym {
    uint32_t id;
    int32_t prev, next;
    bool alive;
  };
  std::vector<Sym> s(n);
  for (size_t i = 0; i < n; ++i)
    s[i] = {ids[i], static_cast<int32_t>(i) - 1, i + 1 < n ? static_cast<int32_t>(i + 1) : -1, true};
  struct Cand {
    uint32_t rank;
    uint32_t pos;
    uint32_t new_id;
    bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> heap;
  for (size_t i = 0; i + 1 < n; ++i) {
    if (const Merge* m = merge_of(ids[i], ids[i + 1]))
      heap.push({m->rank, static_cast<uint32_t>(i), m->new_id});
  }
  while (!heap.empty()) {
    Cand c = heap.top();
    heap.pop();
    Sym& left = s[c.pos];
    if (!left.alive || left.next < 0) continue;
    Sym& right = s[left.next];
    const Merge* m = merge_of(left.id, right.id);
    if (!m || m->new_id != c.new_id || m->rank != c.rank) continue;  // stale
    left.id = c.new_id;
    right.alive = false;
    left.next = right.next;
    if (right.next >= 0) s[right.next].prev = static_cast<int32_t>(c.pos);
    if (left.prev >= 0) {
      if (const Merge* pm = merge_of(s[left.prev].id, left.id)) {
        heap.push({pm->rank, static_cast<uint32_t>(left.prev), pm->new_id});
      }
    }
    if (left.next >= 0) {
      if (const Merge* nm = merge_of(left.id, s[left.next].id)) heap.push({nm->rank, c.pos, nm->new_id});
    }
  }
  ids.clear();
  for (int32_t i = 0; i >= 0; i = s[i].next) ids.push_back(s[i].id);
}

void BpeModel::EncodeWord(std::string_view word, std::vector<uint32_t>* ids) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    auto it = vocab_.find(word);
    if (it != vocab_.end()) {
      ids->push_back(it->second);
      return;
    }
  }
  // This thread's caches of the last few models used (a thread normally serves one tokenizer).
  using WordMap = std::unordered_map<std::string, std::vector<uint32_t>, StringHash, std::equal_to<>>;
  struct ThreadCache {
    uint64_t owner = 0;
    WordMap map;
  };
  thread_local ThreadCache caches[4];
  thread_local unsigned next_victim = 0;
  WordMap* cache = nullptr;
  if (word.size() < kMaxCachedWord) {
    for (ThreadCache& c : caches) {
      if (c.owner == cache_id_) cache = &c.map;
    }
    if (!cache) {
      ThreadCache& c = caches[next_victim++ % 4];
      c.owner = cache_id_;
      c.map.clear();
      cache = &c.map;
    }
    auto it = cache->find(word);
    if (it != cache->end()) {
      ids->insert(ids->end(), it->second.begin(), it->second.end());
      return;
    }
  }
  thread_local std::vector<uint32_t> syms;
  InitialSymbols(word, &syms);
  MergeSymbols(&syms);
  ids->insert(ids->end(), syms.begin(), syms.end());
  if (cache) {
    if (cache->size() >= kMaxCacheEntries) cache->clear();
    cache->emplace(std::string(word), syms);
  }
}

}  // namespace fm
