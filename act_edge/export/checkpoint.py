"""LoadedCheckpoint (ActSpec + canonical weights + provenance), loader dispatch, and weight checks."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..errors import CheckpointError
from ..spec import ActSpec


@dataclass
class LoadedCheckpoint:
    """What every family loader returns."""

    spec: ActSpec
    state_dict: dict[str, torch.Tensor]  # canonical names (ActInferenceModel.state_dict keys), float32
    runtime: dict[str, Any]  # Policy defaults: temporal_ensemble_coeff (float|None), n_action_steps, post_steps
    source: dict[str, Any]  # format, path, files {name: sha256}
    dropped: list[dict[str, Any]] = field(default_factory=list)  # [{"reason": ..., "keys": [...]}]
    notes: list[str] = field(default_factory=list)  # facts worth printing in the export summary


def default_runtime(spec: ActSpec, coeff: float | None = 0.01, n_action_steps: int | None = None) -> dict[str, Any]:
    return {"temporal_ensemble_coeff": coeff, "n_action_steps": n_action_steps or spec.chunk_size, "post_steps": []}


def check_state_dict(spec: ActSpec, state_dict: dict[str, torch.Tensor], origin: str) -> None:
    """Raise CheckpointError listing missing/unexpected keys or naming the first shape mismatch."""
    from .model import canonical_shapes

    want = canonical_shapes(spec)
    missing = sorted(set(want) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(want))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing keys {_short(missing)}")
        if unexpected:
            parts.append(f"unexpected keys {_short(unexpected)}")
        raise CheckpointError(f"{origin}: " + "; ".join(parts))
    for name, shape in want.items():
        got = tuple(state_dict[name].shape)
        if got != shape:
            raise CheckpointError(f"{origin}: tensor {name} has shape {list(got)}, the spec needs {list(shape)}")


def build_model(ckpt: LoadedCheckpoint):
    """ActInferenceModel with the checkpoint's weights, eval mode, fp32."""
    from .model import ActInferenceModel

    check_state_dict(ckpt.spec, ckpt.state_dict, ckpt.source.get("path", "checkpoint"))
    model = ActInferenceModel(ckpt.spec)
    model.load_state_dict({k: v.float() for k, v in ckpt.state_dict.items()}, strict=True)
    return model.eval()


def load_checkpoint(path: str | os.PathLike, format: str | None = None, **options: Any) -> LoadedCheckpoint:
    """Load any supported family; `format` forces one (see `formats.FORMATS`), else it is detected."""
    from .formats import detect_format, get_format

    p = Path(path)
    if not p.exists():
        raise CheckpointError(f"{p}: no such file or directory")
    fmt = get_format(format) if format else detect_format(p)
    return fmt.load(p, **options)


def _short(keys: list[str], limit: int = 8) -> str:
    shown = ", ".join(keys[:limit])
    return f"[{shown}{', ...' if len(keys) > limit else ''}] ({len(keys)})"
