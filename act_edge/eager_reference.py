"""A bundle's source checkpoint in PyTorch eager, as the reference its actions are compared with
(`act-edge bench --compare`, `act-edge replay --against`). The runtime side reaches the export code
(`act_edge.export`, torch) through this module only, and only when a reference is asked for."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np

from .backends.base import allocate_io
from .bundle import Bundle, sha256_file
from .dependencies import require
from .errors import ActEdgeError
from .observation import ObservationValidator

EagerModel = Callable[[dict[str, Any]], np.ndarray]  # one observation -> (chunk, A) float32


def source_matches(bundle: Bundle, checkpoint: Path) -> bool | None:
    """Is `checkpoint` the file the bundle was exported from (manifest source sha256)? None: unknown."""
    src = bundle.manifest.get("source", {})
    want = src.get("files") or src.get("sha256")
    if not want or not checkpoint.is_file():
        return None
    digest = sha256_file(checkpoint)
    return digest in (want.values() if isinstance(want, dict) else [want])


def load_reference(path: str, bundle: Bundle, what: str) -> Any:
    """The checkpoint at `path`, checked: torch importable, readable, the bundle's spec. Errors name
    `what` (the flag that gave the path, e.g. "--compare")."""
    require(f"{what} {path}", "torch")
    from .export.checkpoint import load_checkpoint

    ckpt = load_checkpoint(path)
    if ckpt.spec != bundle.spec:
        raise ActEdgeError(f"{what} {path}: its spec differs from the bundle's, so actions cannot be compared")
    return ckpt


def eager_model(ckpt: Any, bundle: Bundle, device: str = "cpu", strict_fp32: bool = True) -> tuple[EagerModel, str]:
    """(observation -> chunk, a description). The inference graph the export traced (z = 0, pre/post-
    processing inside), fed the observation as the bundle's graph inputs. strict_fp32: no TF32 matmuls
    or convolutions on CUDA (a true fp32 reference)."""
    import torch

    from .export.checkpoint import build_model

    model = build_model(ckpt).to(device)
    if strict_fp32 and device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    validator = ObservationValidator(bundle.spec, bundle.manifest["io"]["inputs"], 1)
    buffers, _ = allocate_io(bundle, 1)  # staged as the Policy stages them: the same graph inputs

    def run(obs: dict[str, Any]) -> np.ndarray:
        validator.validate(obs)
        validator.stage(obs, buffers, 1)
        feeds = {k: torch.from_numpy(v).to(device) for k, v in buffers.items()}
        with torch.inference_mode():
            out = model(**feeds)
        return out.cpu().numpy()[0].astype(np.float32, copy=False)

    return run, (f"PyTorch {torch.__version__} eager fp32 (ActInferenceModel, inference_mode), {device}, "
                 f"{torch.get_num_threads()} threads")
