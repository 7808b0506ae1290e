// MergeMethod: one way of combining aligned tensors from several models into one. Methods are small, declare
// their parameters (so configs are validated against them), and are registered by name in one place
// (method_registry.cpp). The engine (merge_runner.h) handles everything else: reading, dtype conversion,
// vocabulary rows, chunking, writing.
//
// All arithmetic is f32. A method sees, for one output tensor (or, for elementwise methods, one contiguous chunk
// of it), the base model's values and each other model's values, with every parameter already resolved for this
// tensor (gradients interpolated, filters applied).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"

namespace fm {

struct ParamDef {
  enum class Type { kNumber, kBool };
  std::string name;
  Type type = Type::kNumber;
  double default_value = 0;
  bool required = false;
  std::string help;
};

// Inputs and output of one merge call.
struct MergeTask {
  std::string tensor;                    // output tensor name (for messages and seeding)
  size_t n = 0;                          // elements in this call
  size_t offset = 0;                     // element offset of this call within the whole tensor (chunking)
  size_t row_len = 1;                    // innermost dimension (row-wise methods)
  const float* base = nullptr;           // (n) the base model, or nullptr for methods without one
  std::vector<const float*> models;      // (n) each, the other models in config order
  std::vector<std::map<std::string, double>> model_params;  // per model: resolved tensor parameters
  std::map<std::string, double> params;  // resolved global parameters
  uint64_t seed = 0;                     // per-tensor seed for randomised methods
  float* out = nullptr;                  // (n)
};

class MergeMethod {
 public:
  virtual ~MergeMethod() = default;
  virtual std::string name() const = 0;
  virtual std::string description() const = 0;
  // Parameters that apply to the whole merge (`parameters:` at the top of the config).
  virtual std::vector<ParamDef> global_params() const = 0;
  // Parameters given per model (`models[].parameters`; also accepted as global defaults).
  virtual std::vector<ParamDef> model_params() const = 0;
  virtual bool requires_base() const = 0;
  // Allowed number of models besides the base.
  virtual int min_models() const { return 1; }
  virtual int max_models() const { return 1 << 20; }
  // True when the result at each element depends only on that element's inputs (plus the per-tensor seed and
  // global element index), so the engine may stream the tensor in chunks. False: whole tensor at once.
  virtual bool elementwise(const std::map<std::string, double>& global_params) const = 0;
  virtual Status Merge(const MergeTask& task) const = 0;
};

// The registry: every method finmerge knows, by mergekit name.
const MergeMethod* FindMergeMethod(const std::string& name);
std::vector<const MergeMethod*> AllMergeMethods();

// Factories defined in methods/*.cpp.
std::vector<std::unique_ptr<MergeMethod>> MakeTaskArithmeticFamily();
std::unique_ptr<MergeMethod> MakeLinearMethod();
std::unique_ptr<MergeMethod> MakeSlerpMethod();
std::unique_ptr<MergeMethod> MakeModelStockMethod();

}  // namespace fm
