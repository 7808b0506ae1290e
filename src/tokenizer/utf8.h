// UTF-8 helpers for the tokenizers: validation, repair of invalid input (each maximal invalid subpart becomes
// one U+FFFD, as WHATWG TextDecoder, Python's "replace" and Rust's from_utf8_lossy do), code point decoding
// and the Unicode White_Space property. Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fm::utf8 {

// Length of the well-formed sequence starting at s[i], or 0 when s[i] starts an invalid or truncated one.
size_t ValidSeqLen(std::string_view s, size_t i);

// Byte offset of the first invalid or truncated sequence, or s.size() when all of s is well-formed UTF-8.
size_t FirstInvalid(std::string_view s);
inline bool IsValid(std::string_view s) {
  return FirstInvalid(s) == s.size();
}
// Whether every byte is below 0x80.
bool IsAscii(std::string_view s);

// Copies s with every maximal invalid subpart replaced by U+FFFD; appends the byte offset of each replaced
// subpart (relative to s) to *bad_offsets when it is not null. Returns the number of replacements.
size_t Repair(std::string_view s, std::string* out, std::vector<size_t>* bad_offsets = nullptr);

// Decodes the code point at s[i] of a *valid* string and sets *len to its byte length.
inline uint32_t Decode(std::string_view s, size_t i, size_t* len) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data()) + i;
  if (p[0] < 0x80) {
    *len = 1;
    return p[0];
  }
  if (p[0] < 0xE0) {
    *len = 2;
    return ((p[0] & 0x1Fu) << 6) | (p[1] & 0x3Fu);
  }
  if (p[0] < 0xF0) {
    *len = 3;
    return ((p[0] & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
  }
  *len = 4;
  return ((p[0] & 0x07u) << 18) | ((p[1] & 0x3Fu) << 12) | ((p[2] & 0x3Fu) << 6) | (p[3] & 0x3Fu);
}

// Byte length of the character whose lead byte is b (1 for ASCII and for stray continuation bytes).
inline size_t CharLen(unsigned char b) {
  return b < 0xC0 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
}

void Append(uint32_t cp, std::string* out);

// The Unicode White_Space property (what Rust's char::is_whitespace and JavaScript's trim() use, less
// U+FEFF).
bool IsWhiteSpace(uint32_t cp);

// Decodes bytes into text, replacing invalid sequences with U+FFFD (from_utf8_lossy).
inline std::string Lossy(std::string_view bytes) {
  std::string out;
  Repair(bytes, &out);
  return out;
}

}  // namespace fm::utf8
