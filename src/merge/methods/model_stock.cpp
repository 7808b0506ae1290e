// model_stock (Jang et al., 2024): interpolate between the average of N fine-tuned models and the base with a
// ratio from the angle between their task vectors:
//   cos = mean over pairs (i<j) of cos(model_i - base, model_j - base)
//   t   = N cos / (1 + (N - 1) cos)
//   out = t * mean_i(model_i) + (1 - t) * base
// With filter_wise, the cosine (and so t) is computed per row (last dimension) instead of per tensor.
// Needs the base and at least two other models.
#include <algorithm>
#include <cmath>
#include <vector>

#include "merge/merge_method.h"

namespace fm {

namespace {

class ModelStockMethod : public MergeMethod {
 public:
  std::string name() const override { return "model_stock"; }
  std::string description() const override { return "Model Stock: average pulled toward the base by task-vector angle"; }
  bool requires_base() const override { return true; }
  int min_models() const override { return 2; }
  std::vector<ParamDef> global_params() const override {
    return {{"filter_wise", ParamDef::Type::kBool, 0.0, false, "compute the ratio per row instead of per tensor"}};
  }
  std::vector<ParamDef> model_params() const override { return {}; }
  bool elementwise(const std::map<std::string, double>&) const override { return false; }

  Status Merge(const MergeTask& task) const override {
    const bool filter_wise = task.params.at("filter_wise") != 0;
    size_t row = filter_wise ? task.row_len : task.n;
    if (row == 0 || task.n % row != 0) row = task.n;
    const size_t rows = row ? task.n / row : 0;
    const size_t m = task.models.size();
#pragma omp parallel for schedule(dynamic, 8) if (rows > 1)
    for (size_t r = 0; r < rows; r++) {
      const size_t off = r * row;
      std::vector<double> norms(m, 0.0);
      for (size_t i = 0; i < m; i++) {
        double s = 0;
        for (size_t j = off; j < off + row; j++) {
          double d = static_cast<double>(task.models[i][j]) - task.base[j];
          s += d * d;
        }
        norms[i] = std::sqrt(s);
      }
      double cos_sum = 0;
      int pairs = 0;
      for (size_t i = 0; i < m; i++) {
        for (size_t k = i + 1; k < m; k++) {
          double dot = 0;
          for (size_t j = off; j < off + row; j++) {
            dot += (static_cast<double>(task.models[i][j]) - task.base[j]) *
                   (static_cast<double>(task.models[k][j]) - task.base[j]);
          }
          double c = dot / std::max(norms[i] * norms[k], 1e-6);
          cos_sum += std::clamp(c, -1.0, 1.0);
          pairs++;
        }
      }
      const double c = cos_sum / pairs;
      const double n = static_cast<double>(m);
      const double denom = 1 + (n - 1) * c;
      // cos = -1/(N-1) makes the ratio undefined; fall back to the plain average there.
      const double t = std::fabs(denom) < 1e-12 ? 1.0 : n * c / denom;
      for (size_t j = off; j < off + row; j++) {
        double avg = 0;
        for (size_t i = 0; i < m; i++) avg += task.models[i][j];
        avg /= n;
        task.out[j] = static_cast<float>(t * avg + (1 - t) * task.base[j]);
      }
    }
    return Status::Ok();
  }
};

}  // namespace

std::unique_ptr<MergeMethod> MakeModelStockMethod() { return std::make_unique<ModelStockMethod>(); }

}  // namespace fm
