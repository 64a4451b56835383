"""The source the bundle is checked against: its checkpoint in PyTorch eager, built as
`act-edge bench --compare` builds it (act_edge.bench.runner.compare_reference), torch imported here only."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..bundle import Bundle
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
    """The checks of bench's compare_reference (torch importable, checkpoint readable, same spec), named
    after this command's flag, then the same model and graph inputs as bench --compare."""
    from ..dependencies import require

    require(f"{what} {path}", "torch")
    import torch

    from ..bench.runner import _source_matches
    from ..bench.synthetic import graph_inputs
    from ..export.checkpoint import build_model, load_checkpoint

    ckpt = load_checkpoint(path)
    if ckpt.spec != bundle.spec:
        raise ActEdgeError(f"{what} {path}: its spec differs from the bundle's, so actions cannot be compared")

    model = build_model(ckpt).to(device)
    if device.startswith("cuda"):  # a true fp32 reference: no TF32 matmuls / convolutions
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False

    def run(obs: dict[str, Any]) -> np.ndarray:
        feeds = {k: torch.from_numpy(np.ascontiguousarray(v)).to(device) for k, v in graph_inputs(bundle, obs).items()}
        with torch.inference_mode():
            out = model(**feeds)
        return out.cpu().numpy()[0].astype(np.float32, copy=False)

    return run, {"kind": f"PyTorch {torch.__version__} eager fp32 (ActInferenceModel), {device}", "checkpoint": path,
                 "checkpoint_matches_bundle_source": _source_matches(bundle, Path(path)), "skipped": None}
