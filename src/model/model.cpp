#include "model/model.h"

#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include "io/safetensors_writer.h"
#include "model/kernels.h"

namespace fm {

// Named, not anonymous: Model::Impl (external linkage) holds these types, and a unity build would otherwise
// warn (-Wsubobject-linkage).
namespace model_detail {

constexpr size_t kNone = static_cast<size_t>(-1);
// The fused LM head works on at most this many logits at a time (64 MB).
constexpr int64_t kLogitChunkFloats = int64_t{1} << 24;

// One 64-byte aligned allocation.
template <typename T>
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  ~AlignedBuffer() { std::free(ptr_); }
  void Allocate(size_t n) {
    std::free(ptr_);
    size_t bytes = (n * sizeof(T) + 63) / 64 * 64;
    ptr_ = static_cast<T*>(std::aligned_alloc(64, bytes > 0 ? bytes : 64));
    if (!ptr_) {
      std::fprintf(stderr, "finmerge: out of memory allocating %zu bytes for the model\n", bytes);
      std::abort();
    }
    n_ = n;
  }
  T* get() const { return ptr_; }
  size_t size() const { return n_; }

 private:
  T* ptr_ = nullptr;
  size_t n_ = 0;
};

struct LayerOffsets {
  size_t attn_norm = kNone, qkv_w = kNone, qkv_b = kNone, q_norm = kNone, k_norm = kNone, o_w = kNone,
         o_b = kNone, mlp_norm = kNone, gate_up_w = kNone, down_w = kNone;
};

std::string ForLayer(const std::string& pattern, int l) {
  std::string s = pattern;
  size_t p = s.find("{L}");
  if (p != std::string::npos) s.replace(p, 3, std::to_string(l));
  return s;
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

const char* TorchDTypeName(DType t) {
  switch (t) {
    case DType::kBF16:
      return "bfloat16";
    case DType::kF16:
      return "float16";
    case DType::kF64:
      return "float64";
    default:
      return "float32";
  }
}

}  // namespace model_detail
using namespace model_detail;

struct Model::Impl {
  ArchConfig cfg;
  std::vector<ParamTensor> tensors;
  size_t embed = kNone, final_norm = kNone, lm_head = kNone;
  std::vector<LayerOffsets> layers;
  AlignedBuffer<float> params, grads;
  AlignedBuffer<uint16_t> params_bf16;  // bf16 mirror of params, refreshed every forward in kBF16
  Matmul mm;
  std::vector<float> inv_freq;  // (HD/2)

  // Activations, llm.c style: one allocation carved into named buffers, sized for cap_n rows and cap_t steps.
  struct LayerActs {
    float* ln1;       // (N, C)
    float* ln1_rstd;  // (N)
    float* qkv;       // (N, QKV) projection output (+ bias); q, k roped in place unless qk_norm
    float* qkvr;      // (N, QKV) the attention's input: == qkv, or normalised+roped copy when qk_norm
    float* q_rstd;    // (N, NH) qk_norm only
    float* k_rstd;    // (N, NKV) qk_norm only
    float* att;       // (N, NH*HD) attention output before o_proj
    float* lse;       // (B, NH, T)
    float* res_mid;   // (N, C) residual after attention
    float* ln2;       // (N, C)
    float* ln2_rstd;  // (N)
    float* gate_up;   // (N, 2*FF)
    float* h;         // (N, FF) silu(gate) * up
  };
  struct Acts {
    int cap_n = 0, cap_t = 0, threads = 0;
    bool backward = false;
    AlignedBuffer<float> mem;
    std::vector<float*>
        res;  // L+1 residual streams (N, C): res[l] is layer l's input, res[L] the last output
    std::vector<LayerActs> layers;
    float *lnf = nullptr, *lnf_rstd = nullptr, *losses = nullptr;  // (N, C), (N), (N)
    float* logits = nullptr;                                       // (chunk_rows, V)
    int chunk_rows = 0;
    float *att_scratch = nullptr, *rope_cos = nullptr, *rope_sin = nullptr;  // (threads*T), (T, HD/2) x2
    // Backward scratch, reused by every layer.
    float *dres = nullptr, *dln = nullptr, *dqkv = nullptr, *datt = nullptr, *dgate_up = nullptr,
          *dh = nullptr;  // (N, C), (N, C), (N, QKV), (N, NH*HD), (N, 2*FF), (N, FF)
  } acts;

  Status BuildLayout(const ArchConfig& c);
  LayerParams Layer(float* base, int l) const;
  ModelParams Views(float* base) const;
  void EnsureGrads();
  void EnsureActs(int B, int T, bool backward);
  void CheckTokens(const uint32_t* tokens, int64_t n, bool allow_ignore, const char* what) const;
  void Forward(const uint32_t* inputs, int B, int T, bool backward);
  void Backward(const uint32_t* inputs, int B, int T);
};

Status Model::Impl::BuildLayout(const ArchConfig& c) {
  cfg = c;
  const ArchTensorNames& names = TensorNames(cfg);
  const int64_t V = cfg.vocab_size, C = cfg.hidden_size, FF = cfg.intermediate_size, HD = cfg.head_dim;
  size_t total = 0;
  auto add = [&](const std::string& name, std::vector<int64_t> shape, bool decay) {
    ParamTensor t;
    t.name = name;
    t.shape = std::move(shape);
    t.numel = 1;
    for (int64_t d : t.shape) t.numel *= static_cast<size_t>(d);
    t.offset = total;
    t.decay = decay;
    total += t.numel;
    tensors.push_back(t);
    return t.offset;
  };
  // Adds the parts of a fused matrix back to back (rows of each part given); returns the first part's offset.
  auto add_fused = [&](const std::vector<std::string>& parts, const std::vector<int64_t>& rows, int64_t cols,
                       const char* suffix, int l, bool decay) {
    size_t first = total;
    if (parts.size() == 1) {
      int64_t sum = 0;
      for (int64_t r : rows) sum += r;
      add(ForLayer(parts[0], l) + suffix, cols ? std::vector<int64_t>{sum, cols} : std::vector<int64_t>{sum},
          decay);
    } else {
      for (size_t i = 0; i < parts.size(); i++) {
        add(ForLayer(parts[i], l) + suffix,
            cols ? std::vector<int64_t>{rows[i], cols} : std::vector<int64_t>{rows[i]}, decay);
      }
    }
    return first;
  };
  const std::vector<int64_t> qkv_rows = {cfg.q_dim(), cfg.kv_dim(), cfg.kv_dim()};
  embed = add(names.embed + ".weight", {V, C}, true);
  layers.assign(cfg.num_layers, LayerOffsets());
  for (int l = 0; l < cfg.num_layers; l++) {
    LayerOffsets& o = layers[l];
    o.attn_norm = add(ForLayer(names.attn_norm, l) + ".weight", {C}, false);
    o.qkv_w = add_fused(names.qkv, qkv_rows, C, ".weight", l, true);
    if (cfg.qkv_bias) o.qkv_b = add_fused(names.qkv, qkv_rows, 0, ".bias", l, false);
    if (cfg.qk_norm) {
      o.q_norm = add(ForLayer(names.q_norm, l) + ".weight", {HD}, false);
      o.k_norm = add(ForLayer(names.k_norm, l) + ".weight", {HD}, false);
    }
    o.o_w = add(ForLayer(names.o_proj, l) + ".weight", {C, cfg.q_dim()}, true);
    if (cfg.o_bias) o.o_b = add(ForLayer(names.o_proj, l) + ".bias", {C}, false);
    o.mlp_norm = add(ForLayer(names.mlp_norm, l) + ".weight", {C}, false);
    o.gate_up_w = add_fused(names.gate_up, {FF, FF}, C, ".weight", l, true);
    o.down_w = add(ForLayer(names.down, l) + ".weight", {C, FF}, true);
  }
  final_norm = add(names.final_norm + ".weight", {C}, false);
  lm_head = cfg.tie_word_embeddings ? embed : add(names.lm_head + ".weight", {V, C}, true);
  params.Allocate(total);
  inv_freq.resize(cfg.head_dim / 2);
  rope_inv_freq(inv_freq.data(), cfg.head_dim, cfg.rope_theta, cfg.rope_llama3, cfg.rope_factor,
                cfg.rope_low_freq, cfg.rope_high_freq, cfg.rope_original_max_position);
  return Status::Ok();
}

LayerParams Model::Impl::Layer(float* base, int l) const {
  const LayerOffsets& o = layers[l];
  auto p = [base](size_t off) { return off == kNone ? nullptr : base + off; };
  return LayerParams{p(o.attn_norm), p(o.qkv_w), p(o.qkv_b),    p(o.q_norm),    p(o.k_norm),
                     p(o.o_w),       p(o.o_b),   p(o.mlp_norm), p(o.gate_up_w), p(o.down_w)};
}

ModelParams Model::Impl::Views(float* base) const {
  ModelParams m;
  m.embed = base + embed;
  m.final_norm = base + final_norm;
  m.lm_head = base + lm_head;
  for (int l = 0; l < cfg.num_layers; l++) m.layers.push_back(Layer(base, l));
  return m;
}

void Model::Impl::EnsureGrads() {
  if (grads.get()) return;
  grads.Allocate(params.size());
  std::memset(grads.get(), 0, sizeof(float) * params.size());
}

void Model::Impl::EnsureActs(int B, int T, bool backward) {
  const int64_t N = static_cast<int64_t>(B) * T;
  const int threads = omp_get_max_threads();
  if (N <= acts.cap_n && T <= acts.cap_t && threads <= acts.threads && (acts.backward || !backward)) return;
  const int64_t n = std::max<int64_t>(N, acts.cap_n), t = std::max(T, acts.cap_t);
  const bool bwd = backward || acts.backward;
  const int64_t C = cfg.hidden_size, QKV = cfg.qkv_dim(), QD = cfg.q_dim(), FF = cfg.intermediate_size;
  const int64_t NH = cfg.num_heads, NKV = cfg.num_kv_heads, HD = cfg.head_dim, V = cfg.vocab_size;
  const int64_t chunk = std::min<int64_t>(n, std::max<int64_t>(64, kLogitChunkFloats / V));
  // Two passes over the same carving: the first sizes the allocation, the second hands out pointers.
  for (int pass = 0; pass < 2; pass++) {
    float* base = pass == 0 ? nullptr : acts.mem.get();
    size_t used = 0;
    auto take = [&](int64_t count) {
      float* p = base ? base + used : nullptr;
      used += (static_cast<size_t>(count) + 15) / 16 * 16;  // keep every buffer 64-byte aligned
      return p;
    };
    acts.res.assign(cfg.num_layers + 1, nullptr);
    acts.layers.assign(cfg.num_layers, LayerActs{});
    acts.res[0] = take(n * C);
    for (int l = 0; l < cfg.num_layers; l++) {
      LayerActs& a = acts.layers[l];
      a.ln1 = take(n * C);
      a.ln1_rstd = take(n);
      a.qkv = take(n * QKV);
      a.qkvr = cfg.qk_norm ? take(n * QKV) : a.qkv;
      a.q_rstd = cfg.qk_norm ? take(n * NH) : nullptr;
      a.k_rstd = cfg.qk_norm ? take(n * NKV) : nullptr;
      a.att = take(n * QD);
      a.lse = take(n * NH);
      a.res_mid = take(n * C);
      a.ln2 = take(n * C);
      a.ln2_rstd = take(n);
      a.gate_up = take(n * 2 * FF);
      a.h = take(n * FF);
      acts.res[l + 1] = take(n * C);
    }
    acts.lnf = take(n * C);
    acts.lnf_rstd = take(n);
    acts.losses = take(n);
    acts.logits = take(chunk * V);
    acts.att_scratch = take(attention_scratch_floats(static_cast<int>(t)));
    acts.rope_cos = take(t * HD / 2);
    acts.rope_sin = take(t * HD / 2);
    if (bwd) {
      acts.dres = take(n * C);
      acts.dln = take(n * C);
      acts.dqkv = take(n * QKV);
      acts.datt = take(n * QD);
      acts.dgate_up = take(n * 2 * FF);
      acts.dh = take(n * FF);
    }
    if (pass == 0) acts.mem.Allocate(used);
  }
  acts.cap_n = static_cast<int>(n);
  acts.cap_t = static_cast<int>(t);
  acts.threads = threads;
  acts.backward = bwd;
  acts.chunk_rows = static_cast<int>(chunk);
  rope_tables(acts.rope_cos, acts.rope_sin, inv_freq.data(), static_cast<int>(t), cfg.head_dim, 0);
}

void Model::Impl::CheckTokens(const uint32_t* tokens, int64_t n, bool allow_ignore, const char* what) const {
  for (int64_t i = 0; i < n; i++) {
    if (tokens[i] < static_cast<uint32_t>(cfg.vocab_size)) continue;
    if (allow_ignore && tokens[i] == kIgnoreTarget) continue;
    std::fprintf(
        stderr, "finmerge: %s[%lld] = %u is not below the model's vocab_size %d (tokenizer/model mismatch)\n",
        what, static_cast<long long>(i), tokens[i], cfg.vocab_size);
    std::abort();
  }
}

void Model::Impl::Forward(const uint32_t* inputs, int B, int T, bool backward) {
  const int N = B * T, C = cfg.hidden_size, QKV = cfg.qkv_dim(), QD = cfg.q_dim(), FF = cfg.intermediate_size;
  const int NH = cfg.num_heads, NKV = cfg.num_kv_heads, HD = cfg.head_dim;
  CheckTokens(inputs, N, false, "inputs");
  EnsureActs(B, T, backward);
  if (mm.precision() == Precision::kBF16) {
    if (!params_bf16.get()) params_bf16.Allocate(params.size());
    const float* src = params.get();
    uint16_t* dst = params_bf16.get();
    const size_t n = params.size();
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) dst[i] = F32ToBf16(src[i]);
    mm.BindBf16Mirror(src, dst, n);
  }
  ModelParams p = Views(params.get());
  embedding_forward(acts.res[0], inputs, p.embed, N, C);
  for (int l = 0; l < cfg.num_layers; l++) {
    const LayerParams& w = p.layers[l];
    LayerActs& a = acts.layers[l];
    float* res = acts.res[l];
    rmsnorm_forward(a.ln1, a.ln1_rstd, res, w.attn_norm, N, 1, C, C, cfg.rms_eps);
    matmul_forward(mm, a.qkv, a.ln1, w.qkv_w, w.qkv_b, N, C, QKV, false);
    if (cfg.qk_norm) {
      rmsnorm_forward(a.qkvr, a.q_rstd, a.qkv, w.q_norm, N, NH, HD, QKV, cfg.rms_eps);
      rmsnorm_forward(a.qkvr + QD, a.k_rstd, a.qkv + QD, w.k_norm, N, NKV, HD, QKV, cfg.rms_eps);
      const int64_t voff = QD + static_cast<int64_t>(NKV) * HD;
#pragma omp parallel for schedule(static)
      for (int n = 0; n < N; n++) {
        std::memcpy(a.qkvr + n * int64_t{QKV} + voff, a.qkv + n * int64_t{QKV} + voff,
                    sizeof(float) * NKV * HD);
      }
    }
    rope_forward(a.qkvr, acts.rope_cos, acts.rope_sin, B, T, NH + NKV, HD,
                 QKV);  // q and k heads are adjacent
    attention_forward(a.att, a.lse, a.qkvr, B, T, NH, NKV, HD, cfg.sliding_window, acts.att_scratch);
    std::memcpy(a.res_mid, res, sizeof(float) * N * C);
    matmul_forward(mm, a.res_mid, a.att, w.o_w, w.o_b, N, QD, C, true);  // res_mid = res + o_proj(att)
    rmsnorm_forward(a.ln2, a.ln2_rstd, a.res_mid, w.mlp_norm, N, 1, C, C, cfg.rms_eps);
    matmul_forward(mm, a.gate_up, a.ln2, w.gate_up_w, nullptr, N, C, 2 * FF, false);
    swiglu_forward(a.h, a.gate_up, N, FF);
    std::memcpy(acts.res[l + 1], a.res_mid, sizeof(float) * N * C);
    matmul_forward(mm, acts.res[l + 1], a.h, w.down_w, nullptr, N, FF, C, true);  // += down_proj(h)
  }
  rmsnorm_forward(acts.lnf, acts.lnf_rstd, acts.res[cfg.num_layers], p.final_norm, N, 1, C, C, cfg.rms_eps);
}

// Backward from acts.dln = d(loss)/d(lnf), which the fused LM head has written.
void Model::Impl::Backward(const uint32_t* inputs, int B, int T) {
  const int N = B * T, C = cfg.hidden_size, QKV = cfg.qkv_dim(), QD = cfg.q_dim(), FF = cfg.intermediate_size;
  const int NH = cfg.num_heads, NKV = cfg.num_kv_heads, HD = cfg.head_dim;
  ModelParams p = Views(params.get());
  ModelParams g = Views(grads.get());
  Acts& A = acts;
  rmsnorm_backward(A.dres, g.final_norm, A.dln, A.res[cfg.num_layers], p.final_norm, A.lnf_rstd, N, 1, C, C,
                   false);
  for (int l = cfg.num_layers - 1; l >= 0; l--) {
    const LayerParams& w = p.layers[l];
    const LayerParams& gw = g.layers[l];
    const LayerActs& a = A.layers[l];
    // MLP branch: res[l+1] = res_mid + down(swiglu(gate_up(rmsnorm(res_mid)))). dres is d(res[l+1]).
    matmul_backward(mm, A.dh, gw.down_w, nullptr, A.dres, a.h, w.down_w, N, FF, C);
    swiglu_backward(A.dgate_up, A.dh, a.gate_up, N, FF);
    matmul_backward(mm, A.dln, gw.gate_up_w, nullptr, A.dgate_up, a.ln2, w.gate_up_w, N, C, 2 * FF);
    rmsnorm_backward(A.dres, gw.mlp_norm, A.dln, a.res_mid, w.mlp_norm, a.ln2_rstd, N, 1, C, C, true);
    // Attention branch: res_mid = res[l] + o(attention(rope(qknorm(qkv(rmsnorm(res[l])))))).
    matmul_backward(mm, A.datt, gw.o_w, gw.o_b, A.dres, a.att, w.o_w, N, QD, C);
    attention_backward(A.dqkv, A.datt, a.qkvr, a.att, a.lse, B, T, NH, NKV, HD, cfg.sliding_window,
                       A.att_scratch);
    rope_backward(A.dqkv, A.rope_cos, A.rope_sin, B, T, NH + NKV, HD, QKV);
    if (cfg.qk_norm) {
      rmsnorm_backward(A.dqkv, gw.q_norm, A.dqkv, a.qkv, w.q_norm, a.q_rstd, N, NH, HD, QKV, false);
      rmsnorm_backward(A.dqkv + QD, gw.k_norm, A.dqkv + QD, a.qkv + QD, w.k_norm, a.k_rstd, N, NKV, HD, QKV,
                       false);
    }
    matmul_backward(mm, A.dln, gw.qkv_w, gw.qkv_b, A.dqkv, a.ln1, w.qkv_w, N, C, QKV);
    rmsnorm_backward(A.dres, gw.attn_norm, A.dln, A.res[l], w.attn_norm, a.ln1_rstd, N, 1, C, C, true);
  }
  embedding_backward(g.embed, A.dres, inputs, N, C);
}

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::~Model() = default;

const ArchConfig& Model::config() const {
  return impl_->cfg;
}
const std::vector<ParamTensor>& Model::param_tensors() const {
  return impl_->tensors;
}
size_t Model::num_parameters() const {
  return impl_->params.size();
}
float* Model::params() {
  return impl_->params.get();
}
const float* Model::params() const {
  return impl_->params.get();
}
Precision Model::precision() const {
  return impl_->mm.precision();
}
void Model::set_precision(Precision p) {
  impl_->mm.set_precision(p);
}

const ParamTensor* Model::FindParam(const std::string& name) const {
  for (const ParamTensor& t : impl_->tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

float* Model::grads() {
  impl_->EnsureGrads();
  return impl_->grads.get();
}

void Model::ZeroGrad() {
  impl_->EnsureGrads();
  float* g = impl_->grads.get();
  const size_t n = impl_->grads.size();
#pragma omp parallel for simd schedule(static)
  for (size_t i = 0; i < n; i++) g[i] = 0.0f;
}

ModelParams Model::param_views() {
  return impl_->Views(impl_->params.get());
}
ModelParams Model::grad_views() {
  return impl_->Views(grads());
}

float Model::ForwardBackward(const uint32_t* inputs, const uint32_t* targets, int B, int T,
                             float loss_scale) {
  const int N = B * T;
  impl_->CheckTokens(targets, N, true, "targets");
  int64_t count = 0;
  for (int i = 0; i < N; i++) count += targets[i] != kIgnoreIndex;
  impl_->EnsureGrads();
  impl_->Forward(inputs, B, T, true);
  if (count == 0) return 0.0f;
  Impl::Acts& A = impl_->acts;
  const ArchConfig& c = impl_->cfg;
  ModelParams p = impl_->Views(impl_->params.get());
  ModelParams g = impl_->Views(impl_->grads.get());
  lm_head_loss(impl_->mm, A.losses, A.dln, g.lm_head, A.lnf, p.lm_head, targets, N, c.hidden_size,
               c.vocab_size, loss_scale / static_cast<float>(count), A.logits, A.chunk_rows);
  double sum = 0;
  for (int i = 0; i < N; i++) sum += A.losses[i];
  impl_->Backward(inputs, B, T);
  return static_cast<float>(sum / static_cast<double>(count));
}

float Model::ForwardLoss(const uint32_t* inputs, const uint32_t* targets, int B, int T, double* nll_sum,
                         int64_t* count) {
  const int N = B * T;
  impl_->CheckTokens(targets, N, true, "targets");
  int64_t n_scored = 0;
  for (int i = 0; i < N; i++) n_scored += targets[i] != kIgnoreIndex;
  impl_->Forward(inputs, B, T, false);
  Impl::Acts& A = impl_->acts;
  const ArchConfig& c = impl_->cfg;
  ModelParams p = impl_->Views(impl_->params.get());
  lm_head_loss(impl_->mm, A.losses, nullptr, nullptr, A.lnf, p.lm_head, targets, N, c.hidden_size,
               c.vocab_size, 0.0f, A.logits, A.chunk_rows);
  double sum = 0;
  for (int i = 0; i < N; i++) sum += A.losses[i];
  if (nll_sum) *nll_sum = sum;
  if (count) *count = n_scored;
  return n_scored ? static_cast<float>(sum / static_cast<double>(n_scored)) : 0.0f;
}

void Model::ForwardLogits(const uint32_t* inputs, int B, int T, float* logits) {
  impl_->Forward(inputs, B, T, false);
  const ArchConfig& c = impl_->cfg;
  impl_->mm.Gemm(false, true, B * T, c.vocab_size, c.hidden_size, impl_->acts.lnf,
                 impl_->params.get() + impl_->lm_head, logits, false);
}

Status Model::Random(const ArchConfig& cfg_in, uint64_t seed, std::unique_ptr<Model>* out) {
  const bool has_raw = cfg_in.raw.is_object() && !cfg_in.raw.empty();
  ArchConfig cfg;
  FM_RETURN_IF_ERROR(ParseArchConfig(has_raw ? cfg_in.raw : ArchConfigToJson(cfg_in), &cfg));
  auto impl = std::make_unique<Impl>();
  FM_RETURN_IF_ERROR(impl->BuildLayout(cfg));
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  float* p = impl->params.get();
  for (const ParamTensor& t : impl->tensors) {
    const bool is_norm = t.shape.size() == 1 && !EndsWith(t.name, ".bias");
    for (size_t i = 0; i < t.numel; i++) {
      p[t.offset + i] = t.shape.size() == 2 ? normal(rng) : (is_norm ? 1.0f : 0.0f);
    }
  }
  out->reset(new Model(std::move(impl)));
  return Status::Ok();
}

Status Model::FromFolder(const ModelFolder& folder, std::unique_ptr<Model>* out) {
  if (!folder.has_config()) {
    return Status::InvalidArgument(folder.path() + ": no config.json, so the architecture is unknown");
  }
  ArchConfig cfg;
  FM_RETURN_IF_ERROR(ParseArchConfig(folder.config().raw, &cfg).WithPrefix(folder.path()));
  auto impl = std::make_unique<Impl>();
  FM_RETURN_IF_ERROR(impl->BuildLayout(cfg));
  std::set<std::string> expected;
  for (ParamTensor& t : impl->tensors) {
    expected.insert(t.name);
    const TensorView* v = folder.Find(t.name);
    if (!v) {
      return Status::NotFound(folder.path() + ": tensor '" + t.name + "' is missing (expected in a " +
                              cfg.model_type + " model with this config.json)");
    }
    if (v->shape != t.shape) {
      return Status::InvalidArgument(folder.path() + ": tensor '" + t.name + "' has shape " +
                                     ShapeString(v->shape) + ", config.json implies " + ShapeString(t.shape));
    }
    if (!IsFloat(v->dtype)) {
      return Status::InvalidArgument(folder.path() + ": tensor '" + t.name + "' has dtype " +
                                     DTypeName(v->dtype) + " (expected F32, F16 or BF16)");
    }
    ToF32(v->data, v->dtype, impl->params.get() + t.offset, t.numel);
    t.source_dtype = v->dtype;
    folder.Release(*v);
  }
  const std::string lm_head = TensorNames(cfg).lm_head + ".weight";
  for (const std::string& name : folder.tensor_names()) {
    if (expected.count(name)) continue;
    // Precomputed RoPE buffers of old exports and the duplicate head of tied models carry no information.
    if (EndsWith(name, "rotary_emb.inv_freq") || (cfg.tie_word_embeddings && name == lm_head)) continue;
    return Status::InvalidArgument(folder.path() + ": unexpected tensor '" + name + "' for a " +
                                   cfg.model_type + " model (config.json and weights disagree?)");
  }
  out->reset(new Model(std::move(impl)));
  return Status::Ok();
}

Status Model::SaveWeights(const std::string& dir, const DType* dtype_override) const {
  if (dtype_override && *dtype_override != DType::kF32 && *dtype_override != DType::kF16 &&
      *dtype_override != DType::kBF16) {
    return Status::InvalidArgument(std::string("cannot save a model as ") + DTypeName(*dtype_override) +
                                   " (F32, F16 or BF16)");
  }
  const std::vector<ParamTensor>& tensors = impl_->tensors;
  std::vector<TensorSpec> specs;
  for (const ParamTensor& t : tensors) {
    specs.push_back({t.name, dtype_override ? *dtype_override : t.source_dtype, t.shape});
  }
  std::unique_ptr<SafetensorsWriter> w;
  FM_RETURN_IF_ERROR(SafetensorsWriter::Create(dir, specs, SafetensorsWriter::kDefaultMaxShardBytes, {}, &w));
  std::vector<uint8_t> buf;
  for (size_t i = 0; i < tensors.size(); i++) {
    const float* src = impl_->params.get() + tensors[i].offset;
    if (specs[i].dtype == DType::kF32) {
      FM_RETURN_IF_ERROR(w->WriteAll(i, src));
    } else {
      buf.resize(specs[i].nbytes());
      FromF32(src, specs[i].dtype, buf.data(), tensors[i].numel);
      FM_RETURN_IF_ERROR(w->WriteAll(i, buf.data()));
    }
  }
  FM_RETURN_IF_ERROR(w->Finish());
  nlohmann::json config = impl_->cfg.raw;
  if (dtype_override) config["torch_dtype"] = TorchDTypeName(*dtype_override);
  const std::string path = dir + "/config.json";
  std::ofstream f(path);
  f << config.dump(2) << "\n";
  if (!f) return Status::IOError(path + ": cannot write");
  return Status::Ok();
}

}  // namespace fm
