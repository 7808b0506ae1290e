#include <cmath>

#include "model/fast_exp.h"
#include "model/kernels.h"

namespace fm {

void lm_head_loss(Matmul& mm, float* losses, float* dx, float* dw, const float* x, const float* w,
                  const uint32_t* targets, int N, int C, int V, float dloss, float* logits, int chunk_rows) {
  for (int r0 = 0; r0 < N; r0 += chunk_rows) {
    const int R = N - r0 < chunk_rows ? N - r0 : chunk_rows;
    const float* xc = x + static_cast<int64_t>(r0) * C;   // (R, C)
    mm.Gemm(false, true, R, V, C, xc, w, logits, false);  // logits (R, V) = xc @ w^T
#pragma omp parallel for schedule(static)
    for (int r = 0; r < R; r++) {
      float* l = logits + static_cast<int64_t>(r) * V;
      const uint32_t target = targets[r0 + r];
      if (target == kIgnoreTarget) {
        losses[r0 + r] = 0.0f;
        if (dx) {
#pragma omp simd
          for (int v = 0; v < V; v++) l[v] = 0.0f;
        }
        continue;
      }
      float m = l[0];
      for (int v = 1; v < V; v++) m = l[v] > m ? l[v] : m;
      float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
      for (int v = 0; v < V; v++) sum += FastExp(l[v] - m);
      const float lse = m + std::log(sum);
      losses[r0 + r] = lse - l[target];
      if (dx) {
        // dlogits in place: dloss * (softmax - onehot).
#pragma omp simd
        for (int v = 0; v < V; v++) l[v] = dloss * FastExp(l[v] - lse);
        l[target] -= dloss;
      }
    }
    if (dx) {
      mm.Gemm(false, false, R, C, V, logits, w, dx + static_cast<int64_t>(r0) * C, false);  // dx = dl @ w
      mm.Gemm(true, false, V, C, R, logits, xc, dw, true);                                  // dw += dl^T @ xc
    }
  }
}

}  // namespace fm
