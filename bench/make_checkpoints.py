#!/usr/bin/python3
"""Writes three Llama-layout bf16 checkpoints (base, instruct, cpt) of about 0.37B parameters for bench/merge.sh.

instruct = base + small noise, cpt = base + other small noise, as after real fine-tuning. Deterministic (seeded).
Usage: make_checkpoints.py OUT_DIR [--hidden 1024 --layers 24 --ff 2816 --vocab 32000]
"""
import argparse
import json
import os
import struct

import numpy as np


def to_bf16(x):
    u = x.astype(np.float32).view(np.uint32)
    u = u + (0x7FFF + ((u >> 16) & 1))
    return (u >> 16).astype(np.uint16)


def tensors(a):
    yield "model.embed_tokens.weight", (a.vocab, a.hidden)
    for l in range(a.layers):
        p = f"model.layers.{l}."
        yield p + "input_layernorm.weight", (a.hidden,)
        yield p + "self_attn.q_proj.weight", (a.hidden, a.hidden)
        yield p + "self_attn.k_proj.weight", (a.hidden // 4, a.hidden)
        yield p + "self_attn.v_proj.weight", (a.hidden // 4, a.hidden)
        yield p + "self_attn.o_proj.weight", (a.hidden, a.hidden)
        yield p + "post_attention_layernorm.weight", (a.hidden,)
        yield p + "mlp.gate_proj.weight", (a.ff, a.hidden)
        yield p + "mlp.up_proj.weight", (a.ff, a.hidden)
        yield p + "mlp.down_proj.weight", (a.hidden, a.ff)
    yield "model.norm.weight", (a.hidden,)
    yield "lm_head.weight", (a.vocab, a.hidden)


def write_model(folder, a, seed_base, seed_delta, scale):
    os.makedirs(folder, exist_ok=True)
    specs = list(tensors(a))
    header, off = {"__metadata__": {"format": "pt"}}, 0
    for name, shape in specs:
        n = int(np.prod(shape)) * 2
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [off, off + n]}
        off += n
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(os.path.join(folder, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for i, (name, shape) in enumerate(specs):
            rb = np.random.default_rng(seed_base * 100003 + i)
            x = rb.standard_normal(shape, dtype=np.float32) * np.float32(0.02)
            if name.endswith("norm.weight"):
                x += 1
            if scale:
                rd = np.random.default_rng(seed_delta * 100003 + i)
                x += rd.standard_normal(shape, dtype=np.float32) * np.float32(scale)
            f.write(to_bf16(x).tobytes())
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": a.hidden,
           "intermediate_size": a.ff, "num_hidden_layers": a.layers, "num_attention_heads": a.hidden // 64,
           "num_key_value_heads": a.hidden // 256, "vocab_size": a.vocab, "rms_norm_eps": 1e-5,
           "tie_word_embeddings": False, "torch_dtype": "bfloat16", "max_position_embeddings": 2048}
    json.dump(cfg, open(os.path.join(folder, "config.json"), "w"), indent=2)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--hidden", type=int, default=1024)
    p.add_argument("--layers", type=int, default=24)
    p.add_argument("--ff", type=int, default=2816)
    p.add_argument("--vocab", type=int, default=32000)
    a = p.parse_args()
    write_model(os.path.join(a.out, "base"), a, 1, 0, 0)
    write_model(os.path.join(a.out, "instruct"), a, 1, 2, 0.002)
    write_model(os.path.join(a.out, "cpt"), a, 1, 3, 0.002)
