#!/usr/bin/env bash
# Inference benchmark: finmerge (fp32 and bf16) against a plain PyTorch fp32 eager implementation of the same
# ~25M-parameter Llama (hidden 512, 6 layers, vocab 8192), in one run, same threads. Prints one table:
#   multiple choice  scoring tokens/s: 40 questions x 4 choices (contexts ~200 tokens, shared by the choices)
#   distinct contexts scoring tokens/s: the same requests with every context different (no prefix sharing)
#   generation       decode tokens/s with a KV cache (greedy, 128-token prompt, 256 new tokens)
#   prompt prefill   tokens/s of the same prompt
# Scoring tokens are the tokens of the requests (context + continuation), as lm-evaluation-harness forwards
# them; PyTorch scores them the harness' way (each request whole, batches of 8 sorted by length).
# Usage: bash bench/eval.sh   (after `make build`; FINMERGE=path/to/finmerge, THREADS=n, NEW_TOKENS=n)
set -euo pipefail
cd "$(dirname "$0")/.."
FINMERGE=${FINMERGE:-build/finmerge}
OUT=${BENCH_OUT:-bench/out/eval}
THREADS=${THREADS:-$(nproc)}
NEW=${NEW_TOKENS:-256}
PY=/usr/bin/python3
export OMP_NUM_THREADS=$THREADS THREADS
[[ -x $FINMERGE ]] || { echo "bench/eval.sh: $FINMERGE not found (run make build, or set FINMERGE)" >&2; exit 1; }
mkdir -p "$OUT"
if [[ ! -f $OUT/model/model.safetensors ]]; then
  echo "writing the benchmark model and requests to $OUT ..." >&2
  $PY bench/eval_torch.py make "$OUT"
fi
# A 128-token prompt (the bench tokenizer has one token per byte).
PROMPT=$(head -c 2000 ../shared/data/general/tinyshakespeare.txt | tr -s '\n' ' ' | cut -c1-128)

rate() { sed -n 's/.*[( ]\([0-9.]*\) tokens\/s).*/\1/p' | tail -1; }
prefill_rate() { sed -n 's/.*prompt [0-9]* tokens in [0-9.]* s (\([0-9.]*\) tokens\/s).*/\1/p'; }
torch_prefill() { sed -n 's/.*prompt [0-9]* tokens (\([0-9.]*\) tokens\/s).*/\1/p'; }

declare -A R
for set in mc single; do
  echo "scoring $set.jsonl ..." >&2
  R[torch_$set]=$($PY bench/eval_torch.py score "$OUT" "$OUT/$set.jsonl" | rate)
  for p in fp32 bf16; do
    R[${p}_$set]=$("$FINMERGE" score --model "$OUT/model" --requests "$OUT/$set.jsonl" --precision $p \
      --out "$OUT/scores-$p-$set.jsonl" 2>&1 >/dev/null | grep '^score:' | rate)
  done
done
echo "generating ..." >&2
T=$($PY bench/eval_torch.py generate "$OUT" 128 "$NEW")
R[torch_gen]=$(echo "$T" | rate)
R[torch_pre]=$(echo "$T" | torch_prefill)
for p in fp32 bf16; do
  G=$("$FINMERGE" generate --model "$OUT/model" --prompt "$PROMPT" --max-new-tokens "$NEW" --ignore-eos \
    --precision $p 2>&1 >/dev/null | grep '^generate:')
  R[${p}_gen]=$(echo "$G" | rate)
  R[${p}_pre]=$(echo "$G" | prefill_rate)
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'; }
echo
echo "Inference, 27.4M-parameter Llama (hidden 512, 6 layers, vocab 8192), $THREADS threads, $(date -u +%F)"
printf '| %-36s | %14s | %14s | %14s | %9s | %9s |\n' "tokens/s" "PyTorch fp32" "finmerge fp32" "finmerge bf16" \
  "fp32/torch" "bf16/torch"
printf '|%s|%s|%s|%s|%s|%s|\n' "--------------------------------------" "----------------:" "----------------:" \
  "----------------:" "----------:" "----------:"
row() {
  printf '| %-36s | %14s | %14s | %14s | %9s | %9s |\n' "$1" "${R[torch_$2]}" "${R[fp32_$2]}" "${R[bf16_$2]}" \
    "$(ratio "${R[fp32_$2]}" "${R[torch_$2]}")" "$(ratio "${R[bf16_$2]}" "${R[torch_$2]}")"
}
row "scoring, multiple choice (4 choices)" mc
row "scoring, distinct contexts" single
row "generation (KV cache, decode)" gen
row "prompt prefill (128 tokens)" pre
