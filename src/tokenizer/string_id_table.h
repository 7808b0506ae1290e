// StringIdTable: byte string -> uint32 id, the lookup structure of tokenizer vocabularies (150k+ entries).
// Built once when a tokenizer loads and then only read. Keys live back to back in a few buffers and the table
// is open-addressed (linear probing) over 16-byte slots that hold the id and where the key is, so building it
// allocates a handful of times instead of once per key (a std::unordered_map<std::string, uint32_t> of a 150k
// vocabulary made loading a tokenizer mostly malloc and page faults), and a lookup touches one slot and the
// key's bytes.
//
// The table is split into kShards independent shards by the top bits of the key's hash, so that BuildFrom can
// fill them on several threads at once, each shard in key order (loading a vocabulary is serial work in front
// of everything a tokenizer does). Bulk readers hide the memory latency by computing Hash early and calling
// Prefetch a few keys ahead (ForEachPrefetched).
//
// Keys may total at most 4 GiB per shard. Thread-safety: Reserve, Insert and BuildFrom are not thread-safe
// (BuildFrom spreads its own work over threads); Find may be called from any number of threads once building
// is done.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fm {

class StringIdTable {
 public:
  static constexpr size_t kShards = 4;
  static uint64_t Hash(std::string_view key);

  // Room for `keys` keys of `key_bytes` bytes in all without regrowing.
  void Reserve(size_t keys, size_t key_bytes);
  // Adds key -> id unless the key is present already (then the first id stays, as with unordered_map's
  // emplace). Returns whether it was added. `hash` must be Hash(key).
  bool Insert(std::string_view key, uint64_t hash, uint32_t id);
  bool Insert(std::string_view key, uint32_t id) { return Insert(key, Hash(key), id); }
  // Inserts key(i) -> id(i) for i in [0, n) in order (so the first of equal keys wins), one shard per OpenMP
  // task: called inside a parallel region, the shards are filled by all its threads.
  template <typename KeyFn, typename IdFn>
  void BuildFrom(size_t n, size_t key_bytes, KeyFn key, IdFn id);

  std::optional<uint32_t> Find(std::string_view key, uint64_t hash) const;
  std::optional<uint32_t> Find(std::string_view key) const { return Find(key, Hash(key)); }
  // Starts loading the slot a key of this hash is looked up or inserted at.
  void Prefetch(uint64_t hash) const {
    const Shard& s = shards_[ShardOf(hash)];
    if (!s.slots.empty()) __builtin_prefetch(&s.slots[hash & s.mask]);
  }
  size_t size() const {
    size_t n = 0;
    for (const Shard& s : shards_) n += s.size;
    return n;
  }

 private:
  struct Slot {
    uint32_t tag;  // 0: free; else the hash's bits 32-63 with the lowest bit set
    uint32_t id;
    uint32_t offset, length;  // of the key in the shard's keys
  };
  struct Shard {
    std::string keys;  // the shard's keys, back to back
    std::vector<Slot> slots;
    size_t mask = 0, size = 0;
    void Reserve(size_t keys, size_t key_bytes);
    void Rehash(size_t slots);
    bool Insert(std::string_view key, uint64_t hash, uint32_t id);
  };
  static size_t ShardOf(uint64_t hash) { return hash >> 62; }
  static_assert(kShards == 4);
  static uint32_t Tag(uint64_t hash) { return static_cast<uint32_t>(hash >> 32) | 1u; }

  Shard shards_[kShards];
};

template <typename KeyFn, typename IdFn>
void StringIdTable::BuildFrom(size_t n, size_t key_bytes, KeyFn key, IdFn id) {
#pragma omp taskloop grainsize(1) default(shared)
  for (size_t s = 0; s < kShards; ++s) {
    Shard& shard = shards_[s];
    // Hash-uniform shards get about a quarter of the keys each; a few percent more avoids regrowing.
    shard.Reserve(n / kShards + n / 32 + 16, key_bytes / kShards + key_bytes / 32 + 64);
    // Batches: hash, keep this shard's keys, prefetch their slots, then insert them in order.
    constexpr size_t kBatch = 64;
    size_t mine[kBatch];
    uint64_t hashes[kBatch];
    for (size_t begin = 0; begin < n; begin += kBatch) {
      size_t count = 0;
      for (size_t i = begin; i < n && i < begin + kBatch; ++i) {
        uint64_t h = Hash(key(i));
        if (ShardOf(h) != s) continue;
        mine[count] = i;
        hashes[count++] = h;
        __builtin_prefetch(&shard.slots[h & shard.mask]);
      }
      for (size_t k = 0; k < count; ++k) shard.Insert(key(mine[k]), hashes[k], id(mine[k]));
    }
  }
}

// Calls fn(i, hash_of_key(i)) for i in [begin, end) in order, with the slots of the next keys already being
// loaded into the cache (a table of 150k keys does not fit in it: without this, every step waits on memory).
template <typename KeyFn, typename Fn>
void ForEachPrefetched(const StringIdTable& table, size_t begin, size_t end, KeyFn key, Fn fn) {
  constexpr size_t kAhead = 8;
  uint64_t ahead[kAhead];
  for (size_t i = begin; i < end && i < begin + kAhead; ++i) {
    ahead[i % kAhead] = StringIdTable::Hash(key(i));
    table.Prefetch(ahead[i % kAhead]);
  }
  for (size_t i = begin; i < end; ++i) {
    uint64_t h = ahead[i % kAhead];
    if (i + kAhead < end) {
      ahead[i % kAhead] = StringIdTable::Hash(key(i + kAhead));
      table.Prefetch(ahead[i % kAhead]);
    }
    fn(i, h);
  }
}

}  // namespace fm
