// GPT-2's byte-level alphabet: each of the 256 byte values is shown as one printable code point ('Ġ' is the
// space byte 0x20, 'Ċ' is '\n'). Byte-level BPE vocabularies (GPT-2, Llama-3, Qwen) spell their tokens in it.
// Pure functions over a constant table; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace fm::byte_level {

// The code point that stands for byte b.
uint32_t ByteToCodepoint(uint8_t b);
// The byte a code point stands for, or -1 when it is not part of the alphabet.
int CodepointToByte(uint32_t cp);
// Spells raw bytes in the alphabet.
std::string Encode(std::string_view bytes);
// Maps a byte-level spelling back to raw bytes; false (and *bytes unspecified) when a character of `s` is not
// in the alphabet.
bool Decode(std::string_view s, std::string* bytes);

}  // namespace fm::byte_level
