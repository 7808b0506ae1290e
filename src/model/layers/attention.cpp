// Causal self-attention, blocked like FlashAttention on the CPU. Queries are processed kQBlock at a time per
// (batch, head): the scores of one block (at most kQBlock x T, never the whole (T, T) matrix) come from one
// small GEMM, are turned into probabilities in place, and multiply V in a second GEMM. Each query's
// log-sum-exp is stored, so the backward pass recomputes the probabilities (p = exp(q.k * scale - lse))
// instead of keeping them. OpenMP runs one (batch, head) task per thread; the GEMMs inside run
// single-threaded.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "model/fast_exp.h"
#include "model/layers/attention_common.h"
#include "model/kernels.h"

namespace fm {

namespace {

constexpr int kQBlock = 64;

using attention_internal::KeyStart;
using attention_internal::SingleThreadedBlas;

}  // namespace

int64_t attention_scratch_floats(int T) {
  return static_cast<int64_t>(omp_get_max_threads()) * 2 * std::min(T, kQBlock) * T;
}

void attention_forward(float* out, float* lse, const float* qkv, int B, int T, int NH, int NKV, int HD,
                       int window, float* scratch) {
  const int QKV = (NH + 2 * NKV) * HD, group = NH / NKV, nblocks = (T + kQBlock - 1) / kQBlock;
  const float scale = 1.0f / std::sqrt(static_cast<float>(HD));
  const int64_t per_thread = 2 * static_cast<int64_t>(std::min(T, kQBlock)) * T;
  SingleThreadedBlas single;
#pragma omp parallel for collapse(3) schedule(dynamic, 1)
  for (int b = 0; b < B; b++) {
    for (int h = 0; h < NH; h++) {
      for (int blk = 0; blk < nblocks; blk++) {
        float* s = scratch + omp_get_thread_num() * per_thread;  // scores / probabilities (R, Tk)
        const int t0 = blk * kQBlock, t1 = std::min(T, t0 + kQBlock), R = t1 - t0;
        const int ks = KeyStart(t0, window), Tk = t1 - ks;
        const float* base = qkv + static_cast<int64_t>(b) * T * QKV;
        const float* q = base + static_cast<int64_t>(t0) * QKV + static_cast<int64_t>(h) * HD;
        const float* k = base + static_cast<int64_t>(ks) * QKV + static_cast<int64_t>(NH + h / group) * HD;
        const float* v = k + static_cast<int64_t>(NKV) * HD;
        // s (R, Tk) = scale * q (R, HD) @ k (Tk, HD)^T
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, R, Tk, HD, scale, q, QKV, k, QKV, 0.0f, s, Tk);
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
          lse[(static_cast<int64_t>(b) * NH + h) * T + t] = m + std::log(sum);
        }
        // out (R, HD) = p (R, Tk) @ v (Tk, HD)
        float* o = out + (static_cast<int64_t>(b) * T + t0) * NH * HD + static_cast<int64_t>(h) * HD;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, R, HD, Tk, 1.0f, s, Tk, v, QKV, 0.0f, o,
                    NH * HD);
      }
    }
  }
}

void attention_backward(float* dqkv, const float* dout, const float* qkv, const float* out, const float* lse,
                        int B, int T, int NH, int NKV, int HD, int window, float* scratch) {
  const int QKV = (NH + 2 * NKV) * HD, group = NH / NKV, nblocks = (T + kQBlock - 1) / kQBlock;
  const int QD = NH * HD;
  const float scale = 1.0f / std::sqrt(static_cast<float>(HD));
  const int64_t per_thread = 2 * static_cast<int64_t>(std::min(T, kQBlock)) * T;
  SingleThreadedBlas single;
  // One task per (batch, kv head): all q heads of the group and all query blocks add into its dk, dv.
#pragma omp parallel for collapse(2) schedule(dynamic, 1)
  for (int b = 0; b < B; b++) {
    for (int kvh = 0; kvh < NKV; kvh++) {
      float* p = scratch + omp_get_thread_num() * per_thread;  // probabilities (R, Tk)
      float* dp = p + per_thread / 2;                          // dP, then dS (R, Tk)
      const float* base = qkv + static_cast<int64_t>(b) * T * QKV;
      float* dbase = dqkv + static_cast<int64_t>(b) * T * QKV;
      const int64_t koff = static_cast<int64_t>(NH + kvh) * HD, voff = koff + static_cast<int64_t>(NKV) * HD;
      for (int t = 0; t < T; t++) {
        std::memset(dbase + static_cast<int64_t>(t) * QKV + koff, 0, sizeof(float) * HD);
        std::memset(dbase + static_cast<int64_t>(t) * QKV + voff, 0, sizeof(float) * HD);
      }
      for (int h = kvh * group; h < (kvh + 1) * group; h++) {
        for (int blk = 0; blk < nblocks; blk++) {
          const int t0 = blk * kQBlock, t1 = std::min(T, t0 + kQBlock), R = t1 - t0;
          const int ks = KeyStart(t0, window), Tk = t1 - ks;
          const int64_t qrow = static_cast<int64_t>(t0) * QKV + static_cast<int64_t>(h) * HD;
          const int64_t krow = static_cast<int64_t>(ks) * QKV;
          const int64_t orow = (static_cast<int64_t>(b) * T + t0) * QD + static_cast<int64_t>(h) * HD;
          const float* q = base + qrow;
          const float* k = base + krow + koff;
          const float* v = base + krow + voff;
          const float* o = out + orow;
          const float* d = dout + orow;
          // p = exp(scale * q k^T - lse) on the visible keys, 0 elsewhere; dp = dout @ v^T.
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, R, Tk, HD, scale, q, QKV, k, QKV, 0.0f, p, Tk);
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, R, Tk, HD, 1.0f, d, QD, v, QKV, 0.0f, dp, Tk);
          for (int r = 0; r < R; r++) {
            const int t = t0 + r, j0 = KeyStart(t, window) - ks, j1 = t - ks + 1;
            const float L = lse[(static_cast<int64_t>(b) * NH + h) * T + t];
            float D = 0.0f;  // sum_j p_j dp_j = dout . out
#pragma omp simd reduction(+ : D)
            for (int i = 0; i < HD; i++)
              D += d[static_cast<int64_t>(r) * QD + i] * o[static_cast<int64_t>(r) * QD + i];
            float* pr = p + static_cast<int64_t>(r) * Tk;
            float* dr = dp + static_cast<int64_t>(r) * Tk;
            for (int j = 0; j < j0; j++) pr[j] = dr[j] = 0.0f;
#pragma omp simd
            for (int j = j0; j < j1; j++) {
              pr[j] = FastExp(pr[j] - L);
              dr[j] = pr[j] * (dr[j] - D) * scale;  // dS
            }
            for (int j = j1; j < Tk; j++) pr[j] = dr[j] = 0.0f;
          }
          // dq (R, HD) = dS @ k; dk (Tk, HD) += dS^T @ q; dv (Tk, HD) += p^T @ dout.
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, R, HD, Tk, 1.0f, dp, Tk, k, QKV, 0.0f,
                      dbase + qrow, QKV);
          cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Tk, HD, R, 1.0f, dp, Tk, q, QKV, 1.0f,
                      dbase + krow + koff, QKV);
          cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Tk, HD, R, 1.0f, p, Tk, d, QD, 1.0f,
                      dbase + krow + voff, QKV);
        }
      }
    }
  }
}

}  // namespace fm
