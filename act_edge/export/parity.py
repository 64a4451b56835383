"""Parity inputs (seeded, realistic, never zeros) and error figures between two action arrays."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..bundle import io_description
from ..metrics import action_range, normalized_unit
from ..spec import ActSpec, Normalization


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
    if norm.mode == "mean_std":
        x = np.array(norm.mean) + np.array(norm.std) * rng.standard_normal(shape)
    elif norm.mode == "min_max":
        lo, hi = np.array(norm.min), np.array(norm.max)
        x = lo + (hi - lo) * rng.uniform(size=shape)
    else:
        x = rng.standard_normal(shape)
    return x.astype(np.float32)


def compare(spec: ActSpec, reference: np.ndarray, candidate: np.ndarray) -> dict[str, Any]:
    """Errors of `candidate` against `reference` (both (B, chunk, A), robot units)."""
    diff = np.abs(candidate.astype(np.float64) - reference.astype(np.float64))
    unit = normalized_unit(spec)  # robot units per normalized unit
    rng, rng_def = action_range(spec, reference)
    per_dim_max = diff.reshape(-1, diff.shape[-1]).max(0)
    per_dim_rmse = np.sqrt((diff.reshape(-1, diff.shape[-1]) ** 2).mean(0))
    return {
        "max_abs": float(diff.max()),
        "max_abs_normalized": float((diff / unit).max()),
        "max_abs_pct_range": float((per_dim_max / rng).max() * 100),
        "rmse_pct_range": float(np.sqrt(((per_dim_rmse / rng) ** 2).mean()) * 100),
        "per_dim_max_abs_pct_range": [round(float(v), 6) for v in per_dim_max / rng * 100],
        "per_dim_rmse_pct_range": [round(float(v), 6) for v in per_dim_rmse / rng * 100],
        "range_definition": rng_def,
        # both sides and every figure: a NaN figure compares False with any tolerance, so it must not pass
        "finite": bool(np.isfinite(candidate).all() and np.isfinite(reference).all()
                       and np.isfinite(diff / unit).all() and np.isfinite(per_dim_max / rng).all()),
    }
