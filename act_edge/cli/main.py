"""Entry point: dispatch to the subcommand modules; user errors become one line and exit code 2.

Every failure the user can cause prints exactly one line on stderr, `act-edge CMD: error: MESSAGE`,
and returns 2: bad flags and values (refused by the parser, act_edge.cli.argtypes), ActEdgeError and
OSError (permission denied, disk full) from a subcommand. Never a traceback for those.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# Subcommand -> module in act_edge.cli. Each module has `add_arguments(parser)`, `run(args) -> int`,
# optionally `validate(args)` (checks that need several flags, before any work), and a one-line
# module docstring used as the help text. Modules import heavy packages inside run().
COMMANDS = {
    "init": "init_cmd",
    "export": "export_cmd",
    "inspect": "inspect_cmd",
    "build-engine": "build_engine_cmd",
    "bench": "bench_cmd",
    "doctor": "doctor_cmd",
    "replay": "replay_cmd",
}


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, `PROG: error: MESSAGE`, exit code 2 (no usage lines)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {one_line(message)}\n")


def one_line(text: object) -> str:
    """Collapse a message to one line."""
    return " ".join(str(text).split())


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="act-edge", description="ACT policies from checkpoint to control loop.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(f"act_edge.cli.{module_name}")
        doc = (module.__doc__ or "").strip().splitlines()[0]
        p = sub.add_parser(name, help=doc, description=doc)
        module.add_arguments(p)
        p.set_defaults(_run=module.run, _validate=getattr(module, "validate", None))
    return parser


def main(argv: list[str] | None = None) -> int:
    from ..errors import ActEdgeError

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version (0) or a refused value (2, one line already printed)
        return exc.code if isinstance(exc.code, int) else 2
    if not getattr(args, "command", None):
        print(f"act-edge: error: give a command: {', '.join(COMMANDS)} (act-edge --help)", file=sys.stderr)
        return 2
    error = f"act-edge {args.command}: error:"
    try:
        validate = getattr(args, "_validate", None)
        if validate is not None:
            validate(args)
        _require(args)  # before anything runs
        return int(args._run(args) or 0)
    except ImportError as exc:  # torch/onnx/onnxruntime absent (a runtime-only install): one line, exit 2
        from ..dependencies import missing_line, missing_package

        package = missing_package(exc)
        if package is None:
            return _internal_error(error, exc)
        print(f"{error} {missing_line('this command', package, exc)}", file=sys.stderr)
        return 2
    except ActEdgeError as exc:
        print(f"{error} {one_line(exc)}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"{error} no such file: {exc.filename}", file=sys.stderr)
        return 2
    except OSError as exc:  # permission denied, disk full, read-only file system, ...
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"{error} {where}{one_line(exc.strerror or exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"act-edge {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug of ours, not bad input
        return _internal_error(error, exc)


def _internal_error(error: str, exc: Exception) -> int:
    """One line and exit 1 for an exception act-edge did not expect; the traceback with ACT_EDGE_TRACEBACK=1."""
    if os.environ.get(TRACEBACK_ENV):
        raise exc
    print(f"{error} internal error {type(exc).__name__}: {one_line(exc)} (a bug in act-edge: rerun with "
          f"{TRACEBACK_ENV}=1 and report the traceback)", file=sys.stderr)
    return 1


TRACEBACK_ENV = "ACT_EDGE_TRACEBACK"

# Optional packages a subcommand needs whatever its arguments, checked before it runs (others, such as
# `inspect CKPT` needing torch, surface as the ImportError above).
NEEDS = {"init": ("torch",), "export": ("torch", "onnx", "onnxruntime")}


def _require(args: argparse.Namespace) -> None:
    from ..dependencies import require

    require("this command", *NEEDS.get(args.command, ()))


def _version() -> str:
    from .. import __version__

    return __version__


if __name__ == "__main__":
    sys.exit(main())
