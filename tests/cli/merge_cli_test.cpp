// The merge, chat-vector, inspect and analyze commands run end to end as a user runs them.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io/model_folder.h"
#include "testing/tiny_checkpoint.h"

namespace fm {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

class MergeCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* n : {"base", "instruct", "cpt"}) {
      testing::WriteTinyModel(dir_ / n, testing::TinyLlamaTensors(shape_, n[0]), shape_, DType::kBF16, n);
    }
  }
  int Run(const std::string& args, std::string* out) {
    return testing::RunCommand(std::string(FINMERGE_BINARY) + " " + args, out);
  }
  bool LeftoverTemp() {
    for (const auto& e : fs::directory_iterator(dir_.path())) {
      if (e.path().filename().string().find(".tmp-") != std::string::npos) return true;
    }
    return false;
  }
  TempDir dir_;
  testing::TinyModelShape shape_;
};

TEST_F(MergeCliTest, ChatVectorWritesAModelAndSummary) {
  std::string out;
  ASSERT_EQ(Run("chat-vector --base " + (dir_ / "base") + " --instruct " + (dir_ / "instruct") + " --domain " +
                    (dir_ / "cpt") + " --weight 0.8 -o " + (dir_ / "merged") + " --max-shard-size 1KB",
                &out),
            0)
      << out;
  EXPECT_NE(out.find("merged 21 tensors"), std::string::npos) << out;
  std::unique_ptr<ModelFolder> m;
  ASSERT_TRUE(ModelFolder::Open(dir_ / "merged", &m).ok());
  EXPECT_EQ(m->chat_template(), "{{ 'instruct' }}");
  std::ifstream recipe(dir_ / "merged/finmerge_config.yaml");
  std::string text((std::istreambuf_iterator<char>(recipe)), {});
  EXPECT_NE(text.find("weight: 0.8"), std::string::npos) << text;
  // The recipe is a mergekit config finmerge merge accepts, and it reproduces the model.
  ASSERT_EQ(Run("merge " + (dir_ / "merged/finmerge_config.yaml") + " -o " + (dir_ / "again") + " -q", &out), 0) << out;
  std::unique_ptr<ModelFolder> again;
  ASSERT_TRUE(ModelFolder::Open(dir_ / "again", &again).ok());
  for (const std::string& n : m->tensor_names()) {
    ASSERT_EQ(std::memcmp(m->Find(n)->data, again->Find(n)->data, m->Find(n)->nbytes), 0) << n;
  }
  // --chat-template overrides the instruct model's.
  ASSERT_EQ(Run("chat-vector --base " + (dir_ / "base") + " --instruct " + (dir_ / "instruct") + " --domain " +
                    (dir_ / "cpt") + " --chat-template alpaca-ja -o " + (dir_ / "ja") + " -q",
                &out),
            0)
      << out;
  std::unique_ptr<ModelFolder> ja;
  ASSERT_TRUE(ModelFolder::Open(dir_ / "ja", &ja).ok());
  EXPECT_NE(ja->chat_template().find("### 応答:"), std::string::npos);
}

TEST_F(MergeCliTest, BadInputsGiveOneLineErrorsAndNoOutput) {
  std::string out;
  std::ofstream(dir_ / "bad.yaml") << "merge_method: ties\nbase_model: " << (dir_ / "base") << "\nmodels:\n  - model: "
                                   << (dir_ / "cpt") << "\n    parameters: {wieght: 1}\n";
  EXPECT_NE(Run("merge " + (dir_ / "bad.yaml") + " -o " + (dir_ / "o"), &out), 0);
  EXPECT_NE(out.find("unknown parameter 'wieght'"), std::string::npos) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  EXPECT_FALSE(fs::exists(dir_ / "o"));
  // A truncated shard: named in the error, nothing written.
  fs::copy(dir_ / "cpt", dir_ / "broken", fs::copy_options::recursive);
  fs::resize_file(dir_ / "broken/model.safetensors", 100);
  EXPECT_NE(Run("chat-vector --base " + (dir_ / "base") + " --instruct " + (dir_ / "instruct") + " --domain " +
                    (dir_ / "broken") + " -o " + (dir_ / "o"),
                &out),
            0);
  EXPECT_NE(out.find("broken/model.safetensors"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(dir_ / "o"));
  EXPECT_FALSE(LeftoverTemp());
  EXPECT_NE(Run("chat-vector --base " + (dir_ / "base") + " --instruct " + (dir_ / "instruct") + " --domain " +
                    (dir_ / "cpt") + " -o " + (dir_ / "no/such/dir/out"),
                &out),
            0);
  EXPECT_NE(out.find("parent folder"), std::string::npos) << out;
  EXPECT_NE(Run("inspect " + (dir_ / "nothing"), &out), 0);
  EXPECT_NE(out.find("no such model"), std::string::npos) << out;
}

// Argument errors read like every other error: one "finmerge: error:" line naming the command's help, exit 2.
TEST_F(MergeCliTest, ArgumentErrorsAreOneLineWithExitCode2) {
  std::string out;
  EXPECT_EQ(Run("merge", &out), 2);
  EXPECT_EQ(out, "finmerge: error: config is required (see 'finmerge merge --help')\n");
  EXPECT_EQ(Run("chat-vector --base " + (dir_ / "base") + " --weight notanumber", &out), 2);
  EXPECT_EQ(out.rfind("finmerge: error: ", 0), 0u) << out;
  EXPECT_NE(out.find("finmerge chat-vector --help"), std::string::npos) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  EXPECT_EQ(Run("", &out), 2);
  EXPECT_EQ(out.rfind("finmerge: error: ", 0), 0u) << out;
  EXPECT_EQ(Run("merge --help", &out), 0);
  EXPECT_NE(out.find("Usage:"), std::string::npos) << out;
}

TEST_F(MergeCliTest, InspectAndAnalyze) {
  std::string out;
  ASSERT_EQ(Run("inspect " + (dir_ / "base"), &out), 0) << out;
  EXPECT_NE(out.find("LlamaForCausalLM"), std::string::npos);
  EXPECT_NE(out.find("model.layers.1.mlp.down_proj.weight"), std::string::npos);
  EXPECT_NE(out.find("BF16"), std::string::npos);
  ASSERT_EQ(Run("analyze --base " + (dir_ / "base") + " " + (dir_ / "instruct") + " " + (dir_ / "cpt") +
                    " --labels instruct cpt --json " + (dir_ / "a.json"),
                &out),
            0)
      << out;
  EXPECT_NE(out.find("by module type"), std::string::npos) << out;
  nlohmann::json j = nlohmann::json::parse(std::ifstream(dir_ / "a.json"));
  EXPECT_EQ(j["pairs"][0]["a"], "instruct");
  EXPECT_LE(std::fabs(j["pairs"][0]["cosine"].get<double>()), 1.0);
}

}  // namespace
}  // namespace fm
