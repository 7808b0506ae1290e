// linear: a weighted average of the models themselves (no base): out = sum_i w_i x_i (/ sum_i w_i if normalize).
// A base_model that is not also listed under models takes no part (as in mergekit).
#include <cmath>

#include "merge/merge_method.h"

namespace fm {

namespace {

class LinearMethod : public MergeMethod {
 public:
  std::string name() const override { return "linear"; }
  std::string description() const override { return "weighted average of the models' parameters"; }
  bool requires_base() const override { return false; }
  std::vector<ParamDef> global_params() const override {
    return {{"normalize", ParamDef::Type::kBool, 1.0, false, "divide by the sum of weights"},
            {"int8_mask", ParamDef::Type::kBool, 0.0, false, "accepted for mergekit compatibility (no effect)"}};
  }
  std::vector<ParamDef> model_params() const override {
    return {{"weight", ParamDef::Type::kNumber, 0.0, true, "weight of this model"}};
  }
  bool elementwise(const std::map<std::string, double>&) const override { return true; }
  Status Merge(const MergeTask& t) const override {
    const size_t m = t.models.size();
    double wsum = 0;
    for (size_t i = 0; i < m; i++) wsum += t.model_params[i].at("weight");
    const bool normalize = t.params.at("normalize") != 0;
    const float div = normalize && std::fabs(wsum) >= 1e-8 ? static_cast<float>(wsum) : 1.0f;
    for (size_t j = 0; j < t.n; j++) {
      float acc = 0;
      for (size_t i = 0; i < m; i++) acc += static_cast<float>(t.model_params[i].at("weight")) * t.models[i][j];
      t.out[j] = acc / div;
    }
    return Status::Ok();
  }
};

}  // namespace

std::unique_ptr<MergeMethod> MakeLinearMethod() { return std::make_unique<LinearMethod>(); }

}  // namespace fm
