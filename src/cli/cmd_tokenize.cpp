// finmerge tokenize --tokenizer DIR INPUT... -o SHARDS: turns text corpora (.txt, .jsonl) into token shards
// for training (format in src/tokenizer/token_shard.h) with a deterministic train/validation split.
#include <chrono>
#include <cstdio>

#include "base/progress.h"
#include "cli/command.h"
#include "tokenizer/corpus_sharder.h"
#include "tokenizer/tokenizer.h"

namespace {

struct TokenizeArgs {
  std::string tokenizer, output, eos;
  std::vector<std::string> inputs;
  double val_fraction = 0.01;
  uint64_t seed = 1234;
  uint64_t shard_tokens = 100'000'000;
  bool blank_line_docs = false;
};

std::string Thousands(uint64_t v) {
  std::string digits = std::to_string(v), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

int RunTokenize(const TokenizeArgs& a) {
  auto load_start = std::chrono::steady_clock::now();
  std::unique_ptr<fm::Tokenizer> tok;
  fm::Status s = fm::Tokenizer::Load(a.tokenizer, &tok);
  if (!s.ok()) return fm::cli::ReportError(s);
  double load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count();
  fm::ShardOptions o;
  o.inputs = a.inputs;
  o.output_dir = a.output;
  o.tokenizer_path = a.tokenizer;
  o.val_fraction = a.val_fraction;
  o.seed = a.seed;
  o.blank_line_docs = a.blank_line_docs;
  o.shard_tokens = a.shard_tokens;
  if (!a.eos.empty()) {
    o.eos_id = tok->TokenToId(a.eos);
    if (!o.eos_id) {
      return fm::cli::ReportError(
          fm::Status::InvalidArgument("--eos \"" + a.eos + "\" is not a token of " + a.tokenizer));
    }
  }
  std::fprintf(stderr,
               "tokenize: %zu input file(s) with the %s tokenizer of %s (vocab %u, loaded in %.2f s)\n",
               a.inputs.size(), fm::TokenizerKindName(tok->kind()), a.tokenizer.c_str(), tok->vocab_size(),
               load_seconds);
  fm::ShardSummary sum;
  s = fm::ShardCorpus(*tok, o, &sum);
  if (!s.ok()) return fm::cli::ReportError(s);
  double total = load_seconds + sum.seconds;
  std::printf(
      "tokenize: %s in %s docs -> %s train tokens (%s docs, %zu shards) + %s val tokens (%s docs, %zu "
      "shards), eos %u, in %s (%.2f s: tokenizer load %.2f s + corpus %.2f s at %.1f MB/s; %.1f MB/s "
      "overall)%s\n",
      fm::HumanBytes(static_cast<double>(sum.input_bytes)).c_str(),
      Thousands(sum.train_docs + sum.val_docs).c_str(), Thousands(sum.train_tokens).c_str(),
      Thousands(sum.train_docs).c_str(), sum.train_shards, Thousands(sum.val_tokens).c_str(),
      Thousands(sum.val_docs).c_str(), sum.val_shards, sum.eos_id, a.output.c_str(), total, load_seconds,
      sum.seconds, sum.seconds > 0 ? sum.input_bytes / sum.seconds / 1e6 : 0.0,
      total > 0 ? sum.input_bytes / total / 1e6 : 0.0,
      sum.invalid_utf8
          ? (", " + std::to_string(sum.invalid_utf8) + " invalid UTF-8 sequences replaced").c_str()
          : "");
  return 0;
}

FM_REGISTER_COMMAND(
    "tokenize", "Tokenize text/JSONL corpora into binary token shards with a train/val split",
    [](CLI::App& sub) -> std::function<int()> {
      auto a = std::make_shared<TokenizeArgs>();
      sub.add_option("--tokenizer", a->tokenizer,
                     "Model folder with tokenizer.json, qwen.tiktoken or tokenizer.model")
          ->required();
      sub.add_option("inputs", a->inputs, "Text files (one document each) and .jsonl files")->required();
      sub.add_option("-o,--output", a->output, "Output folder for the shards and manifest.json")->required();
      sub.add_option("--val-fraction", a->val_fraction,
                     "Fraction of documents for validation (default 0.01)");
      sub.add_option("--seed", a->seed, "Seed of the train/validation split (default 1234)");
      sub.add_flag("--blank-line-docs", a->blank_line_docs,
                   "Text files hold several documents separated by blank lines");
      sub.add_option("--shard-tokens", a->shard_tokens, "Tokens per shard file (default 100000000)");
      sub.add_option("--eos", a->eos, "Token that ends each document (default: the tokenizer's eos_token)");
      return [a] { return RunTokenize(*a); };
    });

}  // namespace
