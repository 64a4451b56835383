"""Error figures between two action arrays (the parity inputs come from act_edge.synthetic_inputs)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..metrics import action_range, normalized_unit
from ..spec import ActSpec


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
