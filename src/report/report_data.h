// The report's inputs read from files into plain structs, checked on the way: every error names the file and,
// for syntax errors and JSON-lines files, the line. Nothing here draws; report.cpp turns these into HTML.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"

namespace fm::report {

// Reads and parses a JSON file, keeping the order of object keys. Syntax errors: "PATH:LINE: invalid JSON
// (...)". Missing file: NotFound.
Status ReadJsonFile(const std::string& path, nlohmann::ordered_json* out);

// One training run's metrics.jsonl (`finmerge cpt` / `finmerge sft`): a JSON object per line with "step",
// "loss", "lr", "grad_norm", "tokens_per_s", and "val_loss" on evaluated steps. Blank lines are skipped; a
// null loss (NaN written by the trainer) is dropped from the curve but counted in `nonfinite`.
struct LossCurve {
  std::string label, path;
  std::vector<std::pair<double, double>> train;  // (step, loss)
  std::vector<std::pair<double, double>> val;    // (step, val_loss)
  std::vector<std::pair<double, double>> lr;     // (step, lr)
  double median_tokens_per_s = 0;                // 0 when not logged
  int nonfinite = 0;
};
Status ReadLossCurve(const std::string& path, LossCurve* out);

// Exponential moving average with bias correction (as TensorBoard's smoothing), weight in [0, 1).
std::vector<std::pair<double, double>> Smooth(const std::vector<std::pair<double, double>>& pts,
                                              double weight);
// The smoothing weight the report uses for a curve of n points (stronger for longer curves, 0 for very
// short).
double SmoothingWeight(size_t n);

// `finmerge analyze --json` (see merge/task_vector_analysis.h): statistics per model (norms) and per model
// pair (cosine, sign agreement) for the whole model, per layer, per module type and per tensor.
struct VectorStats {
  std::vector<double> norm, relative_norm;                  // per model
  std::vector<std::vector<double>> cosine, sign_agreement;  // [i][j]
  uint64_t elements = 0;
};
struct AnalysisData {
  std::string path, base;
  std::vector<std::string> labels;  // one per task vector
  VectorStats overall;
  std::vector<std::pair<int, VectorStats>> by_layer;
  std::vector<std::pair<std::string, VectorStats>> by_module;
  struct Tensor {
    std::string name, module;
    int layer = -1;  // -1 = outside the transformer layers (embedding, final norm, lm_head)
    VectorStats stats;
  };
  std::vector<Tensor> tensors;
};
Status ReadAnalysis(const std::string& path, AnalysisData* out);

// The heatmap column a tensor belongs to: "q", "k", "v", "qkv", "o", "gate", "up", "down", "gate_up",
// "attn norm", "mlp norm", "q norm", "k norm", ... (else the analysis' module type). `ColumnOrder` ranks
// columns for display (attention, then MLP, then norms, then the rest).
std::string HeatmapColumn(const std::string& tensor_name, const std::string& module);
int ColumnOrder(const std::string& column);

// Evaluation results: the demo's results.json {"primary_metric", "models": {MODEL: {METRIC: value}},
// "task_vector_cosine", "stage_seconds": {...}} or `finmerge eval --json` {"models": {...}, ...}. Nested
// metric objects are flattened with dots ("fin_mc": {"acc": 0.5}} -> "fin_mc.acc").
struct ResultsData {
  std::string path, primary_metric;
  std::vector<std::string> models, metrics;  // in file order (metrics: first-seen order over models)
  // values[m][k]: model m, metric k; NaN = not measured.
  std::vector<std::vector<double>> values;
  // stderrs[m][k]: standard error of values[m][k] from a "METRIC_stderr" key; NaN = none.
  std::vector<std::vector<double>> stderrs;
  bool has_cosine = false;
  double task_vector_cosine = 0;
  std::vector<std::pair<std::string, double>> stage_seconds;
};
Status ReadResults(const std::string& path, ResultsData* out);
// Whether a smaller value of the metric is better, by name (perplexity, loss, error, time...).
bool LowerIsBetter(const std::string& metric);

// A settings/recipe JSON object flattened to (dotted key, display value), in file order.
Status ReadSettings(const std::string& path, std::vector<std::pair<std::string, std::string>>* out);

}  // namespace fm::report
