#!/usr/bin/env python3
"""Writes src/test/resources/sixteen_bit/roundings.tsv, which Float16Test checks jnorm's float16 and
bfloat16 conversions against: each value (as float.hex), its float16 pattern as NumPy rounds it from
float64 (once, to nearest even), and its bfloat16 pattern as PyTorch rounds a float32 (blank for values
that are not float32: PyTorch would round them twice). Run with Debian's NumPy 1.24 and PyTorch 1.13:
/usr/bin/python3 src/test/python/make_sixteen_bit.py
"""
import os

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "resources", "sixteen_bit", "roundings.tsv")

edges = [0.0, -0.0, 1.0, -1.0, 0.5, 2.0, 3.0, 65504.0, 65519.0, 65520.0, -65520.0, 65536.0, 1e10, -1e10,
         float("inf"), float("-inf"), 2.0 ** -24, 2.0 ** -25, 3 * 2.0 ** -25, 2.0 ** -14, 2.0 ** -14 - 2.0 ** -24,
         2.0 ** -14 - 2.0 ** -25, 1 + 2.0 ** -11, 1 + 3 * 2.0 ** -11, 1 + 2.0 ** -8, 1 + 3 * 2.0 ** -8,
         np.finfo(np.float32).max, np.finfo(np.float32).tiny, 2.0 ** -149, 2.0 ** -133, 3 * 2.0 ** -134,
         2.0 ** -126 - 2.0 ** -149, 0.1, -0.1, 1 / 3, 3.4e38, 3.3961e38, 7.0e-46]
# Not float32: rounding through float32 first would give another answer than rounding once.
doubles = [1 + 2.0 ** -11 + 2.0 ** -40, 1 - 2.0 ** -12 - 2.0 ** -45, 65519.99999, 2.0 ** -25 + 2.0 ** -60,
           1 + 2.0 ** -8 + 2.0 ** -45]
rng = np.random.default_rng(7)
randoms = np.ldexp(rng.uniform(-1, 1, 3000), rng.integers(-40, 20, 3000)).astype(np.float32).astype(np.float64)

with open(OUT, "w") as f:
    f.write("# value\tfloat16 bits\tbfloat16 bits (blank: not a float32)\n")
    for v in list(np.float32(edges).astype(np.float64)) + doubles + list(randoms):
        v = float(v)
        f16 = int(np.array([v], dtype=np.float64).astype(np.float16).view(np.uint16)[0])
        is_f32 = float(np.float32(v)) == v or v != v
        bf16 = ""
        if is_f32:
            bf16 = "%04x" % (int(torch.tensor([v], dtype=torch.float32).to(torch.bfloat16).view(torch.int16)[0]) & 0xffff)
        f.write("%s\t%04x\t%s\n" % (v.hex(), f16, bf16))
    f.write("nan\t7e00\t7fc0\n")
