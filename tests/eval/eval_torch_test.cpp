// Perplexity and multiple-choice log-likelihoods from finmerge's KV-cache inference against an independent
// PyTorch computation (tests/eval/torch_eval_reference.py: float64 full forwards, no cache, the window and
// truncation rules written out separately) on tiny random models of every architecture (llama with GQA and
// Llama-3 rope scaling, llama with attention biases, mistral with a sliding window shorter than the context,
// qwen2, qwen3 with qk-norm, Qwen-1).
//
// Tolerances (measured on this machine in brackets):
//   fp32: mean NLL relative 2e-6 [3e-8]; each log-likelihood |ours - ref| <= 2e-5 * |ref| + 1e-5 [2e-7
//         relative], and the same argmax flag.
//   bf16: mean NLL relative 5e-3 [5e-4]; log-likelihoods |ours - ref| <= 2e-2 * |ref| + 2e-2 [2.6e-3
//   relative]
//         (bf16 weights and GEMM inputs keep 8 mantissa bits).
// The test fails when python3 with torch is missing (install it with scripts/install-deps.sh).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "eval/language_model.h"
#include "io/model_folder.h"
#include "model/model.h"
#include "model/tiny_models.h"
#include "testing/tiny_checkpoint.h"
#include "tokenizer/tokenizer.h"

namespace fm {
namespace {

std::vector<uint32_t> RandomTokens(int n, int V, std::mt19937_64& rng) {
  std::vector<uint32_t> t(n);
  for (auto& x : t) x = static_cast<uint32_t>(rng() % V);
  return t;
}

// The window W of a case: 100 for the sliding-window model (window 70 < W, so it takes effect), else 24.
int WindowOf(const testing::TinyCase& c) {
  return c.cfg.sliding_window ? 100 : 24;
}

class EvalVsTorch : public ::testing::TestWithParam<size_t> {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    std::vector<testing::TinyCase> cases = testing::TinyCases();
    std::string case_dirs;
    for (size_t i = 0; i < cases.size(); i++) {
      const std::string dir = *dir_ / cases[i].name;
      std::filesystem::create_directories(dir + "/model");
      std::unique_ptr<Model> m;
      Status s = Model::Random(cases[i].cfg, 100 + i, &m);
      if (s.ok()) {
        testing::PerturbForTest(m.get(), 200 + i);
        s = m->SaveWeights(dir + "/model");
      }
      if (!s.ok()) {
        error_ = cases[i].name + ": " + s.ToString();
        return;
      }
      const int V = cases[i].cfg.vocab_size, W = WindowOf(cases[i]);
      std::mt19937_64 rng(300 + i);
      nlohmann::json req;
      req["window"] = W;
      const std::vector<uint32_t> stream = RandomTokens(2 * W + 13, V, rng);
      req["ppl"] = {{{"tokens", stream}, {"stride", 0}},
                    {{"tokens", stream}, {"stride", W / 3}},
                    {{"tokens", RandomTokens(W / 2, V, rng)}, {"stride", 0}}};
      // Multiple-choice-like requests: two questions with four choices each, one that needs truncation,
      // one with a single-token context.
      nlohmann::json ll = nlohmann::json::array();
      for (int q = 0; q < 2; q++) {
        const std::vector<uint32_t> ctx = RandomTokens(W / 2 + 3 * q, V, rng);
        for (int choice = 0; choice < 4; choice++) {
          ll.push_back({{"context", ctx}, {"continuation", RandomTokens(1 + choice, V, rng)}});
        }
      }
      ll.push_back({{"context", RandomTokens(W + 5, V, rng)}, {"continuation", RandomTokens(3, V, rng)}});
      ll.push_back({{"context", RandomTokens(1, V, rng)}, {"continuation", RandomTokens(2, V, rng)}});
      req["loglik"] = ll;
      std::ofstream(dir + "/requests.json") << req.dump();
      case_dirs += " '" + dir + "'";
    }
    const std::string py = testing::TorchPython();
    if (py.empty()) {
      error_ =
          "no python3 with torch and numpy found (run: bash scripts/install-deps.sh, or set FINMERGE_PYTHON)";
      return;
    }
    std::string out;
    const std::string script = std::string(FINMERGE_SOURCE_DIR) + "/tests/eval/torch_eval_reference.py";
    if (testing::RunCommand(py + " '" + script + "'" + case_dirs, &out) != 0) {
      error_ = "torch_eval_reference.py failed:\n" + out;
    }
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  void Compare(const std::string& precision, double nll_tol, double ll_rel, double ll_abs) {
    ASSERT_TRUE(error_.empty()) << error_;
    const testing::TinyCase c = testing::TinyCases()[GetParam()];
    const std::string dir = *dir_ / c.name;
    std::unique_ptr<ModelFolder> folder;
    ASSERT_TRUE(ModelFolder::Open(dir + "/model", &folder).ok());
    std::unique_ptr<Model> m;
    ASSERT_TRUE(Model::FromFolder(*folder, &m).ok());
    LanguageModelOptions opts;
    opts.precision = precision;
    opts.max_context = WindowOf(c);
    std::unique_ptr<LanguageModel> lm;
    Status s = LanguageModel::FromModel(std::move(m), nullptr, ChatFormat(), opts, &lm);
    ASSERT_TRUE(s.ok()) << s.ToString();
    nlohmann::json req = nlohmann::json::parse(std::ifstream(dir + "/requests.json"));
    nlohmann::json ref = nlohmann::json::parse(std::ifstream(dir + "/reference.json"));
    double worst_nll = 0, worst_ll = 0;
    for (size_t i = 0; i < req["ppl"].size(); i++) {
      PerplexityResult r;
      s = lm->Perplexity(req["ppl"][i]["tokens"].get<std::vector<uint32_t>>(), req["ppl"][i]["stride"], &r);
      ASSERT_TRUE(s.ok()) << s.ToString();
      const double want = ref["ppl"][i]["nll"];
      EXPECT_EQ(r.tokens, ref["ppl"][i]["tokens"].get<int64_t>());
      const double err = std::fabs(r.nll - want) / want;
      EXPECT_LT(err, nll_tol) << c.name << " perplexity " << i << ": " << r.nll << " vs torch " << want;
      worst_nll = std::max(worst_nll, err);
    }
    std::vector<LoglikTokens> reqs;
    for (const auto& r : req["loglik"]) {
      reqs.push_back(
          {r["context"].get<std::vector<uint32_t>>(), r["continuation"].get<std::vector<uint32_t>>()});
    }
    std::vector<LoglikResult> got;
    s = lm->LogLikelihoodsIds(reqs, &got);
    ASSERT_TRUE(s.ok()) << s.ToString();
    for (size_t i = 0; i < reqs.size(); i++) {
      const double want = ref["loglik"][i]["logprob"];
      const double err = std::fabs(got[i].logprob - want);
      EXPECT_LE(err, ll_rel * std::fabs(want) + ll_abs)
          << c.name << " request " << i << ": " << got[i].logprob << " vs torch " << want;
      if (precision == "fp32") {
        EXPECT_EQ(got[i].is_greedy, ref["loglik"][i]["is_greedy"].get<bool>()) << c.name << " request " << i;
      }
      worst_ll = std::max(worst_ll, err / (std::fabs(want) + 1e-9));
    }
    std::printf("[ %-26s %s ] perplexity rel err %.2e, log-likelihood rel err %.2e\n", c.name.c_str(),
                precision.c_str(), worst_nll, worst_ll);
  }

  static testing::TempDir* dir_;
  static std::string error_;
};

testing::TempDir* EvalVsTorch::dir_ = nullptr;
std::string EvalVsTorch::error_;

TEST_P(EvalVsTorch, F32MatchesTorch) {
  Compare("fp32", 2e-6, 2e-5, 1e-5);
}
TEST_P(EvalVsTorch, Bf16MatchesTorchLoosely) {
  Compare("bf16", 5e-3, 2e-2, 2e-2);
}

INSTANTIATE_TEST_SUITE_P(AllArchitectures, EvalVsTorch,
                         ::testing::Range<size_t>(0, testing::TinyCases().size()),
                         [](const ::testing::TestParamInfo<size_t>& info) {
                           return testing::TinyCases()[info.param].name;
                         });

}  // namespace
}  // namespace fm
