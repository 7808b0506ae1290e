// Matmul: the one GEMM every layer calls, row-major C (M, N) (+)= op(A) (M, K) @ op(B) (K, N).
//
// Precision::kF32 runs OpenBLAS cblas_sgemm. Precision::kBF16 rounds both operands to bf16 and runs a oneDNN
// matmul with f32 accumulation into an f32 C (oneDNN primitives are built once per shape and cached).
// Operands that lie inside a region registered with BindBf16Mirror (the model's weights) are read from their
// bf16 mirror instead of being converted on every call; other operands are converted into scratch owned by
// the Matmul.
//
// Not thread-safe: call from one thread (the GEMMs themselves use all cores).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <tuple>
#include <vector>

namespace fm {

enum class Precision { kF32, kBF16 };  // kBF16: bf16 GEMM inputs, f32 accumulation, f32 master weights

// True when the CPU multiplies bf16 natively (AVX512-BF16 or AMX-BF16); the trainer's default precision.
bool CpuHasBf16();

class Matmul {
 public:
  Matmul();
  ~Matmul();
  Matmul(const Matmul&) = delete;
  Matmul& operator=(const Matmul&) = delete;

  void set_precision(Precision p) { precision_ = p; }
  Precision precision() const { return precision_; }

  // f32 region [base, base + n) has an up-to-date bf16 copy at `mirror` (used in kBF16 mode). One region.
  void BindBf16Mirror(const float* base, const uint16_t* mirror, size_t n);

  // C (M, N) = op(A) @ op(B), or C += op(A) @ op(B) when `accumulate`. op(A) is A (M, K) or, with trans_a,
  // the transpose of A stored as (K, M); likewise op(B) is B (K, N) or, with trans_b, B stored as (N, K).
  void Gemm(bool trans_a, bool trans_b, int M, int N, int K, const float* A, const float* B, float* C,
            bool accumulate);

 private:
  struct Dnnl;
  const uint16_t* Bf16Operand(const float* x, size_t n, int slot);
  Precision precision_ = Precision::kF32;
  const float* mirror_base_ = nullptr;
  const uint16_t* mirror_ = nullptr;
  size_t mirror_n_ = 0;
  std::vector<uint16_t> scratch_[2];  // bf16 copies of non-weight operands (grown, then reused)
  std::unique_ptr<Dnnl> dnnl_;
};

}  // namespace fm
