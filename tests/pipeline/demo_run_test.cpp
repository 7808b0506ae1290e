// `finmerge demo` end to end on the tiny preset: every real stage runs (world, BPE, shards, pretraining, SFT,
// CPT, chat-vector merge, analysis, evaluation, report), results.json has the documented shape, and a second
// run reuses every finished stage.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "testing/tiny_checkpoint.h"

namespace fm {
namespace {

namespace fs = std::filesystem;

int Demo(const std::string& out, std::string* log) {
  return testing::RunCommand(
      std::string(FINMERGE_BINARY) + " demo --size tiny --threads 2 --seed 3 --out " + out, log);
}

TEST(DemoRun, TinyRunWritesResultsAndReportAndReusesStages) {
  testing::TempDir tmp;
  const std::string out = tmp / "run";
  std::string log;
  ASSERT_EQ(Demo(out, &log), 0) << log;
  for (const char* stage :
       {"world", "tokenizer", "tokenize", "base", "instruct", "cpt", "merged", "analysis", "eval"}) {
    EXPECT_TRUE(fs::exists(out + "/" + stage + "/.stage.json")) << stage;
  }
  EXPECT_NE(log.find("done in"), std::string::npos) << log;
  EXPECT_NE(log.find("the merged model"), std::string::npos) << log;

  std::ifstream f(out + "/results.json");
  nlohmann::json r = nlohmann::json::parse(f);
  ASSERT_TRUE(r.is_object());
  EXPECT_EQ(r.size(), 4u) << r.dump();
  ASSERT_TRUE(r["primary_metric"].is_string());
  const std::string primary = r["primary_metric"];
  ASSERT_TRUE(r["models"].is_object());
  EXPECT_EQ(r["models"].size(), 4u);
  for (const char* m : {"base", "instruct", "cpt", "merged"}) {
    ASSERT_TRUE(r["models"].contains(m)) << m;
    ASSERT_TRUE(r["models"][m].contains(primary)) << m;
    for (const char* k : {"finance_mc_accuracy", "general_chat_format"})
      ASSERT_TRUE(r["models"][m].contains(k));
    for (const auto& [k, v] : r["models"][m].items()) {
      ASSERT_TRUE(v.is_number()) << k;
      EXPECT_GE(v.get<double>(), 0.0);
      EXPECT_LE(v.get<double>(), 1.0);
    }
  }
  ASSERT_TRUE(r["task_vector_cosine"].is_number());
  EXPECT_GE(r["task_vector_cosine"].get<double>(), -1.0);
  EXPECT_LE(r["task_vector_cosine"].get<double>(), 1.0);
  ASSERT_TRUE(r["stage_seconds"].is_object());
  EXPECT_EQ(r["stage_seconds"].size(), 9u);
  for (const auto& [k, v] : r["stage_seconds"].items()) EXPECT_GE(v.get<double>(), 0.0) << k;

  ASSERT_TRUE(fs::exists(out + "/report.html"));
  std::ifstream h(out + "/report.html");
  std::string html((std::istreambuf_iterator<char>(h)), std::istreambuf_iterator<char>());
  EXPECT_NE(html.find("<svg"), std::string::npos);
  for (const char* m : {"base/model", "instruct/model", "cpt/model", "merged/model"}) {
    EXPECT_TRUE(fs::exists(out + "/" + m + "/config.json")) << m;
  }

  // Second run: nothing is recomputed, the same results come back.
  std::string log2;
  ASSERT_EQ(Demo(out, &log2), 0) << log2;
  size_t reused = 0;
  for (size_t p = log2.find("reused from an earlier run"); p != std::string::npos;
       p = log2.find("reused from an earlier run", p + 1)) {
    reused++;
  }
  EXPECT_EQ(reused, 9u) << log2;
  EXPECT_EQ(log2.find("done in"), std::string::npos) << log2;
  std::ifstream f2(out + "/results.json");
  nlohmann::json r2 = nlohmann::json::parse(f2);
  EXPECT_EQ(r2["models"], r["models"]);
}

TEST(DemoRun, ABadSizeIsAOneLineError) {
  std::string log;
  testing::TempDir tmp;
  EXPECT_NE(
      testing::RunCommand(std::string(FINMERGE_BINARY) + " demo --size huge --out " + (tmp / "x"), &log), 0);
  EXPECT_NE(log.find("unknown size"), std::string::npos) << log;
}

}  // namespace
}  // namespace fm
