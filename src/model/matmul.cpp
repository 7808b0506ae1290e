#include "model/matmul.h"

#include <cblas.h>
#include <cpuid.h>

#include <oneapi/dnnl/dnnl.hpp>

#include "base/dtype.h"

namespace fm {

bool CpuHasBf16() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid_max(0, nullptr) < 7) return false;
  __cpuid_count(7, 0, a, b, c, d);
  const bool amx_bf16 = (d >> 22) & 1u;
  __cpuid_count(7, 1, a, b, c, d);
  const bool avx512_bf16 = (a >> 5) & 1u;
  // The OS must also save the AVX-512 state; __builtin_cpu_supports checks that (via xgetbv).
  return (avx512_bf16 && __builtin_cpu_supports("avx512f")) || amx_bf16;
}

struct Matmul::Dnnl {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  struct Prim {
    dnnl::matmul matmul;
    dnnl::memory::desc a, b, c;
  };
  // (M, N, K, trans_a, trans_b, accumulate) -> primitive.
  std::map<std::tuple<int, int, int, bool, bool, bool>, Prim> cache;
  bool unavailable = false;  // bf16 matmul not creatable on this CPU: emulate with rounded f32 operands
  std::vector<float> emulated[2];

  const Prim* Get(int M, int N, int K, bool ta, bool tb, bool acc) {
    auto key = std::make_tuple(M, N, K, ta, tb, acc);
    auto it = cache.find(key);
    if (it != cache.end()) return &it->second;
    using dt = dnnl::memory::data_type;
    using dims = dnnl::memory::dims;
    Prim p;
    p.a = dnnl::memory::desc(dims{M, K}, dt::bf16, ta ? dims{1, M} : dims{K, 1});
    p.b = dnnl::memory::desc(dims{K, N}, dt::bf16, tb ? dims{1, K} : dims{N, 1});
    p.c = dnnl::memory::desc(dims{M, N}, dt::f32, dims{N, 1});
    dnnl::primitive_attr attr;
    if (acc) {
      dnnl::post_ops po;
      po.append_sum(1.0f);
      attr.set_post_ops(po);
    }
    try {
      dnnl::matmul::desc d(p.a, p.b, p.c);
      dnnl::matmul::primitive_desc pd(d, attr, engine);
      p.matmul = dnnl::matmul(pd);
    } catch (const dnnl::error&) {
      unavailable = true;
      return nullptr;
    }
    return &cache.emplace(key, std::move(p)).first->second;
  }
};

Matmul::Matmul() = default;
Matmul::~Matmul() = default;

void Matmul::BindBf16Mirror(const float* base, const uint16_t* mirror, size_t n) {
  mirror_base_ = base;
  mirror_ = mirror;
  mirror_n_ = n;
}

const uint16_t* Matmul::Bf16Operand(const float* x, size_t n, int slot) {
  if (mirror_ && x >= mirror_base_ && x + n <= mirror_base_ + mirror_n_) return mirror_ + (x - mirror_base_);
  std::vector<uint16_t>& s = scratch_[slot];
  if (s.size() < n) s.resize(n);
  uint16_t* out = s.data();
#pragma omp parallel for simd schedule(static)
  for (size_t i = 0; i < n; i++) out[i] = F32ToBf16(x[i]);
  return out;
}

void Matmul::Gemm(bool trans_a, bool trans_b, int M, int N, int K, const float* A, const float* B, float* C,
                  bool accumulate) {
  if (M == 0 || N == 0) return;
  if (precision_ == Precision::kF32 || K == 0) {
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N,
                K, 1.0f, A, trans_a ? M : K, B, trans_b ? K : N, accumulate ? 1.0f : 0.0f, C, N);
    return;
  }
  if (!dnnl_) dnnl_ = std::make_unique<Dnnl>();
  const uint16_t* a16 = Bf16Operand(A, static_cast<size_t>(M) * K, 0);
  const uint16_t* b16 = Bf16Operand(B, static_cast<size_t>(K) * N, 1);
  const Dnnl::Prim* p = dnnl_->unavailable ? nullptr : dnnl_->Get(M, N, K, trans_a, trans_b, accumulate);
  if (!p) {
    // Same arithmetic without bf16 hardware support: bf16-rounded operands, f32 products and sums.
    const uint16_t* src[2] = {a16, b16};
    const size_t n[2] = {static_cast<size_t>(M) * K, static_cast<size_t>(K) * N};
    for (int s = 0; s < 2; s++) {
      std::vector<float>& e = dnnl_->emulated[s];
      if (e.size() < n[s]) e.resize(n[s]);
      for (size_t i = 0; i < n[s]; i++) e[i] = Bf16ToF32(src[s][i]);
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N,
                K, 1.0f, dnnl_->emulated[0].data(), trans_a ? M : K, dnnl_->emulated[1].data(),
                trans_b ? K : N, accumulate ? 1.0f : 0.0f, C, N);
    return;
  }
  dnnl::memory am(p->a, dnnl_->engine, const_cast<uint16_t*>(a16));
  dnnl::memory bm(p->b, dnnl_->engine, const_cast<uint16_t*>(b16));
  dnnl::memory cm(p->c, dnnl_->engine, C);
  p->matmul.execute(dnnl_->stream, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}});
  dnnl_->stream.wait();
}

}  // namespace fm
