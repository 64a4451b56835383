"""Build, verify and register a TensorRT engine for a bundle on this machine (run it on the Jetson)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


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
    from ..engine_registry import build_engine
    from ..trt.build import BuildOptions

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
