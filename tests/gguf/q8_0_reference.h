// finmerge's forward pass with llama.cpp's Q8_0 arithmetic, the reference of the Q8_0 checks in
// llama_cpp_test.cpp.
//
// ggml's CPU backend multiplies a Q8_0 weight matrix by activations that it first quantises to Q8_0 itself
// (the weight type's vec_dot_type): each row in blocks of 32 values, amax = max |x|, the block scale
// d = amax / 127 stored as fp16, q = x * (127 / amax) rounded to nearest (ties to even); the block's dot
// product is then fp16(d_w) * fp16(d_x) * sum(q_w * q_x). That equals the f32 product of the dequantised
// weights (what ImportGguf reads back) with the activation rounded to fp16(d_x) * q_x, up to float summation
// order. So this reference is Model's forward (model.cpp, built from the same kernels) on the weights the
// GGUF holds, with RoundLikeGgmlQ8_0 applied to the input of every product with a Q8_0 matrix: q/k/v, o,
// gate/up, down and the LM head. Embedding rows are dequantised exactly (ggml_get_rows), and attention, with
// the K/V cache kept in f32 by the oracle, multiplies f32 by f32; neither is rounded.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "base/dtype.h"
#include "model/kernels.h"
#include "model/model.h"

namespace fm::gguf::testutil {

// In place on x (N, IC), IC a multiple of 32: every value becomes fp16(d) * q as ggml's quantize_row_q8_0
// would make it.
inline void RoundLikeGgmlQ8_0(float* x, int N, int IC) {
  for (int64_t b = 0; b < int64_t{N} * IC / 32; b++) {
    float* v = x + b * 32;
    float amax = 0;
    for (int i = 0; i < 32; i++) amax = std::max(amax, std::fabs(v[i]));
    const float d = F16ToF32(F32ToF16(amax / 127.0f));
    const float id = amax != 0 ? 127.0f / amax : 0.0f;
    for (int i = 0; i < 32; i++) v[i] = d * std::nearbyint(v[i] * id);
  }
}

// Logits (V) of the last of tokens[0..T) under llama.cpp's Q8_0 arithmetic; `m` holds the GGUF's weights.
inline void Q8_0LastLogits(Model& m, const uint32_t* tokens, int T, float* logits) {
  const ArchConfig& cfg = m.config();
  const int C = cfg.hidden_size, QKV = cfg.qkv_dim(), QD = cfg.q_dim(), FF = cfg.intermediate_size;
  const int NH = cfg.num_heads, NKV = cfg.num_kv_heads, HD = cfg.head_dim, V = cfg.vocab_size;
  const ModelParams p = m.param_views();
  Matmul mm;  // f32
  std::vector<float> x(T * C), ln(T * C), qkv(T * QKV), qkvr(T * QKV), att(T * QD), gate_up(T * 2 * FF),
      h(T * FF), rstd(T * std::max(NH, 1)), lse(NH * T), scratch(attention_scratch_floats(T));
  std::vector<float> inv_freq(HD / 2), cos(T * HD / 2), sin(T * HD / 2);
  rope_inv_freq(inv_freq.data(), HD, cfg.rope_theta, cfg.rope_llama3, cfg.rope_factor, cfg.rope_low_freq,
                cfg.rope_high_freq, cfg.rope_original_max_position);
  rope_tables(cos.data(), sin.data(), inv_freq.data(), T, HD, 0);
  embedding_forward(x.data(), tokens, p.embed, T, C);
  for (const LayerParams& w : p.layers) {
    rmsnorm_forward(ln.data(), rstd.data(), x.data(), w.attn_norm, T, 1, C, C, cfg.rms_eps);
    RoundLikeGgmlQ8_0(ln.data(), T, C);
    matmul_forward(mm, qkv.data(), ln.data(), w.qkv_w, w.qkv_b, T, C, QKV, false);
    qkvr = qkv;
    if (cfg.qk_norm) {
      rmsnorm_forward(qkvr.data(), rstd.data(), qkv.data(), w.q_norm, T, NH, HD, QKV, cfg.rms_eps);
      rmsnorm_forward(qkvr.data() + QD, rstd.data(), qkv.data() + QD, w.k_norm, T, NKV, HD, QKV, cfg.rms_eps);
    }
    rope_forward(qkvr.data(), cos.data(), sin.data(), 1, T, NH + NKV, HD, QKV);
    attention_forward(att.data(), lse.data(), qkvr.data(), 1, T, NH, NKV, HD, cfg.sliding_window,
                      scratch.data());
    RoundLikeGgmlQ8_0(att.data(), T, QD);
    matmul_forward(mm, x.data(), att.data(), w.o_w, w.o_b, T, QD, C, true);
    rmsnorm_forward(ln.data(), rstd.data(), x.data(), w.mlp_norm, T, 1, C, C, cfg.rms_eps);
    RoundLikeGgmlQ8_0(ln.data(), T, C);
    matmul_forward(mm, gate_up.data(), ln.data(), w.gate_up_w, nullptr, T, C, 2 * FF, false);
    swiglu_forward(h.data(), gate_up.data(), T, FF);
    RoundLikeGgmlQ8_0(h.data(), T, FF);
    matmul_forward(mm, x.data(), h.data(), w.down_w, nullptr, T, FF, C, true);
  }
  float* last = x.data() + static_cast<size_t>(T - 1) * C;
  rmsnorm_forward(ln.data(), rstd.data(), last, p.final_norm, 1, 1, C, C, cfg.rms_eps);
  RoundLikeGgmlQ8_0(ln.data(), 1, C);
  matmul_forward(mm, logits, ln.data(), p.lm_head, nullptr, 1, C, V, false);
}

}  // namespace fm::gguf::testutil
