#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "io/model_folder.h"
#include "io/safetensors_reader.h"
#include "io/safetensors_writer.h"
#include "testing/tiny_checkpoint.h"

namespace fm {
namespace {

using testing::TempDir;

// Writes a raw safetensors file with the given header JSON and `data_bytes` bytes of data.
void WriteRaw(const std::string& path, const std::string& header, size_t data_bytes, int64_t len_override = -1) {
  std::ofstream f(path, std::ios::binary);
  uint64_t len = len_override >= 0 ? static_cast<uint64_t>(len_override) : header.size();
  f.write(reinterpret_cast<const char*>(&len), 8);
  f << header;
  std::string data(data_bytes, '\0');
  f << data;
}

std::string OpenError(const std::string& path) {
  std::unique_ptr<SafetensorsFile> f;
  Status s = SafetensorsFile::Open(path, &f);
  return s.ok() ? "" : s.message();
}

TEST(SafetensorsTest, RoundTripsEveryDtypeZeroCopy) {
  TempDir dir;
  std::vector<TensorSpec> specs = {{"a", DType::kF32, {2, 3}}, {"b", DType::kBF16, {5}}, {"c", DType::kI64, {2}},
                                   {"empty", DType::kF16, {0, 4}}, {"scalar", DType::kF16, {}}};
  std::unique_ptr<SafetensorsWriter> w;
  ASSERT_TRUE(SafetensorsWriter::Create(dir.path(), specs, SafetensorsWriter::kDefaultMaxShardBytes, {{"k", "v"}}, &w).ok());
  float a[6] = {1, 2, 3, 4, 5, -6};
  uint16_t b[5] = {0x3f80, 0x4000, 0x7fc0, 0xff80, 0x0001};
  int64_t c[2] = {-7, 1ll << 40};
  uint16_t scalar = 0x3c00;
  // Write `a` in two pieces out of order (streaming API).
  ASSERT_TRUE(w->Write(0, 12, a + 3, 12).ok());
  ASSERT_TRUE(w->Write(0, 0, a, 12).ok());
  ASSERT_TRUE(w->WriteAll(1, b).ok());
  ASSERT_TRUE(w->WriteAll(2, c).ok());
  ASSERT_TRUE(w->WriteAll(3, nullptr).ok());
  ASSERT_TRUE(w->WriteAll(4, &scalar).ok());
  ASSERT_TRUE(w->Finish().ok());
  ASSERT_EQ(w->shard_files(), std::vector<std::string>{"model.safetensors"});
  EXPECT_EQ(std::filesystem::file_size(dir / "model.safetensors") % 8, (6 * 4 + 10 + 16 + 2) % 8);

  std::unique_ptr<SafetensorsFile> f;
  ASSERT_TRUE(SafetensorsFile::Open(dir / "model.safetensors", &f).ok());
  EXPECT_EQ(f->metadata().at("k"), "v");
  EXPECT_EQ(f->metadata().at("format"), "pt");
  const TensorView* ta = f->Find("a");
  ASSERT_NE(ta, nullptr);
  EXPECT_EQ(ta->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(std::memcmp(ta->data, a, 24), 0);
  EXPECT_EQ(std::memcmp(f->Find("b")->data, b, 10), 0);
  EXPECT_EQ(std::memcmp(f->Find("c")->data, c, 16), 0);
  EXPECT_EQ(f->Find("empty")->numel(), 0);
  EXPECT_EQ(f->Find("scalar")->numel(), 1);
  EXPECT_EQ(f->Find("missing"), nullptr);
  // Data section is 8-byte aligned.
  EXPECT_EQ(reinterpret_cast<uintptr_t>(f->tensors()[0].data) % 8, 0u);
}

TEST(SafetensorsTest, IncompleteWriteIsAnError) {
  TempDir dir;
  std::unique_ptr<SafetensorsWriter> w;
  ASSERT_TRUE(SafetensorsWriter::Create(dir.path(), {{"a", DType::kF32, {4}}}, 1 << 30, {}, &w).ok());
  float x[2] = {1, 2};
  ASSERT_TRUE(w->Write(0, 0, x, 8).ok());
  Status s = w->Finish();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("'a'"), std::string::npos);
  EXPECT_FALSE(w->Write(0, 12, x, 8).ok());  // past the end
}

TEST(SafetensorsTest, ShardsAtMaxShardSizeAndWritesIndex) {
  TempDir dir;
  testing::TinyModelShape shape;
  auto tensors = testing::TinyLlamaTensors(shape, 1);
  testing::WriteTinyModel(dir / "m", tensors, shape, DType::kBF16, "x", /*max_shard=*/600);
  std::unique_ptr<ModelFolder> m;
  ASSERT_TRUE(ModelFolder::Open(dir / "m", &m).ok());
  EXPECT_TRUE(std::filesystem::exists(dir / "m/model.safetensors.index.json"));
  size_t shards = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir / "m")) shards += entry.path().extension() == ".safetensors";
  ASSERT_GE(shards, 3u);  // 32x8 bf16 embedding = 512 bytes: the 600-byte limit forces several shards
  char first[64];
  std::snprintf(first, sizeof first, "m/model-00001-of-%05zu.safetensors", shards);
  EXPECT_TRUE(std::filesystem::exists(dir / first)) << first;
  for (const auto& entry : std::filesystem::directory_iterator(dir / "m")) {
    if (entry.path().extension() == ".safetensors") {
      // Each shard holds at most 600 bytes of data unless a single tensor is bigger.
      std::unique_ptr<SafetensorsFile> f;
      ASSERT_TRUE(SafetensorsFile::Open(entry.path(), &f).ok());
      uint64_t bytes = 0;
      for (const auto& t : f->tensors()) bytes += t.nbytes;
      EXPECT_TRUE(bytes <= 600 || f->tensors().size() == 1) << entry.path();
    }
  }
  ASSERT_EQ(m->tensor_names().size(), tensors.size());
  for (const auto& t : tensors) {
    const TensorView* v = m->Find(t.name);
    ASSERT_NE(v, nullptr) << t.name;
    std::vector<float> got(v->numel());
    ToF32(v->data, v->dtype, got.data(), got.size());
    for (size_t i = 0; i < got.size(); i++) ASSERT_EQ(got[i], Bf16ToF32(F32ToBf16(t.values[i])));
  }
  EXPECT_EQ(m->config().model_type, "llama");
  EXPECT_EQ(m->config().num_layers, 2);
  EXPECT_EQ(m->config().vocab_size, 32);
  EXPECT_FALSE(m->config().tie_word_embeddings);
  EXPECT_EQ(m->chat_template(), "{{ 'x' }}");
  EXPECT_TRUE(m->has_generation_config());
}

TEST(SafetensorsTest, RejectsCorruptHeadersWithNamedErrors) {
  TempDir dir;
  std::string p = dir / "bad.safetensors";
  WriteRaw(p, "{}", 0, 1ll << 40);
  EXPECT_NE(OpenError(p).find("exceeds file size"), std::string::npos) << OpenError(p);
  WriteRaw(p, "{not json", 0);
  EXPECT_NE(OpenError(p).find("not valid JSON"), std::string::npos);
  WriteRaw(p, R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4);
  EXPECT_NE(OpenError(p).find("'w'"), std::string::npos);
  EXPECT_NE(OpenError(p).find("truncated"), std::string::npos);
  WriteRaw(p, R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8);
  EXPECT_NE(OpenError(p).find("expected 12"), std::string::npos);
  WriteRaw(p, R"({"w":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}})", 8);
  EXPECT_NE(OpenError(p).find("unknown dtype 'Q4'"), std::string::npos);
  WriteRaw(p, R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12);
  EXPECT_NE(OpenError(p).find("overlaps"), std::string::npos);
  WriteRaw(p, R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12);
  EXPECT_NE(OpenError(p).find("belong to no tensor"), std::string::npos);
  WriteRaw(p, R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8);
  EXPECT_NE(OpenError(p).find("negative"), std::string::npos);
  WriteRaw(p, R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8);
  EXPECT_NE(OpenError(p).find("reversed"), std::string::npos);
  WriteRaw(p, R"({"a":{"dtype":"F32","shape":[4611686018427387904,4611686018427387904],"data_offsets":[0,8]}})", 8);
  EXPECT_NE(OpenError(p).find("overflows"), std::string::npos);
  WriteRaw(p, R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 9);
  EXPECT_NE(OpenError(p).find("trailing"), std::string::npos);
  std::ofstream(p) << "abc";
  EXPECT_NE(OpenError(p).find("too short"), std::string::npos);
  EXPECT_NE(OpenError(dir / "missing.safetensors").find("cannot open"), std::string::npos);
}

TEST(SafetensorsTest, TruncatedShardOfAModelIsNamed) {
  TempDir dir;
  testing::TinyModelShape shape;
  testing::WriteTinyModel(dir / "m", testing::TinyLlamaTensors(shape, 2), shape, DType::kF32);
  std::filesystem::resize_file(dir / "m/model.safetensors", std::filesystem::file_size(dir / "m/model.safetensors") - 10);
  std::unique_ptr<ModelFolder> m;
  Status s = ModelFolder::Open(dir / "m", &m);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("model.safetensors"), std::string::npos) << s.message();
}

TEST(ModelFolderTest, MissingWeightsAndBadIndexAreClearErrors) {
  TempDir dir;
  std::filesystem::create_directories(dir / "empty");
  std::unique_ptr<ModelFolder> m;
  Status s = ModelFolder::Open(dir / "empty", &m);
  EXPECT_NE(s.message().find("no *.safetensors"), std::string::npos);
  s = ModelFolder::Open(dir / "nope", &m);
  EXPECT_NE(s.message().find("no such model"), std::string::npos);
  std::filesystem::create_directories(dir / "idx");
  std::ofstream(dir / "idx/model.safetensors.index.json") << R"({"weight_map": {"a": "model-00001-of-00002.safetensors"}})";
  s = ModelFolder::Open(dir / "idx", &m);
  EXPECT_NE(s.message().find("model-00001-of-00002.safetensors"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace fm
