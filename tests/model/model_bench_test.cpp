// Training throughput of a ~25M-parameter Llama (hidden 512, 6 layers, 8 heads, vocab 8192, B=8, T=256), the
// model NOTES.md measures PyTorch on. Not a unit test (disabled); run it with
//   test_model --gtest_also_run_disabled_tests --gtest_filter='*ModelBench*'
// FINMERGE_BENCH_STEPS sets the number of timed steps (default 3). With FINMERGE_BENCH_SAVE=DIR the f32 run
// also writes the model to DIR, for the PyTorch peer measurement:
//   /usr/bin/python3 tests/model/torch_reference.py --bench DIR 8 256 STEPS
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>

#include "model/model.h"

namespace fm {
namespace {

ArchConfig BenchConfig() {
  ArchConfig c;
  c.model_type = "llama";
  c.vocab_size = 8192;
  c.hidden_size = 512;
  c.intermediate_size = 1376;
  c.num_layers = 6;
  c.num_heads = 8;
  c.num_kv_heads = 8;
  c.max_position = 256;
  return c;
}

void Bench(Precision precision) {
  std::unique_ptr<Model> m;
  ASSERT_TRUE(Model::Random(BenchConfig(), 1, &m).ok());
  m->set_precision(precision);
  const char* save = std::getenv("FINMERGE_BENCH_SAVE");
  if (save && precision == Precision::kF32) {
    std::filesystem::create_directories(save);
    ASSERT_TRUE(m->SaveWeights(save).ok());
  }
  const int B = 8, T = 256;
  std::mt19937 rng(1);
  std::vector<uint32_t> in(B * T), tg(B * T);
  for (int i = 0; i < B * T; i++) in[i] = rng() % 8192, tg[i] = rng() % 8192;
  const char* env = std::getenv("FINMERGE_BENCH_STEPS");
  const int steps = env ? std::atoi(env) : 3;
  m->ZeroGrad();
  m->ForwardBackward(in.data(), tg.data(), B, T, 1.0f);  // warm-up: allocations, oneDNN primitives
  auto t0 = std::chrono::steady_clock::now();
  for (int s = 0; s < steps; s++) {
    m->ZeroGrad();
    m->ForwardBackward(in.data(), tg.data(), B, T, 1.0f);
  }
  const double train_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / steps;
  t0 = std::chrono::steady_clock::now();
  for (int s = 0; s < steps; s++) m->ForwardLoss(in.data(), tg.data(), B, T);
  const double fwd_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / steps;
  std::printf(
      "llama %.1fM params, B=%d T=%d, %s: %.0f training tokens/s (%.3f s/step), %.0f forward tokens/s\n",
      m->num_parameters() / 1e6, B, T, precision == Precision::kF32 ? "f32" : "bf16", B * T / train_s,
      train_s, B * T / fwd_s);
}

TEST(ModelBench, DISABLED_TrainingThroughputF32) {
  Bench(Precision::kF32);
}
TEST(ModelBench, DISABLED_TrainingThroughputBf16) {
  Bench(Precision::kBF16);
}

}  // namespace
}  // namespace fm
