#include "tokenizer/bpe_model.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <new>
#include <nlohmann/json.hpp>
#include <queue>

#include "tokenizer/byte_level.h"
#include "tokenizer/prefault.h"
#include "tokenizer/utf8.h"

namespace fm {

namespace {

constexpr uint32_t kNoRank = std::numeric_limits<uint32_t>::max();
static_assert(kNoRank == 0xFFFFFFFFu);  // = BpeModel::kNoMerge: a missing merge ranks after every merge

std::string FallbackToken(unsigned char b) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "<0x%02X>", b);
  return buf;
}

}  // namespace

BpeModel::~BpeModel() = default;

bool BpeModel::SplitMergeString(std::string_view s, std::pair<std::string_view, std::string_view>* out) {
  size_t sp = s.find(' ');
  if (sp == std::string_view::npos) return false;
  out->first = s.substr(0, sp);
  out->second = s.substr(sp + 1);
  return true;
}

Status BpeModel::FromJson(const nlohmann::json& m, bool byte_level, std::unique_ptr<BpeModel>* out,
                          std::vector<std::string>* tokens) {
  if (!m.contains("vocab") || !m["vocab"].is_object())
    return Status::Corruption("model.vocab is missing or not an object");
  BpeTables t;  // views into `m`, which outlives Build
  t.vocab.reserve(m["vocab"].size());
  for (auto it = m["vocab"].begin(); it != m["vocab"].end(); ++it) {
    if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0 ||
        it.value().get<int64_t>() > INT32_MAX) {
      return Status::Corruption("model.vocab[\"" + it.key() + "\"] is not a token id");
    }
    t.AddToken(it.key(), static_cast<uint32_t>(it.value().get<int64_t>()));
  }
  static const nlohmann::json kNoMerges = nlohmann::json::array();
  const auto& merges = m.contains("merges") ? m["merges"] : kNoMerges;
  if (!merges.is_array()) return Status::Corruption("model.merges is not an array");
  t.merges.reserve(merges.size());
  for (size_t r = 0; r < merges.size(); ++r) {
    const auto& e = merges[r];
    std::pair<std::string_view, std::string_view> pair;
    if (e.is_string() && SplitMergeString(e.get_ref<const std::string&>(), &pair)) {
      t.AddMerge(pair.first, pair.second);
    } else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {
      t.AddMerge(e[0].get_ref<const std::string&>(), e[1].get_ref<const std::string&>());
    } else {
      return Status::Corruption("model.merges[" + std::to_string(r) +
                                "] is neither \"a b\" nor [\"a\", \"b\"]");
    }
  }
  return Build(m, t, byte_level, out, tokens);
}

void BpeModel::InsertMerge(uint32_t a, uint32_t b, Merge m) {
  uint64_t key = PairKey(a, b) + 1, merge = ~((static_cast<uint64_t>(m.rank) << 32) | m.new_id);
  for (size_t i = MergeSlotOf(key, merge_shift_);; i = (i + 1) & merge_mask_) {
    MergeSlot& s = merge_slots_.get()[i];
    std::atomic_ref<uint64_t> slot_key(s.key);
    uint64_t k = slot_key.load(std::memory_order_relaxed);
    if (k == 0 && slot_key.compare_exchange_strong(k, key, std::memory_order_relaxed)) k = key;
    if (k != key) continue;  // another pair's slot (a failed claim left the winner's key in k)
    std::atomic_ref<uint64_t> slot_merge(s.merge);
    uint64_t cur = slot_merge.load(std::memory_order_relaxed);
    while (merge > cur && !slot_merge.compare_exchange_weak(cur, merge, std::memory_order_relaxed)) {
    }
    return;
  }
}

Status BpeModel::Build(const nlohmann::json& m, const BpeTables& tables, bool byte_level,
                       std::unique_ptr<BpeModel>* out, std::vector<std::string>* tokens) {
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
  size_t key_bytes = 0;
  for (const auto& t : tables.vocab) {
    max_id = std::max<int64_t>(max_id, t.id);
    key_bytes += t.size;
  }
  b->vocab_size_ = static_cast<uint32_t>(max_id + 1);
  // Loading a vocabulary is serial work before `finmerge tokenize` can start encoding, so it runs as tasks on
  // every thread: the token list and the spelling table, then the merges (looked up by spelling) and, when
  // encoding needs it, the byte-keyed table.
  const size_t n = tables.merges.size();
  std::atomic<size_t> first_bad{n};  // the lowest rank of a merge whose tokens are not all in the vocabulary
  Status unk_status;
  auto build = [&] {
  // The token list by id (where an id repeats, the last entry wins), while other threads build the
  // spelling table.
#pragma omp task default(shared)
    {
      tokens->clear();
      ReservePrefaulted(tokens, std::max(tokens->capacity(), static_cast<size_t>(max_id + 1)));
      tokens->resize(static_cast<size_t>(max_id + 1));
      for (const auto& t : tables.vocab) (*tokens)[t.id] = t.text();
    }
    b->spelled_.BuildFrom(
        tables.vocab.size(), key_bytes, [&](size_t i) { return tables.vocab[i].text(); },
        [&](size_t i) { return tables.vocab[i].id; });
    for (int i = 0; i < 256; ++i) {
      auto id = b->spelled_.Find(FallbackToken(static_cast<unsigned char>(i)));
      b->fallback_ids_[i] = id ? static_cast<int64_t>(*id) : -1;
      // Byte-level: the token spelled as the byte's character of the byte-level alphabet.
      id = byte_level ? b->spelled_.Find(byte_level::Encode(std::string(1, static_cast<char>(i))))
                      : std::nullopt;
      b->byte_ids_[i] = id ? static_cast<int64_t>(*id) : -1;
    }
    if (m.contains("unk_token") && m["unk_token"].is_string()) {
      std::string unk = m["unk_token"].get<std::string>();
      auto id = b->spelled_.Find(unk);
      if (id) {
        b->unk_id_ = *id;
      } else {
        unk_status = Status::Corruption("model.unk_token \"" + unk + "\" is not in the vocabulary");
      }
    }

    // Words are looked up whole (ignore_merges) or character by character (InitialSymbols' general path)
    // in the spelling table, or for byte-level models in a table keyed by raw bytes, which is built only
    // when that path can be taken: with ignore_merges, a subword prefix or suffix, or an alphabet byte
    // missing from the vocabulary. GPT-2 style vocabularies (Qwen) never need it.
    b->internal_ = &b->spelled_;
    if (byte_level) {
      bool all_bytes = true;
      for (int i = 0; i < 256; ++i) all_bytes = all_bytes && b->byte_ids_[i] >= 0;
      bool needed = b->ignore_merges_ || !b->prefix_.empty() || !b->suffix_.empty() || !all_bytes;
      b->internal_ = needed ? &b->vocab_ : nullptr;
      if (needed) {
#pragma omp task default(shared)
        {
          // A spelling outside the alphabet keeps its text.
          std::string raw;
          std::vector<std::pair<size_t, size_t>> at(tables.vocab.size());  // of each key in `raw`
          std::string one;
          for (size_t i = 0; i < tables.vocab.size(); ++i) {
            std::string_view tok = tables.vocab[i].text();
            at[i].first = raw.size();
            raw.append(byte_level::Decode(tok, &one) ? std::string_view(one) : tok);
            at[i].second = raw.size() - at[i].first;
          }
          b->vocab_.BuildFrom(
              tables.vocab.size(), raw.size(),
              [&](size_t i) { return std::string_view(raw).substr(at[i].first, at[i].second); },
              [&](size_t i) { return tables.vocab[i].id; });
        }
      }
    }

    // The merge table, filled by all threads: each block of merges looks up its ids (with look-ahead, see
    // ForEachPrefetched) and inserts them.
    size_t slots = std::bit_ceil(std::max<size_t>(16, n + n / 3 + 1));  // at most 3/4 full
    b->merge_slots_.reset(static_cast<MergeSlot*>(std::calloc(slots, sizeof(MergeSlot))));
    if (!b->merge_slots_) throw std::bad_alloc();
    b->merge_mask_ = slots - 1;
    b->merge_shift_ = 64 - std::countr_zero(slots);
    ReservePrefaulted(&b->merge_pairs_, n);
    b->merge_pairs_.resize(n);
    constexpr size_t kBlock = 4096;
#pragma omp taskloop grainsize(1) default(shared)
    for (size_t block = 0; block < (n + kBlock - 1) / kBlock; ++block) {
      constexpr size_t kAhead = 8;
      struct Ahead {
        std::string merged;
        uint64_t left, right, made;
      } ahead[kAhead];
      auto prepare = [&](size_t r) {
        std::string_view left = tables.merges[r].first(), right = tables.merges[r].second();
        Ahead& a = ahead[r % kAhead];
        a.merged.assign(left);
        a.merged.append(right.substr(std::min(b->prefix_.size(), right.size())));
        a.left = StringIdTable::Hash(left);
        a.right = StringIdTable::Hash(right);
        a.made = StringIdTable::Hash(a.merged);
        b->spelled_.Prefetch(a.left);
        b->spelled_.Prefetch(a.right);
        b->spelled_.Prefetch(a.made);
      };
      // Two stages: the ids of merge r are looked up (their slots were prefetched kAhead merges earlier), and
      // its merge-table slot is prefetched and filled kLag merges later.
      constexpr size_t kLag = 4;
      struct Found {
        uint32_t left, right, made;
        bool ok;
      } found[kLag];
      auto insert = [&](size_t r) {
        const Found& f = found[r % kLag];
        if (!f.ok) return;
        b->InsertMerge(f.left, f.right, Merge{static_cast<uint32_t>(r), f.made});
        b->merge_pairs_[r] = {f.left, f.right};
      };
      size_t begin = block * kBlock, end = std::min(n, begin + kBlock);
      for (size_t r = begin; r < end && r < begin + kAhead; ++r) prepare(r);
      for (size_t r = begin; r < end; ++r) {
        if (r >= begin + kLag) insert(r - kLag);
        Ahead& a = ahead[r % kAhead];
        auto li = b->spelled_.Find(tables.merges[r].first(), a.left);
        auto ri = b->spelled_.Find(tables.merges[r].second(), a.right);
        auto mi = b->spelled_.Find(a.merged, a.made);
        if (r + kAhead < end) prepare(r + kAhead);
        Found& f = found[r % kLag];
        f.ok = li && ri && mi;
        if (!f.ok) {
          size_t bad = first_bad.load(std::memory_order_relaxed);
          while (r < bad && !first_bad.compare_exchange_weak(bad, r, std::memory_order_relaxed)) {
          }
          continue;
        }
        f = {*li, *ri, *mi, true};
        b->PrefetchMerge(f.left, f.right);
      }
      for (size_t r = end > begin + kLag ? end - kLag : begin; r < end; ++r) insert(r);
    }
#pragma omp taskwait
  };
  if (omp_in_parallel()) {
    build();
  } else {
#pragma omp parallel
#pragma omp single
    build();
  }
  FM_RETURN_IF_ERROR(unk_status);
  if (size_t r = first_bad.load(); r < n) {
    std::string_view left = tables.merges[r].first(), right = tables.merges[r].second();
    if (!b->spelled_.Find(left) || !b->spelled_.Find(right)) {
      return Status::Corruption("model.merges[" + std::to_string(r) + "] uses \"" +
                                std::string(b->spelled_.Find(left) ? right : left) +
                                "\", which is not in the vocabulary");
    }
    return Status::Corruption("model.merges[" + std::to_string(r) + "] makes \"" + std::string(left) +
                              std::string(right.substr(std::min(b->prefix_.size(), right.size()))) +
                              "\", which is not in the vocabulary");
  }
  *out = std::move(b);
  return Status::Ok();
}

std::optional<uint32_t> BpeModel::TokenToId(std::string_view spelled) const {
  return spelled_.Find(spelled);
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
    if (auto id = internal_->Find(s)) {
      if (pending_unk >= 0) syms->push_back(static_cast<uint32_t>(pending_unk));
      pending_unk = -1;
      syms->push_back(*id);
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
  auto merge_of = [&](uint32_t a, uint32_t b) { return FindMerge(a, b); };  // rank kNoRank: none
  if (n <= 128) {
    // Short words: keep the rank of every adjacent pair and merge the lowest (leftmost on ties).
    std::vector<uint32_t> rank(n - 1), made(n - 1);
    for (size_t i = 0; i + 1 < n; ++i) {
      Merge m = merge_of(ids[i], ids[i + 1]);
      rank[i] = m.rank;
      made[i] = m.new_id;
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
        Merge m = merge_of(ids[i], ids[i + 1]);
        rank[i] = m.rank;
        made[i] = m.new_id;
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
    if (Merge m = merge_of(ids[i], ids[i + 1]); m.rank != kNoRank)
      heap.push({m.rank, static_cast<uint32_t>(i), m.new_id});
  }
  while (!heap.empty()) {
    Cand c = heap.top();
    heap.pop();
    Sym& left = s[c.pos];
    if (!left.alive || left.next < 0) continue;
    Sym& right = s[left.next];
    Merge m = merge_of(left.id, right.id);
    if (m.rank == kNoRank || m.new_id != c.new_id || m.rank != c.rank) continue;  // stale
    left.id = c.new_id;
    right.alive = false;
    left.next = right.next;
    if (right.next >= 0) s[right.next].prev = static_cast<int32_t>(c.pos);
    if (left.prev >= 0) {
      if (Merge pm = merge_of(s[left.prev].id, left.id); pm.rank != kNoRank) {
        heap.push({pm.rank, static_cast<uint32_t>(left.prev), pm.new_id});
      }
    }
    if (left.next >= 0) {
      if (Merge nm = merge_of(left.id, s[left.next].id); nm.rank != kNoRank)
        heap.push({nm.rank, c.pos, nm.new_id});
    }
  }
  ids.clear();
  for (int32_t i = 0; i >= 0; i = s[i].next) ids.push_back(s[i].id);
}

void BpeModel::EncodeWord(std::string_view word, std::vector<uint32_t>* ids) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    if (auto id = internal_->Find(word)) {
      ids->push_back(*id);
      return;
    }
  }
  uint64_t hash = 0;
  if (word.size() < kMaxCachedWord) {
    hash = WordCache::Hash(word);
    if (cache_.Lookup(word, hash, ids)) return;
  }
  thread_local std::vector<uint32_t> syms;
  InitialSymbols(word, &syms);
  MergeSymbols(&syms);
  ids->insert(ids->end(), syms.begin(), syms.end());
  if (word.size() < kMaxCachedWord) cache_.Insert(word, hash, syms.data(), syms.size());
}

}  // namespace fm
