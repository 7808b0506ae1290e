// Conformance of finmerge's tokenizers with Hugging Face's: every line of the corpus must give the same ids
// as the @huggingface/tokenizers oracle (tests/oracle/hf_tokenize.mjs), and decoding must give back the
// oracle's text (and the input itself where the tokenizer can reproduce it).
#include <gtest/gtest.h>

#include "tokenizer/normalizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer_test_util.h"

namespace fm {
namespace {

std::string WithoutBom(std::string s) {
  size_t pos;
  while ((pos = s.find("\xEF\xBB\xBF")) != std::string::npos) s.erase(pos, 3);
  return s;
}

struct Result {
  size_t lines = 0, id_mismatches = 0, decode_mismatches = 0, roundtrip_failures = 0;
};

// Compares `tok` with the oracle on `texts`. `roundtrip(text)` returns the text decode(encode(text)) should
// give, or "" when the tokenizer cannot reproduce it.
Result Compare(const Tokenizer& tok, const std::string& dir, const std::vector<std::string>& texts,
               bool add_special, const std::function<std::string(const std::string&)>& roundtrip) {
  Result r;
  std::vector<std::vector<uint32_t>> want;
  std::vector<std::string> want_decoded;
  std::string err = test::OracleEncode(dir, texts, add_special, &want, &want_decoded);
  EXPECT_EQ(err, "") << "the Hugging Face oracle is required for this test";
  if (!err.empty()) {
    r.id_mismatches = texts.size();
    return r;
  }
  std::vector<uint32_t> got;
  for (size_t i = 0; i < texts.size(); ++i) {
    ++r.lines;
    Status s = tok.Encode(texts[i], add_special, &got);
    EXPECT_TRUE(s.ok()) << s.message();
    if (got != want[i]) {
      ++r.id_mismatches;
      size_t k = 0;
      while (k < got.size() && k < want[i].size() && got[k] == want[i][k]) ++k;
      ADD_FAILURE() << dir << " line " << i << " \"" << test::Escape(texts[i])
                    << "\": ids differ at position " << k << " (finmerge "
                    << (k < got.size() ? std::to_string(got[k]) : "end") << " \""
                    << test::Escape(k < got.size() ? tok.IdToToken(got[k]) : "") << "\", Hugging Face "
                    << (k < want[i].size() ? std::to_string(want[i][k]) : "end") << " \""
                    << test::Escape(k < want[i].size() ? tok.IdToToken(want[i][k]) : "") << "\"; "
                    << got.size() << " vs " << want[i].size() << " ids)";
      continue;
    }
    if (got.empty()) continue;
    std::string decoded = tok.Decode(got, false);
    // The JS oracle decodes byte runs with TextDecoder, which drops a U+FEFF (BOM) at the start of each run;
    // Hugging Face's Rust decoder keeps it, and so does finmerge. Compare without BOMs.
    if (WithoutBom(decoded) != WithoutBom(want_decoded[i])) {
      ++r.decode_mismatches;
      ADD_FAILURE() << dir << " line " << i << ": decode gives \"" << test::Escape(decoded)
                    << "\", Hugging Face \"" << test::Escape(want_decoded[i]) << "\"";
    }
    std::string expect = roundtrip(texts[i]);
    if (!expect.empty() && decoded != expect) {
      ++r.roundtrip_failures;
      ADD_FAILURE() << dir << " line " << i << ": decode(encode(x)) = \"" << test::Escape(decoded)
                    << "\" != \"" << test::Escape(expect) << "\"";
    }
  }
  std::printf(
      "[ conformance ] %s%s: %zu lines, %zu id mismatches, %zu decode mismatches, %zu round-trip failures\n",
      dir.c_str(), add_special ? " (add_special)" : "", r.lines, r.id_mismatches, r.decode_mismatches,
      r.roundtrip_failures);
  return r;
}

bool HasAny(const std::string& s, std::initializer_list<const char*> needles) {
  for (const char* n : needles) {
    if (s.find(n) != std::string::npos) return true;
  }
  return false;
}

TEST(HfConformance, Qwen3MatchesHuggingFace) {
  const Tokenizer& tok = test::Qwen3();
  auto corpus = test::ConformanceCorpus();
  // Byte-level BPE reproduces every text, after Qwen's NFC normalization.
  Result r = Compare(tok, test::Qwen3Dir(), corpus, false,
                     [](const std::string& t) { return NormalizeUnicode(t, UnicodeForm::kNFC); });
  EXPECT_EQ(r.id_mismatches, 0u);
  EXPECT_GT(r.lines, 400u);
  Result s = Compare(tok, test::Qwen3Dir(), {"Hello<|im_end|>", "<|im_start|>system\nHi"}, true,
                     [](const std::string&) { return std::string(); });
  EXPECT_EQ(s.id_mismatches, 0u);
}

TEST(HfConformance, Llama3MatchesHuggingFace) {
  const Tokenizer& tok = test::Llama3();
  auto corpus = test::ConformanceCorpus();
  Result r = Compare(tok, test::Llama3Dir(), corpus, false, [](const std::string& t) { return t; });
  EXPECT_EQ(r.id_mismatches, 0u);
  Result s = Compare(tok, test::Llama3Dir(), {"Hello", "<|begin_of_text|>Hi"}, true,
                     [](const std::string&) { return std::string(); });
  EXPECT_EQ(s.id_mismatches, 0u);
}

void CheckSpmStyle(const std::string& variant) {
  test::TempDir dir;
  ASSERT_EQ(test::WriteSpmStyleTokenizer(dir.path(), variant), "");
  std::unique_ptr<Tokenizer> tok;
  Status st = Tokenizer::Load(dir.path(), &tok);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(tok->kind(), TokenizerKind::kByteFallbackBpe);
  EXPECT_EQ(tok->bos_id(), std::optional<uint32_t>(1));
  EXPECT_EQ(tok->eos_id(), std::optional<uint32_t>(2));
  EXPECT_TRUE(tok->add_bos());
  EXPECT_EQ(tok->token_types()[3], TokenType::kByte);  // <0x00>
  auto corpus = test::ConformanceCorpus();
  corpus.push_back("A <fin> token, <fin>, x<fin> and ＜ｆｉｎ＞");
  // Text with special tokens or leading spaces after them cannot come back unchanged (the prefix "▁" is
  // added per piece between special tokens); NFKC changes full-width text.
  Result r = Compare(*tok, dir.path(), corpus, false, [&](const std::string& t) {
    if (HasAny(t, {"<s>", "</s>", "<unk>", "<fin>"})) return std::string();
    if (variant == "nfkc") return std::string();
    // Metaspace's decoder drops the first space, so a text that starts with one loses it (as in HF).
    if (variant == "metaspace" && !t.empty() && t[0] == ' ') return std::string();
    return t;
  });
  EXPECT_EQ(r.id_mismatches, 0u);
  EXPECT_EQ(r.decode_mismatches, 0u);
  Result s = Compare(*tok, dir.path(), {"Hello world", "<s>again"}, true,
                     [](const std::string&) { return std::string(); });
  EXPECT_EQ(s.id_mismatches, 0u);
}

TEST(HfConformance, ByteFallbackPrependReplaceMatchesHuggingFace) {
  CheckSpmStyle("prepend");
}
TEST(HfConformance, ByteFallbackMetaspaceMatchesHuggingFace) {
  CheckSpmStyle("metaspace");
}
TEST(HfConformance, NfkcNormalizerMatchesHuggingFace) {
  CheckSpmStyle("nfkc");
}

}  // namespace
}  // namespace fm
