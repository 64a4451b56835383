"""Seeded synthetic graph inputs as a robot would send them (numpy only): uint8 frames, depth within
range, state vectors near their normalization stats. Used by export parity and bench."""

from __future__ import annotations

import numpy as np

from .manifest_schema import io_description
from .spec import ActSpec, Normalization


def random_inputs(spec: ActSpec, batch: int, seed: int) -> dict[str, np.ndarray]:
    """Graph inputs as a robot would send them: uint8 frames, depth within range, state near its stats."""
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    for entry in io_description(spec)["inputs"]:
        shape = [batch if d == "batch" else d for d in entry["shape"]]
        name = entry["name"]
        if entry["dtype"] == "uint8":
            out[name] = rng.integers(0, 256, size=shape, dtype=np.uint8)
        elif name.startswith("depth"):
            lo, hi = spec.cameras[0].depth_range
            out[name] = rng.uniform(lo, hi, size=shape).astype(np.float32)
        else:
            norm = spec.state_norm if name == "state" else spec.env_state_norm
            out[name] = sample_vector(norm, shape, rng)
    return out


def sample_vector(norm: Normalization, shape: list[int], rng: np.random.Generator) -> np.ndarray:
    """float32 vectors of `shape` drawn around `norm`'s stats (mean +- std, or uniform in [min, max])."""
    if norm.mode == "mean_std":
        x = np.array(norm.mean) + np.array(norm.std) * rng.standard_normal(shape)
    elif norm.mode == "min_max":
        lo, hi = np.array(norm.min), np.array(norm.max)
        x = lo + (hi - lo) * rng.uniform(size=shape)
    else:
        x = rng.standard_normal(shape)
    return x.astype(np.float32)
