#!/usr/bin/python3
"""Times finmerge chat-vector, the numpy merge and the I/O floor; prints a Markdown table. See bench/merge.sh."""
import os
import resource
import shutil
import subprocess
import sys
import time

import numpy as np

out = sys.argv[1]
models = os.path.join(out, "models")
inputs = [os.path.join(models, m, "model.safetensors") for m in ("base", "instruct", "cpt")]
in_bytes = sum(os.path.getsize(p) for p in inputs)
out_bytes = os.path.getsize(inputs[2])
finmerge = os.path.abspath("build/finmerge")


def run(label, cmd, repeat=3):
    """Best wall time of `repeat` runs and the peak RSS of the command (a fresh process per run)."""
    best, peak = float("inf"), 0
    for _ in range(repeat):
        for d in ("fm-out", "np-out", "floor.bin"):
            p = os.path.join(out, d)
            shutil.rmtree(p, ignore_errors=True) if os.path.isdir(p) else (os.path.exists(p) and os.remove(p))
        t = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            os.execvp(cmd[0], cmd)
        _, status, ru = os.wait4(pid, 0)
        dt = time.perf_counter() - t
        if status != 0:
            sys.exit(f"{label} failed: {' '.join(cmd)}")
        best = min(best, dt)
        peak = max(peak, ru.ru_maxrss)  # KiB on Linux
    return best, peak * 1024


# Warm the page cache equally for everyone: all inputs are read once before timing.
for p in inputs:
    with open(p, "rb") as f:
        while f.read(1 << 24):
            pass

rows = []
floor_cmd = ["bash", "-c", f"cat {' '.join(inputs)} > /dev/null && head -c {out_bytes} /dev/zero > {out}/floor.bin"]
rows.append(("I/O floor (read inputs once, write output once)",) + run("floor", floor_cmd))
fm_cmd = [finmerge, "chat-vector", "--base", f"{models}/base", "--instruct", f"{models}/instruct", "--domain",
          f"{models}/cpt", "-o", f"{out}/fm-out", "--quiet"]
rows.append(("finmerge chat-vector (all cores)",) + run("finmerge", fm_cmd))
np_cmd = ["/usr/bin/python3", "bench/numpy_merge.py", f"{models}/base", f"{models}/instruct", f"{models}/cpt", f"{out}/np-out"]
rows.append(("numpy, tensor by tensor",) + run("numpy", np_cmd, repeat=1))

# Same result? Compare the two outputs' tensor bytes.
subprocess.run(fm_cmd, check=True, stdout=subprocess.DEVNULL)
a = np.fromfile(f"{out}/fm-out/model.safetensors", dtype=np.uint8)
b = np.fromfile(f"{out}/np-out/model.safetensors", dtype=np.uint8)
na = int.from_bytes(a[:8].tobytes(), "little") + 8
nb = int.from_bytes(b[:8].tobytes(), "little") + 8
da, db = a[na:].view(np.uint16), b[nb:].view(np.uint16)
same = float((da == db).mean()) if da.size == db.size else 0.0

floor = rows[0][1]
params = out_bytes // 2
print(f"\nmerge benchmark: three bf16 checkpoints of {params/1e9:.2f}B parameters "
      f"({in_bytes/1e9:.2f} GB in, {out_bytes/1e9:.2f} GB out), {os.cpu_count()} cores, warm page cache\n")
print("| run | wall time (s) | GB/s moved | vs floor | peak RSS (MiB) |")
print("|---|---:|---:|---:|---:|")
for label, t, rss in rows:
    print(f"| {label} | {t:.2f} | {(in_bytes + out_bytes)/t/1e9:.2f} | {t/floor:.2f}x | {rss/2**20:.0f} |")
fm_t, np_t = rows[1][1], rows[2][1]
note = "" if same == 1.0 else (" (the rest differ in the last bf16 bit: finmerge computes "
                                "base + (cpt - base) + w*(instruct - base) in f32)")
print(f"\nfinmerge is {np_t/fm_t:.1f}x faster than numpy and {fm_t/floor:.2f}x the I/O floor; "
      f"{same*100:.4f}% of output values bit-identical to numpy's{note}")
