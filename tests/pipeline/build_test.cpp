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
    // A context long enough for IFEval prompts.
    for (const char* m : {"base", "instruct"}) {
      const std::string cfg = tmp / (std::string(m) + "/config.json");
      nlohmann::json c = nlohmann::json::parse(std::ifstream(cfg));
      c["max_position_embeddings"] = 512;
      std::ofstream(cfg) << c.dump(2);
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
                           "cpt: {"
                        << (cpt_extra.find("steps:") == std::string::npos ? "steps: 6, " : "")
                        << "seq_len: 32, batch_size: 2, lr: 1.0e-3, precision: fp32, threads: 1" << cpt_extra << "}\n"
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

// GGUF files work as the recipe's models: imported for the run, fingerprinted as the files (a re-run skips
// every stage although each run imports afresh), and named as given in the merged model's card.
TEST(BuildCommand, TakesGgufModels) {
  BuildFixture f;
  if (!f.ok) GTEST_SKIP() << "../shared/tokenizers/qwen3 not present";
  std::string out;
  for (const char* m : {"base", "instruct"}) {
    ASSERT_EQ(RunCommand(std::string(FINMERGE_BINARY) + " export-gguf " + (f.tmp / m) + " -o " +
                             (f.tmp / (std::string(m) + ".gguf")) + " --type f32",
                         &out),
              0)
        << out;
    fs::remove_all(f.tmp / m);
  }
  const std::string recipe = f.tmp / "gguf.yaml";
  std::ofstream(recipe) << "name: tiny\nbase: base.gguf\ninstruct: instruct.gguf\n"
                           "corpus: {paths: [corpus], val_fraction: 0.2}\n"
                           "cpt: {steps: 3, seq_len: 32, batch_size: 2, lr: 1.0e-3, precision: fp32, threads: 1}\n";
  ASSERT_EQ(f.Build(recipe, &out), 0) << out;
  const std::string run = f.tmp / "runs/tiny";
  std::ifstream card_file(run + "/merge/model/README.md");
  const std::string card((std::istreambuf_iterator<char>(card_file)), std::istreambuf_iterator<char>());
  EXPECT_NE(card.find("base.gguf"), std::string::npos) << card;
  EXPECT_NE(card.find("instruct.gguf"), std::string::npos) << card;
  ASSERT_EQ(f.Build(recipe, &out), 0) << out;
  nlohmann::json rj = ReadJson(run + "/run.json");
  for (const auto& st : rj["stages"]) EXPECT_TRUE(st["skipped"].get<bool>()) << rj.dump();
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

TEST(BuildCommand, EvaluatesTheFourModelsSideBySide) {
  BuildFixture f;
  if (!f.ok) GTEST_SKIP() << "../shared/tokenizers/qwen3 not present";
  const std::string ppl = f.tmp / "heldout.txt";
  std::ofstream(ppl) << "The Committee decided to maintain the target range for the federal funds rate.\n";
  const std::string recipe = f.Recipe(
      "", "eval:\n  tasks: [" + kShared + "/data/fin-harness/cma_basics.json]\n  limit: 2\n  ppl: [" + ppl +
              "]\n  ifeval: " + kShared + "/data/ifeval/en_input_data.jsonl\n  ifeval_limit: 2\n"
              "  max_new_tokens: 4\n  chat_format: chatml\n");
  std::string out;
  ASSERT_EQ(f.Build(recipe, &out), 0) << out;
  const nlohmann::json r = ReadJson(f.tmp / "runs/tiny/eval/results.json");
  for (const char* m : {"base", "instruct", "cpt", "merged"}) {
    ASSERT_TRUE(r["models"].contains(m)) << r.dump();
    EXPECT_TRUE(r["models"][m].contains("cma_basics/acc")) << r.dump();
    EXPECT_TRUE(r["models"][m].contains("ppl/heldout")) << r.dump();
    EXPECT_TRUE(r["models"][m].contains("ifeval/prompt_strict")) << r.dump();
    const double ppl_value = r["models"][m]["ppl/heldout"].get<double>();
    EXPECT_GT(ppl_value, 1.0);
  }
  // The CPT model was trained on FOMC text, so it must predict FOMC prose better than the base.
  EXPECT_LT(r["models"]["cpt"]["ppl/heldout"].get<double>(), r["models"]["base"]["ppl/heldout"].get<double>());
  EXPECT_EQ(r["details"]["base"]["tasks"]["cma_basics"]["n"], 2) << r["details"]["base"]["tasks"].dump();
  // The report shows the evaluation.
  std::ifstream html(f.tmp / "runs/tiny/report.html");
  const std::string page((std::istreambuf_iterator<char>(html)), {});
  EXPECT_NE(page.find("cma_basics/acc"), std::string::npos);
  EXPECT_NE(page.find("CPT"), std::string::npos);
}

TEST(BuildCommand, KilledRunResumesCptFromItsCheckpoint) {
  BuildFixture f;
  if (!f.ok) GTEST_SKIP() << "../shared/tokenizers/qwen3 not present";
  const std::string recipe = f.Recipe(", steps: 120, save_every: 5, eval_every: 1000");
  const std::string partial = f.tmp / "runs/tiny/cpt.partial/model/trainer_state";
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    execl(FINMERGE_BINARY, FINMERGE_BINARY, "build", "-q", recipe.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(300);
  while (!fs::exists(partial) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(fs::exists(partial)) << "no checkpoint within the deadline";
  ASSERT_TRUE(WIFSIGNALED(status)) << "the build finished before it could be killed";
  EXPECT_FALSE(fs::exists(f.tmp / "runs/tiny/cpt"));

  std::string out;
  ASSERT_EQ(f.Build(recipe, &out), 0) << out;
  EXPECT_NE(out.find("tokenize  up to date"), std::string::npos) << out;
  EXPECT_NE(out.find("(resumed)"), std::string::npos) << out;
  const nlohmann::json rec = ReadJson(f.tmp / "runs/tiny/cpt/.stage.json");
  EXPECT_GT(rec["outputs"]["resumed_from_step"].get<int>(), 0) << rec.dump();
  EXPECT_EQ(rec["outputs"]["steps"], 120) << rec.dump();
  EXPECT_EQ(testing::ReadMetrics(f.tmp / "runs/tiny/cpt/model").size(), 120u);
}

TEST(BuildCommand, MpiRunsTheCptStageOnBothRanks) {
  std::string probe;
  if (RunCommand("command -v mpirun", &probe) != 0) GTEST_SKIP() << "mpirun not on PATH (apt-get install openmpi-bin)";
  BuildFixture f;
  if (!f.ok) GTEST_SKIP() << "../shared/tokenizers/qwen3 not present";
  std::string out;
  ASSERT_EQ(f.Build(f.Recipe(""), &out, "mpirun --allow-run-as-root --oversubscribe -np 2 "), 0) << out;
  const nlohmann::json rec = ReadJson(f.tmp / "runs/tiny/cpt/.stage.json");
  EXPECT_EQ(rec["outputs"]["world_size"], 2) << rec.dump();
  EXPECT_TRUE(fs::exists(f.tmp / "runs/tiny/merge/model/config.json"));
  EXPECT_TRUE(fs::exists(f.tmp / "runs/tiny/report.html"));
  // Rank 1 printed nothing of its own: one summary line.
  size_t n = 0;
  for (size_t at = out.find("built tiny"); at != std::string::npos; at = out.find("built tiny", at + 1)) n++;
  EXPECT_EQ(n, 1u) << out;
}

}  // namespace
}  // namespace fm
