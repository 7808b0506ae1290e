#include <cmath>

#include "model/kernels.h"

namespace fm {

void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* weight, int N, int H, int C,
                     int stride, float eps) {
#pragma omp parallel for collapse(2) schedule(static)
  for (int n = 0; n < N; n++) {
    for (int h = 0; h < H; h++) {
      const int64_t off = static_cast<int64_t>(n) * stride + static_cast<int64_t>(h) * C;
      const float* x = inp + off;
      float* y = out + off;
      float ss = 0.0f;
#pragma omp simd reduction(+ : ss)
      for (int c = 0; c < C; c++) ss += x[c] * x[c];
      const float r = 1.0f / std::sqrt(ss / C + eps);
      rstd[static_cast<int64_t>(n) * H + h] = r;
#pragma omp simd
      for (int c = 0; c < C; c++) y[c] = x[c] * r * weight[c];
    }
  }
}

void rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp, const float* weight,
                      const float* rstd, int N, int H, int C, int stride, bool accumulate) {
  // Pass 1, parallel over channel blocks: dweight[c] += sum_rows dout * x * rstd.
  constexpr int kBlock = 32;
  const int nblocks = (C + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static)
  for (int blk = 0; blk < nblocks; blk++) {
    const int c0 = blk * kBlock, c1 = c0 + kBlock < C ? c0 + kBlock : C;
    float acc[kBlock] = {};
    for (int n = 0; n < N; n++) {
      for (int h = 0; h < H; h++) {
        const int64_t off = static_cast<int64_t>(n) * stride + static_cast<int64_t>(h) * C;
        const float r = rstd[static_cast<int64_t>(n) * H + h];
        const float* x = inp + off;
        const float* d = dout + off;
#pragma omp simd
        for (int c = c0; c < c1; c++) acc[c - c0] += d[c] * x[c] * r;
      }
    }
    for (int c = c0; c < c1; c++) dweight[c] += acc[c - c0];
  }
  // Pass 2, parallel over rows: with g = w * dout and xhat = x * rstd, dx = rstd * (g - xhat * mean(g *
  // xhat)).
#pragma omp parallel for collapse(2) schedule(static)
  for (int n = 0; n < N; n++) {
    for (int h = 0; h < H; h++) {
      const int64_t off = static_cast<int64_t>(n) * stride + static_cast<int64_t>(h) * C;
      const float r = rstd[static_cast<int64_t>(n) * H + h];
      const float* x = inp + off;
      const float* d = dout + off;
      float* dx = dinp + off;
      float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
      for (int c = 0; c < C; c++) dot += weight[c] * d[c] * x[c];
      const float m = dot * r * r / C;  // mean(g * xhat) * rstd
      if (accumulate) {
#pragma omp simd
        for (int c = 0; c < C; c++) dx[c] += r * (weight[c] * d[c] - x[c] * m);
      } else {
#pragma omp simd
        for (int c = 0; c < C; c++) dx[c] = r * (weight[c] * d[c] - x[c] * m);
      }
    }
  }
}

}  // namespace fm
