"""Entry point: dispatch to the subcommand modules; user errors become one line and exit code 2."""

from __future__ import annotations

import argparse
import importlib
import sys

# Subcommand -> module in act_edge.cli. Each module has `add_arguments(parser)`, `run(args) -> int`
# and a one-line module docstring used as the help text. Modules import heavy packages inside run().
COMMANDS = {
    "init": "init_cmd",
    "export": "export_cmd",
    "inspect": "inspect_cmd",
    "build-engine": "build_engine_cmd",
    "bench": "bench_cmd",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="act-edge", description="ACT policies from checkpoint to control loop.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(f"act_edge.cli.{module_name}")
        doc = (module.__doc__ or "").strip().splitlines()[0]
        p = sub.add_parser(name, help=doc, description=doc)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    from ..errors import ActEdgeError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        _require(args)  # before anything runs
        return int(args._run(args) or 0)
    except ImportError as exc:  # torch/onnx/onnxruntime absent (a runtime-only install): one line, exit 2
        from ..dependencies import missing_line, missing_package

        package = missing_package(exc)
        if package is None:
            raise
        print(f"act-edge {args.command}: error: {missing_line('this command', package, exc)}", file=sys.stderr)
        return 2
    except ActEdgeError as exc:
        print(f"act-edge {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"act-edge {args.command}: error: no such file: {exc.filename}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"act-edge {args.command}: interrupted", file=sys.stderr)
        return 130


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
