"""act_edge.metrics.action_errors: the one definition of the error figures (parity, fp16, engines, bench)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from act_edge.metrics import ERROR_FIGURES, action_errors, describe_pct_range
from act_edge.spec import Normalization
from bundles import synthetic_spec

A = 4


def _spec(norm: Normalization):
    return dataclasses.replace(synthetic_spec(chunk=6, dof=A), action_norm=norm)


def _reference_figures(ref: np.ndarray, got: np.ndarray, span: np.ndarray, unit: np.ndarray) -> dict:
    """Written out loop by loop, independently of act_edge.metrics."""
    rows = ref.reshape(-1, A).astype(np.float64), got.reshape(-1, A).astype(np.float64)
    per_max, per_rmse = [], []
    for d in range(A):
        e = [g - r for r, g in zip(rows[0][:, d], rows[1][:, d])]
        per_max.append(max(abs(x) for x in e))
        per_rmse.append((sum(x * x for x in e) / len(e)) ** 0.5)
    allsq = [(g - r) ** 2 for r, g in zip(rows[0].ravel(), rows[1].ravel())]
    pct_max = [100 * m / s for m, s in zip(per_max, span)]
    pct_rmse = [100 * r / s for r, s in zip(per_rmse, span)]
    return {"max_abs": max(per_max), "rmse": (sum(allsq) / len(allsq)) ** 0.5,
            "max_abs_normalized": max(m / u for m, u in zip(per_max, unit)),
            "max_abs_pct_range": max(pct_max), "rmse_pct_range": (sum(p * p for p in pct_rmse) / A) ** 0.5,
            "per_dim_max_abs_pct_range": pct_max, "per_dim_rmse_pct_range": pct_rmse}


RNG = np.random.default_rng(7)
MEAN, STD = RNG.uniform(-1, 1, A), RNG.uniform(0.1, 2.0, A)
LO = RNG.uniform(-3, -1, A)
HI = LO + RNG.uniform(0.5, 4.0, A)


@pytest.mark.parametrize("norm, span, unit, definition", [
    (Normalization("mean_std", mean=tuple(MEAN), std=tuple(STD)), 6 * STD, STD, "6 x std"),
    (Normalization("min_max", min=tuple(LO), max=tuple(HI)), HI - LO, (HI - LO) / 2, "max - min"),
    (Normalization("identity"), None, np.ones(A), "observed range"),
], ids=["mean_std", "min_max", "identity"])
def test_figures_match_an_independent_computation(norm, span, unit, definition):
    rng = np.random.default_rng(11)
    ref = rng.normal(0, 1.5, (3, 6, A)).astype(np.float32)
    got = (ref + rng.normal(0, 0.01, ref.shape)).astype(np.float32)
    if span is None:  # no stats: the reference's own span per dimension
        flat = ref.reshape(-1, A).astype(np.float64)
        span = flat.max(0) - flat.min(0)
    out = action_errors(_spec(norm), ref, got)
    want = _reference_figures(ref, got, span, unit)
    assert out["finite"] is True and definition in out["range_definition"]
    for key in ERROR_FIGURES:
        assert out[key] == pytest.approx(want[key], rel=1e-9), key
    for key in ("per_dim_max_abs_pct_range", "per_dim_rmse_pct_range"):
        assert out[key] == pytest.approx(want[key], abs=1e-6), key


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("side", ["candidate", "reference"])
def test_non_finite_actions_give_infinite_figures_never_nan(bad, side):
    rng = np.random.default_rng(3)
    ref = rng.normal(0, 1, (2, 6, A)).astype(np.float32)
    got = ref + np.float32(0.01)
    (got if side == "candidate" else ref)[1, 2, 3] = bad
    out = action_errors(_spec(Normalization("mean_std", mean=tuple(MEAN), std=tuple(STD))), ref, got)
    assert out["finite"] is False
    assert all(out[k] == float("inf") for k in ERROR_FIGURES)
    assert not out["max_abs_pct_range"] <= 100.0  # fails any limit


def test_shape_mismatch_is_refused():
    rng = np.random.default_rng(5)
    with pytest.raises(ValueError, match=r"actions of shape \(1, 6, 4\) compared with a reference of shape \(2, 6, 4\)"):
        action_errors(_spec(Normalization("identity")), rng.normal(size=(2, 6, A)), rng.normal(size=(1, 6, A)))


def test_description_reads_current_and_old_records():
    assert describe_pct_range({"max_abs_pct_range": 0.1234, "rmse_pct_range": 0.05}) == \
        "max |err| 0.123% / RMSE 0.05% of range"
    old_engine_record = {"max_abs": 1e-3, "rmse": 5e-4, "max_abs_pct_range": 0.5, "rmse_pct_range": 0.25,
                         "max_abs_pct_range_per_dim": [0.5, 0.1], "range": "max - min (normalization stats)"}
    assert describe_pct_range(old_engine_record) == "max |err| 0.5% / RMSE 0.25% of range"
    assert describe_pct_range({}) == "not measured"
