// `finmerge generate`, `finmerge chat` (piped stdin) and `finmerge score` end to end on a tiny random Qwen3
// model with the real Qwen3 tokenizer and chat template from ../shared/tokenizers: the printed text and
// scores equal what the library computes for the same model, and bad input gives a one-line error.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "eval/language_model.h"
#include "model/model.h"
#include "testing/tiny_checkpoint.h"

namespace fm {
namespace {

class GenerateCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string src = std::string(FINMERGE_SOURCE_DIR) + "/../shared/tokenizers/qwen3";
    if (!std::filesystem::exists(src + "/tokenizer.json")) return;
    dir_ = new testing::TempDir();
    ArchConfig cfg;
    cfg.model_type = "qwen3";
    cfg.vocab_size = 151936;
    cfg.hidden_size = 32;
    cfg.intermediate_size = 64;
    cfg.num_layers = 2;
    cfg.num_heads = 2;
    cfg.num_kv_heads = 1;
    cfg.head_dim = 16;
    cfg.qk_norm = true;
    cfg.max_position = 256;
    std::unique_ptr<Model> m;
    ASSERT_TRUE(Model::Random(cfg, 77, &m).ok());
    // Spread-out logits, so that greedy choices are not near-ties.
    for (const ParamTensor& t : m->param_tensors()) {
      if (t.shape.size() == 2) {
        for (size_t i = 0; i < t.numel; i++) m->params()[t.offset + i] *= 25.0f;
      }
    }
    model_ = *dir_ / "model";
    std::filesystem::create_directories(model_);
    ASSERT_TRUE(m->SaveWeights(model_).ok());
    for (const char* f : {"tokenizer.json", "tokenizer_config.json"}) {
      std::filesystem::copy_file(src + "/" + f, model_ + "/" + f);
    }
    LanguageModelOptions opts;
    opts.precision = "fp32";
    ASSERT_TRUE(LanguageModel::Load(model_, opts, &lm_).ok());
  }
  static void TearDownTestSuite() {
    lm_.reset();
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (!lm_) GTEST_SKIP() << "../shared/tokenizers/qwen3 not found";
  }
  // Runs finmerge with `args`; stdout into *out, stderr into *err; returns the exit status.
  static int Run(const std::string& args, std::string* out, std::string* err,
                 const std::string& stdin_text = "") {
    const std::string err_file = *dir_ / "stderr.txt";
    std::string cmd = std::string(FINMERGE_BINARY) + " " + args + " 2>'" + err_file + "'";
    if (!stdin_text.empty()) {
      std::ofstream(*dir_ / "stdin.txt") << stdin_text;
      cmd += " < '" + (*dir_ / "stdin.txt") + "'";
    }
    const int rc = testing::RunCommand("(" + cmd + ")", out);
    std::ifstream f(err_file);
    err->assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    return rc;
  }
  static testing::TempDir* dir_;
  static std::string model_;
  static std::unique_ptr<LanguageModel> lm_;
};
testing::TempDir* GenerateCli::dir_ = nullptr;
std::string GenerateCli::model_;
std::unique_ptr<LanguageModel> GenerateCli::lm_;

TEST_F(GenerateCli, GenerateStreamsTheLibrarysText) {
  std::string out, err;
  ASSERT_EQ(
      Run("generate --model '" + model_ + "' --prompt 'The yield curve' --max-new-tokens 12 --precision fp32",
          &out, &err),
      0)
      << err;
  GenerateOptions opts;
  opts.max_new_tokens = 12;
  GenerateResult r;
  ASSERT_TRUE(lm_->Generate("The yield curve", opts, &r).ok());
  EXPECT_EQ(out, r.text + "\n");
  EXPECT_NE(err.find("new tokens in"), std::string::npos) << err;
  EXPECT_NE(err.find("tokens/s"), std::string::npos) << err;

  // --chat with a system message, sampled: the library's GenerateChat with the same options.
  ASSERT_EQ(Run("generate --model '" + model_ +
                    "' --chat --system 'Be brief.' --prompt '金利は？' --max-new-tokens 10 --precision fp32 "
                    "--temperature 0.8 --top-k 20 --top-p 0.9 --repetition-penalty 1.1 --seed 5",
                &out, &err),
            0)
      << err;
  opts.max_new_tokens = 10;
  opts.temperature = 0.8f;
  opts.top_k = 20;
  opts.top_p = 0.9f;
  opts.repetition_penalty = 1.1f;
  opts.seed = 5;
  ASSERT_TRUE(lm_->GenerateChat({{"system", "Be brief."}, {"user", "金利は？"}}, opts, &r).ok());
  EXPECT_EQ(out, r.text + "\n");
}

TEST_F(GenerateCli, StopString) {
  GenerateOptions opts;
  opts.max_new_tokens = 20;
  opts.stop_at_eos = false;
  GenerateResult full;
  ASSERT_TRUE(lm_->Generate("Markets", opts, &full).ok());
  ASSERT_GT(full.text.size(), 6u);
  const std::string stop = full.text.substr(full.text.size() / 2, 2);
  if (stop.find('\'') != std::string::npos) GTEST_SKIP() << "stop text needs shell quoting";
  std::string out, err;
  ASSERT_EQ(Run("generate --model '" + model_ +
                    "' --prompt Markets --max-new-tokens 20 --ignore-eos --precision fp32 "
                    "--stop 'zzzz' --stop '" +
                    stop + "'",
                &out, &err),
            0)
      << err;
  EXPECT_EQ(out, full.text.substr(0, full.text.find(stop)) + "\n");
  EXPECT_NE(err.find("finish: stop"), std::string::npos) << err;
}

TEST_F(GenerateCli, ChatFromPipedStdin) {
  std::string out, err;
  ASSERT_EQ(Run("chat --model '" + model_ + "' --max-new-tokens 6 --precision fp32", &out, &err,
                "hi\nwhat next?\n/reset\nagain\n/exit\nnever read\n"),
            0)
      << err;
  GenerateOptions opts;
  opts.max_new_tokens = 6;
  GenerateResult r1, r2, r3;
  ASSERT_TRUE(lm_->GenerateChat({{"user", "hi"}}, opts, &r1).ok());
  ASSERT_TRUE(
      lm_->GenerateChat({{"user", "hi"}, {"assistant", r1.text}, {"user", "what next?"}}, opts, &r2).ok());
  ASSERT_TRUE(lm_->GenerateChat({{"user", "again"}}, opts, &r3).ok());
  EXPECT_EQ(out, r1.text + "\n" + r2.text + "\n" + r3.text + "\n");
  EXPECT_NE(err.find("chat: 3 turns"), std::string::npos) << err;
}

TEST_F(GenerateCli, ScoreWritesLogLikelihoods) {
  const std::string req = *dir_ / "requests.jsonl";
  std::ofstream(req) << R"({"context": "The Fed raised rates", "continuation": " again"})"
                     << "\n"
                     << R"({"context": "The Fed raised rates", "continuation": " by 25 basis points"})"
                     << "\n\n"
                     << R"({"context": "", "continuation": "Hello"})"
                     << "\n";
  const std::string out_file = *dir_ / "scores.jsonl";
  std::string out, err;
  ASSERT_EQ(
      Run("score --model '" + model_ + "' --requests '" + req + "' --out '" + out_file + "' --precision fp32",
          &out, &err),
      0)
      << err;
  EXPECT_NE(err.find("score: 3 requests"), std::string::npos) << err;
  std::vector<LoglikResult> want;
  ASSERT_TRUE(lm_->LogLikelihoods({{"The Fed raised rates", " again"},
                                   {"The Fed raised rates", " by 25 basis points"},
                                   {"", "Hello"}},
                                  &want)
                  .ok());
  std::ifstream f(out_file);
  std::string line;
  for (size_t i = 0; i < want.size(); i++) {
    ASSERT_TRUE(std::getline(f, line));
    nlohmann::json j = nlohmann::json::parse(line);
    EXPECT_DOUBLE_EQ(j["logprob"].get<double>(), want[i].logprob);
    EXPECT_EQ(j["tokens"].get<int>(), want[i].tokens);
    EXPECT_EQ(j["is_greedy"].get<bool>(), want[i].is_greedy);
  }
  EXPECT_FALSE(std::getline(f, line));
}

TEST_F(GenerateCli, BadInputIsOneLineError) {
  std::string out, err;
  EXPECT_NE(Run("generate --model '" + (*dir_ / "missing") + "' --prompt x", &out, &err), 0);
  EXPECT_NE(err.find("missing"), std::string::npos) << err;
  EXPECT_EQ(Run("generate --model '" + model_ + "' --prompt x --system s", &out, &err), 2);
  EXPECT_NE(err.find("--system needs --chat"), std::string::npos) << err;
  EXPECT_EQ(Run("generate --model '" + model_ + "' --prompt x --precision fp16", &out, &err), 2);
  EXPECT_NE(err.find("fp16"), std::string::npos) << err;
  const std::string bad = *dir_ / "bad.jsonl";
  std::ofstream(bad) << "{\"context\": \"a\"}\n";
  EXPECT_EQ(Run("score --model '" + model_ + "' --requests '" + bad + "'", &out, &err), 2);
  EXPECT_NE(err.find("bad.jsonl:1"), std::string::npos) << err;
}

}  // namespace
}  // namespace fm
