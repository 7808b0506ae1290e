#include <gtest/gtest.h>

#include "merge/merge_config.h"

namespace fm {
namespace {

Status Parse(const std::string& yaml, MergeConfig* c) { return ParseMergeConfig(yaml, "cfg.yaml", c); }

Status ParseAndValidate(const std::string& yaml) {
  MergeConfig c;
  FM_RETURN_IF_ERROR(Parse(yaml, &c));
  const MergeMethod* m;
  return ValidateMergeConfig(c, &m);
}

TEST(MergeConfigTest, ReadsMergekitShapes) {
  MergeConfig c;
  Status s = Parse(R"(
merge_method: dare_ties
base_model: /m/base
models:
  - model: /m/base
  - model: /m/a
    parameters:
      weight: [0.1, 0.5, 1.0]
      density:
        - filter: mlp
          value: 0.3
        - value: 0.7
  - model: /m/b
    parameters: {weight: 0.5, density: 0.5}
parameters:
  normalize: true
  int8_mask: true
dtype: bfloat16
out_dtype: float16
tokenizer:
  source: base
chat_template: chatml
)", &c);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(c.method, "dare_ties");
  ASSERT_EQ(c.models.size(), 3u);
  EXPECT_EQ(*c.dtype, DType::kBF16);
  EXPECT_EQ(*c.out_dtype, DType::kF16);
  EXPECT_EQ(c.tokenizer_source, "base");
  double v;
  ASSERT_TRUE(c.models[1].params["weight"].Evaluate("x", 0.75, &v));
  EXPECT_DOUBLE_EQ(v, 0.75);  // halfway between 0.5 and 1.0
  ASSERT_TRUE(c.models[1].params["density"].Evaluate("model.layers.0.mlp.up_proj.weight", 0, &v));
  EXPECT_DOUBLE_EQ(v, 0.3);
  ASSERT_TRUE(c.models[1].params["density"].Evaluate("model.layers.0.self_attn.q_proj.weight", 0, &v));
  EXPECT_DOUBLE_EQ(v, 0.7);
  const MergeMethod* m;
  EXPECT_TRUE(ValidateMergeConfig(c, &m).ok());
  // Round trip through YAML.
  MergeConfig c2;
  ASSERT_TRUE(Parse(MergeConfigToYaml(c), &c2).ok()) << MergeConfigToYaml(c);
  ASSERT_TRUE(c2.models[1].params["weight"].Evaluate("x", 0.75, &v));
  EXPECT_DOUBLE_EQ(v, 0.75);
}

TEST(MergeConfigTest, UnknownKeysAndWrongTypesAreNamed) {
  auto msg = [](const std::string& y) { return ParseAndValidate(y).message(); };
  const std::string head = "base_model: /b\nmodels:\n  - model: /a\n    parameters: {weight: 1}\n";
  EXPECT_NE(msg("merge_method: ties\n" + head + "paramters: {normalize: true}\n").find("unknown key 'paramters'"), std::string::npos);
  EXPECT_NE(msg("merge_method: ties\n" + head + "parameters: {normalise: true}\n").find("unknown parameter 'normalise'"), std::string::npos);
  EXPECT_NE(msg("merge_method: ties\n" + head + "parameters: {normalize: 0.5}\n").find("'normalize' must be true or false"), std::string::npos);
  EXPECT_NE(msg("merge_method: ties\n" + head + "parameters: {lambda: yes}\n").find("'lambda' must be a number"), std::string::npos);
  EXPECT_NE(msg("merge_method: ties\n" + head + "parameters: {lambda: abc}\n").find("value 'abc'"), std::string::npos);
  EXPECT_NE(msg("merge_method: slerp\n" + head + "parameters: {t: 0.5}\n").find("unknown parameter 'weight' for slerp"), std::string::npos);
  EXPECT_NE(msg("merge_method: magic\n" + head).find("unknown merge_method 'magic'"), std::string::npos);
  EXPECT_NE(msg("merge_method: ties\nmodels:\n  - model: /a\n    parameters: {weight: 1}\n").find("needs a base_model"), std::string::npos);
  EXPECT_NE(msg("merge_method: ties\nbase_model: /b\nmodels:\n  - model: /a\n").find("missing required parameter 'weight'"), std::string::npos);
  EXPECT_NE(msg("merge_method: slerp\nbase_model: /b\nmodels:\n  - model: /a\n").find("needs parameter 't'"), std::string::npos);
  EXPECT_NE(msg("merge_method: model_stock\n" + std::string("base_model: /b\nmodels:\n  - model: /a\n")).find("at least 2"), std::string::npos);
  EXPECT_NE(msg("merge_method: ties\nslices:\n  - sources: []\n").find("'slices'"), std::string::npos);
  EXPECT_NE(msg("merge_method: ties\n" + head + "tokenizer_source: union\n").find("'union' is not supported"), std::string::npos);
  EXPECT_NE(msg("merge_method: ties\n" + head + "dtype: int8\n").find("dtype 'int8'"), std::string::npos);
  EXPECT_NE(msg("merge_method: ties\n" + head + "models2: []\n").find("cfg.yaml:6"), std::string::npos);
  EXPECT_NE(msg("merge_method: [\n").find("invalid YAML"), std::string::npos);
  // The base listed under models needs no weight (it is not a task vector).
  EXPECT_TRUE(ParseAndValidate("merge_method: ties\nbase_model: /b\nmodels:\n  - model: /b\n  - model: /a\n    parameters: {weight: 1}\n").ok());
}

TEST(MergeConfigTest, GlobalParametersAreDefaultsForModels) {
  EXPECT_TRUE(ParseAndValidate("merge_method: task_arithmetic\nbase_model: /b\nmodels:\n  - model: /a\nparameters: {weight: 0.5}\n").ok());
}

}  // namespace
}  // namespace fm
