"""LoadedCheckpoint (ActSpec + canonical weights + provenance), loader dispatch, and weight checks."""

from __future__ import annotations

import math
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

    def __post_init__(self) -> None:
        check_runtime(self.spec, self.runtime, str(self.source.get("path", "checkpoint")))


def default_runtime(spec: ActSpec, coeff: float | None = 0.01, n_action_steps: int | None = None) -> dict[str, Any]:
    return {"temporal_ensemble_coeff": coeff, "n_action_steps": spec.chunk_size if n_action_steps is None
            else n_action_steps, "post_steps": []}


def check_runtime(spec: ActSpec, runtime: Any, origin: str) -> None:
    """CheckpointError unless `Policy.load` accepts these runtime defaults: the limits are the runtime's
    own (act_edge.ensemble's TemporalEnsemble and ChunkQueue), so no bundle is written that it refuses."""
    from ..ensemble import ChunkQueue, TemporalEnsemble

    if not isinstance(runtime, dict):
        raise CheckpointError(f"{origin}: runtime defaults must be a mapping, got {type(runtime).__name__}")
    coeff, steps = runtime.get("temporal_ensemble_coeff"), runtime.get("n_action_steps")
    if isinstance(steps, bool) or not isinstance(steps, int):
        raise CheckpointError(f"{origin}: n_action_steps {steps!r} is not an integer")
    try:
        ChunkQueue(spec.chunk_size, spec.action_dim, steps)  # (ignored by Policy.load while ensembling, still valid)
        if coeff is not None:
            if isinstance(coeff, bool) or not isinstance(coeff, (int, float)) or not math.isfinite(coeff):
                raise ValueError(f"temporal_ensemble_coeff must be a finite number or null, got {coeff!r}")
            TemporalEnsemble(spec.chunk_size, spec.action_dim, coeff)
    except ValueError as exc:
        raise CheckpointError(f"{origin}: {exc}") from None


def check_tensors(sd: dict[str, Any], origin: str, names: dict[str, str] | None = None) -> None:
    """Weights as stored, before anything is copied: dense floating-point tensors whose storage holds
    every element they claim (a stride-0 view of a tiny storage claiming 10^12 elements is refused here,
    not when converting it would allocate). `names` maps keys to source keys for messages."""
    names = names or {}
    for key, t in sd.items():
        name = names.get(key, key)
        if not isinstance(t, torch.Tensor):
            raise CheckpointError(f"{origin}: entry {name} is a {type(t).__name__}, not a tensor")
        if t.layout != torch.strided:
            raise CheckpointError(f"{origin}: tensor {name} has layout {t.layout}; only dense tensors are weights")
        if not t.is_floating_point():
            raise CheckpointError(f"{origin}: tensor {name} has dtype {str(t.dtype).replace('torch.', '')}; "
                                  "weights must be floating point (not cast silently)")
        claimed = t.numel() * t.element_size()
        held = t.untyped_storage().nbytes() - t.storage_offset() * t.element_size()
        if claimed > held:
            raise CheckpointError(f"{origin}: tensor {name} claims shape {list(t.shape)} ({claimed} bytes) but its "
                                  f"storage holds {max(held, 0)} bytes (stride-0 or overlapping view): refused")


def to_float32(sd: dict[str, torch.Tensor], origin: str, names: dict[str, str] | None = None) -> dict[str, torch.Tensor]:
    """Checked weights (see `check_tensors`) as contiguous float32 copies; CheckpointError naming the first
    non-finite one."""
    check_tensors(sd, origin, names)
    out = {}
    for k, v in sd.items():
        t = v.detach().to(torch.float32).contiguous()
        # a NaN/inf element makes the sum non-finite; the exact test only runs when it is (or overflowed)
        if not math.isfinite(float(t.sum())) and not bool(torch.isfinite(t).all()):
            raise CheckpointError(f"{origin}: tensor {(names or {}).get(k, k)} holds non-finite values (NaN/inf)")
        out[k] = t
    return out


def check_state_dict(spec: ActSpec, state_dict: dict[str, torch.Tensor], origin: str) -> None:
    """Raise CheckpointError listing missing/unexpected keys or naming the first shape mismatch
    (shapes only: nothing is copied; `check_tensors` vets each tensor's dtype and storage)."""
    from .model import canonical_shapes

    check_tensors(state_dict, origin)
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
    """The spec's inference model (model.build_inference_model) with the checkpoint's weights, eval mode, fp32."""
    from .model import build_inference_model

    origin = str(ckpt.source.get("path", "checkpoint"))
    check_state_dict(ckpt.spec, ckpt.state_dict, origin)
    model = build_inference_model(ckpt.spec)
    model.load_state_dict(to_float32(ckpt.state_dict, origin), strict=True)
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
