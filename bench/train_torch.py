#!/usr/bin/python3
"""The PyTorch peer of bench/train.sh: a plain float32 eager Llama trained exactly as `finmerge cpt` trains
(same starting weights, AdamW with decay off for norms, global-norm clipping, linear warmup then cosine decay,
packed windows of the same token shards, validation loss on the same first windows).

It is what a user would write in PyTorch without extra libraries: nn.Linear layers, RMSNorm and rotary embeddings
as in Hugging Face's modeling_llama, attention as softmax(QK^T/sqrt(d) + causal mask) V (torch 1.13 has no fused
scaled_dot_product_attention), F.cross_entropy over the full logits.

Usage: train_torch.py MODEL_DIR DATA_DIR --steps N --batch-size 8 --seq-len 256 --lr 1e-3 --min-lr 1e-4
                      --warmup 2 --threads T [--eval-batches 2] [--skip 2]
Prints one JSON line: tokens_per_s (over the steps after the first --skip), first_loss, last_loss, val_loss,
losses (every step).
"""
import argparse
import json
import math
import os
import struct
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        assert info["dtype"] == "F32", f"{name}: the benchmark model is F32"
        out[name] = torch.from_numpy(np.frombuffer(data[8 + n + b : 8 + n + e], dtype="<f4").reshape(info["shape"]).copy())
    return out


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        C = c["hidden_size"]
        self.nh = c["num_attention_heads"]
        self.nkv = c.get("num_key_value_heads", self.nh)
        self.hd = C // self.nh
        self.q_proj = nn.Linear(C, self.nh * self.hd, bias=False)
        self.k_proj = nn.Linear(C, self.nkv * self.hd, bias=False)
        self.v_proj = nn.Linear(C, self.nkv * self.hd, bias=False)
        self.o_proj = nn.Linear(self.nh * self.hd, C, bias=False)

    def forward(self, x, cos, sin, mask):
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.nh, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(B, T, self.nkv, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.nkv, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if self.nkv != self.nh:
            k = k.repeat_interleave(self.nh // self.nkv, dim=1)
            v = v.repeat_interleave(self.nh // self.nkv, dim=1)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(self.hd) + mask
        y = torch.softmax(att, dim=-1) @ v
        return self.o_proj(y.transpose(1, 2).reshape(B, T, self.nh * self.hd))


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        C, FF = c["hidden_size"], c["intermediate_size"]
        self.gate_proj = nn.Linear(C, FF, bias=False)
        self.up_proj = nn.Linear(C, FF, bias=False)
        self.down_proj = nn.Linear(FF, C, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.input_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.self_attn = Attention(c)
        self.post_attention_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.mlp = MLP(c)

    def forward(self, x, cos, sin, mask):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        return x + self.mlp(self.post_attention_layernorm(x))


class Llama(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.model = nn.Module()
        self.model.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.model.layers = nn.ModuleList(Layer(c) for _ in range(c["num_hidden_layers"]))
        self.model.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.lm_head = nn.Linear(c["hidden_size"], c["vocab_size"], bias=False)
        hd = c["hidden_size"] // c["num_attention_heads"]
        self.register_buffer(
            "inv_freq", 1.0 / (c.get("rope_theta", 10000.0) ** (torch.arange(0, hd, 2).float() / hd)), persistent=False
        )

    def forward(self, idx, targets):
        B, T = idx.shape
        ang = torch.arange(T).float().view(T, 1) * self.inv_freq.view(1, -1)
        cos, sin = torch.cat((ang, ang), -1).cos(), torch.cat((ang, ang), -1).sin()
        mask = torch.full((T, T), float("-inf")).triu(1)
        x = self.model.embed_tokens(idx)
        for layer in self.model.layers:
            x = layer(x, cos, sin, mask)
        logits = self.lm_head(self.model.norm(x))
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.reshape(-1))


def shard_tokens(path):
    with open(path, "rb") as f:
        head = f.read(256)
    assert head[:8] == b"FMTOKSHD", path
    (count,) = struct.unpack("<Q", head[16:24])
    return np.memmap(path, dtype="<u4", mode="r", offset=256, shape=(count,))


def split_tokens(data_dir, split):
    names = sorted(n for n in os.listdir(data_dir) if n.startswith(split + "_") and n.endswith(".bin"))
    return np.concatenate([np.asarray(shard_tokens(os.path.join(data_dir, n))) for n in names])


def windows(tokens, ids, T):
    x = np.stack([tokens[i * T : i * T + T] for i in ids]).astype(np.int64)
    y = np.stack([tokens[i * T + 1 : i * T + T + 1] for i in ids]).astype(np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)


def lr_at(step, a):
    """finmerge's LrSchedule (src/train/lr_schedule.h): warmup from lr/warmup, cosine to min_lr at the last step."""
    if step < a.warmup:
        return a.lr * (step + 1) / a.warmup
    span = a.steps - 1 - a.warmup
    p = (step - a.warmup) / span if span > 0 else 1.0
    return a.min_lr + (a.lr - a.min_lr) * (1 + math.cos(math.pi * p)) / 2


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("data")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--min-lr", type=float, default=1e-4)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--eval-batches", type=int, default=2)
    ap.add_argument("--skip", type=int, default=2, help="first steps left out of tokens/s (warm-up)")
    ap.add_argument("--seed", type=int, default=1234)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    cfg = json.load(open(os.path.join(a.model, "config.json")))
    model = Llama(cfg)
    model.load_state_dict(read_safetensors(os.path.join(a.model, "model.safetensors")))
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": a.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=a.lr,
        betas=(0.9, 0.95),
        eps=1e-8,
    )
    B, T = a.batch_size, a.seq_len
    train = split_tokens(a.data, "train")
    n_windows = (len(train) - 1) // T
    order = np.random.default_rng(a.seed).permutation(n_windows)

    losses, timed, timed_tokens = [], 0.0, 0
    for step in range(a.steps):
        ids = [order[(step * B + b) % n_windows] for b in range(B)]
        x, y = windows(train, ids, T)
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), a.clip)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, a)
        opt.step()
        dt = time.perf_counter() - t0
        losses.append(loss.item())
        if step >= a.skip:
            timed += dt
            timed_tokens += B * T
    val_loss = None
    val = split_tokens(a.data, "val")
    n_val = min(a.eval_batches * B, (len(val) - 1) // T)
    if n_val > 0:
        with torch.no_grad():
            total, count = 0.0, 0
            for b0 in range(0, n_val, B):
                x, y = windows(val, range(b0, min(b0 + B, n_val)), T)
                total += model(x, y).item() * y.numel()
                count += y.numel()
            val_loss = total / count
    print(
        json.dumps(
            {
                "torch": torch.__version__,
                "threads": torch.get_num_threads(),
                "tokens_per_s": timed_tokens / timed if timed > 0 else None,
                "first_loss": losses[0],
                "last_loss": losses[-1],
                "val_loss": val_loss,
                "losses": losses,
            }
        )
    )


if __name__ == "__main__":
    main()
