"""Build, verify and register a TensorRT engine for a bundle on this machine (run it on the Jetson)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Callable


def add_arguments(p: argparse.ArgumentParser) -> None:
    from . import argtypes as t

    p.add_argument("bundle", type=t.existing_dir, help="bundle directory (*.actedge/)")
    prec = p.add_mutually_exclusive_group()
    prec.add_argument("--fp16", dest="precision", action="store_const", const="fp16",
                      help="fp16 engine from model.fp16.onnx, strongly typed (default)")
    prec.add_argument("--fp32", dest="precision", action="store_const", const="fp32",
                      help="fp32 engine from model.onnx, TF32 off")
    p.set_defaults(precision="fp16")
    p.add_argument("--weak-typing", action="store_true",
                   help="TensorRT 10.x only, for comparison: fp32 ONNX + BuilderFlag.FP16 (TensorRT picks precisions)")
    p.add_argument("--workspace", type=t.integer(1, 1 << 20), metavar="MiB",
                   help="builder workspace limit, 1..1048576 MiB (default: TensorRT's)")
    p.add_argument("--max-batch", type=t.integer(1, t.MAX_BATCH), metavar="N",
                   help=f"profile batch 1..N, N in 1..{t.MAX_BATCH} (default: the manifest's max_batch)")
    p.add_argument("--dla-core", type=t.integer(0, 15), metavar="N",
                   help="build for DLA core N with GPU fallback (AGX Orin, Orin NX; Orin Nano has no DLA)")
    p.add_argument("--timing-cache", type=t.output_file_made_parents, metavar="PATH",
                   help="timing cache to read and update (default: ~/.cache/act-edge/trt-timing/<trt>-<sm>.cache)")
    p.add_argument("--opt-level", type=t.integer(0, 5), metavar="N", help="builder optimization level 0..5 (default 3)")
    p.add_argument("--max-error-pct", type=t.real(0, 100, lo_open=True), metavar="PCT",
                   help="refuse the engine above this max |error| in %% of the action range, in (0, 100] "
                        "(default: 2 for fp16, 0.1 for fp32)")
    p.add_argument("--device", type=t.device, default="cuda:0", help="CUDA device: cuda or cuda:N (default cuda:0)")


def run(args: argparse.Namespace) -> int:
    from ..bundle import load_bundle
    from ..trt.build import BuildOptions
    from ..engine_registry import build_engine

    bundle = load_bundle(args.bundle)  # bundle errors first: they don't need a GPU to report
    opts = BuildOptions(
        precision=args.precision, typing="weak" if args.weak_typing else "strong",
        max_batch=args.max_batch or int(bundle.manifest.get("max_batch", 1)),
        workspace_mib=args.workspace, opt_level=args.opt_level, dla_core=args.dla_core,
        timing_cache=args.timing_cache and Path(os.path.abspath(args.timing_cache)),
    )
    entry = build_engine(bundle.path, opts, _log, device=args.device, max_error_pct=args.max_error_pct)
    print(f"next: act-edge inspect {bundle.path}   (engine {entry['path']})")
    return 0


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def describe_engines(manifest: dict[str, Any]) -> list[str]:
    """One line per recorded engine, for `act-edge inspect`."""
    from ..engine_key import EngineKey

    lines = []
    for e in manifest.get("engines", []):
        try:
            key = EngineKey.from_dict(e["key"])
            what = key.describe()
        except (KeyError, TypeError, ValueError) as exc:
            lines.append(f"{e.get('path', '?')}: unreadable engine record ({exc})")
            continue
        v = e.get("verify") or {}
        err = (f"max err {v['max_abs_pct_range']:.3g}% / RMSE {v['rmse_pct_range']:.3g}% of range"
               if "max_abs_pct_range" in v else "not verified")
        size = f"{e['bytes'] / 1e6:.1f} MB" if "bytes" in e else "? MB"
        lines.append(f"{e['path']}: {what}; {size}; {err}")
    return lines or ["no TensorRT engines (build one on the target: act-edge build-engine BUNDLE)"]


def maybe_build_after_export(bundle_dir: str | Path, log: Callable[[str], None]) -> str:
    """After `act-edge export --fp16`: build the fp16 engine here if TensorRT and a GPU are present.

    Returns one line saying what happened; a missing TensorRT/GPU or a failed build or verification
    is reported in that line, never raised: the ONNX bundle is complete without an engine.
    """
    from ..errors import BackendUnavailable
    from ..trt import import_tensorrt
    from ..trt.device import import_pycuda

    try:
        import_tensorrt()
    except BackendUnavailable as exc:
        return f"TensorRT engine: skipped, {exc}"
    try:
        import_pycuda()
    except BackendUnavailable as exc:
        return f"TensorRT engine: skipped, {exc}"
    from ..bundle import load_bundle
    from ..errors import ActEdgeError
    from ..trt.build import BuildOptions
    from ..engine_registry import build_engine

    bundle = load_bundle(bundle_dir)
    opts = BuildOptions(precision="fp16", max_batch=int(bundle.manifest.get("max_batch", 1)))
    try:
        entry = build_engine(bundle.path, opts, log)
    except ActEdgeError as exc:  # the ONNX bundle stands; the engine can be rebuilt later
        return f"TensorRT engine: not built, {exc}"
    return f"TensorRT engine: built {entry['path']}"
