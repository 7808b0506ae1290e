// Helpers shared by the tokenizer tests (header-only: the test build globs *_test.cpp): paths of the shared
// data, running commands, the Hugging Face oracle (tests/oracle/hf_tokenize.mjs through node), generated
// tokenizers and the conformance corpus.
#pragma once

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace fm::test {

inline std::string SourceDir() {
  return FINMERGE_SOURCE_DIR;
}
inline std::string SharedDir() {
  return SourceDir() + "/../shared";
}
inline std::string Qwen3Dir() {
  return SharedDir() + "/tokenizers/qwen3";
}
inline std::string Llama3Dir() {
  return SharedDir() + "/tokenizers/llama3";
}

// A fresh folder under /tmp, removed with everything in it when the object dies.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> n{0};
    path_ = "/tmp/finmerge-tok-test-" + std::to_string(getpid()) + "-" + std::to_string(n++);
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

// Runs `cmd` through /bin/sh; returns its exit status and stores its stdout (stderr too when merge_stderr).
inline int RunCommand(const std::string& cmd, std::string* out, bool merge_stderr = false) {
  std::string full = cmd + (merge_stderr ? " 2>&1" : "");
  std::FILE* p = popen(full.c_str(), "r");
  if (!p) return -1;
  out->clear();
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out->append(buf, n);
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary);
  f << data;
}

inline std::string Escape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\n')
      out += "\\n";
    else if (c == '\t')
      out += "\\t";
    else if (c == '\r')
      out += "\\r";
    else
      out += static_cast<char>(c);
  }
  return out.size() > 200 ? out.substr(0, 200) + "..." : out;
}

// Installs the npm oracles when missing (tests/oracle/ensure-npm.sh). Returns "" when they are ready, else
// the reason they are not; tests then fail with it (a missing oracle must not pass silently).
inline std::string EnsureOracle() {
  static std::once_flag once;
  static std::string error;
  std::call_once(once, [] {
    std::string out;
    int rc = RunCommand("bash " + ShellQuote(SourceDir() + "/tests/oracle/ensure-npm.sh"), &out, true);
    if (rc != 0)
      error = "the Hugging Face oracle could not be installed (tests/oracle/ensure-npm.sh exit " +
              std::to_string(rc) + "): " + out;
  });
  return error;
}

// Runs the Hugging Face oracle on `texts` with the tokenizer of `dir`. Returns "" on success, else an error.
inline std::string OracleEncode(const std::string& dir, const std::vector<std::string>& texts,
                                bool add_special, std::vector<std::vector<uint32_t>>* ids,
                                std::vector<std::string>* decoded) {
  std::string err = EnsureOracle();
  if (!err.empty()) return err;
  TempDir tmp;
  nlohmann::json req;
  req["texts"] = texts;
  req["add_special_tokens"] = add_special;
  WriteFile(tmp / "in.json", req.dump());
  std::string out;
  int rc =
      RunCommand("node " + ShellQuote(SourceDir() + "/tests/oracle/hf_tokenize.mjs") + " " + ShellQuote(dir) +
                     " " + ShellQuote(tmp / "in.json") + " 2>" + ShellQuote(tmp / "err.txt"),
                 &out);
  if (rc != 0) return "oracle failed (exit " + std::to_string(rc) + "): " + ReadFile(tmp / "err.txt");
  try {
    auto j = nlohmann::json::parse(out);
    *ids = j["ids"].get<std::vector<std::vector<uint32_t>>>();
    *decoded = j["decoded"].get<std::vector<std::string>>();
  } catch (const std::exception& e) {
    return std::string("oracle output is not the expected JSON: ") + e.what();
  }
  if (ids->size() != texts.size()) return "oracle returned " + std::to_string(ids->size()) + " results";
  return "";
}

inline const Tokenizer& LoadShared(const std::string& dir, std::unique_ptr<Tokenizer>* slot,
                                   std::once_flag* once) {
  std::call_once(*once, [&] {
    Status s = Tokenizer::Load(dir, slot);
    if (!s.ok()) {
      std::fprintf(stderr, "cannot load %s: %s\n", dir.c_str(), s.message().c_str());
      std::abort();
    }
  });
  return **slot;
}
inline const Tokenizer& Qwen3() {
  static std::unique_ptr<Tokenizer> t;
  static std::once_flag once;
  return LoadShared(Qwen3Dir(), &t, &once);
}
inline const Tokenizer& Llama3() {
  static std::unique_ptr<Tokenizer> t;
  static std::once_flag once;
  return LoadShared(Llama3Dir(), &t, &once);
}

// Texts covering English, Japanese finance questions, code, emoji, full-width characters, whitespace runs and
// special tokens written in text.
inline std::vector<std::string> ConformanceCorpus() {
  std::vector<std::string> c = {
      "Hello world!",
      "The Federal Reserve raised the federal funds rate by 25 basis points to 5.25%.",
      "I'm sure they'll say we've done it; she'd've known. DON'T SHOUT, IT'S LOUD! it'S ok.",
      "Numbers: 1 12 123 1234 12345 1234567890, 3.14159, -42, 1e-9, ¥1,000,000 and $2.5bn.",
      "日本経済に関する次の記述のうち、正しくないものはどれか。",
      "株式会社日本取引所グループ（JPX）は、東京証券取引所を運営している。",
      "ＡＢＣ　ｄｅｆ　１２３！？（全角）　ｶﾀｶﾅ ﾊﾟﾋﾟﾌﾟﾍﾟﾎﾟ",
      "def f(x):\n\treturn {'a': [1, 2, 3], \"b\": x ** 2}  # comment\n",
      "for (int i = 0; i < n; ++i) {\n    sum += a[i] * b[i];\n}\n",
      "#include <vector>\nstd::vector<uint32_t> ids; // (B, T)\n",
      "👨‍👩‍👧‍👦 family, 🇯🇵🇺🇸 flags, 👍🏽 thumbs, ❤️ heart, 🏳️‍🌈 rainbow, "
      "1️⃣ "
      "keycap",
      "Tabs\tand\t\tmore\ttabs",
      "Multiple   spaces    here",
      "Trailing spaces   ",
      "   Leading spaces",
      "Lines\n\n\nwith blank lines\n\n",
      "CRLF line\r\nnext line\r\n",
      " ",
      "\n",
      "\t \n \t",
      "x",
      "<|im_start|>user\nWhat is the yield?<|im_end|>\n<|im_start|>assistant\n",
      "text<|endoftext|>more text",
      "<|begin_of_text|>Hi there<|eot_id|>",
      "<s>Hello</s> world <unk>",
      "Broken <|im_start tag and <|im_end|",
      "Combining: e\u0301 vs \u00e9, A\u030a vs \u00c5, \u1100\u1161\u11a8",
      "한국어 텍스트와 中文文本 и русский текст, العربية",
      "Mixed全角and半角ﾃｷｽﾄ123４５６",
      "Zero\u200bwidth\u200dspace\ufeffBOM\u00a0nbsp\u3000ideographic",
      "URL: https://example.com/path?q=1&r=2#frag, email a.b@c.jp",
      "''''' \"\"\" ``` ~~~ --- ___ ***",
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      "ſ's and 'S and 'LL contractions",
      "Price moved from ¥3,456 to ¥3,789 (+9.6%) on 2023年4月1日.",
  };
  // Japanese finance exam questions and their choices.
  for (const char* f : {"cma_basics.json", "security_sales_1.json"}) {
    auto j = nlohmann::json::parse(ReadFile(SharedDir() + "/data/fin-harness/" + f));
    for (const auto& q : j["data"]) {
      c.push_back(q["question"].get<std::string>());
      if (q.contains("context") && q["context"].is_string() && !q["context"].get<std::string>().empty()) {
        c.push_back(q["context"].get<std::string>());
      }
      for (const auto& ch : q["choices"]) c.push_back(ch["text"].get<std::string>());
    }
  }
  // Whole English finance documents and a stretch of general English.
  for (const char* f : {"19940204.txt", "20081216.txt", "20160921.txt"}) {
    c.push_back(ReadFile(SharedDir() + "/data/fomc-statements/" + f));
  }
  c.push_back(ReadFile(SharedDir() + "/data/general/tinyshakespeare.txt").substr(0, 4000));
  return c;
}

// English + Japanese training text for the generated SentencePiece model.
inline std::string SpmTrainingText() {
  std::string text = ReadFile(SharedDir() + "/data/general/tinyshakespeare.txt").substr(0, 200000);
  for (const char* f : {"cma_basics.json", "security_sales_1.json"}) {
    auto j = nlohmann::json::parse(ReadFile(SharedDir() + "/data/fin-harness/" + f));
    for (const auto& q : j["data"]) {
      text += q["question"].get<std::string>() + "\n";
      for (const auto& ch : q["choices"]) text += ch["text"].get<std::string>() + "\n";
    }
  }
  return text;
}

// Trains (once per process) a small SentencePiece BPE model with byte fallback and copies it to
// `dir`/tokenizer.model. Returns "" or an error.
inline std::string WriteSentencePieceModel(const std::string& dir) {
  static std::once_flag once;
  static std::string model, error;
  std::call_once(once, [] {
    TempDir tmp;
    WriteFile(tmp / "corpus.txt", SpmTrainingText());
    auto st = sentencepiece::SentencePieceTrainer::Train(
        "--input=" + (tmp / "corpus.txt") + " --model_prefix=" + (tmp / "m") +
        " --vocab_size=1200 --model_type=bpe --byte_fallback=true --character_coverage=0.995"
        " --split_digits=true --num_threads=1 --minloglevel=2 --input_sentence_size=0");
    if (!st.ok()) {
      error = "sentencepiece training failed: " + st.ToString();
      return;
    }
    model = ReadFile(tmp / "m.model");
  });
  if (!error.empty()) return error;
  WriteFile(dir + "/tokenizer.model", model);
  return "";
}

// Writes a Llama-2 style tokenizer.json converted from WriteSentencePieceModel's model: byte-fallback BPE
// whose merges are every split of a piece into two pieces, ordered by the piece's id (SentencePiece BPE
// numbers pieces in merge order). Variants: "prepend" (normalizer Prepend + Replace, like Llama-2),
// "metaspace" (Metaspace pre-tokenizer with prepend_scheme "first", like Mistral), "nfkc" (NFKC + Prepend +
// Replace and a normalized, non-special added token).
inline std::string WriteSpmStyleTokenizer(const std::string& dir, const std::string& variant) {
  TempDir tmp;
  std::string err = WriteSentencePieceModel(tmp.path());
  if (!err.empty()) return err;
  sentencepiece::SentencePieceProcessor sp;
  if (!sp.Load(tmp / "tokenizer.model").ok()) return "cannot load the trained model";
  using nlohmann::json;
  json vocab = json::object();
  std::vector<std::string> pieces;
  for (int i = 0; i < sp.GetPieceSize(); ++i) {
    pieces.push_back(sp.IdToPiece(i));
    vocab[pieces.back()] = i;
  }
  json merges = json::array();
  for (int i = 0; i < sp.GetPieceSize(); ++i) {
    if (sp.IsControl(i) || sp.IsUnknown(i) || sp.IsByte(i)) continue;
    const std::string& p = pieces[i];
    for (size_t k = 1; k < p.size(); ++k) {
      if ((static_cast<unsigned char>(p[k]) & 0xC0) == 0x80) continue;  // split between characters only
      std::string l = p.substr(0, k), r = p.substr(k);
      if (vocab.contains(l) && vocab.contains(r) && !sp.IsByte(vocab[l].get<int>()) &&
          !sp.IsByte(vocab[r].get<int>())) {
        merges.push_back(json::array({l, r}));
      }
    }
  }
  const std::string kSpace = "\xE2\x96\x81";  // U+2581
  json prepend_replace =
      json::array({{{"type", "Prepend"}, {"prepend", kSpace}},
                   {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", kSpace}}});
  json tok;
  tok["version"] = "1.0";
  tok["truncation"] = nullptr;
  tok["padding"] = nullptr;
  json added = json::array();
  for (int i : {0, 1, 2}) {
    added.push_back({{"id", i},
                     {"content", pieces[i]},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  }
  tok["pre_tokenizer"] = nullptr;
  tok["decoder"] = {
      {"type", "Sequence"},
      {"decoders", json::array({{{"type", "Replace"}, {"pattern", {{"String", kSpace}}}, {"content", " "}},
                                {{"type", "ByteFallback"}},
                                {{"type", "Fuse"}},
                                {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}})}};
  if (variant == "prepend") {
    tok["normalizer"] = {{"type", "Sequence"}, {"normalizers", prepend_replace}};
  } else if (variant == "metaspace") {
    tok["normalizer"] = nullptr;
    tok["pre_tokenizer"] = {
        {"type", "Metaspace"}, {"replacement", kSpace}, {"prepend_scheme", "first"}, {"split", false}};
    tok["decoder"] = {
        {"type", "Sequence"},
        {"decoders",
         json::array(
             {{{"type", "Metaspace"}, {"replacement", kSpace}, {"prepend_scheme", "first"}, {"split", false}},
              {{"type", "ByteFallback"}},
              {{"type", "Fuse"}}})}};
  } else if (variant == "nfkc") {
    json norms = json::array({{{"type", "NFKC"}}});
    for (const auto& n : prepend_replace) norms.push_back(n);
    tok["normalizer"] = {{"type", "Sequence"}, {"normalizers", norms}};
    // A user-defined token matched in normalized text (its content is normalized too, as tokenizers does).
    uint32_t id = static_cast<uint32_t>(pieces.size());
    added.push_back({{"id", id},
                     {"content", "<fin>"},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", true},
                     {"special", false}});
  } else {
    return "unknown variant " + variant;
  }
  tok["added_tokens"] = added;
  tok["post_processor"] = {
      {"type", "TemplateProcessing"},
      {"single", json::array({{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
                              {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
      {"pair", json::array({{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
                            {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                            {{"SpecialToken", {{"id", "<s>"}, {"type_id", 1}}}},
                            {{"Sequence", {{"id", "B"}, {"type_id", 1}}}}})},
      {"special_tokens",
       {{"<s>", {{"id", "<s>"}, {"ids", json::array({1})}, {"tokens", json::array({"<s>"})}}}}}};
  tok["model"] = {{"type", "BPE"},
                  {"dropout", nullptr},
                  {"unk_token", "<unk>"},
                  {"continuing_subword_prefix", nullptr},
                  {"end_of_word_suffix", nullptr},
                  {"fuse_unk", true},
                  {"byte_fallback", true},
                  {"ignore_merges", false},
                  {"vocab", vocab},
                  {"merges", merges}};
  WriteFile(dir + "/tokenizer.json", tok.dump());
  json config = {{"bos_token", "<s>"},
                 {"eos_token", "</s>"},
                 {"unk_token", "<unk>"},
                 {"add_bos_token", true},
                 {"clean_up_tokenization_spaces", false},
                 {"tokenizer_class", "LlamaTokenizerFast"}};
  WriteFile(dir + "/tokenizer_config.json", config.dump());
  return "";
}

}  // namespace fm::test
