#!/usr/bin/env bash
# Merge benchmark: finmerge chat-vector vs the same merge in numpy vs the I/O floor, on three ~0.37B-parameter
# bf16 checkpoints generated here. Prints a table (wall time, throughput, peak RSS).
# Usage: bash bench/merge.sh [--hidden 1024 --layers 24 --ff 2816 --vocab 32000]   (run `make build` first)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
OUT=${BENCH_OUT:-bench/out/merge}
mkdir -p "$OUT"
if [[ ! -f "$OUT/models/cpt/model.safetensors" ]]; then
  echo "generating checkpoints in $OUT/models ..."
  /usr/bin/python3 bench/make_checkpoints.py "$OUT/models" "$@"
fi
/usr/bin/python3 bench/run_merge_bench.py "$OUT"
