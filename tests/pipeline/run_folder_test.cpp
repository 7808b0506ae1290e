#include "pipeline/run_folder.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "testing/tiny_checkpoint.h"

namespace fm {
namespace {

namespace fs = std::filesystem;

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
}

std::string ReadText(const std::string& path) {
  std::ifstream f(path);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

TEST(FingerprintTest, ChangesWithContentAndNames) {
  testing::TempDir tmp;
  const std::string d = tmp.path() + "/in";
  fs::create_directories(d + "/sub");
  WriteText(d + "/a.txt", "alpha");
  WriteText(d + "/sub/b.txt", "beta");
  std::string f1, f2, f3, f4;
  ASSERT_TRUE(FingerprintPath(d, &f1).ok());
  ASSERT_TRUE(FingerprintPath(d, &f2).ok());
  EXPECT_EQ(f1, f2);
  EXPECT_EQ(f1.size(), 16u);
  WriteText(d + "/sub/b.txt", "betA");  // same size, other content
  ASSERT_TRUE(FingerprintPath(d, &f3).ok());
  EXPECT_NE(f1, f3);
  fs::rename(d + "/a.txt", d + "/c.txt");
  ASSERT_TRUE(FingerprintPath(d, &f4).ok());
  EXPECT_NE(f3, f4);
  std::string missing;
  Status s = FingerprintPath(d + "/nope", &missing);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("nope"), std::string::npos);
  EXPECT_NE(CombineFingerprints({"a", "bc"}), CombineFingerprints({"ab", "c"}));
  EXPECT_NE(FingerprintString("x"), FingerprintString("y"));
}

TEST(RunFolderTest, SkipsFinishedStageWithSameFingerprint) {
  testing::TempDir tmp;
  RunFolder run;
  ASSERT_TRUE(RunFolder::Open(tmp.path() + "/run", &run).ok());
  int calls = 0;
  auto fn = [&](const std::string& dir, bool resuming, nlohmann::json* outputs) {
    calls++;
    EXPECT_FALSE(resuming);
    WriteText(dir + "/out.txt", "result " + std::to_string(calls));
    (*outputs)["value"] = calls;
    return Status::Ok();
  };
  StageResult r;
  ASSERT_TRUE(run.Run("stage1", "f1", fn, &r).ok());
  EXPECT_FALSE(r.skipped);
  EXPECT_EQ(ReadText(tmp.path() + "/run/stage1/out.txt"), "result 1");
  EXPECT_FALSE(fs::exists(tmp.path() + "/run/stage1.partial"));

  RunFolder again;
  ASSERT_TRUE(RunFolder::Open(tmp.path() + "/run", &again).ok());
  ASSERT_TRUE(again.Run("stage1", "f1", fn, &r).ok());
  EXPECT_TRUE(r.skipped);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(r.outputs["value"], 1);

  // New inputs: redone, and the old output replaced.
  ASSERT_TRUE(again.Run("stage1", "f2", fn, &r).ok());
  EXPECT_FALSE(r.skipped);
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(ReadText(tmp.path() + "/run/stage1/out.txt"), "result 2");
  nlohmann::json rj = nlohmann::json::parse(ReadText(tmp.path() + "/run/run.json"));
  ASSERT_EQ(rj["stages"].size(), 2u);
  EXPECT_EQ(rj["stages"][0]["skipped"], true);
  EXPECT_EQ(rj["stages"][1]["fingerprint"], "f2");
}

TEST(RunFolderTest, FailedStageKeepsWorkForResumeAndOldOutput) {
  testing::TempDir tmp;
  RunFolder run;
  ASSERT_TRUE(RunFolder::Open(tmp.path(), &run).ok());
  auto fail = [](const std::string& dir, bool, nlohmann::json*) {
    WriteText(dir + "/checkpoint", "step 5");
    return Status::IOError("disk on fire");
  };
  Status s = run.Run("cpt", "fp", fail, nullptr);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "stage cpt: disk on fire");
  EXPECT_FALSE(fs::exists(tmp.path() + "/cpt"));
  EXPECT_EQ(ReadText(tmp.path() + "/cpt.partial/checkpoint"), "step 5");

  bool saw_resume = false;
  auto finish = [&](const std::string& dir, bool resuming, nlohmann::json*) {
    saw_resume = resuming;
    EXPECT_EQ(ReadText(dir + "/checkpoint"), "step 5");
    WriteText(dir + "/model", "done");
    return Status::Ok();
  };
  StageResult r;
  ASSERT_TRUE(run.Run("cpt", "fp", finish, &r).ok());
  EXPECT_TRUE(saw_resume);
  EXPECT_TRUE(r.resumed);
  EXPECT_EQ(ReadText(tmp.path() + "/cpt/model"), "done");

  // A killed run with other inputs is discarded, not resumed.
  ASSERT_FALSE(run.Run("cpt", "other", fail, nullptr).ok());
  EXPECT_EQ(ReadText(tmp.path() + "/cpt/model"), "done");  // the finished output is untouched
  auto fresh = [&](const std::string& dir, bool resuming, nlohmann::json*) {
    EXPECT_FALSE(fs::exists(dir + "/checkpoint") && !resuming);
    saw_resume = resuming;
    return Status::Ok();
  };
  ASSERT_TRUE(run.Run("cpt", "third", fresh, &r).ok());
  EXPECT_FALSE(saw_resume);
}

}  // namespace
}  // namespace fm
