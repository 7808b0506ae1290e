#!/usr/bin/python3
"""The competitor of bench/merge.sh: the paper's merge, cpt + w * (instruct - base), tensor by tensor in numpy
(memory-mapped inputs, f32 arithmetic, round-to-nearest-even bf16 output, one safetensors file), written the way
a careful Python user would.
Usage: numpy_merge.py BASE INSTRUCT CPT OUT [WEIGHT]
"""
import json
import os
import struct
import sys

import numpy as np


def open_st(folder):
    path = os.path.join(folder, "model.safetensors")
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    mm = np.memmap(path, dtype=np.uint8, mode="r")
    return header, mm, 8 + n


def view(st, name):
    header, mm, start = st
    info = header[name]
    a, b = info["data_offsets"]
    raw = mm[start + a:start + b].view(np.uint16)
    return (raw.astype(np.uint32) << 16).view(np.float32).reshape(info["shape"])


def main():
    base, inst, cpt = [open_st(p) for p in sys.argv[1:4]]
    out = sys.argv[4]
    w = np.float32(float(sys.argv[5]) if len(sys.argv) > 5 else 1.0)
    names = [k for k in cpt[0] if k != "__metadata__"]
    header, off = {"__metadata__": {"format": "pt"}}, 0
    for k in names:
        n = cpt[0][k]["data_offsets"][1] - cpt[0][k]["data_offsets"][0]
        header[k] = {"dtype": "BF16", "shape": cpt[0][k]["shape"], "data_offsets": [off, off + n]}
        off += n
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for k in names:
            m = view(cpt, k) + w * (view(inst, k) - view(base, k))
            u = m.view(np.uint32)
            u = u + (0x7FFF + ((u >> 16) & 1))
            f.write((u >> 16).astype(np.uint16).tobytes())


if __name__ == "__main__":
    main()
