#!/usr/bin/env python3
"""Independent PyTorch reference for finmerge's evaluation numbers (tests/eval/eval_torch_test.cpp).

Uses the float64 forward of tests/model/torch_reference.py (written from the architectures' definitions,
without transformers) and computes, with plain full forwards and no KV cache:
  - perplexity of a token stream in windows of W tokens: window k covers [k*s, k*s + W) and scores the tokens
    after the previous window's end (the Hugging Face perplexity recipe; s = stride, and 0 or >= W means W-1);
  - log-likelihoods of (context, continuation) token requests as lm-evaluation-harness computes them: the
    input is (context + continuation)[-(W+1):][:-1] and the last len(continuation) rows are scored.

Usage: torch_eval_reference.py CASE_DIR...   each CASE_DIR holds model/ and requests.json
  {"window": W, "ppl": [{"tokens": [...], "stride": s}, ...], "loglik": [{"context": [...], "continuation": [...]}]}
and gets reference.json {"ppl": [{"nll", "tokens"}...], "loglik": [{"logprob", "is_greedy"}...]}.
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "model"))
import torch_reference as ref  # noqa: E402


def log_probs(cfg, P, tokens):
    """log softmax of the logits (T, V) of one sequence."""
    with torch.no_grad():
        logits = ref.forward(cfg, P, torch.tensor([tokens], dtype=torch.long))[0]
    return torch.log_softmax(logits, dim=-1)


def perplexity(cfg, P, tokens, W, stride):
    s = W - 1 if stride == 0 or stride >= W else stride
    n = len(tokens)
    nll, scored_end, begin = 0.0, 1, 0
    while scored_end < n:
        end = min(n, begin + W)
        lp = log_probs(cfg, P, tokens[begin:end])
        for i in range(scored_end, end):  # token i is predicted by row i - 1 - begin
            nll -= lp[i - 1 - begin, tokens[i]].item()
        scored_end = end
        begin += s
    return {"nll": nll / (n - 1), "tokens": n - 1}


def loglik(cfg, P, context, continuation, W):
    whole = (context + continuation)[-(W + 1):]
    inp = whole[:-1]
    lp = log_probs(cfg, P, inp)
    rows = lp[len(inp) - len(continuation):]
    target = torch.tensor(continuation, dtype=torch.long)
    logprob = rows.gather(1, target.view(-1, 1)).sum().item()
    greedy = bool((rows.argmax(dim=-1) == target).all().item())
    return {"logprob": logprob, "is_greedy": greedy}


def run_case(case):
    cfg, P = ref.load_folder(os.path.join(case, "model"), torch.float64)
    req = json.load(open(os.path.join(case, "requests.json")))
    W = req["window"]
    out = {
        "ppl": [perplexity(cfg, P, r["tokens"], W, r["stride"]) for r in req["ppl"]],
        "loglik": [loglik(cfg, P, r["context"], r["continuation"], W) for r in req["loglik"]],
    }
    json.dump(out, open(os.path.join(case, "reference.json"), "w"))


if __name__ == "__main__":
    for case in sys.argv[1:]:
        run_case(case)
