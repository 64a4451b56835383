"""Action errors: the one definition of the figures export parity, engine verification, the doctor and
bench record (numpy only), and the one vocabulary (ERROR_FIGURES) the manifest and bench JSON use.

- normalized units: robot units divided by the action un-normalization scale (std, or (max - min) / 2);
- % of range: robot units divided by the action range, defined from the normalization stats
  (max - min for min_max, 6 x std for mean_std) or, without stats, from the reference actions' span.
A dimension whose scale or range is 0 (a constant action: a LeRobot stat with std 0 or min == max,
which LeRobot's `+ eps` normalization accepts) is measured in robot units instead of dividing by 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .spec import ActSpec

MIN_OBSERVED_SPAN = 1e-12  # reference span floor when no stats define the range

# The figures action_errors returns (scalars; per-dimension lists and `finite` besides). Recorded under
# these names in manifest.json (parity.onnx_fp32, fp16_error, engines[].verify) and bench JSON.
ERROR_FIGURES = ("max_abs", "rmse", "max_abs_normalized", "max_abs_pct_range", "rmse_pct_range")


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


def action_errors(spec: ActSpec, reference: np.ndarray, candidate: np.ndarray) -> dict[str, Any]:
    """Errors of `candidate` against `reference` (same shape, (..., A), robot units).

    max_abs / rmse: robot units; max_abs_normalized: normalized action units (normalized_unit);
    max_abs_pct_range: the largest per-dimension max |error| in % of that dimension's range
    (action_range); rmse_pct_range: the RMS over dimensions of each dimension's RMSE in % of its range.
    A non-finite candidate or reference gives `finite` False and infinite figures (never NaN: a NaN
    compares False with any limit).
    """
    reference, candidate = np.asarray(reference), np.asarray(candidate)
    if candidate.shape != reference.shape:
        raise ValueError(f"actions of shape {candidate.shape} compared with a reference of shape {reference.shape}")
    span, what = action_range(spec, reference)
    out: dict[str, Any] = {"range_definition": what}
    if not (np.isfinite(candidate).all() and np.isfinite(reference).all()):
        return {**out, **{k: float("inf") for k in ERROR_FIGURES}, "finite": False}
    err = candidate.astype(np.float64) - reference.astype(np.float64)
    flat = err.reshape(-1, err.shape[-1])
    max_dim = np.abs(flat).max(axis=0)
    rmse_dim = np.sqrt((flat ** 2).mean(axis=0))
    pct_max, pct_rmse = 100.0 * max_dim / span, 100.0 * rmse_dim / span
    out.update({
        "max_abs": float(max_dim.max()),
        "rmse": float(np.sqrt((flat ** 2).mean())),
        "max_abs_normalized": float((max_dim / normalized_unit(spec)).max()),
        "max_abs_pct_range": float(pct_max.max()),
        "rmse_pct_range": float(np.sqrt((pct_rmse ** 2).mean())),
        "per_dim_max_abs_pct_range": [round(float(v), 6) for v in pct_max],
        "per_dim_rmse_pct_range": [round(float(v), 6) for v in pct_rmse],
    })
    out["finite"] = bool(all(np.isfinite(out[k]) for k in ERROR_FIGURES))
    return out


def describe_pct_range(figures: dict[str, Any]) -> str:
    """"max |err| X% / RMSE Y% of range" from recorded figures (any manifest version), or "not measured"."""
    try:
        return f"max |err| {float(figures['max_abs_pct_range']):.3g}% / RMSE {float(figures['rmse_pct_range']):.3g}% of range"
    except (KeyError, TypeError, ValueError):
        return "not measured"

