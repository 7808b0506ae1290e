#include "pipeline/recipe.h"

#include <gtest/gtest.h>

#include <yaml-cpp/yaml.h>

namespace fm {
namespace {

const char* kMinimal = R"(
base: models/base
instruct: models/inst
corpus: data/fin
cpt: {steps: 40, lr: 1.0e-4, seq_len: 64, batch_size: 2}
)";

TEST(RecipeTest, MinimalRecipeGetsThePapersDefaults) {
  Recipe r;
  Status s = ParseRecipe(kMinimal, "/recipes/fin.yaml", &r);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(r.name, "fin");
  EXPECT_EQ(r.run_dir, "/recipes/runs/fin");
  EXPECT_EQ(r.base, "/recipes/models/base");
  EXPECT_EQ(r.tokenizer, "/recipes/models/base");
  ASSERT_EQ(r.corpus.paths.size(), 1u);
  EXPECT_EQ(r.corpus.paths[0], "/recipes/data/fin");
  EXPECT_EQ(r.cpt.steps, 40);
  EXPECT_FLOAT_EQ(r.cpt.schedule.min_lr, 1.0e-5f);  // lr / 10
  EXPECT_EQ(r.cpt.schedule.warmup_steps, 2);         // 5% of steps
  EXPECT_TRUE(r.analyze);
  EXPECT_TRUE(r.report);
  EXPECT_FALSE(r.eval_enabled);
  // The merge defaults to the chat vector: cpt + 1 * (instruct - base).
  YAML::Node m = YAML::Load(r.merge_yaml);
  EXPECT_EQ(m["merge_method"].as<std::string>(), "task_arithmetic");
  EXPECT_EQ(m["base_model"].as<std::string>(), "base");
  ASSERT_EQ(m["models"].size(), 2u);
  EXPECT_EQ(m["models"][0]["model"].as<std::string>(), "cpt");
  EXPECT_EQ(m["models"][1]["model"].as<std::string>(), "instruct");
  EXPECT_DOUBLE_EQ(m["models"][1]["parameters"]["weight"].as<double>(), 1.0);
  EXPECT_EQ(m["tokenizer_source"].as<std::string>(), "instruct");
}

TEST(RecipeTest, InstructWeightAndOtherMethods) {
  Recipe r;
  ASSERT_TRUE(ParseRecipe(std::string(kMinimal) + "merge: {instruct_weight: 0.5, dtype: bfloat16}\n", "r.yaml", &r).ok());
  YAML::Node m = YAML::Load(r.merge_yaml);
  EXPECT_DOUBLE_EQ(m["models"][1]["parameters"]["weight"].as<double>(), 0.5);
  EXPECT_EQ(m["dtype"].as<std::string>(), "bfloat16");
  ASSERT_TRUE(ParseRecipe(std::string(kMinimal) +
                              "merge:\n  method: ties\n  parameters: {density: 0.5}\n  models:\n"
                              "    - {model: cpt, parameters: {weight: 1}}\n    - {model: instruct, parameters: {weight: 1}}\n",
                          "r.yaml", &r)
                  .ok());
  m = YAML::Load(r.merge_yaml);
  EXPECT_EQ(m["merge_method"].as<std::string>(), "ties");
  EXPECT_EQ(m["base_model"].as<std::string>(), "base");
}

TEST(RecipeTest, ErrorsNameTheLineAndTheKey) {
  Recipe r;
  Status s = ParseRecipe(std::string(kMinimal) + "evall: {}\n", "fin.yaml", &r);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("fin.yaml:6"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("unknown key 'evall'"), std::string::npos) << s.message();

  s = ParseRecipe("base: b\ninstruct: i\ncorpus: c\ncpt: {steps: 10, lr: 1e-4, stepz: 3}\n", "fin.yaml", &r);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("unknown key 'stepz' in cpt"), std::string::npos) << s.message();

  s = ParseRecipe("base: b\ninstruct: i\ncpt: {steps: 10, lr: 1e-4}\n", "fin.yaml", &r);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("corpus"), std::string::npos) << s.message();

  s = ParseRecipe("base: b\ninstruct: i\ncpt_model: c\ncorpus: x\n", "fin.yaml", &r);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("cpt_model"), std::string::npos) << s.message();

  s = ParseRecipe("base: b\ninstruct: i\ncorpus: c\ncpt: {steps: ten, lr: 1e-4}\n", "fin.yaml", &r);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("'steps' has the wrong type"), std::string::npos) << s.message();

  s = ParseRecipe("base: b\ninstruct: i\ncorpus: c\ncpt: {steps: 10, lr: 1e-4}\nreplay: {paths: g, fraction: 2}\n",
                  "fin.yaml", &r);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("replay.fraction"), std::string::npos) << s.message();

  s = ParseRecipe("base: b\ninstruct: i\ncpt_model: c\neval: {models: [base, tuned], tasks: t.json}\n", "f.yaml", &r);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("'tuned'"), std::string::npos) << s.message();

  s = ParseRecipe("base: [unclosed\n", "bad.yaml", &r);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("bad.yaml:"), std::string::npos) << s.message();
}

TEST(RecipeTest, TheExampleRecipeParses) {
  Recipe r;
  Status s = LoadRecipe(std::string(FINMERGE_SOURCE_DIR) + "/examples/nekomata-fin.yaml", &r);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(r.name, "nekomata-fin");
  EXPECT_EQ(r.cpt.steps, 2000);
  EXPECT_EQ(r.cpt.grad_accum, 16);
  EXPECT_FLOAT_EQ(r.replay.fraction, 0.1);
  EXPECT_TRUE(r.eval_enabled);
  EXPECT_EQ(r.eval.chat_format, "alpaca-ja");
  EXPECT_EQ(r.eval.prompt_style, "alpaca");
  EXPECT_EQ(r.eval.tasks.size(), 2u);
}

}  // namespace
}  // namespace fm
