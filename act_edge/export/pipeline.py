"""LoadedCheckpoint -> bundle directory: ONNX fp32 (+ fp16), parity figures, manifest; atomic."""

from __future__ import annotations

import datetime as _dt
import math
import os
import platform
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from .. import __version__
from ..bundle import (ONNX_FP16, ONNX_FP32, PARITY_INPUTS, artifact_entry, io_description,
                      write_bundle_atomic)
from ..bundle_dest import check_destination
from ..errors import ActEdgeError, ParityError
from ..metrics import ERROR_FIGURES, action_errors
from ..synthetic_inputs import random_inputs
from .checkpoint import LoadedCheckpoint, build_model, check_runtime
from .onnx_export import MIN_OPSET, export_onnx
from .onnx_runner import run_onnx
from .stats import model_figures

PARITY_TOLERANCE = 5e-5  # max abs error, normalized action units, fp32 ONNX vs torch
PARITY_BATCHES = (1, 3)
PARITY_SEED = 20240


def export_bundle(ckpt: LoadedCheckpoint, dest: str | Path, *, fp16: bool = False, opset: int = MIN_OPSET,
                  max_batch: int = 8, tolerance: float = PARITY_TOLERANCE, force: bool = False,
                  log: Callable[[str], None] = lambda msg: None) -> Path:
    """Write `dest` (a `*.actedge` directory) and return it; raises ParityError, nothing half-written.

    `dest` follows the output rules of act_edge.bundle_dest (a new path or a previous bundle; `force`:
    also an empty directory or a damaged bundle); it may not contain the source checkpoint.
    """
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not 0 < tolerance < math.inf:
        raise ActEdgeError(f"parity tolerance must be a finite number > 0, got {tolerance!r}")
    spec = ckpt.spec
    check_runtime(spec, ckpt.runtime, str(ckpt.source.get("path", "checkpoint")))
    protect = source_paths(ckpt.source)
    check_destination(dest, force=force, protect=protect)  # before minutes of work
    model = build_model(ckpt)
    figures = model_figures(model)

    def build(tmp: Path) -> dict[str, Any]:
        log(f"exporting ONNX (opset {opset}{', BatchNorm folded' if spec.cameras else ', no backbone'}) ...")
        export_onnx(model, tmp / "model.onnx", opset)
        log(f"checking parity against torch at batch {', '.join(map(str, PARITY_BATCHES))} ...")
        parity, saved = _fp32_parity(model, tmp / "model.onnx", tolerance)
        np.savez(tmp / "parity.npz", **saved)
        artifacts = {
            ONNX_FP32: artifact_entry(tmp, "model.onnx", precision="fp32"),
            PARITY_INPUTS: artifact_entry(tmp, "parity.npz", batch=1, seed=PARITY_SEED),
        }
        manifest = _manifest(ckpt, figures, opset, max_batch, parity, artifacts)
        if fp16:
            log("converting to fp16 (LayerNorm, Softmax, pre/post-processing and I/O stay fp32) ...")
            manifest["fp16_error"] = _write_fp16(tmp, spec)
            artifacts[ONNX_FP16] = artifact_entry(tmp, "model.fp16.onnx", precision="fp16")
        return manifest

    return write_bundle_atomic(dest, build, force=force, protect=protect)


def source_paths(source: dict[str, Any]) -> list[Path]:
    """The checkpoint path and the files hashed beside it (absolute): what an export must never replace."""
    if not source.get("path"):
        return []
    path = Path(os.path.abspath(source["path"]))
    base = path if path.is_dir() else path.parent
    return [path] + [base / name for name in source.get("files", {}) if isinstance(name, str)]


def _absolute_path(source: dict[str, Any]) -> dict[str, Any]:
    """source.path points outside the bundle: stored absolute, so the torch backend finds it from any cwd."""
    return {"path": os.path.abspath(source["path"])} if source.get("path") else {}


def raw_tolerance_scale(spec, reference: np.ndarray) -> float:
    """1, or without action normalization (raw units: a model trained on e.g. degrees) max(1, std of the
    reference actions), so the tolerance is relative to the actions' own scale."""
    if spec.action_norm.mode != "identity":
        return 1.0
    return max(1.0, float(np.std(reference.astype(np.float64))))


def _fp32_parity(model, onnx_path: Path, tolerance: float) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    spec, worst, saved, limit = model.spec, None, {}, math.inf
    for batch in PARITY_BATCHES:
        inputs = random_inputs(spec, batch, PARITY_SEED + batch)
        with torch.no_grad():
            ref = model(**{k: torch.from_numpy(v) for k, v in inputs.items()}).numpy()
        got = run_onnx(onnx_path, inputs)
        err = action_errors(spec, ref, got)
        if worst is None or err["max_abs_normalized"] > worst["max_abs_normalized"]:
            worst = err
        batch_limit = tolerance * raw_tolerance_scale(spec, ref) if np.isfinite(ref).all() else tolerance
        limit = min(limit, batch_limit)
        if not err["finite"] or not err["max_abs_normalized"] <= batch_limit:  # NaN fails too
            raise ParityError(
                f"fp32 ONNX differs from the torch model by {err['max_abs_normalized']:.3g} normalized action "
                f"units at batch {batch} (tolerance {batch_limit:g})"
            )
        if batch == 1:
            saved = {**inputs, "actions": ref.astype(np.float32)}
    parity = {"max_abs_normalized": worst["max_abs_normalized"], "max_abs": worst["max_abs"],
              "tolerance": limit, "batches": list(PARITY_BATCHES), "seed": PARITY_SEED,
              "reference": "torch eager fp32 (BatchNorm unfolded)", "runtime": "onnxruntime CPUExecutionProvider"}
    if spec.action_norm.mode == "identity":
        parity["tolerance_rule"] = f"{tolerance:g} x max(1, std of the reference actions): raw action units"
    return parity, saved


def _write_fp16(tmp: Path, spec) -> dict[str, Any]:
    import onnx

    from .fp16 import convert_to_fp16

    onnx.save(convert_to_fp16(onnx.load(str(tmp / "model.onnx"))), str(tmp / "model.fp16.onnx"))
    inputs = random_inputs(spec, 3, PARITY_SEED + 16)
    ref = run_onnx(tmp / "model.onnx", inputs)
    got = run_onnx(tmp / "model.fp16.onnx", inputs)
    err = action_errors(spec, ref, got)
    if not err["finite"]:
        raise ParityError("the fp16 ONNX produces non-finite actions (fp16 overflow); export without --fp16")
    if not all(math.isfinite(err[k]) for k in ERROR_FIGURES):  # never a bare NaN in the manifest
        raise ParityError(f"fp16 error figures are not finite ({', '.join(f'{k} {err[k]}' for k in ERROR_FIGURES)})")
    return {**err, "method": "onnxruntime CPUExecutionProvider, real fp16 kernels (proxy: GPU tensor cores "
                             "accumulate differently)", "reference": "fp32 ONNX", "batch": 3}


def _manifest(ckpt: LoadedCheckpoint, figures: dict[str, Any], opset: int, max_batch: int,
              parity: dict[str, Any], artifacts: dict[str, Any]) -> dict[str, Any]:
    import onnx
    import onnxruntime

    spec = ckpt.spec
    return {
        "name": spec.name,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "act_edge_version": __version__,
        "spec": spec.to_dict(),
        "io": io_description(spec),
        "max_batch": max_batch,
        "runtime": ckpt.runtime,
        "artifacts": artifacts,
        "source": {**ckpt.source, **_absolute_path(ckpt.source), "dropped": ckpt.dropped, "notes": ckpt.notes},
        "parity": {"onnx_fp32": parity},
        "model": figures,
        "versions": {"torch": torch.__version__, "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__,
                     "opset": opset, "python": platform.python_version()},
        "engines": [],
    }
