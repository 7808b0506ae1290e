// Global-norm gradient clipping (as torch.nn.utils.clip_grad_norm_ over all parameters at once).
#pragma once

#include <cstddef>

namespace fm {

// sqrt(sum g^2) over n gradients. Summed in double over fixed 64K-element blocks whose partial sums are added
// in order, so the result is bit-identical whatever the thread count.
double GlobalGradNorm(const float* grads, size_t n);

// The factor gradients are multiplied by before the optimizer step: max_norm / (norm + 1e-6) when norm
// exceeds max_norm, else 1. max_norm <= 0 disables clipping.
float ClipScale(double norm, float max_norm);

}  // namespace fm
