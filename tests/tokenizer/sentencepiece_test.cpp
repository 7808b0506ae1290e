// A folder holding only a SentencePiece tokenizer.model loads through libsentencepiece; the ids equal
// libsentencepiece's own, special pieces written in the text are recognized, and decoding round-trips.
#include <gtest/gtest.h>
#include <sentencepiece_processor.h>

#include "tokenizer/tokenizer.h"
#include "tokenizer_test_util.h"

namespace fm {
namespace {

TEST(SentencePiece, LoadsModelFolderAndMatchesLibsentencepiece) {
  test::TempDir dir;
  ASSERT_EQ(test::WriteSentencePieceModel(dir.path()), "");
  std::unique_ptr<Tokenizer> tok;
  Status s = Tokenizer::Load(dir.path(), &tok);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(tok->kind(), TokenizerKind::kSentencePiece);
  sentencepiece::SentencePieceProcessor sp;
  ASSERT_TRUE(sp.Load(dir / "tokenizer.model").ok());
  EXPECT_EQ(tok->vocab_size(), static_cast<uint32_t>(sp.GetPieceSize()));
  EXPECT_EQ(tok->bos_id(), std::optional<uint32_t>(1));
  EXPECT_EQ(tok->eos_id(), std::optional<uint32_t>(2));
  EXPECT_EQ(tok->token_types()[0], TokenType::kUnknown);
  EXPECT_EQ(tok->token_types()[1], TokenType::kControl);
  EXPECT_EQ(tok->token_types()[3 + 0x41], TokenType::kByte);  // <0x41>
  EXPECT_EQ(tok->scores().size(), tok->vocab_size());

  std::vector<uint32_t> ids;
  size_t n = 0;
  for (const auto& text : test::ConformanceCorpus()) {
    if (text.find("<s>") != std::string::npos || text.find("</s>") != std::string::npos ||
        text.find("<unk>") != std::string::npos) {
      continue;
    }
    ASSERT_TRUE(tok->Encode(text, false, &ids).ok());
    std::vector<int> want = sp.EncodeAsIds(text);
    EXPECT_EQ(ids, std::vector<uint32_t>(want.begin(), want.end())) << test::Escape(text);
    EXPECT_EQ(tok->Decode(ids, false), sp.DecodeIds(want));
    ++n;
  }
  EXPECT_GT(n, 400u);
  // Control pieces in the text become their ids; add_special prepends <s>.
  ASSERT_TRUE(tok->Encode("Hello</s>world", true, &ids).ok());
  EXPECT_EQ(ids.front(), 1u);
  EXPECT_NE(std::find(ids.begin(), ids.end(), 2u), ids.end());
  EXPECT_EQ(tok->Decode(ids, true), "Hello world");
  // Like Hugging Face's slow LlamaTokenizer: the piece after a special token keeps its space.
  EXPECT_EQ(tok->Decode(ids, false), "<s> Hello</s> world");
}

}  // namespace
}  // namespace fm
