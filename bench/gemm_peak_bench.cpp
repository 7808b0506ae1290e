// GEMM peak probe for bench/train.sh: the best f32 (OpenBLAS) and bf16 (oneDNN, f32 accumulation) matrix
// multiply rates this machine reaches through finmerge's own Matmul, the denominators of the training
// benchmark's model-FLOPs utilisation.
//
// Usage: gemm_peak_bench [SECONDS_PER_SHAPE]   (threads: OMP_NUM_THREADS / OPENBLAS_NUM_THREADS)
// Prints one line per precision: "fp32_gflops 201.3 (M=2048 N=2048 K=2048)" and "bf16_gflops ...".
// Square 1024..2048 and the shapes of the benchmark model's largest training GEMMs (2048 rows x 512 x 1376,
// 2048 x 8192 x 512) are tried; the best rate of each precision is the peak. In bf16 both operands are read
// from a registered bf16 mirror, as the trainer reads its weights, so no conversion is timed.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <tuple>
#include <vector>

#include "base/dtype.h"
#include "model/matmul.h"

namespace {

// GFLOP/s of C (M, N) = A (M, K) @ B (K, N), repeated for about `seconds`.
double Rate(fm::Matmul& mm, int M, int N, int K, double seconds) {
  const size_t na = static_cast<size_t>(M) * K, nb = static_cast<size_t>(K) * N;
  std::vector<float> ab(na + nb), c(static_cast<size_t>(M) * N);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (float& x : ab) x = u(rng);
  std::vector<uint16_t> mirror(ab.size());
  for (size_t i = 0; i < ab.size(); i++) mirror[i] = fm::F32ToBf16(ab[i]);
  mm.BindBf16Mirror(ab.data(), mirror.data(), ab.size());
  const float* A = ab.data();
  const float* B = ab.data() + na;
  mm.Gemm(false, false, M, N, K, A, B, c.data(), false);  // warm-up (oneDNN builds its primitive)
  int reps = 0;
  const auto t0 = std::chrono::steady_clock::now();
  double dt = 0;
  do {
    mm.Gemm(false, false, M, N, K, A, B, c.data(), false);
    reps++;
    dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  } while (dt < seconds);
  mm.BindBf16Mirror(nullptr, nullptr, 0);
  return 2.0 * M * N * K * reps / dt / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 1.0;
  const std::vector<std::tuple<int, int, int>> shapes = {
      {1024, 1024, 1024}, {2048, 2048, 2048}, {2048, 1376, 512}, {2048, 512, 1376}, {2048, 8192, 512}};
  std::printf("threads %d, %s bf16\n", omp_get_max_threads(),
              fm::CpuHasBf16() ? "native" : "emulated (no AVX512-BF16/AMX)");
  for (fm::Precision p : {fm::Precision::kF32, fm::Precision::kBF16}) {
    fm::Matmul mm;
    mm.set_precision(p);
    double best = 0;
    std::tuple<int, int, int> best_shape;
    for (const auto& [M, N, K] : shapes) {
      const double r = Rate(mm, M, N, K, seconds);
      if (r > best) best = r, best_shape = {M, N, K};
    }
    std::printf("%s_gflops %.1f (M=%d N=%d K=%d)\n", p == fm::Precision::kF32 ? "fp32" : "bf16", best,
                std::get<0>(best_shape), std::get<1>(best_shape), std::get<2>(best_shape));
  }
  return 0;
}
