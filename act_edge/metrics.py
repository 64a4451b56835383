"""Action error units shared by export parity, engine verification, the doctor and bench (numpy only).

- normalized units: robot units divided by the action un-normalization scale (std, or (max - min) / 2);
- % of range: robot units divided by the action range, defined from the normalization stats
  (max - min for min_max, 6 x std for mean_std) or, without stats, from the reference actions' span.
A dimension whose scale or range is 0 (a constant action: a LeRobot stat with std 0 or min == max,
which LeRobot's `+ eps` normalization accepts) is measured in robot units instead of dividing by 0.
"""

from __future__ import annotations

import numpy as np

from .spec import ActSpec

MIN_OBSERVED_SPAN = 1e-12  # reference span floor when no stats define the range


def _nonzero(values: np.ndarray) -> np.ndarray:
    values = np.abs(np.asarray(values, dtype=np.float64))
    return np.where(values > 0, values, 1.0)


def normalized_unit(spec: ActSpec) -> np.ndarray:
    """Robot units per normalized action unit, per dimension (1 where the stats make the action constant)."""
    return _nonzero(spec.action_norm.unit_scale())


def action_range(spec: ActSpec, reference: np.ndarray) -> tuple[np.ndarray, str]:
    """Per-dimension action range used for errors in %, and how it was defined."""
    norm = spec.action_norm
    if norm.mode == "min_max":
        span, what = np.array(norm.max, dtype=np.float64) - np.array(norm.min, dtype=np.float64), \
            "max - min (normalization stats)"
    elif norm.mode == "mean_std":
        span, what = 6.0 * np.array(norm.std, dtype=np.float64), "6 x std (normalization stats; +-3 sigma)"
    else:
        flat = np.asarray(reference, dtype=np.float64).reshape(-1, reference.shape[-1])
        return np.maximum(flat.max(0) - flat.min(0), MIN_OBSERVED_SPAN), "observed range of the reference actions"
    if not (span > 0).all():
        what += "; constant dimensions in robot units"
    return _nonzero(span), what
