#include "pipeline/demo_tokenizer.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <memory>
#include <unordered_map>

#include "base/output_path.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/pre_tokenizer.h"

namespace fm {
namespace {

// The pre-tokenizer the tokenizer.json declares (GPT-2: regex split, no prefix space).
nlohmann::json PreTokenizerJson() {
  return {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}};
}

struct Word {
  std::vector<uint32_t> symbols;
  int64_t count = 0;
};

uint64_t PairKey(uint32_t a, uint32_t b) {
  return (static_cast<uint64_t>(a) << 32) | b;
}

Status WriteFile(const std::string& path, const std::string& content) {
  OutputPath op(path, OutputPath::Kind::kFile);
  FM_RETURN_IF_ERROR(op.Begin());
  {
    std::ofstream f(op.temp_path(), std::ios::binary);
    f << content;
    if (!f.good()) return Status::IOError(path + ": write failed (disk full?)");
  }
  return op.Commit();
}

}  // namespace

Status TrainByteLevelBpe(const std::vector<std::string>& texts, const BpeTrainOptions& opts,
                         nlohmann::ordered_json* tokenizer_json, BpeTrainSummary* summary) {
  const int n_special = static_cast<int>(opts.special_tokens.size());
  if (opts.vocab_size < 256 + n_special) {
    return Status::InvalidArgument("BPE training: vocab_size " + std::to_string(opts.vocab_size) +
                                   " is below the 256 bytes + " + std::to_string(n_special) +
                                   " special tokens");
  }
  std::unique_ptr<PreTokenizer> pre;
  bool byte_level = false;
  FM_RETURN_IF_ERROR(PreTokenizer::FromJson(PreTokenizerJson(), &pre, &byte_level));

  // Word counts. Special tokens never reach BPE (they are cut out first), so texts must not be
  // split across them here either: they are plain training text.
  std::unordered_map<std::string, int64_t> counts;
  PreTokens p;
  for (const std::string& text : texts) {
    p.Reset(text);
    pre->Apply(&p, true);
    for (const auto& [b, e] : p.spans) counts[p.text.substr(b, e - b)]++;
  }
  std::vector<std::pair<std::string, int64_t>> sorted(counts.begin(), counts.end());
  std::sort(sorted.begin(), sorted.end());  // deterministic word order
  std::vector<Word> words;
  words.reserve(sorted.size());
  for (const auto& [w, c] : sorted) {
    Word word;
    word.count = c;
    for (unsigned char ch : w) word.symbols.push_back(ch);
    words.push_back(std::move(word));
  }

  std::vector<std::string> spelling(256);  // raw bytes of each id
  for (int b = 0; b < 256; b++) spelling[b] = std::string(1, static_cast<char>(b));
  std::unordered_map<std::string, uint32_t> id_of;
  for (uint32_t b = 0; b < 256; b++) id_of[spelling[b]] = b;
  std::vector<std::pair<uint32_t, uint32_t>> merges;
  const size_t target = static_cast<size_t>(opts.vocab_size - n_special);

  std::unordered_map<uint64_t, int64_t> pair_counts;
  while (spelling.size() < target) {
    pair_counts.clear();
    for (const Word& w : words) {
      for (size_t i = 0; i + 1 < w.symbols.size(); i++)
        pair_counts[PairKey(w.symbols[i], w.symbols[i + 1])] += w.count;
    }
    uint64_t best = 0;
    int64_t best_count = 0;
    std::string best_spelling;
    for (const auto& [key, c] : pair_counts) {
      if (c < best_count) continue;
      std::string s = spelling[key >> 32] + spelling[key & 0xffffffffu];
      if (c > best_count || s < best_spelling || (s == best_spelling && key < best)) {
        best = key;
        best_count = c;
        best_spelling = std::move(s);
      }
    }
    if (best_count < opts.min_frequency) break;
    const uint32_t a = static_cast<uint32_t>(best >> 32), b = static_cast<uint32_t>(best & 0xffffffffu);
    uint32_t merged;
    auto it = id_of.find(best_spelling);
    if (it != id_of.end()) {
      merged = it->second;  // another pair already made this spelling; the merge still applies
    } else {
      merged = static_cast<uint32_t>(spelling.size());
      spelling.push_back(best_spelling);
      id_of[best_spelling] = merged;
    }
    merges.push_back({a, b});
    for (Word& w : words) {
      auto& s = w.symbols;
      size_t out = 0;
      for (size_t i = 0; i < s.size();) {
        if (i + 1 < s.size() && s[i] == a && s[i + 1] == b) {
          s[out++] = merged;
          i += 2;
        } else {
          s[out++] = s[i++];
        }
      }
      s.resize(out);
    }
  }

  nlohmann::ordered_json vocab = nlohmann::ordered_json::object();
  for (size_t id = 0; id < spelling.size(); id++) vocab[byte_level::Encode(spelling[id])] = id;
  nlohmann::ordered_json merge_list = nlohmann::ordered_json::array();
  for (const auto& [a, b] : merges) {
    merge_list.push_back({byte_level::Encode(spelling[a]), byte_level::Encode(spelling[b])});
  }
  nlohmann::ordered_json added = nlohmann::ordered_json::array();
  for (int i = 0; i < n_special; i++) {
    added.push_back({{"id", spelling.size() + i},
                     {"content", opts.special_tokens[i]},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  }
  nlohmann::ordered_json tok;
  tok["version"] = "1.0";
  tok["truncation"] = nullptr;
  tok["padding"] = nullptr;
  tok["added_tokens"] = added;
  tok["normalizer"] = nullptr;
  tok["pre_tokenizer"] = PreTokenizerJson();
  tok["post_processor"] = nullptr;
  tok["decoder"] = {
      {"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}};
  tok["model"] = {{"type", "BPE"},
                  {"dropout", nullptr},
                  {"unk_token", nullptr},
                  {"continuing_subword_prefix", nullptr},
                  {"end_of_word_suffix", nullptr},
                  {"fuse_unk", false},
                  {"byte_fallback", false},
                  {"ignore_merges", false},
                  {"vocab", vocab},
                  {"merges", merge_list}};
  *tokenizer_json = std::move(tok);
  if (summary) {
    summary->unique_words = words.size();
    summary->merges = merges.size();
    summary->vocab_size = static_cast<int>(spelling.size()) + n_special;
  }
  return Status::Ok();
}

Status WriteTokenizerFolder(const nlohmann::ordered_json& tokenizer_json, const std::string& eos_token,
                            const std::string& pad_token, const std::string& chat_template,
                            const std::string& dir) {
  nlohmann::ordered_json config;
  config["add_bos_token"] = false;
  config["add_eos_token"] = false;
  nlohmann::ordered_json decoder = nlohmann::ordered_json::object();
  for (const auto& t : tokenizer_json.at("added_tokens")) {
    decoder[std::to_string(t.at("id").get<int>())] = {{"content", t.at("content")}, {"lstrip", false},
                                                      {"normalized", false},        {"rstrip", false},
                                                      {"single_word", false},       {"special", true}};
  }
  config["added_tokens_decoder"] = decoder;
  config["bos_token"] = nullptr;
  config["eos_token"] = eos_token;
  config["pad_token"] = pad_token;
  config["unk_token"] = nullptr;
  config["chat_template"] = chat_template;
  config["clean_up_tokenization_spaces"] = false;
  config["model_max_length"] = 4096;
  config["tokenizer_class"] = "PreTrainedTokenizerFast";
  FM_RETURN_IF_ERROR(WriteFile(dir + "/tokenizer.json", tokenizer_json.dump(1) + "\n"));
  return WriteFile(dir + "/tokenizer_config.json", config.dump(2) + "\n");
}

}  // namespace fm
