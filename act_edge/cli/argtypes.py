"""argparse `type=` functions: each value is checked at parse time and refused in one line naming it.

A refusal raises argparse.ArgumentTypeError; the parser prints `act-edge CMD: error: argument FLAG:
MESSAGE` and exits with code 2 (cli/main.py). No torch, no file contents beyond a few bytes.
"""

from __future__ import annotations

import argparse
import difflib
import math
import os
import re
import zipfile
from pathlib import Path
from typing import Callable, Iterable

from ..spec import MAX_IMAGE_SIDE  # the spec's own bound: a size the parser passes is one ActSpec accepts

SEED_MAX = 2**32 - 1
MAX_BATCH = 1024  # largest batch a bundle may be declared for (buffers are allocated for it)


def integer(lo: int, hi: int | None = None) -> Callable[[str], int]:
    """An integer in [lo, hi]."""

    def parse(text: str) -> int:
        try:
            value = int(text.strip(), 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < lo or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"{value} is out of range: {_range(lo, hi)}")
        return value

    parse.__name__ = "integer"
    return parse


def real(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False) -> Callable[[str], float]:
    """A finite float in [lo, hi] (or (lo, hi] with lo_open)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text} is not a finite number")
        low_bad = lo is not None and (value <= lo if lo_open else value < lo)
        if low_bad or (hi is not None and value > hi):
            left = "" if lo is None else (f"> {lo:g}" if lo_open else f">= {lo:g}")
            right = "" if hi is None else f"<= {hi:g}"
            raise argparse.ArgumentTypeError(f"{value:g} is out of range: must be {' and '.join(s for s in (left, right) if s)}")
        return value

    parse.__name__ = "number"
    return parse


def _range(lo: int, hi: int | None) -> str:
    return f"must be >= {lo}" if hi is None else f"must be {lo}..{hi}"


def choice(names: Iterable[str], what: str) -> Callable[[str], str]:
    """One of `names`, with a did-you-mean hint."""
    names = tuple(names)

    def parse(text: str) -> str:
        if text in names:
            return text
        hint = difflib.get_close_matches(text, names, n=1)
        extra = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise argparse.ArgumentTypeError(f"unknown {what} {text!r}{extra}; known: {', '.join(names)}")

    parse.__name__ = what
    return parse


def existing_path(text: str) -> Path:
    """A file or directory that exists."""
    p = Path(text)
    if not text:
        raise argparse.ArgumentTypeError("empty path")
    if not p.exists():
        raise argparse.ArgumentTypeError(f"{text}: no such file or directory")
    return p


def existing_dir(text: str) -> Path:
    """A directory that exists (a bundle; its contents are checked when it is loaded)."""
    p = existing_path(text)
    if not p.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: not a directory (a bundle is a *.actedge directory)")
    return p


def output_file(text: str, *, make_parents: bool = False) -> Path:
    """A file to (over)write: not a directory, not a symlink, in a writable directory.

    make_parents: the directory may be missing (it is created), then its nearest existing ancestor
    must be writable.
    """
    if not text:
        raise argparse.ArgumentTypeError("empty path")
    p = Path(text)
    if p.is_symlink():
        raise argparse.ArgumentTypeError(f"{text}: is a symbolic link; give the path of a regular file")
    if p.is_dir() or text.endswith(os.sep):
        raise argparse.ArgumentTypeError(f"{text}: is a directory; give a file path")
    if p.exists() and not p.is_file():
        raise argparse.ArgumentTypeError(f"{text}: exists and is not a regular file")
    parent = Path(os.path.abspath(p)).parent
    if make_parents:
        while not parent.exists() and parent.parent != parent:
            parent = parent.parent
    if not parent.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"{text}: directory {parent} is not writable")
    if p.exists() and not os.access(p, os.W_OK):
        raise argparse.ArgumentTypeError(f"{text}: file is not writable")
    return p


def output_file_made_parents(text: str) -> Path:
    return output_file(text, make_parents=True)


output_file_made_parents.__name__ = "output_file"


def new_or_checkpoint_file(text: str) -> Path:
    """`init -o`: a new file, or an act-edge checkpoint written before (never any other file)."""
    p = output_file(text)
    if p.exists() and not is_act_edge_checkpoint(p):
        raise argparse.ArgumentTypeError(f"{text}: exists and is not an act-edge checkpoint; act-edge does not "
                                         "overwrite it: choose a new path")
    return p


def is_act_edge_checkpoint(path: Path) -> bool:
    """A torch.save zip whose data.pkl names the act-edge checkpoint format (read without torch)."""
    try:
        if not zipfile.is_zipfile(path):
            return False
        with zipfile.ZipFile(path) as zf:
            pkl = next((n for n in zf.namelist() if n.endswith("/data.pkl")), None)
            return bool(pkl) and b"act-edge-checkpoint" in zf.read(pkl)
    except (OSError, zipfile.BadZipFile):
        return False


def output_dir(text: str) -> Path:
    """A bundle directory to write; the output rules (new path or previous bundle) are applied once
    --force and the checkpoint are known (export_cmd.validate)."""
    if not text:
        raise argparse.ArgumentTypeError("empty path")
    return Path(text)


def device(text: str) -> str:
    """`cuda` or `cuda:N`."""
    if text == "cuda" or re.fullmatch(r"cuda:\d{1,2}", text):
        return text
    raise argparse.ArgumentTypeError(f"{text!r} is not a CUDA device (give cuda or cuda:N)")


def torch_device(text: str) -> str:
    """`cpu`, `cuda` or `cuda:N` (where the torch backend may run)."""
    if text == "cpu":
        return text
    try:
        return device(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected cpu, cuda or cuda:N") from None


def image_size(text: str) -> str:
    """`HxW`, or a comma-separated list of them; sides 1..MAX_IMAGE_SIDE. Returned as given."""
    for part in text.split(","):
        m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", part)
        if not m:
            raise argparse.ArgumentTypeError(f"{text!r} is not HxW (e.g. 480x640), or a comma-separated list of them")
        for side in (int(m.group(1)), int(m.group(2))):
            if not 1 <= side <= MAX_IMAGE_SIDE:
                raise argparse.ArgumentTypeError(f"{part.strip()!r}: image sides must be 1..{MAX_IMAGE_SIDE}")
    return text


def camera_names(text: str) -> str:
    """Comma-separated, non-empty, unique names. Returned as given."""
    names = [c.strip() for c in text.split(",")]
    if any(not n for n in names):
        raise argparse.ArgumentTypeError(f"{text!r}: give comma-separated non-empty camera names")
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"{text!r}: camera names must be unique")
    return text


def retype(parser: argparse.ArgumentParser, types: dict[str, Callable[[str], object]]) -> None:
    """Give flags defined elsewhere (the loader flags of act_edge.cli.loader_flags) a checking type."""
    for flag, fn in types.items():
        action = parser._option_string_actions.get(flag)
        if action is not None:
            action.type = fn
