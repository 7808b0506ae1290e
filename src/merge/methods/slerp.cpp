// slerp: spherical linear interpolation between the base model (t = 0) and one other model (t = 1), per tensor.
// Directions are taken from the normalised tensors, the result combines the original (unnormalised) tensors:
//   theta = acos(<a/|a|, b/|b|>), out = sin((1-t) theta)/sin(theta) * a + sin(t theta)/sin(theta) * b
// Nearly colinear tensors (|cos| > 0.9995) or a zero tensor fall back to linear interpolation (as mergekit).
#include <cmath>

#include "merge/merge_method.h"

namespace fm {

namespace {

class SlerpMethod : public MergeMethod {
 public:
  std::string name() const override { return "slerp"; }
  std::string description() const override { return "spherical interpolation between base (t=0) and one model (t=1)"; }
  bool requires_base() const override { return true; }
  int min_models() const override { return 1; }
  int max_models() const override { return 1; }
  std::vector<ParamDef> global_params() const override {
    return {{"t", ParamDef::Type::kNumber, 0.0, true, "interpolation factor (0 = base, 1 = other model)"}};
  }
  std::vector<ParamDef> model_params() const override { return {}; }
  bool elementwise(const std::map<std::string, double>&) const override { return false; }
  Status Merge(const MergeTask& task) const override {
    const float* a = task.base;
    const float* b = task.models[0];
    const double t = task.params.at("t");
    double na = 0, nb = 0, dot = 0;
#pragma omp parallel for reduction(+ : na, nb, dot) if (task.n > (1 << 16))
    for (size_t j = 0; j < task.n; j++) {
      na += static_cast<double>(a[j]) * a[j];
      nb += static_cast<double>(b[j]) * b[j];
      dot += static_cast<double>(a[j]) * b[j];
    }
    double s0 = 1 - t, s1 = t;
    const double eps = 1e-8;
    if (na > eps * eps && nb > eps * eps) {
      double c = dot / (std::sqrt(na) * std::sqrt(nb));
      if (std::fabs(c) <= 0.9995) {
        double theta = std::acos(c), sin_theta = std::sin(theta);
        s0 = std::sin((1 - t) * theta) / sin_theta;
        s1 = std::sin(t * theta) / sin_theta;
      }
    }
    const float f0 = static_cast<float>(s0), f1 = static_cast<float>(s1);
    for (size_t j = 0; j < task.n; j++) task.out[j] = f0 * a[j] + f1 * b[j];
    return Status::Ok();
  }
};

}  // namespace

std::unique_ptr<MergeMethod> MakeSlerpMethod() { return std::make_unique<SlerpMethod>(); }

}  // namespace fm
