#include "tokenizer/word_cache.h"

#include <algorithm>
#include <cstring>

#include "tokenizer/string_id_table.h"

namespace fm {

namespace {

constexpr size_t kArenaBlock = 256 << 10;

}  // namespace

WordCache::WordCache() {
  // Readers start on a shared one-slot empty table; the first Insert allocates the real one, so that
  // loading a tokenizer does not pay for it.
  static Table empty(1);
  table_.store(&empty, std::memory_order_release);
}

WordCache::~WordCache() = default;

uint64_t WordCache::Hash(std::string_view word) {
  return StringIdTable::Hash(word);  // the vocabulary's hash: short keys, 8 bytes a step
}

bool WordCache::Matches(const Slot& s, std::string_view word) {
  if (s.length != word.size()) return false;
  const char* bytes = s.length <= sizeof(s.inline_word) ? s.inline_word : s.word;
  return word.empty() || std::memcmp(bytes, word.data(), word.size()) == 0;
}

bool WordCache::Lookup(std::string_view word, uint64_t hash, std::vector<uint32_t>* ids) const {
  const Table* t = table_.load(std::memory_order_acquire);
  uint32_t tag = Tag(hash);
  for (size_t i = hash & t->mask;; i = (i + 1) & t->mask) {
    const Slot& s = t->slots[i];
    uint32_t st = s.tag.load(std::memory_order_acquire);
    if (st == 0) return false;
    if (st != tag || !Matches(s, word)) continue;
    if (s.count <= 2) {
      ids->insert(ids->end(), s.inline_ids, s.inline_ids + s.count);
    } else {
      ids->insert(ids->end(), s.ids, s.ids + s.count);
    }
    return true;
  }
}

const void* WordCache::Keep(const void* p, size_t bytes) {
  size_t room = (bytes + 7) & ~size_t{7};  // keeps id lists aligned
  if (room > arena_left_) {
    size_t block = std::max(kArenaBlock, room);
    arena_.push_back(std::make_unique<char[]>(block));
    arena_next_ = arena_.back().get();
    arena_left_ = block;
  }
  char* dst = arena_next_;
  std::memcpy(dst, p, bytes);
  arena_next_ += room;
  arena_left_ -= room;
  return dst;
}

void WordCache::Place(Table* t, uint64_t hash, const Slot& from) {
  size_t i = hash & t->mask;
  while (t->slots[i].tag.load(std::memory_order_relaxed) != 0) i = (i + 1) & t->mask;
  Slot& s = t->slots[i];
  s.length = from.length;
  s.count = from.count;
  std::memcpy(s.inline_ids, from.inline_ids, sizeof(s.inline_ids));
  std::memcpy(s.inline_word, from.inline_word, sizeof(s.inline_word));
  s.tag.store(Tag(hash), std::memory_order_release);
  ++t->used;
}

void WordCache::Insert(std::string_view word, uint64_t hash, const uint32_t* ids, size_t n) {
  if (word.size() > kMaxWordBytes || n > 0xFFFF) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (tables_.empty()) {
    tables_.push_back(std::make_unique<Table>(kFirstSlots));
    table_.store(tables_.back().get(), std::memory_order_release);
  }
  Table* t = tables_.back().get();
  uint32_t tag = Tag(hash);
  for (size_t i = hash & t->mask;; i = (i + 1) & t->mask) {
    uint32_t st = t->slots[i].tag.load(std::memory_order_relaxed);
    if (st == 0) break;
    if (st == tag && Matches(t->slots[i], word)) return;  // another thread was first
  }
  if (4 * (t->used + 1) > 3 * (t->mask + 1)) {
    if (t->mask + 1 >= kMaxSlots) return;  // full: stop remembering new words
    auto bigger = std::make_unique<Table>(2 * (t->mask + 1));
    for (size_t i = 0; i <= t->mask; ++i) {
      const Slot& s = t->slots[i];
      if (s.tag.load(std::memory_order_relaxed) == 0) continue;
      const char* bytes = s.length <= sizeof(s.inline_word) ? s.inline_word : s.word;
      Place(bigger.get(), Hash(std::string_view(bytes, s.length)), s);
    }
    tables_.push_back(std::move(bigger));
    t = tables_.back().get();
    table_.store(t, std::memory_order_release);
  }
  Slot s;
  s.length = static_cast<uint16_t>(word.size());
  s.count = static_cast<uint16_t>(n);
  std::memset(s.inline_ids, 0, sizeof(s.inline_ids));
  std::memset(s.inline_word, 0, sizeof(s.inline_word));
  if (n <= 2) {
    if (n > 0) std::memcpy(s.inline_ids, ids, n * sizeof(uint32_t));
  } else {
    s.ids = static_cast<const uint32_t*>(Keep(ids, n * sizeof(uint32_t)));
  }
  if (word.size() <= sizeof(s.inline_word)) {
    if (!word.empty()) std::memcpy(s.inline_word, word.data(), word.size());
  } else {
    s.word = static_cast<const char*>(Keep(word.data(), word.size()));
  }
  Place(t, hash, s);
}

}  // namespace fm
