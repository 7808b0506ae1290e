// WordCache: the ids of words a BPE model has already encoded, shared by every thread that encodes with the
// model. On real text nearly every word is a hit, so the hit path is what encoding costs: one hash, one
// 32-byte slot (the word's bytes and its first two ids sit in the slot when they fit), no lock.
//
// Insert-only open addressing. Writers take a mutex (inserts are rare after the first megabytes); a slot is
// filled first and published last (release), and readers look only at published slots (acquire), which never
// change again. When the table is 3/4 full a writer builds one twice the size, copies the published words and
// publishes it; readers still holding the old table keep using it (old tables live as long as the cache).
// Growth stops at kMaxSlots; after that new words are simply not remembered.
//
// Thread-safety: Lookup and Insert may be called from any number of threads at once.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

namespace fm {

class WordCache {
 public:
  static constexpr size_t kMaxWordBytes = 0xFFFF;

  WordCache();
  ~WordCache();
  WordCache(const WordCache&) = delete;
  WordCache& operator=(const WordCache&) = delete;

  static uint64_t Hash(std::string_view word);
  // Appends the ids of `word` (whose Hash is `hash`) to *ids and returns true when the word is cached.
  bool Lookup(std::string_view word, uint64_t hash, std::vector<uint32_t>* ids) const;
  // Remembers the ids of `word` (at most kMaxWordBytes bytes; does nothing when the word is cached already or
  // the cache is full).
  void Insert(std::string_view word, uint64_t hash, const uint32_t* ids, size_t n);

 private:
  struct Slot {
    std::atomic<uint32_t> tag;  // 0: free; else the hash's upper half with the lowest bit set; set last
    uint16_t length, count;     // bytes of the word, number of ids
    union {
      uint32_t inline_ids[2];  // count <= 2
      const uint32_t* ids;     // otherwise, in the arena
    };
    union {
      char inline_word[16];  // length <= 16
      const char* word;      // otherwise, in the arena
    };
  };
  static_assert(sizeof(Slot) == 32);
  struct Table {
    explicit Table(size_t n) : slots(new Slot[n]), mask(n - 1) {
      for (size_t i = 0; i < n; ++i) slots[i].tag.store(0, std::memory_order_relaxed);
    }
    std::unique_ptr<Slot[]> slots;
    size_t mask, used = 0;
  };
  static uint32_t Tag(uint64_t hash) { return static_cast<uint32_t>(hash >> 32) | 1u; }
  static bool Matches(const Slot& s, std::string_view word);
  // Copies bytes into the arena (writers only, under mu_).
  const void* Keep(const void* p, size_t bytes);
  static void Place(Table* t, uint64_t hash, const Slot& from);

  static constexpr size_t kFirstSlots = size_t{1} << 15;  // 1 MiB
  static constexpr size_t kMaxSlots = size_t{1} << 21;    // 64 MiB, 1.5M words

  std::atomic<Table*> table_;
  std::mutex mu_;                               // writers
  std::vector<std::unique_ptr<Table>> tables_;  // the current one last (none before the first Insert)
  std::vector<std::unique_ptr<char[]>> arena_;  // blocks of long words and long id lists
  size_t arena_left_ = 0;
  char* arena_next_ = nullptr;
};

}  // namespace fm
