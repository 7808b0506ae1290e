// Inference: the forward pass of a Model with a KV cache, for generation and scoring. A prompt is prefilled
// with GEMMs over all its tokens (in chunks of at most max_rows()), then each decode step runs one token
// against the cached keys and values. Architectures differ by the same data as in training (ArchConfig and
// the parameter views of model.h); the layers are the kernels of kernels.h plus the cached attention
// (layers/attention_cached.cpp).
//
// Precision follows the model's at construction: kF32 runs OpenBLAS GEMMs (and an OpenMP GEMV for
// single-token steps); kBF16 keeps a bf16 copy of the weights (made once, ~2 bytes per parameter) and runs
// oneDNN bf16 GEMMs and a bf16 GEMV for decode steps, which are memory-bound. Attention, norms and the cache
// stay f32.
//
// Ownership: an Inference borrows its Model (which must outlive it) and owns its scratch and the bf16 weight
// copy; call RefreshWeights() after changing the model's parameters. A KvCache belongs to one sequence.
// Not thread-safe: one call at a time; each call uses all cores through OpenMP.
#pragma once

#include <cstdint>
#include <vector>

#include "model/matmul.h"
#include "model/model.h"

namespace fm {

// Keys and values of one sequence: per layer k and v of (NKV, capacity, HD), f32, after RoPE (and qk-norm).
// Positions [0, length()) are filled. Rewinding (set_length to a smaller value) lets several continuations
// be scored after one shared prefix: new positions simply overwrite the old ones.
class KvCache {
 public:
  KvCache() = default;
  KvCache(const ArchConfig& cfg, int capacity);
  int capacity() const { return capacity_; }
  int length() const { return length_; }
  void set_length(int n) { length_ = n; }
  // (NKV, capacity, HD) of layer l.
  float* k(int l) { return data_.data() + (static_cast<size_t>(2 * l) * layer_floats_); }
  float* v(int l) { return data_.data() + (static_cast<size_t>(2 * l + 1) * layer_floats_); }

 private:
  int capacity_ = 0, length_ = 0;
  size_t layer_floats_ = 0;
  std::vector<float> data_;  // (L, 2, NKV, capacity, HD)
};

class Inference {
 public:
  // `max_context`: the longest sequence a cache may hold (RoPE tables are precomputed up to it).
  Inference(Model* model, int max_context);
  ~Inference();
  Inference(const Inference&) = delete;
  Inference& operator=(const Inference&) = delete;

  Model& model() { return *model_; }
  int max_context() const { return max_context_; }
  // Rows one internal forward processes at once; longer inputs are prefilled in chunks of this size.
  int max_rows() const { return max_rows_; }
  Precision precision() const { return mm_.precision(); }
  // Re-reads the model's precision and (for bf16) rebuilds the bf16 weight copy.
  void RefreshWeights();
  KvCache NewCache(int capacity = 0) const;  // 0 = max_context()

  // Runs tokens[0..T) at positions cache->length() .. + T - 1, appends their keys and values to the cache
  // and writes the logits of the last `logit_rows` of them (0 <= logit_rows <= T) to `logits`
  // (logit_rows, V). The cache must have room (length() + T <= capacity()); token ids must be < V.
  void Forward(KvCache* cache, const uint32_t* tokens, int T, float* logits, int logit_rows);

 private:
  void ForwardChunk(KvCache* cache, const uint32_t* tokens, int T, float* logits, int logit_rows);
  // out (N, OC) (+)= inp (N, IC) @ w^T + bias; single rows go through a GEMV.
  void Linear(float* out, const float* inp, const float* w, const float* bias, int N, int IC, int OC,
              bool accumulate);

  Model* model_;
  ArchConfig cfg_;
  int max_context_, max_rows_;
  Matmul mm_;
  std::vector<uint16_t> bf16_;    // bf16 copy of model_->params() when precision is kBF16
  std::vector<float> cos_, sin_;  // (max_context, HD/2)
  // Scratch for max_rows_ rows: residual x (N, C), ln (N, C), qkv (N, QKV), att (N, NH*HD),
  // gate_up (N, 2*FF), h (N, FF), rstd (N * max(NH, 1)), attention scores (threads, kQ, max_context).
  std::vector<float> x_, ln_, qkv_, att_, gate_up_, h_, rstd_, scores_;
  std::vector<uint16_t> x16_;  // bf16 copy of a GEMV input (max(C, NH*HD, FF) + 32)
};

// ---- kernels of the inference path (layers/attention_cached.cpp, layers/gemv.cpp) ----

// Queries per attention task.
constexpr int kAttentionCachedQBlock = 32;
// Floats of scratch attention_cached_forward needs for caches of up to max_context positions.
int64_t attention_cached_scratch_floats(int max_context);
// q: T rows (row stride q_stride) of NH heads of HD, the queries at positions pos0 .. pos0+T-1 after RoPE.
// kcache, vcache (NKV, cap, HD) hold positions [0, pos0+T). Query head h reads kv head h / (NH/NKV); a query
// at t sees keys max(0, t-window+1)..t (window 0 = all). out (T, NH*HD).
void attention_cached_forward(float* out, const float* q, int q_stride, const float* kcache,
                              const float* vcache, int cap, int pos0, int T, int NH, int NKV, int HD,
                              int window, float* scratch, int max_context);

// True when gemv_bf16 runs natively (AVX512-BF16); otherwise callers use Matmul.
bool GemvBf16Available();
// y (OC) (+)= W (OC, K) @ x (K) with W in bf16 (row-major), x f32 (rounded to bf16), f32 accumulation.
// x16: scratch of K + 32 bf16 values.
void gemv_bf16(float* y, const uint16_t* W, const float* x, int K, int OC, bool accumulate, uint16_t* x16);
// y (OC) (+)= W (OC, K) @ x (K), all f32.
void gemv_f32(float* y, const float* W, const float* x, int K, int OC, bool accumulate);

}  // namespace fm
