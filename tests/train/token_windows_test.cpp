#include "train/token_windows.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <numeric>

#include "testing/tiny_checkpoint.h"
#include "train/train_testing.h"

namespace fm {
namespace {

using testing::TempDir;
using testing::WriteShard;

std::vector<uint32_t> Range(uint32_t a, uint32_t b) {
  std::vector<uint32_t> v(b - a);
  std::iota(v.begin(), v.end(), a);
  return v;
}

TEST(PackedTokenWindows, PacksAcrossShardBoundaries) {
  TempDir d;
  WriteShard(d / "train_00000.bin", 100, Range(0, 10));
  WriteShard(d / "train_00001.bin", 100, Range(10, 25));
  WriteShard(d / "val_00000.bin", 100, Range(50, 59));
  std::unique_ptr<PackedTokenWindows> w;
  ASSERT_TRUE(PackedTokenWindows::Open(d.path(), "train", 4, 100, &w).ok());
  EXPECT_EQ(w->num_tokens(), 25u);
  EXPECT_EQ(w->num_windows(), 6u);  // (25 - 1) / 4
  uint32_t in[4], tg[4];
  for (uint64_t i = 0; i < w->num_windows(); i++) {
    ASSERT_TRUE(w->Read(i, in, tg).ok());
    for (int t = 0; t < 4; t++) {
      EXPECT_EQ(in[t], 4 * i + t);
      EXPECT_EQ(tg[t], 4 * i + t + 1);
    }
  }
  EXPECT_FALSE(w->Read(6, in, tg).ok());

  std::unique_ptr<PackedTokenWindows> val;
  ASSERT_TRUE(PackedTokenWindows::Open(d.path(), "val", 4, 100, &val).ok());
  EXPECT_EQ(val->num_windows(), 2u);
  ASSERT_TRUE(val->Read(1, in, tg).ok());
  EXPECT_EQ(in[0], 54u);
  EXPECT_EQ(tg[3], 58u);
}

TEST(PackedTokenWindows, RejectsWhatItDoesNotUnderstand) {
  TempDir d;
  std::unique_ptr<PackedTokenWindows> w;
  Status s = PackedTokenWindows::Open(d / "missing", "train", 4, 100, &w);
  EXPECT_EQ(s.code(), Status::Code::kNotFound);
  EXPECT_NE(s.message().find("missing"), std::string::npos);
  s = PackedTokenWindows::Open(d.path(), "train", 4, 100, &w);
  EXPECT_EQ(s.code(), Status::Code::kNotFound);  // folder without shards
  EXPECT_NE(s.message().find("train_NNNNN.bin"), std::string::npos);

  WriteShard(d / "train_00000.bin", 100, Range(0, 10), /*version=*/2);
  s = PackedTokenWindows::Open(d.path(), "train", 4, 100, &w);
  EXPECT_EQ(s.code(), Status::Code::kUnsupported);
  EXPECT_NE(s.message().find("train_00000.bin"), std::string::npos);

  WriteShard(d / "train_00000.bin", 100, Range(0, 10));
  std::filesystem::resize_file(d / "train_00000.bin", 256 + 4 * 10 - 4);  // truncated
  s = PackedTokenWindows::Open(d.path(), "train", 4, 100, &w);
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("truncated"), std::string::npos) << s.message();

  std::ofstream(d / "train_00000.bin") << std::string(300, 'x');  // not a shard
  s = PackedTokenWindows::Open(d.path(), "train", 4, 100, &w);
  EXPECT_NE(s.message().find("magic"), std::string::npos);

  WriteShard(d / "train_00000.bin", 200, Range(0, 10));  // tokenizer larger than the model's embedding
  s = PackedTokenWindows::Open(d.path(), "train", 4, 100, &w);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("exceeds the model's 100"), std::string::npos);

  WriteShard(d / "train_00000.bin", 100, Range(0, 4));  // too short for one window of 4 + 1
  s = PackedTokenWindows::Open(d.path(), "train", 4, 100, &w);
  EXPECT_NE(s.message().find("fewer than one window"), std::string::npos);
}

TEST(PackedTokenWindows, OutOfVocabularyTokenNamesItsShard) {
  TempDir d;
  std::vector<uint32_t> t = Range(0, 20);
  t[13] = 100;  // header says vocab 100, id 100 is out of range
  WriteShard(d / "train_00000.bin", 100, Range(0, 8));
  WriteShard(d / "train_00001.bin", 100, t);
  std::unique_ptr<PackedTokenWindows> w;
  ASSERT_TRUE(PackedTokenWindows::Open(d.path(), "train", 4, 100, &w).ok());
  uint32_t in[4], tg[4];
  EXPECT_TRUE(w->Read(0, in, tg).ok());
  Status s = w->Read(5, in, tg);  // stream tokens 20..24 hold stream position 21 = shard 1 token 13
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("train_00001.bin: token 13 has id 100"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace fm
