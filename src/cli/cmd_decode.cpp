// finmerge decode --tokenizer DIR [--file F | IDS...] [--skip-special]: turns each input line of token ids
// (separated by spaces) back into text, one output line per input line.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/command.h"
#include "tokenizer/tokenizer.h"

namespace {

struct DecodeArgs {
  std::string tokenizer, file;
  std::vector<std::string> ids;
  bool skip_special = false;
};

fm::Status ParseIds(const std::string& line, const std::string& where, uint32_t vocab,
                    std::vector<uint32_t>* ids) {
  ids->clear();
  std::istringstream ss(line);
  std::string word;
  while (ss >> word) {
    uint64_t v = 0;
    bool ok = !word.empty() && word.size() <= 10;
    for (char c : word) ok = ok && c >= '0' && c <= '9';
    if (ok) {
      for (char c : word) v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    if (!ok) return fm::Status::InvalidArgument(where + ": \"" + word + "\" is not a token id");
    if (v >= vocab) {
      return fm::Status::InvalidArgument(where + ": token id " + word + " is outside the vocabulary (size " +
                                         std::to_string(vocab) + ")");
    }
    ids->push_back(static_cast<uint32_t>(v));
  }
  return fm::Status::Ok();
}

int RunDecode(const DecodeArgs& a) {
  auto start = std::chrono::steady_clock::now();
  std::unique_ptr<fm::Tokenizer> tok;
  fm::Status s = fm::Tokenizer::Load(a.tokenizer, &tok);
  if (!s.ok()) return fm::cli::ReportError(s);
  if (!a.file.empty() && !a.ids.empty()) {
    return fm::cli::ReportError(fm::Status::InvalidArgument("give either --file or IDS, not both"));
  }
  std::ifstream file;
  std::istringstream args_in;
  std::istream* in = &std::cin;
  std::string name = "<stdin>";
  if (!a.ids.empty()) {
    std::string joined;
    for (const auto& w : a.ids) joined += w + " ";
    args_in.str(joined);
    in = &args_in;
    name = "<ids>";
  } else if (!a.file.empty() && a.file != "-") {
    file.open(a.file, std::ios::binary);
    if (!file) return fm::cli::ReportError(fm::Status::NotFound(a.file + ": cannot open the input file"));
    in = &file;
    name = a.file;
  }
  std::string line, out;
  std::vector<uint32_t> ids;
  size_t line_no = 0, tokens = 0;
  while (std::getline(*in, line)) {
    ++line_no;
    s = ParseIds(line, name + ":" + std::to_string(line_no), tok->vocab_size(), &ids);
    if (!s.ok()) return fm::cli::ReportError(s);
    tokens += ids.size();
    out += tok->Decode(ids, a.skip_special);
    out += '\n';
    if (out.size() > (1 << 20)) {
      std::fwrite(out.data(), 1, out.size(), stdout);
      out.clear();
    }
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "decode: %zu lines, %zu tokens in %.2f s\n", line_no, tokens, secs);
  return 0;
}

FM_REGISTER_COMMAND("decode", "Turn lines of token ids back into text",
                    [](CLI::App& sub) -> std::function<int()> {
                      auto a = std::make_shared<DecodeArgs>();
                      sub.add_option("--tokenizer", a->tokenizer,
                                     "Model folder with tokenizer.json, qwen.tiktoken or tokenizer.model")
                          ->required();
                      sub.add_option("--file", a->file, "Read lines of ids from this file ('-' = stdin)");
                      sub.add_option("ids", a->ids, "Token ids of one sequence (default: lines from stdin)");
                      sub.add_flag("--skip-special", a->skip_special, "Leave special tokens out of the text");
                      return [a] { return RunDecode(*a); };
                    });

}  // namespace
