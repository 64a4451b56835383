"""act-edge's own checkpoint: one torch.save'd dict {format, version, spec (JSON), runtime (JSON),
state_dict (canonical names)}, readable with torch.load(weights_only=True)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from ...bundle import sha256_file
from ...errors import CheckpointError
from ...spec import ActSpec
from ..checkpoint import LoadedCheckpoint, check_state_dict
from ._common import torch_zip_pickle

NAME = "act-edge"
DESCRIPTION = "act-edge checkpoint (act-edge init, or re-saved by act-edge): spec + canonical weights"
MAGIC = "act-edge-checkpoint"
VERSION = 1


def detect(path: Path) -> bool:
    return MAGIC.encode() in (torch_zip_pickle(path) or b"")


def save(path: str | os.PathLike, spec: ActSpec, state_dict: dict[str, torch.Tensor], runtime: dict[str, Any]) -> None:
    """Write atomically (temp file + rename)."""
    path = Path(path)
    check_state_dict(spec, state_dict, str(path))
    payload = {
        "format": MAGIC,
        "version": VERSION,
        "spec": spec.to_json(),
        "runtime": json.dumps(runtime),
        "state_dict": {k: v.detach().float().contiguous() for k, v in state_dict.items()},
    }
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def load(path: Path, **_: Any) -> LoadedCheckpoint:
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated zip, foreign pickle, not a torch file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: not a readable act-edge checkpoint ({first[:200]})") from None
    if not isinstance(obj, dict) or obj.get("format") != MAGIC:
        raise CheckpointError(f"{path}: not an act-edge checkpoint (no {MAGIC!r} format field)")
    if obj.get("version") != VERSION:
        raise CheckpointError(f"{path}: act-edge checkpoint version {obj.get('version')!r}, expected {VERSION}")
    try:
        spec = ActSpec.from_json(obj["spec"])
        runtime = json.loads(obj["runtime"])
    except (KeyError, ValueError, TypeError) as exc:
        raise CheckpointError(f"{path}: invalid spec in checkpoint: {exc}") from None
    sd = obj.get("state_dict")
    if not isinstance(sd, dict):
        raise CheckpointError(f"{path}: checkpoint has no state_dict")
    check_state_dict(spec, sd, str(path))
    return LoadedCheckpoint(spec=spec, state_dict=sd, runtime=runtime,
                            source={"format": NAME, "path": str(path), "files": {path.name: sha256_file(path)}})
