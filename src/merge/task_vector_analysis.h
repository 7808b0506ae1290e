// Task-vector analysis: how the models' deltas from a common base relate. The paper's central evidence is that
// the instruction vector (instruct - base) and the domain vector (cpt - base) are nearly orthogonal (cosine ~ 0),
// so adding one to the other's model does not undo it.
//
// For each tensor and overall, for every pair of task vectors: cosine similarity and sign-agreement rate (the
// share of elements, among those where both deltas are non-zero, whose signs agree); for each task vector: L2
// norm and the norm relative to the base tensor's. Summaries per transformer layer and per module type
// (attn_q, attn_k, attn_v, attn_qkv, attn_o, mlp, norm, embedding, other). Streams in chunks on all cores;
// vocabulary tensors of different row counts are compared on their common rows.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/status.h"

namespace fm {

// Sums over a set of elements for one group (a tensor, a layer, a module type, the whole model).
struct TaskVectorStats {
  std::vector<double> sq_norm;            // per model: sum of delta^2
  double base_sq_norm = 0;                // sum of base^2
  std::vector<std::vector<double>> dot;   // [i][j]: sum delta_i * delta_j
  std::vector<std::vector<double>> agree, both_nonzero;  // sign agreement counts
  uint64_t elements = 0;

  void Init(size_t models);
  void Add(const TaskVectorStats& o);
  double Cosine(size_t i, size_t j) const;
  double SignAgreement(size_t i, size_t j) const;
  double Norm(size_t i) const;
  double RelativeNorm(size_t i) const;
};

struct TaskVectorAnalysis {
  std::string base;
  std::vector<std::string> models;  // paths
  std::vector<std::string> labels;  // short names for tables
  struct Tensor {
    std::string name;
    int layer;
    std::string module;
    TaskVectorStats stats;
  };
  std::vector<Tensor> tensors;
  TaskVectorStats overall;
  std::vector<std::pair<int, TaskVectorStats>> by_layer;
  std::vector<std::pair<std::string, TaskVectorStats>> by_module;
};

// Module type of a tensor name: attn_q, attn_k, attn_v, attn_qkv, attn_o, mlp, norm, embedding, other.
std::string ModuleType(const std::string& name);

// `labels` may be empty (then the folder names are used).
Status AnalyzeTaskVectors(const std::string& base, const std::vector<std::string>& models,
                          const std::vector<std::string>& labels, TaskVectorAnalysis* out);
nlohmann::json AnalysisToJson(const TaskVectorAnalysis& a);
// A human-readable report: overall pairs, per module type, per layer.
std::string AnalysisToText(const TaskVectorAnalysis& a);

}  // namespace fm
