// A vectorisable expf (Cephes' polynomial, ~1e-7 relative error) for the softmax, SiLU and cross-entropy
// loops: std::exp does not vectorise without -ffast-math, and these loops are exp-bound. Valid for finite |x|
// < 1e6: results below ~1e-38 flush to 0 and above ~1.7e38 become +inf. Rounding uses the 1.5*2^23 trick, and
// the range is clamped on the integer exponent, because GCC does not vectorise std::floor under the default
// -ftrapping-math nor a clamp of x (it specialises the code after a constant clamp into branches).
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>

namespace fm {

[[gnu::always_inline]] inline float FastExp(float x) {
  const float kRound =
      12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer, kept in the low mantissa bits
  const float t = x * 1.44269504088896341f + kRound;
  const float n = t - kRound;  // round(x / ln2): x = n ln2 + r, |r| <= ln2 / 2
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  int32_t e = std::bit_cast<int32_t>(t) - std::bit_cast<int32_t>(kRound) + 127;  // biased exponent of 2^n
  e = std::min(std::max(e, 0), 255);                                             // 0 -> 0.0f, 255 -> inf
  return p * std::bit_cast<float>(e << 23);
}

}  // namespace fm
