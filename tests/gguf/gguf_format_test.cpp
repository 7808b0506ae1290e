// Unit tests of the GGUF format layer: Q8_0 blocks, the rotary row permutation, name mapping, reader validation.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <random>

#include "gguf/gguf_file.h"
#include "gguf/gguf_names.h"
#include "testing/tiny_checkpoint.h"

namespace fm::gguf {
namespace {

TEST(GgufQ8, KnownBlock) {
  std::vector<float> x(32);
  for (int i = 0; i < 32; i++) x[i] = (i - 16) * 0.5f;  // amax 8 -> d = 8/127
  std::vector<uint8_t> b(kQ8BlockBytes);
  QuantizeQ8_0(x.data(), 32, b.data());
  uint16_t dh;
  std::memcpy(&dh, b.data(), 2);
  EXPECT_EQ(dh, F32ToF16(8.0f / 127.0f));
  EXPECT_EQ(static_cast<int8_t>(b[2]), -127);       // -8 / d
  EXPECT_EQ(static_cast<int8_t>(b[2 + 16]), 0);     // 0
  EXPECT_EQ(static_cast<int8_t>(b[2 + 17]), 8);     // 0.5 / (8/127) = 7.94 -> 8
  std::vector<float> y(32);
  DequantizeQ8_0(b.data(), 32, y.data());
  for (int i = 0; i < 32; i++) EXPECT_NEAR(y[i], x[i], 8.0f / 127.0f / 2 + 1e-3f);
}

TEST(GgufQ8, ZeroBlock) {
  std::vector<float> x(64, 0.0f), y(64, 1.0f);
  std::vector<uint8_t> b(2 * kQ8BlockBytes, 0xff);
  QuantizeQ8_0(x.data(), 64, b.data());
  DequantizeQ8_0(b.data(), 64, y.data());
  for (float v : y) EXPECT_EQ(v, 0.0f);
}

TEST(GgufNames, MapAndInverse) {
  std::string g, h;
  ASSERT_TRUE(HfToGgufName("model.layers.12.self_attn.q_proj.weight", &g));
  EXPECT_EQ(g, "blk.12.attn_q.weight");
  ASSERT_TRUE(GgufToHfName(g, &h));
  EXPECT_EQ(h, "model.layers.12.self_attn.q_proj.weight");
  ASSERT_TRUE(HfToGgufName("model.layers.0.self_attn.k_norm.weight", &g));
  EXPECT_EQ(g, "blk.0.attn_k_norm.weight");
  ASSERT_TRUE(HfToGgufName("lm_head.weight", &g));
  EXPECT_EQ(g, "output.weight");
  EXPECT_FALSE(HfToGgufName("transformer.h.0.attn.c_attn.weight", &g));
  EXPECT_FALSE(GgufToHfName("blk.x.attn_q.weight", &h));
  ArchMapping m;
  EXPECT_FALSE(MapArchitecture("qwen", &m).ok());
  ASSERT_TRUE(MapArchitecture("mistral", &m).ok());
  EXPECT_EQ(m.gguf_arch, "llama");
  EXPECT_TRUE(m.permute_qk);
  ASSERT_TRUE(MapArchitecture("qwen2", &m).ok());
  EXPECT_FALSE(m.permute_qk);
}

// convert_hf_to_gguf.py: w.reshape(n_head, 2, hd/2, ...).swapaxes(1, 2): head dim 4 -> rows 0 2 1 3.
TEST(GgufNames, PermutationMatchesConvertScript) {
  std::vector<uint8_t> src = {0, 1, 2, 3, 4, 5, 6, 7}, dst(8), back(8);
  PermuteRotaryRows(src.data(), dst.data(), 8, 1, 4, false);
  EXPECT_EQ(dst, (std::vector<uint8_t>{0, 2, 1, 3, 4, 6, 5, 7}));
  PermuteRotaryRows(dst.data(), back.data(), 8, 1, 4, true);
  EXPECT_EQ(back, src);
  std::vector<uint8_t> s6 = {0, 1, 2, 3, 4, 5}, d6(6);
  PermuteRotaryRows(s6.data(), d6.data(), 6, 1, 6, false);
  EXPECT_EQ(d6, (std::vector<uint8_t>{0, 3, 1, 4, 2, 5}));
}

void WriteBytes(const std::string& path, const std::string& b) { std::ofstream(path, std::ios::binary) << b; }

TEST(GgufReader, RejectsBadFiles) {
  fm::testing::TempDir dir;
  std::unique_ptr<GgufFile> f;
  WriteBytes(dir / "a.gguf", std::string("GGML") + std::string(40, '\0'));
  Status s = GgufFile::Open(dir / "a.gguf", &f);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("bad magic"), std::string::npos);

  std::string h;
  PutU32(&h, kMagic);
  PutU32(&h, 7);
  PutU64(&h, 0);
  PutU64(&h, 0);
  WriteBytes(dir / "b.gguf", h);
  s = GgufFile::Open(dir / "b.gguf", &f);
  EXPECT_NE(s.message().find("version 7"), std::string::npos) << s.message();

  // A valid header with one F32 tensor whose data is missing.
  MetadataBuilder md;
  md.String("general.architecture", "llama");
  std::string g;
  PutU32(&g, kMagic);
  PutU32(&g, 3);
  PutU64(&g, 1);
  PutU64(&g, md.count());
  g += md.bytes();
  PutString(&g, "token_embd.weight");
  PutU32(&g, 2);
  PutU64(&g, 8);
  PutU64(&g, 4);
  PutU32(&g, 0);
  PutU64(&g, 0);
  g.resize((g.size() + 31) / 32 * 32, '\0');
  WriteBytes(dir / "c.gguf", g + std::string(64, '\0'));
  s = GgufFile::Open(dir / "c.gguf", &f);
  EXPECT_NE(s.message().find("token_embd.weight"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("past the end"), std::string::npos) << s.message();
  WriteBytes(dir / "d.gguf", g + std::string(128, '\0'));
  s = GgufFile::Open(dir / "d.gguf", &f);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(f->tensors()[0].shape(), (std::vector<int64_t>{4, 8}));
  EXPECT_EQ(f->Find("general.architecture")->s, "llama");
}

}  // namespace
}  // namespace fm::gguf
