"""The source the bundle is checked against: its checkpoint in PyTorch eager, built as
`act-edge bench --compare` builds it (act_edge.eager_reference), torch imported there only."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..bundle import Bundle
from ..eager_reference import eager_model, load_reference, source_matches
from ..errors import ActEdgeError

Source = Callable[[dict[str, Any]], np.ndarray]  # one observation -> (chunk, A) float32


def open_source(bundle: Bundle, against: str | None, skip: bool,
                device: str = "cpu") -> tuple[Source | None, dict[str, Any]]:
    """(source or None, what it is / why there is none). `against` given: any failure is the caller's
    error (torch missing included); the manifest's source: a failure is reported, not raised.
    device: where the eager model runs (bench --compare's rule: the policy's CUDA device, else cpu)."""
    if skip:
        return None, {"kind": None, "checkpoint": None, "skipped": "--no-source"}
    if against is not None:
        return _eager(str(against), bundle, "--against", device)
    path = (bundle.manifest.get("source") or {}).get("path")
    if not path:
        return None, {"kind": None, "checkpoint": None,
                      "skipped": "the manifest names no source checkpoint (give --against CKPT)"}
    if not Path(path).exists():
        return None, {"kind": None, "checkpoint": path,
                      "skipped": f"the bundle's source checkpoint {path} is not on this machine (give --against CKPT)"}
    try:
        return _eager(path, bundle, "the bundle's source checkpoint", device)
    except ActEdgeError as exc:
        return None, {"kind": None, "checkpoint": path, "skipped": " ".join(str(exc).split())}


def _eager(path: str, bundle: Bundle, what: str, device: str) -> tuple[Source, dict[str, Any]]:
    """The checks and the model of bench --compare (act_edge.eager_reference), named after this command's flag."""
    ckpt = load_reference(path, bundle, what)
    run, kind = eager_model(ckpt, bundle, device)
    return run, {"kind": kind, "checkpoint": path, "checkpoint_matches_bundle_source": source_matches(bundle, Path(path)),
                 "skipped": None}
