// finmerge encode --tokenizer DIR [--file F | TEXT...] [--add-special]: prints the token ids of each input
// line, separated by single spaces, one output line per input line.
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "cli/command.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace {

struct EncodeArgs {
  std::string tokenizer, file;
  std::vector<std::string> text;
  bool add_special = false;
};

// Encodes a batch of lines in parallel and prints them in order.
fm::Status EncodeBatch(const fm::Tokenizer& tok, const std::vector<std::string>& lines, bool add_special,
                       size_t* tokens) {
  std::vector<std::vector<uint32_t>> ids(lines.size());
  std::vector<fm::Status> status(lines.size());
#pragma omp parallel for schedule(dynamic, 16) if (lines.size() > 64)
  for (size_t i = 0; i < lines.size(); ++i) status[i] = tok.Encode(lines[i], add_special, &ids[i]);
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    FM_RETURN_IF_ERROR(status[i]);
    for (size_t k = 0; k < ids[i].size(); ++k) {
      if (k) out += ' ';
      out += std::to_string(ids[i][k]);
    }
    out += '\n';
    *tokens += ids[i].size();
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return fm::Status::Ok();
}

int RunEncode(const EncodeArgs& a) {
  auto start = std::chrono::steady_clock::now();
  std::unique_ptr<fm::Tokenizer> tok;
  fm::Status s = fm::Tokenizer::Load(a.tokenizer, &tok);
  if (!s.ok()) return fm::cli::ReportError(s);
  if (!a.file.empty() && !a.text.empty()) {
    return fm::cli::ReportError(fm::Status::InvalidArgument("give either --file or TEXT, not both"));
  }
  std::ifstream file;
  std::istream* in = &std::cin;
  std::string joined, name = "<stdin>";
  std::istringstream text_in;
  if (!a.text.empty()) {
    for (size_t i = 0; i < a.text.size(); ++i) {
      if (i) joined += ' ';
      joined += a.text[i];
    }
    text_in.str(joined);
    in = &text_in;
    name = "<text>";
  } else if (!a.file.empty() && a.file != "-") {
    file.open(a.file, std::ios::binary);
    if (!file) return fm::cli::ReportError(fm::Status::NotFound(a.file + ": cannot open the input file"));
    in = &file;
    name = a.file;
  }
  std::vector<std::string> batch;
  std::string line, fixed;
  size_t line_no = 0, tokens = 0, bytes = 0, warned = 0;
  while (std::getline(*in, line)) {
    ++line_no;
    bytes += line.size() + 1;
    std::vector<size_t> bad;
    if (fm::utf8::Repair(line, &fixed, &bad) > 0) {
      if (warned++ < 10) {
        std::fprintf(
            stderr,
            "finmerge: warning: %s:%zu: invalid UTF-8 at byte %zu of the line, replaced with U+FFFD\n",
            name.c_str(), line_no, bad[0]);
      }
      line.swap(fixed);
    }
    batch.push_back(std::move(line));
    if (batch.size() >= 4096) {
      s = EncodeBatch(*tok, batch, a.add_special, &tokens);
      if (!s.ok()) return fm::cli::ReportError(s);
      batch.clear();
    }
  }
  s = EncodeBatch(*tok, batch, a.add_special, &tokens);
  if (!s.ok()) return fm::cli::ReportError(s);
  std::fflush(stdout);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "encode: %zu lines, %zu bytes -> %zu tokens (%s tokenizer, vocab %u) in %.2f s\n",
               line_no, bytes, tokens, fm::TokenizerKindName(tok->kind()), tok->vocab_size(), secs);
  return 0;
}

FM_REGISTER_COMMAND("encode", "Print the token ids of each input line (Hugging Face-exact tokenizers)",
                    [](CLI::App& sub) -> std::function<int()> {
                      auto a = std::make_shared<EncodeArgs>();
                      sub.add_option("--tokenizer", a->tokenizer,
                                     "Model folder with tokenizer.json, qwen.tiktoken or tokenizer.model")
                          ->required();
                      sub.add_option("--file", a->file, "Read lines from this file ('-' = stdin)");
                      sub.add_option("text", a->text, "Text to encode (joined with spaces; default: stdin)");
                      sub.add_flag("--add-special", a->add_special,
                                   "Add the special tokens the tokenizer's post-processor adds (e.g. BOS)");
                      return [a] { return RunEncode(*a); };
                    });

}  // namespace
