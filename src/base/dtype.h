// Element types of checkpoint tensors and the conversions between the floating-point ones.
//
// Conversions to F16 and BF16 round to nearest, ties to even; NaN stays NaN (quiet, sign kept) and
// +-Inf stays +-Inf; values beyond the F16 range become +-Inf as IEEE rounding prescribes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace fm {

enum class DType : uint8_t { kF64, kF32, kF16, kBF16, kI64, kI32, kI16, kI8, kU8, kU64, kU32, kU16, kBool, kF8E4M3, kF8E5M2 };

// Bytes per element.
size_t DTypeSize(DType t);
// The safetensors spelling: "F32", "BF16", "I64", ...
const char* DTypeName(DType t);
// Parses the safetensors spelling (also accepts lower case and the torch-style names "float32", "bfloat16",
// "float16" that mergekit configs use). Returns false when `s` names no dtype.
bool ParseDType(const std::string& s, DType* out);
// F32, F16 or BF16 (F64 is read but not a compute type): tensors that merge arithmetic applies to.
inline bool IsFloat(DType t) { return t == DType::kF32 || t == DType::kF16 || t == DType::kBF16 || t == DType::kF64; }

inline float Bf16ToF32(uint16_t h) {
  uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline uint16_t F32ToBf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) {  // NaN: keep sign and top payload bits, force quiet
    return static_cast<uint16_t>((u >> 16) | 0x0040u);
  }
  // Round to nearest even: add 0x7fff plus the lowest kept bit. Inf stays Inf; overflow rounds to Inf.
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

float F16ToF32(uint16_t h);
uint16_t F32ToF16(float f);

// Converts n elements of a float type (F32/F16/BF16/F64) into f32.
void ToF32(const void* src, DType t, float* dst, size_t n);
// Converts n f32 values into a float type (F32/F16/BF16/F64).
void FromF32(const float* src, DType t, void* dst, size_t n);

}  // namespace fm
