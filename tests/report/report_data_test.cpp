// Reading the report's input files: metrics.jsonl, analysis JSON, results JSON, settings; errors name the
// file and the line.
#include "report/report_data.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "testing/tiny_checkpoint.h"

namespace fm::report {
namespace {

using fm::testing::TempDir;

std::string Write(const TempDir& tmp, const std::string& name, const std::string& text) {
  std::ofstream(tmp / name) << text;
  return tmp / name;
}

TEST(ReadJsonFile, SyntaxErrorNamesFileAndLine) {
  TempDir tmp;
  const std::string p = Write(tmp, "a.json", "{\n  \"a\": 1,\n  \"b\": [1, 2,\n  \"c\": }\n");
  nlohmann::ordered_json j;
  Status s = ReadJsonFile(p, &j);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message().find(p + ":4: invalid JSON ("), 0u) << s.message();
  EXPECT_EQ(s.message().find('\n'), std::string::npos);
  s = ReadJsonFile(tmp / "none.json", &j);
  EXPECT_EQ(s.code(), Status::Code::kNotFound);
  EXPECT_NE(s.message().find("none.json"), std::string::npos);
}

TEST(ReadJsonFile, KeepsKeyOrder) {
  TempDir tmp;
  nlohmann::ordered_json j;
  ASSERT_TRUE(ReadJsonFile(Write(tmp, "a.json", R"({"zeta": 1, "alpha": 2})"), &j).ok());
  EXPECT_EQ(j.begin().key(), "zeta");
}

TEST(ReadLossCurve, ReadsTrainerMetrics) {
  TempDir tmp;
  const std::string p = Write(tmp, "metrics.jsonl",
                              R"({"step":1,"loss":4.5,"lr":0.001,"grad_norm":2.0,"tokens_per_s":100.0}
{"step":2,"loss":4.0,"lr":0.002,"grad_norm":1.5,"tokens_per_s":300.0,"val_loss":4.2}

{"step":3,"loss":null,"lr":0.002,"grad_norm":1.0,"tokens_per_s":200.0}
{"step":4,"loss":3.5,"lr":0.001,"grad_norm":1.0,"tokens_per_s":250.0,"val_loss":3.9}
)");
  LossCurve c;
  c.label = "CPT";
  ASSERT_TRUE(ReadLossCurve(p, &c).ok());
  EXPECT_EQ(c.label, "CPT");
  ASSERT_EQ(c.train.size(), 3u);
  EXPECT_EQ(c.train[2], (std::pair<double, double>{4, 3.5}));
  ASSERT_EQ(c.val.size(), 2u);
  EXPECT_EQ(c.val[0], (std::pair<double, double>{2, 4.2}));
  EXPECT_EQ(c.nonfinite, 1);
  EXPECT_EQ(c.lr.size(), 4u);
  EXPECT_DOUBLE_EQ(c.median_tokens_per_s, 250.0);
}

TEST(ReadLossCurve, MalformedLinesNameFileAndLine) {
  TempDir tmp;
  struct Case {
    std::string text, expect;
  };
  const std::vector<Case> cases = {
      {"{\"step\":1,\"loss\":2}\n{\"step\":2,\"loss\":\n", ":2: invalid JSON"},
      {"{\"step\":1,\"loss\":2}\n\n[1,2]\n", ":3: not a JSON object"},
      {"{\"loss\":2}\n", ":1: no numeric \"step\""},
      {"{\"step\":1,\"loss\":\"low\"}\n", ":1: no numeric \"loss\""},
      {"{\"step\":1,\"loss\":2}\n{\"step\":1,\"loss\":2}\n", ":2: step 1 does not follow step 1"},
      {"{\"step\":1,\"loss\":2,\"val_loss\":\"x\"}\n", ":1: \"val_loss\" is not a number"},
  };
  for (const Case& c : cases) {
    const std::string p = Write(tmp, "m.jsonl", c.text);
    LossCurve lc;
    Status s = ReadLossCurve(p, &lc);
    ASSERT_FALSE(s.ok()) << c.text;
    EXPECT_EQ(s.message().find(p + c.expect), 0u) << s.message();
    EXPECT_EQ(s.message().find('\n'), std::string::npos);
  }
}

TEST(Smooth, DebiasedExponentialMovingAverage) {
  std::vector<std::pair<double, double>> pts = {{1, 4}, {2, 4}, {3, 4}};
  for (auto [x, y] : Smooth(pts, 0.9)) EXPECT_NEAR(y, 4, 1e-12);  // a constant stays constant (no bias to 0)
  pts = {{1, 0}, {2, 10}};
  auto s = Smooth(pts, 0.5);
  EXPECT_DOUBLE_EQ(s[0].second, 0);
  EXPECT_DOUBLE_EQ(s[1].second, (0.5 * 0.5 * 0 + 0.5 * 10) / (0.5 * 0.5 + 0.5));
  EXPECT_EQ(SmoothingWeight(5), 0.0);
  EXPECT_GT(SmoothingWeight(1000), SmoothingWeight(50));
  EXPECT_LE(SmoothingWeight(1000000), 0.98);
}

// The shape `finmerge analyze --json` writes (merge/task_vector_analysis.cpp), for two task vectors.
std::string AnalysisJson() {
  auto stats = [](double na, double nb, double cos) {
    return nlohmann::json{{"elements", 64},
                          {"norm", {na, nb}},
                          {"relative_norm", {na / 10, nb / 10}},
                          {"cosine", {{1.0, cos}, {cos, 1.0}}},
                          {"sign_agreement", {{1.0, 0.5}, {0.5, 1.0}}}};
  };
  nlohmann::json j;
  j["base"] = "/models/base";
  j["models"] = {"/models/instruct", "/models/cpt"};
  j["labels"] = {"instruct", "cpt"};
  j["overall"] = stats(3, 4, 0.02);
  j["pairs"] = {{{"a", "instruct"}, {"b", "cpt"}, {"cosine", 0.02}, {"sign_agreement", 0.5}}};
  j["by_module"] = {{"attn_q", stats(1, 1, 0.1)}, {"mlp", stats(2, 2, -0.05)}};
  nlohmann::json l0 = stats(2, 2, 0.01);
  l0["layer"] = 0;
  j["by_layer"] = {l0};
  nlohmann::json t1 = stats(1, 1, 0.1), t2 = stats(2, 2, -0.05), t3 = stats(1, 1, 0.0);
  t1["name"] = "model.layers.0.self_attn.q_proj.weight", t1["layer"] = 0, t1["module"] = "attn_q";
  t2["name"] = "model.layers.0.mlp.down_proj.weight", t2["layer"] = 0, t2["module"] = "mlp";
  t3["name"] = "model.embed_tokens.weight", t3["layer"] = -1, t3["module"] = "embedding";
  j["tensors"] = {t1, t2, t3};
  return j.dump(1);
}

TEST(ReadAnalysis, ReadsAnalyzeOutput) {
  TempDir tmp;
  AnalysisData a;
  ASSERT_TRUE(ReadAnalysis(Write(tmp, "a.json", AnalysisJson()), &a).ok());
  EXPECT_EQ(a.base, "/models/base");
  EXPECT_EQ(a.labels, (std::vector<std::string>{"instruct", "cpt"}));
  EXPECT_DOUBLE_EQ(a.overall.cosine[0][1], 0.02);
  EXPECT_DOUBLE_EQ(a.overall.norm[1], 4);
  EXPECT_DOUBLE_EQ(a.overall.relative_norm[1], 0.4);
  ASSERT_EQ(a.by_layer.size(), 1u);
  ASSERT_EQ(a.by_module.size(), 2u);
  EXPECT_EQ(a.by_module[1].first, "mlp");
  ASSERT_EQ(a.tensors.size(), 3u);
  EXPECT_EQ(a.tensors[2].layer, -1);
  EXPECT_EQ(a.tensors[1].module, "mlp");
}

TEST(ReadAnalysis, StructuralErrorsNameFileAndField) {
  TempDir tmp;
  nlohmann::json j = nlohmann::json::parse(AnalysisJson());
  j["overall"]["cosine"] = {{1.0, 0.1}};  // not 2 x 2
  AnalysisData a;
  Status s = ReadAnalysis(Write(tmp, "a.json", j.dump()), &a);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message().find(tmp / "a.json" + ": overall: 'cosine'"), 0u) << s.message();

  j = nlohmann::json::parse(AnalysisJson());
  j["tensors"][1]["norm"] = {1.0, "big"};
  s = ReadAnalysis(Write(tmp, "a.json", j.dump()), &a);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("tensors[1] (model.layers.0.mlp.down_proj.weight): 'norm'"), std::string::npos)
      << s.message();

  s = ReadAnalysis(Write(tmp, "a.json", R"({"models": []})"), &a);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("'labels'"), std::string::npos);
  EXPECT_NE(s.message().find("finmerge analyze --json"), std::string::npos);
}

TEST(HeatmapColumn, NamesOfCommonLayouts) {
  EXPECT_EQ(HeatmapColumn("model.layers.3.self_attn.q_proj.weight", "attn_q"), "q");
  EXPECT_EQ(HeatmapColumn("model.layers.3.self_attn.o_proj.weight", "attn_o"), "o");
  EXPECT_EQ(HeatmapColumn("model.layers.3.mlp.gate_proj.weight", "mlp"), "gate");
  EXPECT_EQ(HeatmapColumn("model.layers.3.mlp.up_proj.weight", "mlp"), "up");
  EXPECT_EQ(HeatmapColumn("model.layers.3.mlp.down_proj.weight", "mlp"), "down");
  EXPECT_EQ(HeatmapColumn("model.layers.3.input_layernorm.weight", "norm"), "attn norm");
  EXPECT_EQ(HeatmapColumn("model.layers.3.post_attention_layernorm.weight", "norm"), "mlp norm");
  EXPECT_EQ(HeatmapColumn("model.layers.3.self_attn.q_norm.weight", "norm"), "q norm");
  EXPECT_EQ(HeatmapColumn("model.norm.weight", "norm"), "norm");
  EXPECT_EQ(HeatmapColumn("model.embed_tokens.weight", "embedding"), "embed");
  EXPECT_EQ(HeatmapColumn("lm_head.weight", "embedding"), "lm_head");
  // GGUF names: attn_output is the attention output projection, not the LM head.
  EXPECT_EQ(HeatmapColumn("blk.0.attn_output.weight", "attn_o"), "o");
  EXPECT_EQ(HeatmapColumn("output.weight", "embedding"), "lm_head");
  EXPECT_EQ(HeatmapColumn("transformer.h.0.attn.c_attn.weight", "attn_qkv"), "qkv");
  EXPECT_EQ(HeatmapColumn("model.layers.0.block_sparse_moe.router.weight", "other"), "other");
  EXPECT_LT(ColumnOrder("q"), ColumnOrder("gate"));
  EXPECT_LT(ColumnOrder("down"), ColumnOrder("attn norm"));
  EXPECT_LT(ColumnOrder("lm_head"), ColumnOrder("something new"));
}

TEST(ReadResults, DemoShapeWithPrimaryMetricFirst) {
  TempDir tmp;
  const std::string p = Write(tmp, "results.json", R"({
    "primary_metric": "fin_chat",
    "models": {"base": {"fin_mc": 0.25, "fin_chat": 0.0, "chat_format": 0.1},
               "merged": {"fin_mc": 0.5, "fin_chat": 0.6, "chat_format": null}},
    "task_vector_cosine": 0.013,
    "stage_seconds": {"pretrain": 120.5, "sft": 30}
  })");
  ResultsData r;
  ASSERT_TRUE(ReadResults(p, &r).ok());
  EXPECT_EQ(r.primary_metric, "fin_chat");
  EXPECT_EQ(r.models, (std::vector<std::string>{"base", "merged"}));
  EXPECT_EQ(r.metrics, (std::vector<std::string>{"fin_chat", "fin_mc", "chat_format"}));
  EXPECT_DOUBLE_EQ(r.values[1][0], 0.6);
  EXPECT_DOUBLE_EQ(r.values[0][1], 0.25);
  EXPECT_TRUE(std::isnan(r.values[1][2]));
  EXPECT_TRUE(r.has_cosine);
  EXPECT_DOUBLE_EQ(r.task_vector_cosine, 0.013);
  ASSERT_EQ(r.stage_seconds.size(), 2u);
  EXPECT_EQ(r.stage_seconds[0].first, "pretrain");
}

TEST(ReadResults, EvalShapeWithNestedMetricsAndMissingValues) {
  TempDir tmp;
  const std::string p = Write(tmp, "eval.json", R"({
    "models": {"a": {"mc": {"accuracy": 0.5, "n": 40}, "perplexity": 12.5, "note": "text is ignored"},
               "b": {"perplexity": 10.0}},
    "tasks": ["mc"]
  })");
  ResultsData r;
  ASSERT_TRUE(ReadResults(p, &r).ok());
  EXPECT_EQ(r.metrics, (std::vector<std::string>{"mc.accuracy", "mc.n", "perplexity"}));
  EXPECT_TRUE(std::isnan(r.values[1][0]));
  EXPECT_DOUBLE_EQ(r.values[1][2], 10.0);
  EXPECT_FALSE(r.has_cosine);
}

TEST(ReadResults, EvalStandardErrorsAndColumnOrder) {
  TempDir tmp;
  // As `finmerge eval --json` writes it (eval/eval_suite.cpp): models, the metrics' order, details.
  const std::string p = Write(tmp, "eval.json", R"({
    "models": {"a": {"ppl": 12.5, "mc_acc": 0.5, "mc_acc_stderr": 0.05},
               "b": {"ppl": 10.0, "mc_acc": 0.75, "mc_acc_stderr": 0.04, "x_stderr": 1.0}},
    "metrics": ["mc_acc", "ppl"],
    "details": {"mc_acc": {"n": 40}}
  })");
  ResultsData r;
  ASSERT_TRUE(ReadResults(p, &r).ok());
  // x_stderr has no metric x beside it, so it is a metric of its own.
  EXPECT_EQ(r.metrics, (std::vector<std::string>{"mc_acc", "ppl", "x_stderr"}));
  EXPECT_DOUBLE_EQ(r.values[1][0], 0.75);
  EXPECT_DOUBLE_EQ(r.stderrs[0][0], 0.05);
  EXPECT_DOUBLE_EQ(r.stderrs[1][0], 0.04);
  EXPECT_TRUE(std::isnan(r.stderrs[0][1]));
  EXPECT_DOUBLE_EQ(r.values[1][2], 1.0);
}

TEST(ReadResults, ShapeErrorsNameTheFile) {
  TempDir tmp;
  ResultsData r;
  for (const char* text : {R"([1, 2])", R"({"results": {}})", R"({"models": {"a": 3}})",
                           R"({"models": {}, "stage_seconds": {"x": "long"}})"}) {
    const std::string p = Write(tmp, "r.json", text);
    Status s = ReadResults(p, &r);
    ASSERT_FALSE(s.ok()) << text;
    EXPECT_EQ(s.message().find(p + ": "), 0u) << s.message();
  }
}

TEST(LowerIsBetter, ByMetricName) {
  EXPECT_TRUE(LowerIsBetter("perplexity"));
  EXPECT_TRUE(LowerIsBetter("val_loss"));
  EXPECT_TRUE(LowerIsBetter("wiki.ppl"));
  EXPECT_FALSE(LowerIsBetter("accuracy"));
  EXPECT_FALSE(LowerIsBetter("fin_chat_correct"));
}

TEST(ReadSettings, FlattensNestedObjects) {
  TempDir tmp;
  std::vector<std::pair<std::string, std::string>> s;
  ASSERT_TRUE(ReadSettings(Write(tmp, "s.json", R"({"seed": 7, "cpt": {"lr": 0.0001, "steps": 200},
      "merge": "chat-vector", "tasks": ["fin_mc", "chat"], "flags": [{"a": 1}]})"),
                           &s)
                  .ok());
  const std::vector<std::pair<std::string, std::string>> want = {{"seed", "7"},
                                                                 {"cpt.lr", "0.0001"},
                                                                 {"cpt.steps", "200"},
                                                                 {"merge", "chat-vector"},
                                                                 {"tasks", "fin_mc, chat"},
                                                                 {"flags", "[{\"a\":1}]"}};
  EXPECT_EQ(s, want);
  EXPECT_FALSE(ReadSettings(Write(tmp, "s.json", "[1]"), &s).ok());
  ASSERT_TRUE(ReadSettings(Write(tmp, "s.json", "{}"), &s).ok());
  EXPECT_TRUE(s.empty());
  // A float that went through f32 shows as the value that was meant.
  ASSERT_TRUE(ReadSettings(Write(tmp, "s.json", R"({"lr": 0.0010000000474974513, "min_lr": 9.999999747378752e-05})"), &s).ok());
  const std::vector<std::pair<std::string, std::string>> rounded = {{"lr", "0.001"}, {"min_lr", "0.0001"}};
  EXPECT_EQ(s, rounded);
}

}  // namespace
}  // namespace fm::report
