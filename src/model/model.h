// Model: a decoder-only transformer of the Llama/Qwen family held as one f32 parameter allocation, with a
// training forward/backward in the style of llm.c. Architectures (llama, mistral, qwen2, qwen3, qwen) differ
// by data: an ArchConfig (hyperparameters and feature flags) and a table mapping each parameter to its
// Hugging Face tensor name(s) — see arch.h. The layers themselves are the plain functions of kernels.h.
//
// Parameters keep the Hugging Face layout (a Linear weight is (out, in) row-major), so loading and saving are
// plain copies. Tensors that form one fused matrix (q|k|v projections, gate|up projections) are stored back
// to back, which lets one GEMM compute them.
//
// Ownership: a Model owns its parameters, gradients (allocated on first use) and activations (each one
// allocation). Not thread-safe: one caller at a time; the kernels themselves use all cores via OpenMP.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/dtype.h"
#include "base/status.h"
#include "io/model_folder.h"
#include "model/arch.h"
#include "model/matmul.h"  // Precision, CpuHasBf16()

namespace fm {

// One named parameter tensor inside Model::params() (and at the same offset inside grads()).
struct ParamTensor {
  std::string name;            // Hugging Face tensor name, e.g. "model.layers.0.self_attn.q_proj.weight"
  std::vector<int64_t> shape;  // as stored in the checkpoint (row-major)
  size_t offset = 0;           // element offset into params()/grads()
  size_t numel = 0;
  bool decay = true;                 // false for norms and biases (AdamW weight decay off)
  DType source_dtype = DType::kF32;  // dtype in the checkpoint it was loaded from (used when saving)
};

// Pointers into params() or grads() for one decoder layer; null where the architecture lacks the tensor.
struct LayerParams {
  float* attn_norm;  // (C)
  float* qkv_w;      // (QKV, C): rows q (NH*HD) | k (NKV*HD) | v (NKV*HD)
  float* qkv_b;      // (QKV) or null
  float* q_norm;     // (HD) or null (qk_norm)
  float* k_norm;     // (HD) or null (qk_norm)
  float* o_w;        // (C, NH*HD)
  float* o_b;        // (C) or null
  float* mlp_norm;   // (C)
  float* gate_up_w;  // (2*FF, C): rows gate | up
  float* down_w;     // (C, FF)
};

struct ModelParams {
  float* embed;       // (V, C)
  float* final_norm;  // (C)
  float* lm_head;     // (V, C); == embed when tie_word_embeddings
  std::vector<LayerParams> layers;
};

class Model {
 public:
  // Loads a Hugging Face folder (weights of any float dtype converted to f32). Unsupported model_type ->
  // clear error naming it; a missing, misshapen or unexpected tensor -> error naming the tensor.
  static Status FromFolder(const ModelFolder& folder, std::unique_ptr<Model>* out);
  // A model with random weights (normal(0, 0.02), norms 1, biases 0), seeded. cfg.raw, when it is a non-empty
  // object, is the config.json the model is built from; otherwise ArchConfigToJson(cfg) is.
  static Status Random(const ArchConfig& cfg, uint64_t seed, std::unique_ptr<Model>* out);
  ~Model();

  const ArchConfig& config() const;
  const std::vector<ParamTensor>& param_tensors() const;
  // nullptr if no parameter has that name.
  const ParamTensor* FindParam(const std::string& name) const;
  size_t num_parameters() const;
  float* params();  // (num_parameters)
  const float* params() const;
  float* grads();  // (num_parameters), allocated and zeroed on first use; zeroed by ZeroGrad()
  void ZeroGrad();
  // Structured views of params() / grads() (the latter allocates the gradients if needed).
  ModelParams param_views();
  ModelParams grad_views();
  // Default kF32. kBF16: bf16 GEMM inputs, f32 accumulation, f32 master weights (see CpuHasBf16()).
  void set_precision(Precision p);
  Precision precision() const;

  // Training step part: inputs and targets are (B, T) token ids; targets may hold kIgnoreIndex (no loss).
  // Runs forward and backward, ADDS d(loss * loss_scale)/d(params) into grads(), returns the mean loss over
  // the non-ignored targets (0 and no gradient when there are none). Activations are allocated once for the
  // largest (B, T) seen. A token id >= vocab_size is a caller bug: the process aborts with a message.
  static constexpr uint32_t kIgnoreIndex = 0xffffffffu;
  float ForwardBackward(const uint32_t* inputs, const uint32_t* targets, int B, int T, float loss_scale);
  // Forward only: mean loss (and, if nll_sum/count non-null, the summed NLL and number of scored targets).
  float ForwardLoss(const uint32_t* inputs, const uint32_t* targets, int B, int T, double* nll_sum = nullptr,
                    int64_t* count = nullptr);
  // Forward only: logits (B, T, V) into `logits` (caller allocates B*T*V floats). For evaluation of small
  // models.
  void ForwardLogits(const uint32_t* inputs, int B, int T, float* logits);

  // Writes the model as a Hugging Face folder into the existing folder `dir` (weights in each tensor's
  // source dtype, or `dtype_override` if set; config.json from config().raw). Does not copy tokenizer files.
  // Tied embeddings are written once (as the embedding).
  Status SaveWeights(const std::string& dir, const DType* dtype_override = nullptr) const;

 private:
  struct Impl;
  explicit Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fm
