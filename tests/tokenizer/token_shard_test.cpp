// Token shards and corpus sharding: the binary format, the reader's checks, the deterministic train/val
// split, document separation, exact parallel cutting of huge documents, JSONL input and invalid UTF-8
// reporting, and output that does not depend on the number of threads.
#include "tokenizer/token_shard.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "tokenizer/corpus_sharder.h"
#include "tokenizer_test_util.h"

namespace fm {
namespace {

std::vector<uint32_t> ReadAll(const std::string& dir, const nlohmann::json& list) {
  std::vector<uint32_t> all;
  for (const auto& s : list) {
    std::unique_ptr<TokenShard> shard;
    Status st = TokenShard::Open(dir + "/" + s["file"].get<std::string>(), &shard);
    EXPECT_TRUE(st.ok()) << st.message();
    if (!st.ok()) continue;
    EXPECT_EQ(shard->size(), s["tokens"].get<uint64_t>());
    all.insert(all.end(), shard->tokens(), shard->tokens() + shard->size());
  }
  return all;
}

TEST(TokenShard, WriterAndReaderAgreeOnTheFormat) {
  test::TempDir dir;
  TokenShardWriter w(dir.path(), "train", 1000, 4);
  std::vector<uint32_t> ids = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  ASSERT_TRUE(w.Append(ids.data(), ids.size()).ok());
  ASSERT_TRUE(w.Finish().ok());
  ASSERT_EQ(w.shards().size(), 3u);
  EXPECT_EQ(w.shards()[2].file, "train_00002.bin");
  EXPECT_EQ(w.shards()[2].tokens, 2u);
  // The header, byte by byte.
  std::string raw = test::ReadFile(dir / "train_00000.bin");
  ASSERT_EQ(raw.size(), 256u + 16u);
  EXPECT_EQ(raw.substr(0, 8), "FMTOKSHD");
  uint32_t version, vocab;
  uint64_t count;
  std::memcpy(&version, raw.data() + 8, 4);
  std::memcpy(&vocab, raw.data() + 12, 4);
  std::memcpy(&count, raw.data() + 16, 8);
  EXPECT_EQ(version, 1u);
  EXPECT_EQ(vocab, 1000u);
  EXPECT_EQ(count, 4u);
  EXPECT_EQ(raw.substr(24, 232), std::string(232, '\0'));
  std::unique_ptr<TokenShard> s;
  ASSERT_TRUE(TokenShard::Open(dir / "train_00001.bin", &s).ok());
  EXPECT_EQ(std::vector<uint32_t>(s->tokens(), s->tokens() + s->size()), (std::vector<uint32_t>{5, 6, 7, 8}));
  EXPECT_EQ(s->vocab_size(), 1000u);
}

TEST(TokenShard, ReaderRejectsDamagedFiles) {
  test::TempDir dir;
  TokenShardWriter w(dir.path(), "val", 50, 100);
  std::vector<uint32_t> ids = {1, 2, 3};
  ASSERT_TRUE(w.Append(ids.data(), ids.size()).ok());
  ASSERT_TRUE(w.Finish().ok());
  std::string good = test::ReadFile(dir / "val_00000.bin");
  std::unique_ptr<TokenShard> s;
  test::WriteFile(dir / "truncated.bin", good.substr(0, good.size() - 2));
  Status st = TokenShard::Open(dir / "truncated.bin", &s);
  EXPECT_EQ(st.code(), Status::Code::kCorruption);
  EXPECT_NE(st.message().find("truncated.bin: header says 3 tokens"), std::string::npos) << st.message();
  std::string bad_magic = good;
  bad_magic[0] = 'X';
  test::WriteFile(dir / "magic.bin", bad_magic);
  EXPECT_EQ(TokenShard::Open(dir / "magic.bin", &s).code(), Status::Code::kCorruption);
  std::string v2 = good;
  v2[8] = 2;
  test::WriteFile(dir / "v2.bin", v2);
  st = TokenShard::Open(dir / "v2.bin", &s);
  EXPECT_EQ(st.code(), Status::Code::kUnsupported);
  EXPECT_NE(st.message().find("version 2"), std::string::npos);
  EXPECT_EQ(TokenShard::Open(dir / "missing.bin", &s).code(), Status::Code::kIOError);
}

TEST(TokenShard, TakeTailAcrossShards) {
  test::TempDir dir;
  TokenShardWriter w(dir.path(), "train", 100, 3);
  std::vector<uint32_t> ids = {1, 2, 3, 4, 5, 6, 7};
  ASSERT_TRUE(w.Append(ids.data(), ids.size()).ok());
  std::vector<uint32_t> tail;
  ASSERT_TRUE(w.TakeTail(2, &tail).ok());
  EXPECT_EQ(tail, (std::vector<uint32_t>{3, 4, 5, 6, 7}));
  uint32_t more = 9;
  ASSERT_TRUE(w.Append(&more, 1).ok());
  ASSERT_TRUE(w.Finish().ok());
  ASSERT_EQ(w.shards().size(), 1u);
  std::unique_ptr<TokenShard> s;
  ASSERT_TRUE(TokenShard::Open(dir / "train_00000.bin", &s).ok());
  EXPECT_EQ(std::vector<uint32_t>(s->tokens(), s->tokens() + s->size()), (std::vector<uint32_t>{1, 2, 9}));
  EXPECT_FALSE(std::filesystem::exists(dir / "train_00001.bin"));
}

TEST(ValidationSplit, DeterministicAndNearTheFraction) {
  size_t val = 0;
  for (uint64_t i = 0; i < 100000; ++i) {
    bool v = IsValidationDocument(i, 1234, 0.05);
    EXPECT_EQ(v, IsValidationDocument(i, 1234, 0.05));
    val += v;
  }
  EXPECT_NEAR(val / 100000.0, 0.05, 0.004);
  size_t differ = 0;
  for (uint64_t i = 0; i < 1000; ++i)
    differ += IsValidationDocument(i, 1, 0.5) != IsValidationDocument(i, 2, 0.5);
  EXPECT_GT(differ, 300u);  // the seed matters
  EXPECT_FALSE(IsValidationDocument(7, 1234, 0.0));
}

ShardOptions Options(const std::vector<std::string>& inputs, const std::string& out,
                     std::vector<std::string>* warnings) {
  ShardOptions o;
  o.inputs = inputs;
  o.output_dir = out;
  o.progress = false;
  o.warn = [warnings](const std::string& w) { warnings->push_back(w); };
  return o;
}

TEST(ShardCorpus, BlankLineDocumentsEachEndWithEos) {
  const Tokenizer& tok = test::Qwen3();
  test::TempDir dir;
  test::WriteFile(dir / "a.txt", "First document,\nsecond line.\n\n\nSecond document.\n  \nThird one\n");
  std::vector<std::string> warnings;
  ShardOptions o = Options({dir / "a.txt"}, dir / "out", &warnings);
  o.blank_line_docs = true;
  o.val_fraction = 0.0;
  ShardSummary sum;
  Status s = ShardCorpus(tok, o, &sum);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(sum.train_docs, 3u);
  EXPECT_EQ(sum.val_docs, 0u);
  auto m = nlohmann::json::parse(test::ReadFile(dir / "out/manifest.json"));
  EXPECT_EQ(m["vocab_size"], tok.vocab_size());
  EXPECT_EQ(m["eos_id"], *tok.eos_id());
  std::vector<uint32_t> want, ids;
  for (const char* doc : {"First document,\nsecond line.", "Second document.", "Third one"}) {
    ASSERT_TRUE(tok.Encode(doc, false, &ids).ok());
    want.insert(want.end(), ids.begin(), ids.end());
    want.push_back(*tok.eos_id());
  }
  EXPECT_EQ(ReadAll(dir / "out", m["train"]), want);
  EXPECT_EQ(m["tokens"]["train"].get<size_t>(), want.size());
  EXPECT_TRUE(warnings.empty());
}

TEST(ShardCorpus, AtLeastOneValidationDocumentAndStableSplit) {
  const Tokenizer& tok = test::Qwen3();
  test::TempDir dir;
  std::string text;
  for (int i = 0; i < 40; ++i) text += "Document number " + std::to_string(i) + " about interest rates.\n\n";
  test::WriteFile(dir / "docs.txt", text);
  std::vector<std::string> warnings;
  ShardOptions o = Options({dir / "docs.txt"}, dir / "out", &warnings);
  o.blank_line_docs = true;
  o.val_fraction = 0.001;  // no document hashes below this: the last one is moved to validation
  o.shard_tokens = 50;
  ShardSummary sum;
  ASSERT_TRUE(ShardCorpus(tok, o, &sum).ok());
  EXPECT_EQ(sum.val_docs, 1u);
  EXPECT_EQ(sum.train_docs, 39u);
  auto m = nlohmann::json::parse(test::ReadFile(dir / "out/manifest.json"));
  std::vector<uint32_t> ids;
  ASSERT_TRUE(tok.Encode("Document number 39 about interest rates.", false, &ids).ok());
  ids.push_back(*tok.eos_id());
  EXPECT_EQ(ReadAll(dir / "out", m["val"]), ids);
  EXPECT_GT(m["train"].size(), 5u);  // 50-token shards
  // A larger fraction: the split follows IsValidationDocument, and a rerun gives identical files.
  o.val_fraction = 0.25;
  o.output_dir = dir / "out2";
  ASSERT_TRUE(ShardCorpus(tok, o, &sum).ok());
  size_t expect_val = 0;
  for (uint64_t i = 0; i < 40; ++i) expect_val += IsValidationDocument(i, o.seed, 0.25);
  EXPECT_EQ(sum.val_docs, expect_val);
  o.output_dir = dir / "out3";
  ASSERT_TRUE(ShardCorpus(tok, o, &sum).ok());
  EXPECT_EQ(test::ReadFile(dir / "out2/train_00000.bin"), test::ReadFile(dir / "out3/train_00000.bin"));
  EXPECT_EQ(test::ReadFile(dir / "out2/val_00000.bin"), test::ReadFile(dir / "out3/val_00000.bin"));
}

TEST(ShardCorpus, HugeDocumentIsCutExactly) {
  // tinyshakespeare (1.1 MB, one document) is encoded in parallel parts; the ids equal encoding it whole.
  for (const Tokenizer* tok : {&test::Qwen3(), &test::Llama3()}) {
    std::string text = test::ReadFile(test::SharedDir() + "/data/general/tinyshakespeare.txt");
    std::vector<std::string_view> parts;
    tok->SplitForParallelEncode(text, 64 << 10, &parts);
    EXPECT_GT(parts.size(), 10u);
    std::vector<uint32_t> whole, joined, ids;
    ASSERT_TRUE(tok->Encode(text, false, &whole).ok());
    for (auto p : parts) {
      ASSERT_TRUE(tok->Encode(p, false, &ids).ok());
      joined.insert(joined.end(), ids.begin(), ids.end());
    }
    EXPECT_EQ(joined, whole);
    test::TempDir dir;
    std::vector<std::string> warnings;
    ShardOptions o =
        Options({test::SharedDir() + "/data/general/tinyshakespeare.txt"}, dir / "out", &warnings);
    o.val_fraction = 0;
    ShardSummary sum;
    ASSERT_TRUE(ShardCorpus(*tok, o, &sum).ok());
    whole.push_back(*tok->eos_id());
    EXPECT_EQ(ReadAll(dir / "out", nlohmann::json::parse(test::ReadFile(dir / "out/manifest.json"))["train"]),
              whole);
  }
}

TEST(ShardCorpus, JsonlAndInvalidUtf8AreReported) {
  const Tokenizer& tok = test::Qwen3();
  test::TempDir dir;
  test::WriteFile(dir / "c.jsonl",
                  "{\"text\": \"alpha\"}\n"
                  "not json\n"
                  "{\"id\": 3}\n"
                  "\n"
                  "{\"text\": \"beta \xFF gamma\"}\n");
  test::WriteFile(dir / "d.txt", std::string("ok\xC3(bad") + "\n");
  std::vector<std::string> warnings;
  ShardOptions o = Options({dir / "c.jsonl", dir / "d.txt"}, dir / "out", &warnings);
  o.val_fraction = 0;
  ShardSummary sum;
  Status s = ShardCorpus(tok, o, &sum);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(sum.train_docs, 3u);
  EXPECT_EQ(sum.skipped_lines, 2u);
  EXPECT_EQ(sum.invalid_utf8, 2u);
  std::string all;
  for (const auto& w : warnings) all += w + "\n";
  EXPECT_NE(all.find(dir / "c.jsonl:2: not valid JSON"), std::string::npos) << all;
  EXPECT_NE(all.find(dir / "c.jsonl:3: no \"text\" string field"), std::string::npos) << all;
  // Byte offsets in the file: the 0xFF of line 5 and the 0xC3 of d.txt.
  size_t ff = std::string("{\"text\": \"alpha\"}\nnot json\n{\"id\": 3}\n\n{\"text\": \"beta ").size();
  EXPECT_NE(all.find(dir / "c.jsonl: invalid UTF-8 at byte offset " + std::to_string(ff)), std::string::npos)
      << all;
  EXPECT_NE(all.find(dir / "d.txt: invalid UTF-8 at byte offset 2"), std::string::npos) << all;
  std::vector<uint32_t> want, ids;
  for (const char* doc : {"alpha", "beta \xEF\xBF\xBD gamma", "ok\xEF\xBF\xBD(bad\n"}) {
    ASSERT_TRUE(tok.Encode(doc, false, &ids).ok());
    want.insert(want.end(), ids.begin(), ids.end());
    want.push_back(*tok.eos_id());
  }
  EXPECT_EQ(ReadAll(dir / "out", nlohmann::json::parse(test::ReadFile(dir / "out/manifest.json"))["train"]),
            want);
}

TEST(ShardCorpus, FailureLeavesNoOutputFolder) {
  const Tokenizer& tok = test::Qwen3();
  test::TempDir dir;
  std::vector<std::string> warnings;
  ShardOptions o = Options({dir / "missing.txt"}, dir / "out", &warnings);
  ShardSummary sum;
  Status s = ShardCorpus(tok, o, &sum);
  EXPECT_EQ(s.code(), Status::Code::kNotFound);
  EXPECT_NE(s.message().find("missing.txt"), std::string::npos);
  EXPECT_EQ(
      std::distance(std::filesystem::directory_iterator(dir.path()), std::filesystem::directory_iterator()),
      0);
}

// Every file of a folder, by name.
std::map<std::string, std::string> FolderFiles(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    files[e.path().filename().string()] = test::ReadFile(e.path().string());
  return files;
}

TEST(ShardCorpus, OutputIsTheSameForAnyThreadCount) {
  // Many small documents (blank-line separated), one huge document cut into parallel parts, a JSONL file with
  // a line to skip and invalid UTF-8, several shards per split: the shards and the manifest must not depend
  // on how many threads encode, read and write.
  const Tokenizer& tok = test::Qwen3();
  test::TempDir dir;
  std::string fomc;
  for (const auto& e : std::filesystem::directory_iterator(test::SharedDir() + "/data/fomc-statements"))
    fomc += test::ReadFile(e.path().string()) + "\n\n";
  test::WriteFile(dir / "docs.txt", fomc);
  test::WriteFile(dir / "c.jsonl",
                  "{\"text\": \"alpha \xFF beta\"}\nnot json\n{\"text\": \"<|im_start|>gamma\"}\n");
  std::vector<std::string> warnings;
  ShardOptions o =
      Options({dir / "docs.txt", test::SharedDir() + "/data/general/tinyshakespeare.txt", dir / "c.jsonl"},
              "", &warnings);
  o.blank_line_docs = false;
  o.val_fraction = 0.05;
  o.shard_tokens = 40000;
  int threads_before = omp_get_max_threads();
  std::map<std::string, std::string> first;
  ShardSummary first_sum;
  for (int threads : {1, 2, 3}) {
    omp_set_num_threads(threads);
    o.output_dir = dir / ("out" + std::to_string(threads));
    ShardSummary sum;
    Status s = ShardCorpus(tok, o, &sum);
    ASSERT_TRUE(s.ok()) << s.message();
    auto files = FolderFiles(o.output_dir);
    if (threads == 1) {
      first = files;
      first_sum = sum;
      EXPECT_GT(sum.train_shards, 3u);
      EXPECT_EQ(sum.skipped_lines, 1u);
      continue;
    }
    EXPECT_EQ(sum.train_tokens, first_sum.train_tokens) << threads << " threads";
    EXPECT_EQ(sum.val_tokens, first_sum.val_tokens) << threads << " threads";
    ASSERT_EQ(files.size(), first.size()) << threads << " threads";
    for (const auto& [name, bytes] : first)
      EXPECT_TRUE(files[name] == bytes) << name << ", " << threads << " threads";
  }
  // The blank-line reading of the same inputs, too.
  o.blank_line_docs = true;
  std::map<std::string, std::string> blank_first;
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    o.output_dir = dir / ("blank" + std::to_string(threads));
    ShardSummary sum;
    ASSERT_TRUE(ShardCorpus(tok, o, &sum).ok());
    auto files = FolderFiles(o.output_dir);
    if (threads == 1) {
      blank_first = files;
    } else {
      EXPECT_TRUE(files == blank_first);
    }
  }
  omp_set_num_threads(threads_before);
}

}  // namespace
}  // namespace fm
