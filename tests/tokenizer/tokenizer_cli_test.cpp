// End-to-end tests of `finmerge encode`, `decode` and `tokenize` (the binary at FINMERGE_BINARY), including
// their error paths: one clear line on stderr, a non-zero exit, no output folder left behind.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tokenizer/token_shard.h"
#include "tokenizer_test_util.h"

namespace fm {
namespace {

const std::string kBin = FINMERGE_BINARY;

std::string IdsLine(const std::vector<uint32_t>& ids) {
  std::string s;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) s += ' ';
    s += std::to_string(ids[i]);
  }
  return s;
}

TEST(TokenizerCli, EncodeAndDecodeLines) {
  const Tokenizer& tok = test::Qwen3();
  test::TempDir dir;
  std::vector<std::string> lines = {"Hello world!", "", "日本の金利は上昇した。  ", "<|im_start|>user\tx"};
  std::string text;
  for (const auto& l : lines) text += l + "\n";
  test::WriteFile(dir / "in.txt", text);
  std::string out;
  ASSERT_EQ(test::RunCommand(kBin + " encode --tokenizer " + test::ShellQuote(test::Qwen3Dir()) + " --file " +
                                 test::ShellQuote(dir / "in.txt") + " 2>/dev/null",
                             &out),
            0);
  std::string want;
  std::vector<uint32_t> ids;
  for (const auto& l : lines) {
    ASSERT_TRUE(tok.Encode(l, false, &ids).ok());
    want += IdsLine(ids) + "\n";
  }
  EXPECT_EQ(out, want);
  // And back.
  test::WriteFile(dir / "ids.txt", out);
  ASSERT_EQ(test::RunCommand(kBin + " decode --tokenizer " + test::ShellQuote(test::Qwen3Dir()) + " --file " +
                                 test::ShellQuote(dir / "ids.txt") + " 2>/dev/null",
                             &out),
            0);
  EXPECT_EQ(out, text);
  // TEXT arguments are joined with spaces; IDS arguments form one line.
  ASSERT_EQ(test::RunCommand(kBin + " encode --tokenizer " + test::ShellQuote(test::Qwen3Dir()) +
                                 " Hello world! 2>/dev/null",
                             &out),
            0);
  ASSERT_TRUE(tok.Encode("Hello world!", false, &ids).ok());
  EXPECT_EQ(out, IdsLine(ids) + "\n");
  ASSERT_EQ(test::RunCommand(kBin + " decode --tokenizer " + test::ShellQuote(test::Qwen3Dir()) + " " +
                                 IdsLine(ids) + " 2>/dev/null",
                             &out),
            0);
  EXPECT_EQ(out, "Hello world!\n");
}

TEST(TokenizerCli, AddSpecialAndInvalidUtf8) {
  test::TempDir dir;
  ASSERT_EQ(test::WriteSpmStyleTokenizer(dir.path(), "prepend"), "");
  std::unique_ptr<Tokenizer> tok;
  ASSERT_TRUE(Tokenizer::Load(dir.path(), &tok).ok());
  test::WriteFile(dir / "in.txt", "Hello\nbad \xFF byte\n");
  std::string out, err;
  ASSERT_EQ(test::RunCommand(kBin + " encode --add-special --tokenizer " + test::ShellQuote(dir.path()) +
                                 " --file " + test::ShellQuote(dir / "in.txt") + " 2>" +
                                 test::ShellQuote(dir / "err.txt"),
                             &out),
            0);
  std::vector<uint32_t> a, b;
  ASSERT_TRUE(tok->Encode("Hello", true, &a).ok());
  ASSERT_TRUE(tok->Encode("bad \xEF\xBF\xBD byte", true, &b).ok());
  EXPECT_EQ(a.front(), 1u);  // <s>
  EXPECT_EQ(out, IdsLine(a) + "\n" + IdsLine(b) + "\n");
  err = test::ReadFile(dir / "err.txt");
  EXPECT_NE(err.find("in.txt:2: invalid UTF-8 at byte 4 of the line, replaced with U+FFFD"),
            std::string::npos)
      << err;
}

TEST(TokenizerCli, TokenizeWritesShardsAndManifest) {
  const Tokenizer& tok = test::Qwen3();
  test::TempDir dir;
  test::WriteFile(dir / "a.txt", "The committee decided to keep the target range.\n");
  test::WriteFile(dir / "b.jsonl", "{\"text\": \"金利\"}\n{\"text\": \"rates\"}\n");
  std::string out;
  int rc = test::RunCommand(kBin + " tokenize --tokenizer " + test::ShellQuote(test::Qwen3Dir()) + " " +
                                test::ShellQuote(dir / "a.txt") + " " + test::ShellQuote(dir / "b.jsonl") +
                                " -o " + test::ShellQuote(dir / "shards") +
                                " --val-fraction 0.3 --eos '<|endoftext|>'",
                            &out, true);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("tokenize: "), std::string::npos);
  EXPECT_NE(out.find("3 docs"), std::string::npos) << out;
  auto m = nlohmann::json::parse(test::ReadFile(dir / "shards/manifest.json"));
  EXPECT_EQ(m["eos_id"], 151643);
  EXPECT_EQ(m["eos_token"], "<|endoftext|>");
  EXPECT_EQ(m["documents"]["train"].get<int>() + m["documents"]["val"].get<int>(), 3);
  EXPECT_GE(m["documents"]["val"].get<int>(), 1);
  uint64_t total = 0;
  for (const char* split : {"train", "val"}) {
    for (const auto& s : m[split]) {
      std::unique_ptr<TokenShard> shard;
      ASSERT_TRUE(TokenShard::Open(dir / "shards/" + s["file"].get<std::string>(), &shard).ok());
      EXPECT_EQ(shard->vocab_size(), tok.vocab_size());
      total += shard->size();
    }
  }
  EXPECT_EQ(total, m["tokens"]["total"].get<uint64_t>());
}

TEST(TokenizerCli, TokenizeGivesTheSameFilesOnOneAndTwoThreads) {
  // The bench's kind of corpus (FOMC statements and tinyshakespeare, blank-line documents), with shards
  // small enough that there are several: every file, manifest included, is the same byte for byte.
  test::TempDir dir;
  std::string corpus;
  for (const auto& e : std::filesystem::directory_iterator(test::SharedDir() + "/data/fomc-statements"))
    corpus += test::ReadFile(e.path().string()) + "\n\n";
  corpus += test::ReadFile(test::SharedDir() + "/data/general/tinyshakespeare.txt");
  test::WriteFile(dir / "corpus.txt", corpus);
  std::map<std::string, std::string> files[2];
  for (int threads : {1, 2}) {
    std::string shards = dir / ("shards" + std::to_string(threads));
    std::string out;
    int rc = test::RunCommand("OMP_NUM_THREADS=" + std::to_string(threads) + " " + kBin +
                                  " tokenize --tokenizer " + test::ShellQuote(test::Qwen3Dir()) + " " +
                                  test::ShellQuote(dir / "corpus.txt") +
                                  " --blank-line-docs --shard-tokens 100000" + " --val-fraction 0.05 -o " +
                                  test::ShellQuote(shards),
                              &out, true);
    ASSERT_EQ(rc, 0) << out;
    for (const auto& e : std::filesystem::directory_iterator(shards))
      files[threads - 1][e.path().filename().string()] = test::ReadFile(e.path().string());
  }
  EXPECT_GT(files[0].size(), 4u);  // manifest, several train shards, a val shard
  ASSERT_EQ(files[0].size(), files[1].size());
  for (const auto& [name, bytes] : files[0]) EXPECT_TRUE(files[1][name] == bytes) << name;
}

TEST(TokenizerCli, ErrorsAreOneLineAndLeaveNothingBehind) {
  test::TempDir dir;
  test::WriteFile(dir / "a.txt", "text\n");
  std::string out;
  // Missing tokenizer folder.
  int rc = test::RunCommand(kBin + " tokenize --tokenizer " + test::ShellQuote(dir / "no-such-model") + " " +
                                test::ShellQuote(dir / "a.txt") + " -o " + test::ShellQuote(dir / "shards"),
                            &out, true);
  EXPECT_NE(rc, 0);
  EXPECT_EQ(out.find("finmerge: error: "), 0u) << out;
  EXPECT_NE(out.find("no-such-model: tokenizer folder does not exist"), std::string::npos) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  EXPECT_FALSE(std::filesystem::exists(dir / "shards"));
  // Missing input file: the temporary output folder is removed.
  rc = test::RunCommand(kBin + " tokenize --tokenizer " + test::ShellQuote(test::Qwen3Dir()) + " " +
                            test::ShellQuote(dir / "missing.txt") + " -o " + test::ShellQuote(dir / "shards"),
                        &out, true);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("finmerge: error: " + (dir / "missing.txt")), std::string::npos) << out;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    EXPECT_EQ(e.path().filename(), "a.txt") << "left behind: " << e.path();
  }
  // encode / decode with a missing folder, and decode with an id outside the vocabulary.
  rc = test::RunCommand(kBin + " encode --tokenizer " + test::ShellQuote(dir / "nope") + " hi", &out, true);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("nope: tokenizer folder does not exist"), std::string::npos) << out;
  rc = test::RunCommand(kBin + " decode --tokenizer " + test::ShellQuote(test::Qwen3Dir()) + " 1 99999999",
                        &out, true);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("token id 99999999 is outside the vocabulary (size 151669)"), std::string::npos) << out;
}

}  // namespace
}  // namespace fm
