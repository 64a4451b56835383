"""Benchmark a bundle: startup, per-stage latency, throughput, a control loop at --hz, vs PyTorch eager."""

from __future__ import annotations

import argparse
import os
import sys
import time

BACKENDS = ("auto", "tensorrt", "onnxruntime", "torch")
MAX_ITERS = 10_000_000
MAX_HZ = 10_000.0  # a 0.1 ms period: beyond any control loop
MAX_DURATION_S = 86_400.0


def add_arguments(p: argparse.ArgumentParser) -> None:
    from . import argtypes as t

    p.add_argument("bundle", type=t.existing_dir, help="bundle directory (*.actedge)")
    p.add_argument("--backend", default="auto", choices=BACKENDS, help="runtime backend (default auto)")
    p.add_argument("--precision", default=None, choices=("fp16", "fp32"),
                   help="artifact precision (default: the backend's choice: fp16 on CUDA when present, else fp32)")
    p.add_argument("--device", type=t.torch_device, default=None, metavar="DEV",
                   help="cpu, cuda or cuda:N (default: the backend's choice; the torch backend: cpu)")
    p.add_argument("--iters", type=t.integer(1, MAX_ITERS), default=200,
                   help=f"timed iterations per phase, 1..{MAX_ITERS} (default 200)")
    p.add_argument("--warmup", type=t.integer(0, MAX_ITERS), default=10,
                   help=f"untimed steps before timing, 0..{MAX_ITERS} (default 10)")
    p.add_argument("--batch", type=t.integer(1, t.MAX_BATCH), default=1,
                   help="batch size of the throughput phase (default 1; at most the bundle's max_batch)")
    p.add_argument("--hz", type=t.real(0, MAX_HZ, lo_open=True), default=50.0,
                   help=f"control rate of the simulated loop, in (0, {MAX_HZ}] (default 50)")
    p.add_argument("--duration", type=t.real(0, MAX_DURATION_S), default=10.0,
                   help=f"seconds of simulated control loop, 0..{MAX_DURATION_S} (default 10; 0 skips it)")
    p.add_argument("--inference", default="sync", choices=("sync", "async", "both"),
                   help="step() runs the model (sync), a worker thread runs it (async, docs/async.md), or both "
                        "control loops in one run, one table (default sync)")
    p.add_argument("--compare", type=t.existing_path, default=None, metavar="CKPT",
                   help="also run this source checkpoint in PyTorch eager on the same inputs (needs torch)")
    p.add_argument("--seed", type=t.integer(0, t.SEED_MAX), default=0,
                   help="seed of the synthetic observations (default 0)")
    p.add_argument("--json", type=t.output_file, default=None, metavar="PATH", help="write the result as JSON "
                   "(docs/bench-schema.md)")
    p.add_argument("--plot", type=t.output_file, default=None, metavar="PATH",
                   help="write a PNG: latency histogram/CDF per stage and the control-loop timeline (matplotlib)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def check_args(args: argparse.Namespace) -> None:
    """One-line errors for what needs the bundle, before anything runs (values are checked by the parser)."""
    from ..bundle import load_bundle
    from ..errors import ActEdgeError

    bundle = load_bundle(args.bundle)
    max_batch = int(bundle.manifest.get("max_batch", 1))
    if args.batch > max_batch:
        raise ActEdgeError(f"--batch {args.batch}: the bundle is exported for batch <= {max_batch} "
                           "(re-export with --max-batch)")
    if args.json is not None and args.plot is not None and os.path.abspath(args.json) == os.path.abspath(args.plot):
        raise ActEdgeError(f"--json and --plot name the same file {args.json}")
    if args.plot is not None:
        from ..bench.plot import require_matplotlib

        require_matplotlib()


def run(args: argparse.Namespace) -> int:
    check_args(args)
    from ..bench import report, runner

    cfg = runner.BenchConfig(bundle=str(args.bundle), backend=args.backend, precision=args.precision,
                             device=args.device, iters=args.iters, warmup=args.warmup, batch=args.batch, hz=args.hz,
                             duration=args.duration, compare=str(args.compare) if args.compare else None,
                             seed=args.seed, inference=args.inference)
    bar = ProgressBar(enabled=not args.quiet and sys.stderr.isatty())
    try:
        result, extras = runner.run(cfg, bar.update)
    except runner.BenchIncomplete as exc:  # a late phase failed: keep what was measured, then exit 2
        bar.close()
        print(report.render(exc.result))
        if args.json is not None:
            report.write_json(args.json, exc.result)
            print(f"json         {args.json} (incomplete)")
        raise
    finally:
        bar.close()
    print(report.render(result))
    if args.json is not None:
        report.write_json(args.json, result)
        print(f"json         {args.json}")
    if args.plot is not None:
        from ..bench.plot import write_png

        write_png(args.plot, result, extras)
        print(f"plot         {args.plot}")
    return 0


class ProgressBar:
    """`phase [#####.....] done/total` on stderr, redrawn at most 10 times a second."""

    def __init__(self, enabled: bool, width: int = 30) -> None:
        self.enabled, self.width, self._last, self._shown = enabled, width, 0.0, False

    def update(self, phase: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if done < total and now - self._last < 0.1:
            return
        self._last = now
        fill = int(self.width * done / max(total, 1))
        sys.stderr.write(f"\r{phase:<13}[{'#' * fill}{'.' * (self.width - fill)}] {done}/{total}\033[K")
        sys.stderr.flush()
        self._shown = True

    def close(self) -> None:
        if self._shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
