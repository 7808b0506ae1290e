// ResultsTable: the side-by-side table of an evaluation — one row per model, one column per metric (in the
// order metrics are first set) — rendered for the terminal (aligned columns), as Markdown, and as JSON
// ({"MODEL": {"METRIC": value, "METRIC_stderr": value}}). A metric may carry a standard error, shown as
// "value ± se" in the text renderings. A model lacking a metric shows "-" (JSON: the key is absent).
// Not thread-safe.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace fm {

class ResultsTable {
 public:
  // Adds the row if new; a model's rows keep the order in which models are first added.
  void AddModel(const std::string& model);
  // Sets metric `metric` of `model` (adding both as needed). `stderr_value` NaN or absent = none.
  void Set(const std::string& model, const std::string& metric, double value,
           std::optional<double> stderr_value = std::nullopt);

  const std::vector<std::string>& models() const { return models_; }
  const std::vector<std::string>& metrics() const { return metrics_; }
  // The value, if set.
  std::optional<double> Get(const std::string& model, const std::string& metric) const;

  std::string RenderTerminal() const;
  std::string RenderMarkdown() const;
  nlohmann::ordered_json ToJson() const;

  // "0.4123" for values below 10, "12.35" above (perplexities), "nan"/"inf" as such.
  static std::string FormatValue(double v);

 private:
  struct Cell {
    double value = 0;
    std::optional<double> se;
  };
  std::vector<std::vector<std::string>> Cells() const;  // header row, then one row per model
  std::vector<std::string> models_, metrics_;
  std::map<std::pair<std::string, std::string>, Cell> cells_;
};

}  // namespace fm
