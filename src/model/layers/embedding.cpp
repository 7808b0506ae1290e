#include <cstring>

#include "model/kernels.h"

namespace fm {

void embedding_forward(float* out, const uint32_t* tokens, const float* wte, int N, int C) {
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; n++) {
    std::memcpy(out + static_cast<int64_t>(n) * C, wte + static_cast<int64_t>(tokens[n]) * C,
                sizeof(float) * C);
  }
}

void embedding_backward(float* dwte, const float* dout, const uint32_t* tokens, int N, int C) {
  // Each thread owns a slice of channels across all rows: a token repeated in the batch never races.
  constexpr int kBlock = 64;
  const int nblocks = (C + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static)
  for (int blk = 0; blk < nblocks; blk++) {
    const int c0 = blk * kBlock, c1 = c0 + kBlock < C ? c0 + kBlock : C;
    for (int n = 0; n < N; n++) {
      float* dw = dwte + static_cast<int64_t>(tokens[n]) * C;
      const float* d = dout + static_cast<int64_t>(n) * C;
#pragma omp simd
      for (int c = c0; c < c1; c++) dw[c] += d[c];
    }
  }
}

}  // namespace fm
