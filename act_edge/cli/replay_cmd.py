"""Replay recorded episodes through a bundle: its actions vs its source checkpoint's and vs the demonstration."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .bench_cmd import BACKENDS


def add_arguments(p: argparse.ArgumentParser) -> None:
    from . import argtypes as t

    p.add_argument("bundle", type=t.existing_dir, help="bundle directory (*.actedge)")
    p.add_argument("episodes", type=t.existing_path, nargs="+", metavar="EPISODE",
                   help="HDF5 episode files (ALOHA episode_N.hdf5, act-edge recordings, demo_N / data/demo_N "
                        "files: each demo is an episode), or directories of them")
    p.add_argument("--against", type=t.existing_path, default=None, metavar="CKPT",
                   help="source checkpoint to compare with, in PyTorch eager (default: the bundle's source "
                        "checkpoint when it is here; needs torch)")
    p.add_argument("--no-source", action="store_true",
                   help="no source checkpoint: bundle vs demonstration only")
    p.add_argument("--backend", default="auto", choices=BACKENDS, help="runtime backend (default auto)")
    p.add_argument("--precision", default=None, choices=("fp16", "fp32"),
                   help="artifact precision (default: the backend's choice: fp16 on CUDA when present, else fp32)")
    p.add_argument("--device", type=t.torch_device, default=None, metavar="DEV",
                   help="cpu, cuda or cuda:N (default: the backend's choice)")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--temporal-ensemble-coeff", type=t.real(), default=None, metavar="K",
                     help="execute through the temporal ensemble with this k (default: the bundle's runtime default)")
    how.add_argument("--chunk-queue", type=t.integer(1), default=None, metavar="N",
                     help="execute through the chunk queue, N actions per chunk (default: the bundle's runtime default)")
    p.add_argument("--camera", type=camera_pair, action="append", default=[], metavar="CAM=KEY",
                   help="feed the bundle's camera CAM from the file's dataset KEY (repeatable; default: the "
                        "dataset named as the camera)")
    p.add_argument("--state", type=key_list, default=None, metavar="KEY[,KEY...]",
                   help="state dataset(s), concatenated in order (default qpos)")
    p.add_argument("--env-state", type=key_list, default=None, metavar="KEY[,KEY...]",
                   help="env-state dataset(s) for bundles with env state (default env_state)")
    p.add_argument("--json", type=t.output_file, default=None, metavar="PATH",
                   help="write the result as JSON (docs/replay-schema.md)")
    p.add_argument("--plot", type=plot_dir, default=None, metavar="DIR",
                   help="write one PNG per episode into DIR: each action dimension (demonstration, source, "
                        "bundle) and its error (matplotlib)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def camera_pair(text: str) -> tuple[str, str]:
    """`CAM=KEY`, both non-empty."""
    cam, sep, key = text.partition("=")
    if not sep or not cam.strip() or not key.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not CAM=KEY (e.g. top=agentview_image)")
    return cam.strip(), key.strip()


def key_list(text: str) -> tuple[str, ...]:
    """Comma-separated non-empty dataset names."""
    keys = tuple(k.strip() for k in text.split(","))
    if any(not k for k in keys):
        raise argparse.ArgumentTypeError(f"{text!r}: give comma-separated non-empty dataset names")
    return keys


def plot_dir(text: str) -> Path:
    """A directory to write PNGs into: existing, or created (not a file)."""
    if not text:
        raise argparse.ArgumentTypeError("empty path")
    p = Path(text)
    if p.exists() and not p.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: exists and is not a directory")
    return p


def validate(args: argparse.Namespace) -> None:
    """One-line errors for flag combinations and missing optional packages, before anything runs."""
    from ..errors import ActEdgeError

    if args.against is not None and args.no_source:
        raise ActEdgeError("--against and --no-source contradict each other: give one")
    if args.against is not None:
        from ..dependencies import require

        require(f"--against {args.against}", "torch")
    cams = [c for c, _ in args.camera]
    dup = sorted({c for c in cams if cams.count(c) > 1})
    if dup:
        raise ActEdgeError(f"--camera {dup[0]} is given twice")
    if args.plot is not None:
        from ..bench.plot import require_matplotlib

        require_matplotlib()


def execution(args: argparse.Namespace) -> dict | None:
    """Policy.load's ensemble/queue arguments from the flags (None: the bundle's runtime defaults);
    out-of-range values are refused by Policy.load in one line (ArgumentError)."""
    if args.chunk_queue is not None:
        return {"temporal_ensemble_coeff": None, "n_action_steps": args.chunk_queue}
    if args.temporal_ensemble_coeff is not None:
        return {"temporal_ensemble_coeff": args.temporal_ensemble_coeff, "n_action_steps": 1}
    return None


def check_cameras(args: argparse.Namespace) -> None:
    from ..bundle import load_bundle
    from ..errors import ActEdgeError

    names = load_bundle(args.bundle).spec.camera_names
    for cam, _ in args.camera:
        if cam not in names:
            raise ActEdgeError(f"--camera {cam}=...: the bundle has no camera {cam!r} (its cameras: {', '.join(names)})")


def run(args: argparse.Namespace) -> int:
    check_cameras(args)
    from ..replay.episode import Mapping
    from ..replay import report, runner
    from .bench_cmd import ProgressBar

    cfg = runner.ReplayConfig(bundle=str(args.bundle), episodes=[str(e) for e in args.episodes],
                              against=str(args.against) if args.against else None, no_source=args.no_source,
                              backend=args.backend, precision=args.precision, device=args.device,
                              mapping=Mapping(cameras=dict(args.camera), state=args.state, env_state=args.env_state),
                              execution=execution(args))
    bar = ProgressBar(enabled=not args.quiet and sys.stderr.isatty())
    try:
        result, traces = runner.run(cfg, lambda name, done, total: bar.update(name[-13:], done, total))
    finally:
        bar.close()
    print(report.render(result))
    if args.json is not None:
        report.write_json(args.json, result)
        print(f"json         {args.json}")
    if args.plot is not None:
        from ..replay.plot import write_pngs

        for path in write_pngs(args.plot, result, traces):
            print(f"plot         {path}")
    return 0
