// `finmerge eval` end to end on two tiny random models (Llama layout) carrying the real Qwen3 tokenizer and
// chat template: perplexity of a text file and of the same tokens as a shard, a fin-harness task, IFEval, the
// side-by-side table in JSON and Markdown — and the numbers checked against LanguageModel called directly.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "eval/language_model.h"
#include "eval/multiple_choice.h"
#include "testing/tiny_checkpoint.h"
#include "tokenizer/token_shard.h"
#include "tokenizer/tokenizer.h"

namespace fm {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

const std::string kShared = std::string(FINMERGE_SOURCE_DIR) + "/../shared/";

int RunFinmerge(const std::string& args, std::string* out) {
  return testing::RunCommand(std::string(FINMERGE_BINARY) + " " + args, out);
}

std::string ReadFile(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void MakeModel(const std::string& dir, uint32_t seed) {
  testing::TinyModelShape s;
  s.vocab = 151680;  // covers the Qwen3 tokenizer's ids
  s.hidden = 16;
  s.ff = 32;
  s.heads = 2;
  s.kv_heads = 1;
  s.tied = true;
  testing::WriteTinyModel(dir, testing::TinyLlamaTensors(s, seed), s, DType::kBF16);
  json cfg = testing::TinyLlamaConfig(s);
  cfg["max_position_embeddings"] = 512;
  testing::WriteJsonFile(dir + "/config.json", cfg);
  fs::copy_file(kShared + "tokenizers/qwen3/tokenizer.json", dir + "/tokenizer.json");
  fs::copy_file(kShared + "tokenizers/qwen3/tokenizer_config.json", dir + "/tokenizer_config.json",
                fs::copy_options::overwrite_existing);
}

class EvalCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    MakeModel(*dir_ / "base", 1);
    MakeModel(*dir_ / "merged", 2);
    // The first 20 lines of Tiny Shakespeare (more tokens than one 128-token window).
    std::ifstream in(kShared + "data/general/tinyshakespeare.txt");
    std::string line, text;
    for (int i = 0; i < 20 && std::getline(in, line); i++) text += line + "\n";
    std::ofstream(*dir_ / "shakespeare.txt") << text;
    // The same text as a token shard.
    std::unique_ptr<Tokenizer> tok;
    ASSERT_TRUE(Tokenizer::Load(*dir_ / "base", &tok).ok());
    std::vector<uint32_t> ids;
    ASSERT_TRUE(tok->Encode(text, true, &ids).ok());
    fs::create_directories(*dir_ / "shards");
    TokenShardWriter w(*dir_ / "shards", "val", tok->vocab_size(), 1000000);
    ASSERT_TRUE(w.Append(ids.data(), ids.size()).ok());
    ASSERT_TRUE(w.Finish().ok());
    // Two English IFEval prompts and one Japanese one with an unimplemented instruction.
    std::ofstream ifeval(*dir_ / "ifeval.jsonl");
    std::ifstream en(kShared + "data/ifeval/en_input_data.jsonl");
    for (int i = 0; i < 2 && std::getline(en, line); i++) ifeval << line << "\n";
    ifeval
        << R"({"key": 9, "prompt": "鍼灸について教えてください。体言止めを3回使ってください。", )"
        << R"("instruction_id_list": ["ja:detectable_format:nominal_ending", "ja:punctuation:no_period"], )"
        << R"("kwargs": [{"count": 3}, {}]})"
        << "\n";
  }
  static void TearDownTestSuite() { delete dir_; }
  static testing::TempDir* dir_;
};
testing::TempDir* EvalCli::dir_ = nullptr;

TEST_F(EvalCli, SideBySideTableAndDetailsMatchTheModel) {
  const std::string& d = dir_->path();
  const std::string task = kShared + "data/fin-harness/cma_basics.json";
  std::string out;
  int rc = RunFinmerge("eval --models base=" + d + "/base merged=" + d + "/merged --max-context 128 --ppl " +
                           d + "/shakespeare.txt " + d + "/shards --ppl-stride 64 --task " + task +
                           " --limit 3 --ifeval " + d + "/ifeval.jsonl --max-new-tokens 6 --json " + d +
                           "/out.json --markdown " + d + "/out.md",
                       &out);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("cma_basics/acc"), std::string::npos) << out;
  EXPECT_NE(out.find("ja:detectable_format:nominal_ending (1)"), std::string::npos) << out;

  json j = json::parse(ReadFile(d + "/out.json"));
  ASSERT_TRUE(j["models"].contains("base") && j["models"].contains("merged")) << j.dump();
  for (const char* m : {"base", "merged"}) {
    const json& row = j["models"][m];
    for (const char* k : {"ppl/shakespeare", "ppl/shards", "cma_basics/acc", "cma_basics/acc_stderr",
                          "cma_basics/acc_norm", "cma_basics/acc_norm_stderr", "ifeval/prompt_strict",
                          "ifeval/inst_strict", "ifeval/prompt_loose", "ifeval/inst_loose"}) {
      EXPECT_TRUE(row.contains(k)) << m << " lacks " << k;
    }
    // The shard holds exactly the text's tokens: same perplexity.
    EXPECT_DOUBLE_EQ(row["ppl/shakespeare"].get<double>(), row["ppl/shards"].get<double>());
    const json& ife = j["details"][m]["ifeval"];
    EXPECT_EQ(ife["prompts"], 3);
    EXPECT_EQ(ife["not_implemented"]["ja:detectable_format:nominal_ending"], 1);
    EXPECT_EQ(ife["responses"].size(), 3u);
  }
  // Different weights, different perplexities.
  EXPECT_NE(j["models"]["base"]["ppl/shakespeare"], j["models"]["merged"]["ppl/shakespeare"]);

  // Recompute with LanguageModel directly: perplexity and the first item's choice log-likelihoods.
  LanguageModelOptions opts;
  opts.max_context = 128;
  std::unique_ptr<LanguageModel> lm;
  ASSERT_TRUE(LanguageModel::Load(d + "/base", opts, &lm).ok());
  std::vector<uint32_t> ids;
  ASSERT_TRUE(lm->tokenizer().Encode(ReadFile(d + "/shakespeare.txt"), true, &ids).ok());
  PerplexityResult pr;
  ASSERT_TRUE(lm->Perplexity(ids, 64, &pr).ok());
  const json& ppl = j["details"]["base"]["ppl"]["shakespeare"];
  EXPECT_EQ(ppl["tokens"].get<int64_t>(), static_cast<int64_t>(ids.size()) - 1);
  EXPECT_DOUBLE_EQ(ppl["ppl"].get<double>(), pr.ppl);
  EXPECT_DOUBLE_EQ(ppl["nll"].get<double>(), pr.nll);

  McTask t;
  ASSERT_TRUE(LoadMcTask(task, PromptStyle::kDefault, &t).ok());
  std::vector<LoglikRequest> reqs;
  for (const auto& c : t.items[0].continuations) reqs.push_back({t.items[0].context, c});
  std::vector<LoglikResult> res;
  ASSERT_TRUE(lm->LogLikelihoods(reqs, &res).ok());
  const json& items = j["details"]["base"]["tasks"]["cma_basics"]["items"];
  ASSERT_EQ(items.size(), 3u);
  for (size_t c = 0; c < res.size(); c++)
    EXPECT_DOUBLE_EQ(items[0]["logliks"][c].get<double>(), res[c].logprob);
  double acc = 0;
  for (const auto& it : items) acc += it["pred"] == it["gold"];
  EXPECT_DOUBLE_EQ(j["models"]["base"]["cma_basics/acc"].get<double>(), acc / 3);

  std::string md = ReadFile(d + "/out.md");
  EXPECT_EQ(md.rfind("| model | ppl/shakespeare | ppl/shards | cma_basics/acc |", 0), 0u) << md;
  EXPECT_NE(md.find("\n| merged | "), std::string::npos) << md;
}

TEST_F(EvalCli, BadInputsFailBeforeAnyModelLoadsAndWriteNothing) {
  const std::string& d = dir_->path();
  std::ofstream(d + "/bad.jsonl")
      << "{\"query\": \"q\", \"choices\": [\"a\", \"b\"], \"gold\": 0}\n{\"query\": 1}\n";
  std::string out;
  int rc = RunFinmerge("eval --model " + d + "/base --task " + d + "/bad.jsonl --json " + d + "/bad_out.json",
                       &out);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("bad.jsonl:2: missing string \"query\""), std::string::npos) << out;
  EXPECT_EQ(out.find("loading"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(d + "/bad_out.json"));

  rc = RunFinmerge("eval --models base " + d + "/base --ppl " + d + "/shakespeare.txt", &out);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("NAME=FOLDER"), std::string::npos) << out;
  rc = RunFinmerge("eval --model " + d + "/base", &out);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("nothing to evaluate"), std::string::npos) << out;
  rc = RunFinmerge(
      "eval --model " + d + "/base --ppl " + d + "/shakespeare.txt --json " + d + "/no/such/dir/x.json",
      &out);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("does not exist"), std::string::npos) << out;
  rc = RunFinmerge("eval --model " + d + "/base --task " + d + "/bad.jsonl --prompt-style fancy", &out);
  EXPECT_NE(out.find("--prompt-style must be"), std::string::npos) << out;
  for (const auto& e : fs::directory_iterator(d)) {
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();
  }
}

}  // namespace
}  // namespace fm
