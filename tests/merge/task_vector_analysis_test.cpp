#include "merge/task_vector_analysis.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "testing/tiny_checkpoint.h"

namespace fm {
namespace {

using testing::TempDir;

TEST(TaskVectorAnalysisTest, CosineNormsAndSignAgreementMatchConstruction) {
  TempDir dir;
  testing::TinyModelShape s;
  auto base = testing::TinyLlamaTensors(s, 1);
  auto a = base, b = base, c = base;
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0, 0.01f);
  double dot_ab = 0, na = 0, nb = 0, nbase = 0;
  for (size_t t = 0; t < base.size(); t++) {
    for (size_t k = 0; k < base[t].values.size(); k++) {
      float u = nd(rng), v = nd(rng);
      a[t].values[k] += u;
      b[t].values[k] += v;
      c[t].values[k] += -2 * u;  // exactly opposite to a's task vector
      float du = a[t].values[k] - base[t].values[k], dv = b[t].values[k] - base[t].values[k];
      dot_ab += static_cast<double>(du) * dv;
      na += static_cast<double>(du) * du;
      nb += static_cast<double>(dv) * dv;
      nbase += static_cast<double>(base[t].values[k]) * base[t].values[k];
    }
  }
  testing::WriteTinyModel(dir / "base", base, s, DType::kF32);
  testing::WriteTinyModel(dir / "a", a, s, DType::kF32);
  testing::WriteTinyModel(dir / "b", b, s, DType::kF32);
  testing::WriteTinyModel(dir / "c", c, s, DType::kF32);
  TaskVectorAnalysis r;
  Status st = AnalyzeTaskVectors(dir / "base", {dir / "a", dir / "b", dir / "c"}, {"inst", "cpt", "anti"}, &r);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_NEAR(r.overall.Cosine(0, 1), dot_ab / std::sqrt(na * nb), 1e-9);
  EXPECT_NEAR(r.overall.Cosine(0, 1), 0.0, 0.1);  // independent random vectors: near-orthogonal
  EXPECT_NEAR(r.overall.Cosine(0, 2), -1.0, 1e-4);
  EXPECT_NEAR(r.overall.SignAgreement(0, 2), 0.0, 1e-9);
  EXPECT_NEAR(r.overall.SignAgreement(0, 0), 1.0, 1e-9);
  EXPECT_NEAR(r.overall.SignAgreement(0, 1), 0.5, 0.05);
  EXPECT_NEAR(r.overall.Norm(0), std::sqrt(na), 1e-6 * std::sqrt(na));
  EXPECT_NEAR(r.overall.RelativeNorm(1), std::sqrt(nb / nbase), 1e-6);
  ASSERT_EQ(r.by_layer.size(), 2u);
  bool has_mlp = false, has_norm = false, has_q = false;
  for (const auto& [m, st2] : r.by_module) {
    has_mlp |= m == "mlp";
    has_norm |= m == "norm";
    has_q |= m == "attn_q";
  }
  EXPECT_TRUE(has_mlp && has_norm && has_q);
  nlohmann::json j = AnalysisToJson(r);
  EXPECT_EQ(j["pairs"].size(), 3u);
  EXPECT_EQ(j["tensors"].size(), base.size());
  EXPECT_NE(AnalysisToText(r).find("cosine"), std::string::npos);
}

TEST(TaskVectorAnalysisTest, ModuleTypes) {
  EXPECT_EQ(ModuleType("model.layers.3.self_attn.q_proj.weight"), "attn_q");
  EXPECT_EQ(ModuleType("model.layers.3.self_attn.o_proj.weight"), "attn_o");
  EXPECT_EQ(ModuleType("transformer.h.2.attn.c_attn.weight"), "attn_qkv");
  EXPECT_EQ(ModuleType("transformer.h.2.attn.c_proj.weight"), "attn_o");
  EXPECT_EQ(ModuleType("transformer.h.2.mlp.w1.weight"), "mlp");
  EXPECT_EQ(ModuleType("model.layers.0.post_attention_layernorm.weight"), "norm");
  EXPECT_EQ(ModuleType("transformer.h.0.ln_1.weight"), "norm");
  EXPECT_EQ(ModuleType("model.embed_tokens.weight"), "embedding");
  EXPECT_EQ(ModuleType("lm_head.weight"), "embedding");
  EXPECT_EQ(ModuleType("model.layers.0.self_attn.q_norm.weight"), "norm");
}

}  // namespace
}  // namespace fm
