#!/usr/bin/env python3
"""Writes the NumPy-made .npy samples of src/test/resources/npy that NpyTest reads and
reproduces byte for byte. Values are k * 0.5 - 1 for k = 0, 1, ... in C order, so the Java test
can check them without NumPy. Run with Debian's NumPy 1.24: python3 src/test/python/make_npy_samples.py
"""
import os

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "resources", "npy")


def values(shape, dtype):
    return (np.arange(int(np.prod(shape)), dtype=np.float64) * 0.5 - 1).reshape(shape).astype(dtype)


os.makedirs(ROOT, exist_ok=True)
for name, shape, dtype in [
    ("f4_2x3", (2, 3), "<f4"),
    ("f2_2x3", (2, 3), "<f2"),
    ("f8_2x3", (2, 3), "<f8"),
    ("f4_vector_5", (5,), "<f4"),
    ("f8_scalar", (), "<f8"),
    ("f8_2x3x4x5", (2, 3, 4, 5), "<f8"),
    ("f4_empty_0x3", (0, 3), "<f4"),
    ("f8_long_dim_123456789x0", (123456789, 0), "<f8"),
]:
    np.save(os.path.join(ROOT, name + ".npy"), values(shape, dtype))

with open(os.path.join(ROOT, "f4_2x3_version2.npy"), "wb") as f:
    np.lib.format.write_array(f, values((2, 3), "<f4"), version=(2, 0))
np.save(os.path.join(ROOT, "big_endian_f8.npy"), values((3,), ">f8"))
np.save(os.path.join(ROOT, "int64_3.npy"), np.arange(3, dtype="<i8"))
np.save(os.path.join(ROOT, "fortran_f8_2x3.npy"), np.asfortranarray(values((2, 3), "<f8")))
with open(os.path.join(ROOT, "f8_2x3.npy"), "rb") as f:
    data = f.read()
with open(os.path.join(ROOT, "truncated_f8_2x3.npy"), "wb") as f:
    f.write(data[:-5])
print("wrote", sorted(os.listdir(ROOT)))
