"""Orchestrates one benchmark run and returns the result dict (schema: docs/bench-schema.md).

Phases, in order, on one policy object:
  1. startup: Policy load (incl. its warmup runs) -> first `step()` returns; RSS and GPU memory delta
  2. warmup: `warmup` untimed `step()` calls
  3. latency: `iters` back-to-back `step()` calls (batch 1, the control-loop path); per-stage
     figures from the policy's profiler; power sampled meanwhile
  4. throughput: `iters` `predict_chunk()` calls at `batch`
  5. control loop: `step()` at `hz` for `duration` seconds, paced by deadlines; with
     inference="both", the sync policy's loop, then a second (async) policy's loop in the same run
  6. compare (optional): the source checkpoint in PyTorch eager on the same device, interleaved
     call by call with the bundle's `predict_chunk()` on the same observations

With a compare checkpoint, torch and the checkpoint are checked before anything is measured. A
failure after startup raises `BenchIncomplete` carrying what was measured (`incomplete` says where).
"""

from __future__ import annotations

import datetime as _dt
import os
import resource
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .. import __version__
from ..bundle import MANIFEST, load_bundle, sha256_file
from ..eager_reference import eager_model, load_reference, source_matches
from ..errors import ActEdgeError
from ..metrics import action_errors
from . import control_loop, device_info, policy_adapter, synthetic
from .power import PowerSampler, per_inference

SCHEMA = "act-edge-bench/1"
Progress = Callable[[str, int, int], None]  # (phase, done, total)


@dataclass
class BenchConfig:
    bundle: str
    backend: str = "auto"
    precision: str | None = None
    device: str | None = None  # None: the backend's choice (torch: cpu)
    iters: int = 200
    warmup: int = 10
    batch: int = 1
    hz: float = 50.0
    duration: float = 10.0
    compare: str | None = None
    seed: int = 0
    pool: int = 16  # distinct synthetic observations, cycled
    inference: str = "sync"  # "sync", "async" or "both" (phases 1-4 on the sync policy, both loops)


class BenchIncomplete(ActEdgeError):
    """A phase after startup failed; `result`/`extras` hold what was measured (missing phases None)."""

    def __init__(self, message: str, result: dict[str, Any], extras: dict[str, Any]) -> None:
        super().__init__(message)
        self.result, self.extras = result, extras


def run(cfg: BenchConfig, progress: Progress = lambda phase, done, total: None) -> tuple[dict, dict]:
    """(result dict for the JSON, extras for the plot: raw stage samples and the loop trace)."""
    bundle = load_bundle(cfg.bundle)
    reference = compare_reference(cfg.compare, bundle) if cfg.compare else None  # before measuring
    pool = synthetic.make_pool(bundle, cfg.pool, cfg.seed)
    result: dict[str, Any] = {
        "schema": SCHEMA,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "act_edge_version": __version__,
        "config": asdict(cfg),
        "synthetic": {"seed": cfg.seed, "pool": cfg.pool, "rng": "numpy.random.default_rng",
                      "images": "uniform uint8 1..255" if bundle.spec.cameras else "none (camera-less bundle)",
                      "state": f"sampled from state_norm ({bundle.spec.state_norm.mode})"},
        "device": {**device_info.collect(), "load_average_start": _loadavg()},
        "bundle": bundle_facts(bundle),
    }
    extras: dict[str, Any] = {}
    modes = ("sync", "async") if cfg.inference == "both" else (cfg.inference,)
    policy, result["startup"] = _startup(cfg, pool, modes[0])
    phase = "describe"
    try:
        result["policy"] = policy_adapter.describe(policy)
        result["bundle"]["artifact"] = _artifact_used(bundle, result["policy"])
        phase = "warmup"
        for i in range(cfg.warmup):
            policy.step(pool[i % len(pool)])
            progress("warmup", i + 1, cfg.warmup)
        phase = "latency"
        result["latency"], result["power"], extras["stage_samples"] = _latency(cfg, policy, pool, progress)
        phase = "throughput"
        result["throughput"] = _throughput(cfg, policy, pool, progress)
        result["startup"]["peak_rss_mib"] = _peak_rss_mib()  # before torch (--compare) inflates it
        phase = "control loop"
        result["control_loop"], extras["trace"] = _loop(cfg, policy, pool, progress)
        result["control_loops"] = {modes[0]: result["control_loop"]}
        for mode in modes[1:]:
            phase = f"control loop ({mode})"
            policy_adapter.close(policy)
            policy = policy_adapter.load(cfg.bundle, cfg.backend, cfg.precision, max_batch=cfg.batch,
                                         device=cfg.device, warmup=min(cfg.warmup, 3), inference=mode)
            for i in range(cfg.warmup):
                policy.step(pool[i % len(pool)])
            result["control_loops"][mode], extras[f"trace_{mode}"] = _loop(cfg, policy, pool, progress)
        phase = "compare"
        result["compare"] = (_compare(cfg, bundle, reference, policy, pool, result["policy"], progress)
                             if reference is not None else None)
    except Exception as exc:  # keep what was measured: the caller still writes the table and the JSON
        result["device"]["load_average_end"] = _loadavg()
        why = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        result["incomplete"] = {"phase": phase, "error": why}
        for key in ("policy", "latency", "power", "throughput", "control_loop", "control_loops", "compare"):
            result.setdefault(key, None)
        raise BenchIncomplete(f"the {phase} phase failed ({why}); the phases before it were measured",
                              result, extras) from exc
    finally:
        policy_adapter.close(policy)
    result["device"]["load_average_end"] = _loadavg()
    return result, extras


def bundle_facts(bundle) -> dict[str, Any]:
    m = bundle.manifest
    return {"path": str(bundle.path), "name": m.get("name"), "manifest_sha256": sha256_file(bundle.path / MANIFEST),
            "max_batch": m.get("max_batch"), "model": m.get("model"), "runtime": m.get("runtime")}


def _artifact_used(bundle, pol: dict[str, Any]) -> dict[str, Any] | None:
    """What the backend runs: the ONNX artifact of its precision, the TensorRT plan, or the checkpoint."""
    if pol["backend"] == "tensorrt":
        rel = Path(pol["engine"]).name if pol.get("engine") else None
        hits = [e for e in bundle.engines if rel and Path(e["path"]).name == rel]
        return {"kind": "tensorrt engine", "path": pol.get("engine"), "sha256": hits[0]["sha256"] if hits else None}
    if pol["backend"] == "torch":
        src = bundle.manifest.get("source", {})
        return {"kind": "checkpoint (PyTorch)", "path": src.get("path"), "sha256": None}
    key = "onnx_fp16" if pol["precision"] == "fp16" else "onnx_fp32"
    entry = bundle.manifest.get("artifacts", {}).get(key)
    return {"kind": key, "path": entry["path"], "sha256": entry["sha256"]} if entry else None


# --- phases --------------------------------------------------------------------------------------
def _startup(cfg: BenchConfig, pool: list, inference: str = "sync") -> tuple[Any, dict[str, Any]]:
    rss0, gpu0 = _rss_mib(), _gpu_used_mib()
    t0 = time.perf_counter()
    policy = policy_adapter.load(cfg.bundle, cfg.backend, cfg.precision, max_batch=cfg.batch, device=cfg.device,
                                 warmup=min(cfg.warmup, 3), inference=inference)
    t1 = time.perf_counter()
    policy.step(pool[0])
    t2 = time.perf_counter()
    rss1, gpu1 = _rss_mib(), _gpu_used_mib()
    gpu = ({"gpu_memory_delta_mib": gpu1[0] - gpu0[0], "gpu_memory_source": gpu0[1]}
           if gpu0 and gpu1 else {"gpu_memory_delta_mib": None, "gpu_memory_source": "unavailable: no nvidia-smi "
                                  "memory query and not a Jetson"})
    return policy, {"load_ms": (t1 - t0) * 1e3, "first_action_ms": (t2 - t1) * 1e3,
                    "load_to_first_action_ms": (t2 - t0) * 1e3, "warmup_runs_in_load": min(cfg.warmup, 3),
                    "rss_before_mib": rss0, "rss_after_first_action_mib": rss1, **gpu}


def _latency(cfg: BenchConfig, policy: Any, pool: list, progress: Progress):
    policy.reset()
    policy_adapter.reset_profile(policy)
    sampler = PowerSampler().start()
    t0 = time.perf_counter()
    for i in range(cfg.iters):
        policy.step(pool[i % len(pool)])
        progress("latency", i + 1, cfg.iters)
    seconds = time.perf_counter() - t0
    power = per_inference(sampler.stop(), cfg.iters, seconds)
    stages = policy_adapter.latency_report(policy)
    latency = {"method": f"{cfg.iters} back-to-back step() calls, batch 1", "unit": "us", "seconds": seconds,
               "stages": stages}
    return latency, power, policy_adapter.stage_samples(policy)


def _throughput(cfg: BenchConfig, policy: Any, pool: list, progress: Progress) -> dict[str, Any]:
    b = cfg.batch
    batches = [synthetic.stack([pool[(i * b + j) % len(pool)] for j in range(b)]) for i in range(min(len(pool), 8))]
    times = np.empty(cfg.iters)
    for i in range(cfg.iters):
        t = time.perf_counter()
        if b == 1:
            policy.predict_chunk(pool[i % len(pool)])
        else:
            policy.predict_chunk(batches[i % len(batches)], batched=True)
        times[i] = time.perf_counter() - t
        progress("throughput", i + 1, cfg.iters)
    total = float(times.sum())
    return {"batch": b, "iters": cfg.iters, "seconds": total, "inferences_per_s": b * cfg.iters / total,
            "batches_per_s": cfg.iters / total, "batch_latency_p50_ms": float(np.median(times) * 1e3),
            "method": "predict_chunk() back to back, wall clock per call"}


def _loop(cfg: BenchConfig, policy: Any, pool: list, progress: Progress):
    if cfg.duration <= 0:
        return None, None
    policy.reset()
    inference = getattr(policy, "inference", "sync")
    if inference == "async":  # the episode's first step waits for its first chunk: taken before the
        policy.step(pool[-1])  # paced loop starts, as a robot would before it enables its motors
    policy_adapter.reset_profile(policy)
    trace = control_loop.run_loop(policy.step, pool, cfg.hz, cfg.duration,
                                  on_tick=lambda k, n: progress(f"loop {inference}", k, n))
    summary = control_loop.summarize(trace)
    chunks = policy_adapter.chunk_report(policy)
    summary.update(inference=inference, chunk_age_p50=chunks["chunk_age"]["p50"],
                   chunk_age_p99=chunks["chunk_age"]["p99"], chunk_age_max=chunks["chunk_age"]["max"],
                   inferences=chunks["inferences"], inferences_per_s=chunks["inferences_per_s"],
                   starved_ticks=chunks["starved_ticks"])
    summary["timeline"] = control_loop.timeline(trace)
    ages = policy_adapter.chunk_ages(policy)
    if len(ages) == len(trace.tick):  # one age per step run (the window holds the whole loop)
        summary["timeline"]["chunk_age"] = [int(a) for a in ages]
    return summary, trace


def compare_reference(checkpoint: str, bundle) -> Any:
    """The --compare checkpoint, loaded and checked against the bundle (torch importable, readable, same spec)."""
    return load_reference(checkpoint, bundle, "--compare")


def _compare(cfg: BenchConfig, bundle, ckpt: Any, policy: Any, pool: list, pol: dict[str, Any],
             progress: Progress) -> dict[str, Any]:
    device = pol["device"] if str(pol["device"]).startswith("cuda") else "cpu"
    eager, reference = eager_model(ckpt, bundle, device)

    for i in range(min(cfg.warmup, 3)):
        eager(pool[i % len(pool)])
    n = cfg.iters
    t_bundle, t_torch = np.empty(n), np.empty(n)
    gots, refs = [], []
    for i in range(n):  # interleaved: both see the same machine load
        obs = pool[i % len(pool)]
        t = time.perf_counter()
        got = policy.predict_chunk(obs)
        t_bundle[i] = time.perf_counter() - t
        t = time.perf_counter()
        ref = eager(obs)
        t_torch[i] = time.perf_counter() - t
        gots.append(got.copy())
        refs.append(ref)
        progress("compare", i + 1, n)
    med_b, med_t = float(np.median(t_bundle) * 1e3), float(np.median(t_torch) * 1e3)
    errors = action_errors(bundle.spec, np.stack(refs), np.stack(gots))  # eager torch is the reference
    finite = errors["finite"]
    return {
        "checkpoint": str(cfg.compare),
        "checkpoint_matches_bundle_source": source_matches(bundle, Path(cfg.compare)),
        "reference": reference,
        "iters": n,
        "method": "interleaved call by call on the same observations; wall clock per call incl. input conversion",
        "bundle_median_ms": med_b, "torch_median_ms": med_t,
        "bundle_p99_ms": float(np.percentile(t_bundle, 99) * 1e3), "torch_p99_ms": float(np.percentile(t_torch, 99) * 1e3),
        "speedup": med_t / med_b,
        "max_abs_action_diff": errors["max_abs"] if finite else None,
        "max_abs_action_diff_normalized": errors["max_abs_normalized"] if finite else None,
        **{k: errors[k] if finite else None for k in ("max_abs_pct_range", "rmse_pct_range")},
        "range_definition": errors["range_definition"],
    }


def _loadavg() -> list[float] | None:
    """1/5/15-minute load averages: on a shared machine they say how much the figures can be trusted."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


# --- memory --------------------------------------------------------------------------------------
def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _rss_mib() -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _gpu_used_mib() -> tuple[float, str] | None:
    """Device memory in use: nvidia-smi; on a Jetson (GPU memory is shared DRAM) MemTotal - MemAvailable."""
    out = device_info.run_command(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"])
    try:
        return float(out.splitlines()[0]), "nvidia-smi memory.used (whole device)"  # type: ignore[union-attr]
    except (ValueError, AttributeError, IndexError):  # no nvidia-smi, or "[N/A]" (Jetson)
        pass
    if Path("/etc/nv_tegra_release").exists():
        info = {}
        for line in Path("/proc/meminfo").read_text().splitlines():
            k, v = line.split(":", 1)
            info[k] = int(v.split()[0])
        return (info["MemTotal"] - info["MemAvailable"]) / 1024, \
            "Jetson shared DRAM: MemTotal - MemAvailable (includes CPU allocations)"
    return None
