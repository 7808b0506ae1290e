#include "model/kernels.h"

namespace fm {

void matmul_forward(Matmul& mm, float* out, const float* inp, const float* weight, const float* bias, int N,
                    int IC, int OC, bool accumulate) {
  mm.Gemm(false, true, N, OC, IC, inp, weight, out, accumulate);
  if (bias) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
      float* o = out + static_cast<int64_t>(n) * OC;
#pragma omp simd
      for (int c = 0; c < OC; c++) o[c] += bias[c];
    }
  }
}

void matmul_backward(Matmul& mm, float* dinp, float* dweight, float* dbias, const float* dout,
                     const float* inp, const float* weight, int N, int IC, int OC) {
  if (dinp) mm.Gemm(false, false, N, IC, OC, dout, weight, dinp, false);
  mm.Gemm(true, false, OC, IC, N, dout, inp, dweight, true);
  if (dbias) {
    constexpr int kBlock = 64;
    const int nblocks = (OC + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static)
    for (int blk = 0; blk < nblocks; blk++) {
      const int c0 = blk * kBlock, c1 = c0 + kBlock < OC ? c0 + kBlock : OC;
      float acc[kBlock] = {};
      for (int n = 0; n < N; n++) {
        const float* d = dout + static_cast<int64_t>(n) * OC;
#pragma omp simd
        for (int c = c0; c < c1; c++) acc[c - c0] += d[c];
      }
      for (int c = c0; c < c1; c++) dbias[c] += acc[c - c0];
    }
  }
}

}  // namespace fm
