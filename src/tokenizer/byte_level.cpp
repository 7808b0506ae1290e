#include "tokenizer/byte_level.h"

#include <array>

#include "tokenizer/utf8.h"

namespace fm::byte_level {

namespace {

struct Tables {
  std::array<uint32_t, 256> byte_to_cp{};
  std::array<int16_t, 512> cp_to_byte{};  // every code point of the alphabet is below 0x144
  Tables() {
    cp_to_byte.fill(-1);
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      byte_to_cp[b] = printable ? b : 256 + n++;
      cp_to_byte[byte_to_cp[b]] = static_cast<int16_t>(b);
    }
  }
};

const Tables& T() {
  static const Tables t;
  return t;
}

}  // namespace

uint32_t ByteToCodepoint(uint8_t b) {
  return T().byte_to_cp[b];
}

int CodepointToByte(uint32_t cp) {
  return cp < 512 ? T().cp_to_byte[cp] : -1;
}

std::string Encode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) utf8::Append(T().byte_to_cp[b], &out);
  return out;
}

bool Decode(std::string_view s, std::string* bytes) {
  bytes->clear();
  if (!utf8::IsValid(s)) return false;
  for (size_t i = 0; i < s.size();) {
    size_t len;
    uint32_t cp = utf8::Decode(s, i, &len);
    int b = CodepointToByte(cp);
    if (b < 0) return false;
    bytes->push_back(static_cast<char>(b));
    i += len;
  }
  return true;
}

}  // namespace fm::byte_level
