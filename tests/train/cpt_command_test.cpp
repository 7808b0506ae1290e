// `finmerge cpt` end to end: the binary on a tiny random model, resume exactness (after --stop-after and
// after SIGKILL), MPI equivalence, divergence (NaN loss) and bad input.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <thread>

#include "testing/tiny_checkpoint.h"
#include "train/train_testing.h"

namespace fm {
namespace {

using testing::ReadBytes;
using testing::ReadMetrics;
using testing::RunCommand;
using testing::TempDir;

struct CptFixture {
  TempDir tmp;
  std::string model = tmp / "base", data = tmp / "data";
  CptFixture() {
    testing::WriteRandomModel(model, DType::kBF16);
    testing::WriteRepetitiveShards(data);
    testing::WriteReplayShards(tmp / "general");
  }
  // The command line with the common flags; `extra` appended.
  std::string Cpt(const std::string& out, const std::string& extra) const {
    return std::string(FINMERGE_BINARY) + " cpt --model " + model + " --data " + data + " -o " + (tmp / out) +
           " --seq-len 16 --batch-size 4 --lr 1e-2 --min-lr 1e-3 --warmup 2 --seed 3 --eval-batches 2 "
           "--precision fp32 --threads 1 " +
           extra;
  }
};

void ExpectOneLineError(const std::string& output, const std::string& needle) {
  EXPECT_EQ(output.find("finmerge: error: "), 0u) << output;
  EXPECT_EQ(output.find('\n'), output.size() - 1) << output;
  EXPECT_NE(output.find(needle), std::string::npos) << output;
}

// The error line may follow the run's progress lines: it must be the last line, and one line.
void ExpectOneLineErrorAt(const std::string& output, const std::string& needle) {
  const size_t at = output.rfind("finmerge: error: ");
  ASSERT_NE(at, std::string::npos) << output;
  EXPECT_TRUE(at == 0 || output[at - 1] == '\n') << output;
  EXPECT_EQ(output.find('\n', at), output.size() - 1) << output;
  EXPECT_NE(output.find(needle, at), std::string::npos) << output;
}

// Loss, lr, grad_norm and val_loss of every step (tokens_per_s is a timing and differs between runs).
std::vector<nlohmann::json> Curve(const std::string& out) {
  std::vector<nlohmann::json> rows = ReadMetrics(out);
  for (auto& r : rows) r.erase("tokens_per_s");
  return rows;
}

TEST(CptCommand, TrainsAndSummarises) {
  CptFixture f;
  std::string out;
  ASSERT_EQ(
      RunCommand(f.Cpt("out", "--steps 12 --eval-every 6 --replay " + (f.tmp / "general") + ":0.2"), &out), 0)
      << out;
  EXPECT_NE(out.find("cpt: steps 0 -> 12"), std::string::npos) << out;
  EXPECT_NE(out.find("wrote " + (f.tmp / "out")), std::string::npos) << out;
  EXPECT_NE(out.find("replay"), std::string::npos) << out;
  std::vector<nlohmann::json> m = ReadMetrics(f.tmp / "out");
  ASSERT_EQ(m.size(), 12u);
  EXPECT_TRUE(m[5].contains("val_loss"));
  EXPECT_TRUE(m[11].contains("val_loss"));
  EXPECT_LT(m[11]["loss"].get<float>(), m[0]["loss"].get<float>());
  EXPECT_TRUE(std::filesystem::exists(f.tmp / "out/trainer_state/state.bin"));
}

// N steps in one go == k steps, then --resume for the remaining N - k steps: bit for bit (weights, optimizer
// state, every logged loss), with replay mixing, gradient accumulation and a checkpoint in between.
TEST(CptCommand, ResumeContinuesBitForBit) {
  CptFixture f;
  const std::string common =
      "--steps 9 --grad-accum 2 --batch-size 2 --eval-every 3 --save-every 2 --replay " +
      (f.tmp / "general") + ":0.3";
  std::string out;
  ASSERT_EQ(RunCommand(f.Cpt("full", common), &out), 0) << out;
  ASSERT_EQ(RunCommand(f.Cpt("part", common + " --stop-after 5"), &out), 0) << out;
  EXPECT_EQ(ReadMetrics(f.tmp / "part").size(), 5u);
  ASSERT_EQ(RunCommand(f.Cpt("part", common + " --resume " + (f.tmp / "part")), &out), 0) << out;
  EXPECT_NE(out.find("cpt: steps 5 -> 9"), std::string::npos) << out;

  EXPECT_EQ(Curve(f.tmp / "full"), Curve(f.tmp / "part"));
  EXPECT_EQ(ReadBytes(f.tmp / "full/model.safetensors"), ReadBytes(f.tmp / "part/model.safetensors"));
  // The trainer states are byte-identical too (--stop-after and --resume are not part of the stored
  // arguments).
  std::string a = ReadBytes(f.tmp / "full/trainer_state/state.bin");
  std::string b = ReadBytes(f.tmp / "part/trainer_state/state.bin");
  ASSERT_EQ(a.size(), b.size());
  EXPECT_TRUE(a == b) << "trainer state differs";
  // And a resume that has not caught up differs from the full run (the comparison can fail).
  ASSERT_EQ(RunCommand(f.Cpt("short", common + " --stop-after 8"), &out), 0) << out;
  EXPECT_NE(ReadBytes(f.tmp / "full/model.safetensors"), ReadBytes(f.tmp / "short/model.safetensors"));
}

// OpenMPI's MPI_Init leaks its own plugin and argv allocations, which LeakSanitizer reports under the ASan
// build (make test-asan); leak checking stays on for every other run.
const std::string kMpiLeakOption = "ASAN_OPTIONS=$ASAN_OPTIONS:detect_leaks=0 ";

// A run killed with SIGKILL at an arbitrary moment (between checkpoints, or while one is being written) and
// resumed from its output folder ends with the same weights, optimizer state and loss curve as an
// uninterrupted run, bit for bit: the checkpoint holds the f32 master weights and both AdamW moments exactly,
// the data position is three counters, and every step is deterministic at a fixed thread count (--threads 1
// here).
TEST(CptCommand, SigkillMidRunThenResumeEqualsUninterruptedRun) {
  CptFixture f;
  // Enough steps that the run is still going when the first checkpoint (step 5) appears.
  const std::string common = "--steps 1000 --grad-accum 2 --batch-size 2 --save-every 5 --eval-every 250";
  std::string out;
  ASSERT_EQ(RunCommand(f.Cpt("full", common), &out), 0) << out;

  const std::string killed = f.tmp / "killed";
  const std::string cmd = "exec " + f.Cpt("killed", common) + " > " + (f.tmp / "killed.log") + " 2>&1";
  pid_t pid = 0;
  const char* argv[] = {"/bin/sh", "-c", cmd.c_str(), nullptr};
  ASSERT_EQ(posix_spawn(&pid, "/bin/sh", nullptr, nullptr, const_cast<char* const*>(argv), environ), 0);
  // Kill it as soon as a checkpoint exists (OUT appears only complete, by an atomic rename).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!std::filesystem::exists(killed + "/trainer_state/state.bin") &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  // Let it run on a little, to land anywhere in the next steps and saves.
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "the run ended before it was killed (status " << status << "): raise --steps\n"
      << ReadBytes(f.tmp / "killed.log");
  const size_t saved_steps = ReadMetrics(killed).size();
  ASSERT_GE(saved_steps, 5u);
  ASSERT_LT(saved_steps, 1000u);
  EXPECT_EQ(saved_steps % 5, 0u);  // OUT holds a whole checkpoint
  std::printf("killed with a checkpoint of step %zu of 1000 in place\n", saved_steps);

  ASSERT_EQ(RunCommand(f.Cpt("killed", common + " --resume " + killed), &out), 0) << out;
  EXPECT_NE(out.find("cpt: steps " + std::to_string(saved_steps) + " -> 1000"), std::string::npos) << out;
  EXPECT_EQ(Curve(f.tmp / "full"), Curve(killed));
  EXPECT_TRUE(ReadBytes(f.tmp / "full/model.safetensors") == ReadBytes(killed + "/model.safetensors"))
      << "weights differ from the uninterrupted run";
  EXPECT_TRUE(ReadBytes(f.tmp / "full/trainer_state/state.bin") ==
              ReadBytes(killed + "/trainer_state/state.bin"))
      << "trainer state differs from the uninterrupted run";
  // A save interrupted by the kill leaves a temporary folder; the resumed run removes it.
  for (const auto& e : std::filesystem::directory_iterator(f.tmp.path())) {
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();
  }
}

// A learning rate that makes training diverge: the run stops at the first non-finite loss with a message
// naming the step, exits non-zero, and leaves the last checkpoint in OUT untouched.
TEST(CptCommand, DivergenceStopsAndKeepsTheLastCheckpoint) {
  CptFixture f;
  const std::string out_dir = f.tmp / "out";
  std::string out;
  ASSERT_EQ(RunCommand(f.Cpt("out", "--steps 8 --save-every 2 --stop-after 4"), &out), 0) << out;
  const std::string weights = ReadBytes(out_dir + "/model.safetensors");
  const std::string state = ReadBytes(out_dir + "/trainer_state/state.bin");
  const std::string metrics = ReadBytes(out_dir + "/metrics.jsonl");
  // Resumed at a rate of 1e18, step 5's update throws the weights to ~1e18 and step 6's loss overflows.
  const int rc = RunCommand(
      f.Cpt("out", "--steps 8 --save-every 2 --resume " + out_dir + " --lr 1e18 --min-lr 1e18"), &out);
  EXPECT_NE(rc, 0);
  ExpectOneLineErrorAt(out, "step 6: loss is ");
  EXPECT_NE(out.find("diverged"), std::string::npos) << out;
  EXPECT_NE(out.find(out_dir + " still holds the checkpoint of step 4"), std::string::npos) << out;
  EXPECT_TRUE(ReadBytes(out_dir + "/model.safetensors") == weights);
  EXPECT_TRUE(ReadBytes(out_dir + "/trainer_state/state.bin") == state);
  EXPECT_EQ(ReadBytes(out_dir + "/metrics.jsonl"), metrics);
  for (const auto& e : std::filesystem::directory_iterator(f.tmp.path())) {
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();
  }
  // The checkpoint still resumes at a sane rate.
  ASSERT_EQ(RunCommand(f.Cpt("out", "--steps 8 --resume " + out_dir), &out), 0) << out;
  EXPECT_NE(out.find("cpt: steps 4 -> 8"), std::string::npos) << out;
}

// A model with an infinite weight: the first loss is not finite, nothing is written.
TEST(CptCommand, NonFiniteWeightStopsAtStepOneAndWritesNothing) {
  CptFixture f;
  const testing::TinyModelShape shape = testing::TrainTestShape();
  std::vector<testing::NamedTensor> tensors = testing::TinyLlamaTensors(shape, 3);
  ASSERT_EQ(tensors.back().name, "lm_head.weight");
  tensors.back().values[5] = std::numeric_limits<float>::infinity();
  testing::WriteTinyModel(f.tmp / "inf", tensors, shape, DType::kF32);
  std::string out;
  const int rc = RunCommand(std::string(FINMERGE_BINARY) + " cpt --model " + (f.tmp / "inf") + " --data " +
                                f.data + " -o " + (f.tmp / "out") + " --steps 4 --seq-len 16 --batch-size 4",
                            &out);
  EXPECT_NE(rc, 0);
  ExpectOneLineErrorAt(out, "step 1: ");
  EXPECT_NE(out.find("no checkpoint was written"), std::string::npos) << out;
  EXPECT_FALSE(std::filesystem::exists(f.tmp / "out"));
}

// Where mpirun is on PATH (OpenMPI): 2 ranks x grad-accum 1 == 1 process x grad-accum 2, to 1e-5 relative on
// every step's loss, grad_norm and val_loss (at the same thread count per process). The trainer computes each
// micro-batch's gradient into zeroed buffers and adds them, g0 + g1, in both cases, and MPI's sum over two
// ranks is that same float addition, so here the curves and weights agree bit for bit; 1e-5 leaves room for
// MPI libraries that reduce in another order. (Accumulating micro-batch 1 in place on top of micro-batch 0,
// as the trainer did before, agreed only to ~1e-7 over 20 steps.)
TEST(CptCommand, TwoMpiRanksMatchOneProcessWithAccumulation) {
  std::string which;
  if (RunCommand("command -v mpirun", &which) != 0)
    GTEST_SKIP() << "mpirun not on PATH (apt-get install openmpi-bin)";
  CptFixture f;
  std::string out;
  ASSERT_EQ(RunCommand(f.Cpt("single", "--steps 12 --batch-size 2 --grad-accum 2 --eval-every 4"), &out), 0)
      << out;
  ASSERT_EQ(RunCommand(kMpiLeakOption + "mpirun --allow-run-as-root --oversubscribe -np 2 " +
                           f.Cpt("mpi", "--steps 12 --batch-size 2 --grad-accum 1 --eval-every 4"),
                       &out),
            0)
      << out;
  EXPECT_NE(out.find("2 ranks"), std::string::npos) << out;
  // One summary line: only rank 0 prints and writes.
  EXPECT_EQ(out.find("cpt: steps 0 -> 12"), out.rfind("cpt: steps 0 -> 12")) << out;
  std::vector<nlohmann::json> a = ReadMetrics(f.tmp / "single"), b = ReadMetrics(f.tmp / "mpi");
  ASSERT_EQ(a.size(), 12u);
  ASSERT_EQ(b.size(), 12u);
  for (size_t i = 0; i < a.size(); i++) {
    for (const char* key : {"loss", "grad_norm"}) {
      const double x = a[i][key].get<double>(), y = b[i][key].get<double>();
      EXPECT_NEAR(x, y, 1e-5 * std::fabs(x)) << key << " at step " << i + 1;
    }
    EXPECT_EQ(a[i]["lr"], b[i]["lr"]);
    EXPECT_EQ(a[i].contains("val_loss"), b[i].contains("val_loss"));
    if (a[i].contains("val_loss")) {
      EXPECT_NEAR(a[i]["val_loss"].get<double>(), b[i]["val_loss"].get<double>(),
                  1e-5 * a[i]["val_loss"].get<double>());
    }
  }
}

TEST(CptCommand, ErrorsAreOneLineAndLeaveNothingBehind) {
  CptFixture f;
  std::string out;
  const std::string bin = FINMERGE_BINARY;
  int rc = RunCommand(bin + " cpt --model " + f.model + " --data " + (f.tmp / "missing") + " -o " +
                          (f.tmp / "out") + " --steps 2 --seq-len 16",
                      &out);
  EXPECT_NE(rc, 0);
  ExpectOneLineError(out, "missing");
  rc = RunCommand(f.Cpt("out", "--steps 2 --replay " + (f.tmp / "general")), &out);
  EXPECT_EQ(rc, 2);
  ExpectOneLineError(out, "--replay");
  rc = RunCommand(f.Cpt("out", "--steps 2 --replay " + (f.tmp / "general") + ":lots"), &out);
  EXPECT_EQ(rc, 2);
  ExpectOneLineError(out, "fraction 'lots'");
  rc = RunCommand(f.Cpt("out", "--steps 2 --decay step"), &out);
  EXPECT_EQ(rc, 2);
  ExpectOneLineError(out, "--decay");
  rc = RunCommand(f.Cpt("out", "--steps 2 --seq-len 20000"), &out);  // more than the corpus holds
  EXPECT_NE(rc, 0);
  ExpectOneLineError(out, "fewer than one window");
  EXPECT_FALSE(std::filesystem::exists(f.tmp / "out"));
  for (const auto& e : std::filesystem::directory_iterator(f.tmp.path())) {
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();
  }
}

// Bad input is refused before training with one line that names the file (or folder and tensor) at fault.
TEST(CptCommand, BadInputIsOneLineNamingTheFile) {
  CptFixture f;
  const std::string bin = FINMERGE_BINARY;
  auto cpt = [&](const std::string& model, const std::string& data, std::string* out) {
    return RunCommand(bin + " cpt --model " + model + " --data " + data + " -o " + (f.tmp / "out") +
                          " --steps 2 --seq-len 16 --batch-size 2",
                      out);
  };
  std::string out;
  // A model folder that lacks a tensor its config.json implies.
  const testing::TinyModelShape shape = testing::TrainTestShape();
  std::vector<testing::NamedTensor> tensors = testing::TinyLlamaTensors(shape, 3);
  const std::string missing = "model.layers.1.mlp.up_proj.weight";
  std::erase_if(tensors, [&](const testing::NamedTensor& t) { return t.name == missing; });
  testing::WriteTinyModel(f.tmp / "incomplete", tensors, shape, DType::kBF16);
  EXPECT_NE(cpt(f.tmp / "incomplete", f.data, &out), 0);
  ExpectOneLineError(out, (f.tmp / "incomplete") + ": tensor '" + missing + "' is missing");

  // Shards whose header declares a larger vocabulary than the model's embedding (another tokenizer's).
  std::filesystem::create_directories(f.tmp / "big-vocab");
  testing::WriteShard(f.tmp / "big-vocab/train_00000.bin", 32000, testing::RepetitiveCorpus(1, 20, 63, 50));
  EXPECT_NE(cpt(f.model, f.tmp / "big-vocab", &out), 0);
  ExpectOneLineError(
      out, (f.tmp / "big-vocab/train_00000.bin") + ": token vocab_size 32000 exceeds the model's 64");

  // An empty data folder.
  std::filesystem::create_directories(f.tmp / "empty");
  EXPECT_NE(cpt(f.model, f.tmp / "empty", &out), 0);
  ExpectOneLineError(out, (f.tmp / "empty") + ": no train_NNNNN.bin token shards");
  EXPECT_FALSE(std::filesystem::exists(f.tmp / "out"));
}

// Where the model folder has a tokenizer, shards must carry its vocabulary size exactly: shards of a smaller
// foreign vocabulary fit the embedding but mean other words.
TEST(CptCommand, ShardsOfAnotherTokenizerAreRefused) {
  TempDir tmp;
  if (!testing::WriteQwen3TokenizerModel(tmp / "qwen3"))
    GTEST_SKIP() << "../shared/tokenizers/qwen3 not present";
  std::filesystem::create_directories(tmp / "llama-tok");
  testing::WriteShard(tmp / "llama-tok/train_00000.bin", 32000, testing::RepetitiveCorpus(1, 20, 2, 50));
  std::string out;
  EXPECT_NE(RunCommand(std::string(FINMERGE_BINARY) + " cpt --model " + (tmp / "qwen3") + " --data " +
                           (tmp / "llama-tok") + " -o " + (tmp / "out") + " --steps 2 --seq-len 16",
                       &out),
            0);
  ExpectOneLineError(out,
                     (tmp / "llama-tok/train_00000.bin") + ": token shards of a vocabulary of 32000 ids");
  EXPECT_NE(out.find("tokenize the corpus with this model's tokenizer"), std::string::npos) << out;
  EXPECT_FALSE(std::filesystem::exists(tmp / "out"));
}

}  // namespace
}  // namespace fm
