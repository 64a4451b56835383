"""Check this machine (and a bundle) before running a policy: platform, Python, numpy, backends, GPU."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("bundle", type=Path, nargs="?", default=None,
                   help="bundle directory (*.actedge/): also check its manifest, hashes, engine and a smoke run")
    p.add_argument("--json", action="store_true", help="print the result as JSON (docs/doctor.md) instead of lines")


def run(args: argparse.Namespace) -> int:
    """Exit 0: every needed check passed (warnings allowed); 1: a needed check failed (a FAIL line);
    2 (from main): BUNDLE is not a directory."""
    from ..errors import ActEdgeError

    if args.bundle is not None and not args.bundle.is_dir():
        what = "does not exist" if not args.bundle.exists() else "is not a directory"
        raise ActEdgeError(f"{args.bundle}: {what} (expected a bundle directory, *.actedge/)")
    from ..doctor import exit_code, render_json, render_text, run_checks

    checks = run_checks(args.bundle)
    print(render_json(checks, str(args.bundle) if args.bundle else None) if args.json else render_text(checks))
    return exit_code(checks)
