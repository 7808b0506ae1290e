// Text helpers for the IFEval checkers, with the meaning Python gives them (IFEval's reference checkers are
// Python): whitespace is str.isspace(), "upper"/"lower" are str.isupper()/str.islower(), lengths are code
// points (len(str)), words are `\w+` runs. Sentence counting approximates NLTK's Punkt tokenizer (English)
// and ja_sentence_segmenter (Japanese), which the reference uses; see docs/evaluation.md for the differences.
// Pure functions on valid UTF-8; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fm::ifeval {

// Code points of valid UTF-8 `s`.
std::vector<uint32_t> CodePoints(std::string_view s);
std::string FromCodePoints(const std::vector<uint32_t>& cps);
// len(s) in Python: the number of code points.
size_t CodePointCount(std::string_view s);

bool IsPySpace(uint32_t cp);     // str.isspace()
bool IsLetter(uint32_t cp);      // general category L*
bool IsCased(uint32_t cp);       // Lu, Ll or Lt
bool IsPyWordChar(uint32_t cp);  // re `\w`: letters, numbers, "_"

// s.strip() / s.lstrip() / s.rstrip() with Python's default whitespace.
std::string_view Strip(std::string_view s);
// s.strip(chars) with an explicit set of (UTF-8) characters.
std::string StripChars(std::string_view s, std::string_view chars);
// s.lower() / s.upper() (simple case mapping per code point).
std::string Lower(std::string_view s);
// str.isupper(): at least one cased character and no cased character that is not uppercase.
bool PyIsUpper(std::string_view s);
bool PyIsLower(std::string_view s);

// len(re.findall(r"\w+", s)): IFEval's count_words.
size_t CountWords(std::string_view s);
// The sentences of English text: cut after ".", "!" or "?" (with any closing quotes/brackets) followed by
// whitespace or the end, except after common abbreviations, single-letter initials and numbers like "3.";
// an approximation of NLTK Punkt, which IFEval's count_sentences uses.
std::vector<std::string> SplitSentencesEn(std::string_view s);
// The sentence count of Japanese text as ja_sentence_segmenter's pipeline in M-IFEval computes it: full-width
// "！？" normalised to "!?", lines split at newlines (blank lines dropped), a line ending in "の" joined with
// the next, then each line cut after "。", "!" and "?".
size_t CountSentencesJa(std::string_view s);
// Word tokens as NLTK's word_tokenize would give them for counting all-capital words: runs of word characters
// joined by inner "-", "." or apostrophes, with English clitics ('s, 're, n't, ...) split off.
std::vector<std::string> WordTokens(std::string_view s);

}  // namespace fm::ifeval
