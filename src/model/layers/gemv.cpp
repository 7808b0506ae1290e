// Matrix-vector products for single-token decode steps, which are bound by reading the weights. Both run on
// the OpenMP threads of the surrounding kernels (handing each step to OpenBLAS's own thread pool and back
// costs more than the product on small models). bf16 halves the bytes of f32, and AVX512-BF16's vdpbf16ps
// multiplies pairs of bf16 into f32 sums; it is compiled for that instruction set with a target attribute
// (the build targets x86-64-v3) and only called after a CPUID check.
#include <cpuid.h>
#include <immintrin.h>

#include "base/dtype.h"
#include "model/inference.h"

namespace fm {

namespace {

constexpr int kRowsPerTask = 16;

// Horizontal sum through memory (GCC 12's reduce/extract intrinsics warn about an uninitialised temporary).
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) float Sum(__m512 v) {
  alignas(64) float t[16];
  _mm512_store_ps(t, v);
  float s = 0.0f;
  for (int i = 0; i < 16; i++) s += t[i];
  return s;
}

// y[n] (+)= W[n, :] . x16 for n in [n0, n1); four rows share each load of x.
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) void Rows(float* y, const uint16_t* W,
                                                                          const uint16_t* x16, int K, int n0,
                                                                          int n1, bool accumulate) {
  const int K32 = K / 32 * 32;
  const __mmask32 tail = K > K32 ? static_cast<__mmask32>((uint64_t{1} << (K - K32)) - 1) : 0;
  int n = n0;
  for (; n + 4 <= n1; n += 4) {
    const uint16_t* w0 = W + static_cast<int64_t>(n) * K;
    const uint16_t* w1 = w0 + K;
    const uint16_t* w2 = w1 + K;
    const uint16_t* w3 = w2 + K;
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(),
           a3 = _mm512_setzero_ps();
    for (int k = 0; k < K32; k += 32) {
      const __m512bh xv = (__m512bh)_mm512_loadu_si512(x16 + k);
      a0 = _mm512_dpbf16_ps(a0, (__m512bh)_mm512_loadu_si512(w0 + k), xv);
      a1 = _mm512_dpbf16_ps(a1, (__m512bh)_mm512_loadu_si512(w1 + k), xv);
      a2 = _mm512_dpbf16_ps(a2, (__m512bh)_mm512_loadu_si512(w2 + k), xv);
      a3 = _mm512_dpbf16_ps(a3, (__m512bh)_mm512_loadu_si512(w3 + k), xv);
    }
    if (tail) {
      const __m512bh xv = (__m512bh)_mm512_maskz_loadu_epi16(tail, x16 + K32);
      a0 = _mm512_dpbf16_ps(a0, (__m512bh)_mm512_maskz_loadu_epi16(tail, w0 + K32), xv);
      a1 = _mm512_dpbf16_ps(a1, (__m512bh)_mm512_maskz_loadu_epi16(tail, w1 + K32), xv);
      a2 = _mm512_dpbf16_ps(a2, (__m512bh)_mm512_maskz_loadu_epi16(tail, w2 + K32), xv);
      a3 = _mm512_dpbf16_ps(a3, (__m512bh)_mm512_maskz_loadu_epi16(tail, w3 + K32), xv);
    }
    const float s[4] = {Sum(a0), Sum(a1), Sum(a2), Sum(a3)};
    for (int i = 0; i < 4; i++) y[n + i] = accumulate ? y[n + i] + s[i] : s[i];
  }
  for (; n < n1; n++) {
    const uint16_t* w = W + static_cast<int64_t>(n) * K;
    __m512 a = _mm512_setzero_ps();
    for (int k = 0; k < K32; k += 32) {
      a = _mm512_dpbf16_ps(a, (__m512bh)_mm512_loadu_si512(w + k), (__m512bh)_mm512_loadu_si512(x16 + k));
    }
    if (tail) {
      a = _mm512_dpbf16_ps(a, (__m512bh)_mm512_maskz_loadu_epi16(tail, w + K32),
                           (__m512bh)_mm512_maskz_loadu_epi16(tail, x16 + K32));
    }
    y[n] = accumulate ? y[n] + Sum(a) : Sum(a);
  }
}

}  // namespace

bool GemvBf16Available() {
  static const bool available = [] {
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (__get_cpuid_max(0, nullptr) < 7) return false;
    __cpuid_count(7, 1, a, b, c, d);
    const bool avx512_bf16 = (a >> 5) & 1u;
    return avx512_bf16 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl");
  }();
  return available;
}

void gemv_bf16(float* y, const uint16_t* W, const float* x, int K, int OC, bool accumulate, uint16_t* x16) {
  for (int k = 0; k < K; k++) x16[k] = F32ToBf16(x[k]);
  const int tasks = (OC + kRowsPerTask - 1) / kRowsPerTask;
#pragma omp parallel for schedule(static)
  for (int t = 0; t < tasks; t++) {
    const int n0 = t * kRowsPerTask, n1 = n0 + kRowsPerTask < OC ? n0 + kRowsPerTask : OC;
    Rows(y, W, x16, K, n0, n1, accumulate);
  }
}

void gemv_f32(float* y, const float* W, const float* x, int K, int OC, bool accumulate) {
  const int tasks = (OC + kRowsPerTask - 1) / kRowsPerTask;
#pragma omp parallel for schedule(static)
  for (int t = 0; t < tasks; t++) {
    const int n0 = t * kRowsPerTask, n1 = n0 + kRowsPerTask < OC ? n0 + kRowsPerTask : OC;
    int n = n0;
    for (; n + 4 <= n1; n += 4) {  // four rows share each load of x
      const float* w0 = W + static_cast<int64_t>(n) * K;
      const float *w1 = w0 + K, *w2 = w1 + K, *w3 = w2 + K;
      float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
      for (int k = 0; k < K; k++) {
        s0 += w0[k] * x[k];
        s1 += w1[k] * x[k];
        s2 += w2[k] * x[k];
        s3 += w3[k] * x[k];
      }
      const float s[4] = {s0, s1, s2, s3};
      for (int i = 0; i < 4; i++) y[n + i] = accumulate ? y[n + i] + s[i] : s[i];
    }
    for (; n < n1; n++) {
      const float* w = W + static_cast<int64_t>(n) * K;
      float s = 0.0f;
#pragma omp simd reduction(+ : s)
      for (int k = 0; k < K; k++) s += w[k] * x[k];
      y[n] = accumulate ? y[n] + s : s;
    }
  }
}

}  // namespace fm
