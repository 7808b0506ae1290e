// Language identification for IFEval's response_language and english_* checks: a script-based detector
// (the Unicode script that most letters belong to decides; kana makes Han text Japanese; distinctive letters
// separate Arabic/Persian/Urdu and Russian/Ukrainian/Bulgarian), refined by common function words for the
// languages that share a script (Latin: en fr de es pt it nl fi sw vi pl tr id sv cs ro; Devanagari: hi mr
// ne). The reference uses the `langdetect` package (character n-gram profiles); this detector agrees with it
// on text that is clearly in one language and is documented as an approximation (docs/evaluation.md). Pure
// function; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace fm::ifeval {

// ISO 639-1 code ("en", "ja", "fr", ...). "" when the text has no letters at all (langdetect raises, and
// IFEval then counts the instruction as followed); "und" when it has letters of a script this detector does
// not cover or Latin text with no known function word.
std::string DetectLanguage(std::string_view text);

}  // namespace fm::ifeval
