// End to end through the finmerge binary: export-gguf -> inspect -> import-gguf, GGUF files as inputs of
// merge, chat-vector and analyze (equal to the same commands on the original folders, within the precision of
// the GGUF type), and bad input refused before anything is written.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

#include "base/dtype.h"
#include "gguf/gguf_file.h"
#include "gguf_test_util.h"
#include "io/model_folder.h"

namespace fm::gguf {
namespace {

namespace fs = std::filesystem;

// Runs the binary with $TMPDIR = `tmpdir` when given (where GGUF inputs are imported).
int RunFinmerge(const std::string& args, std::string* out, const std::string& tmpdir = "") {
  const std::string env = tmpdir.empty() ? "" : "TMPDIR='" + tmpdir + "' ";
  return fm::testing::RunCommand(env + FINMERGE_BINARY + " " + args, out);
}

testutil::TinySpec SmallSpec(uint32_t seed) {
  testutil::TinySpec s;
  s.model_type = "qwen3";
  s.hidden = 32;
  s.heads = 2;
  s.kv_heads = 1;
  s.ff = 64;
  s.layers = 1;
  s.tied = true;
  s.stdev = s.embed_stdev = 0.1f;
  s.seed = seed;
  return s;
}

std::vector<float> F32Values(const TensorView& t) {
  std::vector<float> v(t.numel());
  ToF32(t.data, t.dtype, v.data(), v.size());
  return v;
}

// Every tensor of `b` equals the one of `a` within `tol(name, max |x| of the tensor in a)`.
template <typename Tol>
void ExpectSameTensors(const std::string& a_dir, const std::string& b_dir, Tol tol) {
  std::unique_ptr<ModelFolder> a, b;
  ASSERT_TRUE(ModelFolder::Open(a_dir, &a).ok()) << a_dir;
  ASSERT_TRUE(ModelFolder::Open(b_dir, &b).ok()) << b_dir;
  ASSERT_EQ(a->tensor_names(), b->tensor_names());
  for (const std::string& n : a->tensor_names()) {
    const TensorView *x = a->Find(n), *y = b->Find(n);
    ASSERT_EQ(x->shape, y->shape) << n;
    std::vector<float> xv = F32Values(*x), yv = F32Values(*y);
    float amax = 0, diff = 0;
    for (size_t i = 0; i < xv.size(); i++) {
      amax = std::max(amax, std::fabs(xv[i]));
      diff = std::max(diff, std::fabs(xv[i] - yv[i]));
    }
    EXPECT_LE(diff, tol(n, amax)) << n;
  }
}

TEST(GgufCli, ExportInspectImportRoundTrip) {
  fm::testing::TempDir tmp;
  testutil::WriteTinyGgufModel(tmp / "src", SmallSpec(1));
  std::string out;
  ASSERT_EQ(RunFinmerge("export-gguf " + tmp / "src" + " -o " + tmp / "m.gguf" + " --type f32", &out), 0)
      << out;
  EXPECT_NE(out.find("wrote " + tmp / "m.gguf" + ": GGUF v3, architecture qwen3"), std::string::npos) << out;

  ASSERT_EQ(RunFinmerge("inspect " + tmp / "m.gguf", &out), 0) << out;
  EXPECT_NE(out.find("GGUF v3"), std::string::npos) << out;
  EXPECT_NE(out.find("Qwen3ForCausalLM"), std::string::npos) << out;
  EXPECT_NE(out.find("blk.0.attn_q_norm.weight"), std::string::npos) << out;
  EXPECT_NE(out.find("tokenizer.ggml.pre"), std::string::npos) << out;

  ASSERT_EQ(RunFinmerge("import-gguf " + tmp / "m.gguf" + " -o " + tmp / "back", &out), 0) << out;
  EXPECT_NE(out.find("tokenizer.json"), std::string::npos) << out;
  std::unique_ptr<ModelFolder> src, back;
  ASSERT_TRUE(ModelFolder::Open(tmp / "src", &src).ok());
  ASSERT_TRUE(ModelFolder::Open(tmp / "back", &back).ok());
  ASSERT_EQ(src->tensor_names(), back->tensor_names());
  for (const std::string& n : src->tensor_names()) {
    const TensorView *x = src->Find(n), *y = back->Find(n);
    ASSERT_EQ(x->dtype, y->dtype) << n;
    ASSERT_EQ(x->nbytes, y->nbytes) << n;
    EXPECT_EQ(std::memcmp(x->data, y->data, x->nbytes), 0) << n << ": the f32 round trip is not bit-exact";
  }
  // The imported folder is a complete model: inspect reads it, export writes it again, byte-identical.
  ASSERT_EQ(RunFinmerge("inspect " + tmp / "back", &out), 0) << out;
  ASSERT_EQ(RunFinmerge("export-gguf " + tmp / "back" + " -o " + tmp / "again.gguf" + " --type f32", &out), 0)
      << out;
  // Same metadata (but general.name, the folder's name) and the same tensor bytes.
  std::unique_ptr<GgufFile> g1, g2;
  ASSERT_TRUE(GgufFile::Open(tmp / "m.gguf", &g1).ok());
  ASSERT_TRUE(GgufFile::Open(tmp / "again.gguf", &g2).ok());
  ASSERT_EQ(g1->keys(), g2->keys());
  for (const std::string& k : g1->keys()) {
    if (k == "general.name") continue;
    const Value *x = g1->Find(k), *y = g2->Find(k);
    EXPECT_EQ(x->type, y->type) << k;
    EXPECT_EQ(x->ToString(), y->ToString()) << k;
    if (x->type == ValueType::kArray && x->array_type == ValueType::kString) {
      ASSERT_EQ(x->array.size(), y->array.size()) << k;
      for (size_t i = 0; i < x->array.size(); i++)
        ASSERT_EQ(x->array[i].s, y->array[i].s) << k << "[" << i << "]";
    }
    if (x->type == ValueType::kArray && x->array_type != ValueType::kString) {
      ASSERT_EQ(x->array.size(), y->array.size()) << k;
      for (size_t i = 0; i < x->array.size(); i++)
        ASSERT_EQ(x->array[i].ToString(), y->array[i].ToString()) << k;
    }
  }
  ASSERT_EQ(g1->tensors().size(), g2->tensors().size());
  for (size_t i = 0; i < g1->tensors().size(); i++) {
    const TensorInfo &x = g1->tensors()[i], &y = g2->tensors()[i];
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.ne, y.ne) << x.name;
    ASSERT_EQ(x.nbytes, y.nbytes) << x.name;
    EXPECT_EQ(std::memcmp(x.data, y.data, x.nbytes), 0) << x.name;
  }
}

// Three models (base, a, b); merge them from folders and from GGUF files of `type`.
void MergeFromGguf(const std::string& type, bool exact) {
  fm::testing::TempDir tmp;
  const std::vector<std::string> names = {"base", "a", "b"};
  for (size_t i = 0; i < names.size(); i++) {
    testutil::WriteTinyGgufModel(tmp / names[i], SmallSpec(static_cast<uint32_t>(11 + i)));
    std::string out;
    ASSERT_EQ(
        RunFinmerge("export-gguf " + tmp / names[i] + " -o " + tmp / (names[i] + ".gguf") + " --type " + type,
                    &out),
        0)
        << out;
  }
  auto recipe = [&](const std::string& ext) {
    return "merge_method: task_arithmetic\nbase_model: " + tmp / ("base" + ext) +
           "\nmodels:\n  - model: " + tmp / ("a" + ext) +
           "\n    parameters: {weight: 0.7}\n  - model: " + tmp / ("b" + ext) +
           "\n    parameters: {weight: 0.5}\ndtype: float32\n";
  };
  std::ofstream(tmp / "folders.yaml") << recipe("");
  std::ofstream(tmp / "gguf.yaml") << recipe(".gguf");
  std::string out;
  ASSERT_EQ(RunFinmerge("merge " + tmp / "folders.yaml" + " -o " + tmp / "m_folders" + " -q", &out), 0)
      << out;
  const std::string imports = tmp / "imports";
  fs::create_directories(imports);
  ASSERT_EQ(RunFinmerge("merge " + tmp / "gguf.yaml" + " -o " + tmp / "m_gguf" + " -q", &out, imports), 0)
      << out;
  EXPECT_NE(out.find("imported as the temporary Hugging Face folder"), std::string::npos) << out;
  // The model card names the GGUF files given, not the temporary folders they were imported into.
  {
    std::ifstream card_file(tmp / "m_gguf/README.md");
    const std::string card((std::istreambuf_iterator<char>(card_file)), std::istreambuf_iterator<char>());
    EXPECT_NE(card.find(tmp / "base.gguf"), std::string::npos) << card;
    EXPECT_EQ(card.find(imports), std::string::npos) << card;
  }
  // Q8_0: each input value is off by at most half a quantisation step (amax/127/2 of its block); the merge
  // base + 0.7 (a - base) + 0.5 (b - base) = -0.2 base + 0.7 a + 0.5 b adds those with weights 0.2+0.7+0.5.
  // Inputs are N(0, 0.1) and norms ~1 (norms stay F32 in GGUF), so amax of any block < 1.5.
  ExpectSameTensors(tmp / "m_folders", tmp / "m_gguf", [&](const std::string& n, float) {
    const bool one_d = n.find("norm") != std::string::npos;
    return exact ? 0.0f : one_d ? 1e-6f : 1.4f * 1.5f / 127.0f / 2.0f;
  });
  // The merged model's tokenizer (from the base, rebuilt from GGUF metadata) encodes like the original.
  std::unique_ptr<Tokenizer> t1, t2;
  ASSERT_TRUE(Tokenizer::Load(tmp / "m_folders", &t1).ok());
  Status s = Tokenizer::Load(tmp / "m_gguf", &t2);
  ASSERT_TRUE(s.ok()) << s.message();
  for (const char* text : {"Hello, world!", "<|im_start|>user\n株価<|im_end|>", "  x = 3.14159\n"}) {
    std::vector<uint32_t> a, b;
    ASSERT_TRUE(t1->Encode(text, false, &a).ok());
    ASSERT_TRUE(t2->Encode(text, false, &b).ok());
    EXPECT_EQ(a, b) << text;
  }
  if (!exact) return;
  // chat-vector and analyze take GGUF files too; chat-vector mixes a folder and GGUF files.
  ASSERT_EQ(
      RunFinmerge("chat-vector --base " + tmp / "base.gguf" + " --instruct " + tmp / "a.gguf" + " --domain " +
                      tmp / "b" + " --weight 0.5 --dtype float32 -q -o " + tmp / "cv_gguf",
                  &out, imports),
      0)
      << out;
  ASSERT_EQ(RunFinmerge("chat-vector --base " + tmp / "base" + " --instruct " + tmp / "a" + " --domain " +
                            tmp / "b" + " --weight 0.5 --dtype float32 -q -o " + tmp / "cv_folders",
                        &out),
            0)
      << out;
  ExpectSameTensors(tmp / "cv_folders", tmp / "cv_gguf", [&](const std::string& n, float) {
    const bool one_d = n.find("norm") != std::string::npos;
    return exact ? 0.0f : one_d ? 1e-6f : 1.5f * 1.5f / 127.0f / 2.0f;
  });
  std::string a1, a2;
  ASSERT_EQ(RunFinmerge("analyze --base " + tmp / "base" + " " + tmp / "a" + " " + tmp / "b" +
                            " --labels a b --json " + tmp / "folders.json",
                        &a1),
            0)
      << a1;
  ASSERT_EQ(RunFinmerge("analyze --base " + tmp / "base.gguf" + " " + tmp / "a.gguf" + " " + tmp / "b.gguf" +
                            " --labels a b --json " + tmp / "gguf.json",
                        &a2, imports),
            0)
      << a2;
  if (exact) {
    // The same statistics (sums may round differently in the last bit); labels name the files given.
    std::function<void(const nlohmann::json&, const nlohmann::json&, const std::string&)> same =
        [&](const nlohmann::json& x, const nlohmann::json& y, const std::string& at) {
          if (x.is_number() && y.is_number()) {
            EXPECT_NEAR(x.get<double>(), y.get<double>(), 1e-9 * std::max(1.0, std::fabs(x.get<double>())))
                << at;
          } else if (x.is_structured() && y.is_structured()) {
            ASSERT_EQ(x.size(), y.size()) << at;
            for (auto it = x.begin(); it != x.end(); ++it) {
              if (x.is_object())
                same(*it, y.at(it.key()), at + "." + it.key());
              else
                same(*it, y[static_cast<size_t>(it - x.begin())], at + "[]");
            }
          } else {
            EXPECT_EQ(x, y) << at;
          }
        };
    auto load = [](const std::string& path) {
      nlohmann::json j = nlohmann::json::parse(std::ifstream(path));
      j.erase("base");
      j.erase("models");
      return j;
    };
    same(load(tmp / "folders.json"), load(tmp / "gguf.json"), "analysis");
  }
  // No temporary folder is left behind.
  EXPECT_TRUE(fs::is_empty(imports));
}

TEST(GgufCli, MergeOfGgufF32EqualsMergeOfFolders) {
  MergeFromGguf("f32", true);
}
TEST(GgufCli, MergeOfGgufQ8_0WithinQuantisation) {
  MergeFromGguf("q8_0", false);
}

TEST(GgufCli, BadInputRefusedBeforeWriting) {
  fm::testing::TempDir tmp;
  std::string out;
  // A tensor whose rows do not fit the Q8_0 block (hidden 48).
  testutil::TinySpec s = SmallSpec(3);
  s.hidden = 48;
  s.heads = 2;
  testutil::WriteTinyGgufModel(tmp / "odd", s);
  EXPECT_NE(RunFinmerge("export-gguf " + tmp / "odd" + " -o " + tmp / "odd.gguf" + " --type q8_0", &out), 0);
  EXPECT_NE(out.find("not a multiple of 32 as Q8_0 needs"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(tmp / "odd.gguf"));
  // The same model is fine as f16.
  EXPECT_EQ(RunFinmerge("export-gguf " + tmp / "odd" + " -o " + tmp / "odd.gguf" + " --type f16", &out), 0)
      << out;
  // Not a GGUF file.
  std::ofstream(tmp / "junk.gguf") << "not a gguf file at all";
  EXPECT_NE(RunFinmerge("inspect " + tmp / "junk.gguf", &out), 0);
  EXPECT_NE(out.find("junk.gguf"), std::string::npos) << out;
  EXPECT_NE(RunFinmerge("import-gguf " + tmp / "junk.gguf" + " -o " + tmp / "junk", &out), 0);
  EXPECT_FALSE(fs::exists(tmp / "junk"));
  for (const auto& e : fs::directory_iterator(tmp.path())) {
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
  }
}


// Evaluation and generation read GGUF files too: an f32 export gives the same perplexity and the same greedy
// text as the folder it came from.
TEST(GgufCli, EvalAndGenerateReadGguf) {
  fm::testing::TempDir tmp;
  testutil::WriteTinyGgufModel(tmp / "src", SmallSpec(4));
  std::string out;
  ASSERT_EQ(RunFinmerge("export-gguf " + tmp / "src" + " -o " + tmp / "m.gguf" + " --type f32", &out), 0) << out;
  std::ofstream(tmp / "text.txt") << "The Committee decided to keep the target range unchanged.\n";
  std::string folder_out, gguf_out;
  ASSERT_EQ(RunFinmerge("eval --model " + tmp / "src" + " --ppl " + tmp / "text.txt" + " --precision fp32 --json " +
                            tmp / "a.json",
                        &folder_out, tmp.path()),
            0)
      << folder_out;
  ASSERT_EQ(RunFinmerge("eval --model " + tmp / "m.gguf" + " --ppl " + tmp / "text.txt" + " --precision fp32 --json " +
                            tmp / "b.json",
                        &gguf_out, tmp.path()),
            0)
      << gguf_out;
  const nlohmann::json a = nlohmann::json::parse(std::ifstream(tmp / "a.json"));
  const nlohmann::json b = nlohmann::json::parse(std::ifstream(tmp / "b.json"));
  ASSERT_FALSE(a["models"].empty()) << a.dump();
  const auto& ma = a["models"].begin().value();
  const auto& mb = b["models"].begin().value();
  ASSERT_TRUE(ma.contains("ppl/text")) << a.dump();
  EXPECT_DOUBLE_EQ(ma["ppl/text"].get<double>(), mb["ppl/text"].get<double>());

  ASSERT_EQ(RunFinmerge("generate --model " + tmp / "src" + " --prompt 'The rate' --max-new-tokens 8 --precision fp32",
                        &folder_out, tmp.path()),
            0)
      << folder_out;
  ASSERT_EQ(RunFinmerge("generate --model " + tmp / "m.gguf" + " --prompt 'The rate' --max-new-tokens 8 --precision fp32",
                        &gguf_out, tmp.path()),
            0)
      << gguf_out;
  // stdout carries the text; stderr lines (timings, the import note) differ, so compare the generated text.
  std::string fa, fb;
  ASSERT_EQ(fm::testing::RunCommand("(" + std::string(FINMERGE_BINARY) + " generate --model " + tmp / "src" +
                                        " --prompt 'The rate' --max-new-tokens 8 --precision fp32 2>/dev/null)",
                                    &fa),
            0);
  ASSERT_EQ(fm::testing::RunCommand("(TMPDIR=" + tmp.path() + " " + FINMERGE_BINARY + " generate --model " +
                                        tmp / "m.gguf" + " --prompt 'The rate' --max-new-tokens 8 --precision fp32 2>/dev/null)",
                                    &fb),
            0);
  EXPECT_EQ(fa, fb);
  EXPECT_FALSE(fa.empty());
}

// What the GGUF cannot carry is said: a Mistral sliding window (llama.cpp's llama architecture attends to every
// earlier token) gives a note on export; a model without one exports silently.
TEST(GgufCli, SlidingWindowNotedOnExport) {
  fm::testing::TempDir tmp;
  testutil::TinySpec spec = SmallSpec(5);
  spec.model_type = "mistral";
  spec.tied = false;
  testutil::WriteTinyGgufModel(tmp / "m", spec);
  std::string out;
  ASSERT_EQ(RunFinmerge("export-gguf " + (tmp / "m") + " -o " + (tmp / "a.gguf") + " --type f32", &out), 0) << out;
  EXPECT_EQ(out.find("note:"), std::string::npos) << out;
  nlohmann::json cfg = nlohmann::json::parse(std::ifstream(tmp / "m/config.json"));
  cfg["sliding_window"] = 64;
  fm::testing::WriteJsonFile(tmp / "m/config.json", cfg);
  ASSERT_EQ(RunFinmerge("export-gguf " + (tmp / "m") + " -o " + (tmp / "b.gguf") + " --type f32", &out), 0) << out;
  EXPECT_NE(out.find("note: sliding_window 64 is not stored"), std::string::npos) << out;
}

}  // namespace
}  // namespace fm::gguf
