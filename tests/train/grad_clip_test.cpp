#include "train/grad_clip.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace fm {
namespace {

TEST(GradClip, NormAndScale) {
  std::vector<float> g = {3.0f, 0.0f, 4.0f};
  EXPECT_DOUBLE_EQ(GlobalGradNorm(g.data(), g.size()), 5.0);
  EXPECT_FLOAT_EQ(ClipScale(5.0, 1.0f), static_cast<float>(1.0 / (5.0 + 1e-6)));
  EXPECT_FLOAT_EQ(ClipScale(5.0, 10.0f), 1.0f);  // below the limit: untouched
  EXPECT_FLOAT_EQ(ClipScale(5.0, 0.0f), 1.0f);   // clipping off
  // After scaling, the norm is the limit.
  const float s = ClipScale(5.0, 2.0f);
  for (auto& x : g) x *= s;
  EXPECT_NEAR(GlobalGradNorm(g.data(), g.size()), 2.0, 1e-5);
}

TEST(GradClip, NormIsIndependentOfThreadCount) {
  std::mt19937 rng(11);
  std::normal_distribution<float> nd;
  std::vector<float> g(1000003);
  for (auto& x : g) x = nd(rng);
  double want = 0.0;  // sequential reference in double, same blocking not required for closeness
  for (float x : g) want += static_cast<double>(x) * x;
  const double a = GlobalGradNorm(g.data(), g.size());
  EXPECT_NEAR(a, std::sqrt(want), 1e-9 * std::sqrt(want));
#ifdef _OPENMP
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  const double b = GlobalGradNorm(g.data(), g.size());
  omp_set_num_threads(3);
  const double c = GlobalGradNorm(g.data(), g.size());
  omp_set_num_threads(saved);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, c);
#endif
}

}  // namespace
}  // namespace fm
