#include "base/dtype.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace fm {
namespace {

float FromBits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

TEST(DTypeTest, Bf16RoundsToNearestEven) {
  // 1.0 + 2^-8 is exactly halfway between bf16 1.0 and 1.0+2^-7: ties to even (1.0).
  EXPECT_EQ(F32ToBf16(FromBits(0x3f808000u)), 0x3f80u);
  // 1.0+2^-7 + 2^-8 halfway between 0x3f81 and 0x3f82: ties to even (0x3f82).
  EXPECT_EQ(F32ToBf16(FromBits(0x3f818000u)), 0x3f82u);
  // Just above halfway rounds up, just below rounds down.
  EXPECT_EQ(F32ToBf16(FromBits(0x3f808001u)), 0x3f81u);
  EXPECT_EQ(F32ToBf16(FromBits(0x3f807fffu)), 0x3f80u);
  // Largest finite f32 overflows to +Inf under RNE; Inf stays Inf.
  EXPECT_EQ(F32ToBf16(std::numeric_limits<float>::max()), 0x7f80u);
  EXPECT_EQ(F32ToBf16(-std::numeric_limits<float>::infinity()), 0xff80u);
  // NaN stays NaN (also a NaN whose payload lives only in the low bits, which truncation would turn into Inf).
  uint16_t n = F32ToBf16(FromBits(0x7f800001u));
  EXPECT_TRUE(std::isnan(Bf16ToF32(n)));
  EXPECT_TRUE(std::isnan(Bf16ToF32(F32ToBf16(-std::nanf("")))));
  EXPECT_EQ(F32ToBf16(-0.0f), 0x8000u);
}

TEST(DTypeTest, Bf16RoundTripIsExactForBf16Values) {
  for (uint32_t h = 0; h < 0x10000u; h++) {
    float f = Bf16ToF32(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    EXPECT_EQ(F32ToBf16(f), h);
  }
}

TEST(DTypeTest, F16RoundTripIsExactForF16Values) {
  for (uint32_t h = 0; h < 0x10000u; h++) {
    float f = F16ToF32(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(F16ToF32(F32ToF16(f))));
      continue;
    }
    ASSERT_EQ(F32ToF16(f), h) << std::hex << h;
  }
}

TEST(DTypeTest, F16RoundingMatchesDoubleReference) {
  // Every f16 interval midpoint and its neighbours must round as IEEE RNE says.
  for (uint32_t h = 0; h < 0x7bffu; h++) {
    double lo = F16ToF32(static_cast<uint16_t>(h)), hi = F16ToF32(static_cast<uint16_t>(h + 1));
    float mid = static_cast<float>((lo + hi) / 2);  // exact in f32
    uint16_t want = (h & 1u) ? h + 1 : h;
    ASSERT_EQ(F32ToF16(mid), want) << std::hex << h;
    ASSERT_EQ(F32ToF16(std::nextafter(mid, 1e9f)), h + 1) << std::hex << h;
    ASSERT_EQ(F32ToF16(std::nextafter(mid, -1e9f)), h) << std::hex << h;
  }
  EXPECT_EQ(F32ToF16(65519.0f), 0x7bffu);
  EXPECT_EQ(F32ToF16(65520.0f), 0x7c00u);  // rounds to Inf
  EXPECT_EQ(F32ToF16(1e-8f), 0u);
  EXPECT_EQ(F32ToF16(-1e30f), 0xfc00u);
  EXPECT_TRUE(std::isnan(F16ToF32(F32ToF16(std::nanf("")))));
}

TEST(DTypeTest, ParsesSafetensorsAndTorchNames) {
  DType t;
  ASSERT_TRUE(ParseDType("BF16", &t));
  EXPECT_EQ(t, DType::kBF16);
  ASSERT_TRUE(ParseDType("bfloat16", &t));
  EXPECT_EQ(t, DType::kBF16);
  ASSERT_TRUE(ParseDType("float16", &t));
  EXPECT_EQ(t, DType::kF16);
  EXPECT_FALSE(ParseDType("F12", &t));
  EXPECT_EQ(DTypeSize(DType::kI64), 8u);
}

}  // namespace
}  // namespace fm
