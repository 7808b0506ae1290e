#include "train/adamw.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>

#include "testing/tiny_checkpoint.h"

namespace fm {
namespace {

// Two tensors: "w" (decayed, 3 elements) then "norm" (not decayed, 2 elements).
std::vector<ParamTensor> TwoTensors() {
  ParamTensor w{.name = "w", .shape = {3}, .offset = 0, .numel = 3, .decay = true};
  ParamTensor n{.name = "norm", .shape = {2}, .offset = 3, .numel = 2, .decay = false};
  return {w, n};
}

TEST(AdamW, TwoStepsMatchHandComputedValues) {
  AdamW opt(TwoTensors(), 5, {.beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f});
  std::vector<float> p = {1.0f, 1.0f, 1.0f, 1.0f, 1.0f};
  // Step 1: m_hat = g and v_hat = g^2, so the update is lr * (sign(g) + wd * p).
  std::vector<float> g = {0.5f, 0.5f, 0.5f, 0.5f, 0.5f};
  opt.Step(p.data(), g.data(), 0.1f);
  EXPECT_NEAR(p[0], 0.89f, 1e-6);  // 1 - 0.1 * (1 + 0.1 * 1)
  EXPECT_NEAR(p[3], 0.90f, 1e-6);  // no decay on "norm"
  // Step 2 with g = -0.25: m = 0.02, v = 0.015, bias corrections 0.19 and 0.0975:
  //   ratio = (0.02 / 0.19) / sqrt(0.015 / 0.0975) = 0.2683707...
  std::fill(g.begin(), g.end(), -0.25f);
  opt.Step(p.data(), g.data(), 0.1f);
  EXPECT_NEAR(p[0], 0.89 - 0.1 * (0.26837071 + 0.1 * 0.89), 1e-6);
  EXPECT_NEAR(p[3], 0.90 - 0.1 * 0.26837071, 1e-6);
  EXPECT_NEAR(opt.m()[0], 0.02f, 1e-7);
  EXPECT_NEAR(opt.v()[0], 0.015f, 1e-7);
  EXPECT_EQ(opt.step_count(), 2);
}

TEST(AdamW, GradScaleEqualsPrescaledGradients) {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd;
  std::vector<float> p1(5), g(5);
  for (auto& x : p1) x = nd(rng);
  for (auto& x : g) x = nd(rng);
  std::vector<float> p2 = p1, gs = g;
  for (auto& x : gs) x *= 0.25f;
  AdamW a(TwoTensors(), 5, {}), b(TwoTensors(), 5, {});
  a.Step(p1.data(), g.data(), 1e-2f, 0.25f);
  b.Step(p2.data(), gs.data(), 1e-2f, 1.0f);
  for (int i = 0; i < 5; i++) EXPECT_EQ(p1[i], p2[i]) << i;
}

// Three steps of torch.optim.AdamW (two param groups: decay on / off) against ours, on random values.
TEST(AdamW, MatchesTorchAdamW) {
  const std::string py = testing::TorchPython();
  if (py.empty()) GTEST_SKIP() << "python3 with torch not found (apt-get install python3-torch)";
  const int n1 = 37, n2 = 11, steps = 3;
  std::mt19937 rng(3);
  std::normal_distribution<float> nd;
  std::vector<float> p(n1 + n2);
  for (auto& x : p) x = nd(rng);
  std::vector<std::vector<float>> grads(steps, std::vector<float>(n1 + n2));
  for (auto& gs : grads)
    for (auto& x : gs) x = nd(rng) * 0.1f;
  const float lrs[steps] = {1e-2f, 5e-3f, 2e-3f};

  testing::TempDir tmp;
  {
    std::ofstream f(tmp / "in.txt");
    f.precision(9);
    for (float x : p) f << x << " ";
    f << "\n";
    for (auto& gs : grads) {
      for (float x : gs) f << x << " ";
      f << "\n";
    }
  }
  std::ofstream(tmp / "adamw.py") << R"(import sys, torch
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
n1, lrs = int(sys.argv[2]), [float(x) for x in sys.argv[3].split(',')]
p = torch.tensor(rows[0], dtype=torch.float32)
a = torch.nn.Parameter(p[:n1].clone()); b = torch.nn.Parameter(p[n1:].clone())
opt = torch.optim.AdamW([{'params': [a], 'weight_decay': 0.1}, {'params': [b], 'weight_decay': 0.0}],
                        lr=1.0, betas=(0.9, 0.95), eps=1e-8)
for s, g in enumerate(rows[1:]):
    g = torch.tensor(g, dtype=torch.float32)
    for grp in opt.param_groups: grp['lr'] = lrs[s]
    a.grad = g[:n1].clone(); b.grad = g[n1:].clone()
    opt.step()
print(' '.join('%.9g' % x for x in torch.cat([a.detach(), b.detach()]).tolist()))
)";
  std::string out;
  char lr_arg[64];
  std::snprintf(lr_arg, sizeof(lr_arg), "%.9g,%.9g,%.9g", lrs[0], lrs[1], lrs[2]);
  ASSERT_EQ(testing::RunCommand(py + " " + (tmp / "adamw.py") + " " + (tmp / "in.txt") + " " +
                                    std::to_string(n1) + " " + lr_arg,
                                &out),
            0)
      << out;
  std::istringstream ss(out);
  std::vector<double> want;
  for (double x; ss >> x;) want.push_back(x);
  ASSERT_EQ(want.size(), p.size()) << out;

  ParamTensor t1{.name = "a", .shape = {n1}, .offset = 0, .numel = n1, .decay = true};
  ParamTensor t2{.name = "b", .shape = {n2}, .offset = n1, .numel = n2, .decay = false};
  AdamW opt({t1, t2}, p.size(), {.beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f});
  for (int s = 0; s < steps; s++) opt.Step(p.data(), grads[s].data(), lrs[s]);
  // Tolerance: float32 on both sides, different operation order; updates are ~1e-2.
  for (size_t i = 0; i < p.size(); i++) EXPECT_NEAR(p[i], want[i], 2e-6 * (1 + std::fabs(want[i]))) << i;
}

}  // namespace
}  // namespace fm
