// Qwen-1's qwen.tiktoken path. The test writes a qwen.tiktoken from the Qwen3 vocabulary (Qwen2/3 kept
// Qwen-1's 151643 byte-level BPE ranks and its first three special tokens), so on text without line breaks
// (the only place Qwen-1's split regex differs from Qwen3's) both must give the same ids.
#include <gtest/gtest.h>

#include "tokenizer/byte_level.h"
#include "tokenizer/tiktoken_model.h"
#include "tokenizer_test_util.h"

namespace fm {
namespace {

std::string Base64(const std::string& in) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += k[(v >> s) & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += k[(v >> 18) & 63];
    out += k[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += k[(v >> 18) & 63];
    out += k[(v >> 12) & 63];
    out += k[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

TEST(Tiktoken, MatchesQwen3OnTextWithoutLineBreaks) {
  const Tokenizer& qwen3 = test::Qwen3();
  test::TempDir dir;
  std::string file, bytes;
  for (uint32_t id = 0; id < 151643; ++id) {
    ASSERT_TRUE(byte_level::Decode(qwen3.IdToToken(id), &bytes)) << id;
    file += Base64(bytes) + " " + std::to_string(id) + "\n";
  }
  test::WriteFile(dir / "qwen.tiktoken", file);
  std::unique_ptr<Tokenizer> tok;
  Status s = Tokenizer::Load(dir.path(), &tok);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(tok->kind(), TokenizerKind::kTiktoken);
  EXPECT_EQ(tok->vocab_size(), 151643u + 3u + 205u);
  EXPECT_EQ(tok->IdToToken(151645), "<|im_end|>");
  EXPECT_EQ(tok->IdToToken(151643 + 3 + 204), "<|extra_204|>");
  EXPECT_EQ(tok->eos_id(), std::optional<uint32_t>(151643));
  EXPECT_EQ(tok->IdToToken(9707), qwen3.IdToToken(9707));

  size_t compared = 0;
  std::vector<uint32_t> a, b;
  for (const auto& text : test::ConformanceCorpus()) {
    if (text.find_first_of("\r\n") != std::string::npos) continue;
    if (text.find("<|object_ref") != std::string::npos) continue;
    ++compared;
    ASSERT_TRUE(tok->Encode(text, false, &a).ok());
    ASSERT_TRUE(qwen3.Encode(text, false, &b).ok());
    EXPECT_EQ(a, b) << test::Escape(text);
    EXPECT_EQ(tok->Decode(a, false), qwen3.Decode(b, false));
  }
  EXPECT_GT(compared, 400u);
  // Qwen-1's regex keeps "\n\n" apart from the spaces before it, Qwen3's joins them.
  ASSERT_TRUE(tok->Encode("a  \n\nb", false, &a).ok());
  EXPECT_EQ(tok->Decode(a, false), "a  \n\nb");
  // Merges derived from the ranks rebuild multi-byte tokens.
  auto merges = tok->Merges();
  EXPECT_GT(merges.size(), 150000u);
  for (size_t i = 0; i < merges.size(); i += 997) {
    EXPECT_TRUE(tok->TokenToId(merges[i].first + merges[i].second).has_value())
        << merges[i].first << " " << merges[i].second;
  }
}

TEST(Tiktoken, RejectsMalformedFiles) {
  std::unique_ptr<TiktokenTokenizer> t;
  Status s = TiktokenTokenizer::FromRanksText("QQ== 0\nnot-base64! 1\n", "x/qwen.tiktoken", &t);
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("x/qwen.tiktoken:2"), std::string::npos) << s.message();
  s = TiktokenTokenizer::FromRanksText("QQ== 0\nQg== 5\n", "x/qwen.tiktoken", &t);
  EXPECT_NE(s.message().find("not contiguous"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace fm
