#!/usr/bin/env python3
"""PyTorch oracle for tests/train/torch_training_test.cpp: ten optimizer steps of a tiny model in float64.

The model is the independent float64 implementation of tests/model/torch_reference.py (written from the Hugging
Face architectures, without transformers); the optimizer is torch.optim.AdamW with two parameter groups (weight
decay on matrices, off for 1-D tensors: norms and biases) and torch.nn.utils.clip_grad_norm_, i.e. the training
step of `finmerge cpt` written with PyTorch's own parts.

Usage: torch_training_reference.py CASE_DIR...
  CASE_DIR/model/          Hugging Face folder (config.json + *.safetensors), the starting weights
  CASE_DIR/tokens.bin      uint32 S, B, T, then per step s: inputs[B*T], targets[B*T] (0xffffffff = ignored)
  CASE_DIR/schedule.json   {"lr": [S rates], "beta1", "beta2", "eps", "weight_decay", "clip"}
writes CASE_DIR/training.safetensors (all F32):
  "loss" (S)                   mean cross-entropy of each step's batch, before that step's update
  "grad_norm" (S)              global gradient norm before clipping
  "step{s}.grad.<name>"        every parameter's gradient at step s (0-based)
  "final.<name>"               every parameter after the S updates
  "final.logits" (B, T, V)     logits of step 0's inputs under the final weights
"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "model"))
import torch_reference as ref  # noqa: E402


def read_steps(path):
    raw = np.fromfile(path, dtype="<u4")
    S, B, T = int(raw[0]), int(raw[1]), int(raw[2])
    out, pos = [], 3
    for _ in range(S):
        inputs = torch.from_numpy(raw[pos : pos + B * T].astype(np.int64).reshape(B, T))
        pos += B * T
        targets = torch.from_numpy(raw[pos : pos + B * T].astype(np.int64).reshape(B, T))
        pos += B * T
        out.append((inputs, targets))
    return out


def run_case(case):
    torch.set_default_dtype(torch.float64)
    cfg, P = ref.load_folder(os.path.join(case, "model"), torch.float64)
    steps = read_steps(os.path.join(case, "tokens.bin"))
    sched = json.load(open(os.path.join(case, "schedule.json")))
    decay = [p for p in P.values() if p.dim() >= 2]
    no_decay = [p for p in P.values() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": sched["weight_decay"]}, {"params": no_decay, "weight_decay": 0.0}],
        lr=sched["lr"][0],
        betas=(sched["beta1"], sched["beta2"]),
        eps=sched["eps"],
    )
    out = {}
    losses, norms = [], []
    for s, (inputs, targets) in enumerate(steps):
        opt.zero_grad(set_to_none=False)
        loss = ref.loss_of(ref.forward(cfg, P, inputs), targets)
        loss.backward()
        losses.append(loss.item())
        for name, p in P.items():
            out[f"step{s}.grad.{name}"] = p.grad.detach().clone()
        clip = sched["clip"]
        norm = torch.nn.utils.clip_grad_norm_(list(P.values()), clip if clip > 0 else float("inf"))
        norms.append(float(norm))
        for g in opt.param_groups:
            g["lr"] = sched["lr"][s]
        opt.step()
    out["loss"] = torch.tensor(losses)
    out["grad_norm"] = torch.tensor(norms)
    for name, p in P.items():
        out["final." + name] = p.detach()
    with torch.no_grad():
        out["final.logits"] = ref.forward(cfg, P, steps[0][0])
    ref.write_safetensors(os.path.join(case, "training.safetensors"), out)


if __name__ == "__main__":
    for case in sys.argv[1:]:
        run_case(case)
