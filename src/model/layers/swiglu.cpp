#include <cmath>

#include "model/fast_exp.h"
#include "model/kernels.h"

namespace fm {

void swiglu_forward(float* out, const float* gate_up, int N, int FF) {
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; n++) {
    const float* g = gate_up + static_cast<int64_t>(n) * 2 * FF;
    const float* u = g + FF;
    float* o = out + static_cast<int64_t>(n) * FF;
#pragma omp simd
    for (int i = 0; i < FF; i++) o[i] = g[i] / (1.0f + FastExp(-g[i])) * u[i];
  }
}

void swiglu_backward(float* dgate_up, const float* dout, const float* gate_up, int N, int FF) {
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; n++) {
    const float* g = gate_up + static_cast<int64_t>(n) * 2 * FF;
    const float* u = g + FF;
    const float* d = dout + static_cast<int64_t>(n) * FF;
    float* dg = dgate_up + static_cast<int64_t>(n) * 2 * FF;
    float* du = dg + FF;
#pragma omp simd
    for (int i = 0; i < FF; i++) {
      const float s = 1.0f / (1.0f + FastExp(-g[i]));  // silu(g) = g s, silu'(g) = s (1 + g (1 - s))
      du[i] = d[i] * g[i] * s;
      dg[i] = d[i] * u[i] * s * (1.0f + g[i] * (1.0f - s));
    }
  }
}

}  // namespace fm
