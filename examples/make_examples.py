#!/usr/bin/env python3
"""Writes examples/features.npy, a small [2, 32, 8, 8] float32 feature map (a detection-style batch
of 2), and examples/grad.npy, a gradient for it, used by the README's first command.
Run with NumPy: python3 examples/make_examples.py"""
import os

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(2018)
features = rng.normal(loc=3.0, scale=2.0, size=(2, 32, 8, 8)).astype(np.float32)
np.save(os.path.join(here, "features.npy"), features)
np.save(os.path.join(here, "grad.npy"), rng.normal(size=features.shape).astype(np.float32))
