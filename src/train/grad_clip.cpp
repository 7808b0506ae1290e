#include "train/grad_clip.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace fm {

double GlobalGradNorm(const float* grads, size_t n) {
  constexpr size_t kBlock = 65536;
  const size_t nblocks = (n + kBlock - 1) / kBlock;
  std::vector<double> partial(nblocks);
#pragma omp parallel for schedule(static)
  for (size_t b = 0; b < nblocks; b++) {
    const size_t end = std::min(n, (b + 1) * kBlock);
    double s = 0.0;
    for (size_t i = b * kBlock; i < end; i++) s += static_cast<double>(grads[i]) * grads[i];
    partial[b] = s;
  }
  double total = 0.0;
  for (double s : partial) total += s;
  return std::sqrt(total);
}

float ClipScale(double norm, float max_norm) {
  if (max_norm <= 0.0f || !(norm > max_norm)) return 1.0f;
  return static_cast<float>(max_norm / (norm + 1e-6));
}

}  // namespace fm
