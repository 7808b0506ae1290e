// Whole merges on tiny checkpoints: vocabulary policy, tied embeddings, compatibility errors, atomic output.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <omp.h>

#include "io/model_folder.h"
#include "merge/merge_config.h"
#include "merge/merge_runner.h"
#include "testing/tiny_checkpoint.h"

namespace fm {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

std::vector<float> Read(const ModelFolder& m, const std::string& name) {
  const TensorView* v = m.Find(name);
  EXPECT_NE(v, nullptr) << name;
  std::vector<float> out(v ? v->numel() : 0);
  if (v) ToF32(v->data, v->dtype, out.data(), out.size());
  return out;
}

MergeConfig ChatVector(const std::string& b, const std::string& c, const std::string& i, double w) {
  MergeConfig cfg;
  cfg.method = "task_arithmetic";
  cfg.base_model = b;
  ParamSetting one, ws;
  one.number = 1;
  ws.number = w;
  cfg.models = {{c, {{"weight", one}}}, {i, {{"weight", ws}}}};
  cfg.tokenizer_source = i;
  return cfg;
}

TEST(MergeRunnerTest, ChatVectorExactInBf16AndFilesFromTheRightModels) {
  TempDir dir;
  testing::TinyModelShape s;
  auto tb = testing::TinyLlamaTensors(s, 1), ti = testing::TinyLlamaTensors(s, 2), tc = testing::TinyLlamaTensors(s, 3);
  testing::WriteTinyModel(dir / "b", tb, s, DType::kBF16, "base");
  testing::WriteTinyModel(dir / "i", ti, s, DType::kBF16, "instruct");
  testing::WriteTinyModel(dir / "c", tc, s, DType::kBF16, "cpt");
  MergeOptions opts;
  opts.quiet = true;
  opts.config_source = dir / "c";
  opts.max_shard_bytes = 2000;  // several shards
  ASSERT_TRUE(RunMerge(ChatVector(dir / "b", dir / "c", dir / "i", 0.5), dir / "out", opts, nullptr).ok());
  std::unique_ptr<ModelFolder> m, b, i, c;
  ASSERT_TRUE(ModelFolder::Open(dir / "out", &m).ok());
  ASSERT_TRUE(ModelFolder::Open(dir / "b", &b).ok());
  ASSERT_TRUE(ModelFolder::Open(dir / "i", &i).ok());
  ASSERT_TRUE(ModelFolder::Open(dir / "c", &c).ok());
  EXPECT_TRUE(fs::exists(dir / "out/model.safetensors.index.json"));
  for (const std::string& name : b->tensor_names()) {
    auto vb = Read(*b, name), vi = Read(*i, name), vc = Read(*c, name), vm = Read(*m, name);
    EXPECT_EQ(m->Find(name)->dtype, DType::kBF16);
    for (size_t k = 0; k < vb.size(); k++) {
      float want = Bf16ToF32(F32ToBf16(vc[k] + 0.5f * (vi[k] - vb[k])));
      ASSERT_EQ(vm[k], want) << name << "[" << k << "]";
    }
  }
  EXPECT_EQ(m->chat_template(), "{{ 'instruct' }}");  // tokenizer files from the instruct model
  std::ifstream gen(dir / "out/generation_config.json");
  EXPECT_NE(std::string(std::istreambuf_iterator<char>(gen), {}).find("instruct"), std::string::npos);
  EXPECT_TRUE(fs::exists(dir / "out/finmerge_config.yaml"));
  EXPECT_TRUE(fs::exists(dir / "out/README.md"));
  // The recipe written next to the model reproduces it.
  MergeConfig again;
  ASSERT_TRUE(LoadMergeConfig(dir / "out/finmerge_config.yaml", &again).ok());
  EXPECT_EQ(again.method, "task_arithmetic");
  EXPECT_EQ(again.models.size(), 2u);
}

TEST(MergeRunnerTest, VocabularyRowPolicyAndConfigUpdate) {
  TempDir dir;
  testing::TinyModelShape s;
  auto tb = testing::TinyLlamaTensors(s, 1), tc = testing::TinyLlamaTensors(s, 3);
  testing::TinyModelShape si = s;
  si.vocab = 36;  // the instruct model added 4 chat tokens
  auto ti = testing::TinyLlamaTensors(si, 2);
  testing::WriteTinyModel(dir / "b", tb, s, DType::kF32, "base");
  testing::WriteTinyModel(dir / "i", ti, si, DType::kF32, "instruct");
  testing::WriteTinyModel(dir / "c", tc, s, DType::kF32, "cpt");
  MergeOptions opts;
  opts.quiet = true;
  opts.config_source = dir / "c";
  MergeSummary sum;
  Status st = RunMerge(ChatVector(dir / "b", dir / "c", dir / "i", 1.0), dir / "out", opts, &sum);
  ASSERT_TRUE(st.ok()) << st.message();
  std::unique_ptr<ModelFolder> m;
  ASSERT_TRUE(ModelFolder::Open(dir / "out", &m).ok());
  EXPECT_EQ(m->config().vocab_size, 36);
  for (const char* name : {"model.embed_tokens.weight", "lm_head.weight"}) {
    const TensorView* v = m->Find(name);
    ASSERT_EQ(v->shape, (std::vector<int64_t>{36, 8}));
    auto out = Read(*m, name);
    const auto& B = tb[std::string(name) == "lm_head.weight" ? tb.size() - 1 : 0].values;
    const auto& C = tc[std::string(name) == "lm_head.weight" ? tc.size() - 1 : 0].values;
    const auto& I = ti[std::string(name) == "lm_head.weight" ? ti.size() - 1 : 0].values;
    // Common rows merged (f32: B + (C - B) + (I - B) may differ from C + (I - B) in the last bit).
    for (size_t k = 0; k < 32 * 8; k++) ASSERT_NEAR(out[k], C[k] + (I[k] - B[k]), 1e-7 + 1e-6 * std::fabs(C[k]));
    for (size_t k = 32 * 8; k < 36 * 8; k++) ASSERT_EQ(out[k], I[k]);                    // new rows from instruct
  }
  EXPECT_FALSE(sum.notes.empty());
}

TEST(MergeRunnerTest, TiedEmbeddingsWrittenOnce) {
  TempDir dir;
  testing::TinyModelShape s;
  s.tied = true;
  for (const char* n : {"b", "i", "c"}) testing::WriteTinyModel(dir / n, testing::TinyLlamaTensors(s, n[0]), s, DType::kBF16, n);
  MergeOptions opts;
  opts.quiet = true;
  ASSERT_TRUE(RunMerge(ChatVector(dir / "b", dir / "c", dir / "i", 1.0), dir / "out", opts, nullptr).ok());
  std::unique_ptr<ModelFolder> m;
  ASSERT_TRUE(ModelFolder::Open(dir / "out", &m).ok());
  EXPECT_EQ(m->Find("lm_head.weight"), nullptr);
  EXPECT_NE(m->Find("model.embed_tokens.weight"), nullptr);
}

TEST(MergeRunnerTest, RefusesIncompatibleModelsAndLeavesNothing) {
  TempDir dir;
  testing::TinyModelShape s;
  testing::WriteTinyModel(dir / "b", testing::TinyLlamaTensors(s, 1), s, DType::kBF16, "b");
  testing::WriteTinyModel(dir / "i", testing::TinyLlamaTensors(s, 2), s, DType::kBF16, "i");
  testing::TinyModelShape wide = s;
  wide.ff = 24;
  testing::WriteTinyModel(dir / "wide", testing::TinyLlamaTensors(wide, 3), wide, DType::kBF16, "w");
  testing::TinyModelShape tied = s;
  tied.tied = true;
  testing::WriteTinyModel(dir / "tied", testing::TinyLlamaTensors(tied, 3), tied, DType::kBF16, "t");
  testing::TinyModelShape qwen = s;
  qwen.model_type = "qwen2";
  testing::WriteTinyModel(dir / "qwen", testing::TinyLlamaTensors(qwen, 3), qwen, DType::kBF16, "q");
  testing::TinyModelShape deep = s;
  deep.layers = 3;
  testing::WriteTinyModel(dir / "deep", testing::TinyLlamaTensors(deep, 3), deep, DType::kBF16, "d");
  MergeOptions opts;
  opts.quiet = true;
  auto err = [&](const std::string& c) {
    Status st = RunMerge(ChatVector(dir / "b", dir / c, dir / "i", 1.0), dir / "out", opts, nullptr);
    EXPECT_FALSE(fs::exists(dir / "out"));
    for (const auto& e : fs::directory_iterator(dir.path())) EXPECT_EQ(e.path().filename().string().find("out.tmp"), std::string::npos);
    return st.message();
  };
  EXPECT_NE(err("wide").find("shape"), std::string::npos);
  EXPECT_NE(err("wide").find("mlp.gate_proj.weight"), std::string::npos);
  EXPECT_NE(err("tied").find("tie"), std::string::npos);
  EXPECT_NE(err("qwen").find("architecture"), std::string::npos);
  EXPECT_NE(err("deep").find("layers"), std::string::npos);
  EXPECT_NE(err("missing").find("missing"), std::string::npos);
}

TEST(MergeRunnerTest, NonFiniteOutputIsAnErrorNamingTheTensor) {
  TempDir dir;
  testing::TinyModelShape s;
  auto tb = testing::TinyLlamaTensors(s, 1), ti = testing::TinyLlamaTensors(s, 2), tc = testing::TinyLlamaTensors(s, 3);
  ti[3].values[5] = std::nanf("");
  testing::WriteTinyModel(dir / "b", tb, s, DType::kBF16, "b");
  testing::WriteTinyModel(dir / "i", ti, s, DType::kBF16, "i");
  testing::WriteTinyModel(dir / "c", tc, s, DType::kBF16, "c");
  MergeOptions opts;
  opts.quiet = true;
  Status st = RunMerge(ChatVector(dir / "b", dir / "c", dir / "i", 1.0), dir / "out", opts, nullptr);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find(ti[3].name), std::string::npos) << st.message();
  EXPECT_FALSE(fs::exists(dir / "out"));
  opts.allow_nonfinite = true;
  MergeSummary sum;
  ASSERT_TRUE(RunMerge(ChatVector(dir / "b", dir / "c", dir / "i", 1.0), dir / "out", opts, &sum).ok());
  std::unique_ptr<ModelFolder> m;
  ASSERT_TRUE(ModelFolder::Open(dir / "out", &m).ok());
  EXPECT_TRUE(std::isnan(Read(*m, ti[3].name)[5]));  // NaN preserved through bf16
}

TEST(MergeRunnerTest, RandomMethodsAreDeterministicAcrossThreadCounts) {
  TempDir dir;
  testing::TinyModelShape s;
  s.hidden = 64;
  s.ff = 128;
  s.vocab = 2048;  // embedding of 131072 elements: several 64K chunks
  for (const char* n : {"b", "a", "c"}) testing::WriteTinyModel(dir / n, testing::TinyLlamaTensors(s, n[0]), s, DType::kF32, n);
  MergeConfig cfg;
  std::string yaml = "merge_method: dare_ties\nbase_model: " + (dir / "b") + "\nmodels:\n  - model: " + (dir / "a") +
                     "\n    parameters: {weight: 1, density: 0.3}\n  - model: " + (dir / "c") +
                     "\n    parameters: {weight: 0.5, density: 0.6}\nparameters: {random_seed: 5}\n";
  ASSERT_TRUE(ParseMergeConfig(yaml, "x.yaml", &cfg).ok());
  MergeOptions opts;
  opts.quiet = true;
  omp_set_num_threads(1);
  ASSERT_TRUE(RunMerge(cfg, dir / "o1", opts, nullptr).ok());
  omp_set_num_threads(2);
  ASSERT_TRUE(RunMerge(cfg, dir / "o2", opts, nullptr).ok());
  std::unique_ptr<ModelFolder> m1, m2;
  ASSERT_TRUE(ModelFolder::Open(dir / "o1", &m1).ok());
  ASSERT_TRUE(ModelFolder::Open(dir / "o2", &m2).ok());
  for (const std::string& n : m1->tensor_names()) EXPECT_EQ(Read(*m1, n), Read(*m2, n)) << n;
  // A different seed gives a different mask.
  cfg.params["random_seed"].number = 6;
  ASSERT_TRUE(RunMerge(cfg, dir / "o3", opts, nullptr).ok());
  std::unique_ptr<ModelFolder> m3;
  ASSERT_TRUE(ModelFolder::Open(dir / "o3", &m3).ok());
  EXPECT_NE(Read(*m1, "model.embed_tokens.weight"), Read(*m3, "model.embed_tokens.weight"));
}

}  // namespace
}  // namespace fm
