// Generalized task arithmetic: every method that merges task vectors (model - base) by optional
// sparsification, optional sign consensus and a weighted sum. One implementation, configured by data:
//
//   method            sparsification       consensus  normalize  rescale
//   task_arithmetic   -                    -          false      false
//   ties              magnitude            sum        true       false
//   dare_linear       random               -          false      true
//   dare_ties         random               sum        false      true
//   breadcrumbs       magnitude_outliers   -          false      false
//   breadcrumbs_ties  magnitude_outliers   sum        false      false
//   della             della_magprune       sum        true       true
//   della_linear      della_magprune       -          false      true
//
// out = base + lambda * mixed, where for task vectors d_i = w_i * sparsify(model_i - base):
//   without consensus: mixed = sum_i d_i                     (/ sum_i w_i if normalize)
//   with consensus:    s = sign(sum_i d_i) (0 counts as +); mixed = sum_i d_i [sign(d_i) == s]
//                                                           (/ sum_i w_i [sign(d_i) == s] if normalize)
// Zero divisors are replaced by 1 (an element no model contributes to stays at the base value).
// The paper's chat vector, C + w*(I - B), is task_arithmetic with base B, models C (weight 1) and I (weight w).
#include <cmath>
#include <vector>

#include "merge/merge_method.h"
#include "merge/sparsify.h"

namespace fm {

namespace {

enum class Sparsify { kNone, kMagnitude, kRandom, kOutliers, kDella };

struct GtaSpec {
  const char* name;
  const char* description;
  Sparsify sparsify;
  bool consensus;
  bool default_normalize;
  bool default_rescale;
};

class GeneralizedTaskArithmetic : public MergeMethod {
 public:
  explicit GeneralizedTaskArithmetic(GtaSpec spec) : spec_(spec) {}
  std::string name() const override { return spec_.name; }
  std::string description() const override { return spec_.description; }
  bool requires_base() const override { return true; }

  std::vector<ParamDef> global_params() const override {
    return {
        {"normalize", ParamDef::Type::kBool, spec_.default_normalize ? 1.0 : 0.0, false,
         "divide the mixed delta by the sum of (contributing) weights"},
        {"rescale", ParamDef::Type::kBool, spec_.default_rescale ? 1.0 : 0.0, false,
         "rescale pruned deltas (DARE/DELLA: 1/p; magnitude methods: match L1 norm)"},
        {"lambda", ParamDef::Type::kNumber, 1.0, false, "scale of the mixed delta added to the base"},
        {"int8_mask", ParamDef::Type::kBool, 0.0, false, "accepted for mergekit compatibility (memory option, no effect)"},
        {"random_seed", ParamDef::Type::kNumber, 0.0, false, "seed of random pruning (DARE, DELLA)"},
    };
  }

  std::vector<ParamDef> model_params() const override {
    std::vector<ParamDef> p = {
        {"weight", ParamDef::Type::kNumber, 0.0, true, "weight of this model's task vector"},
        {"density", ParamDef::Type::kNumber, 1.0, false, "fraction of the task vector kept"},
    };
    if (spec_.sparsify == Sparsify::kOutliers) {
      p.push_back({"gamma", ParamDef::Type::kNumber, 0.01, false, "fraction of largest-magnitude elements removed"});
    }
    if (spec_.sparsify == Sparsify::kDella) {
      p.push_back({"epsilon", ParamDef::Type::kNumber, 0.15, false, "spread of keep probabilities around density"});
      p.push_back({"lambda", ParamDef::Type::kNumber, 1.0, false, "scale of the mixed delta (first model's value)"});
    }
    return p;
  }

  bool elementwise(const std::map<std::string, double>&) const override {
    return spec_.sparsify == Sparsify::kNone || spec_.sparsify == Sparsify::kRandom;
  }

  Status Merge(const MergeTask& t) const override {
    const size_t n = t.n, m = t.models.size();
    const bool normalize = t.params.at("normalize") != 0;
    const bool rescale = t.params.at("rescale") != 0;
    double lambda = t.params.at("lambda");
    if (spec_.sparsify == Sparsify::kDella) lambda *= t.model_params[0].at("lambda");
    std::vector<float> w(m);
    for (size_t i = 0; i < m; i++) w[i] = static_cast<float>(t.model_params[i].at("weight"));
    const uint64_t seed = static_cast<uint64_t>(t.params.at("random_seed")) ^ t.seed;

    if (spec_.sparsify == Sparsify::kNone && !spec_.consensus) {
      // Hot path (the paper's merge): vectorisable passes over the chunk, no temporaries beyond `out`.
      float wsum = 0;
      for (size_t i = 0; i < m; i++) wsum += w[i];
      const float scale = static_cast<float>(lambda) / (normalize && std::fabs(wsum) >= 1e-8f ? wsum : 1.0f);
      float* __restrict out = t.out;
      const float* __restrict b = t.base;
      for (size_t j = 0; j < n; j++) out[j] = 0;
      for (size_t i = 0; i < m; i++) {
        const float* __restrict x = t.models[i];
        const float wi = w[i];
        for (size_t j = 0; j < n; j++) out[j] += wi * (x[j] - b[j]);
      }
      for (size_t j = 0; j < n; j++) out[j] = b[j] + scale * out[j];
      return Status::Ok();
    }
    if (spec_.sparsify == Sparsify::kNone) {  // sign consensus without pruning
      for (size_t j = 0; j < n; j++) {
        float b = t.base[j], mixed = 0, wsum = 0, total = 0;
        for (size_t i = 0; i < m; i++) total += w[i] * (t.models[i][j] - b);
        const float s = total >= 0 ? 1.0f : -1.0f;
        for (size_t i = 0; i < m; i++) {
          float d = w[i] * (t.models[i][j] - b);
          if ((d > 0 && s > 0) || (d < 0 && s < 0)) {
            mixed += d;
            wsum += w[i];
          }
        }
        if (normalize) mixed /= wsum == 0 ? 1.0f : wsum;
        t.out[j] = b + static_cast<float>(lambda) * mixed;
      }
      return Status::Ok();
    }

    // Materialise the weighted, sparsified deltas: (m, n).
    std::vector<float> deltas(m * n);
    for (size_t i = 0; i < m; i++) {
      float* d = deltas.data() + i * n;
      for (size_t j = 0; j < n; j++) d[j] = t.models[i][j] - t.base[j];
      const auto& p = t.model_params[i];
      const double density = p.at("density");
      if (density < 0 || density > 1) {
        return Status::InvalidArgument("tensor '" + t.tensor + "': density " + std::to_string(density) +
                                       " for model " + std::to_string(i) + " is outside [0, 1]");
      }
      switch (spec_.sparsify) {
        case Sparsify::kMagnitude:
          SparsifyMagnitude(d, n, density, rescale);
          break;
        case Sparsify::kRandom:
          SparsifyRandom(d, n, density, rescale, seed, i, t.offset);
          break;
        case Sparsify::kOutliers:
          SparsifyMagnitudeOutliers(d, n, density, p.at("gamma"), rescale);
          break;
        case Sparsify::kDella: {
          const double eps = p.at("epsilon");
          if (density < 1 && (density + eps >= 1 || density - eps <= 0)) {
            return Status::InvalidArgument("tensor '" + t.tensor + "': della needs density +/- epsilon inside (0, 1), got density " +
                                           std::to_string(density) + " epsilon " + std::to_string(eps));
          }
          SparsifyDella(d, n, t.row_len, density, eps, rescale, seed, i);
          break;
        }
        case Sparsify::kNone:
          break;
      }
      for (size_t j = 0; j < n; j++) d[j] *= w[i];
    }
#pragma omp parallel for schedule(static) if (n > (1 << 16))
    for (size_t j = 0; j < n; j++) {
      float mixed = 0, wsum = 0;
      if (!spec_.consensus) {
        for (size_t i = 0; i < m; i++) mixed += deltas[i * n + j], wsum += w[i];
        if (normalize) mixed /= std::fabs(wsum) < 1e-8f ? 1.0f : wsum;
      } else {
        float total = 0;
        for (size_t i = 0; i < m; i++) total += deltas[i * n + j];
        const float s = total >= 0 ? 1.0f : -1.0f;
        for (size_t i = 0; i < m; i++) {
          float d = deltas[i * n + j];
          if ((d > 0 && s > 0) || (d < 0 && s < 0)) mixed += d, wsum += w[i];
        }
        if (normalize) mixed /= wsum == 0 ? 1.0f : wsum;
      }
      t.out[j] = t.base[j] + static_cast<float>(lambda) * mixed;
    }
    return Status::Ok();
  }

 private:
  GtaSpec spec_;
};

}  // namespace

std::vector<std::unique_ptr<MergeMethod>> MakeTaskArithmeticFamily() {
  static const GtaSpec kSpecs[] = {
      {"task_arithmetic", "base + lambda * sum of weighted task vectors (the paper's chat-vector merge)",
       Sparsify::kNone, false, false, false},
      {"ties", "TIES: magnitude pruning, sign election, disjoint mean", Sparsify::kMagnitude, true, true, false},
      {"dare_linear", "DARE: random pruning with rescaling, weighted sum", Sparsify::kRandom, false, false, true},
      {"dare_ties", "DARE pruning + TIES sign election", Sparsify::kRandom, true, false, true},
      {"breadcrumbs", "Model Breadcrumbs: drop smallest and largest outliers", Sparsify::kOutliers, false, false, false},
      {"breadcrumbs_ties", "Model Breadcrumbs + TIES sign election", Sparsify::kOutliers, true, false, false},
      {"della", "DELLA: magnitude-ranked random pruning + sign election", Sparsify::kDella, true, true, true},
      {"della_linear", "DELLA pruning, weighted sum", Sparsify::kDella, false, false, true},
  };
  std::vector<std::unique_ptr<MergeMethod>> out;
  for (const GtaSpec& s : kSpecs) out.push_back(std::make_unique<GeneralizedTaskArithmetic>(s));
  return out;
}

}  // namespace fm
