// finmerge's model against an independent PyTorch implementation (tests/model/torch_reference.py, float64):
// logits, loss and every parameter gradient of a tiny random model of each architecture, in f32 and bf16.
//
// Tolerances (relative to the largest magnitude of the reference tensor, i.e. max|ours - ref| / max|ref|):
//   f32:  logits 1e-5, loss 1e-5, every gradient tensor 1e-4 (measured: <= 6e-7, 1e-7, 1.2e-6).
//   bf16: logits 2e-2, loss 5e-3, every gradient tensor 4e-2 (measured: <= 6e-3, 6e-4, 1.3e-2; bf16 keeps 8
//         mantissa bits, ~4e-3 relative per rounding).
// The test fails when python3 with torch is missing (install it with scripts/install-deps.sh).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "io/model_folder.h"
#include "io/safetensors_reader.h"
#include "model/model.h"
#include "model/tiny_models.h"
#include "testing/tiny_checkpoint.h"

namespace fm {
namespace {

struct Tolerance {
  double logits, loss, grad;
};
constexpr Tolerance kF32Tol = {1e-5, 1e-5, 1e-4};
constexpr Tolerance kBf16Tol = {2e-2, 5e-3, 4e-2};

// Runs `cmd`, returns its exit status and output.
int RunCommand(const std::string& cmd, std::string* output) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) output->append(buf, n);
  return pclose(p);
}

double MaxRelDiff(const float* ours, const float* ref, size_t n) {
  double diff = 0, scale = 0;
  for (size_t i = 0; i < n; i++) {
    diff = std::max(diff, std::fabs(static_cast<double>(ours[i]) - ref[i]));
    scale = std::max(scale, std::fabs(static_cast<double>(ref[i])));
  }
  return scale > 0 ? diff / scale : diff;
}

class ModelVsTorch : public ::testing::TestWithParam<size_t> {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    std::vector<testing::TinyCase> cases = testing::TinyCases();
    std::string case_dirs;
    for (size_t i = 0; i < cases.size(); i++) {
      std::string dir = *dir_ / cases[i].name;
      std::filesystem::create_directories(dir + "/model");
      std::unique_ptr<Model> m;
      Status s = Model::Random(cases[i].cfg, 1000 + i, &m);
      if (s.ok()) {
        testing::PerturbForTest(m.get(), 2000 + i);
        s = m->SaveWeights(dir + "/model");
      }
      if (!s.ok()) {
        error_ = cases[i].name + ": " + s.ToString();
        return;
      }
      std::vector<uint32_t> inputs, targets;
      testing::TinyTokens(cases[i].B, cases[i].T, cases[i].cfg.vocab_size, 3000 + i, &inputs, &targets);
      std::ofstream f(dir + "/tokens.bin", std::ios::binary);
      const uint32_t bt[2] = {static_cast<uint32_t>(cases[i].B), static_cast<uint32_t>(cases[i].T)};
      f.write(reinterpret_cast<const char*>(bt), sizeof bt);
      f.write(reinterpret_cast<const char*>(inputs.data()), inputs.size() * 4);
      f.write(reinterpret_cast<const char*>(targets.data()), targets.size() * 4);
      case_dirs += " '" + dir + "'";
    }
    const std::string py = testing::TorchPython();
    if (py.empty()) {
      error_ =
          "no python3 with torch and numpy found (run: bash scripts/install-deps.sh, or set FINMERGE_PYTHON)";
      return;
    }
    std::string out;
    const std::string script = std::string(FINMERGE_SOURCE_DIR) + "/tests/model/torch_reference.py";
    if (RunCommand(py + " '" + script + "'" + case_dirs, &out) != 0)
      error_ = "torch_reference.py failed:\n" + out;
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  void Compare(Precision precision, const Tolerance& tol) {
    ASSERT_TRUE(error_.empty()) << error_;
    const testing::TinyCase c = testing::TinyCases()[GetParam()];
    const std::string dir = *dir_ / c.name;
    std::unique_ptr<ModelFolder> folder;
    ASSERT_TRUE(ModelFolder::Open(dir + "/model", &folder).ok());
    std::unique_ptr<Model> m;
    Status s = Model::FromFolder(*folder, &m);
    ASSERT_TRUE(s.ok()) << s.ToString();
    m->set_precision(precision);
    std::unique_ptr<SafetensorsFile> ref;
    s = SafetensorsFile::Open(dir + "/reference.safetensors", &ref);
    ASSERT_TRUE(s.ok()) << s.ToString();
    auto ref_tensor = [&](const std::string& name, size_t numel) {
      const TensorView* v = ref->Find(name);
      EXPECT_NE(v, nullptr) << "reference lacks " << name;
      std::vector<float> out(numel, 0.0f);
      if (v && static_cast<size_t>(v->numel()) == numel) ToF32(v->data, v->dtype, out.data(), numel);
      EXPECT_TRUE(v && static_cast<size_t>(v->numel()) == numel) << name << ": size mismatch";
      return out;
    };

    const int kB = c.B, kT = c.T;
    std::vector<uint32_t> inputs, targets;
    testing::TinyTokens(kB, kT, c.cfg.vocab_size, 3000 + GetParam(), &inputs, &targets);
    const size_t V = c.cfg.vocab_size;
    std::vector<float> logits(kB * kT * V);
    m->ForwardLogits(inputs.data(), kB, kT, logits.data());
    const double logits_err =
        MaxRelDiff(logits.data(), ref_tensor("logits", logits.size()).data(), logits.size());
    EXPECT_LT(logits_err, tol.logits) << "logits";

    m->ZeroGrad();
    const float loss = m->ForwardBackward(inputs.data(), targets.data(), kB, kT, 1.0f);
    const float ref_loss = ref_tensor("loss", 1)[0];
    const double loss_err = std::fabs(loss - ref_loss) / std::fabs(ref_loss);
    EXPECT_LT(loss_err, tol.loss) << "loss " << loss << " vs torch " << ref_loss;
    EXPECT_NEAR(m->ForwardLoss(inputs.data(), targets.data(), kB, kT), loss, 1e-6 * std::fabs(loss));

    double worst = 0;
    std::string worst_name;
    for (const ParamTensor& t : m->param_tensors()) {
      std::vector<float> g = ref_tensor("grad." + t.name, t.numel);
      double err = MaxRelDiff(m->grads() + t.offset, g.data(), t.numel);
      EXPECT_LT(err, tol.grad) << "gradient of " << t.name;
      if (err >= worst) worst = err, worst_name = t.name;
    }
    std::printf("[ %-26s %s ] rel err: logits %.2e  loss %.2e  worst gradient %.2e (%s)\n", c.name.c_str(),
                precision == Precision::kF32 ? "f32 " : "bf16", logits_err, loss_err, worst,
                worst_name.c_str());
  }

  static testing::TempDir* dir_;
  static std::string error_;
};

testing::TempDir* ModelVsTorch::dir_ = nullptr;
std::string ModelVsTorch::error_;

TEST_P(ModelVsTorch, F32MatchesTorch) {
  Compare(Precision::kF32, kF32Tol);
}
TEST_P(ModelVsTorch, Bf16MatchesTorchLoosely) {
  Compare(Precision::kBF16, kBf16Tol);
}

INSTANTIATE_TEST_SUITE_P(AllArchitectures, ModelVsTorch,
                         ::testing::Range<size_t>(0, testing::TinyCases().size()),
                         [](const ::testing::TestParamInfo<size_t>& info) {
                           return testing::TinyCases()[info.param].name;
                         });

}  // namespace
}  // namespace fm
