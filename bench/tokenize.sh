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
# One run of `finmerge tokenize` on $1 threads -> "wall_seconds load_seconds corpus_seconds". wall: the whole
# process (start, tokenizer load, read + encode + write shards, exit), timed here; load and corpus: the two
# parts as the command reports them ("tokenizer load L s + corpus C s").
run_fm() {
  local start end line
  rm -rf "$OUT/shards"
  start=$(date +%s.%N)
  line=$(OMP_NUM_THREADS=$1 build/finmerge tokenize --tokenizer "$TOK" "$CORPUS" --blank-line-docs \
    -o "$OUT/shards" 2>/dev/null)
  end=$(date +%s.%N)
  local load corpus
  load=$(sed -n 's/.*tokenizer load \([0-9.]*\) s.*/\1/p' <<<"$line")
  corpus=$(sed -n 's/.* + corpus \([0-9.]*\) s.*/\1/p' <<<"$line")
  awk -v a="$start" -v b="$end" -v l="$load" -v c="$corpus" 'BEGIN { print b - a, l, c }'
}
# Best of 3 runs (the fastest wall time), so that a background process does not decide the numbers.
best_fm() {
  local best="" r
  for _ in 1 2 3; do
    r=$(run_fm "$1")
    if [[ -z $best ]] || awk -v x="${r%% *}" -v y="${best%% *}" 'BEGIN { exit !(x < y) }'; then best=$r; fi
  done
  echo "$best"
}
# The machine's own ceiling for two streams of this work: two independent 1-thread processes at once (no data
# shared, no coordination), best of 3 -> seconds until both are done. On this kind of VM two memory-heavy
# processes slow each other, so 2x is not what two cores give even with nothing shared.
pair_fm() {
  local best="" start end t
  for _ in 1 2 3; do
    rm -rf "$OUT/pair-a" "$OUT/pair-b"
    start=$(date +%s.%N)
    OMP_NUM_THREADS=1 build/finmerge tokenize --tokenizer "$TOK" "$CORPUS" --blank-line-docs -o "$OUT/pair-a" \
      >/dev/null 2>&1 &
    OMP_NUM_THREADS=1 build/finmerge tokenize --tokenizer "$TOK" "$CORPUS" --blank-line-docs -o "$OUT/pair-b" \
      >/dev/null 2>&1 &
    wait
    end=$(date +%s.%N)
    t=$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')
    if [[ -z $best ]] || awk -v x="$t" -v y="$best" 'BEGIN { exit !(x < y) }'; then best=$t; fi
  done
  rm -rf "$OUT/pair-a" "$OUT/pair-b"
  echo "$best"
}
read -r t1 load1 pass1 < <(best_fm 1)
read -r t2 load2 pass2 < <(best_fm 2)
tpair=$(pair_fm)
read -r js_mbs js_tokens < <(node bench/tokenize_oracle.mjs "$TOK" "$CORPUS")
calc() { awk "BEGIN { print $1 }"; }
fm1=$(calc "$BYTES / $t1 / 1000000")
fm2=$(calc "$BYTES / $t2 / 1000000")
printf '\ntokenize benchmark: %.1f MB (FOMC statements + tinyshakespeare, repeated), Qwen3 tokenizer, %s cores\n\n' \
  "$(calc "$BYTES / 1000000")" "$(nproc)"
echo "| run | MB/s | vs JS oracle |"
echo "|---|---:|---:|"
printf '| @huggingface/tokenizers (JS), 1 core, encode only (tokenizer loaded, no output) | %.2f | 1.0x |\n' "$js_mbs"
printf '| finmerge tokenize, 1 thread, end to end (process start, tokenizer load, read + encode + write shards) | %.2f | %.1fx |\n' \
  "$fm1" "$(calc "$fm1 / $js_mbs")"
printf '| finmerge tokenize, 2 threads, end to end | %.2f | %.1fx |\n' "$fm2" "$(calc "$fm2 / $js_mbs")"
printf '| two independent 1-thread finmerge processes at once (the machine'"'"'s ceiling for 2 streams) | %.2f | %.1fx |\n' \
  "$(calc "2 * $BYTES / $tpair / 1000000")" "$(calc "2 * $BYTES / $tpair / 1000000 / $js_mbs")"
printf '\nscaling 1 -> 2 threads, end to end: %.2fx (two independent processes reach %.2fx); JS oracle produced %s tokens\n\n' \
  "$(calc "$t1 / $t2")" "$(calc "2 * $t1 / $tpair")" "$js_tokens"
echo "The two parts of a finmerge run, as the command reports them (best end-to-end run of 3 each):"
echo
echo "| threads | tokenizer load (s) | corpus pass after the load (s) | corpus pass MB/s (read + encode + write, overlapped) |"
echo "|---:|---:|---:|---:|"
printf '| 1 | %.3f | %.3f | %.2f |\n' "$load1" "$pass1" "$(calc "$BYTES / $pass1 / 1000000")"
printf '| 2 | %.3f | %.3f | %.2f |\n' "$load2" "$pass2" "$(calc "$BYTES / $pass2 / 1000000")"
printf '\nscaling 1 -> 2 threads: tokenizer load %.2fx, corpus pass %.2fx\n' "$(calc "$load1 / $load2")" \
  "$(calc "$pass1 / $pass2")"
