// End-to-end merges of tiny bf16 checkpoints checked against an independent numpy implementation
// (tests/merge/numpy_reference.py, run with Debian's python3-numpy).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "io/model_folder.h"
#include "merge/merge_config.h"
#include "merge/merge_runner.h"
#include "testing/tiny_checkpoint.h"

namespace fm {
namespace {

using testing::TempDir;

const char* kPython = "/usr/bin/python3";

class MergeNumpyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string out;
    ASSERT_EQ(testing::RunCommand(std::string(kPython) + " -c 'import numpy'", &out), 0)
        << "python3-numpy is required (scripts/install-deps.sh installs it): " << out;
    shape_.layers = 3;
    for (int i = 0; i < 4; i++) {
      std::string p = dir_ / ("m" + std::to_string(i));
      testing::WriteTinyModel(p, testing::TinyLlamaTensors(shape_, 100 + i), shape_, DType::kBF16, "m" + std::to_string(i));
      paths_.push_back(p);
    }
  }

  // Runs `yaml` through finmerge and `spec` through numpy; compares every tensor.
  void Check(const std::string& yaml, const std::string& spec_json, double tol = 2e-6) {
    std::string cfg_path = dir_ / "cfg.yaml";
    std::ofstream(cfg_path) << yaml;
    MergeConfig cfg;
    Status s = LoadMergeConfig(cfg_path, &cfg);
    ASSERT_TRUE(s.ok()) << s.message();
    cfg.out_dtype = DType::kF32;
    MergeOptions opts;
    opts.quiet = true;
    std::string out = dir_ / "out";
    s = RunMerge(cfg, out, opts, nullptr);
    ASSERT_TRUE(s.ok()) << s.message();
    std::ofstream(dir_ / "spec.json") << spec_json;
    std::string log;
    ASSERT_EQ(testing::RunCommand(std::string(kPython) + " " + FINMERGE_SOURCE_DIR "/tests/merge/numpy_reference.py " +
                                      (dir_ / "spec.json") + " " + (dir_ / "ref.npz"),
                                  &log),
              0)
        << log;
    std::unique_ptr<ModelFolder> m;
    ASSERT_TRUE(ModelFolder::Open(out, &m).ok());
    std::ifstream ref(dir_ / "ref.npz.txt");
    std::string name;
    size_t count, checked = 0;
    while (ref >> name >> count) {
      const TensorView* v = m->Find(name);
      ASSERT_NE(v, nullptr) << name;
      ASSERT_EQ(static_cast<size_t>(v->numel()), count) << name;
      std::vector<float> got(count);
      ToF32(v->data, v->dtype, got.data(), count);
      double max_err = 0, max_abs = 0;
      for (size_t i = 0; i < count; i++) {
        double want;
        ref >> want;
        max_err = std::max(max_err, std::fabs(got[i] - want));
        max_abs = std::max(max_abs, std::fabs(want));
      }
      EXPECT_LE(max_err, tol * std::max(1.0, max_abs)) << name;
      checked++;
    }
    EXPECT_EQ(checked, m->tensor_names().size());
  }

  std::string Spec(const std::string& method, const std::string& models_json, const std::string& params_json,
                   bool base = true) {
    return "{\"method\": \"" + method + "\", \"base\": " + (base ? "\"" + paths_[0] + "\"" : "null") +
           ", \"models\": " + models_json + ", \"params\": " + params_json + ", \"num_layers\": 3}";
  }

  TempDir dir_;
  testing::TinyModelShape shape_;
  std::vector<std::string> paths_;
};

TEST_F(MergeNumpyTest, TaskArithmeticWithLambda) {
  Check("merge_method: task_arithmetic\nbase_model: " + paths_[0] + "\nmodels:\n  - model: " + paths_[1] +
            "\n    parameters: {weight: 1.0}\n  - model: " + paths_[2] + "\n    parameters: {weight: 0.7}\nparameters: {lambda: 0.9}\n",
        Spec("task_arithmetic",
             "[{\"path\": \"" + paths_[1] + "\", \"params\": {\"weight\": 1.0}}, {\"path\": \"" + paths_[2] +
                 "\", \"params\": {\"weight\": 0.7}}]",
             "{\"lambda\": 0.9}"));
}

TEST_F(MergeNumpyTest, TiesWithDensityGradientAndFilters) {
  Check("merge_method: ties\nbase_model: " + paths_[0] + "\nmodels:\n  - model: " + paths_[0] + "\n  - model: " + paths_[1] +
            "\n    parameters:\n      weight: [0.2, 1.0]\n      density: 0.5\n  - model: " + paths_[2] +
            "\n    parameters:\n      weight:\n        - filter: self_attn\n          value: 0.3\n        - value: 0.8\n"
            "      density: [1.0, 0.3, 0.6]\n  - model: " + paths_[3] + "\n    parameters: {weight: 0.5, density: 0.7}\n",
        Spec("ties",
             "[{\"path\": \"" + paths_[1] + "\", \"params\": {\"weight\": [0.2, 1.0], \"density\": 0.5}}, {\"path\": \"" +
                 paths_[2] + "\", \"params\": {\"weight\": [{\"filter\": \"self_attn\", \"value\": 0.3}, {\"value\": 0.8}], \"density\": [1.0, 0.3, 0.6]}}, " +
                 "{\"path\": \"" + paths_[3] + "\", \"params\": {\"weight\": 0.5, \"density\": 0.7}}]",
             "{}"));
}

TEST_F(MergeNumpyTest, LinearNormalized) {
  Check("merge_method: linear\nmodels:\n  - model: " + paths_[1] + "\n    parameters: {weight: 2}\n  - model: " + paths_[2] +
            "\n    parameters: {weight: 1}\n  - model: " + paths_[3] + "\n    parameters: {weight: 1}\n",
        Spec("linear",
             "[{\"path\": \"" + paths_[1] + "\", \"params\": {\"weight\": 2}}, {\"path\": \"" + paths_[2] +
                 "\", \"params\": {\"weight\": 1}}, {\"path\": \"" + paths_[3] + "\", \"params\": {\"weight\": 1}}]",
             "{}", false));
}

TEST_F(MergeNumpyTest, BreadcrumbsTiesWithGlobalWeight) {
  Check("merge_method: breadcrumbs_ties\nbase_model: " + paths_[0] + "\nmodels:\n  - model: " + paths_[1] +
            "\n    parameters: {density: 0.6, gamma: 0.05}\n  - model: " + paths_[2] +
            "\n    parameters: {density: 0.8, gamma: 0.1}\nparameters: {weight: 0.5, normalize: true}\n",
        Spec("breadcrumbs_ties",
             "[{\"path\": \"" + paths_[1] + "\", \"params\": {\"density\": 0.6, \"gamma\": 0.05}}, {\"path\": \"" + paths_[2] +
                 "\", \"params\": {\"density\": 0.8, \"gamma\": 0.1}}]",
             "{\"weight\": 0.5, \"normalize\": 1}"));
}

TEST_F(MergeNumpyTest, SlerpWithGradient) {
  Check("merge_method: slerp\nbase_model: " + paths_[0] + "\nmodels:\n  - model: " + paths_[0] + "\n  - model: " + paths_[1] +
            "\nparameters:\n  t:\n    - filter: mlp\n      value: [0, 0.5, 1]\n    - value: 0.3\n",
        Spec("slerp", "[{\"path\": \"" + paths_[1] + "\"}]",
             "{\"t\": [{\"filter\": \"mlp\", \"value\": [0, 0.5, 1]}, {\"value\": 0.3}]}"),
        1e-5);
}

TEST_F(MergeNumpyTest, ModelStock) {
  Check("merge_method: model_stock\nbase_model: " + paths_[0] + "\nmodels:\n  - model: " + paths_[1] + "\n  - model: " +
            paths_[2] + "\n  - model: " + paths_[3] + "\n",
        Spec("model_stock",
             "[{\"path\": \"" + paths_[1] + "\"}, {\"path\": \"" + paths_[2] + "\"}, {\"path\": \"" + paths_[3] + "\"}]", "{}"),
        1e-5);
}

TEST_F(MergeNumpyTest, DareLinearAtFullDensityEqualsTaskArithmetic) {
  Check("merge_method: dare_linear\nbase_model: " + paths_[0] + "\nmodels:\n  - model: " + paths_[1] +
            "\n    parameters: {weight: 0.6, density: 1.0}\n",
        Spec("dare_linear", "[{\"path\": \"" + paths_[1] + "\", \"params\": {\"weight\": 0.6}}]", "{}"));
}

}  // namespace
}  // namespace fm
