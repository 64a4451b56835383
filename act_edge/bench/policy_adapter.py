"""Load a policy for the bench and read its profiler (the runner also calls Policy.step / predict_chunk).

The bench reports each stage under the runtime profiler's names (`act_edge.profiler.STAGES`) with
explicit units: `p50_us ... std_us, count`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..profiler import STAGES

FIGURES = ("p50", "p90", "p99", "max", "mean", "std")


def load(bundle_dir: str, backend: str = "auto", precision: str | None = None, max_batch: int = 1,
         warmup: int = 3, device: str | None = None, inference: str = "sync") -> Any:
    from ..policy import Policy

    return Policy.load(bundle_dir, backend=backend, device=device, precision=precision, max_batch=max_batch,
                       warmup=warmup, profile=True, inference=inference)


def describe(policy: Any) -> dict[str, Any]:
    be = policy.backend
    engine = getattr(be, "engine_path", None)  # TensorRT backend: the plan it loaded
    return {"backend": be.name, "device": be.device, "precision": be.precision,
            "engine": str(engine) if engine else None, "mode": policy.mode,
            "inference": getattr(policy, "inference", "sync"),
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


def chunk_report(policy: Any) -> dict[str, Any]:
    """{"ticks", "chunk_age": {p50, p99, max}, "inferences", "inferences_per_s", "starved_ticks"}."""
    empty = {"ticks": 0, "chunk_age": {"p50": None, "p99": None, "max": None}, "inferences": 0,
             "inferences_per_s": None, "starved_ticks": 0}
    return policy.latency_report().get("chunks") or empty  # a policy without chunk statistics: none


def chunk_ages(policy: Any) -> np.ndarray:
    ages = getattr(policy, "chunk_ages", None)
    return ages() if ages is not None else np.zeros(0, dtype=np.int64)


def stage_samples(policy: Any) -> dict[str, np.ndarray]:
    """Raw per-step durations (us) per stage, for the plot."""
    return policy.profile_samples()


def close(policy: Any) -> None:
    policy.close()
