// Hand-worked values of each method's arithmetic, and the properties of the randomised ones.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "merge/merge_method.h"
#include "merge/sparsify.h"

namespace fm {
namespace {

// Keeps the input arrays alive for the duration of a test (MergeTask only points at them).
std::vector<std::vector<float>>& Storage() {
  static std::vector<std::vector<float>> s;
  return s;
}

MergeTask Task(const std::vector<float>& base, const std::vector<std::vector<float>>& models,
               const std::vector<std::map<std::string, double>>& mp, const std::map<std::string, double>& gp,
               std::vector<float>* out) {
  auto& store = Storage();
  store.reserve(1024);  // never reallocates within a test run: pointers stay valid
  MergeTask t;
  t.tensor = "model.layers.0.mlp.up_proj.weight";
  t.n = base.size();
  t.row_len = base.size();
  store.push_back(base);
  t.base = store.back().data();
  for (const auto& m : models) {
    store.push_back(m);
    t.models.push_back(store.back().data());
  }
  t.model_params = mp;
  t.params = gp;
  out->assign(base.size(), 0.0f);
  t.out = out->data();
  return t;
}

std::map<std::string, double> Defaults(const MergeMethod& m) {
  std::map<std::string, double> p;
  for (const auto& d : m.global_params()) p[d.name] = d.default_value;
  return p;
}

TEST(MergeMethodsTest, RegistryHasEveryMergekitMethod) {
  for (const char* name : {"task_arithmetic", "linear", "ties", "dare_linear", "dare_ties", "breadcrumbs",
                           "breadcrumbs_ties", "della", "della_linear", "slerp", "model_stock"}) {
    EXPECT_NE(FindMergeMethod(name), nullptr) << name;
  }
  EXPECT_EQ(FindMergeMethod("passthrough"), nullptr);
}

TEST(MergeMethodsTest, ChatVectorIsTaskArithmetic) {
  // C + 0.5 * (I - B) with B = 1, C = 1.5, I = 3  ->  1.5 + 0.5*2 = 2.5
  const MergeMethod* m = FindMergeMethod("task_arithmetic");
  std::vector<float> out;
  auto gp = Defaults(*m);
  MergeTask t = Task({1, -1}, {{1.5f, -2}, {3, 1}}, {{{"weight", 1}}, {{"weight", 0.5}}}, gp, &out);
  ASSERT_TRUE(m->Merge(t).ok());
  EXPECT_FLOAT_EQ(out[0], 2.5f);
  EXPECT_FLOAT_EQ(out[1], -2 + 0.5f * 2);
}

TEST(MergeMethodsTest, TiesElectsSignAndAveragesAgreeingDeltas) {
  const MergeMethod* m = FindMergeMethod("ties");
  auto gp = Defaults(*m);  // normalize = true
  std::vector<float> out;
  // Deltas: model a: [+2, -1, +0.1, +3], model b: [-1, -3, +0.2, 0]; weights 1, 1; density 1.
  MergeTask t = Task({0, 0, 0, 0}, {{2, -1, 0.1f, 3}, {-1, -3, 0.2f, 0}},
                     {{{"weight", 1}, {"density", 1}}, {{"weight", 1}, {"density", 1}}}, gp, &out);
  ASSERT_TRUE(m->Merge(t).ok());
  EXPECT_FLOAT_EQ(out[0], 2.0f);          // sum +1 -> keep +2 only, divided by weight 1
  EXPECT_FLOAT_EQ(out[1], -2.0f);         // both negative: (-1-3)/2
  EXPECT_FLOAT_EQ(out[2], 0.15f);         // both positive: (0.1+0.2)/2
  EXPECT_FLOAT_EQ(out[3], 3.0f);          // zero delta does not vote or count
  // density 0.5 keeps the 2 largest magnitudes of each delta: a -> [2, 0, 0, 3], b -> [0, -3, 0, 0]
  t.model_params = {{{"weight", 1}, {"density", 0.5}}, {{"weight", 1}, {"density", 0.5}}};
  ASSERT_TRUE(m->Merge(t).ok());
  EXPECT_FLOAT_EQ(out[0], 2.0f);
  EXPECT_FLOAT_EQ(out[1], -3.0f);
  EXPECT_FLOAT_EQ(out[2], 0.0f);
  EXPECT_FLOAT_EQ(out[3], 3.0f);
}

TEST(MergeMethodsTest, LinearIsWeightedMean) {
  const MergeMethod* m = FindMergeMethod("linear");
  auto gp = Defaults(*m);
  std::vector<float> out;
  MergeTask t = Task({0}, {{1}, {4}}, {{{"weight", 3}}, {{"weight", 1}}}, gp, &out);
  t.base = nullptr;
  ASSERT_TRUE(m->Merge(t).ok());
  EXPECT_FLOAT_EQ(out[0], (3 * 1 + 4) / 4.0f);
  gp["normalize"] = 0;
  t.params = gp;
  ASSERT_TRUE(m->Merge(t).ok());
  EXPECT_FLOAT_EQ(out[0], 7.0f);
}

TEST(MergeMethodsTest, SlerpOfOrthogonalUnitVectors) {
  const MergeMethod* m = FindMergeMethod("slerp");
  std::vector<float> out;
  MergeTask t = Task({1, 0}, {{0, 1}}, {{}}, {{"t", 0.5}}, &out);
  ASSERT_TRUE(m->Merge(t).ok());
  EXPECT_NEAR(out[0], std::sqrt(0.5), 1e-6);  // on the arc, not the chord (0.5)
  EXPECT_NEAR(out[1], std::sqrt(0.5), 1e-6);
  // Colinear: falls back to lerp.
  t = Task({1, 1}, {{2, 2}}, {{}}, {{"t", 0.25}}, &out);
  ASSERT_TRUE(m->Merge(t).ok());
  EXPECT_FLOAT_EQ(out[0], 1.25f);
}

TEST(MergeMethodsTest, ModelStockRatioFromAngle) {
  const MergeMethod* m = FindMergeMethod("model_stock");
  std::vector<float> out;
  // Orthogonal task vectors: cos = 0 -> t = 0 -> the base.
  MergeTask t = Task({1, 1}, {{2, 1}, {1, 2}}, {{}, {}}, {{"filter_wise", 0}}, &out);
  ASSERT_TRUE(m->Merge(t).ok());
  EXPECT_FLOAT_EQ(out[0], 1.0f);
  // Identical task vectors: cos = 1 -> t = 1 -> the average.
  t = Task({1, 1}, {{2, 3}, {2, 3}}, {{}, {}}, {{"filter_wise", 0}}, &out);
  ASSERT_TRUE(m->Merge(t).ok());
  EXPECT_FLOAT_EQ(out[1], 3.0f);
  // cos = 0.5, N = 2 -> t = 1/1.5 = 2/3.
  t = Task({0, 0}, {{1, 0}, {0.5f, std::sqrt(3.0f) / 2}}, {{}, {}}, {{"filter_wise", 0}}, &out);
  ASSERT_TRUE(m->Merge(t).ok());
  EXPECT_NEAR(out[0], 2.0 / 3 * 0.75, 1e-6);
}

TEST(SparsifyTest, BreadcrumbsDropsOutliersAndSmallest) {
  std::vector<float> d = {0.1f, -5, 0.2f, 0.3f, -0.4f, 0.5f, 0.6f, -0.7f, 0.8f, 0.9f};
  // density 0.5 -> keep 5; gamma 0.1 -> drop the 1 largest (-5); drop the 4 smallest.
  SparsifyMagnitudeOutliers(d.data(), d.size(), 0.5, 0.1, false);
  std::vector<float> want = {0, 0, 0, 0, 0, 0.5f, 0.6f, -0.7f, 0.8f, 0.9f};
  EXPECT_EQ(d, want);
  // gamma*n < 1: nothing removed from the top (finmerge's definition; see sparsify.h).
  d = {1, 2, 3, 4};
  SparsifyMagnitudeOutliers(d.data(), d.size(), 0.5, 0.01, false);
  EXPECT_EQ(d, (std::vector<float>{0, 0, 3, 4}));
}

TEST(SparsifyTest, DareKeepsDensityAndExpectation) {
  const size_t n = 200000;
  std::vector<float> d(n, 1.0f);
  SparsifyRandom(d.data(), n, 0.3, true, 42, 0, 0);
  size_t kept = 0;
  double sum = 0;
  for (float x : d) {
    kept += x != 0;
    sum += x;
    ASSERT_TRUE(x == 0 || std::fabs(x - 1 / 0.3f) < 1e-6);
  }
  EXPECT_NEAR(static_cast<double>(kept) / n, 0.3, 0.005);
  EXPECT_NEAR(sum / n, 1.0, 0.02);
  // Chunking does not change the mask: the second half computed alone equals the second half computed whole.
  std::vector<float> whole(1000, 1.0f), half(500, 1.0f);
  SparsifyRandom(whole.data(), 1000, 0.5, false, 7, 3, 0);
  SparsifyRandom(half.data(), 500, 0.5, false, 7, 3, 500);
  EXPECT_TRUE(std::equal(half.begin(), half.end(), whole.begin() + 500));
}

TEST(SparsifyTest, DellaKeepsLargeMagnitudesMoreOften) {
  const size_t rows = 2000, row = 10;
  std::vector<float> d(rows * row);
  for (size_t r = 0; r < rows; r++)
    for (size_t j = 0; j < row; j++) d[r * row + j] = static_cast<float>(j + 1);
  SparsifyDella(d.data(), d.size(), row, 0.5, 0.2, false, 1, 0);
  double small = 0, large = 0;
  for (size_t r = 0; r < rows; r++) {
    small += d[r * row] != 0;
    large += d[r * row + row - 1] != 0;
  }
  EXPECT_NEAR(small / rows, 0.3, 0.04);  // rank 0: p = density - eps
  EXPECT_NEAR(large / rows, 0.7, 0.04);  // top rank: p = density + eps
}

TEST(MergeMethodsTest, DellaRejectsEpsilonOutsideRange) {
  const MergeMethod* m = FindMergeMethod("della");
  auto gp = Defaults(*m);
  std::vector<float> out;
  MergeTask t = Task({0, 0}, {{1, 2}}, {{{"weight", 1}, {"density", 0.9}, {"epsilon", 0.2}, {"lambda", 1}}}, gp, &out);
  Status s = m->Merge(t);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("epsilon"), std::string::npos);
}

}  // namespace
}  // namespace fm
