// AdamW (Loshchilov & Hutter; the update of torch.optim.AdamW) over a model's single f32 parameter
// allocation. The two moments are one allocation each, laid out exactly like the parameters, so a
// ParamTensor's offset addresses its moments too. Weight decay is decoupled and skipped for tensors with
// ParamTensor::decay == false (norms, biases).
//
// Deterministic: elementwise, so the result does not depend on the thread count.
#pragma once

#include <cstdint>
#include <vector>

#include "model/model.h"

namespace fm {

struct AdamWOptions {
  float beta1 = 0.9f;
  float beta2 = 0.95f;
  float eps = 1e-8f;
  float weight_decay = 0.1f;
};

class AdamW {
 public:
  // `tensors` partition the n parameters (elements outside every tensor are never touched).
  AdamW(const std::vector<ParamTensor>& tensors, size_t n, const AdamWOptions& opt);

  // One update with rate `lr`; gradients are used multiplied by `grad_scale` (the clipping factor):
  //   t += 1;  g = grad_scale * grad
  //   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
  //   p -= lr * ( (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps) + wd * p )      (wd = 0 if !decay)
  void Step(float* params, const float* grads, float lr, float grad_scale = 1.0f);

  int64_t step_count() const { return t_; }
  size_t size() const { return m_.size(); }
  const AdamWOptions& options() const { return opt_; }
  // The moments, (n) each; for saving and restoring trainer state.
  float* m() { return m_.data(); }
  float* v() { return v_.data(); }
  const float* m() const { return m_.data(); }
  const float* v() const { return v_.data(); }
  void set_step_count(int64_t t) { t_ = t; }

 private:
  struct Segment {
    size_t offset, numel;
    bool decay;
  };
  AdamWOptions opt_;
  std::vector<Segment> segments_;
  std::vector<float> m_;  // (n) first moment
  std::vector<float> v_;  // (n) second moment
  int64_t t_ = 0;
};

}  // namespace fm
