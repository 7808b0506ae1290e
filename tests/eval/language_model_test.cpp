// LanguageModel and the KV-cache inference under it, against finmerge's own full forward
// (Model::ForwardLogits, itself checked against PyTorch in tests/model): cached prefill and decode give the
// same logits as the full forward for every architecture; greedy generation with the cache equals
// generation by re-running the full forward; sampling options behave as documented; perplexity windows and
// shared-prefix scoring equal direct computations; stop strings and the lm-evaluation-harness tokenization
// rule, with the real Qwen3 tokenizer.
#include "eval/language_model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "eval/sampler.h"
#include "model/inference.h"
#include "model/model.h"
#include "model/tiny_models.h"
#include "testing/tiny_checkpoint.h"
#include "tokenizer/tokenizer.h"

namespace fm {
namespace {

std::unique_ptr<Model> TinyModel(const ArchConfig& cfg, uint64_t seed) {
  std::unique_ptr<Model> m;
  Status s = Model::Random(cfg, seed, &m);
  EXPECT_TRUE(s.ok()) << s.ToString();
  testing::PerturbForTest(m.get(), seed + 1);
  return m;
}

std::unique_ptr<LanguageModel> TinyLm(const ArchConfig& cfg, uint64_t seed, int max_context,
                                      const std::string& precision = "fp32") {
  LanguageModelOptions opts;
  opts.precision = precision;
  opts.max_context = max_context;
  std::unique_ptr<LanguageModel> lm;
  Status s = LanguageModel::FromModel(TinyModel(cfg, seed), nullptr, ChatFormat(), opts, &lm);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return lm;
}

std::vector<uint32_t> RandomTokens(int n, int V, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint32_t> t(n);
  for (auto& x : t) x = static_cast<uint32_t>(rng() % V);
  return t;
}

// log softmax(row)[target] in double.
double LogSoftmaxAt(const float* row, int V, uint32_t target) {
  double m = row[0];
  for (int i = 1; i < V; i++) m = std::max(m, static_cast<double>(row[i]));
  double s = 0;
  for (int i = 0; i < V; i++) s += std::exp(row[i] - m);
  return row[target] - m - std::log(s);
}

// Full-forward logits (T, V) of one sequence.
std::vector<float> FullLogits(Model& m, const std::vector<uint32_t>& tokens) {
  std::vector<float> logits(tokens.size() * m.config().vocab_size);
  m.ForwardLogits(tokens.data(), 1, static_cast<int>(tokens.size()), logits.data());
  return logits;
}

// ---- KV cache vs full forward, every architecture ----

class CachedForward : public ::testing::TestWithParam<size_t> {};

void CompareCachedWithFull(const testing::TinyCase& c, Precision precision, double tol, int T,
                           int max_context) {
  std::unique_ptr<Model> m = TinyModel(c.cfg, 11);
  m->set_precision(precision);
  const int V = c.cfg.vocab_size;
  std::vector<uint32_t> tokens = RandomTokens(T, V, 5);
  std::vector<float> ref = FullLogits(*m, tokens);
  Inference inf(m.get(), max_context);
  KvCache cache = inf.NewCache(T);
  std::vector<float> got(static_cast<size_t>(T) * V);
  // Prefill 5 tokens, decode 4 single steps, then prefill the rest in one call.
  int pos = 0;
  for (int len : {5, 1, 1, 1, 1, T - 9}) {
    inf.Forward(&cache, tokens.data() + pos, len, got.data() + static_cast<size_t>(pos) * V, len);
    pos += len;
  }
  ASSERT_EQ(cache.length(), T);
  double diff = 0, scale = 0;
  for (size_t i = 0; i < got.size(); i++) {
    diff = std::max(diff, std::fabs(static_cast<double>(got[i]) - ref[i]));
    scale = std::max(scale, std::fabs(static_cast<double>(ref[i])));
  }
  EXPECT_LT(diff / scale, tol) << c.name;
  // Only the last rows' logits: the same values.
  cache.set_length(0);
  std::vector<float> last(3 * V);
  inf.Forward(&cache, tokens.data(), T, last.data(), 3);
  for (int i = 0; i < 3 * V; i++) {
    ASSERT_NEAR(last[i], ref[static_cast<size_t>(T - 3) * V + i], tol * scale) << c.name << " logit " << i;
  }
}

TEST_P(CachedForward, F32EqualsFullForward) {
  const testing::TinyCase c = testing::TinyCases()[GetParam()];
  CompareCachedWithFull(c, Precision::kF32, 2e-5, std::max(c.T, 20), std::max(c.T, 64));
}

TEST_P(CachedForward, Bf16CloseToFullForward) {
  const testing::TinyCase c = testing::TinyCases()[GetParam()];
  CompareCachedWithFull(c, Precision::kBF16, 2e-2, std::max(c.T, 20), std::max(c.T, 64));
}

INSTANTIATE_TEST_SUITE_P(AllArchitectures, CachedForward,
                         ::testing::Range<size_t>(0, testing::TinyCases().size()),
                         [](const ::testing::TestParamInfo<size_t>& info) {
                           return testing::TinyCases()[info.param].name;
                         });

TEST(CachedForwardChunks, PrefillLongerThanOneChunk) {
  // 300 tokens > the 256 rows of one internal forward.
  CompareCachedWithFull(testing::TinyCases()[0], Precision::kF32, 2e-5, 300, 300);
}

// ---- generation ----

// Greedy generation by re-running the full forward over the whole sequence at every step (no cache). Stops
// comparing at the first near-tie (top-two logit gap < 1e-3), where two correct implementations may differ.
TEST(Generate, GreedyWithCacheEqualsFullReforward) {
  for (const testing::TinyCase& c : testing::TinyCases()) {
    std::unique_ptr<LanguageModel> lm = TinyLm(c.cfg, 21, 64);
    std::vector<uint32_t> prompt = RandomTokens(7, c.cfg.vocab_size, 3);
    GenerateOptions opts;
    opts.max_new_tokens = 24;
    opts.stop_at_eos = false;
    GenerateResult r;
    ASSERT_TRUE(lm->GenerateIds(prompt, opts, &r).ok());
    ASSERT_EQ(r.tokens.size(), 24u);
    EXPECT_EQ(r.finish_reason, "length");
    std::vector<uint32_t> seq = prompt;
    const int V = c.cfg.vocab_size;
    int compared = 0;
    for (size_t i = 0; i < r.tokens.size(); i++) {
      std::vector<float> logits = FullLogits(lm->model(), seq);
      const float* row = logits.data() + (seq.size() - 1) * V;
      int best = 0, second = -1;
      for (int v = 1; v < V; v++) {
        if (row[v] > row[best]) {
          second = best;
          best = v;
        } else if (second < 0 || row[v] > row[second]) {
          second = v;
        }
      }
      if (row[best] - row[second] < 1e-3f) break;
      ASSERT_EQ(r.tokens[i], static_cast<uint32_t>(best)) << c.name << " step " << i;
      compared++;
      seq.push_back(r.tokens[i]);
    }
    EXPECT_GE(compared, 12) << c.name << ": too many near-ties to compare";
  }
}

TEST(Generate, SamplingIsDeterministicBySeedAndTopK1IsGreedy) {
  const testing::TinyCase c = testing::TinyCases()[3];
  std::unique_ptr<LanguageModel> lm = TinyLm(c.cfg, 31, 64);
  const std::vector<uint32_t> prompt = RandomTokens(5, c.cfg.vocab_size, 9);
  GenerateOptions greedy;
  greedy.max_new_tokens = 20;
  greedy.stop_at_eos = false;
  GenerateResult g;
  ASSERT_TRUE(lm->GenerateIds(prompt, greedy, &g).ok());

  GenerateOptions sample = greedy;
  sample.temperature = 50.0f;  // the perturbed model is very peaked: flatten it
  sample.seed = 7;
  GenerateResult a, b, other;
  ASSERT_TRUE(lm->GenerateIds(prompt, sample, &a).ok());
  ASSERT_TRUE(lm->GenerateIds(prompt, sample, &b).ok());
  EXPECT_EQ(a.tokens, b.tokens);
  sample.seed = 8;
  ASSERT_TRUE(lm->GenerateIds(prompt, sample, &other).ok());
  EXPECT_NE(a.tokens, other.tokens);  // 20 draws from a nearly flat 97-token distribution
  EXPECT_NE(a.tokens, g.tokens);

  GenerateOptions topk1 = sample;
  topk1.top_k = 1;
  GenerateResult k1;
  ASSERT_TRUE(lm->GenerateIds(prompt, topk1, &k1).ok());
  EXPECT_EQ(k1.tokens, g.tokens);
  GenerateOptions tiny_p = sample;
  tiny_p.top_p = 1e-6f;
  GenerateResult p1;
  ASSERT_TRUE(lm->GenerateIds(prompt, tiny_p, &p1).ok());
  EXPECT_EQ(p1.tokens, g.tokens);
}

TEST(Generate, RejectsBadInput) {
  std::unique_ptr<LanguageModel> lm = TinyLm(testing::TinyCases()[0].cfg, 1, 16);
  GenerateOptions opts;
  GenerateResult r;
  EXPECT_FALSE(lm->GenerateIds({1, 2, 500}, opts, &r).ok());              // id >= vocab
  EXPECT_FALSE(lm->GenerateIds(RandomTokens(16, 97, 1), opts, &r).ok());  // fills the context
  opts.top_p = 0;
  EXPECT_FALSE(lm->GenerateIds({1, 2}, opts, &r).ok());
  // The context bounds the new tokens.
  GenerateOptions ok;
  ok.max_new_tokens = 100;
  ok.stop_at_eos = false;
  ASSERT_TRUE(lm->GenerateIds(RandomTokens(10, 97, 1), ok, &r).ok());
  EXPECT_EQ(r.tokens.size(), 6u);
  EXPECT_EQ(r.finish_reason, "length");
}

// ---- Sampler on hand-made logits ----

TEST(Sampler, RepetitionPenaltyTopKTopP) {
  GenerateOptions o;
  o.repetition_penalty = 2.0f;
  {
    Sampler s(o, 4);
    float logits[4] = {1.0f, 1.5f, -1.0f, 0.2f};
    s.Observe(1);  // 1.5 -> 0.75, below token 0
    EXPECT_EQ(s.Pick(logits), 0u);
    EXPECT_FLOAT_EQ(logits[1], 0.75f);
  }
  {
    Sampler s(o, 3);
    float logits[3] = {-0.5f, -0.4f, -3.0f};
    s.Observe(1);  // negative logits are multiplied: -0.4 -> -0.8
    EXPECT_EQ(s.Pick(logits), 0u);
  }
  // top-k 2 never draws the third token; top-p 0.5 over probabilities (0.6, 0.3, 0.1) keeps only the first;
  // top-p 0.7 keeps the first two, in proportion 2:1.
  const float base[3] = {std::log(0.6f), std::log(0.3f), std::log(0.1f)};
  GenerateOptions t;
  t.temperature = 1.0f;
  t.seed = 3;
  int counts[3][3] = {};
  for (int mode = 0; mode < 3; mode++) {
    GenerateOptions m = t;
    if (mode == 0) m.top_k = 2;
    if (mode == 1) m.top_p = 0.5f;
    if (mode == 2) m.top_p = 0.7f;
    Sampler s(m, 3);
    for (int i = 0; i < 3000; i++) {
      float l[3] = {base[0], base[1], base[2]};
      counts[mode][s.Pick(l)]++;
    }
  }
  EXPECT_EQ(counts[0][2], 0);
  EXPECT_NEAR(counts[0][0] / 3000.0, 2.0 / 3.0, 0.04);
  EXPECT_EQ(counts[1][0], 3000);
  EXPECT_EQ(counts[2][2], 0);
  EXPECT_NEAR(counts[2][0] / 3000.0, 2.0 / 3.0, 0.04);
  // Without top-k/top-p every token appears, near its probability.
  Sampler all(t, 3);
  int n[3] = {};
  for (int i = 0; i < 3000; i++) {
    float l[3] = {base[0], base[1], base[2]};
    n[all.Pick(l)]++;
  }
  EXPECT_NEAR(n[2] / 3000.0, 0.1, 0.03);
}

// ---- perplexity ----

// Brute force: token i (>= 1) scored given tokens [begin(i), i) where begin(i) is the start of the window
// that scores it; windows start at multiples of s and score the tokens after the previous window's end.
double BruteForceNll(Model& m, const std::vector<uint32_t>& t, int W, int s) {
  const int n = static_cast<int>(t.size()), V = m.config().vocab_size;
  double nll = 0;
  int scored_end = 1;
  for (int begin = 0; scored_end < n; begin += s) {
    const int end = std::min(n, begin + W);
    for (int i = scored_end; i < end; i++) {
      std::vector<uint32_t> ctx(t.begin() + begin, t.begin() + i);
      std::vector<float> logits = FullLogits(m, ctx);
      nll -= LogSoftmaxAt(logits.data() + (ctx.size() - 1) * V, V, t[i]);
    }
    scored_end = end;
  }
  return nll / (n - 1);
}

TEST(Perplexity, WindowsAndStride) {
  const testing::TinyCase c = testing::TinyCases()[2];       // mistral, sliding window 70 (> W: no effect)
  std::unique_ptr<LanguageModel> lm = TinyLm(c.cfg, 41, 8);  // W = 8
  const std::vector<uint32_t> t = RandomTokens(23, c.cfg.vocab_size, 4);
  struct Case {
    int stride, s;
  };
  for (Case k : {Case{0, 7}, Case{8, 7}, Case{100, 7}, Case{3, 3}, Case{1, 1}}) {
    PerplexityResult r;
    ASSERT_TRUE(lm->Perplexity(t, k.stride, &r).ok());
    EXPECT_EQ(r.tokens, 22);
    const double want = BruteForceNll(lm->model(), t, 8, k.s);
    EXPECT_NEAR(r.nll, want, 1e-5 * want) << "stride " << k.stride;
    EXPECT_NEAR(r.ppl, std::exp(want), 1e-5 * std::exp(want));
  }
  // Hand-checkable windows for W = 8, stride 0 (s = 7): [0,8) scores 1..7, [7,15) scores 8..14, [14,22)
  // scores 15..21, [21,23) scores 22: every token after the first exactly once.
  // A text shorter than the window: the plain full-sequence mean NLL.
  const std::vector<uint32_t> shortt(t.begin(), t.begin() + 6);
  PerplexityResult r;
  ASSERT_TRUE(lm->Perplexity(shortt, 0, &r).ok());
  std::vector<uint32_t> inputs(shortt.begin(), shortt.end() - 1), targets(shortt.begin() + 1, shortt.end());
  const float loss = lm->model().ForwardLoss(inputs.data(), targets.data(), 1, 5);
  EXPECT_NEAR(r.nll, loss, 1e-5 * loss);
  EXPECT_EQ(r.tokens, 5);
  EXPECT_FALSE(lm->Perplexity({3}, 0, &r).ok());
}

// ---- log-likelihoods ----

TEST(LogLikelihoods, SharedPrefixEqualsIndependentFullForward) {
  const testing::TinyCase c = testing::TinyCases()[4];  // qwen3
  std::unique_ptr<LanguageModel> lm = TinyLm(c.cfg, 51, 32);
  const int V = c.cfg.vocab_size;
  const std::vector<uint32_t> ctx_a = RandomTokens(9, V, 1), ctx_b = RandomTokens(4, V, 2);
  std::vector<LoglikTokens> reqs = {{ctx_a, RandomTokens(3, V, 3)}, {ctx_b, RandomTokens(1, V, 4)},
                                    {ctx_a, RandomTokens(5, V, 5)}, {ctx_a, RandomTokens(1, V, 6)},
                                    {ctx_b, RandomTokens(2, V, 7)}, {{7}, RandomTokens(4, V, 8)}};
  // A request whose context + continuation exceeds W + 1 = 33 tokens keeps the last 33 tokens.
  reqs.push_back({RandomTokens(40, V, 9), RandomTokens(3, V, 10)});
  // Make one continuation the greedy one: its token is the argmax after ctx_a.
  {
    std::vector<float> logits = FullLogits(lm->model(), ctx_a);
    const float* row = logits.data() + (ctx_a.size() - 1) * V;
    reqs[3].continuation = {static_cast<uint32_t>(std::max_element(row, row + V) - row)};
  }
  std::vector<LoglikResult> got;
  ASSERT_TRUE(lm->LogLikelihoodsIds(reqs, &got).ok());
  ASSERT_EQ(got.size(), reqs.size());
  for (size_t i = 0; i < reqs.size(); i++) {
    std::vector<uint32_t> whole = reqs[i].context;
    whole.insert(whole.end(), reqs[i].continuation.begin(), reqs[i].continuation.end());
    if (whole.size() > 33) whole.erase(whole.begin(), whole.end() - 33);
    const std::vector<uint32_t> input(whole.begin(), whole.end() - 1);
    std::vector<float> logits = FullLogits(lm->model(), input);
    const size_t n = reqs[i].continuation.size(), first = input.size() - n;
    double want = 0;
    bool greedy = true;
    for (size_t k = 0; k < n; k++) {
      const float* row = logits.data() + (first + k) * V;
      want += LogSoftmaxAt(row, V, reqs[i].continuation[k]);
      greedy =
          greedy && static_cast<uint32_t>(std::max_element(row, row + V) - row) == reqs[i].continuation[k];
    }
    EXPECT_NEAR(got[i].logprob, want, 1e-4 * std::fabs(want) + 1e-5) << "request " << i;
    EXPECT_EQ(got[i].is_greedy, greedy) << "request " << i;
    EXPECT_EQ(got[i].tokens, static_cast<int>(n));
    // Scored alone: the same value.
    std::vector<LoglikResult> alone;
    ASSERT_TRUE(lm->LogLikelihoodsIds({reqs[i]}, &alone).ok());
    EXPECT_NEAR(alone[0].logprob, got[i].logprob, 1e-5 * std::fabs(want) + 1e-6);
  }
  EXPECT_TRUE(got[3].is_greedy);
  EXPECT_FALSE(lm->LogLikelihoodsIds({{{}, {1}}}, &got).ok());        // empty context
  EXPECT_FALSE(lm->LogLikelihoodsIds({{{1}, {1, 999}}}, &got).ok());  // id outside the vocabulary
}

// ---- with the real Qwen3 tokenizer: stop strings, streaming, the harness' tokenization rule ----

class WithTokenizer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string src = std::string(FINMERGE_SOURCE_DIR) + "/../shared/tokenizers/qwen3";
    if (!std::filesystem::exists(src + "/tokenizer.json")) return;
    dir_ = new testing::TempDir();
    ArchConfig cfg = testing::TinyBase("qwen3");
    cfg.vocab_size = 151936;
    cfg.hidden_size = 32;
    cfg.intermediate_size = 48;
    cfg.num_heads = 2;
    cfg.num_kv_heads = 1;
    cfg.head_dim = 16;
    cfg.qk_norm = true;
    cfg.num_layers = 1;
    cfg.max_position = 128;
    std::unique_ptr<Model> m = TinyModel(cfg, 61);
    ASSERT_TRUE(m->SaveWeights(dir_->path()).ok());
    for (const char* f : {"tokenizer.json", "tokenizer_config.json"}) {
      std::filesystem::copy_file(src + "/" + f, *dir_ / f);
    }
    LanguageModelOptions opts;
    opts.precision = "fp32";
    Status s = LanguageModel::Load(dir_->path(), opts, &lm_);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  static void TearDownTestSuite() {
    lm_.reset();
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (!lm_) GTEST_SKIP() << "../shared/tokenizers/qwen3 not found";
  }
  static testing::TempDir* dir_;
  static std::unique_ptr<LanguageModel> lm_;
};
testing::TempDir* WithTokenizer::dir_ = nullptr;
std::unique_ptr<LanguageModel> WithTokenizer::lm_;

TEST_F(WithTokenizer, StopStringsAndStreaming) {
  GenerateOptions opts;
  opts.max_new_tokens = 40;
  opts.stop_at_eos = false;
  GenerateResult full;
  std::string streamed;
  ASSERT_TRUE(lm_->Generate("The market", opts, &full, [&](const std::string& p) { streamed += p; }).ok());
  EXPECT_EQ(streamed, full.text);
  EXPECT_EQ(full.text, lm_->tokenizer().Decode(full.tokens, true));
  ASSERT_GT(full.text.size(), 12u);
  // Stop at a piece from the middle of the text: the result is the text before its first occurrence.
  const std::string stop = full.text.substr(full.text.size() / 2, 3);
  opts.stop_strings = {"never appears in this text \x01", stop};
  GenerateResult cut;
  streamed.clear();
  ASSERT_TRUE(lm_->Generate("The market", opts, &cut, [&](const std::string& p) { streamed += p; }).ok());
  EXPECT_EQ(cut.finish_reason, "stop");
  EXPECT_EQ(cut.text, full.text.substr(0, full.text.find(stop)));
  EXPECT_EQ(streamed, cut.text);
  EXPECT_LT(cut.tokens.size(), full.tokens.size());
}

TEST_F(WithTokenizer, EosFromGenerationConfigEndsGeneration) {
  GenerateOptions opts;
  opts.max_new_tokens = 30;
  opts.stop_at_eos = false;
  GenerateResult free_run;
  ASSERT_TRUE(lm_->Generate("The market", opts, &free_run).ok());
  // Declare the first token that does not occur earlier in the output as eos in generation_config.json.
  size_t k = 3;
  while (k < free_run.tokens.size() && std::find(free_run.tokens.begin(), free_run.tokens.begin() + k,
                                                 free_run.tokens[k]) != free_run.tokens.begin() + k) {
    k++;
  }
  ASSERT_LT(k, free_run.tokens.size());
  testing::TempDir copy;
  for (const auto& e : std::filesystem::directory_iterator(dir_->path())) {
    std::filesystem::copy_file(e.path(), copy / e.path().filename().string());
  }
  testing::WriteJsonFile(copy / "generation_config.json", {{"eos_token_id", {12345, free_run.tokens[k]}}});
  LanguageModelOptions lo;
  lo.precision = "fp32";
  std::unique_ptr<LanguageModel> lm;
  ASSERT_TRUE(LanguageModel::Load(copy.path(), lo, &lm).ok());
  opts.stop_at_eos = true;
  GenerateResult r;
  ASSERT_TRUE(lm->Generate("The market", opts, &r).ok());
  EXPECT_EQ(r.finish_reason, "eos");
  EXPECT_EQ(r.tokens, std::vector<uint32_t>(free_run.tokens.begin(), free_run.tokens.begin() + k));
}

TEST_F(WithTokenizer, HarnessTokenizationRule) {
  const Tokenizer& tok = lm_->tokenizer();
  auto enc = [&](const std::string& s) {
    std::vector<uint32_t> ids;
    EXPECT_TRUE(tok.Encode(s, false, &ids).ok());
    return ids;
  };
  LoglikTokens t;
  // Trailing whitespace of the context moves to the continuation.
  ASSERT_TRUE(lm_->EncodeLoglik({"Question: 1+1 =  ", "2"}, &t).ok());
  EXPECT_EQ(t.context, enc("Question: 1+1 ="));
  std::vector<uint32_t> whole = enc("Question: 1+1 =  2");
  EXPECT_EQ(t.continuation, std::vector<uint32_t>(whole.begin() + t.context.size(), whole.end()));
  // An empty context becomes the eos token.
  ASSERT_TRUE(lm_->EncodeLoglik({"", "Yes"}, &t).ok());
  EXPECT_EQ(t.context, std::vector<uint32_t>{*tok.eos_id()});
  EXPECT_EQ(t.continuation, enc("Yes"));
  // String requests score the same as their token form.
  std::vector<LoglikRequest> reqs = {{"金利は", "上昇した"}, {"金利は", "低下した"}, {"The rate ", "rose"}};
  std::vector<LoglikResult> a, b;
  ASSERT_TRUE(lm_->LogLikelihoods(reqs, &a).ok());
  std::vector<LoglikTokens> ids(reqs.size());
  for (size_t i = 0; i < reqs.size(); i++) ASSERT_TRUE(lm_->EncodeLoglik(reqs[i], &ids[i]).ok());
  ASSERT_TRUE(lm_->LogLikelihoodsIds(ids, &b).ok());
  for (size_t i = 0; i < reqs.size(); i++) {
    EXPECT_EQ(a[i].logprob, b[i].logprob);
    EXPECT_GT(a[i].tokens, 0);
    EXPECT_LT(a[i].logprob, 0);
  }
  // BindLoglik and BindChat reach the same model.
  std::vector<LoglikResult> c;
  ASSERT_TRUE(BindLoglik(lm_.get())(reqs, &c).ok());
  EXPECT_EQ(c[0].logprob, a[0].logprob);
  std::string reply;
  Status s = BindChat(lm_.get())({{"user", "hi"}}, 8, &reply);
  ASSERT_TRUE(s.ok()) << s.ToString();
}

}  // namespace
}  // namespace fm
