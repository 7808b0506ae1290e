#!/usr/bin/env python3
"""Independent PyTorch reference for finmerge's model code (tests/model/model_torch_test.cpp).

Written from the architectures' definitions (Hugging Face modeling_llama / mistral / qwen2 / qwen3 and Qwen-1's
modeling_qwen.py), without transformers: a plain float64 forward of a Hugging Face folder, the mean
cross-entropy, and the gradient of every parameter through autograd.

Usage:
  torch_reference.py CASE_DIR...       each CASE_DIR holds model/ (config.json + *.safetensors) and tokens.bin
                                       (int32 B, int32 T, uint32 inputs[B*T], uint32 targets[B*T];
                                       0xffffffff = ignored target); writes CASE_DIR/reference.safetensors with
                                       "logits" (B, T, V), "loss" (1) and "grad.<tensor name>" for every
                                       parameter, all F32.
  torch_reference.py --bench MODEL_DIR B T STEPS
                                       prints PyTorch float32 training tokens/s of the same model (a peer
                                       measurement for the benchmark in model_bench_test.cpp).
"""
import glob
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

IGNORE = 0xFFFFFFFF


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        raw = data[base + b : base + e]
        shape = info["shape"]
        dt = info["dtype"]
        if dt == "F32":
            arr = np.frombuffer(raw, dtype="<f4").astype(np.float64)
        elif dt == "F16":
            arr = np.frombuffer(raw, dtype="<f2").astype(np.float64)
        elif dt == "BF16":
            u = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            arr = u.view(np.float32).astype(np.float64)
        else:
            raise ValueError(f"{path}: tensor {name}: dtype {dt} not handled by the reference")
        out[name] = torch.from_numpy(arr.reshape(shape).copy())
    return out


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        a = np.ascontiguousarray(t.detach().cpu().numpy().astype("<f4"))
        b = a.tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def load_folder(model_dir, dtype):
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    weights = {}
    for p in sorted(glob.glob(os.path.join(model_dir, "*.safetensors"))):
        weights.update(read_safetensors(p))
    params = {k: torch.nn.Parameter(v.to(dtype)) for k, v in weights.items()}
    return cfg, params


# ---------------------------------------------------------------- architecture definitions


def hparams(cfg):
    """Hyperparameters as each family's config.json spells them."""
    mt = cfg["model_type"]
    if mt == "qwen":  # Qwen-1
        nh = cfg["num_attention_heads"]
        return dict(
            L=cfg["num_hidden_layers"],
            NH=nh,
            NKV=nh,
            HD=cfg.get("kv_channels", cfg["hidden_size"] // nh),
            eps=cfg.get("layer_norm_epsilon", 1e-6),
            theta=cfg.get("rotary_emb_base", 10000.0),
            tied=cfg.get("tie_word_embeddings", False),
            window=0,
            rope_scaling=None,
        )
    if mt in ("llama", "mistral", "qwen2", "qwen3"):
        nh = cfg["num_attention_heads"]
        hd = cfg.get("head_dim") or cfg["hidden_size"] // nh
        return dict(
            L=cfg["num_hidden_layers"],
            NH=nh,
            NKV=cfg.get("num_key_value_heads") or nh,
            HD=hd,
            eps=cfg.get("rms_norm_eps", 1e-6),
            theta=cfg.get("rope_theta", 10000.0),
            tied=cfg.get("tie_word_embeddings", False),
            window=(cfg.get("sliding_window") or 0) if mt == "mistral" else 0,
            rope_scaling=cfg.get("rope_scaling"),
        )
    raise ValueError("reference: unknown model_type " + mt)


def inv_freq(hp, dtype):
    hd = hp["HD"]
    f = 1.0 / (hp["theta"] ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    rs = hp["rope_scaling"]
    if rs and rs.get("rope_type", rs.get("type")) == "llama3":
        factor, lo, hi = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
        old = rs["original_max_position_embeddings"]
        wavelen = 2 * math.pi / f
        scaled = torch.where(wavelen > old / lo, f / factor, f)
        smooth = (old / wavelen - lo) / (hi - lo)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = (wavelen >= old / hi) & (wavelen <= old / lo)
        f = torch.where(medium, smoothed, scaled)
    return f.to(dtype)


def rmsnorm(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def attention(q, k, v, window):
    # q (B, NH, T, HD); k, v (B, NKV, T, HD): query head h reads kv head h // (NH / NKV).
    B, NH, T, HD = q.shape
    group = NH // k.shape[1]
    k = k.repeat_interleave(group, dim=1)
    v = v.repeat_interleave(group, dim=1)
    s = q @ k.transpose(-1, -2) / math.sqrt(HD)
    i = torch.arange(T).view(T, 1)
    j = torch.arange(T).view(1, T)
    masked = j > i
    if window:
        masked = masked | (i - j >= window)
    s = s.masked_fill(masked, float("-inf"))
    return torch.softmax(s, dim=-1) @ v


def forward(cfg, P, inputs):
    """logits (B, T, V) of the Hugging Face model with parameters P (name -> tensor)."""
    hp = hparams(cfg)
    mt = cfg["model_type"]
    B, T = inputs.shape
    NH, NKV, HD, eps = hp["NH"], hp["NKV"], hp["HD"], hp["eps"]
    if mt == "qwen":
        pre, wte, ln_f = "transformer.h.{}.", P["transformer.wte.weight"], P["transformer.ln_f.weight"]
    else:
        pre, wte, ln_f = "model.layers.{}.", P["model.embed_tokens.weight"], P["model.norm.weight"]
    head = wte if hp["tied"] else P["lm_head.weight"]
    f = inv_freq(hp, wte.dtype)
    ang = torch.arange(T, dtype=wte.dtype).view(T, 1) * f.view(1, -1)
    cos = torch.cat((ang, ang), dim=-1).cos()
    sin = torch.cat((ang, ang), dim=-1).sin()

    def get(name):
        return P.get(name)

    x = wte[inputs]
    for l in range(hp["L"]):
        p = pre.format(l)
        if mt == "qwen":
            h = rmsnorm(x, P[p + "ln_1.weight"], eps)
            qkv = F.linear(h, P[p + "attn.c_attn.weight"], P[p + "attn.c_attn.bias"])
            q, k, v = qkv.split(NH * HD, dim=-1)
        else:
            h = rmsnorm(x, P[p + "input_layernorm.weight"], eps)
            q = F.linear(h, P[p + "self_attn.q_proj.weight"], get(p + "self_attn.q_proj.bias"))
            k = F.linear(h, P[p + "self_attn.k_proj.weight"], get(p + "self_attn.k_proj.bias"))
            v = F.linear(h, P[p + "self_attn.v_proj.weight"], get(p + "self_attn.v_proj.bias"))
        q = q.view(B, T, NH, HD).transpose(1, 2)
        k = k.view(B, T, NKV, HD).transpose(1, 2)
        v = v.view(B, T, NKV, HD).transpose(1, 2)
        if mt == "qwen3":  # per-head RMSNorm before RoPE
            q = rmsnorm(q, P[p + "self_attn.q_norm.weight"], eps)
            k = rmsnorm(k, P[p + "self_attn.k_norm.weight"], eps)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        a = attention(q, k, v, hp["window"]).transpose(1, 2).reshape(B, T, NH * HD)
        if mt == "qwen":
            x = x + F.linear(a, P[p + "attn.c_proj.weight"])
            h = rmsnorm(x, P[p + "ln_2.weight"], eps)
            # QWenMLP: c_proj(w1(x) * silu(w2(x)))
            m = F.linear(h, P[p + "mlp.w1.weight"]) * F.silu(F.linear(h, P[p + "mlp.w2.weight"]))
            x = x + F.linear(m, P[p + "mlp.c_proj.weight"])
        else:
            x = x + F.linear(a, P[p + "self_attn.o_proj.weight"], get(p + "self_attn.o_proj.bias"))
            h = rmsnorm(x, P[p + "post_attention_layernorm.weight"], eps)
            m = F.silu(F.linear(h, P[p + "mlp.gate_proj.weight"])) * F.linear(h, P[p + "mlp.up_proj.weight"])
            x = x + F.linear(m, P[p + "mlp.down_proj.weight"])
    return F.linear(rmsnorm(x, ln_f, eps), head)


def loss_of(logits, targets):
    t = targets.clone()
    t[t == IGNORE] = -100
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), t.reshape(-1), ignore_index=-100)


def read_tokens(path):
    raw = np.fromfile(path, dtype="<u4")
    B, T = int(raw[0]), int(raw[1])
    inputs = torch.from_numpy(raw[2 : 2 + B * T].astype(np.int64).reshape(B, T))
    targets = torch.from_numpy(raw[2 + B * T : 2 + 2 * B * T].astype(np.int64).reshape(B, T))
    return inputs, targets


def run_case(case):
    cfg, P = load_folder(os.path.join(case, "model"), torch.float64)
    inputs, targets = read_tokens(os.path.join(case, "tokens.bin"))
    logits = forward(cfg, P, inputs)
    loss = loss_of(logits, targets)
    loss.backward()
    out = {"logits": logits.detach(), "loss": loss.detach().reshape(1)}
    for name, p in P.items():
        out["grad." + name] = p.grad if p.grad is not None else torch.zeros_like(p)
    write_safetensors(os.path.join(case, "reference.safetensors"), out)


def bench(model_dir, B, T, steps):
    torch.manual_seed(0)
    cfg, P = load_folder(model_dir, torch.float32)
    V = cfg["vocab_size"]
    inputs = torch.randint(0, V, (B, T))
    targets = torch.randint(0, V, (B, T))
    loss_of(forward(cfg, P, inputs), targets).backward()  # warm-up
    t0 = time.time()
    for _ in range(steps):
        for p in P.values():
            p.grad = None
        loss_of(forward(cfg, P, inputs), targets).backward()
    dt = time.time() - t0
    print(f"torch {torch.__version__} threads {torch.get_num_threads()}: {B * T * steps / dt:.0f} training tokens/s")


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "--bench":
        bench(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    else:
        for case in sys.argv[1:]:
            run_case(case)
