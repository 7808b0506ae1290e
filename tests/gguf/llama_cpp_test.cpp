// llama.cpp as the oracle of the GGUF export. Tiny random llama (GQA, permuted Q/K), mistral, qwen2 (q/k/v
// biases, tied embeddings) and qwen3 (q/k norms) models with real tokenizers (../shared/tokenizers: Llama-3
// for llama/mistral, Qwen3 for qwen2/qwen3) are exported as F32, F16 and Q8_0 and loaded by llama.cpp
// (@fugood/llama.node, tests/oracle/llama_cpp_check.mjs).
//
// Checks, per prompt:
//  - llama.cpp's tokenization equals finmerge's;
//  - llama.cpp's greedy continuation equals finmerge's greedy decoding on exactly the weights the GGUF holds
//    (read back by ImportGguf; for F32 the source folder itself) up to the first near-tie, a step whose top
//    two logits are within 1e-3 (float summation order may flip those).
//    F32 and F16: 12 prompts x 16 tokens, every prompt equal; finmerge's logits are Model::ForwardLogits over
//    the whole sequence at every step.
//    Q8_0: 24 prompts x 8 tokens, at least 95% of prompts equal (the bar; measured: all, see below);
//    finmerge's logits are Model's forward with llama.cpp's Q8_0 arithmetic (q8_0_reference.h).
//
// Why Q8_0 needs that reference: ggml multiplies a Q8_0 matrix by activations it first quantises to Q8_0
// blocks itself (~0.5% per value). These tiny random models have flat logits (top-2 gaps of a few 1e-3 are
// common), so against plain f32 activations 0-4 of 24 prompts flipped within 8 tokens, always at gaps below
// ~0.05. Training the models first does not cure it: models trained briefly on FOMC statements (loss 7 ->
// 0.5-1.4) flipped as often (18-23 of 24), at gaps up to ~0.1, since training grows the activations and the
// rounding with them. With the activation rounding reproduced, seeds 1-5 and 7 of all four architectures
// matched every prompt over 8 tokens; over 16 tokens, 1 prompt of 360 flipped at token 15 (gap 0.004: one
// activation landing on the other side of a rounding boundary). A layout error still breaks the check: with
// the reference's Q/K rows in the GGUF's interleaved order, Q8_0 llama keeps 8 of 24 prompts, qwen3 none.
//
// Why the earlier F16 / qwen2 divergences were not export bugs: llama.cpp stores the K/V cache as f16 by
// default (the oracle keeps it in f32, flash attention off), it multiplies F16 weights with activations
// rounded to f16, and the former tiny models (weights N(0, 0.35) at width 64: every layer amplifies a
// perturbation ~3x) turned that rounding into logit changes far above 1e-3. The models here are well
// conditioned (weights N(0, 0.08), logits ~0.3 wide, output rows scaled by exp(N(0, 0.5)) so the top of the
// logit distribution spreads as in a trained model), and F32/F16 match on every token.
//
// The test fails (is not skipped) when the oracle cannot run.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "gguf/gguf_export.h"
#include "gguf/gguf_import.h"
#include "gguf_test_util.h"
#include "io/model_folder.h"
#include "model/model.h"
#include "q8_0_reference.h"
#include "tokenizer/byte_level.h"

namespace fm::gguf {
namespace {

constexpr float kNearTie = 1e-3f;

const std::vector<std::string>& Prompts() {
  static const std::vector<std::string> k = {
      "Hello, world!",
      "The quick brown fox jumps over the lazy dog.",
      "def f(x):\n    return x * 2\n",
      "東京は日本の首都です。",
      "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
      "Numbers 12345 and 3.14159",
      "  leading spaces and\ttabs",
      "Ünïcödé façade — naïve café",
      "The central bank raised its policy rate by 25 basis points.",
      "日銀は金融政策決定会合で現状維持を決めた。",
      "Net income rose 12% year over year to $4.2 billion.",
      "Q: What is a bond's yield to maturity?\nA:",
      "for (int i = 0; i < n; i++) { sum += a[i]; }",
      "株価指数は前日比1.5%上昇した。",
      "Once upon a time",
      "SELECT name, price FROM stocks WHERE price > 100;",
      "Inflation expectations remain anchored, the committee said.",
      "The ratio of debt to equity is",
      "円相場は一時1ドル=150円台まで下落した。",
      "Risk factors include interest rate changes and credit losses.",
      "1, 1, 2, 3, 5, 8, 13,",
      "Dear shareholders,\n\nThis year",
      "The yield curve inverted in",
      "Émission d'obligations à taux fixe",
  };
  return k;
}

struct Greedy {
  std::vector<uint32_t> prompt, generated;
  std::vector<float> gaps;  // top-1 minus top-2 logit at each generated step
};

// Greedy decoding of `n` tokens. q8_0_arithmetic: logits as llama.cpp computes them with Q8_0 weights
// (q8_0_reference.h); otherwise Model::ForwardLogits over the whole sequence.
Greedy Decode(Model& m, const Tokenizer& tok, const std::string& text, int n, bool q8_0_arithmetic) {
  Greedy g;
  EXPECT_TRUE(tok.Encode(text, tok.add_bos(), &g.prompt).ok());
  std::vector<uint32_t> seq = g.prompt;
  const int V = m.config().vocab_size;
  std::vector<float> logits;
  for (int step = 0; step < n; step++) {
    const int T = static_cast<int>(seq.size());
    const float* last;
    if (q8_0_arithmetic) {
      logits.resize(V);
      testutil::Q8_0LastLogits(m, seq.data(), T, logits.data());
      last = logits.data();
    } else {
      logits.resize(static_cast<size_t>(T) * V);
      m.ForwardLogits(seq.data(), 1, T, logits.data());
      last = logits.data() + static_cast<size_t>(T - 1) * V;
    }
    int best = 0;
    for (int v = 1; v < V; v++)
      if (last[v] > last[best]) best = v;
    float second = -1e30f;
    for (int v = 0; v < V; v++)
      if (v != best) second = std::max(second, last[v]);
    g.gaps.push_back(last[best] - second);
    g.generated.push_back(static_cast<uint32_t>(best));
    seq.push_back(static_cast<uint32_t>(best));
  }
  return g;
}

// How llama.node prints a generated token (llama.cpp server's tokens_to_output_formatted_string): a lone byte
// >= 0x80 (part of a character) as "byte: \xNN"; anything else as its text (`llama_text`, llama.cpp's own
// detokenization of the id finmerge chose).
std::string ExpectedPiece(const Tokenizer& tok, uint32_t id, const std::string& llama_text) {
  std::string bytes;
  if (tok.kind() == TokenizerKind::kByteLevelBpe && tok.token_types()[id] == TokenType::kNormal &&
      byte_level::Decode(tok.tokens()[id], &bytes) && bytes.size() == 1 &&
      (static_cast<uint8_t>(bytes[0]) & 0x80) != 0) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "byte: \\x%x", static_cast<uint8_t>(bytes[0]));
    return buf;
  }
  return llama_text;
}

// Runs the node oracle; "" on success, else why not.
std::string RunOracle(const std::string& gguf, const std::vector<std::string>& prompts,
                      const std::vector<Greedy>& expected, int n_predict, const std::string& work,
                      nlohmann::json* result) {
  const std::string oracle = std::string(FINMERGE_SOURCE_DIR) + "/tests/oracle";
  std::string out;
  if (fm::testing::RunCommand("bash '" + oracle + "/ensure-npm.sh'", &out) != 0) {
    return "the npm oracles are not installed in tests/oracle (bash tests/oracle/ensure-npm.sh): " + out;
  }
  nlohmann::json req = {{"model", gguf}, {"n_predict", n_predict}, {"cases", nlohmann::json::array()}};
  for (size_t i = 0; i < prompts.size(); i++) {
    req["cases"].push_back({{"prompt", prompts[i]}, {"expected", expected[i].generated}});
  }
  fm::testing::WriteJsonFile(work + "/req.json", req);
  int rc = fm::testing::RunCommand("cd '" + oracle + "' && node llama_cpp_check.mjs '" + work +
                                       "/req.json' '" + work + "/res.json' > '" + work + "/err.txt' 2>&1",
                                   &out);
  std::ifstream err(work + "/err.txt");
  std::string err_text((std::istreambuf_iterator<char>(err)), {});
  const std::string err_tail = err_text.substr(err_text.size() > 2000 ? err_text.size() - 2000 : 0);
  if (rc != 0) return "node oracle failed (exit " + std::to_string(rc) + "): " + err_tail;
  std::ifstream in(work + "/res.json");
  std::string res_text((std::istreambuf_iterator<char>(in)), {});
  *result = nlohmann::json::parse(res_text, nullptr, false);
  if (result->is_discarded())
    return "node oracle wrote no JSON: '" + res_text.substr(0, 500) + "' " + err_tail;
  return "";
}

// One source folder per (model_type, tokenizer), written once per test binary run.
const std::string& SourceModel(const testutil::TinySpec& spec) {
  static fm::testing::TempDir root;
  static std::map<std::string, std::string> made;
  const std::string key = spec.model_type + "-" + spec.tokenizer;
  auto it = made.find(key);
  if (it != made.end()) return it->second;
  const std::string dir = root / key;
  testutil::WriteTinyGgufModel(dir, spec);
  return made[key] = dir;
}

testutil::TinySpec Spec(const std::string& model_type) {
  testutil::TinySpec s;
  s.model_type = model_type;
  s.tokenizer = model_type == "llama" || model_type == "mistral" ? "llama3" : "qwen3";
  s.hidden = 32;
  s.heads = 2;
  s.kv_heads = 1;
  s.ff = 64;
  s.layers = 2;
  s.tied = model_type == "qwen2";
  s.stdev = 0.08f;
  s.embed_stdev = 0.05f;
  s.row_spread = 0.5f;
  s.seed = 7;
  return s;
}

void CheckAgainstLlamaCpp(const std::string& model_type, TensorType type, size_t n_prompts, int must_match,
                          double min_fraction) {
  const testutil::TinySpec spec = Spec(model_type);
  const std::string src = SourceModel(spec);
  fm::testing::TempDir tmp;
  ExportOptions opt;
  opt.type = type;
  Status s = ExportGguf(src, tmp / "m.gguf", opt, nullptr);
  ASSERT_TRUE(s.ok()) << s.message();
  // The reference: for F32 the source folder itself (so an error made symmetrically by export and import,
  // such as a wrong Q/K permutation undone on import, still shows); for F16/Q8_0 exactly the weights the GGUF
  // holds (rounding / quantisation included), read back by ImportGguf, whose F32 round trip is bit-exact
  // (gguf_roundtrip_test).
  std::string ref = src;
  if (type != TensorType::kF32) {
    s = ImportGguf(tmp / "m.gguf", tmp / "ref", nullptr);
    ASSERT_TRUE(s.ok()) << s.message();
    ref = tmp / "ref";
  }
  std::unique_ptr<ModelFolder> folder;
  ASSERT_TRUE(ModelFolder::Open(ref, &folder).ok());
  std::unique_ptr<Model> model;
  s = Model::FromFolder(*folder, &model);
  ASSERT_TRUE(s.ok()) << s.message();
  std::unique_ptr<Tokenizer> tok;
  ASSERT_TRUE(Tokenizer::Load(src, &tok).ok());
  const std::vector<std::string> prompts(Prompts().begin(), Prompts().begin() + n_prompts);
  std::vector<Greedy> ours;
  const auto t0 = std::chrono::steady_clock::now();
  for (const std::string& p : prompts)
    ours.push_back(Decode(*model, *tok, p, must_match, type == TensorType::kQ8_0));
  const auto t1 = std::chrono::steady_clock::now();
  nlohmann::json res;
  std::string why = RunOracle(tmp / "m.gguf", prompts, ours, must_match, tmp.path(), &res);
  ASSERT_EQ(why, "");
  const auto t2 = std::chrono::steady_clock::now();
  std::printf("[llama.cpp %s %s] finmerge decoding %.1f s, llama.cpp %.1f s\n", model_type.c_str(),
              TensorTypeName(static_cast<uint32_t>(type)), std::chrono::duration<double>(t1 - t0).count(),
              std::chrono::duration<double>(t2 - t1).count());
  ASSERT_EQ(res["cases"].size(), prompts.size());
  int ok_prompts = 0, matched_tokens = 0, compared_tokens = 0;
  std::set<uint32_t> distinct;
  float min_decisive_gap = 1e30f;
  std::string failures;
  for (size_t i = 0; i < prompts.size(); i++) {
    const auto& c = res["cases"][i];
    EXPECT_EQ(c["tokens"].get<std::vector<uint32_t>>(), ours[i].prompt) << "tokenization of prompt " << i;
    const auto pieces = c["pieces"].get<std::vector<std::string>>();
    const auto llama_text = c["expected_pieces"].get<std::vector<std::string>>();
    ASSERT_EQ(pieces.size(), static_cast<size_t>(must_match))
        << "prompt " << i
        << (c["stopped_eos"].get<bool>() ? ": llama.cpp stopped at an end-of-generation token" : "");
    int same = 0;
    bool diverged = false;
    for (; same < must_match; same++) {
      if (ours[i].gaps[same] < kNearTie) break;
      if (pieces[same] != ExpectedPiece(*tok, ours[i].generated[same], llama_text[same])) {
        diverged = true;
        char buf[512];
        std::snprintf(
            buf, sizeof buf,
            "  prompt %zu diverges at token %d: llama.cpp '%s', finmerge '%s' (id %u, top-2 gap %.3g)\n", i,
            same, pieces[same].c_str(), llama_text[same].c_str(), ours[i].generated[same],
            ours[i].gaps[same]);
        failures += buf;
        break;
      }
      min_decisive_gap = std::min(min_decisive_gap, ours[i].gaps[same]);
      distinct.insert(ours[i].generated[same]);
    }
    matched_tokens += same;
    compared_tokens += diverged ? same + 1 : same;
    if (!diverged) ok_prompts++;
  }
  std::printf(
      "[llama.cpp %s %s] prompts matched %d/%zu, tokens compared %d (of %zu; the rest after a near-tie), "
      "matched %d (%zu distinct), smallest top-2 gap compared %.3g\n%s",
      model_type.c_str(), TensorTypeName(static_cast<uint32_t>(type)), ok_prompts, prompts.size(),
      compared_tokens, prompts.size() * must_match, matched_tokens, distinct.size(), min_decisive_gap,
      failures.c_str());
  EXPECT_GE(ok_prompts, std::ceil(min_fraction * prompts.size())) << failures;
  // Near-ties must stay the exception, or the check would compare nothing.
  EXPECT_GE(compared_tokens, static_cast<int>(prompts.size() * must_match * 3 / 4)) << "too many near-ties";
}

// F32/F16: 12 prompts x 16 tokens, all equal. Q8_0: 24 prompts x 8 tokens, >= 95% of prompts equal (the
// issue's bar, 23 of 24; all 24 measured, see the header): one prompt may flip where an activation sits on
// a rounding boundary of the Q8_0 quantisation.
constexpr size_t kPrompts = 12, kPromptsQ8 = 24;
constexpr int kPredict = 16, kPredictQ8 = 8;
constexpr double kQ8Fraction = 0.95;

TEST(LlamaCpp, LlamaF32) {
  CheckAgainstLlamaCpp("llama", TensorType::kF32, kPrompts, kPredict, 1.0);
}
TEST(LlamaCpp, LlamaF16) {
  CheckAgainstLlamaCpp("llama", TensorType::kF16, kPrompts, kPredict, 1.0);
}
TEST(LlamaCpp, LlamaQ8_0) {
  CheckAgainstLlamaCpp("llama", TensorType::kQ8_0, kPromptsQ8, kPredictQ8, kQ8Fraction);
}
TEST(LlamaCpp, MistralF32) {
  CheckAgainstLlamaCpp("mistral", TensorType::kF32, kPrompts, kPredict, 1.0);
}
TEST(LlamaCpp, MistralF16) {
  CheckAgainstLlamaCpp("mistral", TensorType::kF16, kPrompts, kPredict, 1.0);
}
TEST(LlamaCpp, MistralQ8_0) {
  CheckAgainstLlamaCpp("mistral", TensorType::kQ8_0, kPromptsQ8, kPredictQ8, kQ8Fraction);
}
TEST(LlamaCpp, Qwen2F32) {
  CheckAgainstLlamaCpp("qwen2", TensorType::kF32, kPrompts, kPredict, 1.0);
}
TEST(LlamaCpp, Qwen2F16) {
  CheckAgainstLlamaCpp("qwen2", TensorType::kF16, kPrompts, kPredict, 1.0);
}
TEST(LlamaCpp, Qwen2Q8_0) {
  CheckAgainstLlamaCpp("qwen2", TensorType::kQ8_0, kPromptsQ8, kPredictQ8, kQ8Fraction);
}
TEST(LlamaCpp, Qwen3F32) {
  CheckAgainstLlamaCpp("qwen3", TensorType::kF32, kPrompts, kPredict, 1.0);
}
TEST(LlamaCpp, Qwen3F16) {
  CheckAgainstLlamaCpp("qwen3", TensorType::kF16, kPrompts, kPredict, 1.0);
}
TEST(LlamaCpp, Qwen3Q8_0) {
  CheckAgainstLlamaCpp("qwen3", TensorType::kQ8_0, kPromptsQ8, kPredictQ8, kQ8Fraction);
}

}  // namespace
}  // namespace fm::gguf
