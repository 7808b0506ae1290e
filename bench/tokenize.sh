#!/usr/bin/env bash
# Tokenizer benchmark: `finmerge tokenize` (1 and 2 threads) vs Hugging Face's JS tokenizer (the test oracle),
# on >= 20 MB of text made by repeating the shared finance (FOMC statements) and general (tinyshakespeare) texts,
# with the real Qwen3 tokenizer. Prints a table. Usage: bash bench/tokenize.sh [MB]   (run `make build` first)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash tests/oracle/ensure-npm.sh
MB=${1:-20}
OUT=${BENCH_OUT:-bench/out/tokenize}
TOK=../shared/tokenizers/qwen3
mkdir -p "$OUT"
CORPUS=$OUT/corpus.txt
if [[ ! -f $CORPUS || $(stat -c %s "$CORPUS") -lt $((MB * 1000000)) ]]; then
  : > "$CORPUS"
  while [[ $(stat -c %s "$CORPUS") -lt $((MB * 1000000)) ]]; do
    for f in ../shared/data/fomc-statements/*.txt; do cat "$f"; printf '\n\n'; done >> "$CORPUS"
    cat ../shared/data/general/tinyshakespeare.txt >> "$CORPUS"; printf '\n\n' >> "$CORPUS"
  done
fi
BYTES=$(stat -c %s "$CORPUS")
run_fm() {  # threads -> seconds
  local start end
  rm -rf "$OUT/shards"
  start=$(date +%s.%N)
  OMP_NUM_THREADS=$1 build/finmerge tokenize --tokenizer "$TOK" "$CORPUS" --blank-line-docs -o "$OUT/shards" >/dev/null 2>&1
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN { print b - a }'
}
t1=$(run_fm 1)
t2=$(run_fm 2)
read -r js_mbs js_tokens < <(node bench/tokenize_oracle.mjs "$TOK" "$CORPUS")
calc() { awk "BEGIN { print $1 }"; }
fm1=$(calc "$BYTES / $t1 / 1000000")
fm2=$(calc "$BYTES / $t2 / 1000000")
printf '\ntokenize benchmark: %.1f MB (FOMC statements + tinyshakespeare, repeated), Qwen3 tokenizer, %s cores\n\n' \
  "$(calc "$BYTES / 1000000")" "$(nproc)"
echo "| run | MB/s | vs JS oracle |"
echo "|---|---:|---:|"
printf '| @huggingface/tokenizers (JS), 1 core, encode only | %.2f | 1.0x |\n' "$js_mbs"
printf '| finmerge tokenize, 1 thread (read + encode + write shards) | %.2f | %.1fx |\n' "$fm1" "$(calc "$fm1 / $js_mbs")"
printf '| finmerge tokenize, 2 threads | %.2f | %.1fx |\n' "$fm2" "$(calc "$fm2 / $js_mbs")"
printf '\nscaling 1 -> 2 threads: %.2fx; JS oracle produced %s tokens\n' "$(calc "$t1 / $t2")" "$js_tokens"
