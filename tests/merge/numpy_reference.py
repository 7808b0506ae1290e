#!/usr/bin/python3
"""Independent numpy implementation of the merge methods, used as the oracle of tests/merge.

Usage: numpy_reference.py SPEC.json OUT.npz
SPEC: {"method", "base", "models": [{"path", "params"}], "params", "num_layers"}; parameter values are numbers,
lists of numbers (gradients over layers) or lists of {"filter", "value"}. Writes every merged float tensor (f32).
Written from the methods' papers / mergekit documentation, not from finmerge's code.
"""
import json
import re
import struct
import sys

import numpy as np


def read_safetensors(folder):
    import glob
    import os
    out = {}
    for path in sorted(glob.glob(os.path.join(folder, "*.safetensors"))):
        with open(path, "rb") as f:
            n = struct.unpack("<Q", f.read(8))[0]
            header = json.loads(f.read(n))
            data = f.read()
        for name, info in header.items():
            if name == "__metadata__":
                continue
            a, b = info["data_offsets"]
            raw = data[a:b]
            dt = info["dtype"]
            if dt == "F32":
                arr = np.frombuffer(raw, dtype=np.float32)
            elif dt == "F16":
                arr = np.frombuffer(raw, dtype=np.float16).astype(np.float32)
            elif dt == "BF16":
                arr = (np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)
            else:
                continue
            out[name] = arr.reshape(info["shape"]).astype(np.float32)
    return out


def evaluate(setting, name, t):
    if isinstance(setting, (int, float, bool)):
        return float(setting)
    if all(isinstance(e, (int, float)) for e in setting):
        scaled = t * (len(setting) - 1)
        i0 = int(scaled)
        i1 = min(len(setting) - 1, i0 + 1)
        frac = scaled - i0
        return (1 - frac) * setting[i0] + frac * setting[i1]
    for cond in setting:
        f = cond.get("filter")
        if f is None or f == "*" or f in name:
            return evaluate(cond["value"], name, t)
    return None


def position(name, num_layers):
    m = re.search(r"(?:^|\.)(?:layers|h)\.(\d+)\.", name)
    if m:
        return int(m.group(1)) / (num_layers - 1) if num_layers > 1 else 0.0
    return 0.0 if ("embed" in name or "wte" in name) else 1.0


def magnitude_prune(d, density):
    if density >= 1:
        return d
    flat = d.reshape(-1).copy()
    k = int(density * flat.size)
    order = np.lexsort((np.arange(flat.size), np.abs(flat)))  # ascending magnitude, ties by index
    flat[order[: flat.size - k]] = 0
    return flat.reshape(d.shape)


def outlier_prune(d, density, gamma):
    if density >= 1:
        return d
    flat = d.reshape(-1).copy()
    n = flat.size
    target = int(density * n)
    n_top = int(gamma * n)
    n_bot = n - target - n_top
    if n_bot < 0:
        n_top += n_bot
        n_bot = 0
    order = np.lexsort((np.arange(n), np.abs(flat)))
    flat[order[:n_bot]] = 0
    if n_top > 0:
        flat[order[n - n_top:]] = 0
    return flat.reshape(d.shape)


def merge(spec):
    method = spec["method"]
    L = spec["num_layers"]
    gparams = spec.get("params", {})
    models = [read_safetensors(m["path"]) for m in spec["models"]]
    base = read_safetensors(spec["base"]) if spec.get("base") else None
    ref = base if base is not None else models[0]
    out = {}
    for name, b in ref.items():
        t = position(name, L)

        def p(i, key, default):
            v = None
            mp = spec["models"][i].get("params", {})
            if key in mp:
                v = evaluate(mp[key], name, t)
            if v is None and key in gparams:
                v = evaluate(gparams[key], name, t)
            return default if v is None else v

        def g(key, default):
            v = evaluate(gparams[key], name, t) if key in gparams else None
            return default if v is None else v

        xs = [m[name] for m in models]
        if method == "linear":
            w = [p(i, "weight", None) for i in range(len(xs))]
            acc = sum(np.float32(wi) * x for wi, x in zip(w, xs))
            if g("normalize", 1):
                acc = acc / np.float32(sum(w))
            out[name] = acc
        elif method in ("task_arithmetic", "ties", "breadcrumbs", "breadcrumbs_ties", "dare_linear"):
            consensus = method in ("ties", "breadcrumbs_ties")
            normalize = g("normalize", 1 if method == "ties" else 0)
            deltas, ws = [], []
            for i, x in enumerate(xs):
                d = x - b
                dens = p(i, "density", 1.0)
                if method == "ties":
                    d = magnitude_prune(d, dens)
                elif method.startswith("breadcrumbs"):
                    d = outlier_prune(d, dens, p(i, "gamma", 0.01))
                w = p(i, "weight", None)
                ws.append(np.float32(w))
                deltas.append(np.float32(w) * d)
            D = np.stack(deltas)
            W = np.array(ws, dtype=np.float32).reshape((-1,) + (1,) * b.ndim)
            if consensus:
                majority = np.where(D.sum(0) >= 0, 1.0, -1.0)
                mask = (np.sign(D) == majority).astype(np.float32)
                mixed = (D * mask).sum(0)
                div = (W * mask).sum(0)
                div[div == 0] = 1
            else:
                mixed = D.sum(0)
                div = W.sum(0) + np.zeros_like(b)
                div[np.abs(div) < 1e-8] = 1
            if normalize:
                mixed = mixed / div
            out[name] = b + np.float32(g("lambda", 1.0)) * mixed
        elif method == "slerp":
            tt = g("t", None)
            a, c = b.astype(np.float64), xs[0].astype(np.float64)
            na, nc = np.linalg.norm(a), np.linalg.norm(c)
            s0, s1 = 1 - tt, tt
            if na > 1e-8 and nc > 1e-8:
                dot = float((a / na * (c / nc)).sum())
                if abs(dot) <= 0.9995:
                    th = np.arccos(dot)
                    s0 = np.sin((1 - tt) * th) / np.sin(th)
                    s1 = np.sin(tt * th) / np.sin(th)
            out[name] = (s0 * a + s1 * c).astype(np.float32)
        elif method == "model_stock":
            w0 = b.astype(np.float64).reshape(-1)
            ws_ = [x.astype(np.float64).reshape(-1) for x in xs]
            offs = [w - w0 for w in ws_]
            cos = []
            for i in range(len(offs)):
                for j in range(i + 1, len(offs)):
                    nrm = max(np.linalg.norm(offs[i]) * np.linalg.norm(offs[j]), 1e-6)
                    cos.append(np.clip((offs[i] * offs[j]).sum() / nrm, -1, 1))
            c = np.mean(cos)
            N = len(ws_)
            tt = N * c / (1 + (N - 1) * c)
            out[name] = (tt * (sum(ws_) / N) + (1 - tt) * w0).astype(np.float32).reshape(b.shape)
        else:
            raise SystemExit("unknown method " + method)
    return out


if __name__ == "__main__":
    spec = json.load(open(sys.argv[1]))
    res = merge(spec)
    np.savez(sys.argv[2], **{k: v.astype(np.float32) for k, v in res.items()})
    # Also print a machine-readable listing for the C++ test: name, count, then values as f32 hex.
    with open(sys.argv[2] + ".txt", "w") as f:
        for k, v in res.items():
            flat = v.astype(np.float32).reshape(-1)
            f.write(k + " " + str(flat.size) + "\n")
            f.write(" ".join(repr(float(x)) for x in flat) + "\n")
