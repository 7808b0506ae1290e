#include "train/chat_windows.h"

#include <gtest/gtest.h>

#include <fstream>

#include "model/model.h"
#include "testing/tiny_checkpoint.h"
#include "chat/prompt_format.h"
#include "tokenizer/tokenizer.h"
#include "train/train_testing.h"

namespace fm {
namespace {

using testing::TempDir;

std::string Example(const std::string& user, const std::string& assistant) {
  nlohmann::json j = {
      {"messages", {{{"role", "user"}, {"content", user}}, {{"role", "assistant"}, {"content", assistant}}}}};
  return j.dump();
}

// One tiny model with the real Qwen3 tokenizer for the whole suite (loading the tokenizer takes a while).
class ChatWindowsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new TempDir();
    model_ = *tmp_ / "model";
    if (!testing::WriteQwen3TokenizerModel(model_)) return;
    ASSERT_TRUE(Tokenizer::Load(model_, &tok_).ok());
    ASSERT_TRUE(ChatFormat::Load(model_, "chatml", &chatml_).ok());
  }
  static void TearDownTestSuite() {
    tok_.reset();
    delete tmp_;
  }
  void SetUp() override {
    if (!tok_) GTEST_SKIP() << "../shared/tokenizers/qwen3 not found";
    std::ofstream f(data_);
    f << Example("What is 2+2?", "4") << "\n";
    f << "\n";  // blank lines are skipped
    f << nlohmann::json({{"messages",
                          {{{"role", "system"}, {"content", "Be brief."}},
                           {{"role", "user"}, {"content", "Capital of France?"}},
                           {{"role", "assistant"}, {"content", "Paris"}},
                           {{"role", "user"}, {"content", "And Japan?"}},
                           {{"role", "assistant"}, {"content", "Tokyo"}}}}})
             .dump()
      << "\n";
    f << Example("Say hi", "Hi there!") << "\n";
  }
  static inline TempDir* tmp_ = nullptr;
  static inline std::string model_;
  static inline std::unique_ptr<Tokenizer> tok_;
  static inline ChatFormat chatml_;
  TempDir local_;
  std::string data_ = local_ / "chat.jsonl";
};

// The scored targets, decoded, are exactly the assistant replies with their end-of-turn markers.
TEST_F(ChatWindowsTest, LossOnlyOnAssistantTokens) {
  std::unique_ptr<ChatWindows> w;
  Status s = ChatWindows::Build(data_, *tok_, chatml_, 64, /*pack=*/false, 151936, &w);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(w->num_windows(), 3u);  // unpacked: one example per window
  EXPECT_EQ(w->stats().examples, 3);
  const Tokenizer* tok = tok_.get();
  const std::vector<std::string> want = {"4<|im_end|>\n", "Paris<|im_end|>\nTokyo<|im_end|>\n",
                                         "Hi there!<|im_end|>\n"};
  std::vector<uint32_t> in(64), tg(64);
  for (uint64_t i = 0; i < 3; i++) {
    ASSERT_TRUE(w->Read(i, in.data(), tg.data()).ok());
    std::vector<uint32_t> scored;
    for (int t = 0; t < 64; t++) {
      if (tg[t] != Model::kIgnoreIndex) {
        scored.push_back(tg[t]);
        if (t + 1 < 64) {
          EXPECT_EQ(in[t + 1], tg[t]);  // targets are the next inputs
        }
      }
    }
    EXPECT_EQ(tok->Decode(scored, false), want[i]) << i;
    // The window starts with the rendered prompt.
    EXPECT_EQ(tok->Decode({in[0], in[1]}, false), i == 1 ? "<|im_start|>system" : "<|im_start|>user") << i;
  }
}

TEST_F(ChatWindowsTest, PackingPutsWholeExamplesTogether) {
  std::unique_ptr<ChatWindows> packed, cut;
  ASSERT_TRUE(ChatWindows::Build(data_, *tok_, chatml_, 128, true, 151936, &packed).ok());
  EXPECT_EQ(packed->num_windows(), 1u);  // all three examples fit in 129 tokens
  EXPECT_EQ(packed->stats().truncated, 0);
  ASSERT_TRUE(ChatWindows::Build(data_, *tok_, chatml_, 8, true, 151936, &cut).ok());
  EXPECT_EQ(cut->stats().truncated, 3);  // every example is longer than 9 tokens
  EXPECT_EQ(cut->num_windows(), 3u);
}

TEST_F(ChatWindowsTest, ErrorsNameFileAndLine) {
  std::ofstream(data_, std::ios::app) << "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}\n";
  std::unique_ptr<ChatWindows> w;
  Status s = ChatWindows::Build(data_, *tok_, chatml_, 64, true, 151936, &w);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("chat.jsonl:5: not valid JSON"), std::string::npos) << s.message();
  s = ChatWindows::Build(local_ / "none.jsonl", *tok_, chatml_, 64, true, 151936, &w);
  EXPECT_EQ(s.code(), Status::Code::kNotFound);
  s = ChatWindows::Build(data_, *tok_, chatml_, 64, true, 1000, &w);  // ids beyond a 1000-row embedding
  EXPECT_NE(s.message().find("outside the model's 1000-row embedding"), std::string::npos) << s.message();
  std::ofstream(local_ / "user-only.jsonl")
      << nlohmann::json({{"messages", {{{"role", "user"}, {"content", "hi"}}}}}).dump() << "\n";
  s = ChatWindows::Build(local_ / "user-only.jsonl", *tok_, chatml_, 64, true, 151936, &w);
  EXPECT_NE(s.message().find("none of the 1 examples has an assistant reply"), std::string::npos)
      << s.message();
}

// `finmerge sft` end to end: the model learns the replies; the output keeps the tokenizer.
TEST_F(ChatWindowsTest, SftCommandLearnsTheReplies) {
  {
    std::ofstream f(data_);
    for (int i = 0; i < 24; i++) {
      f << Example("Question " + std::to_string(i % 4), "Answer " + std::to_string(i % 4)) << "\n";
    }
  }
  std::string out;
  const std::string cmd = std::string(FINMERGE_BINARY) + " sft --model " + model_ + " --data " + data_ +
                          " --val-data " + data_ + " -o " + (local_ / "out") +
                          " --format chatml --steps 16 --seq-len 32 --batch-size 4 --lr 3e-2 --warmup 2 "
                          "--precision fp32 --eval-batches 2 --threads 2";
  ASSERT_EQ(testing::RunCommand(cmd, &out), 0) << out;
  EXPECT_NE(out.find("sft: steps 0 -> 16"), std::string::npos) << out;
  std::vector<nlohmann::json> m = testing::ReadMetrics(local_ / "out");
  ASSERT_EQ(m.size(), 16u);
  EXPECT_LT(m.back()["loss"].get<double>(), 0.5 * m.front()["loss"].get<double>())
      << testing::ReadBytes(local_ / "out/metrics.jsonl");
  EXPECT_TRUE(m.back().contains("val_loss"));
  EXPECT_EQ(testing::ReadBytes(local_ / "out/tokenizer.json"),
            testing::ReadBytes(model_ + "/tokenizer.json"));
}

}  // namespace
}  // namespace fm
