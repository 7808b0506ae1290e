#include "eval/language_id.h"

#include <algorithm>
#include <map>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "eval/ifeval_text.h"

namespace fm::ifeval {

namespace {

struct ScriptRange {
  uint32_t lo, hi;
  const char* script;
};

// Scripts by code point range; "Latin", "Cyrillic", "Arabic", "Devanagari", "Han" and "Kana" are refined
// below, the others name their language directly.
constexpr ScriptRange kScripts[] = {
    {0x0041, 0x024F, "Latin"},    {0x1E00, 0x1EFF, "Latin"},      {0x0370, 0x03FF, "el"},
    {0x0400, 0x052F, "Cyrillic"}, {0x0530, 0x058F, "hy"},         {0x0590, 0x05FF, "he"},
    {0x0600, 0x06FF, "Arabic"},   {0x0750, 0x077F, "Arabic"},     {0xFB50, 0xFDFF, "Arabic"},
    {0xFE70, 0xFEFF, "Arabic"},   {0x0900, 0x097F, "Devanagari"}, {0x0980, 0x09FF, "bn"},
    {0x0A00, 0x0A7F, "pa"},       {0x0A80, 0x0AFF, "gu"},         {0x0B00, 0x0B7F, "or"},
    {0x0B80, 0x0BFF, "ta"},       {0x0C00, 0x0C7F, "te"},         {0x0C80, 0x0CFF, "kn"},
    {0x0D00, 0x0D7F, "ml"},       {0x0D80, 0x0DFF, "si"},         {0x0E00, 0x0E7F, "th"},
    {0x0E80, 0x0EFF, "lo"},       {0x0F00, 0x0FFF, "bo"},         {0x1000, 0x109F, "my"},
    {0x10A0, 0x10FF, "ka"},       {0x1100, 0x11FF, "ko"},         {0x1200, 0x137F, "am"},
    {0x1780, 0x17FF, "km"},       {0x3040, 0x30FF, "Kana"},       {0x31F0, 0x31FF, "Kana"},
    {0xFF66, 0xFF9F, "Kana"},     {0x3130, 0x318F, "ko"},         {0xAC00, 0xD7AF, "ko"},
    {0x3400, 0x4DBF, "Han"},      {0x4E00, 0x9FFF, "Han"},        {0xF900, 0xFAFF, "Han"},
    {0x20000, 0x2FFFF, "Han"},
};

const char* ScriptOf(uint32_t c) {
  for (const auto& r : kScripts) {
    if (c >= r.lo && c <= r.hi) return r.script;
  }
  return nullptr;
}

// Frequent function words; a language's score is how many of the text's words are in its list.
const std::map<std::string, std::unordered_set<std::string>>& LatinWords() {
  static const std::map<std::string, std::unordered_set<std::string>> k = {
      {"en", {"the",  "and",   "of",    "to",    "is",  "in",   "that", "it",   "for",  "you",
              "with", "are",   "this",  "be",    "on",  "as",   "was",  "have", "not",  "or",
              "by",   "from",  "they",  "we",    "can", "will", "an",   "your", "i",    "my",
              "what", "which", "there", "their", "has", "but",  "at",   "were", "would"}},
      {"fr",
       {"le",   "la",   "les", "de",    "des",  "et", "est",  "un",   "une",  "du",   "que",  "qui", "dans",
        "pour", "pas",  "sur", "au",    "avec", "ce", "il",   "elle", "sont", "nous", "vous", "ne",  "en",
        "par",  "plus", "aux", "cette", "mais", "ou", "leur", "je",   "tu",   "être", "à"}},
      {"de",
       {"der",  "die",  "das",  "und",  "ist", "nicht", "ein",  "eine",  "zu",     "den",  "von",  "mit",
        "sich", "des",  "auf",  "für",  "im",  "dem",   "auch", "es",    "sie",    "ich",  "wir",  "ihr",
        "sind", "wird", "oder", "aber", "wie", "bei",   "nach", "einer", "werden", "kann", "über", "durch"}},
      {"es",
       {"el",   "la",  "los", "las",  "de",   "y",   "que", "en",      "un",   "una", "es",    "por",
        "para", "con", "no",  "del",  "se",   "su",  "al",  "lo",      "como", "más", "pero",  "sus",
        "le",   "ya",  "o",   "este", "está", "son", "muy", "también", "fue",  "hay", "entre", "cuando"}},
      {"pt",
       {"o",   "a",    "os",  "as",  "de", "e",      "que",  "do",   "da",   "dos",   "das",  "em",   "um",
        "uma", "para", "com", "não", "no", "na",     "por",  "mais", "se",   "é",     "ao",   "como", "mas",
        "foi", "seu",  "sua", "são", "ou", "também", "está", "pelo", "pela", "muito", "isso", "você"}},
      {"it", {"il",  "lo",    "la",    "i",      "gli",  "le",   "di",    "e",     "che", "è",
              "un",  "una",   "per",   "non",    "in",   "con",  "del",   "della", "dei", "delle",
              "si",  "da",    "sono",  "al",     "alla", "come", "anche", "più",   "ma",  "questo",
              "nel", "nella", "degli", "essere", "ha",   "ci",   "gli"}},
      {"nl", {"de",   "het", "een", "en", "van", "is",  "dat",  "niet", "op",  "te",   "zijn",  "voor",
              "met",  "die", "in",  "er", "ook", "aan", "maar", "om",   "als", "ze",   "wordt", "bij",
              "naar", "dit", "ik",  "je", "hij", "wij", "zij",  "kan",  "nog", "werd", "uit",   "worden"}},
      {"fi", {"ja",   "on",  "ei",    "se",   "että",  "oli",  "ovat",  "kun",   "myös",   "mutta",
              "tai",  "hän", "joka",  "sen",  "ole",   "ovat", "kuin",  "niin",  "jos",    "tämä",
              "mitä", "voi", "tässä", "sekä", "jotka", "olla", "vain",  "hyvin", "kanssa", "minä",
              "sinä", "me",  "te",    "he",   "siitä", "sitä", "kaikki"}},
      {"sw", {"na",   "ya",   "wa",   "kwa",    "ni",   "za",     "la",    "katika", "kuwa",
              "cha",  "vya",  "hii",  "hiyo",   "kama", "lakini", "pia",   "au",     "sana",
              "yake", "wake", "zake", "kwamba", "hata", "baada",  "kabla", "ambayo", "ambao",
              "watu", "kila", "kuna", "huu",    "hizi", "yao",    "wao",   "mimi"}},
      {"vi",
       {"và",  "của", "là",    "có", "không", "các", "những", "được", "cho",   "một",   "trong", "người",
        "với", "này", "để",    "đã", "khi",   "từ",  "như",   "cũng", "nhưng", "rất",   "nó",    "tôi",
        "bạn", "họ",  "chúng", "sẽ", "đến",   "ra",  "về",    "vào",  "theo",  "nhiều", "hơn"}},
      {"pl",
       {"i",   "w",     "nie",  "na",  "się", "z",   "do",    "jest",  "to",    "że",    "o",    "jak",
        "ale", "po",    "co",   "tak", "za",  "od",  "są",    "dla",   "przez", "może",  "jego", "jej",
        "już", "tylko", "oraz", "czy", "być", "ich", "także", "który", "która", "które", "gdy",  "bardzo"}},
      {"tr",
       {"ve",    "bir", "bu",     "da",   "de",    "için",  "ile",    "çok",   "olan", "gibi", "daha", "ama",
        "ne",    "var", "olarak", "en",   "her",   "sonra", "kadar",  "değil", "mi",   "ben",  "sen",  "biz",
        "onlar", "şey", "ya",     "veya", "ancak", "oldu",  "olduğu", "bunu",  "şu",   "yok"}},
      {"id", {"dan",     "yang",   "di",    "ini",   "itu",     "dengan", "untuk", "tidak",
              "dari",    "dalam",  "akan",  "pada",  "juga",    "ke",     "ada",   "saya",
              "kami",    "mereka", "anda",  "bisa",  "atau",    "karena", "sudah", "oleh",
              "sebagai", "lebih",  "telah", "hanya", "seperti", "bahwa",  "adalah"}},
      {"sv",
       {"och", "i",     "att",  "det",   "som", "en",  "på",   "är",     "av",   "för",   "med",   "till",
        "den", "har",   "de",   "inte",  "om",  "ett", "var",  "jag",    "men",  "så",    "vi",    "kan",
        "man", "eller", "från", "också", "sig", "när", "hade", "skulle", "vara", "efter", "mycket"}},
      {"cs", {"a",    "je",   "se",  "na",  "v",    "že",    "to",    "s",     "z",    "do",    "o",  "jsou",
              "by",   "jako", "ale", "pro", "k",    "které", "který", "která", "tak",  "jsem",  "už", "nebo",
              "jeho", "jak",  "byl", "při", "také", "po",    "ve",    "od",    "však", "tento", "jen"}},
      {"ro",
       {"și",  "în",     "de",      "la",  "cu",     "a",    "nu",   "este", "o",      "un",   "care", "pe",
        "din", "pentru", "să",      "mai", "sunt",   "ca",   "se",   "au",   "ce",     "fost", "lui",  "dar",
        "sau", "acest",  "această", "își", "foarte", "când", "până", "după", "despre", "prin"}},
  };
  return k;
}

const std::map<std::string, std::unordered_set<std::string>>& DevanagariWords() {
  static const std::map<std::string, std::unordered_set<std::string>> k = {
      {"hi", {"है",  "हैं",  "के",   "की", "का", "में",  "और",  "को", "से",   "पर",   "यह",   "नहीं", "था", "थे",
              "भी", "एक", "लिए", "कि", "जो", "हो", "गया", "कर", "करने", "होता", "होती", "अपने", "वह"}},
      {"mr", {"आहे", "आहेत", "आणि", "या",  "हे",   "ही",    "ते",  "त्या", "च्या", "मध्ये",  "नाही", "होते", "होता",
              "केले", "करून", "असे",  "असते", "आपण", "त्यांनी", "तो", "ती",  "पण",  "म्हणून", "व",    "ला",  "एक"}},
      {"ne", {"छ",  "छन्",  "र",    "को", "मा", "हो",  "गर्न", "पनि", "भएको", "हुन्छ", "थियो", "गरेको", "गर्छ",
              "यो", "त्यो", "लागि", "भने", "हुने", "गरी", "तथा", "एक",  "उनको", "उनी", "हामी", "छैन"}},
  };
  return k;
}

std::string BestByWords(std::string_view text,
                        const std::map<std::string, std::unordered_set<std::string>>& lists,
                        const std::string& fallback) {
  std::unordered_map<std::string, int> score;
  std::vector<uint32_t> word;
  auto finish = [&] {
    if (word.empty()) return;
    std::string w = Lower(FromCodePoints(word));
    for (const auto& [lang, set] : lists) {
      if (set.count(w)) score[lang]++;
    }
    word.clear();
  };
  for (uint32_t c : CodePoints(text)) {
    // Devanagari vowel signs and viramas (marks) belong to the word.
    bool mark = (c >= 0x0900 && c <= 0x0903) || (c >= 0x093A && c <= 0x094F) ||
                (c >= 0x0951 && c <= 0x0957) || (c >= 0x0962 && c <= 0x0963);
    if (IsLetter(c) || mark || (c >= 0x0300 && c <= 0x036F)) {
      word.push_back(c);
    } else {
      finish();
    }
  }
  finish();
  std::string best = fallback;
  int best_score = 0;
  for (const auto& [lang, set] : lists) {  // map order: ties go to the alphabetically first code
    (void)set;
    if (score[lang] > best_score) {
      best = lang;
      best_score = score[lang];
    }
  }
  return best;
}

bool Has(const std::vector<uint32_t>& cps, std::initializer_list<uint32_t> set) {
  for (uint32_t c : cps) {
    if (std::find(set.begin(), set.end(), c) != set.end()) return true;
  }
  return false;
}

}  // namespace

std::string DetectLanguage(std::string_view text) {
  std::vector<uint32_t> cps = CodePoints(text);
  std::map<std::string, size_t> counts;
  size_t letters = 0;
  for (uint32_t c : cps) {
    if (!IsLetter(c) && !(c >= 0x0900 && c <= 0x0DFF)) continue;
    letters++;
    if (const char* s = ScriptOf(c)) counts[s]++;
  }
  if (letters == 0) return "";
  // Japanese mixes kana and Han: any real share of kana makes Han text Japanese.
  size_t kana = counts["Kana"], han = counts["Han"];
  if (kana > 0 && kana * 20 >= kana + han) {
    counts["Kana"] = kana + han;
    counts.erase("Han");
  }
  std::string script;
  size_t best = 0;
  for (const auto& [s, n] : counts) {
    if (n > best) {
      best = n;
      script = s;
    }
  }
  if (script.empty()) return "und";
  if (script == "Kana") return "ja";
  if (script == "Han") return "zh";
  if (script == "Arabic") {
    if (Has(cps, {0x0679, 0x0688, 0x0691, 0x06BA, 0x06D2, 0x06BE})) return "ur";
    if (Has(cps, {0x067E, 0x0686, 0x0698, 0x06AF, 0x06CC, 0x06A9})) return "fa";
    return "ar";
  }
  if (script == "Cyrillic") {
    if (Has(cps, {0x0456, 0x0457, 0x0454, 0x0491, 0x0406, 0x0407, 0x0404, 0x0490})) return "uk";
    if (Has(cps, {0x044B, 0x044D, 0x0451, 0x042B, 0x042D, 0x0401})) return "ru";
    if (Has(cps, {0x0458, 0x0459, 0x045A, 0x045C, 0x0453, 0x0455})) return "mk";
    if (Has(cps, {0x044A, 0x042A})) return "bg";
    return "ru";
  }
  if (script == "Devanagari") return BestByWords(text, DevanagariWords(), "hi");
  if (script == "Latin") {
    // Vietnamese letters (horn and hook-above vowels, đ) are unmistakable.
    size_t vi = 0;
    for (uint32_t c : cps) vi += (c >= 0x1EA0 && c <= 0x1EF9) || c == 0x01A1 || c == 0x01B0 || c == 0x0111;
    if (vi * 50 >= counts["Latin"] && vi >= 2) return "vi";
    return BestByWords(text, LatinWords(), "und");
  }
  return script;
}

}  // namespace fm::ifeval
