"""Benchmark a bundle: startup, per-stage latency, throughput, a control loop at --hz, vs PyTorch eager."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

BACKENDS = ("auto", "tensorrt", "onnxruntime", "torch")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("bundle", type=Path, help="bundle directory (*.actedge)")
    p.add_argument("--backend", default="auto", choices=BACKENDS, help="runtime backend (default auto)")
    p.add_argument("--precision", default=None, choices=("fp16", "fp32"),
                   help="artifact precision (default: the backend's choice: fp16 on CUDA when present, else fp32)")
    p.add_argument("--iters", type=int, default=200, help="timed iterations per phase (default 200)")
    p.add_argument("--warmup", type=int, default=10, help="untimed steps before timing (default 10)")
    p.add_argument("--batch", type=int, default=1, help="batch size of the throughput phase (default 1)")
    p.add_argument("--hz", type=float, default=50.0, help="control rate of the simulated loop (default 50)")
    p.add_argument("--duration", type=float, default=10.0,
                   help="seconds of simulated control loop (default 10; 0 skips it)")
    p.add_argument("--compare", type=Path, default=None, metavar="CKPT",
                   help="also run this source checkpoint in PyTorch eager on the same inputs (needs torch)")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic observations (default 0)")
    p.add_argument("--json", type=Path, default=None, metavar="PATH", help="write the result as JSON "
                   "(docs/bench-schema.md)")
    p.add_argument("--plot", type=Path, default=None, metavar="PATH",
                   help="write a PNG: latency histogram/CDF per stage and the control-loop timeline (matplotlib)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def check_args(args: argparse.Namespace) -> None:
    """One-line errors for bad values, before anything is loaded."""
    from ..bundle import load_bundle
    from ..errors import ActEdgeError

    for name, low in (("iters", 1), ("warmup", 0), ("batch", 1)):
        if getattr(args, name) < low:
            raise ActEdgeError(f"--{name} {getattr(args, name)}: must be >= {low}")
    if not args.hz > 0:
        raise ActEdgeError(f"--hz {args.hz:g}: must be > 0")
    if args.duration < 0:
        raise ActEdgeError(f"--duration {args.duration:g}: must be >= 0")
    bundle = load_bundle(args.bundle)
    max_batch = int(bundle.manifest.get("max_batch", 1))
    if args.batch > max_batch:
        raise ActEdgeError(f"--batch {args.batch}: the bundle is exported for batch <= {max_batch} "
                           "(re-export with --max-batch)")
    if args.compare is not None and not args.compare.exists():
        raise ActEdgeError(f"--compare {args.compare}: no such file or directory")
    for opt in ("json", "plot"):
        path = getattr(args, opt)
        if path is not None and not path.parent.resolve().is_dir():
            raise ActEdgeError(f"--{opt} {path}: directory {path.parent} does not exist")
    if args.plot is not None:
        from ..bench.plot import require_matplotlib

        require_matplotlib()


def run(args: argparse.Namespace) -> int:
    check_args(args)
    from ..bench import report, runner

    cfg = runner.BenchConfig(bundle=str(args.bundle), backend=args.backend, precision=args.precision,
                             iters=args.iters, warmup=args.warmup, batch=args.batch, hz=args.hz,
                             duration=args.duration, compare=str(args.compare) if args.compare else None,
                             seed=args.seed)
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
