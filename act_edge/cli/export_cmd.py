"""Export an ACT checkpoint to a bundle: ONNX fp32 (+ fp16), parity figures, manifest."""

from __future__ import annotations

import argparse
import time
import os
from pathlib import Path

from . import argtypes as t
from .loader_flags import FORMAT_NAMES, add_loader_arguments, loader_options, retype_loader_flags

# act_edge.export.opset's range, here so that the parser needs no torch (a test keeps them equal).
MIN_OPSET, MAX_OPSET = 17, 20


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", type=t.existing_path,
                   help="checkpoint file or directory (family detected from its layout)")
    p.add_argument("--fp16", action="store_true",
                   help="also write model.fp16.onnx (fp16 convs/matmuls; LayerNorm, Softmax, I/O fp32) and "
                        "measure its error against fp32")
    p.add_argument("-o", "--output", type=t.output_dir, default=None,
                   help="bundle directory to write (default: ./<checkpoint name>.actedge): a new path or a "
                        "previous act-edge bundle, which is replaced; anything else is refused "
                        "(docs/bundle-format.md, Output rules)")
    p.add_argument("--force", action="store_true",
                   help="also write into an EMPTY directory or replace a damaged bundle (bundle files without "
                        "a valid manifest); never deletes anything but bundle files")
    p.add_argument("--opset", type=t.integer(MIN_OPSET, MAX_OPSET), default=MIN_OPSET,
                   help=f"ONNX opset, {MIN_OPSET}..{MAX_OPSET} (default {MIN_OPSET})")
    p.add_argument("--max-batch", type=t.integer(1, t.MAX_BATCH), default=8,
                   help=f"largest batch the bundle is declared for, 1..{t.MAX_BATCH} (default 8)")
    p.add_argument("--format", type=t.choice(FORMAT_NAMES, "checkpoint format"), default=None,
                   help="force the checkpoint family instead of detecting it")
    add_loader_arguments(p)
    retype_loader_flags(p)


def output_path(args: argparse.Namespace) -> Path:
    """-o, else ./<checkpoint name>.actedge."""
    return args.output or Path.cwd() / f"{_stem(args.checkpoint)}.actedge"


def validate(args: argparse.Namespace) -> None:
    """The output rules, before the checkpoint is loaded: -o may not be a user's file or directory."""
    from ..bundle_dest import check_destination
    from ..errors import ActEdgeError

    protect = [args.checkpoint] + ([args.stats] if getattr(args, "stats", None) else [])
    try:
        check_destination(output_path(args), force=args.force, protect=protect)
    except ActEdgeError as exc:
        flag = "argument -o/--output" if args.output is not None else "default output"
        raise type(exc)(f"{flag}: {exc}") from None


def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    log = _progress(t0)
    log(f"loading {args.checkpoint} ...")
    from ..export.checkpoint import load_checkpoint
    from ..export.pipeline import export_bundle

    ckpt = load_checkpoint(args.checkpoint, format=args.format, **loader_options(args))
    out = output_path(args)
    log(f"{ckpt.source.get('format')} checkpoint: {ckpt.spec.name}; writing {out}")
    bundle_dir = export_bundle(ckpt, out, fp16=args.fp16, opset=args.opset, max_batch=args.max_batch,
                               force=args.force, log=log)
    engine_status = None
    if args.fp16:
        from ..engine_registry import maybe_build_after_export

        engine_status = maybe_build_after_export(bundle_dir, log)
    _summary(bundle_dir, time.perf_counter() - t0, engine_status)
    return 0


def _stem(path: Path) -> str:
    path = Path(os.path.abspath(path))  # `.` or `..` have no name of their own
    return path.name if path.is_dir() else path.stem


def _progress(t0: float):
    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - t0:6.1f}s] {msg}", flush=True)
    return log


def _summary(bundle_dir: Path, seconds: float, engine_status: str | None) -> None:
    from ..bundle import load_bundle
    from ..metrics import describe_pct_range
    from .text import human_bytes

    b = load_bundle(bundle_dir)
    m = b.manifest
    fig, par = m["model"], m["parity"]["onnx_fp32"]
    print(f"\nbundle {bundle_dir} ({seconds:.1f} s)")
    tokens = "memory tokens (decoder-only)" if m["spec"].get("architecture") == "decoder_only" else "encoder tokens"
    units = "raw action units" if "tolerance_rule" in par else "normalized action units"
    print(f"  model     {fig['parameters'] / 1e6:.1f}M parameters, {fig['gflops']:.1f} GFLOPs per inference, "
          f"{fig['tokens']} {tokens}")
    print(f"  parity    fp32 ONNX vs torch: max |err| {par['max_abs_normalized']:.2e} {units} "
          f"(tolerance {par['tolerance']:g}, batches {par['batches']})")
    if "fp16_error" in m:
        e = m["fp16_error"]
        print(f"  fp16      vs fp32 ONNX {describe_pct_range(e)} ({e['range_definition']})")
    for group in m["source"].get("dropped", []):
        print(f"  dropped   {len(group['keys'])} keys: {group['reason']}")
    for note in m["source"].get("notes", []):
        print(f"  note      {note}")
    for key, a in m["artifacts"].items():
        print(f"  file      {a['path']:18s} {human_bytes(a['bytes']):>10s}  sha256 {a['sha256'][:12]}")
    if engine_status:
        print(f"  engine    {engine_status}")
    print(f"next: act-edge inspect {bundle_dir}")
