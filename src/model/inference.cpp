#include "model/inference.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "base/dtype.h"
#include "model/kernels.h"

namespace fm {

namespace {
constexpr int kMaxRows = 256;  // rows per internal forward (prefill chunk)
}  // namespace

KvCache::KvCache(const ArchConfig& cfg, int capacity)
    : capacity_(capacity),
      layer_floats_(static_cast<size_t>(cfg.num_kv_heads) * capacity * cfg.head_dim),
      data_(layer_floats_ * 2 * cfg.num_layers) {}

Inference::Inference(Model* model, int max_context)
    : model_(model),
      cfg_(model->config()),
      max_context_(max_context),
      max_rows_(std::min(kMaxRows, std::max(1, max_context))) {
  const int64_t N = max_rows_, C = cfg_.hidden_size, FF = cfg_.intermediate_size, half = cfg_.head_dim / 2;
  x_.resize(N * C);
  ln_.resize(N * C);
  qkv_.resize(N * cfg_.qkv_dim());
  att_.resize(N * cfg_.q_dim());
  gate_up_.resize(N * 2 * FF);
  h_.resize(N * FF);
  rstd_.resize(N * std::max(cfg_.num_heads, 1));
  x16_.resize(std::max({C, static_cast<int64_t>(cfg_.q_dim()), FF}) + 32);
  scores_.resize(attention_cached_scratch_floats(max_context_));
  cos_.resize(max_context_ * half);
  sin_.resize(max_context_ * half);
  std::vector<float> inv_freq(half);
  rope_inv_freq(inv_freq.data(), cfg_.head_dim, cfg_.rope_theta, cfg_.rope_llama3, cfg_.rope_factor,
                cfg_.rope_low_freq, cfg_.rope_high_freq, cfg_.rope_original_max_position);
  rope_tables(cos_.data(), sin_.data(), inv_freq.data(), max_context_, cfg_.head_dim, 0);
  RefreshWeights();
}

Inference::~Inference() = default;

void Inference::RefreshWeights() {
  mm_.set_precision(model_->precision());
  if (model_->precision() != Precision::kBF16) {
    std::vector<uint16_t>().swap(bf16_);
    mm_.BindBf16Mirror(nullptr, nullptr, 0);
    return;
  }
  const size_t n = model_->num_parameters();
  bf16_.resize(n);
  const float* src = model_->params();
  uint16_t* dst = bf16_.data();
#pragma omp parallel for simd schedule(static)
  for (size_t i = 0; i < n; i++) dst[i] = F32ToBf16(src[i]);
  mm_.BindBf16Mirror(src, dst, n);
}

KvCache Inference::NewCache(int capacity) const {
  return KvCache(cfg_, capacity > 0 ? std::min(capacity, max_context_) : max_context_);
}

void Inference::Linear(float* out, const float* inp, const float* w, const float* bias, int N, int IC, int OC,
                       bool accumulate) {
  if (N != 1) {
    matmul_forward(mm_, out, inp, w, bias, N, IC, OC, accumulate);
    return;
  }
  if (mm_.precision() == Precision::kF32) {
    gemv_f32(out, w, inp, IC, OC, accumulate);
  } else if (GemvBf16Available()) {
    gemv_bf16(out, bf16_.data() + (w - model_->params()), inp, IC, OC, accumulate, x16_.data());
  } else {
    mm_.Gemm(false, true, 1, OC, IC, inp, w, out, accumulate);
  }
  if (bias) {
    for (int c = 0; c < OC; c++) out[c] += bias[c];
  }
}

void Inference::Forward(KvCache* cache, const uint32_t* tokens, int T, float* logits, int logit_rows) {
  if (cache->length() + T > cache->capacity() || logit_rows < 0 || logit_rows > T) {
    std::fprintf(stderr, "finmerge: Inference::Forward: %d tokens after %d do not fit a cache of %d\n", T,
                 cache->length(), cache->capacity());
    std::abort();
  }
  for (int i = 0; i < T; i++) {
    if (tokens[i] >= static_cast<uint32_t>(cfg_.vocab_size)) {
      std::fprintf(stderr, "finmerge: token %u is not below the model's vocab_size %d\n", tokens[i],
                   cfg_.vocab_size);
      std::abort();
    }
  }
  const int first_logit = T - logit_rows;  // rows >= first_logit get logits
  for (int c0 = 0; c0 < T; c0 += max_rows_) {
    const int c1 = std::min(T, c0 + max_rows_);
    const int rows = std::max(0, c1 - std::max(c0, first_logit));
    float* out =
        rows ? logits + static_cast<int64_t>(std::max(c0, first_logit) - first_logit) * cfg_.vocab_size
             : nullptr;
    ForwardChunk(cache, tokens + c0, c1 - c0, out, rows);
  }
}

void Inference::ForwardChunk(KvCache* cache, const uint32_t* tokens, int T, float* logits, int logit_rows) {
  const int C = cfg_.hidden_size, QKV = cfg_.qkv_dim(), QD = cfg_.q_dim(), FF = cfg_.intermediate_size;
  const int NH = cfg_.num_heads, NKV = cfg_.num_kv_heads, HD = cfg_.head_dim, KD = cfg_.kv_dim();
  const int P = cache->length(), cap = cache->capacity(), half = HD / 2;
  const float eps = cfg_.rms_eps;
  ModelParams p = model_->param_views();
  float *x = x_.data(), *ln = ln_.data(), *qkv = qkv_.data(), *att = att_.data();
  embedding_forward(x, tokens, p.embed, T, C);
  for (int l = 0; l < cfg_.num_layers; l++) {
    const LayerParams& w = p.layers[l];
    rmsnorm_forward(ln, rstd_.data(), x, w.attn_norm, T, 1, C, C, eps);
    Linear(qkv, ln, w.qkv_w, w.qkv_b, T, C, QKV, false);
    if (cfg_.qk_norm) {  // in place: each row is reduced before it is overwritten
      rmsnorm_forward(qkv, rstd_.data(), qkv, w.q_norm, T, NH, HD, QKV, eps);
      rmsnorm_forward(qkv + QD, rstd_.data(), qkv + QD, w.k_norm, T, NKV, HD, QKV, eps);
    }
    rope_forward(qkv, cos_.data() + static_cast<int64_t>(P) * half,
                 sin_.data() + static_cast<int64_t>(P) * half, 1, T, NH + NKV, HD,
                 QKV);  // q and k heads are adjacent
    float* kc = cache->k(l);
    float* vc = cache->v(l);
#pragma omp parallel for collapse(2) schedule(static)
    for (int t = 0; t < T; t++) {
      for (int h = 0; h < NKV; h++) {
        const float* row = qkv + static_cast<int64_t>(t) * QKV + QD + static_cast<int64_t>(h) * HD;
        const int64_t dst = (static_cast<int64_t>(h) * cap + P + t) * HD;
        std::memcpy(kc + dst, row, sizeof(float) * HD);
        std::memcpy(vc + dst, row + KD, sizeof(float) * HD);
      }
    }
    attention_cached_forward(att, qkv, QKV, kc, vc, cap, P, T, NH, NKV, HD, cfg_.sliding_window,
                             scores_.data(), max_context_);
    Linear(x, att, w.o_w, w.o_b, T, QD, C, true);  // x += o_proj(att)
    rmsnorm_forward(ln, rstd_.data(), x, w.mlp_norm, T, 1, C, C, eps);
    Linear(gate_up_.data(), ln, w.gate_up_w, nullptr, T, C, 2 * FF, false);
    swiglu_forward(h_.data(), gate_up_.data(), T, FF);
    Linear(x, h_.data(), w.down_w, nullptr, T, FF, C, true);  // x += down_proj(h)
  }
  cache->set_length(P + T);
  if (logit_rows == 0) return;
  const float* last = x + static_cast<int64_t>(T - logit_rows) * C;
  rmsnorm_forward(ln, rstd_.data(), last, p.final_norm, logit_rows, 1, C, C, eps);
  Linear(logits, ln, p.lm_head, nullptr, logit_rows, C, cfg_.vocab_size, false);
}

}  // namespace fm
