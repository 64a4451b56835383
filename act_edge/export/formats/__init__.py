"""Checkpoint families. Each module exposes NAME, DESCRIPTION, detect(path) -> bool and
load(path, **options) -> LoadedCheckpoint; options a family does not use are ignored.
Their command-line flags are in act_edge.cli.loader_flags."""

from __future__ import annotations

import difflib
import importlib
from pathlib import Path
from types import ModuleType

from ...errors import CheckpointError

# name -> module; detection tries them in this order.
FORMATS = {
    "act-edge": "native",
    "original": "original",
    "lerobot": "lerobot",
    "behavior": "behavior",
    "simplified": "simplified",
}


def get_format(name: str) -> ModuleType:
    if name not in FORMATS:
        hint = difflib.get_close_matches(name, FORMATS, n=1)
        extra = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise CheckpointError(f"unknown checkpoint format {name!r}{extra}; known: {', '.join(FORMATS)}")
    return importlib.import_module(f"{__name__}.{FORMATS[name]}")


def detect_format(path: Path) -> ModuleType:
    for name in FORMATS:
        module = get_format(name)
        if module.detect(path):
            return module
    raise CheckpointError(
        f"{path}: not a recognised ACT checkpoint (tried: {', '.join(FORMATS)}); "
        "use --format to force one"
    )
