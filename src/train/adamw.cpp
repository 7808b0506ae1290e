#include "train/adamw.h"

#include <cmath>

namespace fm {

AdamW::AdamW(const std::vector<ParamTensor>& tensors, size_t n, const AdamWOptions& opt)
    : opt_(opt), m_(n, 0.0f), v_(n, 0.0f) {
  segments_.reserve(tensors.size());
  for (const ParamTensor& t : tensors) segments_.push_back({t.offset, t.numel, t.decay});
}

void AdamW::Step(float* params, const float* grads, float lr, float grad_scale) {
  t_++;
  const float b1 = opt_.beta1, b2 = opt_.beta2, eps = opt_.eps;
  const float bc1 = static_cast<float>(1.0 - std::pow(static_cast<double>(b1), static_cast<double>(t_)));
  const float bc2 = static_cast<float>(1.0 - std::pow(static_cast<double>(b2), static_cast<double>(t_)));
  float* m = m_.data();
  float* v = v_.data();
#pragma omp parallel
  for (const Segment& s : segments_) {
    const float wd = s.decay ? opt_.weight_decay : 0.0f;
    const size_t end = s.offset + s.numel;
#pragma omp for schedule(static)
    for (size_t i = s.offset; i < end; i++) {
      const float g = grads[i] * grad_scale;
      const float mi = b1 * m[i] + (1.0f - b1) * g;
      const float vi = b2 * v[i] + (1.0f - b2) * g * g;
      m[i] = mi;
      v[i] = vi;
      const float mhat = mi / bc1;
      const float vhat = vi / bc2;
      params[i] -= lr * (mhat / (std::sqrt(vhat) + eps) + wd * params[i]);
    }
  }
}

}  // namespace fm
