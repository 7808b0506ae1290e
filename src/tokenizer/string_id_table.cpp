#include "tokenizer/string_id_table.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "tokenizer/prefault.h"

namespace fm {

uint64_t StringIdTable::Hash(std::string_view key) {
  // 8 bytes at a time, multiply-xorshift mixing; tokens are short, so this beats a general-purpose hash.
  const char* p = key.data();
  size_t n = key.size();
  uint64_t h = 0x9E3779B97F4A7C15ull * (n + 1);
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
    h ^= h >> 29;
    p += 8;
    n -= 8;
  }
  if (n > 0) {
    uint64_t w = 0;
    std::memcpy(&w, p, n);
    h = (h ^ w) * 0x94D049BB133111EBull;
  }
  h ^= h >> 32;
  h *= 0xD6E8FEB86659FD93ull;
  h ^= h >> 32;
  return h;
}

void StringIdTable::Reserve(size_t keys, size_t key_bytes) {
  for (Shard& s : shards_)
    s.Reserve(keys / kShards + keys / 32 + 16, key_bytes / kShards + key_bytes / 32 + 64);
}

bool StringIdTable::Insert(std::string_view key, uint64_t hash, uint32_t id) {
  return shards_[ShardOf(hash)].Insert(key, hash, id);
}

std::optional<uint32_t> StringIdTable::Find(std::string_view key, uint64_t hash) const {
  const Shard& sh = shards_[ShardOf(hash)];
  if (sh.slots.empty()) return std::nullopt;
  uint32_t tag = Tag(hash);
  for (size_t i = hash & sh.mask; sh.slots[i].tag != 0; i = (i + 1) & sh.mask) {
    const Slot& s = sh.slots[i];
    if (s.tag == tag && s.length == key.size() &&
        (key.empty() || std::memcmp(sh.keys.data() + s.offset, key.data(), key.size()) == 0)) {
      return s.id;
    }
  }
  return std::nullopt;
}

void StringIdTable::Shard::Reserve(size_t n, size_t key_bytes) {
  if (keys.capacity() < key_bytes) ReservePrefaulted(&keys, key_bytes);
  size_t want = std::bit_ceil(std::max<size_t>(16, n + n / 3 + 1));  // at most 3/4 full
  if (want > slots.size()) Rehash(want);
}

void StringIdTable::Shard::Rehash(size_t n) {
  std::vector<Slot> old;
  old.swap(slots);
  ReservePrefaulted(&slots, n);
  slots.assign(n, Slot{0, 0, 0, 0});
  mask = n - 1;
  for (const Slot& s : old) {
    if (s.tag == 0) continue;
    size_t i = Hash(std::string_view(keys).substr(s.offset, s.length)) & mask;
    while (slots[i].tag != 0) i = (i + 1) & mask;
    slots[i] = s;
  }
}

bool StringIdTable::Shard::Insert(std::string_view key, uint64_t hash, uint32_t id) {
  if (4 * (size + 1) > 3 * slots.size()) Rehash(std::max<size_t>(16, 2 * slots.size()));
  uint32_t tag = Tag(hash);
  size_t i = hash & mask;
  for (; slots[i].tag != 0; i = (i + 1) & mask) {
    const Slot& s = slots[i];
    if (s.tag == tag && s.length == key.size() &&
        (key.empty() || std::memcmp(keys.data() + s.offset, key.data(), key.size()) == 0)) {
      return false;
    }
  }
  slots[i] = Slot{tag, id, static_cast<uint32_t>(keys.size()), static_cast<uint32_t>(key.size())};
  keys.append(key);
  ++size;
  return true;
}

}  // namespace fm
