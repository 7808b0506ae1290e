// Throughput of the tokenizers on English text (tinyshakespeare, 1.1 MB) with the Qwen3 tokenizer, in MB per
// second of CPU time of one thread (robust to other processes sharing the machine), and of the loader.
#include <gtest/gtest.h>
#include <time.h>

#include <chrono>

#include "tokenizer/tokenizer.h"
#include "tokenizer_test_util.h"

namespace fm {
namespace {

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

TEST(TokenizerSpeed, Qwen3EnglishThroughput) {
  double t0 = ThreadCpuSeconds();
  std::unique_ptr<Tokenizer> tok;
  ASSERT_TRUE(Tokenizer::Load(test::Qwen3Dir(), &tok).ok());
  double load = ThreadCpuSeconds() - t0;
  std::string text = test::ReadFile(test::SharedDir() + "/data/general/tinyshakespeare.txt");
  std::vector<uint32_t> ids;
  // First pass fills the word cache (as on any real corpus after its first megabytes); the second is timed.
  t0 = ThreadCpuSeconds();
  ASSERT_TRUE(tok->Encode(text, false, &ids).ok());
  double cold = ThreadCpuSeconds() - t0;
  t0 = ThreadCpuSeconds();
  ASSERT_TRUE(tok->Encode(text, false, &ids).ok());
  double warm = ThreadCpuSeconds() - t0;
  double mb = text.size() / 1e6;
  std::printf(
      "[ speed ] Qwen3 load %.2f s CPU; tinyshakespeare %.2f MB -> %zu tokens: %.1f MB/s per core (first "
      "pass %.1f MB/s)\n",
      load, mb, ids.size(), mb / warm, mb / cold);
  EXPECT_EQ(ids.size(), 301829u);  // the Hugging Face count for this file (no eos)
  // Loose floor: a regression to a quadratic or cache-less path would fall far below it.
  EXPECT_GT(mb / warm, 1.0);
}

}  // namespace
}  // namespace fm
