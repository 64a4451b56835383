"""Export an ACT checkpoint to a bundle: ONNX fp32 (+ fp16), parity figures, manifest."""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", type=Path, help="checkpoint file or directory (family detected from its layout)")
    p.add_argument("--fp16", action="store_true",
                   help="also write model.fp16.onnx (fp16 convs/matmuls; LayerNorm, Softmax, I/O fp32) and "
                        "measure its error against fp32")
    p.add_argument("-o", "--output", type=Path, default=None,
                   help="bundle directory to write (default: ./<checkpoint name>.actedge)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset, >= 17 (default 17)")
    p.add_argument("--max-batch", type=int, default=8, help="largest batch the bundle is declared for (default 8)")
    p.add_argument("--format", default=None, help="force the checkpoint family instead of detecting it")
    from ..export.formats import add_loader_arguments  # no torch import: flag definitions only

    add_loader_arguments(p)


def loader_options(args: argparse.Namespace) -> dict:
    from ..export.formats import loader_options as options

    return options(args)


def run(args: argparse.Namespace) -> int:
    from ..errors import ActEdgeError

    if args.opset < 17:
        raise ActEdgeError(f"--opset {args.opset}: needs >= 17 (native LayerNormalization)")
    if args.max_batch < 1:
        raise ActEdgeError(f"--max-batch {args.max_batch}: must be >= 1")
    t0 = time.perf_counter()
    log = _progress(t0)
    log(f"loading {args.checkpoint} ...")
    from ..export.checkpoint import load_checkpoint
    from ..export.pipeline import export_bundle

    ckpt = load_checkpoint(args.checkpoint, format=args.format, **loader_options(args))
    out = args.output or Path.cwd() / f"{_stem(args.checkpoint)}.actedge"
    log(f"{ckpt.source.get('format')} checkpoint: {ckpt.spec.name}; writing {out}")
    bundle_dir = export_bundle(ckpt, out, fp16=args.fp16, opset=args.opset, max_batch=args.max_batch, log=log)
    engine_status = None
    if args.fp16:
        from .build_engine_cmd import maybe_build_after_export

        engine_status = maybe_build_after_export(bundle_dir, log)
    _summary(bundle_dir, time.perf_counter() - t0, engine_status)
    return 0


def _stem(path: Path) -> str:
    return path.name if path.is_dir() else path.stem


def _progress(t0: float):
    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - t0:6.1f}s] {msg}", flush=True)
    return log


def _summary(bundle_dir: Path, seconds: float, engine_status: str | None) -> None:
    from ..bundle import load_bundle
    from .text import human_bytes

    b = load_bundle(bundle_dir)
    m = b.manifest
    fig, par = m["model"], m["parity"]["onnx_fp32"]
    print(f"\nbundle {bundle_dir} ({seconds:.1f} s)")
    print(f"  model     {fig['parameters'] / 1e6:.1f}M parameters, {fig['gflops']:.1f} GFLOPs per inference, "
          f"{fig['tokens']} encoder tokens")
    print(f"  parity    fp32 ONNX vs torch: max |err| {par['max_abs_normalized']:.2e} normalized action units "
          f"(tolerance {par['tolerance']:g}, batches {par['batches']})")
    if "fp16_error" in m:
        e = m["fp16_error"]
        print(f"  fp16      vs fp32: max |err| {e['max_abs_pct_range']:.3f}% of range, RMSE {e['rmse_pct_range']:.4f}% "
              f"of range ({e['range_definition']})")
    for group in m["source"].get("dropped", []):
        print(f"  dropped   {len(group['keys'])} keys: {group['reason']}")
    for note in m["source"].get("notes", []):
        print(f"  note      {note}")
    for key, a in m["artifacts"].items():
        print(f"  file      {a['path']:18s} {human_bytes(a['bytes']):>10s}  sha256 {a['sha256'][:12]}")
    if engine_status:
        print(f"  engine    {engine_status}")
    print(f"next: act-edge inspect {bundle_dir}")
