// safetensors -> GGUF -> safetensors: bit-exact for F32 (llama with GQA and permuted Q/K, qwen2 with biases and
// tied embeddings); the GGUF's metadata and ggml-order shapes; errors before anything is written.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "gguf/gguf_export.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_import.h"
#include "gguf/gguf_names.h"
#include "gguf_test_util.h"
#include "io/model_folder.h"

namespace fm::gguf {
namespace {

namespace fs = std::filesystem;

void ExpectSameTensors(const std::string& a_dir, const std::string& b_dir) {
  std::unique_ptr<ModelFolder> a, b;
  ASSERT_TRUE(ModelFolder::Open(a_dir, &a).ok());
  ASSERT_TRUE(ModelFolder::Open(b_dir, &b).ok());
  ASSERT_EQ(a->tensor_names().size(), b->tensor_names().size());
  for (const std::string& n : a->tensor_names()) {
    const TensorView* x = a->Find(n);
    const TensorView* y = b->Find(n);
    ASSERT_NE(y, nullptr) << n;
    EXPECT_EQ(x->shape, y->shape) << n;
    ASSERT_EQ(x->dtype, y->dtype) << n;
    ASSERT_EQ(x->nbytes, y->nbytes) << n;
    EXPECT_EQ(std::memcmp(x->data, y->data, x->nbytes), 0) << n << " differs after the round trip";
  }
}

TEST(GgufRoundTrip, LlamaGqaF32BitExact) {
  fm::testing::TempDir tmp;
  testutil::WriteTinyGgufModel(tmp / "src", "llama", 32, 4, 2, 64, 2, false, 0.3f, 1);
  ExportOptions opt;
  opt.type = TensorType::kF32;
  ExportSummary sum;
  Status s = ExportGguf(tmp / "src", tmp / "m.gguf", opt, &sum);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(sum.gguf_arch, "llama");

  std::unique_ptr<GgufFile> f;
  ASSERT_TRUE(GgufFile::Open(tmp / "m.gguf", &f).ok());
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->Find("general.architecture")->s, "llama");
  EXPECT_EQ(f->Find("llama.attention.head_count_kv")->type, ValueType::kU32);
  EXPECT_EQ(f->Find("llama.attention.head_count_kv")->u, 2u);
  EXPECT_EQ(f->Find("llama.attention.layer_norm_rms_epsilon")->type, ValueType::kF32);
  EXPECT_EQ(f->Find("tokenizer.ggml.model")->s, "gpt2");
  EXPECT_EQ(f->Find("tokenizer.ggml.pre")->s, "qwen2");
  EXPECT_EQ(f->Find("tokenizer.ggml.tokens")->array.size(), static_cast<size_t>(testutil::TokenizerSize()));
  EXPECT_GT(f->Find("tokenizer.ggml.merges")->array.size(), 100000u);
  EXPECT_EQ(f->Find("tokenizer.ggml.eos_token_id")->u, 151645u);  // <|im_end|>
  ASSERT_NE(f->Find("tokenizer.chat_template"), nullptr);
  const TensorInfo* k = f->FindTensor("blk.1.attn_k.weight");
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->ne, (std::vector<uint64_t>{32, 16}));  // ggml order of HF (16, 32)
  ASSERT_NE(f->FindTensor("output.weight"), nullptr);

  // The Q rows in the file are permuted: GGUF row 1 of head 0 is HF row head_dim/2 = 4.
  std::unique_ptr<ModelFolder> src;
  ASSERT_TRUE(ModelFolder::Open(tmp / "src", &src).ok());
  const TensorView* q = src->Find("model.layers.0.self_attn.q_proj.weight");
  const TensorInfo* gq = f->FindTensor("blk.0.attn_q.weight");
  EXPECT_EQ(std::memcmp(gq->data + 1 * 32 * 4, static_cast<const uint8_t*>(q->data) + 4 * 32 * 4, 32 * 4), 0);

  ImportSummary isum;
  s = ImportGguf(tmp / "m.gguf", tmp / "back", &isum);
  ASSERT_TRUE(s.ok()) << s.message();
  ExpectSameTensors(tmp / "src", tmp / "back");
  std::unique_ptr<ModelFolder> back;
  ASSERT_TRUE(ModelFolder::Open(tmp / "back", &back).ok());
  EXPECT_EQ(back->config().model_type, "llama");
  EXPECT_EQ(back->config().raw["num_key_value_heads"], 2);
  EXPECT_EQ(back->config().raw["rms_norm_eps"].get<double>(), 1e-6);
  EXPECT_FALSE(back->config().tie_word_embeddings);
}

TEST(GgufRoundTrip, Qwen2TiedF32BitExact) {
  fm::testing::TempDir tmp;
  testutil::WriteTinyGgufModel(tmp / "src", "qwen2", 32, 2, 1, 64, 2, true, 0.3f, 2);
  ExportOptions opt;
  opt.type = TensorType::kF32;
  Status s = ExportGguf(tmp / "src", tmp / "m.gguf", opt, nullptr);
  ASSERT_TRUE(s.ok()) << s.message();
  std::unique_ptr<GgufFile> f;
  ASSERT_TRUE(GgufFile::Open(tmp / "m.gguf", &f).ok());
  EXPECT_EQ(f->Find("general.architecture")->s, "qwen2");
  EXPECT_EQ(f->FindTensor("output.weight"), nullptr);  // tied: written once
  ASSERT_NE(f->FindTensor("blk.0.attn_q.bias"), nullptr);
  // NEOX rope: no permutation, the bytes are HF's.
  std::unique_ptr<ModelFolder> src;
  ASSERT_TRUE(ModelFolder::Open(tmp / "src", &src).ok());
  const TensorView* q = src->Find("model.layers.0.self_attn.q_proj.weight");
  EXPECT_EQ(std::memcmp(f->FindTensor("blk.0.attn_q.weight")->data, q->data, q->nbytes), 0);
  s = ImportGguf(tmp / "m.gguf", tmp / "back", nullptr);
  ASSERT_TRUE(s.ok()) << s.message();
  ExpectSameTensors(tmp / "src", tmp / "back");
  std::unique_ptr<ModelFolder> back;
  ASSERT_TRUE(ModelFolder::Open(tmp / "back", &back).ok());
  EXPECT_TRUE(back->config().tie_word_embeddings);
  EXPECT_EQ(back->config().model_type, "qwen2");
}

TEST(GgufExport, ErrorsBeforeWriting) {
  fm::testing::TempDir tmp;
  testutil::WriteTinyGgufModel(tmp / "src", "llama", 48, 4, 2, 40, 1, false, 0.3f, 3);
  ExportOptions opt;
  opt.type = TensorType::kQ8_0;  // hidden 48: rows of 48 values
  Status s = ExportGguf(tmp / "src", tmp / "m.gguf", opt, nullptr);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("multiple of 32"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("model."), std::string::npos) << s.message();
  EXPECT_FALSE(fs::exists(tmp / "m.gguf"));
  for (const auto& e : fs::directory_iterator(tmp.path())) EXPECT_EQ(e.path().filename(), "src");

  // Qwen-1 has no GGUF mapping here.
  nlohmann::json cfg = {{"model_type", "qwen"}, {"vocab_size", 8}, {"hidden_size", 8}, {"intermediate_size", 16},
                        {"num_hidden_layers", 1}, {"num_attention_heads", 2}};
  fm::testing::WriteJsonFile(tmp / "src/config.json", cfg);
  s = ExportGguf(tmp / "src", tmp / "m.gguf", opt, nullptr);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("'qwen'"), std::string::npos) << s.message();
  EXPECT_FALSE(fs::exists(tmp / "m.gguf"));
}

}  // namespace
}  // namespace fm::gguf
