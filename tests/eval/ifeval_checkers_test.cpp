// Every IFEval checker on hand-made responses that follow and that break the instruction; the loose response
// variants; scoring and summary rules (unimplemented instructions excluded); loading the shared IFEval data.
#include "eval/ifeval_checkers.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "eval/ifeval.h"

namespace fm::ifeval {
namespace {

using json = nlohmann::json;

struct Case {
  const char* id;
  const char* kwargs;
  const char* pass;
  const char* fail;
};

// One row per checker (some with a second argument variant). `pass` follows the instruction, `fail` does not.
const Case kCases[] = {
    // English (IFEval)
    {"en:keywords:existence", R"({"keywords": ["apple", "Banana"]})", "I like apples and bananas.",
     "I like apples."},
    {"en:keywords:frequency", R"({"keyword": "cat", "frequency": 2, "relation": "at least"})", "Cat and cat.",
     "One cat."},
    {"en:keywords:frequency", R"({"keyword": "dog", "frequency": 2, "relation": "less than"})", "A dog.",
     "Dog and dog."},
    {"en:keywords:forbidden_words", R"({"forbidden_words": ["red"]})", "The reddish sky.", "A RED car."},
    {"en:keywords:letter_frequency", R"({"letter": "z", "let_frequency": 3, "let_relation": "at least"})",
     "Zz z", "zz"},
    {"en:keywords:letter_frequency", R"({"letter": "a", "let_frequency": 2, "let_relation": "less than"})",
     "A b", "A a"},
    {"en:language:response_language", R"({"language": "de"})", "Das ist ein Haus und es ist nicht klein.",
     "This is a house and it is not small."},
    {"en:length_constraints:number_sentences", R"({"num_sentences": 3, "relation": "at least"})",
     "One is here. Two is there! Is three?", "Mr. Smith went home. He slept."},
    {"en:length_constraints:number_sentences", R"({"num_sentences": 2, "relation": "less than"})",
     "Dr. Who met Mr. Smith at 3.30 today.", "One. Two."},
    {"en:length_constraints:number_paragraphs", R"({"num_paragraphs": 2})", "First\n***\nSecond",
     "First\n***\n\n***\nSecond"},
    {"en:length_constraints:number_words", R"({"num_words": 5, "relation": "less than"})",
     "one two three four", "one two three four five"},
    {"en:length_constraints:number_words", R"({"num_words": 3, "relation": "at least"})", "it's a dog",
     "a dog"},
    {"en:length_constraints:nth_paragraph_first_word",
     R"({"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "hello"})",
     "Intro text.\n\n\"Hello, world\" said.", "Intro text.\n\nGoodbye, world."},
    {"en:detectable_content:number_placeholders", R"({"num_placeholders": 2})", "[name] lives at [address].",
     "[name] only."},
    {"en:detectable_content:postscript", R"({"postscript_marker": "P.S."})", "Body.\n\nP.S. see you",
     "Body. PS see you"},
    {"en:detectable_content:postscript", R"({"postscript_marker": "P.P.S"})", "Body.\np. p. s. more",
     "Body.\nP.S. more"},
    {"en:detectable_format:number_bullet_lists", R"({"num_bullets": 2})", "* one\n- two\n**bold** line",
     "* one\n* two\n* three"},
    {"en:detectable_format:constrained_response", "{}", "  My answer is yes.  ", "Yes."},
    {"en:detectable_format:number_highlighted_sections", R"({"num_highlights": 2})", "*one* and **two**",
     "*one* and ** **"},
    {"en:detectable_format:multiple_sections", R"({"section_spliter": "Section", "num_sections": 2})",
     "Section 1\nA\nSection 2\nB", "Section 1\nA\nSection two\nB"},
    {"en:detectable_format:json_format", "{}", "```json\n{\"a\": [1, 2]}\n```", "{a: 1}"},
    {"en:detectable_format:title", "{}", "<<My Title>>\nText", "<<  >> text"},
    {"en:combination:two_responses", "{}", "Answer A\n******\nAnswer B", "Answer A\n******\nAnswer A"},
    {"en:combination:repeat_prompt", R"({"prompt_to_repeat": "Write a poem."})",
     "write a poem. Roses are red.", "Sure! Write a poem."},
    {"en:startend:end_checker", R"({"end_phrase": "Any other questions?"})", "Text. any other questions?\"",
     "Any other questions? Thanks."},
    {"en:startend:quotation", "{}", " \"Hello\"\n", "\"Hello"},
    {"en:change_case:capital_word_frequency", R"({"capital_frequency": 2, "capital_relation": "at least"})",
     "NASA and the AI's future.", "The AI's future."},
    {"en:change_case:capital_word_frequency", R"({"capital_frequency": 2, "capital_relation": "less than"})",
     "The AI's future.", "NASA and AI."},
    {"en:change_case:english_capital", "{}", "THIS IS A HOUSE AND IT IS THE BEST ONE.",
     "DAS IST EIN HAUS UND ES IST NICHT KLEIN."},
    {"en:change_case:english_lowercase", "{}", "this is a house and it is the best one.",
     "This is a house and it is the best one."},
    {"en:punctuation:no_comma", "{}", "No commas here.", "Yes, one."},
    {"punctuation:no_comma", "{}", "No commas here.", "Yes, one."},  // original IFEval ids: English
    // Japanese (M-IFEval)
    {"ja:keywords:existence", R"({"keywords": ["創造性"]})", "創造性が大切です。", "想像力が大切です。"},
    {"ja:keywords:frequency", R"({"keyword": "アプリ", "frequency": 3, "relation": "以上"})",
     "アプリ、アプリ、アプリ", "アプリとアプリ"},
    {"ja:keywords:frequency", R"({"keyword": "アプリ", "frequency": 2, "relation": "未満"})", "アプリ",
     "アプリとアプリ"},
    {"ja:keywords:forbidden_words", R"({"forbidden_words": ["バランス"]})", "健康が大事。",
     "バランスが大事。"},
    {"ja:keywords:letter_frequency", R"({"letter": "し", "let_frequency": 3, "let_relation": "以上"})",
     "しシし", "しし"},
    {"ja:language:response_language", R"({"language": "fr"})", "C'est une maison et elle est très belle.",
     "これは家です。"},
    {"ja:language:response_language", R"({"language": "th"})", "สวัสดีครับ ยินดีที่ได้รู้จัก",
     "Hello there, my friend."},
    {"ja:language:response_language", R"({"language": "fi"})", "Tämä on talo ja se on kaunis.",
     "Det här är ett hus och det är vackert."},
    {"ja:language:response_language", R"({"language": "ar"})", "مرحبا بالعالم، هذا بيت جميل",
     "این یک خانه زیبا است که پیدا کردم"},
    {"ja:length_constraints:number_sentences", R"({"num_sentences": 3, "relation": "以上"})",
     "一文目です。二文目です！三文目です？", "一文目です。二文目の\n続きです。"},
    {"ja:length_constraints:number_paragraphs", R"({"num_paragraphs": 2})", "一段落\n***\n二段落",
     "一段落だけ"},
    {"ja:length_constraints:number_letters", R"({"num_letters": 5, "relation": "未満"})", "あいうえ",
     "あいうえお"},
    {"ja:length_constraints:nth_paragraph_first_word",
     R"({"first_word": "首", "num_paragraphs": 2, "nth_paragraph": 2})", "キリン。\n\n「首が長い。」",
     "キリン。\n\n足が長い。"},
    {"ja:detectable_content:number_placeholders", R"({"num_placeholders": 2})", "[名前]と[場所]",
     "[名前]だけ"},
    {"ja:detectable_content:postscript", R"({"postscript_marker": "追伸"})", "本文。\n追伸：またね",
     "本文。"},
    {"ja:detectable_content:postscript", R"({"postscript_marker": "P.P.S."})", "本文\np.p.s. 補足",
     "本文\nPPS 補足"},
    {"ja:detectable_format:number_bullet_lists", R"({"num_bullets": 2})", "・一つめ\n・二つめ",
     "・一つめ\n・二つめ\n・三つめ"},
    {"ja:detectable_format:number_numbered_lists", R"({"num_items": 2})", "1. 一つめ\n2. 二つめ",
     "1.一つめ\n2. 二つめ"},
    {"ja:detectable_format:constrained_response", "{}", "はい、そうです。", "はい。"},
    {"ja:detectable_format:number_highlighted_sections", R"({"num_highlights": 2})", "《一》と《二》",
     "《一》と《 》"},
    {"ja:detectable_format:multiple_sections", R"({"section_spliter": "章", "num_sections": 2})",
     "第1章\n内容\n第２章\n内容", "第1章\n内容\n第二章\n内容"},
    {"ja:detectable_format:json_format", "{}", "{\"種類\": \"温泉\"}", "種類: 温泉"},
    {"ja:detectable_format:title", "{}", "『題名』\n本文", "「題名」\n本文"},
    {"ja:combination:two_responses", "{}", "回答一\n******\n回答二", "回答一\n******\n\n******\n回答二"},
    {"ja:combination:repeat_prompt", R"({"prompt_to_repeat": "Explain AI."})", "Explain AI. It is ...",
     "explain ai. It is ..."},
    {"ja:startend:end_checker", R"({"end_phrase": "以上です。"})", "本文。以上です。」", "以上です。本文。"},
    {"ja:startend:quotation", "{}", "「全部」", "全部」"},
    {"ja:startend:sentence_unified_end", R"({"ending": "です"})",
     "これはペンです。「それだ。」あれは本です。", "これはペンです。あれは本だ。"},
    {"ja:letters:furigana", "{}", "漢字（かんじ）を書（か）く", "漢字（かんじ）を書く"},
    {"ja:letters:kanji", R"({"kanji_limit": 3, "relation": "以上"})", "漢字三つ", "かな漢字"},
    {"ja:letters:kanji", R"({"kanji_limit": 3, "relation": "未満"})", "かな漢字", "漢字三つ"},
    {"ja:letters:kansuuji", "{}", "三つの本", "３つの本"},
    {"ja:letters:no_hiragana", "{}", "漢字ト片仮名", "漢字と片仮名"},
    {"ja:letters:hiragana_only", "{}", "ひらがなだけ。ー！", "ひらがなと漢字"},
    {"ja:letters:no_katakana", "{}", "ひらがなと漢字", "カタカナ"},
    {"ja:letters:katakana_only", "{}", "カタカナ・デス！", "カタカナです"},
    {"ja:punctuation:no_comma", "{}", "読点なし。", "読点、あり。"},
    {"ja:punctuation:no_period", "{}", "句点なし", "句点あり。"},
};

TEST(IfevalCheckers, EveryCheckerPassesAndFails) {
  std::set<std::string> covered;
  for (const auto& c : kCases) {
    SCOPED_TRACE(std::string(c.id) + " " + c.kwargs);
    InstructionCheck check;
    Status s = BuildInstructionCheck(c.id, json::parse(c.kwargs), &check);
    ASSERT_TRUE(s.ok()) << s.message();
    EXPECT_TRUE(check(c.pass)) << "should follow: " << c.pass;
    EXPECT_FALSE(check(c.fail)) << "should not follow: " << c.fail;
    covered.insert(std::string(c.id).find(':') == std::string(c.id).rfind(':') ? "en:" + std::string(c.id)
                                                                               : c.id);
  }
  // Every implemented instruction has a pass and a fail case above.
  for (const auto& id : ImplementedInstructions()) EXPECT_TRUE(covered.count(id)) << "no test for " << id;
}

TEST(IfevalCheckers, LanguageCheckCountsTextWithoutLettersAsFollowed) {
  InstructionCheck check;
  ASSERT_TRUE(BuildInstructionCheck("en:language:response_language", json{{"language", "ko"}}, &check).ok());
  EXPECT_TRUE(check("12345 !!!"));  // langdetect raises on no features; IFEval counts it as followed
  EXPECT_TRUE(check("안녕하세요 반갑습니다"));
}

TEST(IfevalCheckers, UnknownIdIsUnsupportedAndBadArgumentsAreErrors) {
  InstructionCheck check;
  EXPECT_EQ(BuildInstructionCheck("ja:detectable_format:nominal_ending", json{{"count", 3}}, &check).code(),
            Status::Code::kUnsupported);
  EXPECT_EQ(BuildInstructionCheck("en:no:such", json::object(), &check).code(), Status::Code::kUnsupported);
  Status s = BuildInstructionCheck("en:length_constraints:number_words", json{{"num_words", 5}}, &check);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("relation"), std::string::npos) << s.message();
  s = BuildInstructionCheck("en:length_constraints:number_words",
                            json{{"num_words", 5}, {"relation", "most"}}, &check);
  EXPECT_NE(s.message().find("\"less than\" or \"at least\""), std::string::npos) << s.message();
  s = BuildInstructionCheck("ja:keywords:letter_frequency",
                            json{{"letter", "a"}, {"let_frequency", 1}, {"let_relation", "以上"}}, &check);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
}

TEST(IfevalLoose, EightVariants) {
  std::vector<std::string> v = LooseVariants("Sure, **here**:\nbody text\nThanks!");
  ASSERT_EQ(v.size(), 8u);
  EXPECT_EQ(v[0], "Sure, **here**:\nbody text\nThanks!");
  EXPECT_EQ(v[1], "Sure, here:\nbody text\nThanks!");
  EXPECT_EQ(v[2], "body text\nThanks!");
  EXPECT_EQ(v[3], "Sure, **here**:\nbody text");
  EXPECT_EQ(v[4], "body text");
  EXPECT_EQ(v[5], "body text\nThanks!");
  EXPECT_EQ(v[6], "Sure, here:\nbody text");
  EXPECT_EQ(v[7], "body text");
  std::vector<std::string> one = LooseVariants("single line");
  EXPECT_EQ(one[2], "");
  EXPECT_EQ(one[4], "");
}

Prompt MakePrompt(const std::vector<std::pair<std::string, json>>& ins) {
  Prompt p;
  p.prompt = "prompt";
  for (const auto& [id, kw] : ins) {
    Instruction i;
    i.id = id;
    i.kwargs = kw;
    Status s = BuildInstructionCheck(id, kw, &i.check);
    if (s.code() != Status::Code::kUnsupported) {
      EXPECT_TRUE(s.ok()) << s.message();
    }
    p.instructions.push_back(i);
  }
  return p;
}

TEST(IfevalScore, StrictLooseAndExclusionOfUnimplemented) {
  // A preamble line with a comma breaks no_comma strictly; dropping the first line (loose) fixes it. The
  // bold end phrase fails strictly and passes once asterisks are removed.
  Prompt p = MakePrompt({{"en:punctuation:no_comma", json::object()},
                         {"en:startend:end_checker", json{{"end_phrase", "The end."}}},
                         {"ja:detectable_format:nominal_ending", json{{"count", 1}}}});
  PromptResult r = ScoreResponse(p, "Sure, here you go\nA story without pause\n**The end.**");
  ASSERT_EQ(r.instructions.size(), 3u);
  EXPECT_FALSE(r.instructions[0].strict);
  EXPECT_TRUE(r.instructions[0].loose);
  EXPECT_FALSE(r.instructions[1].strict);
  EXPECT_TRUE(r.instructions[1].loose);
  EXPECT_FALSE(r.instructions[2].implemented);

  Prompt q = MakePrompt({{"en:punctuation:no_comma", json::object()}});
  PromptResult ok = ScoreResponse(q, "fine");
  PromptResult empty = ScoreResponse(q, "   ");  // an empty reply follows nothing
  EXPECT_TRUE(ok.instructions[0].strict);
  EXPECT_FALSE(empty.instructions[0].strict);
  EXPECT_FALSE(empty.instructions[0].loose);
  Prompt only_unimpl = MakePrompt({{"ja:detectable_format:nominal_ending", json{{"count", 1}}}});

  Summary s = Summarize({r, ok, empty, ScoreResponse(only_unimpl, "x")});
  EXPECT_EQ(s.prompts, 3);       // the prompt with only an unimplemented instruction is left out
  EXPECT_EQ(s.instructions, 4);  // 2 + 1 + 1 implemented
  EXPECT_DOUBLE_EQ(s.prompt_strict, 1.0 / 3);
  EXPECT_DOUBLE_EQ(s.prompt_loose, 2.0 / 3);
  EXPECT_DOUBLE_EQ(s.inst_strict, 1.0 / 4);
  EXPECT_DOUBLE_EQ(s.inst_loose, 3.0 / 4);
  EXPECT_EQ(s.not_implemented.at("ja:detectable_format:nominal_ending"), 2);
  EXPECT_DOUBLE_EQ(s.per_instruction.at("en:punctuation:no_comma").first, 1.0 / 3);
}

TEST(IfevalData, SharedFilesLoadAndOnlyNominalEndingIsMissing) {
  const std::string dir = std::string(FINMERGE_SOURCE_DIR) + "/../shared/data/ifeval/";
  std::set<std::string> missing;
  for (const auto& [file, n] : std::vector<std::pair<std::string, size_t>>{{"en_input_data.jsonl", 541},
                                                                           {"ja_input_data.jsonl", 172}}) {
    std::vector<Prompt> prompts;
    Status s = LoadPrompts(dir + file, &prompts);
    ASSERT_TRUE(s.ok()) << s.message();
    EXPECT_EQ(prompts.size(), n);
    for (const auto& p : prompts) {
      for (const auto& i : p.instructions) {
        if (!i.check) missing.insert(i.id);
      }
    }
  }
  EXPECT_EQ(missing, std::set<std::string>{"ja:detectable_format:nominal_ending"});
}

TEST(IfevalData, ErrorsNameFileAndLine) {
  const std::string path = ::testing::TempDir() + "/bad_ifeval.jsonl";
  std::ofstream(path)
      << R"({"key": 1, "prompt": "p", "instruction_id_list": ["en:punctuation:no_comma"], "kwargs": [{}]})"
      << "\n"
      << R"({"key": 2, "prompt": "p", "instruction_id_list": ["en:length_constraints:number_words"], "kwargs": [{"num_words": 3}]})"
      << "\n";
  std::vector<Prompt> prompts;
  Status s = LoadPrompts(path, &prompts);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("bad_ifeval.jsonl:2"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("relation"), std::string::npos) << s.message();
  std::ofstream(path) << "{\"prompt\": \"p\"}\n";
  s = LoadPrompts(path, &prompts);
  EXPECT_NE(s.message().find(":1: missing \"instruction_id_list\""), std::string::npos) << s.message();
}

}  // namespace
}  // namespace fm::ifeval
