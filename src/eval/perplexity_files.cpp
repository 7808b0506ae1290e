#include "eval/perplexity_files.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "tokenizer/token_shard.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace fm {

namespace fs = std::filesystem;

namespace {

bool IsShardFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[8] = {};
  in.read(magic, 8);
  return in.gcount() == 8 && std::equal(magic, magic + 8, kTokenShardMagic);
}

Status AppendShard(const std::string& path, uint32_t vocab_size, std::vector<uint32_t>* tokens) {
  std::unique_ptr<TokenShard> shard;
  FM_RETURN_IF_ERROR(TokenShard::Open(path, &shard));
  const uint32_t* t = shard->tokens();
  for (uint64_t i = 0; i < shard->size(); i++) {
    if (t[i] >= vocab_size) {
      return Status::InvalidArgument(path + ": token " + std::to_string(i) + " has id " +
                                     std::to_string(t[i]) + ", outside the model's vocabulary of " +
                                     std::to_string(vocab_size) + " (shards made with another tokenizer?)");
    }
  }
  tokens->insert(tokens->end(), t, t + shard->size());
  return Status::Ok();
}

}  // namespace

Status LoadPerplexityTokens(const std::string& path, const Tokenizer& tok, uint32_t vocab_size,
                            std::vector<uint32_t>* tokens) {
  tokens->clear();
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    std::vector<std::string> shards;
    for (const auto& e : fs::directory_iterator(path, ec)) {
      if (e.is_regular_file() && e.path().extension() == ".bin") shards.push_back(e.path().string());
    }
    if (shards.empty()) return Status::NotFound(path + ": no token shards (*.bin) in this folder");
    std::sort(shards.begin(), shards.end());
    for (const auto& s : shards) FM_RETURN_IF_ERROR(AppendShard(s, vocab_size, tokens));
    return Status::Ok();
  }
  if (!fs::is_regular_file(path, ec)) return Status::NotFound(path + ": no such file or folder");
  if (IsShardFile(path)) return AppendShard(path, vocab_size, tokens);
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError(path + ": cannot read");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  if (!utf8::IsValid(text)) {
    return Status::InvalidArgument(path + ": not UTF-8 text (first invalid byte at offset " +
                                   std::to_string(utf8::FirstInvalid(text)) + ")");
  }
  return tok.Encode(text, /*add_special=*/true, tokens).WithPrefix(path);
}

}  // namespace fm
