#include "gguf/gguf_tokenizer.h"

#include <vector>

namespace fm::gguf {

namespace {

using nlohmann::json;

// The pre-tokenizers llama.cpp knows by name (llama-vocab.cpp), as a tokenizer.json Split writes their regex.
// `gpt-2` is the ByteLevel pre-tokenizer's built-in regex (no Split).
struct KnownPre {
  const char* name;
  const char* regex;   // nullptr: ByteLevel with use_regex
  bool nfc;            // the Hugging Face tokenizer normalises to NFC first (Qwen)
  bool ignore_merges;  // whole words found in the vocabulary win over merges (Llama-3)
};
const KnownPre kKnownPres[] = {
    {"qwen2",
     "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
     "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
     true, false},
    {"llama-bpe",
     "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
     "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
     false, true},
    {"gpt-2", nullptr, false, false},
};

void CollectSplitRegexes(const json& pt, std::vector<std::string>* regexes, bool* gpt2_bytelevel) {
  if (!pt.is_object()) return;
  const std::string type = pt.value("type", "");
  if (type == "Sequence" && pt.contains("pretokenizers")) {
    for (const auto& p : pt["pretokenizers"]) CollectSplitRegexes(p, regexes, gpt2_bytelevel);
  } else if (type == "Split" && pt.contains("pattern") && pt["pattern"].contains("Regex")) {
    regexes->push_back(pt["pattern"]["Regex"].get<std::string>());
  } else if (type == "ByteLevel" && pt.value("use_regex", true)) {
    *gpt2_bytelevel = true;
  }
}

json ByteLevelStep(bool use_regex) {
  return {
      {"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", use_regex}};
}

std::string StringKey(const GgufFile& f, const std::string& key) {
  const Value* v = f.Find(key);
  return v && v->type == ValueType::kString ? v->s : std::string();
}

}  // namespace

Status PreForTokenizerJson(const json& tokenizer, const std::string& file, std::string* pre) {
  std::vector<std::string> regexes;
  bool gpt2 = false;
  if (tokenizer.contains("pre_tokenizer")) CollectSplitRegexes(tokenizer["pre_tokenizer"], &regexes, &gpt2);
  for (const KnownPre& k : kKnownPres) {
    if ((k.regex && regexes.size() == 1 && regexes[0] == k.regex) || (!k.regex && regexes.empty() && gpt2)) {
      *pre = k.name;
      return Status::Ok();
    }
  }
  return Status::Unsupported(
      file +
      ": the pre-tokenizer is not one llama.cpp knows by name (qwen2, llama-bpe, gpt-2); "
      "llama.cpp would split text differently, so the tokenizer cannot be expressed in GGUF");
}

Status TokenizerFilesFromGguf(const GgufFile& f, json* tokenizer, json* tokenizer_config) {
  const std::string model = StringKey(f, "tokenizer.ggml.model");
  if (model != "gpt2") {
    return Status::Unsupported(
        f.path() + ": tokenizer.ggml.model '" + model +
        "' cannot be rebuilt as tokenizer.json (finmerge rebuilds byte-level BPE 'gpt2' "
        "vocabularies); copy the original tokenizer files next to the imported model");
  }
  const std::string pre = StringKey(f, "tokenizer.ggml.pre");
  const KnownPre* known = nullptr;
  for (const KnownPre& k : kKnownPres) {
    if (pre == k.name || (pre == "llama3" && std::string(k.name) == "llama-bpe") ||
        (pre == "default" && std::string(k.name) == "gpt-2")) {
      known = &k;
    }
  }
  if (!known) {
    return Status::Unsupported(f.path() + ": tokenizer.ggml.pre '" + pre +
                               "' has no pre-tokenizer regex in finmerge (known: qwen2, llama-bpe, gpt-2)");
  }
  const Value* tokens = f.Find("tokenizer.ggml.tokens");
  const Value* merges = f.Find("tokenizer.ggml.merges");
  const Value* types = f.Find("tokenizer.ggml.token_type");
  if (!tokens || tokens->type != ValueType::kArray || tokens->array_type != ValueType::kString) {
    return Status::InvalidArgument(f.path() + ": tokenizer.ggml.tokens is missing or not a string array");
  }
  if (!merges || merges->type != ValueType::kArray || merges->array_type != ValueType::kString) {
    return Status::InvalidArgument(f.path() + ": tokenizer.ggml.merges is missing or not a string array");
  }
  if (types && (types->type != ValueType::kArray || types->array.size() != tokens->array.size())) {
    return Status::InvalidArgument(f.path() +
                                   ": tokenizer.ggml.token_type does not have one entry per token");
  }

  json vocab = json::object(), added = json::array();
  for (size_t id = 0; id < tokens->array.size(); id++) {
    int64_t type = 1;
    if (types) types->array[id].AsInt(&type);
    const std::string& text = tokens->array[id].s;
    if (type == 5) continue;  // unused: padding rows of the embedding (written by exporters), not tokens
    if (type == 3 || type == 4) {
      added.push_back({{"id", id},
                       {"content", text},
                       {"single_word", false},
                       {"lstrip", false},
                       {"rstrip", false},
                       {"normalized", false},
                       {"special", type == 3}});
    } else {
      vocab[text] = id;
    }
  }
  json merge_list = json::array();
  for (const Value& m : merges->array) merge_list.push_back(m.s);

  json t = json::object();
  t["version"] = "1.0";
  t["truncation"] = nullptr;
  t["padding"] = nullptr;
  t["added_tokens"] = std::move(added);
  t["normalizer"] = known->nfc ? json{{"type", "NFC"}} : json(nullptr);
  if (known->regex) {
    json split = {{"type", "Split"},
                  {"pattern", {{"Regex", known->regex}}},
                  {"behavior", "Isolated"},
                  {"invert", false}};
    t["pre_tokenizer"] = {{"type", "Sequence"},
                          {"pretokenizers", json::array({split, ByteLevelStep(false)})}};
  } else {
    t["pre_tokenizer"] = ByteLevelStep(true);
  }
  int64_t bos = -1, eos = -1, pad = -1, unk = -1;
  auto id_key = [&](const char* key, int64_t* out) {
    if (const Value* v = f.Find(key)) v->AsInt(out);
    if (*out >= static_cast<int64_t>(tokens->array.size())) *out = -1;
  };
  id_key("tokenizer.ggml.bos_token_id", &bos);
  id_key("tokenizer.ggml.eos_token_id", &eos);
  id_key("tokenizer.ggml.padding_token_id", &pad);
  id_key("tokenizer.ggml.unknown_token_id", &unk);
  auto flag = [&](const char* key) {
    const Value* v = f.Find(key);
    return v && v->type == ValueType::kBool && v->u != 0;
  };
  const bool add_bos = flag("tokenizer.ggml.add_bos_token") && bos >= 0;
  const bool add_eos = flag("tokenizer.ggml.add_eos_token") && eos >= 0;
  if (add_bos || add_eos) {
    json single = json::array(), pair = json::array(), specials = json::object();
    auto special = [&](int64_t id) {
      const std::string& s = tokens->array[id].s;
      specials[s] = {{"id", s}, {"ids", {id}}, {"tokens", {s}}};
      return json{{"SpecialToken", {{"id", s}, {"type_id", 0}}}};
    };
    if (add_bos) single.push_back(special(bos));
    single.push_back({{"Sequence", {{"id", "A"}, {"type_id", 0}}}});
    if (add_eos) single.push_back(special(eos));
    pair = single;
    pair.push_back({{"Sequence", {{"id", "B"}, {"type_id", 1}}}});
    t["post_processor"] = {
        {"type", "TemplateProcessing"}, {"single", single}, {"pair", pair}, {"special_tokens", specials}};
  } else {
    t["post_processor"] = ByteLevelStep(false);
  }
  t["decoder"] = ByteLevelStep(false);
  t["model"] = {{"type", "BPE"},
                {"dropout", nullptr},
                {"unk_token", unk >= 0 ? json(tokens->array[unk].s) : json(nullptr)},
                {"continuing_subword_prefix", ""},
                {"end_of_word_suffix", ""},
                {"fuse_unk", false},
                {"byte_fallback", false},
                {"ignore_merges", known->ignore_merges},
                {"vocab", std::move(vocab)},
                {"merges", std::move(merge_list)}};

  json c = json::object();
  auto token_or_null = [&](int64_t id) { return id >= 0 ? json(tokens->array[id].s) : json(nullptr); };
  c["tokenizer_class"] = "PreTrainedTokenizerFast";
  c["bos_token"] = token_or_null(bos);
  c["eos_token"] = token_or_null(eos);
  c["pad_token"] = token_or_null(pad);
  c["unk_token"] = token_or_null(unk);
  c["add_bos_token"] = add_bos;
  c["add_eos_token"] = add_eos;
  c["clean_up_tokenization_spaces"] = false;
  const std::string chat = StringKey(f, "tokenizer.chat_template");
  if (!chat.empty()) c["chat_template"] = chat;
  *tokenizer = std::move(t);
  *tokenizer_config = std::move(c);
  return Status::Ok();
}

}  // namespace fm::gguf
