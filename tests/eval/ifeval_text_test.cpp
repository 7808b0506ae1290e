// Python-semantics text helpers, the Python-re emulation and the script/function-word language detector.
#include "eval/ifeval_text.h"

#include <gtest/gtest.h>

#include "eval/language_id.h"
#include "eval/py_regex.h"

namespace fm::ifeval {
namespace {

TEST(PyRegex, SplitFindallSubLikePython) {
  PyRegex r = PyRegex::Must(R"(\s?\*\*\*\s?)");
  EXPECT_EQ(r.Split("a *** b***"), (std::vector<std::string>{"a", "b", ""}));
  PyRegex ml = PyRegex::Must(R"(^\s*-.*$)", PyRegex::kMultiline);
  EXPECT_EQ(ml.Count("- a\ntext\n  - b\n"), 2u);
  PyRegex dot = PyRegex::Must("a.b");
  EXPECT_FALSE(dot.Search("a\nb"));  // `.` stops at newline
  EXPECT_TRUE(PyRegex::Must(R"(\bred\b)", PyRegex::kIgnoreCase).Search("a RED car"));
  EXPECT_FALSE(PyRegex::Must(R"(\bred\b)").Search("reddish"));
  EXPECT_EQ(PyRegex::Must("「.*?」").Sub("a「b」c「d」", ""), "ac");
  EXPECT_EQ(PyRegex::Escape("P.P.S."), "P\\.P\\.S\\.");
  EXPECT_EQ(PyRegex::Must(R"(\w+)").Count("日本語 text_1, ok"), 3u);  // Unicode \w
  PyRegex bad;
  EXPECT_FALSE(PyRegex::Compile("(unclosed", 0, &bad).ok());
}

TEST(IfevalText, PythonStringSemantics) {
  EXPECT_EQ(Strip("\u3000 x y \n\x1c"), "x y");  // ideographic space and \x1c are str.isspace()
  EXPECT_EQ(StripChars("「「x」", "「」"), "x");
  EXPECT_EQ(Lower("ÄBC"), "äbc");
  EXPECT_TRUE(PyIsUpper("HELLO, WORLD 123"));
  EXPECT_FALSE(PyIsUpper("123"));  // no cased character
  EXPECT_FALSE(PyIsUpper("HELLo"));
  EXPECT_TRUE(PyIsLower("hello 日本"));
  EXPECT_EQ(CodePointCount("日本a"), 3u);
  EXPECT_EQ(CountWords("It's 3.5 km, isn't it?"), 8u);  // \w+ runs: It s 3 5 km isn t it
}

TEST(IfevalText, EnglishSentences) {
  EXPECT_EQ(SplitSentencesEn("Hello there. How are you? Fine!").size(), 3u);
  EXPECT_EQ(SplitSentencesEn("Mr. Smith met Dr. Jones at 3.30 today.").size(), 1u);
  EXPECT_EQ(SplitSentencesEn("He said \"Stop.\" Then he left...").size(), 2u);
  EXPECT_EQ(SplitSentencesEn("J. R. R. Tolkien wrote books. They sold.").size(), 2u);
  EXPECT_EQ(SplitSentencesEn("no final period").size(), 1u);
  EXPECT_EQ(SplitSentencesEn("   ").size(), 0u);
}

TEST(IfevalText, JapaneseSentences) {
  EXPECT_EQ(CountSentencesJa("今日は晴れです。明日は雨です！本当？"), 3u);
  EXPECT_EQ(CountSentencesJa("見出し\n\n本文です。"), 2u);      // a line without punctuation is a sentence
  EXPECT_EQ(CountSentencesJa("日本の\n首都は東京です。"), 1u);  // a line ending in の continues
  EXPECT_EQ(CountSentencesJa("えっ！？本当。"), 2u);            // consecutive punctuation ends one sentence
}

TEST(IfevalText, WordTokensSplitClitics) {
  EXPECT_EQ(WordTokens("AI's state-of-the-art U.S. models don't"),
            (std::vector<std::string>{"AI", "'s", "state-of-the-art", "U.S", "models", "do", "n't"}));
}

TEST(LanguageId, ScriptsAndFunctionWords) {
  EXPECT_EQ(DetectLanguage("これは日本語の文章です。"), "ja");
  EXPECT_EQ(DetectLanguage("这是一个中文句子"), "zh");
  EXPECT_EQ(DetectLanguage("이것은 한국어 문장입니다"), "ko");
  EXPECT_EQ(DetectLanguage("Это русский текст, который мы читаем."), "ru");
  EXPECT_EQ(DetectLanguage("Це український текст і ми його читаємо."), "uk");
  EXPECT_EQ(DetectLanguage("Това е български текст за хората."), "bg");
  EXPECT_EQ(DetectLanguage("این یک متن فارسی است که می‌خوانیم"), "fa");
  EXPECT_EQ(DetectLanguage("یہ اردو کا ایک جملہ ہے جو ہم پڑھتے ہیں"), "ur");
  EXPECT_EQ(DetectLanguage("यह एक हिंदी वाक्य है और यह अच्छा है"), "hi");
  EXPECT_EQ(DetectLanguage("हे एक मराठी वाक्य आहे आणि ते चांगले आहे"), "mr");
  EXPECT_EQ(DetectLanguage("यो नेपाली वाक्य हो र यो राम्रो छ"), "ne");
  EXPECT_EQ(DetectLanguage("ಇದು ಕನ್ನಡ ವಾಕ್ಯ"), "kn");
  EXPECT_EQ(DetectLanguage("Đây là một câu tiếng Việt rất hay."), "vi");
  EXPECT_EQ(DetectLanguage("Hii ni sentensi ya Kiswahili na ni nzuri sana."), "sw");
  EXPECT_EQ(DetectLanguage("Questo è un testo italiano che non è molto lungo."), "it");
  EXPECT_EQ(DetectLanguage("Este é um texto em português que não é longo."), "pt");
  EXPECT_EQ(DetectLanguage("The quick brown fox jumps over the lazy dog and the cat."), "en");
  EXPECT_EQ(DetectLanguage("12345 ... !!!"), "");
  EXPECT_EQ(DetectLanguage("Xyzzy plugh"), "und");
}

}  // namespace
}  // namespace fm::ifeval
