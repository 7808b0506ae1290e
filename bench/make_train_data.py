#!/usr/bin/python3
"""Writes the model and token shards of bench/train.sh: a ~25.8M-parameter Llama with random f32 weights and a
synthetic corpus that a model can learn (so loss curves say something).

Model: hidden 512, 6 layers, 8 heads (no GQA), MLP 1376, vocab 8192, untied head, weights normal(0, 0.02),
norms 1 — the configuration ../shared/NOTES.md measures PyTorch on.
Corpus: a random sparse Markov chain over the vocabulary. Each token has 4 preferred successors; the next token
is one of them with probability 0.9, else uniform. Documents of 64..512 tokens end with EOS (id 0). Its entropy
is ~2.5 nats per token against log(8192) = 9.01 for the random model, so training loss falls steadily.
Shards use finmerge's token shard format (tokenizer/token_shard.h): 256-byte header "FMTOKSHD", u32 version 1,
u32 vocab_size, u64 count, then u32 ids.

Usage: make_train_data.py OUT_DIR [--train-tokens 600000]   -> OUT_DIR/model/, OUT_DIR/data/
Deterministic (seeded).
"""
import argparse
import json
import os
import struct

import numpy as np

CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "vocab_size": 8192,
    "hidden_size": 512,
    "intermediate_size": 1376,
    "num_hidden_layers": 6,
    "num_attention_heads": 8,
    "num_key_value_heads": 8,
    "max_position_embeddings": 2048,
    "rms_norm_eps": 1e-5,
    "rope_theta": 10000.0,
    "tie_word_embeddings": False,
    "torch_dtype": "float32",
}


def tensor_specs(c):
    C, FF, V = c["hidden_size"], c["intermediate_size"], c["vocab_size"]
    yield "model.embed_tokens.weight", (V, C)
    for l in range(c["num_hidden_layers"]):
        p = f"model.layers.{l}."
        yield p + "input_layernorm.weight", (C,)
        for m in ("q", "k", "v", "o"):
            yield p + f"self_attn.{m}_proj.weight", (C, C)
        yield p + "post_attention_layernorm.weight", (C,)
        yield p + "mlp.gate_proj.weight", (FF, C)
        yield p + "mlp.up_proj.weight", (FF, C)
        yield p + "mlp.down_proj.weight", (C, FF)
    yield "model.norm.weight", (C,)
    yield "lm_head.weight", (V, C)


def write_model(folder, rng):
    os.makedirs(folder, exist_ok=True)
    specs = list(tensor_specs(CONFIG))
    header, off = {"__metadata__": {"format": "pt"}}, 0
    for name, shape in specs:
        n = int(np.prod(shape)) * 4
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [off, off + n]}
        off += n
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(os.path.join(folder, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for name, shape in specs:
            if len(shape) == 1:
                a = np.ones(shape, dtype="<f4")
            else:
                a = (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype("<f4")
            f.write(a.tobytes())
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=2)
    return sum(int(np.prod(s)) for _, s in specs)


def markov_tokens(n, V, rng):
    succ = rng.integers(1, V, size=(V, 4))
    follow = rng.random(n) < 0.9
    pick = rng.integers(0, 4, size=n)
    uniform = rng.integers(1, V, size=n)
    doc_len = rng.integers(64, 513, size=n // 64 + 1)
    out = np.empty(n, dtype=np.uint32)
    prev, left, d = 1, int(doc_len[0]), 0
    for i in range(n):
        if left == 0:
            out[i] = 0  # EOS
            d += 1
            left = int(doc_len[d])
            prev = int(uniform[i])
            continue
        tok = int(succ[prev, pick[i]]) if follow[i] else int(uniform[i])
        out[i] = tok
        prev = tok
        left -= 1
    return out


def write_shard(path, vocab, tokens):
    header = bytearray(256)
    header[0:8] = b"FMTOKSHD"
    header[8:12] = struct.pack("<I", 1)
    header[12:16] = struct.pack("<I", vocab)
    header[16:24] = struct.pack("<Q", len(tokens))
    with open(path, "wb") as f:
        f.write(header)
        f.write(tokens.astype("<u4").tobytes())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--train-tokens", type=int, default=600_000)
    ap.add_argument("--val-tokens", type=int, default=40_000)
    a = ap.parse_args()
    rng = np.random.default_rng(1234)
    n = write_model(os.path.join(a.out, "model"), rng)
    data = os.path.join(a.out, "data")
    os.makedirs(data, exist_ok=True)
    V = CONFIG["vocab_size"]
    tokens = markov_tokens(a.train_tokens + a.val_tokens, V, rng)
    write_shard(os.path.join(data, "train_00000.bin"), V, tokens[: a.train_tokens])
    write_shard(os.path.join(data, "val_00000.bin"), V, tokens[a.train_tokens :])
    print(f"model {n / 1e6:.1f}M parameters, {a.train_tokens} train + {a.val_tokens} val tokens in {a.out}")


if __name__ == "__main__":
    main()
