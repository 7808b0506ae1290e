// Unit tests of the tokenizer.json pipeline pieces on small hand-written tokenizers whose ids can be worked
// out by hand: BPE merge order, both merge formats, byte fallback, unk fusing, ignore_merges, added-token
// flags, regex translation, UTF-8 repair, and loud rejection of what is not supported.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tokenizer/hf_tokenizer.h"
#include "tokenizer/pattern.h"
#include "tokenizer/utf8.h"

namespace fm {
namespace {

using nlohmann::json;

// A character-level BPE over "a".."e" and " ", merges given in order.
json TinyModel(json merges) {
  json vocab = {{"a", 0},  {"b", 1},   {"c", 2},  {"d", 3},    {"e", 4},  {"ab", 5},
                {"bc", 6}, {"abc", 7}, {"cd", 8}, {"abcd", 9}, {"aa", 10}};
  return {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}, {"unk_token", nullptr}};
}

std::unique_ptr<HfTokenizer> Build(json model, json extra = json::object()) {
  json tok = {{"model", model},           {"normalizer", nullptr},
              {"pre_tokenizer", nullptr}, {"post_processor", nullptr},
              {"decoder", nullptr},       {"added_tokens", json::array()}};
  for (auto it = extra.begin(); it != extra.end(); ++it) tok[it.key()] = it.value();
  std::unique_ptr<HfTokenizer> t;
  Status s = HfTokenizer::FromJson(tok, json(), "test.json", &t);
  EXPECT_TRUE(s.ok()) << s.message();
  return t;
}

std::vector<uint32_t> Ids(const Tokenizer& t, const std::string& text, bool add_special = false) {
  std::vector<uint32_t> ids;
  Status s = t.Encode(text, add_special, &ids);
  EXPECT_TRUE(s.ok()) << s.message();
  return ids;
}

TEST(BpeModel, LowestRankMergesFirst) {
  // bc (rank 0) before ab (rank 1): "abc" -> a + bc; no merge "a bc" exists, so it stays two tokens.
  auto t = Build(TinyModel({"b c", "a b", "ab c"}));
  EXPECT_EQ(Ids(*t, "abc"), (std::vector<uint32_t>{0, 6}));
  // ab first, then ab + c.
  auto u = Build(TinyModel({"a b", "b c", "ab c"}));
  EXPECT_EQ(Ids(*u, "abc"), (std::vector<uint32_t>{7}));
  EXPECT_EQ(Ids(*u, "abcabc"), (std::vector<uint32_t>{7, 7}));
}

TEST(BpeModel, TiesGoToTheLeftmostPair) {
  auto t = Build(TinyModel({"a a"}));
  EXPECT_EQ(Ids(*t, "aaa"), (std::vector<uint32_t>{10, 0}));
  EXPECT_EQ(Ids(*t, "aaaaa"), (std::vector<uint32_t>{10, 10, 0}));
}

TEST(BpeModel, StringAndArrayMergesAreTheSame) {
  auto a = Build(TinyModel({"a b", "c d", "ab cd"}));
  auto b = Build(
      TinyModel(json::array({json::array({"a", "b"}), json::array({"c", "d"}), json::array({"ab", "cd"})})));
  EXPECT_EQ(Ids(*a, "abcdab"), (std::vector<uint32_t>{9, 5}));
  EXPECT_EQ(Ids(*a, "abcdab"), Ids(*b, "abcdab"));
  ASSERT_EQ(a->Merges().size(), 3u);
  EXPECT_EQ(a->Merges()[2], (std::pair<std::string, std::string>{"ab", "cd"}));
}

TEST(BpeModel, LongWordsUseTheSameMergeOrder) {
  // Words over 128 symbols take the heap path; the result must equal the short-word path piece by piece.
  auto t = Build(TinyModel({"a b", "b c", "ab c", "c d", "abc d", "a a"}));
  std::string word;
  for (int i = 0; i < 100; ++i) word += "abcd";
  word += "aaa";
  std::vector<uint32_t> want;
  for (int i = 0; i < 100; ++i) want.push_back(9);
  want.push_back(10);
  want.push_back(0);
  EXPECT_EQ(Ids(*t, word), want);
}

TEST(BpeModel, ByteFallbackAndUnknown) {
  json m = TinyModel({"a b"});
  m["vocab"]["<unk>"] = 11;
  m["vocab"]["<0xC3>"] = 12;
  m["vocab"]["<0xA9>"] = 13;
  m["unk_token"] = "<unk>";
  m["byte_fallback"] = true;
  auto t = Build(m);
  // é = C3 A9 has byte tokens; x has none, so it becomes <unk>.
  EXPECT_EQ(Ids(*t, "ab\xC3\xA9x"), (std::vector<uint32_t>{5, 12, 13, 11}));
  m["byte_fallback"] = false;
  m["fuse_unk"] = true;
  auto u = Build(m);
  EXPECT_EQ(Ids(*u, "a\xC3\xA9xyb"), (std::vector<uint32_t>{0, 11, 1}));  // three unknowns fused into one
  m["fuse_unk"] = false;
  auto v = Build(m);
  EXPECT_EQ(Ids(*v, "a\xC3\xA9xyb"), (std::vector<uint32_t>{0, 11, 11, 11, 1}));
}

TEST(BpeModel, IgnoreMergesTakesWholeWords) {
  json m = TinyModel({"b c", "a b", "ab c"});
  m["vocab"]["abc"] = 7;
  auto t = Build(m);
  EXPECT_EQ(Ids(*t, "abc"), (std::vector<uint32_t>{0, 6}));
  m["ignore_merges"] = true;
  auto u = Build(m);
  EXPECT_EQ(Ids(*u, "abc"), (std::vector<uint32_t>{7}));
}

TEST(AddedTokens, StripAndSingleWordFlags) {
  json added = json::array({
      {{"id", 20}, {"content", "<m>"}, {"special", true}, {"lstrip", true}, {"rstrip", true}},
      {{"id", 21}, {"content", "cd"}, {"special", false}, {"single_word", true}, {"normalized", false}},
  });
  json m = TinyModel({"a b"});
  m["vocab"][" "] = 14;
  json pre = {{"type", "WhitespaceSplit"}};
  auto t = Build(m, {{"added_tokens", added}, {"pre_tokenizer", pre}});
  // lstrip/rstrip swallow the spaces around <m>.
  EXPECT_EQ(Ids(*t, "ab  <m>  ab"), (std::vector<uint32_t>{5, 20, 5}));
  // single_word: "cd" between spaces is the added token, inside "acdb" it is not.
  EXPECT_EQ(Ids(*t, "ab cd ab"), (std::vector<uint32_t>{5, 21, 5}));
  EXPECT_EQ(Ids(*t, "acdb"), (std::vector<uint32_t>{0, 2, 3, 1}));
  EXPECT_EQ(t->token_types()[20], TokenType::kControl);
  EXPECT_EQ(t->token_types()[21], TokenType::kUserDefined);
  // No decoder: tokens are joined with spaces, as tokenizers does; skip_special drops <m>.
  EXPECT_EQ(t->Decode({5, 20, 5}, true), "ab ab");
  EXPECT_EQ(t->Decode({5, 20, 5}, false), "ab <m> ab");
}

TEST(PostProcessor, TemplateAddsBosAndEos) {
  json post = {{"type", "TemplateProcessing"},
               {"single", json::array({{{"SpecialToken", {{"id", "<s>"}}}},
                                       {{"Sequence", {{"id", "A"}}}},
                                       {{"SpecialToken", {{"id", "</s>"}}}}})},
               {"special_tokens", {{"<s>", {{"ids", {30}}}}, {"</s>", {{"ids", {31}}}}}}};
  auto t = Build(TinyModel({"a b"}), {{"post_processor", post}});
  EXPECT_EQ(Ids(*t, "ab", true), (std::vector<uint32_t>{30, 5, 31}));
  EXPECT_EQ(Ids(*t, "ab", false), (std::vector<uint32_t>{5}));
}

TEST(Pattern, OnigurumaWhitespaceIncludesNextLine) {
  std::unique_ptr<Pattern> p;
  ASSERT_TRUE(Pattern::Regex(R"(\s+)", &p).ok());
  std::vector<std::pair<size_t, size_t>> m;
  p->FindAll("a\xC2\x85\t b", &m);  // U+0085 NEXT LINE is White_Space in Oniguruma
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0], (std::pair<size_t, size_t>{1, 5}));
  EXPECT_EQ(OnigurumaToPcre2(R"([^\s\p{L}]\S)"), R"([^\s\x{85}\p{L}][^\s\x{85}])");
  EXPECT_FALSE(Pattern::Regex("(unclosed", &p).ok());
}

TEST(Utf8, RepairReplacesMaximalSubparts) {
  std::string out;
  std::vector<size_t> bad;
  // F0 9F 98 is a truncated 4-byte sequence (one U+FFFD); C0 is never valid; ED A0 80 is a surrogate (three).
  EXPECT_EQ(utf8::Repair("a\xF0\x9F\x98"
                         "b\xC0"
                         "c\xED\xA0\x80",
                         &out, &bad),
            5u);
  EXPECT_EQ(out,
            "a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD"
            "c\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(bad, (std::vector<size_t>{1, 5, 7, 8, 9}));
  EXPECT_TRUE(utf8::IsValid("日本語 \xF0\x9F\x98\x80"));
  EXPECT_EQ(utf8::FirstInvalid("ok\xFF"), 2u);
}

TEST(HfTokenizer, RejectsWhatItDoesNotSupport) {
  json tok = {{"model", TinyModel({"a b"})}, {"normalizer", {{"type", "Precompiled"}}}};
  std::unique_ptr<HfTokenizer> t;
  Status s = HfTokenizer::FromJson(tok, json(), "x/tokenizer.json", &t);
  EXPECT_EQ(s.code(), Status::Code::kUnsupported);
  EXPECT_NE(s.message().find("x/tokenizer.json: normalizer type \"Precompiled\""), std::string::npos)
      << s.message();
  tok = {{"model", TinyModel({"a z"})}};
  s = HfTokenizer::FromJson(tok, json(), "x/tokenizer.json", &t);
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("model.merges[0] uses \"z\""), std::string::npos) << s.message();
  tok = {{"model", {{"type", "Unigram"}, {"vocab", json::array()}}}};
  EXPECT_EQ(HfTokenizer::FromJson(tok, json(), "x", &t).code(), Status::Code::kUnsupported);
  // Invalid UTF-8 is refused with its offset, not encoded.
  auto good = Build(TinyModel({"a b"}));
  std::vector<uint32_t> ids;
  s = good->Encode("ab\xFF", false, &ids);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("byte 2"), std::string::npos);
}

}  // namespace
}  // namespace fm
