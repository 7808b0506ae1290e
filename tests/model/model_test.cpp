// Model behaviour that needs no PyTorch: config parsing, save/load round trips, gradient accumulation and
// ignore-index handling. Numerical agreement with PyTorch is in model_torch_test.cpp.
#include "model/model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "io/model_folder.h"
#include "model/tiny_models.h"
#include "testing/tiny_checkpoint.h"

namespace fm {
namespace {

using nlohmann::json;

std::unique_ptr<Model> TinyModel(size_t case_index, uint64_t seed) {
  std::unique_ptr<Model> m;
  Status s = Model::Random(testing::TinyCases()[case_index].cfg, seed, &m);
  EXPECT_TRUE(s.ok()) << s.ToString();
  testing::PerturbForTest(m.get(), seed + 1);
  return m;
}

std::unique_ptr<Model> Load(const std::string& dir) {
  std::unique_ptr<ModelFolder> folder;
  Status s = ModelFolder::Open(dir, &folder);
  EXPECT_TRUE(s.ok()) << s.ToString();
  std::unique_ptr<Model> m;
  if (folder) s = Model::FromFolder(*folder, &m);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return m;
}

TEST(ArchConfigTest, UnsupportedModelTypeIsNamed) {
  ArchConfig c;
  Status s = ParseArchConfig(json{{"model_type", "gpt_neox"}, {"vocab_size", 10}}, &c);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::kUnsupported);
  EXPECT_NE(s.message().find("gpt_neox"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("qwen3"), std::string::npos) << s.message();
}

TEST(ArchConfigTest, UnsupportedRopeScalingIsNamed) {
  json j = ArchConfigToJson(testing::TinyBase("llama"));
  j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
  ArchConfig c;
  Status s = ParseArchConfig(j, &c);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("yarn"), std::string::npos) << s.message();
}

TEST(ArchConfigTest, QwenOneKeys) {
  // The keys of rinna/nekomata-14b's config.json (Qwen-1), scaled down.
  json j = {{"model_type", "qwen"},       {"architectures", {"QWenLMHeadModel"}},
            {"hidden_size", 64},          {"num_attention_heads", 4},
            {"num_hidden_layers", 3},     {"intermediate_size", 344},
            {"layer_norm_epsilon", 1e-6}, {"rotary_emb_base", 10000},
            {"kv_channels", 16},          {"seq_length", 2048},
            {"vocab_size", 152064},       {"no_bias", true},
            {"rotary_pct", 1.0},          {"use_dynamic_ntk", true},
            {"use_logn_attn", true},      {"tie_word_embeddings", false}};
  ArchConfig c;
  ASSERT_TRUE(ParseArchConfig(j, &c).ok());
  EXPECT_EQ(c.intermediate_size, 172);  // per branch: half of the config's value
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_EQ(c.num_kv_heads, 4);
  EXPECT_EQ(c.max_position, 2048);
  EXPECT_TRUE(c.fused_qkv);
  EXPECT_TRUE(c.qkv_bias);
  EXPECT_FALSE(c.o_bias);
  ArchConfig back;
  ASSERT_TRUE(ParseArchConfig(ArchConfigToJson(c), &back).ok());
  EXPECT_EQ(back.intermediate_size, 172);
}

TEST(ArchConfigTest, TinyCasesRoundTrip) {
  for (const testing::TinyCase& tc : testing::TinyCases()) {
    ArchConfig c;
    ASSERT_TRUE(ParseArchConfig(ArchConfigToJson(tc.cfg), &c).ok()) << tc.name;
    EXPECT_EQ(c.head_dim, tc.cfg.head_dim) << tc.name;
    EXPECT_EQ(c.num_kv_heads, tc.cfg.num_kv_heads) << tc.name;
    EXPECT_EQ(c.qkv_bias, tc.cfg.qkv_bias) << tc.name;
    EXPECT_EQ(c.o_bias, tc.cfg.o_bias) << tc.name;
    EXPECT_EQ(c.qk_norm, tc.cfg.qk_norm) << tc.name;
    EXPECT_EQ(c.rope_llama3, tc.cfg.rope_llama3) << tc.name;
    EXPECT_EQ(c.sliding_window, tc.cfg.sliding_window) << tc.name;
    EXPECT_EQ(c.tie_word_embeddings, tc.cfg.tie_word_embeddings) << tc.name;
  }
}

TEST(ModelTest, TensorNamesFollowHuggingFace) {
  auto qwen1 = TinyModel(5, 1);
  EXPECT_NE(qwen1->FindParam("transformer.h.1.attn.c_attn.weight"), nullptr);
  EXPECT_NE(qwen1->FindParam("transformer.h.1.attn.c_attn.bias"), nullptr);
  EXPECT_EQ(qwen1->FindParam("transformer.h.1.attn.c_proj.bias"), nullptr);
  EXPECT_EQ(qwen1->FindParam("transformer.h.0.attn.c_attn.weight")->shape, (std::vector<int64_t>{192, 64}));
  EXPECT_EQ(qwen1->FindParam("transformer.h.0.mlp.w1.weight")->shape, (std::vector<int64_t>{112, 64}));
  EXPECT_NE(qwen1->FindParam("lm_head.weight"), nullptr);
  auto qwen3 = TinyModel(4, 1);
  EXPECT_EQ(qwen3->FindParam("model.layers.0.self_attn.q_proj.weight")->shape,
            (std::vector<int64_t>{96, 64}));
  EXPECT_EQ(qwen3->FindParam("model.layers.0.self_attn.o_proj.weight")->shape,
            (std::vector<int64_t>{64, 96}));
  EXPECT_EQ(qwen3->FindParam("model.layers.0.self_attn.k_norm.weight")->shape, (std::vector<int64_t>{24}));
  auto tied = TinyModel(3, 1);
  EXPECT_EQ(tied->FindParam("lm_head.weight"), nullptr);
  ModelParams v = tied->param_views();
  EXPECT_EQ(v.lm_head, v.embed);
  // Fused views: q|k|v and gate|up are contiguous in params().
  auto llama = TinyModel(0, 1);
  ModelParams lv = llama->param_views();
  EXPECT_EQ(lv.layers[1].qkv_w,
            llama->params() + llama->FindParam("model.layers.1.self_attn.q_proj.weight")->offset);
  EXPECT_EQ(lv.layers[1].qkv_w + 64 * 64,
            llama->params() + llama->FindParam("model.layers.1.self_attn.k_proj.weight")->offset);
  EXPECT_EQ(lv.layers[1].gate_up_w + 112 * 64,
            llama->params() + llama->FindParam("model.layers.1.mlp.up_proj.weight")->offset);
}

TEST(ModelTest, SaveLoadIsBitIdentical) {
  for (size_t i = 0; i < testing::TinyCases().size(); i++) {
    SCOPED_TRACE(testing::TinyCases()[i].name);
    auto m = TinyModel(i, 10 + i);
    testing::TempDir dir;
    ASSERT_TRUE(m->SaveWeights(dir.path()).ok());
    auto back = Load(dir.path());
    ASSERT_TRUE(back);
    ASSERT_EQ(back->num_parameters(), m->num_parameters());
    EXPECT_EQ(std::memcmp(back->params(), m->params(), sizeof(float) * m->num_parameters()), 0);
    ASSERT_EQ(back->param_tensors().size(), m->param_tensors().size());
    for (size_t t = 0; t < m->param_tensors().size(); t++) {
      EXPECT_EQ(back->param_tensors()[t].name, m->param_tensors()[t].name);
      EXPECT_EQ(back->param_tensors()[t].source_dtype, DType::kF32);
    }
    // config.json round-trips too.
    EXPECT_EQ(back->config().raw, m->config().raw);
  }
}

TEST(ModelTest, SavesInSourceDtype) {
  auto m = TinyModel(0, 3);
  testing::TempDir bf16_dir, again_dir;
  const DType bf16 = DType::kBF16;
  ASSERT_TRUE(m->SaveWeights(bf16_dir.path(), &bf16).ok());
  auto loaded = Load(bf16_dir.path());
  ASSERT_TRUE(loaded);
  for (size_t i = 0; i < m->num_parameters(); i++) {
    ASSERT_EQ(loaded->params()[i], Bf16ToF32(F32ToBf16(m->params()[i]))) << "element " << i;
  }
  EXPECT_EQ(loaded->config().raw["torch_dtype"], "bfloat16");
  // Saved again without override: still BF16 (each tensor keeps its source dtype), same bytes.
  ASSERT_TRUE(loaded->SaveWeights(again_dir.path()).ok());
  std::unique_ptr<ModelFolder> f;
  ASSERT_TRUE(ModelFolder::Open(again_dir.path(), &f).ok());
  for (const std::string& name : f->tensor_names()) EXPECT_EQ(f->Find(name)->dtype, DType::kBF16) << name;
}

TEST(ModelTest, LoadRejectsMissingAndUnexpectedTensors) {
  auto m = TinyModel(0, 4);
  testing::TempDir dir;
  ASSERT_TRUE(m->SaveWeights(dir.path()).ok());
  // Claim tied embeddings but keep lm_head.weight: tolerated (ignored duplicate). Claim one more layer: the
  // missing tensor is named.
  json cfg = m->config().raw;
  cfg["num_hidden_layers"] = 3;
  std::ofstream(dir / "config.json") << cfg.dump();
  std::unique_ptr<ModelFolder> folder;
  ASSERT_TRUE(ModelFolder::Open(dir.path(), &folder).ok());
  std::unique_ptr<Model> out;
  Status s = Model::FromFolder(*folder, &out);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("model.layers.2.input_layernorm.weight"), std::string::npos) << s.message();
  // One layer fewer: layer 1's tensors are unexpected.
  cfg["num_hidden_layers"] = 1;
  std::ofstream(dir / "config.json") << cfg.dump();
  ASSERT_TRUE(ModelFolder::Open(dir.path(), &folder).ok());
  s = Model::FromFolder(*folder, &out);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("unexpected tensor 'model.layers.1."), std::string::npos) << s.message();
  // Unsupported architecture: named, with the folder.
  cfg["model_type"] = "falcon";
  std::ofstream(dir / "config.json") << cfg.dump();
  ASSERT_TRUE(ModelFolder::Open(dir.path(), &folder).ok());
  s = Model::FromFolder(*folder, &out);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("falcon"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find(dir.path()), std::string::npos) << s.message();
}

TEST(ModelTest, GradientsAccumulateAndScale) {
  auto m = TinyModel(0, 5);
  std::vector<uint32_t> in, tg;
  testing::TinyTokens(2, 9, m->config().vocab_size, 6, &in, &tg);
  m->ZeroGrad();
  const float l1 = m->ForwardBackward(in.data(), tg.data(), 2, 9, 1.0f);
  std::vector<float> g1(m->grads(), m->grads() + m->num_parameters());
  const float l2 = m->ForwardBackward(in.data(), tg.data(), 2, 9, 2.0f);  // adds 2x the same gradient
  EXPECT_EQ(l1, l2);
  double err = 0, scale = 0;
  for (size_t i = 0; i < g1.size(); i++) {
    err = std::max(err, std::fabs(static_cast<double>(m->grads()[i]) - 3.0 * g1[i]));
    scale = std::max(scale, std::fabs(3.0 * g1[i]));
  }
  EXPECT_GT(scale, 0.0);
  EXPECT_LT(err / scale, 1e-5);
}

TEST(ModelTest, IgnoredTargetsGiveNoLossOrGradient) {
  auto m = TinyModel(1, 7);
  std::vector<uint32_t> in, tg;
  testing::TinyTokens(1, 8, m->config().vocab_size, 8, &in, &tg);
  std::vector<uint32_t> none(tg.size(), Model::kIgnoreIndex);
  m->ZeroGrad();
  EXPECT_EQ(m->ForwardBackward(in.data(), none.data(), 1, 8, 1.0f), 0.0f);
  for (size_t i = 0; i < m->num_parameters(); i++) ASSERT_EQ(m->grads()[i], 0.0f);
  double nll = -1;
  int64_t count = -1;
  EXPECT_EQ(m->ForwardLoss(in.data(), none.data(), 1, 8, &nll, &count), 0.0f);
  EXPECT_EQ(count, 0);
  EXPECT_EQ(nll, 0.0);
  // Ignoring a target changes the mean only through that position: the sum over the others is unchanged.
  std::vector<uint32_t> some = tg;
  some[5] = Model::kIgnoreIndex;
  double nll_all, nll_some;
  int64_t c_all, c_some;
  m->ForwardLoss(in.data(), tg.data(), 1, 8, &nll_all, &c_all);
  m->ForwardLoss(in.data(), some.data(), 1, 8, &nll_some, &c_some);
  EXPECT_EQ(c_some, c_all - (tg[5] != Model::kIgnoreIndex ? 1 : 0));
  std::vector<float> logits(8 * m->config().vocab_size);
  m->ForwardLogits(in.data(), 1, 8, logits.data());
  const float* row = logits.data() + 5 * m->config().vocab_size;
  double mx = row[0], sum = 0;
  for (int v = 0; v < m->config().vocab_size; v++) mx = std::max(mx, static_cast<double>(row[v]));
  for (int v = 0; v < m->config().vocab_size; v++) sum += std::exp(row[v] - mx);
  const double nll5 = mx + std::log(sum) - row[tg[5]];
  EXPECT_NEAR(nll_all - nll_some, nll5, 1e-4);
}

TEST(ModelTest, LargerBatchAfterSmallerReallocatesActivations) {
  auto m = TinyModel(2, 9);
  std::vector<uint32_t> in, tg;
  testing::TinyTokens(3, 10, m->config().vocab_size, 10, &in, &tg);
  // Score 1x10, then 3x10 (grows the activations), then 1x10 again: the first sequence's loss is unchanged.
  const float a = m->ForwardLoss(in.data(), tg.data(), 1, 10);
  m->ZeroGrad();
  m->ForwardBackward(in.data(), tg.data(), 3, 10, 1.0f);
  const float b = m->ForwardLoss(in.data(), tg.data(), 1, 10);
  EXPECT_EQ(a, b);
}

TEST(ModelTest, CpuHasBf16Answers) {
  // No expectation on the value (it depends on the machine); it must be callable and stable.
  EXPECT_EQ(CpuHasBf16(), CpuHasBf16());
}

}  // namespace
}  // namespace fm
