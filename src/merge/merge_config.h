// MergeConfig: a merge recipe in mergekit's YAML format, read unchanged:
//
//   merge_method: ties
//   base_model: ./base
//   models:
//     - model: ./instruct
//       parameters: {weight: 1.0, density: [1.0, 0.7, 0.1]}   # a gradient over layers
//     - model: ./cpt
//       parameters:
//         weight:
//           - filter: self_attn        # first matching filter wins
//             value: 0.5
//           - value: 1.0
//   parameters: {normalize: true, lambda: 1.0}
//   dtype: float32            # compute/output dtype (finmerge always computes in f32; see README)
//   out_dtype: bfloat16
//   tokenizer_source: base    # or a model path; "union" is refused (not supported)
//   chat_template: chatml     # auto | chatml | llama3 | alpaca | alpaca-ja | a Jinja template string
//
// Unknown keys and parameters of the wrong type are errors that name them. Validation against a method's
// declared parameters is ValidateMergeConfig().
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/dtype.h"
#include "base/status.h"
#include "merge/merge_method.h"

namespace fm {

// A parameter as written: a scalar, a gradient (list of numbers interpolated over layers), or a list of
// conditions ({filter: substring, value: setting}; an entry without filter or with "*" matches everything).
struct ParamSetting {
  enum class Kind { kNumber, kBool, kGradient, kConditional };
  Kind kind = Kind::kNumber;
  double number = 0;
  std::vector<double> gradient;
  std::vector<std::pair<std::string, ParamSetting>> conditions;
  // Value for tensor `name` at layer position t in [0, 1]; false when no condition matches.
  bool Evaluate(const std::string& name, double t, double* value) const;
};

struct MergeModelEntry {
  std::string path;
  std::map<std::string, ParamSetting> params;
};

struct MergeConfig {
  std::string method;
  std::string base_model;  // empty: none
  std::vector<MergeModelEntry> models;
  std::map<std::string, ParamSetting> params;
  std::optional<DType> dtype, out_dtype;
  std::string tokenizer_source;  // empty: the base model (or the first model without a base)
  std::string chat_template;     // empty or "auto": keep the tokenizer source's template
  std::string source_file;       // where the config came from (for messages)
};

// Parses YAML text. `file` names the config in messages and anchors relative model paths (a path that does not
// exist relative to the working directory is tried relative to the config's folder).
Status ParseMergeConfig(const std::string& yaml_text, const std::string& file, MergeConfig* out);
Status LoadMergeConfig(const std::string& path, MergeConfig* out);
// Checks the method exists, its parameters are known and well typed, required ones are present, the number of
// models fits, and a base is given when needed.
Status ValidateMergeConfig(const MergeConfig& cfg, const MergeMethod** method);
// Serialises a config back to mergekit YAML (used for finmerge_config.yaml in outputs).
std::string MergeConfigToYaml(const MergeConfig& cfg);

}  // namespace fm
