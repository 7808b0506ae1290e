// GGUF as a model input: the tokenizer rebuilt from GGUF metadata encodes like the original (Qwen3 and
// Llama-3 tokenizers), ResolveModelInput passes folders through and imports GGUF files into a temporary
// folder that goes away with its owner, and tokenizers GGUF cannot express are refused before the export
// writes anything.
#include "gguf/gguf_input.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "gguf/gguf_export.h"
#include "gguf/gguf_import.h"
#include "gguf_test_util.h"
#include "io/model_folder.h"

namespace fm::gguf {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kTexts = {
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "def f(x):\n    return x * 2\n\n\n",
    "東京は日本の首都です。株価指数は前日比1.5%上昇した。",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
    "<|begin_of_text|>Numbers 12345 and 3.14159<|eot_id|>",
    "  leading spaces and\ttabs   \n trailing ",
    "Ünïcödé façade — naïve café 🙂",
    "I'm sure they'll say it's 100,000,000 won't they",
};

void CheckTokenizerRebuilt(const std::string& tokenizer) {
  fm::testing::TempDir tmp;
  testutil::TinySpec spec;
  spec.model_type = "llama";
  spec.tokenizer = tokenizer;
  spec.hidden = 32;
  spec.heads = 2;
  spec.kv_heads = 1;
  spec.ff = 32;
  spec.layers = 1;
  testutil::WriteTinyGgufModel(tmp / "src", spec);
  ExportOptions opt;
  opt.type = TensorType::kF16;
  Status s = ExportGguf(tmp / "src", tmp / "m.gguf", opt, nullptr);
  ASSERT_TRUE(s.ok()) << s.message();
  ImportSummary sum;
  s = ImportGguf(tmp / "m.gguf", tmp / "back", &sum);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_TRUE(sum.tokenizer);
  EXPECT_TRUE(sum.notes.empty());
  std::unique_ptr<Tokenizer> a, b;
  ASSERT_TRUE(Tokenizer::Load(tmp / "src", &a).ok());
  s = Tokenizer::Load(tmp / "back", &b);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(a->vocab_size(), b->vocab_size());
  EXPECT_EQ(a->tokens(), b->tokens());
  EXPECT_EQ(a->token_types(), b->token_types());
  EXPECT_EQ(a->bos_id(), b->bos_id());
  EXPECT_EQ(a->eos_id(), b->eos_id());
  EXPECT_EQ(a->pad_id(), b->pad_id());
  EXPECT_EQ(a->add_bos(), b->add_bos());
  for (const std::string& t : kTexts) {
    for (bool special : {false, true}) {
      std::vector<uint32_t> x, y;
      ASSERT_TRUE(a->Encode(t, special, &x).ok());
      ASSERT_TRUE(b->Encode(t, special, &y).ok());
      EXPECT_EQ(x, y) << t;
      EXPECT_EQ(a->Decode(x, false), b->Decode(y, false));
    }
  }
  std::unique_ptr<ModelFolder> src, back;
  ASSERT_TRUE(ModelFolder::Open(tmp / "src", &src).ok());
  ASSERT_TRUE(ModelFolder::Open(tmp / "back", &back).ok());
  EXPECT_EQ(src->chat_template(), back->chat_template());
}

TEST(GgufTokenizer, Qwen3RebuiltFromGguf) {
  CheckTokenizerRebuilt("qwen3");
}
TEST(GgufTokenizer, Llama3RebuiltFromGguf) {
  CheckTokenizerRebuilt("llama3");
}

TEST(GgufInput, FoldersPassThroughGgufImportedTemporarily) {
  fm::testing::TempDir tmp;
  testutil::WriteTinyGgufModel(tmp / "src", "qwen2", 32, 2, 1, 32, 1, true, 0.1f, 5);
  std::string folder;
  std::unique_ptr<TemporaryModelFolder> keep;
  ASSERT_TRUE(ResolveModelInput(tmp / "src", &folder, &keep).ok());
  EXPECT_EQ(folder, tmp / "src");
  EXPECT_EQ(keep, nullptr);
  EXPECT_FALSE(IsGgufFile(tmp / "src"));
  EXPECT_FALSE(IsGgufFile(tmp / "src/config.json"));

  ExportOptions opt;
  opt.type = TensorType::kQ8_0;
  ASSERT_TRUE(ExportGguf(tmp / "src", tmp / "model.bin", opt, nullptr).ok());  // found by its magic
  EXPECT_TRUE(IsGgufFile(tmp / "model.bin"));
  ASSERT_TRUE(ResolveModelInput(tmp / "model.bin", &folder, &keep).ok());
  ASSERT_NE(keep, nullptr);
  std::unique_ptr<ModelFolder> m;
  ASSERT_TRUE(ModelFolder::Open(folder, &m).ok());
  EXPECT_EQ(m->config().model_type, "qwen2");
  EXPECT_EQ(m->Find("model.layers.0.self_attn.q_proj.weight")->dtype, DType::kF32);  // Q8_0 dequantised
  EXPECT_EQ(m->Find("model.layers.0.self_attn.q_proj.bias")->dtype, DType::kF32);
  m.reset();
  keep.reset();
  EXPECT_FALSE(fs::exists(folder));
  // A broken GGUF file: the error names it, nothing is left behind.
  std::ofstream(tmp / "bad.gguf") << "GGUF";
  Status s = ResolveModelInput(tmp / "bad.gguf", &folder, &keep);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("bad.gguf"), std::string::npos) << s.message();
}

// Export refuses, before writing, a tokenizer llama.cpp would not reproduce.
TEST(GgufExport, UnexpressibleTokenizerRefused) {
  fm::testing::TempDir tmp;
  testutil::WriteTinyGgufModel(tmp / "src", "qwen3", 32, 2, 1, 32, 1, true, 0.1f, 5);
  nlohmann::json tok = nlohmann::json::parse(std::ifstream(tmp / "src/tokenizer.json"));
  tok["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "\\p{L}+|\\p{N}+|[^\\s\\p{L}\\p{N}]+|\\s+";
  std::ofstream(tmp / "src/tokenizer.json") << tok.dump();
  ExportOptions opt;
  Status s = ExportGguf(tmp / "src", tmp / "m.gguf", opt, nullptr);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("tokenizer.json: the pre-tokenizer is not one llama.cpp knows"),
            std::string::npos)
      << s.message();
  EXPECT_FALSE(fs::exists(tmp / "m.gguf"));
  for (const auto& e : fs::directory_iterator(tmp.path())) EXPECT_EQ(e.path().filename(), "src");
}

}  // namespace
}  // namespace fm::gguf
