// The demo's BPE trainer: what it writes loads with Tokenizer::Load, encodes like Hugging Face's own
// tokenizer (the JS oracle), decodes back to the input, and learns the corpus's frequent words.
#include "pipeline/demo_tokenizer.h"

#include <gtest/gtest.h>

#include "pipeline/demo_world.h"
#include "chat/prompt_format.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_test_util.h"

namespace fm {
namespace {

const char* kChatML =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
    "'<|im_end|>' + "
    "'\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

std::vector<std::string> Corpus() {
  DemoWorldOptions o;
  o.people = 12;
  o.cities = 4;
  o.species = 4;
  o.companies = 4;
  o.general_docs_per_entity = 2;
  o.finance_docs_per_company = 2;
  o.simple_tasks = 20;
  DemoWorld w;
  EXPECT_TRUE(GenerateDemoWorld(o, &w).ok());
  std::vector<std::string> texts = w.general_docs;
  texts.insert(texts.end(), w.finance_docs.begin(), w.finance_docs.end());
  return texts;
}

class DemoTokenizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BpeTrainOptions o;
    o.vocab_size = 400;
    ASSERT_TRUE(TrainByteLevelBpe(Corpus(), o, &json_, &summary_).ok());
    ASSERT_TRUE(WriteTokenizerFolder(json_, "<|im_end|>", "<|endoftext|>", kChatML, dir_.path()).ok());
    Status s = Tokenizer::Load(dir_.path(), &tok_);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  test::TempDir dir_;
  nlohmann::ordered_json json_;
  BpeTrainSummary summary_;
  std::unique_ptr<Tokenizer> tok_;
};

std::vector<std::string> Samples() {
  return {"The home city of Mira Tolsen is Karvo.",
          "Shares of Norvex Holdings trade under the ticker NXQ. Revenue: $412 million!",
          "  leading spaces, tabs\tand\nnew lines\n\n",
          "unicode: Grüße, 日本語の文章, emoji 🙂 and combining e\u0301",
          "<|im_start|>user\nWhat is the sector of Norvex Holdings?<|im_end|>\n<|im_start|>assistant\n",
          "",
          "1234567890 3.14159 -42"};
}

TEST_F(DemoTokenizerTest, LoadsWithTheRequestedSizeAndSpecialTokens) {
  EXPECT_EQ(summary_.vocab_size, 400);
  EXPECT_EQ(tok_->vocab_size(), 400u);
  EXPECT_EQ(tok_->kind(), TokenizerKind::kByteLevelBpe);
  ASSERT_TRUE(tok_->eos_id().has_value());
  EXPECT_EQ(tok_->IdToToken(*tok_->eos_id()), "<|im_end|>");
  ASSERT_TRUE(tok_->pad_id().has_value());
  std::vector<uint32_t> ids;
  ASSERT_TRUE(tok_->Encode("<|im_start|>user<|im_end|>", false, &ids).ok());
  ASSERT_GE(ids.size(), 3u);
  EXPECT_EQ(ids.front(), *tok_->TokenToId("<|im_start|>"));
  EXPECT_EQ(ids.back(), *tok_->eos_id());
  EXPECT_EQ(tok_->Decode(ids, true), "user");
  ChatFormat f;
  ASSERT_TRUE(ChatFormat::Load(dir_.path(), "", &f).ok());
  std::string prompt;
  ASSERT_TRUE(RenderChat(f, {{"user", "Hi"}}, true, &prompt).ok());
  EXPECT_EQ(prompt, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
}

TEST_F(DemoTokenizerTest, DecodeOfEncodeIsTheInput) {
  for (const std::string& s : Samples()) {
    std::vector<uint32_t> ids;
    ASSERT_TRUE(tok_->Encode(s, false, &ids).ok());
    EXPECT_EQ(tok_->Decode(ids, false), s);
  }
  for (const std::string& s : Corpus()) {
    std::vector<uint32_t> ids;
    ASSERT_TRUE(tok_->Encode(s, false, &ids).ok());
    EXPECT_EQ(tok_->Decode(ids, false), s);
    EXPECT_LT(ids.size(), s.size() * 7 / 10) << "merges should compress the training text: " << s;
  }
}

TEST_F(DemoTokenizerTest, FrequentWordsBecomeSingleTokens) {
  for (const char* w : {" the", " of", " is"}) {
    std::vector<uint32_t> ids;
    ASSERT_TRUE(tok_->Encode(w, false, &ids).ok());
    EXPECT_EQ(ids.size(), 1u) << w;
  }
}

TEST_F(DemoTokenizerTest, DeterministicAndStopsAtMinFrequency) {
  BpeTrainOptions o;
  o.vocab_size = 400;
  nlohmann::ordered_json again;
  ASSERT_TRUE(TrainByteLevelBpe(Corpus(), o, &again, nullptr).ok());
  EXPECT_EQ(again.dump(), json_.dump());
  o.vocab_size = 100000;  // far more than the corpus supports: stops when no pair repeats
  BpeTrainSummary s;
  ASSERT_TRUE(TrainByteLevelBpe({"abab abab xyz"}, o, &again, &s).ok());
  EXPECT_LT(s.vocab_size, 300);
  o.vocab_size = 100;
  EXPECT_FALSE(TrainByteLevelBpe({"x"}, o, &again, &s).ok());
}

TEST_F(DemoTokenizerTest, EncodesLikeHuggingFace) {
  std::vector<std::string> texts = Samples();
  for (const std::string& s : Corpus()) {
    if (texts.size() < 40) texts.push_back(s);
  }
  std::vector<std::vector<uint32_t>> want;
  std::vector<std::string> decoded;
  std::string err = test::OracleEncode(dir_.path(), texts, false, &want, &decoded);
  ASSERT_EQ(err, "");
  for (size_t i = 0; i < texts.size(); i++) {
    std::vector<uint32_t> ids;
    ASSERT_TRUE(tok_->Encode(texts[i], false, &ids).ok());
    EXPECT_EQ(ids, want[i]) << texts[i];
  }
}

}  // namespace
}  // namespace fm
