"""The only module of the bench that knows the Policy API: load a policy, read its profiler.

Everything else in `act_edge.bench` talks to the object `load()` returns through `step`,
`predict_chunk`, `reset` and the functions below, so adapting to Policy API changes is a change here.

Profiler reports are accepted in two shapes and normalized to canonical stage names
(`STAGES`) with `p50_us ... std_us, count`:
  - flat: {"validate": {"p50_us": ...}, ..., "jitter_us": ...}
  - nested: {"stages": {"stage_inputs": {"p50": ...}, ...}, "unit": "us", "jitter": {...}}

FALLBACK (delete after the runtime merge): when `act_edge.policy` cannot be imported, a minimal
onnxruntime runner (`_FallbackPolicy`) stands in so the bench can be developed and tested.
"""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import numpy as np

from ..bundle import ONNX_FP16, ONNX_FP32, load_bundle
from ..errors import ActEdgeError, BackendUnavailable

STAGES = ("validate", "stage", "h2d", "infer", "d2h", "ensemble", "total")
ALIASES = {"stage_inputs": "stage", "host_to_device": "h2d", "device_to_host": "d2h"}
FIGURES = ("p50", "p90", "p99", "max", "mean", "std")


def runtime_name() -> str:
    """"act_edge.policy" when the real Policy imports, else "fallback-onnxruntime"."""
    try:
        from ..policy import Policy  # noqa: F401
    except ImportError:
        return "fallback-onnxruntime"
    return "act_edge.policy"


def load(bundle_dir: str, backend: str = "auto", precision: str | None = None, max_batch: int = 1,
         warmup: int = 3) -> Any:
    """A loaded policy (the real act_edge.Policy when importable)."""
    try:
        from ..policy import Policy
    except ImportError:
        return _FallbackPolicy.load(bundle_dir, backend, precision, max_batch, warmup)
    return Policy.load(bundle_dir, backend=backend, precision=precision, max_batch=max_batch, warmup=warmup,
                       profile=True)


def describe(policy: Any) -> dict[str, Any]:
    be = policy.backend
    engine = getattr(be, "engine_path", None)  # TensorRT backend: the plan it loaded
    return {"backend": be.name, "device": be.device, "precision": be.precision,
            "engine": str(engine) if engine else None,
            "mode": getattr(policy, "mode", None), "runtime": getattr(policy, "runtime", "act_edge.policy"),
            "skipped_backends": list(getattr(policy, "skipped_backends", []))}


def reset_profile(policy: Any) -> bool:
    """Forget the profiler's samples (so each bench phase is reported alone); False if impossible."""
    if hasattr(policy, "reset_profile"):
        policy.reset_profile()
        return True
    prof = getattr(policy, "_prof", None)  # runtime branch: StageProfiler, no public reset yet
    if prof is not None and hasattr(prof, "reset"):
        prof.reset()
        return True
    return False


def latency_report(policy: Any) -> dict[str, Any]:
    """{stage: {p50_us, p90_us, p99_us, max_us, mean_us, std_us, count}} in STAGES order."""
    return normalize_report(policy.latency_report())


def normalize_report(rep: dict[str, Any]) -> dict[str, Any]:
    stages = rep.get("stages", rep)
    out: dict[str, Any] = {}
    for name, s in stages.items():
        canon = ALIASES.get(name, name)
        if canon not in STAGES or not isinstance(s, dict):
            continue
        row = {f"{k}_us": float(s[f"{k}_us"] if f"{k}_us" in s else s[k]) for k in FIGURES}
        row["count"] = int(s.get("count", 0))
        out[canon] = row
    return {k: out[k] for k in STAGES if k in out}


def stage_samples(policy: Any) -> dict[str, np.ndarray] | None:
    """Raw per-step durations (us) per stage for the plot, when the profiler exposes them."""
    prof = getattr(policy, "_prof", None)  # runtime branch: StageProfiler.samples() (n, stages) in us
    if prof is None or not hasattr(prof, "samples"):
        return None
    data = prof.samples()
    out = {}
    for j, name in enumerate(getattr(prof, "stages", STAGES)):
        col = data[:, j]
        out[ALIASES.get(name, name)] = col if name == "total" else col[col > 0]
    return out


# =================================================================================================
# FALLBACK, only while act_edge.policy is not importable (before the runtime merge). Delete after.
# onnxruntime CPU, batch-1 ensemble-free: step() returns the chunk's first action.
# =================================================================================================
class _FallbackPolicy:
    runtime = "fallback-onnxruntime (act_edge.policy not importable)"
    mode = "first action of each chunk (fallback: no ensemble)"

    @classmethod
    def load(cls, bundle_dir: str, backend: str, precision: str | None, max_batch: int,
             warmup: int) -> "_FallbackPolicy":
        if backend not in ("auto", "onnxruntime"):
            raise BackendUnavailable(f"backend {backend!r} needs act_edge.policy (not in this build); "
                                     "use --backend onnxruntime")
        import onnxruntime as ort

        bundle = load_bundle(bundle_dir)
        precision = precision or "fp32"
        path = bundle.artifact_path(ONNX_FP16 if precision == "fp16" else ONNX_FP32)
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        for key in ("session.intra_op.allow_spinning", "session.inter_op.allow_spinning"):
            opts.add_session_config_entry(key, "0")  # spinning workers starve the control loop on small CPUs
        self = cls()
        self.bundle, self.spec = bundle, bundle.spec
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.backend = SimpleNamespace(name="onnxruntime", device="cpu", precision=precision)
        self._io = bundle.manifest["io"]["inputs"]
        self._rows: list[list[float]] = []
        for _ in range(warmup):
            self._run(self._zeros())
        return self

    def _zeros(self) -> dict[str, np.ndarray]:
        return {e["name"]: np.ones([1 if d == "batch" else d for d in e["shape"]], e["dtype"]) for e in self._io}

    def _run(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        return self.session.run(["actions"], feeds)[0]

    def _stage(self, obs: dict[str, Any], batched: bool) -> dict[str, np.ndarray]:
        feeds = {}
        for e in self._io:
            if e.get("cameras"):
                src = obs["depth" if e["name"].startswith("depth") else "images"]
                feeds[e["name"]] = np.stack([src[c] for c in e["cameras"]], axis=1 if batched else 0)
            else:
                feeds[e["name"]] = np.asarray(obs[e["name"]], np.float32)
            if not batched:
                feeds[e["name"]] = feeds[e["name"]][None]
        return feeds

    def _timed(self, obs: dict[str, Any], batched: bool) -> tuple[np.ndarray, list[float]]:
        t0 = time.perf_counter()
        if not isinstance(obs, dict) or "state" not in obs or "images" not in obs:
            raise ActEdgeError("observation: expected a dict with 'state' and 'images'")
        t1 = time.perf_counter()
        feeds = self._stage(obs, batched)
        t2 = time.perf_counter()
        out = self._run(feeds)
        t3 = time.perf_counter()
        return out, [t1 - t0, t2 - t1, 0.0, t3 - t2, 0.0]

    def predict_chunk(self, obs: dict[str, Any], batched: bool = False) -> np.ndarray:
        out, row = self._timed(obs, batched)
        self._rows.append(row + [0.0, sum(row)])
        return out if batched else out[0]

    def step(self, obs: dict[str, Any]) -> np.ndarray:
        out, row = self._timed(obs, False)
        t = time.perf_counter()
        action = out[0, 0].copy()
        self._rows.append(row + [time.perf_counter() - t, 0.0])
        self._rows[-1][-1] = sum(self._rows[-1][:-1])
        return action

    def reset(self) -> None:
        pass

    def reset_profile(self) -> None:
        self._rows.clear()

    @property
    def _prof(self) -> SimpleNamespace:
        return SimpleNamespace(stages=STAGES, samples=lambda: np.array(self._rows, np.float64).reshape(-1, 7) * 1e6)

    def latency_report(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, col in stage_samples(self).items():  # type: ignore[union-attr]
            if col.size:
                p50, p90, p99 = np.percentile(col, (50, 90, 99))
                out[name] = {"p50_us": p50, "p90_us": p90, "p99_us": p99, "max_us": col.max(),
                             "mean_us": col.mean(), "std_us": col.std(), "count": col.size}
        return out

    def close(self) -> None:
        pass


def close(policy: Any) -> None:
    closer = getattr(policy, "close", None)
    if closer is not None:
        closer()
