#include "merge/sparsify.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "base/splitmix.h"

namespace fm {

namespace {

// Indices of `delta` sorted by ascending magnitude, ties by index (a stable, total order).
std::vector<uint32_t> AscendingByMagnitude(const float* delta, size_t n) {
  std::vector<uint32_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0u);
  std::sort(idx.begin(), idx.end(), [delta](uint32_t a, uint32_t b) {
    float x = std::fabs(delta[a]), y = std::fabs(delta[b]);
    return x != y ? x < y : a < b;
  });
  return idx;
}

void RescaleL1(float* delta, size_t n, double before) {
  double after = 0;
  for (size_t i = 0; i < n; i++) after += std::fabs(delta[i]);
  const double eps = 1e-7;
  if (before < eps || after < eps) return;
  const float s = static_cast<float>(before / after);
  for (size_t i = 0; i < n; i++) delta[i] *= s;
}

double L1(const float* d, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += std::fabs(d[i]);
  return s;
}

}  // namespace

uint64_t HashString(const char* s, size_t n) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (size_t i = 0; i < n; i++) h = (h ^ static_cast<unsigned char>(s[i])) * 1099511628211ull;
  return h;
}

double CounterUniform(uint64_t seed, uint64_t stream, uint64_t index) {
  uint64_t x = SplitMix64(seed ^ SplitMix64(stream ^ SplitMix64(index)));
  return static_cast<double>(x >> 11) * (1.0 / 9007199254740992.0);
}

void SparsifyMagnitude(float* delta, size_t n, double density, bool rescale) {
  if (density >= 1 || n == 0) return;
  size_t k = static_cast<size_t>(density * static_cast<double>(n));
  double before = rescale ? L1(delta, n) : 0;
  std::vector<uint32_t> idx = AscendingByMagnitude(delta, n);
  for (size_t i = 0; i < n - k; i++) delta[idx[i]] = 0;
  if (rescale) RescaleL1(delta, n, before);
}

void SparsifyMagnitudeOutliers(float* delta, size_t n, double density, double gamma, bool rescale) {
  if (density >= 1 || n == 0) return;
  int64_t target = static_cast<int64_t>(density * static_cast<double>(n));
  int64_t n_top = static_cast<int64_t>(gamma * static_cast<double>(n));
  int64_t n_bot = static_cast<int64_t>(n) - target - n_top;
  if (n_bot < 0) {
    n_top += n_bot;
    n_bot = 0;
  }
  double before = rescale ? L1(delta, n) : 0;
  std::vector<uint32_t> idx = AscendingByMagnitude(delta, n);
  for (int64_t i = 0; i < n_bot; i++) delta[idx[i]] = 0;
  for (int64_t i = static_cast<int64_t>(n) - n_top; i < static_cast<int64_t>(n); i++) delta[idx[i]] = 0;
  if (rescale) RescaleL1(delta, n, before);
}

void SparsifyRandom(float* delta, size_t n, double density, bool rescale, uint64_t seed, uint64_t stream,
                    uint64_t index0) {
  if (density >= 1) return;
  const float scale = rescale && density > 0 ? static_cast<float>(1.0 / density) : 1.0f;
  for (size_t i = 0; i < n; i++) {
    bool keep = CounterUniform(seed, stream, index0 + i) < density;
    delta[i] = keep ? delta[i] * scale : 0.0f;
  }
}

void SparsifyDella(float* delta, size_t n, size_t row_len, double density, double epsilon, bool rescale,
                   uint64_t seed, uint64_t stream) {
  if (density >= 1) return;
  if (density <= 0) {
    std::fill(delta, delta + n, 0.0f);
    return;
  }
  if (row_len == 0 || n % row_len != 0) row_len = n;
  const size_t rows = row_len ? n / row_len : 0;
#pragma omp parallel for schedule(dynamic, 16)
  for (size_t r = 0; r < rows; r++) {
    float* d = delta + r * row_len;
    std::vector<uint32_t> idx = AscendingByMagnitude(d, row_len);
    for (size_t rank = 0; rank < row_len; rank++) {
      uint32_t j = idx[rank];
      double norm = row_len > 1 ? static_cast<double>(rank) / static_cast<double>(row_len - 1) : 0.5;
      double p = (density - epsilon) + norm * 2 * epsilon;
      bool keep = CounterUniform(seed, stream, r * row_len + j) < p;
      d[j] = keep ? (rescale ? static_cast<float>(d[j] / p) : d[j]) : 0.0f;
    }
  }
}

}  // namespace fm
