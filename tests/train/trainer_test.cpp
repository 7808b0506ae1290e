#include "train/trainer.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "io/model_folder.h"
#include "model/model.h"
#include "testing/tiny_checkpoint.h"
#include "train/train_testing.h"
#include "train/trainer_state.h"

namespace fm {
namespace {

using testing::ReadMetrics;
using testing::TempDir;

// Model, shards and a small, fast configuration.
struct Fixture {
  TempDir tmp;
  std::string model = tmp / "base", data = tmp / "data", replay = tmp / "general";
  Fixture() {
    testing::WriteRandomModel(model, DType::kBF16);
    testing::WriteRepetitiveShards(data);
    testing::WriteReplayShards(replay);
  }
  TrainOptions Options(const std::string& out) const {
    TrainOptions o;
    o.model = model;
    o.data = data;
    o.out = tmp / out;
    o.steps = 8;
    o.seq_len = 16;
    o.batch_size = 4;
    o.grad_accum = 1;
    o.schedule = {.max_lr = 1e-2f, .min_lr = 1e-3f, .warmup_steps = 2};
    o.seed = 7;
    o.eval_batches = 2;
    o.precision = "fp32";
    o.verbose = false;
    return o;
  }
};

TEST(Trainer, LossFallsOnARepetitiveCorpus) {
  Fixture f;
  TrainOptions o = f.Options("out");
  o.steps = 60;
  o.eval_every = 20;
  TrainSummary s;
  Status st = RunTraining(o, &s);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(s.first_step, 0);
  EXPECT_EQ(s.last_step, 60);
  EXPECT_EQ(s.tokens, 60u * 4 * 16);
  EXPECT_NEAR(s.first_loss, std::log(64.0), 0.3);  // a random model starts near uniform
  EXPECT_LT(s.last_loss, 1.0f);
  ASSERT_GE(s.val_loss, 0.0);
  EXPECT_LT(s.val_loss, 1.0);

  std::vector<nlohmann::json> m = ReadMetrics(o.out);
  ASSERT_EQ(m.size(), 60u);
  for (size_t i = 0; i < m.size(); i++) {
    EXPECT_EQ(m[i]["step"], i + 1);
    for (const char* key : {"loss", "lr", "grad_norm", "tokens_per_s"})
      EXPECT_TRUE(m[i].contains(key)) << key;
    EXPECT_EQ(m[i].contains("val_loss"), (i + 1) % 20 == 0) << i;
  }
  EXPECT_FLOAT_EQ(m[0]["lr"].get<float>(), 0.5e-2f);  // warmup 2: the first step runs at lr / 2
  EXPECT_FLOAT_EQ(m[59]["lr"].get<float>(), 1e-3f);   // and the last at --min-lr
}

TEST(Trainer, WritesAModelFolderInTheInputDtype) {
  Fixture f;
  TrainOptions o = f.Options("out");
  TrainSummary s;
  ASSERT_TRUE(RunTraining(o, &s).ok());
  for (const char* name : {"config.json", "model.safetensors", "tokenizer_config.json",
                           "generation_config.json", "metrics.jsonl", "trainer_state/state.bin"}) {
    EXPECT_TRUE(std::filesystem::exists(o.out + "/" + name)) << name;
  }
  EXPECT_EQ(testing::ReadBytes(o.out + "/tokenizer_config.json"),
            testing::ReadBytes(f.model + "/tokenizer_config.json"));
  // No temporary folders left beside the output.
  for (const auto& e : std::filesystem::directory_iterator(f.tmp.path())) {
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();
  }
  std::unique_ptr<ModelFolder> in, out;
  ASSERT_TRUE(ModelFolder::Open(f.model, &in).ok());
  ASSERT_TRUE(ModelFolder::Open(o.out, &out).ok());
  ASSERT_EQ(in->tensor_names(), out->tensor_names());
  int changed = 0;
  for (const std::string& name : in->tensor_names()) {
    const TensorView* a = in->Find(name);
    const TensorView* b = out->Find(name);
    EXPECT_EQ(b->dtype, DType::kBF16) << name;
    EXPECT_EQ(a->shape, b->shape) << name;
    changed += std::memcmp(a->data, b->data, a->nbytes) != 0;
  }
  EXPECT_EQ(changed, static_cast<int>(in->tensor_names().size()));  // every tensor was trained
  std::unique_ptr<Model> reloaded;
  EXPECT_TRUE(Model::FromFolder(*out, &reloaded).ok());
}

std::vector<float> Losses(const std::string& out) {
  std::vector<float> l;
  for (const auto& row : ReadMetrics(out)) l.push_back(row["loss"].get<float>());
  return l;
}

TEST(Trainer, SameSeedSameLossesBitForBit) {
  Fixture f;
  TrainSummary s;
  TrainOptions a = f.Options("a"), b = f.Options("b"), c = f.Options("c");
  a.replay = b.replay = c.replay = f.replay + ":0.25";
  c.seed = 8;
  ASSERT_TRUE(RunTraining(a, &s).ok());
  ASSERT_TRUE(RunTraining(b, &s).ok());
  ASSERT_TRUE(RunTraining(c, &s).ok());
  EXPECT_EQ(Losses(a.out), Losses(b.out));
  EXPECT_EQ(testing::ReadBytes(a.out + "/model.safetensors"),
            testing::ReadBytes(b.out + "/model.safetensors"));
  EXPECT_NE(Losses(a.out), Losses(c.out));  // another seed draws other windows
}

// A global batch of 4 windows as one micro-batch of 4 or as 2 accumulated micro-batches of 2: same windows,
// same gradient up to float summation order.
TEST(Trainer, GradientAccumulationMatchesOneLargeBatch) {
  Fixture f;
  TrainSummary s;
  TrainOptions one = f.Options("one"), acc = f.Options("acc");
  acc.batch_size = 2;
  acc.grad_accum = 2;
  ASSERT_TRUE(RunTraining(one, &s).ok());
  ASSERT_TRUE(RunTraining(acc, &s).ok());
  std::vector<float> l1 = Losses(one.out), l2 = Losses(acc.out);
  ASSERT_EQ(l1.size(), l2.size());
  for (size_t i = 0; i < l1.size(); i++) EXPECT_NEAR(l1[i], l2[i], 2e-5 * l1[i]) << "step " << i + 1;
  std::vector<nlohmann::json> m1 = ReadMetrics(one.out), m2 = ReadMetrics(acc.out);
  EXPECT_NEAR(m1[0]["grad_norm"].get<double>(), m2[0]["grad_norm"].get<double>(),
              1e-5 * m1[0]["grad_norm"].get<double>());
}

TEST(Trainer, ClippingBoundsTheUpdate) {
  Fixture f;
  TrainSummary s;
  TrainOptions loose = f.Options("loose"), tight = f.Options("tight");
  loose.clip = 0.0f;
  tight.clip = 1e-3f;
  loose.steps = tight.steps = 3;
  ASSERT_TRUE(RunTraining(loose, &s).ok());
  ASSERT_TRUE(RunTraining(tight, &s).ok());
  std::vector<nlohmann::json> ml = ReadMetrics(loose.out), mt = ReadMetrics(tight.out);
  // Same first batch, same pre-clip norm; the second step already differs because the first update did.
  EXPECT_DOUBLE_EQ(ml[0]["grad_norm"].get<double>(), mt[0]["grad_norm"].get<double>());
  EXPECT_GT(ml[0]["grad_norm"].get<double>(), 1e-3);
  EXPECT_NE(ml[1]["loss"].get<float>(), mt[1]["loss"].get<float>());
}

TEST(Trainer, ErrorsLeaveNoOutput) {
  Fixture f;
  TrainSummary s;
  TrainOptions o = f.Options("out");
  o.data = f.tmp / "no-such-data";
  Status st = RunTraining(o, &s);
  EXPECT_EQ(st.code(), Status::Code::kNotFound);
  EXPECT_NE(st.message().find("no-such-data"), std::string::npos);
  o = f.Options("out");
  o.replay = f.replay + ":1.5";
  st = RunTraining(o, &s);
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument);
  o = f.Options("out");
  o.out = f.model;
  EXPECT_EQ(RunTraining(o, &s).code(), Status::Code::kInvalidArgument);  // would replace its own input
  o = f.Options("out");
  o.schedule.warmup_steps = 100;  // beyond --steps
  EXPECT_EQ(RunTraining(o, &s).code(), Status::Code::kInvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(f.tmp / "out"));
  for (const auto& e : std::filesystem::directory_iterator(f.tmp.path())) {
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();
  }
}

TEST(Trainer, ResumeRefusesAChangedDataOrder) {
  Fixture f;
  TrainSummary s;
  TrainOptions o = f.Options("out");
  o.stop_after = 2;
  ASSERT_TRUE(RunTraining(o, &s).ok());
  TrainOptions r = f.Options("out");
  r.resume = o.out;
  r.seq_len = 8;
  Status st = RunTraining(r, &s);
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(st.message().find("--seq-len was 16, now 8"), std::string::npos) << st.message();
  r = f.Options("out");
  r.resume = o.out;
  r.steps = 2;
  st = RunTraining(r, &s);
  EXPECT_NE(st.message().find("already at step 2"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace fm
