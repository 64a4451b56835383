"""The one module of the bench that calls the Policy API: load a policy, read its profiler.

The bench reports each stage under the runtime profiler's names (`act_edge.profiler.STAGES`) with
explicit units: `p50_us ... std_us, count`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..profiler import STAGES

FIGURES = ("p50", "p90", "p99", "max", "mean", "std")


def load(bundle_dir: str, backend: str = "auto", precision: str | None = None, max_batch: int = 1,
         warmup: int = 3, device: str | None = None) -> Any:
    from ..policy import Policy

    return Policy.load(bundle_dir, backend=backend, device=device, precision=precision, max_batch=max_batch,
                       warmup=warmup, profile=True)


def describe(policy: Any) -> dict[str, Any]:
    be = policy.backend
    engine = getattr(be, "engine_path", None)  # TensorRT backend: the plan it loaded
    return {"backend": be.name, "device": be.device, "precision": be.precision,
            "engine": str(engine) if engine else None, "mode": policy.mode,
            "skipped_backends": list(policy.skipped_backends)}


def reset_profile(policy: Any) -> None:
    policy.reset_profile()


def latency_report(policy: Any) -> dict[str, Any]:
    """{stage: {p50_us, p90_us, p99_us, max_us, mean_us, std_us, count}} in STAGES order."""
    return normalize_report(policy.latency_report())


def normalize_report(rep: dict[str, Any]) -> dict[str, Any]:
    """Policy.latency_report() ({"unit": "us", "stages": {stage: {p50, ...}}}) -> units in the keys."""
    stages = rep.get("stages", {})
    return {name: {**{f"{k}_us": float(stages[name][k]) for k in FIGURES}, "count": int(stages[name]["count"])}
            for name in STAGES if name in stages}


def stage_samples(policy: Any) -> dict[str, np.ndarray]:
    """Raw per-step durations (us) per stage, for the plot."""
    return policy.profile_samples()


def close(policy: Any) -> None:
    policy.close()
