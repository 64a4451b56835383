"""Build -> verify -> register: the one path by which an engine enters a bundle's manifest; the
registered engines described one per line (inspect); the optional build after `export --fp16`.

Outside act_edge.trt because it runs the plan with backends.tensorrt, which itself uses act_edge.trt:
the build helpers (trt) and the runtime (backends) do not import each other.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

from .bundle import Bundle, load_bundle, sha256_file, update_manifest, write_file_atomic
from .engine_key import EngineKey, Machine
from .errors import ActEdgeError, BackendUnavailable
from .metrics import describe_pct_range
from .trt import import_tensorrt
from .trt.build import BuildOptions, build_plan, default_timing_cache_path, require_build_machine
from .trt.device import device_context, import_pycuda
from .trt.verify import DEFAULT_MAX_ERROR_PCT, check_threshold, engine_errors, parity_inputs, reference_actions

Log = Callable[[str], None]


def engine_key_for(bundle: Bundle, machine: Machine, opts: BuildOptions) -> EngineKey:
    onnx = bundle.artifact(opts.onnx_artifact)
    return EngineKey(
        trt_version=machine.trt_version, gpu_name=machine.gpu_name,
        compute_capability=machine.compute_capability, precision=opts.precision, typing=opts.typing,
        onnx_sha256=onnx["sha256"], max_batch=opts.max_batch, dla_core=opts.dla_core,
    )


def register_engine(bundle_dir: str | Path, key: EngineKey, plan: bytes, verify: dict[str, Any],
                    extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write the plan atomically under engines/ and record it, replacing any entry with the same key."""
    root = Path(bundle_dir)
    rel = key.filename()
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    write_file_atomic(root / rel, plan)
    entry = {"path": rel, "sha256": sha256_file(root / rel), "bytes": len(plan), "key": key.to_dict(),
             "verify": verify, **(extra or {})}

    def update(manifest: dict[str, Any]) -> None:
        kept = [e for e in manifest.get("engines", []) if e.get("key") != entry["key"] and e.get("path") != rel]
        manifest["engines"] = kept + [entry]

    update_manifest(root, update)
    return entry


def verify_plan(bundle: Bundle, plan: bytes, precision: str, device: str, max_error_pct: float | None,
                log: Log, dla_core: int | None = None) -> dict[str, Any]:
    """Run the plan on parity.npz's inputs; metrics vs the fp32 reference, ParityError above the limit."""
    from .backends.tensorrt import TensorRTBackend

    inputs, torch_ref = parity_inputs(bundle)
    ref, ref_name = reference_actions(bundle, inputs, torch_ref)
    batch = next(iter(inputs.values())).shape[0]
    with TensorRTBackend(bundle, max_batch=batch, device=device, engine=plan, precision=precision,
                         dla_core=dla_core) as backend:
        got = backend.run_feeds(inputs, finite=False)  # non-finite actions fail check_threshold
    metrics = engine_errors(bundle, got, ref)
    limit = DEFAULT_MAX_ERROR_PCT[precision] if max_error_pct is None else max_error_pct
    record = {**metrics, "threshold_pct_range": limit, "reference": ref_name, "inputs": "parity.npz"}
    log(f"verify: max |error| {metrics['max_abs']:.3g} ({metrics['max_abs_pct_range']:.3g}% of range), "
        f"RMSE {metrics['rmse_pct_range']:.3g}% vs {ref_name}; limit {limit:g}%")
    check_threshold(metrics, limit, f"{precision} engine")
    return record


def build_engine(bundle_dir: str | Path, opts: BuildOptions, log: Log, *, device: str = "cuda:0",
                 max_error_pct: float | None = None) -> dict[str, Any]:
    """Build on this machine, verify, then register. Returns the manifest entry."""
    trt, machine = require_build_machine(device)
    bundle = load_bundle(bundle_dir)
    key = engine_key_for(bundle, machine, opts)
    onnx_path = bundle.artifact_path(opts.onnx_artifact)
    cache = opts.timing_cache or default_timing_cache_path(machine.trt_version, key.sm)
    t0 = time.monotonic()
    with device_context(device):
        plan = build_plan(trt, onnx_path, bundle.manifest["io"]["inputs"], opts, cache, log)
    build_s = time.monotonic() - t0
    verify = verify_plan(bundle, plan, opts.precision, device, max_error_pct, log, opts.dla_core)
    entry = register_engine(bundle.path, key, plan, verify, extra={
        "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "build": {"seconds": round(build_s, 1), "workspace_mib": opts.workspace_mib,
                  "opt_level": opts.opt_level, "timing_cache": str(Path(cache).absolute())},
    })
    log(f"engine {entry['path']} registered ({key.describe()})")
    return entry


def describe_engines(manifest: dict[str, Any]) -> list[str]:
    """One line per recorded engine, for `act-edge inspect`."""
    lines = []
    for e in manifest.get("engines", []):
        try:
            key = EngineKey.from_dict(e["key"])
            what = key.describe()
        except (KeyError, TypeError, ValueError) as exc:
            lines.append(f"{e.get('path', '?')}: unreadable engine record ({exc})")
            continue
        v = e.get("verify") or {}
        err = f"vs fp32 ONNX {describe_pct_range(v)}" if "max_abs_pct_range" in v else "not verified"
        size = f"{e['bytes'] / 1e6:.1f} MB" if "bytes" in e else "? MB"
        lines.append(f"{e['path']}: {what}; {size}; {err}")
    return lines or ["no TensorRT engines (build one on the target: act-edge build-engine BUNDLE)"]


def maybe_build_after_export(bundle_dir: str | Path, log: Log) -> str:
    """After `act-edge export --fp16`: build the fp16 engine here if TensorRT and a GPU are present.

    Returns one line saying what happened; a missing TensorRT/GPU or a failed build or verification
    is reported in that line, never raised: the ONNX bundle is complete without an engine.
    """
    try:
        import_tensorrt()
    except BackendUnavailable as exc:
        return f"TensorRT engine: skipped, {exc}"
    try:
        import_pycuda()
    except BackendUnavailable as exc:
        return f"TensorRT engine: skipped, {exc}"
    bundle = load_bundle(bundle_dir)
    opts = BuildOptions(precision="fp16", max_batch=int(bundle.manifest.get("max_batch", 1)))
    try:
        entry = build_engine(bundle.path, opts, log)
    except ActEdgeError as exc:  # the ONNX bundle stands; the engine can be rebuilt later
        return f"TensorRT engine: not built, {exc}"
    return f"TensorRT engine: built {entry['path']}"
