#!/usr/bin/python3
"""Runs the training benchmark of bench/train.sh and prints a Markdown table. See bench/train.sh.

Usage: run_train_bench.py OUT_DIR FINMERGE GEMM_PEAK_BIN STEPS THREADS
Every trainer runs STEPS optimizer steps of batch 8 x 256 tokens on OUT_DIR/model and OUT_DIR/data with the same
schedule; tokens/s is measured over the steps after the first two (allocation, oneDNN primitive creation and
PyTorch's first-call costs are left out of every trainer alike). MFU = model FLOPs/token x tokens/s / GEMM peak,
with model FLOPs/token = 6 x (matmul parameters) + 6 x layers x seq x hidden (causal attention scores and
mixing, forward + backward).
"""
import json
import os
import shutil
import sys
import time

out, finmerge, gemm_bin, steps, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
B, T, SKIP = 8, 256, 2
model, data = os.path.join(out, "model"), os.path.join(out, "data")
cfg = json.load(open(os.path.join(model, "config.json")))
C, FF, L, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"], cfg["vocab_size"]
kv = cfg["num_key_value_heads"] * C // cfg["num_attention_heads"]
matmul_params = L * (C * C * 2 + 2 * C * kv + 3 * C * FF) + V * C
all_params = matmul_params + V * C + (2 * L + 1) * C
flops_per_token = 6 * matmul_params + 6 * L * T * C
env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads), OMP_WAIT_POLICY="passive",
           FINMERGE_PROGRESS="0")


def run_measured(cmd):
    """(stdout, wall seconds, peak RSS bytes) of a fresh process (stderr discarded)."""
    t = time.perf_counter()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        os.dup2(w, 1)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.execvpe(cmd[0], cmd, env)
    os.close(w)
    chunks = []
    while True:
        b = os.read(r, 65536)
        if not b:
            break
        chunks.append(b)
    os.close(r)
    _, status, ru = os.wait4(pid, 0)
    dt = time.perf_counter() - t
    text = b"".join(chunks).decode()
    if status != 0:
        sys.exit(f"failed (status {status}): {' '.join(cmd)}\n{text}")
    return text, dt, ru.ru_maxrss * 1024


# 1. GEMM peaks of this machine at these threads.
peaks = {}
text, _, _ = run_measured([gemm_bin, "1.0"])
for line in text.splitlines():
    if line.endswith(")") and "_gflops" in line:
        key, value = line.split()[:2]
        peaks[key] = float(value)
print(text.strip(), file=sys.stderr)

rows = []


def finmerge_row(precision):
    o = os.path.join(out, "fm-" + precision)
    shutil.rmtree(o, ignore_errors=True)
    cmd = [finmerge, "cpt", "--model", model, "--data", data, "-o", o, "--steps", str(steps), "--seq-len", str(T),
           "--batch-size", str(B), "--lr", "1e-3", "--min-lr", "1e-4", "--warmup", "2", "--eval-batches", "2",
           "--precision", precision, "--threads", str(threads), "--seed", "1234"]
    _, wall, rss = run_measured(cmd)
    m = [json.loads(l) for l in open(os.path.join(o, "metrics.jsonl"))]
    timed = m[SKIP:] if len(m) > SKIP else m
    secs = sum(B * T / r["tokens_per_s"] for r in timed)
    return {"name": f"finmerge cpt {precision}", "tps": B * T * len(timed) / secs, "rss": rss, "wall": wall,
            "first": m[0]["loss"], "last": m[-1]["loss"], "val": m[-1].get("val_loss"),
            "losses": [r["loss"] for r in m]}


def torch_row():
    cmd = ["/usr/bin/python3", os.path.join(os.path.dirname(os.path.abspath(__file__)), "train_torch.py"), model,
           data, "--steps", str(steps), "--batch-size", str(B), "--seq-len", str(T), "--lr", "1e-3", "--min-lr",
           "1e-4", "--warmup", "2", "--threads", str(threads), "--eval-batches", "2", "--skip", str(SKIP)]
    text, wall, rss = run_measured(cmd)
    r = json.loads(text.strip().splitlines()[-1])
    return {"name": f"PyTorch {r['torch']} fp32 eager", "tps": r["tokens_per_s"], "rss": rss, "wall": wall,
            "first": r["first_loss"], "last": r["last_loss"], "val": r["val_loss"], "losses": r["losses"]}


for make in (lambda: finmerge_row("fp32"), lambda: finmerge_row("bf16"), torch_row):
    rows.append(make())
    print(f"  {rows[-1]['name']}: {rows[-1]['tps']:.0f} tokens/s", file=sys.stderr)

torch_tps = rows[2]["tps"]
fp32_peak, bf16_peak = peaks.get("fp32_gflops", float("nan")), peaks.get("bf16_gflops", float("nan"))
print(f"\nLlama {all_params / 1e6:.1f}M parameters (hidden {C}, {L} layers, vocab {V}), batch {B} x seq {T}, "
      f"{steps} steps (tokens/s over steps {SKIP + 1}..{steps}), {threads} threads; "
      f"{flops_per_token / 1e6:.0f} MFLOP/token; GEMM peaks: fp32 {fp32_peak:.0f} GFLOP/s, bf16 {bf16_peak:.0f} GFLOP/s\n")
print("| trainer | tokens/s | vs PyTorch | GFLOP/s | MFU vs fp32 peak | MFU vs bf16 peak | peak RSS | first loss | "
      "final loss | val loss |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    gf = r["tps"] * flops_per_token / 1e9
    val = f"{r['val']:.4f}" if r["val"] is not None else "-"
    print(f"| {r['name']} | {r['tps']:.0f} | {r['tps'] / torch_tps:.2f}x | {gf:.0f} | {100 * gf / fp32_peak:.0f}% | "
          f"{100 * gf / bf16_peak:.0f}% | {r['rss'] / 2**20:.0f} MiB | {r['first']:.4f} | {r['last']:.4f} | {val} |")
fp32, bf16 = rows[0]["losses"], rows[1]["losses"]
worst = max(abs(a - b) for a, b in zip(fp32, bf16))
print(f"\nbf16 vs fp32 loss curve (same data order): largest per-step difference {worst:.4f} "
      f"({100 * worst / fp32[-1]:.2f}% of the final loss); val loss {rows[1]['val']:.4f} vs {rows[0]['val']:.4f}")
print("fp32 losses: " + " ".join(f"{x:.3f}" for x in fp32))
print("bf16 losses: " + " ".join(f"{x:.3f}" for x in bf16))
print("torch losses: " + " ".join(f"{x:.3f}" for x in rows[2]["losses"]))
