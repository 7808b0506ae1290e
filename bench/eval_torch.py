#!/usr/bin/env python3
"""The PyTorch side of bench/eval.sh, and the inputs both sides use.

  eval_torch.py make DIR            writes DIR/model (a ~25M-parameter random Llama: hidden 512, 6 layers,
                                    8 heads, vocab 8192, safetensors + config.json + a byte-level tokenizer.json
                                    whose ids 0..255 are the bytes) and the request files DIR/mc.jsonl
                                    (multiple choice: questions of ~200 tokens with 4 choices) and
                                    DIR/single.jsonl (the same number of tokens, every context distinct)
  eval_torch.py score DIR FILE      PyTorch fp32 eager scoring of FILE as lm-evaluation-harness does it (each
                                    request forwarded whole, batches of 8 sorted by length, right padding);
                                    prints "tokens/s" of request tokens
  eval_torch.py generate DIR P N    greedy generation of N tokens after a P-token prompt with a plain PyTorch
                                    KV cache; prints prefill and decode tokens/s

The model is the plain float32 forward of tests/model/torch_reference.py (the reference the model code is
tested against). Threads: torch.set_num_threads($THREADS or all cores).
"""
import json
import os
import random
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "model"))
import torch_reference as ref  # noqa: E402

VOCAB, HIDDEN, LAYERS, HEADS, FF, CONTEXT = 8192, 512, 6, 8, 1376, 1024
BATCH = 8


def bytes_to_unicode():
    """GPT-2's byte -> printable character table (the spelling of byte-level BPE tokens)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def write_model(out):
    os.makedirs(out, exist_ok=True)
    cfg = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": VOCAB, "hidden_size": HIDDEN,
        "intermediate_size": FF, "num_hidden_layers": LAYERS, "num_attention_heads": HEADS,
        "num_key_value_heads": HEADS, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
        "max_position_embeddings": CONTEXT, "tie_word_embeddings": False, "torch_dtype": "float32",
        "bos_token_id": 8190, "eos_token_id": 8191,
    }
    json.dump(cfg, open(os.path.join(out, "config.json"), "w"), indent=2)
    g = torch.Generator().manual_seed(0)
    tensors = {"model.embed_tokens.weight": torch.randn(VOCAB, HIDDEN, generator=g) * 0.02}
    for l in range(LAYERS):
        p = f"model.layers.{l}."
        for name, shape in [("self_attn.q_proj", (HIDDEN, HIDDEN)), ("self_attn.k_proj", (HIDDEN, HIDDEN)),
                            ("self_attn.v_proj", (HIDDEN, HIDDEN)), ("self_attn.o_proj", (HIDDEN, HIDDEN)),
                            ("mlp.gate_proj", (FF, HIDDEN)), ("mlp.up_proj", (FF, HIDDEN)),
                            ("mlp.down_proj", (HIDDEN, FF))]:
            tensors[p + name + ".weight"] = torch.randn(*shape, generator=g) * 0.02
        tensors[p + "input_layernorm.weight"] = torch.ones(HIDDEN)
        tensors[p + "post_attention_layernorm.weight"] = torch.ones(HIDDEN)
    tensors["model.norm.weight"] = torch.ones(HIDDEN)
    tensors["lm_head.weight"] = torch.randn(VOCAB, HIDDEN, generator=g) * 0.02
    ref.write_safetensors(os.path.join(out, "model.safetensors"), tensors)
    # Byte-level BPE without merges: every byte is one token (ids 0..255 in byte order), the rest of the
    # 8192 ids are filler tokens the text never produces, and the last two are <s> and </s>.
    table = bytes_to_unicode()
    vocab = {table[b]: b for b in range(256)}
    for i in range(256, VOCAB - 2):
        vocab[f"<filler_{i}>"] = i
    vocab["<s>"], vocab["</s>"] = VOCAB - 2, VOCAB - 1
    tok = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": VOCAB - 2 + i, "content": c, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True} for i, c in enumerate(["<s>", "</s>"])],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "vocab": vocab,
                  "merges": []},
    }
    json.dump(tok, open(os.path.join(out, "tokenizer.json"), "w"), ensure_ascii=False)
    json.dump({"bos_token": "<s>", "eos_token": "</s>", "add_bos_token": False},
              open(os.path.join(out, "tokenizer_config.json"), "w"))


def write_requests(out, text, questions):
    """mc.jsonl: `questions` questions (~200-byte contexts) with 4 choices of 8-24 bytes; single.jsonl: each
    of those requests again with its own distinct context of the same length."""
    rng = random.Random(0)
    text = " ".join(text.split())
    mc, single = [], []
    for q in range(questions):
        start = rng.randrange(0, len(text) - 400)
        ctx = text[start : start + rng.randrange(180, 220)] + "\nAnswer:"
        for c in range(4):
            s = rng.randrange(0, len(text) - 40)
            cont = " " + text[s : s + rng.randrange(8, 24)].strip()
            mc.append({"context": ctx, "continuation": cont})
            s2 = rng.randrange(0, len(text) - 400)
            single.append({"context": text[s2 : s2 + len(ctx)] + f" {q}.{c}", "continuation": cont})
    for name, rows in [("mc.jsonl", mc), ("single.jsonl", single)]:
        with open(os.path.join(out, name), "w") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")


def load(dir_):
    torch.set_num_threads(int(os.environ.get("THREADS", os.cpu_count())))
    cfg, P = ref.load_folder(os.path.join(dir_, "model"), torch.float32)
    for p in P.values():
        p.requires_grad_(False)
    return cfg, P


def encode(text):
    return list(text.encode("utf-8"))  # the bench tokenizer: token id = byte


def score(dir_, path):
    cfg, P = load(dir_)
    reqs = [json.loads(l) for l in open(path) if l.strip()]
    # lm-evaluation-harness: trailing whitespace of the context moves to the continuation; the input is
    # (context + continuation)[-(W+1):][:-1]; the last len(continuation) logits rows are scored.
    items = []
    for r in reqs:
        ctx, cont = r["context"], r["continuation"]
        n = len(ctx) - len(ctx.rstrip())
        if n:
            ctx, cont = ctx[:-n], ctx[-n:] + cont
        c, w = encode(ctx), encode(ctx + cont)
        items.append((c, w[len(c):]))
    total = sum(len(c) + len(k) for c, k in items)
    order = sorted(range(len(items)), key=lambda i: -(len(items[i][0]) + len(items[i][1])))
    results = [None] * len(items)
    t0 = time.time()
    with torch.no_grad():
        for b in range(0, len(order), BATCH):
            idx = order[b : b + BATCH]
            inps = [(items[i][0] + items[i][1])[-(CONTEXT + 1):][:-1] for i in idx]
            T = max(len(x) for x in inps)
            batch = torch.zeros(len(idx), T, dtype=torch.long)
            for j, x in enumerate(inps):
                batch[j, : len(x)] = torch.tensor(x)
            logp = F.log_softmax(ref.forward(cfg, P, batch), dim=-1)
            for j, i in enumerate(idx):
                cont = items[i][1]
                rows = logp[j, len(inps[j]) - len(cont) : len(inps[j])]
                results[i] = rows.gather(1, torch.tensor(cont).view(-1, 1)).sum().item()
    dt = time.time() - t0
    print(f"torch score: {len(items)} requests, {total} tokens in {dt:.3f} s ({total / dt:.1f} tokens/s)")


def generate(dir_, prompt_len, new_tokens):
    """Greedy decoding with a per-layer KV cache (the Llama forward of torch_reference, one step at a time)."""
    cfg, P = load(dir_)
    hp = ref.hparams(cfg)
    NH, NKV, HD, eps = hp["NH"], hp["NKV"], hp["HD"], hp["eps"]
    f = ref.inv_freq(hp, torch.float32)
    maxT = prompt_len + new_tokens
    ang = torch.arange(maxT, dtype=torch.float32).view(-1, 1) * f.view(1, -1)
    cos_all, sin_all = torch.cat((ang, ang), -1).cos(), torch.cat((ang, ang), -1).sin()
    cache = [[None, None] for _ in range(hp["L"])]

    def step(tokens, pos):
        T = len(tokens)
        x = P["model.embed_tokens.weight"][torch.tensor(tokens)].unsqueeze(0)
        cos, sin = cos_all[pos : pos + T], sin_all[pos : pos + T]
        for l in range(hp["L"]):
            p = f"model.layers.{l}."
            h = ref.rmsnorm(x, P[p + "input_layernorm.weight"], eps)
            q = F.linear(h, P[p + "self_attn.q_proj.weight"]).view(1, T, NH, HD).transpose(1, 2)
            k = F.linear(h, P[p + "self_attn.k_proj.weight"]).view(1, T, NKV, HD).transpose(1, 2)
            v = F.linear(h, P[p + "self_attn.v_proj.weight"]).view(1, T, NKV, HD).transpose(1, 2)
            q = q * cos + ref.rotate_half(q) * sin
            k = k * cos + ref.rotate_half(k) * sin
            if cache[l][0] is not None:
                k = torch.cat((cache[l][0], k), dim=2)
                v = torch.cat((cache[l][1], v), dim=2)
            cache[l] = [k, v]
            s = q @ k.transpose(-1, -2) / (HD ** 0.5)
            if T > 1:
                mask = torch.arange(pos + T).view(1, -1) > (pos + torch.arange(T)).view(-1, 1)
                s = s.masked_fill(mask, float("-inf"))
            a = (torch.softmax(s, dim=-1) @ v).transpose(1, 2).reshape(1, T, NH * HD)
            x = x + F.linear(a, P[p + "self_attn.o_proj.weight"])
            h = ref.rmsnorm(x, P[p + "post_attention_layernorm.weight"], eps)
            m = F.silu(F.linear(h, P[p + "mlp.gate_proj.weight"])) * F.linear(h, P[p + "mlp.up_proj.weight"])
            x = x + F.linear(m, P[p + "mlp.down_proj.weight"])
        h = ref.rmsnorm(x[:, -1], P["model.norm.weight"], eps)
        return F.linear(h, P["lm_head.weight"])[0]

    prompt = [random.Random(1).randrange(0, 256) for _ in range(prompt_len)]
    with torch.no_grad():
        t0 = time.time()
        logits = step(prompt, 0)
        t1 = time.time()
        pos = prompt_len
        for _ in range(new_tokens):
            nxt = int(torch.argmax(logits))
            logits = step([nxt], pos)
            pos += 1
        t2 = time.time()
    print(f"torch generate: prompt {prompt_len} tokens ({prompt_len / (t1 - t0):.1f} tokens/s), "
          f"{new_tokens} new tokens in {t2 - t1:.3f} s ({new_tokens / (t2 - t1):.1f} tokens/s)")


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "make":
        write_model(os.path.join(sys.argv[2], "model"))
        text = open(os.path.join(HERE, "..", "..", "shared", "data", "general", "tinyshakespeare.txt")).read()
        write_requests(sys.argv[2], text, int(os.environ.get("QUESTIONS", "40")))
    elif cmd == "score":
        score(sys.argv[2], sys.argv[3])
    elif cmd == "generate":
        generate(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.exit("usage: eval_torch.py make DIR | score DIR FILE | generate DIR PROMPT_TOKENS NEW_TOKENS")
