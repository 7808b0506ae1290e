// The layers of the decoder as forward/backward pairs of plain functions over raw f32 buffers, in the style
// of llm.c. Shapes are given beside each buffer: B batch, T time, N = B*T rows, C hidden, NH query heads, NKV
// key/ value heads, HD head dim, QKV = (NH + 2*NKV)*HD, FF MLP width, V vocabulary.
//
// Conventions: parameter gradients (dweight, dbias) are always ADDED to; activation gradients are overwritten
// unless the function says otherwise. Every function is OpenMP-parallel inside; none allocates.
// Implementations live in src/model/layers/<layer>.cpp.
#pragma once

#include <cstdint>

#include "model/matmul.h"

namespace fm {

constexpr uint32_t kIgnoreTarget = 0xffffffffu;  // a target that contributes no loss (= Model::kIgnoreIndex)

// ---- embedding ----
// out (N, C) = wte[tokens[n]]; wte (V, C).
void embedding_forward(float* out, const uint32_t* tokens, const float* wte, int N, int C);
// dwte (V, C) += scatter of dout (N, C). Parallel over channels, so repeated tokens never race.
void embedding_backward(float* dwte, const float* dout, const uint32_t* tokens, int N, int C);

// ---- RMSNorm ----
// Rows of C elements laid out as (N, H): row (n, h) starts at x + n*stride + h*C (H = 1, stride = C for the
// usual hidden-state norm; H = NH, stride = QKV for Qwen3's per-head q norm). `out` has the same layout.
// out = x * rstd * weight, rstd (N, H) = 1 / sqrt(mean(x^2) + eps); weight (C).
void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* weight, int N, int H, int C,
                     int stride, float eps);
// dweight (C) += sum over rows of dout * x * rstd; dinp = (or += with accumulate) the input gradient.
// With accumulate == false, dinp may alias dout (the row is reduced before it is overwritten).
void rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp, const float* weight,
                      const float* rstd, int N, int H, int C, int stride, bool accumulate);

// ---- linear layers (Hugging Face layout: weight (OC, IC), bias (OC) or null) ----
// out (N, OC) = inp (N, IC) @ weight^T + bias; with accumulate, out += (that is how residual adds are fused).
void matmul_forward(Matmul& mm, float* out, const float* inp, const float* weight, const float* bias, int N,
                    int IC, int OC, bool accumulate);
// dinp (N, IC) = dout @ weight (skipped if null); dweight (OC, IC) += dout^T @ inp; dbias (OC) += column
// sums.
void matmul_backward(Matmul& mm, float* dinp, float* dweight, float* dbias, const float* dout,
                     const float* inp, const float* weight, int N, int IC, int OC);

// ---- rotary position embedding (rotate-half convention of Hugging Face Llama/Qwen) ----
// inv_freq (HD/2): theta^(-2i/HD), with Llama-3 scaling when rope_llama3 (arguments as in ArchConfig).
void rope_inv_freq(float* inv_freq, int HD, float theta, bool llama3, float factor, float low_freq,
                   float high_freq, int original_max_position);
// cos, sin (T, HD/2) for positions pos0 .. pos0+T-1.
void rope_tables(float* cos, float* sin, const float* inv_freq, int T, int HD, int pos0);
// In place on H heads of HD per row: head h of row (b, t) at x + (b*T + t)*stride + h*HD. For head halves
// x1, x2: (x1, x2) -> (x1 cos - x2 sin, x2 cos + x1 sin).
void rope_forward(float* x, const float* cos, const float* sin, int B, int T, int H, int HD, int stride);
// In place: the transposed rotation applied to the gradient.
void rope_backward(float* dx, const float* cos, const float* sin, int B, int T, int H, int HD, int stride);

// ---- causal self-attention with GQA ----
// qkv (B, T, QKV): per row [q heads (NH*HD) | k heads (NKV*HD) | v heads (NKV*HD)], q/k after RoPE.
// Query head h uses key/value head h / (NH/NKV). Scale 1/sqrt(HD). A query at t sees keys max(0,
// t-window+1)..t (window 0 = all). out (B, T, NH*HD); lse (B, NH, T) = log-sum-exp of each query's scores,
// kept for backward. scratch: threads * T floats (one score row per thread; no (T, T) matrix is stored).
void attention_forward(float* out, float* lse, const float* qkv, int B, int T, int NH, int NKV, int HD,
                       int window, float* scratch);
// dqkv (B, T, QKV) = gradient w.r.t. qkv (overwritten), recomputing the scores from q, k and lse.
void attention_backward(float* dqkv, const float* dout, const float* qkv, const float* out, const float* lse,
                        int B, int T, int NH, int NKV, int HD, int window, float* scratch);
// Floats of scratch attention_forward/backward need for sequences of T.
int64_t attention_scratch_floats(int T);

// ---- SwiGLU ----
// gate_up (N, 2*FF) rows [gate | up]; out (N, FF) = silu(gate) * up.
void swiglu_forward(float* out, const float* gate_up, int N, int FF);
// dgate_up (N, 2*FF) from dout (N, FF).
void swiglu_backward(float* dgate_up, const float* dout, const float* gate_up, int N, int FF);

// ---- fused LM head + cross-entropy ----
// x (N, C) final hidden states, w (V, C) LM head (the embedding when tied), targets (N), kIgnoreTarget =
// unscored. Works chunk_rows rows at a time in `logits` (chunk_rows, V), so N*V logits never exist at once.
// losses (N) = -log softmax(x w^T)[target] (0 for unscored rows).
// If dx is non-null (training): with dlogits = dloss * (softmax - onehot(target)) (0 for unscored rows),
// dx (N, C) = dlogits @ w (overwritten) and dw (V, C) += dlogits^T @ x.
void lm_head_loss(Matmul& mm, float* losses, float* dx, float* dw, const float* x, const float* w,
                  const uint32_t* targets, int N, int C, int V, float dloss, float* logits, int chunk_rows);

}  // namespace fm
