// Causal attention of new queries against a KV cache (inference): the queries of positions pos0 .. pos0+T-1
// read keys/values [KeyStart, t] from caches laid out (NKV, cap, HD), so each head's keys are contiguous and
// the scores of a block of queries come from one small GEMM. OpenMP runs one (head, query block) task per
// thread; the GEMMs inside run single-threaded.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>

#include "model/fast_exp.h"
#include "model/layers/attention_common.h"
#include "model/inference.h"

namespace fm {

namespace {

using attention_internal::KeyStart;
using attention_internal::SingleThreadedBlas;

}  // namespace

int64_t attention_cached_scratch_floats(int max_context) {
  return static_cast<int64_t>(omp_get_max_threads()) * kAttentionCachedQBlock * max_context;
}

void attention_cached_forward(float* out, const float* q, int q_stride, const float* kcache,
                              const float* vcache, int cap, int pos0, int T, int NH, int NKV, int HD,
                              int window, float* scratch, int max_context) {
  const int group = NH / NKV, nblocks = (T + kAttentionCachedQBlock - 1) / kAttentionCachedQBlock;
  const float scale = 1.0f / std::sqrt(static_cast<float>(HD));
  const int64_t per_thread = static_cast<int64_t>(kAttentionCachedQBlock) * max_context;
  SingleThreadedBlas single;
#pragma omp parallel for collapse(2) schedule(dynamic, 1)
  for (int h = 0; h < NH; h++) {
    for (int blk = 0; blk < nblocks; blk++) {
      float* s = scratch + omp_get_thread_num() * per_thread;  // scores / probabilities (R, Tk)
      const int r0 = blk * kAttentionCachedQBlock, r1 = std::min(T, r0 + kAttentionCachedQBlock), R = r1 - r0;
      const int t0 = pos0 + r0, t1 = pos0 + r1;  // positions of the block's queries: [t0, t1)
      const int ks = KeyStart(t0, window), Tk = t1 - ks;
      const float* qh = q + static_cast<int64_t>(r0) * q_stride + static_cast<int64_t>(h) * HD;
      const int64_t head = static_cast<int64_t>(h / group) * cap * HD;
      const float* k = kcache + head + static_cast<int64_t>(ks) * HD;
      const float* v = vcache + head + static_cast<int64_t>(ks) * HD;
      // s (R, Tk) = scale * q (R, HD) @ k (Tk, HD)^T
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, R, Tk, HD, scale, qh, q_stride, k, HD, 0.0f, s,
                  Tk);
      for (int r = 0; r < R; r++) {
        const int t = t0 + r, j0 = KeyStart(t, window) - ks, j1 = t - ks + 1;  // visible: [j0, j1)
        float* row = s + static_cast<int64_t>(r) * Tk;
        float m = row[j0];
        for (int j = j0 + 1; j < j1; j++) m = std::max(m, row[j]);
        float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
        for (int j = j0; j < j1; j++) {
          row[j] = FastExp(row[j] - m);
          sum += row[j];
        }
        const float inv = 1.0f / sum;
        for (int j = 0; j < j0; j++) row[j] = 0.0f;
#pragma omp simd
        for (int j = j0; j < j1; j++) row[j] *= inv;
        for (int j = j1; j < Tk; j++) row[j] = 0.0f;
      }
      // out (R, HD) = p (R, Tk) @ v (Tk, HD)
      float* o = out + static_cast<int64_t>(r0) * NH * HD + static_cast<int64_t>(h) * HD;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, R, HD, Tk, 1.0f, s, Tk, v, HD, 0.0f, o, NH * HD);
    }
  }
}

}  // namespace fm
