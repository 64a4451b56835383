"""Print the spec, I/O and artifacts of a bundle (or the spec of a checkpoint)."""

from __future__ import annotations

import argparse
import json

from . import argtypes as t


def add_arguments(p: argparse.ArgumentParser) -> None:
    from .loader_flags import FORMAT_NAMES, add_loader_arguments, retype_loader_flags

    p.add_argument("path", type=t.existing_path, help="a bundle directory (*.actedge) or a checkpoint")
    p.add_argument("--json", action="store_true", help="print the manifest (or the checkpoint's spec) as JSON")
    p.add_argument("--format", type=t.choice(FORMAT_NAMES, "checkpoint format"), default=None,
                   help="checkpoint family, when inspecting a checkpoint")
    add_loader_arguments(p)
    retype_loader_flags(p)


def run(args: argparse.Namespace) -> int:
    from ..bundle import MANIFEST

    if (args.path / MANIFEST).is_file():
        return _bundle(args)
    if args.path.is_dir() and args.path.suffix == ".actedge":
        from ..errors import BundleError

        raise BundleError(f"{args.path}: no {MANIFEST} (not an act-edge bundle, or a half-written one)")
    return _checkpoint(args)


def _bundle(args: argparse.Namespace) -> int:
    from ..bundle import load_bundle
    from ..metrics import describe_pct_range
    from .text import human_bytes, io_lines, spec_lines

    b = load_bundle(args.path)
    m = b.manifest
    if args.json:
        print(json.dumps(m, indent=2))
        return 0
    print(f"bundle {b.path}  (schema {m['schema_version']}, act-edge {m.get('act_edge_version')}, {m.get('created')})")
    print("\n".join("  " + line for line in spec_lines(b.spec)))
    print("\n".join("  " + line for line in io_lines(m["io"])))
    print(f"  max batch     {m.get('max_batch')}")
    rt = m.get("runtime", {})
    mode = (f"temporal ensemble k={rt['temporal_ensemble_coeff']}" if rt.get("temporal_ensemble_coeff") is not None
            else f"chunk queue, {rt.get('n_action_steps')} actions per query")
    print(f"  runtime       {mode}")
    src = m.get("source", {})
    print(f"  source        {src.get('format')} {src.get('path')}")
    if "model" in m:
        f = m["model"]
        print(f"  model         {f['parameters'] / 1e6:.1f}M parameters, {f['gflops']:.1f} GFLOPs, {f['tokens']} tokens")
    par = m.get("parity", {}).get("onnx_fp32")
    if par:
        err = f"max |err| {par['max_abs_normalized']:.2e}" if "max_abs_normalized" in par else "max |err| ?"
        tol = f" (tol {par['tolerance']:g})" if "tolerance" in par else ""
        print(f"  parity fp32   {err} normalized units{tol}")
    if "fp16_error" in m:
        e = m["fp16_error"]
        print(f"  fp16 ONNX     vs fp32 ONNX {describe_pct_range(e)} ({e['method'].split(',')[0]})")
        if "range_definition" in e:
            print(f"  action range  {e['range_definition']} (the range of every % above and below)")
    for key, a in m.get("artifacts", {}).items():
        print(f"  artifact      {key:12s} {a['path']:18s} {human_bytes(a['bytes']):>10s}  sha256 {a['sha256'][:12]}")
    for line in _engine_lines(m):
        print(f"  engine        {line}")
    return 0


def _engine_lines(manifest: dict) -> list[str]:
    from ..engine_registry import describe_engines

    return describe_engines(manifest)


def _checkpoint(args: argparse.Namespace) -> int:
    from ..bundle import io_description
    from ..export.checkpoint import load_checkpoint
    from .loader_flags import loader_options
    from .text import io_lines, spec_lines

    ckpt = load_checkpoint(args.path, format=args.format, **loader_options(args))
    if args.json:
        print(ckpt.spec.to_json())
        return 0
    print(f"checkpoint {args.path}  ({ckpt.source.get('format')})")
    print("\n".join("  " + line for line in spec_lines(ckpt.spec)))
    print("\n".join("  " + line for line in io_lines(io_description(ckpt.spec))))
    n = sum(t.numel() for t in ckpt.state_dict.values())
    print(f"  weights       {len(ckpt.state_dict)} tensors, {n / 1e6:.1f}M values")
    return 0
