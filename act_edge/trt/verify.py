"""Engine verification: actions on the bundle's parity inputs vs the fp32 reference, as % of action range
(act_edge.metrics: the definition the exporter's fp16 figure uses).

The reference is the fp32 ONNX run by onnxruntime when it is installed, else the torch fp32 actions
stored in parity.npz (which the exporter already matched to the fp32 ONNX). Errors are reported per
action dimension relative to that dimension's range, so a 1 mm error on a gripper and on a shoulder
joint read on one scale.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import metrics
from ..bundle import ONNX_FP32, PARITY_INPUTS, Bundle
from ..errors import ParityError

# Default refusal thresholds: max |error| as % of the action range, per precision (never one loose
# tolerance for both). fp32 engines should match to float rounding; fp16 to a few tenths of a percent.
DEFAULT_MAX_ERROR_PCT = {"fp32": 0.1, "fp16": 2.0}


def engine_errors(bundle: Bundle, got: np.ndarray, ref: np.ndarray) -> dict[str, Any]:
    """act_edge.metrics.action_errors of the engine's actions; ParityError if their shape is not the reference's."""
    if got.shape != ref.shape:
        raise ParityError(f"engine output shape {got.shape} != reference shape {ref.shape}")
    return metrics.action_errors(bundle.spec, ref, got)


def check_threshold(metrics: dict[str, Any], max_error_pct: float, what: str) -> None:
    """ParityError (engine refused) if the max error exceeds `max_error_pct` % of the action range."""
    if not metrics["finite"] or not metrics["max_abs_pct_range"] <= max_error_pct:  # a NaN limit or figure fails
        raise ParityError(
            f"{what}: max |error| {metrics['max_abs_pct_range']:.3g}% of the action range "
            f"(RMSE {metrics['rmse_pct_range']:.3g}%) exceeds {max_error_pct:g}%; engine not registered "
            "(raise the limit with --max-error-pct if this is expected)"
        )


def parity_inputs(bundle: Bundle) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """(inputs by graph input name, torch fp32 reference actions) from parity.npz."""
    path = bundle.artifact_path(PARITY_INPUTS)
    with np.load(path, allow_pickle=False) as data:
        names = [e["name"] for e in bundle.manifest["io"]["inputs"]]
        missing = [n for n in names + ["actions"] if n not in data]
        if missing:
            raise ParityError(f"{path}: missing keys {missing}")
        return {n: data[n] for n in names}, data["actions"]


def reference_actions(bundle: Bundle, inputs: dict[str, np.ndarray], torch_ref: np.ndarray) -> tuple[np.ndarray, str]:
    """The fp32 ONNX's actions via onnxruntime if importable, else parity.npz's torch reference."""
    try:
        import onnxruntime as ort
    except ImportError:
        return torch_ref, "parity.npz torch fp32 (onnxruntime not installed)"
    sess = ort.InferenceSession(str(bundle.artifact_path(ONNX_FP32)), providers=["CPUExecutionProvider"])
    return sess.run(["actions"], inputs)[0], "onnx_fp32 (onnxruntime CPU)"
