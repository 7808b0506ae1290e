// The fused, row-chunked LM head + cross-entropy against a naive double-precision version that materialises
// all logits, including unscored (ignored) rows and a chunk size that does not divide the row count.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "model/kernels.h"

namespace fm {
namespace {

struct Naive {
  std::vector<double> losses, dx, dw;
};

Naive NaiveLmHeadLoss(const std::vector<float>& x, const std::vector<float>& w,
                      const std::vector<uint32_t>& targets, int N, int C, int V, double dloss) {
  Naive r;
  r.losses.assign(N, 0.0);
  r.dx.assign(static_cast<size_t>(N) * C, 0.0);
  r.dw.assign(static_cast<size_t>(V) * C, 0.0);
  std::vector<double> logits(V);
  for (int n = 0; n < N; n++) {
    if (targets[n] == kIgnoreTarget) continue;
    double m = -1e300;
    for (int v = 0; v < V; v++) {
      double s = 0;
      for (int c = 0; c < C; c++) s += static_cast<double>(x[n * C + c]) * w[v * C + c];
      logits[v] = s;
      m = std::max(m, s);
    }
    double sum = 0;
    for (int v = 0; v < V; v++) sum += std::exp(logits[v] - m);
    const double lse = m + std::log(sum);
    r.losses[n] = lse - logits[targets[n]];
    for (int v = 0; v < V; v++) {
      const double d = dloss * (std::exp(logits[v] - lse) - (v == static_cast<int>(targets[n]) ? 1.0 : 0.0));
      for (int c = 0; c < C; c++) {
        r.dx[n * C + c] += d * w[v * C + c];
        r.dw[v * C + c] += d * x[n * C + c];
      }
    }
  }
  return r;
}

double MaxRelErr(const float* a, const std::vector<double>& b) {
  double diff = 0, scale = 0;
  for (size_t i = 0; i < b.size(); i++) {
    diff = std::max(diff, std::fabs(a[i] - b[i]));
    scale = std::max(scale, std::fabs(b[i]));
  }
  return diff / scale;
}

TEST(LmHeadLossTest, ChunkedMatchesNaiveWithIgnoredRows) {
  const int N = 37, C = 24, V = 53;
  std::mt19937 rng(7);
  std::normal_distribution<float> n01(0.0f, 1.0f);
  std::vector<float> x(N * C), w(V * C);
  for (float& v : x) v = n01(rng);
  for (float& v : w) v = n01(rng) * 0.5f;
  std::vector<uint32_t> targets(N);
  int scored = 0;
  for (int n = 0; n < N; n++) {
    targets[n] = (n % 5 == 2 || n == N - 1) ? kIgnoreTarget : static_cast<uint32_t>(rng() % V);
    scored += targets[n] != kIgnoreTarget;
  }
  const float dloss = 1.0f / scored;
  const Naive ref = NaiveLmHeadLoss(x, w, targets, N, C, V, dloss);
  for (int chunk : {1, 5, 16, N}) {
    SCOPED_TRACE("chunk_rows " + std::to_string(chunk));
    Matmul mm;
    std::vector<float> losses(N, -1.0f), dx(N * C, 123.0f), dw(V * C, 0.0f), logits(chunk * V);
    lm_head_loss(mm, losses.data(), dx.data(), dw.data(), x.data(), w.data(), targets.data(), N, C, V, dloss,
                 logits.data(), chunk);
    for (int n = 0; n < N; n++) {
      EXPECT_NEAR(losses[n], ref.losses[n], 1e-4 * std::max(1.0, ref.losses[n])) << "row " << n;
      if (targets[n] == kIgnoreTarget) {
        EXPECT_EQ(losses[n], 0.0f);
        for (int c = 0; c < C; c++)
          EXPECT_EQ(dx[n * C + c], 0.0f) << "ignored row " << n << " got a gradient";
      }
    }
    EXPECT_LT(MaxRelErr(dx.data(), ref.dx), 1e-5);
    EXPECT_LT(MaxRelErr(dw.data(), ref.dw), 1e-5);
    // Forward only: same losses, no gradient buffers touched.
    std::vector<float> losses2(N, -1.0f);
    lm_head_loss(mm, losses2.data(), nullptr, nullptr, x.data(), w.data(), targets.data(), N, C, V, 0.0f,
                 logits.data(), chunk);
    EXPECT_EQ(losses2, losses);
  }
}

TEST(LmHeadLossTest, AccumulatesIntoWeightGradient) {
  const int N = 8, C = 4, V = 6;
  std::vector<float> x(N * C, 0.5f), w(V * C, 0.1f), losses(N), dx(N * C), logits(N * V);
  std::vector<uint32_t> targets(N, 3);
  std::vector<float> dw1(V * C, 0.0f), dw2(V * C, 1.0f);
  Matmul mm;
  lm_head_loss(mm, losses.data(), dx.data(), dw1.data(), x.data(), w.data(), targets.data(), N, C, V, 0.125f,
               logits.data(), 3);
  lm_head_loss(mm, losses.data(), dx.data(), dw2.data(), x.data(), w.data(), targets.data(), N, C, V, 0.125f,
               logits.data(), 3);
  for (int i = 0; i < V * C; i++) EXPECT_NEAR(dw2[i], 1.0f + dw1[i], 1e-6);
  // Uniform logits: loss = log V for every row.
  for (float l : losses) EXPECT_NEAR(l, std::log(6.0f), 1e-5);
}

}  // namespace
}  // namespace fm
