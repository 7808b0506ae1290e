// SplitMix64: a tiny, high-quality 64-bit mixing function (Steele et al.). Used wherever finmerge needs
// deterministic pseudo-randomness that does not depend on evaluation order: hash a counter, get a random word.
#pragma once

#include <cstdint>

namespace fm {

inline uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace fm
