#!/usr/bin/env bash
# Training benchmark: `finmerge cpt` in fp32 and bf16 against a plain PyTorch fp32 eager implementation of the
# same model (bench/train_torch.py, same threads, same weights, data and schedule), on a ~25.8M-parameter Llama
# (hidden 512, 6 layers, vocab 8192), batch 8 x seq 256. Prints tokens/s, model FLOPs utilisation against the
# fp32 and bf16 GEMM peaks measured here (bench/gemm_peak_bench.cpp), peak RSS, and each trainer's losses.
# Usage: bash bench/train.sh [STEPS] [THREADS]     defaults 20 steps, all cores
#        FINMERGE=build-x/finmerge bash bench/train.sh   (the gemm_peak_bench beside it is used too)
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${1:-20}
THREADS=${2:-$(nproc)}
FINMERGE=${FINMERGE:-build/finmerge}
BUILD=$(dirname "$FINMERGE")
if [[ -z ${BENCH_NO_DEPS:-} ]]; then bash scripts/install-deps.sh; fi
if [[ ! -x $FINMERGE || ! -x $BUILD/gemm_peak_bench ]]; then
  cmake --build "$BUILD" --target finmerge gemm_peak_bench
fi
OUT=${BENCH_OUT:-bench/out/train}
mkdir -p "$OUT"
if [[ ! -f $OUT/data/val_00000.bin ]]; then
  /usr/bin/python3 bench/make_train_data.py "$OUT"
fi
/usr/bin/python3 bench/run_train_bench.py "$OUT" "$FINMERGE" "$BUILD/gemm_peak_bench" "$STEPS" "$THREADS"
