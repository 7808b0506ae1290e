#include "base/dtype.h"

#include <algorithm>
#include <cctype>

namespace fm {

size_t DTypeSize(DType t) {
  switch (t) {
    case DType::kF64: case DType::kI64: case DType::kU64: return 8;
    case DType::kF32: case DType::kI32: case DType::kU32: return 4;
    case DType::kF16: case DType::kBF16: case DType::kI16: case DType::kU16: return 2;
    case DType::kI8: case DType::kU8: case DType::kBool: case DType::kF8E4M3: case DType::kF8E5M2: return 1;
  }
  return 0;
}

const char* DTypeName(DType t) {
  switch (t) {
    case DType::kF64: return "F64";
    case DType::kF32: return "F32";
    case DType::kF16: return "F16";
    case DType::kBF16: return "BF16";
    case DType::kI64: return "I64";
    case DType::kI32: return "I32";
    case DType::kI16: return "I16";
    case DType::kI8: return "I8";
    case DType::kU8: return "U8";
    case DType::kU64: return "U64";
    case DType::kU32: return "U32";
    case DType::kU16: return "U16";
    case DType::kBool: return "BOOL";
    case DType::kF8E4M3: return "F8_E4M3";
    case DType::kF8E5M2: return "F8_E5M2";
  }
  return "?";
}

bool ParseDType(const std::string& s, DType* out) {
  std::string u = s;
  std::transform(u.begin(), u.end(), u.begin(), [](unsigned char c) { return std::toupper(c); });
  struct Alias { const char* name; DType t; };
  static const Alias kAliases[] = {
      {"F64", DType::kF64},   {"FLOAT64", DType::kF64},  {"F32", DType::kF32},  {"FLOAT32", DType::kF32},
      {"FLOAT", DType::kF32}, {"FP32", DType::kF32},     {"F16", DType::kF16},  {"FLOAT16", DType::kF16},
      {"FP16", DType::kF16},  {"HALF", DType::kF16},     {"BF16", DType::kBF16}, {"BFLOAT16", DType::kBF16},
      {"I64", DType::kI64},   {"I32", DType::kI32},      {"I16", DType::kI16},  {"I8", DType::kI8},
      {"U8", DType::kU8},     {"U64", DType::kU64},      {"U32", DType::kU32},  {"U16", DType::kU16},
      {"BOOL", DType::kBool}, {"F8_E4M3", DType::kF8E4M3}, {"F8_E5M2", DType::kF8E5M2},
  };
  for (const Alias& a : kAliases) {
    if (u == a.name) {
      *out = a.t;
      return true;
    }
  }
  return false;
}

float F16ToF32(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t u;
  if (exp == 0x1f) {
    u = sign | 0x7f800000u | (mant << 13);  // Inf or NaN (payload kept)
  } else if (exp != 0) {
    u = sign | ((exp + 112) << 23) | (mant << 13);
  } else if (mant == 0) {
    u = sign;
  } else {  // subnormal: normalise
    int e = -1;
    do {
      ++e;
      mant <<= 1;
    } while ((mant & 0x400u) == 0);
    u = sign | (static_cast<uint32_t>(112 - e) << 23) | ((mant & 0x3ffu) << 13);
  }
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

uint16_t F32ToF16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  uint32_t abs = u & 0x7fffffffu;
  if (abs > 0x7f800000u) return sign | 0x7e00u | static_cast<uint16_t>((abs >> 13) & 0x3ffu);  // quiet NaN
  if (abs >= 0x477ff000u) return sign | 0x7c00u;  // >= 65520 rounds to Inf (and Inf stays Inf)
  if (abs < 0x38800000u) {
    // Result is subnormal or zero: value = abs_float / 2^-24, rounded to nearest even.
    if (abs < 0x33000000u) return sign;  // < 2^-25 rounds to zero (2^-25 itself ties to even zero)
    uint32_t exp = abs >> 23;
    uint32_t mant = (abs & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126 - exp;  // 14 + (112 - exp) ... places the binary point at 2^-24
    uint32_t q = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1);
    uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1u))) ++q;
    return sign | static_cast<uint16_t>(q);
  }
  // Normal: rebias exponent and round the 13 dropped mantissa bits to nearest even.
  uint32_t r = abs - 0x38000000u;  // exponent 127 -> 15 bias
  r += 0x0fffu + ((r >> 13) & 1u);
  return sign | static_cast<uint16_t>(r >> 13);
}

void ToF32(const void* src, DType t, float* dst, size_t n) {
  switch (t) {
    case DType::kF32:
      std::memcpy(dst, src, n * 4);
      return;
    case DType::kBF16: {
      // Byte loads: checkpoint data need not be 2-byte aligned. Vectorises to shifts.
      const char* s = static_cast<const char*>(src);
      uint32_t* __restrict d = reinterpret_cast<uint32_t*>(dst);
      for (size_t i = 0; i < n; i++) {
        uint16_t h;
        std::memcpy(&h, s + 2 * i, 2);
        d[i] = static_cast<uint32_t>(h) << 16;
      }
      return;
    }
    case DType::kF16: {
      const uint8_t* s = static_cast<const uint8_t*>(src);
      for (size_t i = 0; i < n; i++) dst[i] = F16ToF32(static_cast<uint16_t>(s[2 * i] | s[2 * i + 1] << 8));
      return;
    }
    case DType::kF64: {
      const double* s = static_cast<const double*>(src);
      for (size_t i = 0; i < n; i++) dst[i] = static_cast<float>(s[i]);
      return;
    }
    default:
      return;
  }
}

void FromF32(const float* src, DType t, void* dst, size_t n) {
  switch (t) {
    case DType::kF32:
      std::memcpy(dst, src, n * 4);
      return;
    case DType::kBF16: {
      // Branch-free form of F32ToBf16 so the loop vectorises.
      const uint32_t* __restrict s = reinterpret_cast<const uint32_t*>(src);
      uint16_t* __restrict d = static_cast<uint16_t*>(dst);
      for (size_t i = 0; i < n; i++) {
        uint32_t u = s[i];
        uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
        uint32_t quiet_nan = (u >> 16) | 0x0040u;
        uint32_t is_nan = static_cast<uint32_t>(-static_cast<int32_t>((u & 0x7fffffffu) > 0x7f800000u));
        d[i] = static_cast<uint16_t>((quiet_nan & is_nan) | (rounded & ~is_nan));
      }
      return;
    }
    case DType::kF16: {
      uint16_t* d = static_cast<uint16_t*>(dst);
      for (size_t i = 0; i < n; i++) d[i] = F32ToF16(src[i]);
      return;
    }
    case DType::kF64: {
      double* d = static_cast<double*>(dst);
      for (size_t i = 0; i < n; i++) d[i] = src[i];
      return;
    }
    default:
      return;
  }
}

}  // namespace fm
