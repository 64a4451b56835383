"""Smoke run: the best backend available here ("auto") on the bundle's parity inputs, against the
reference actions recorded in parity.npz, with a pass/fail against the bundle's tolerance.

fp32 backends are held to the manifest's `parity.onnx_fp32.tolerance` (max |error| in normalized
action units; the exporter's 5e-5 when the manifest has none); fp16 backends to the limit
`act-edge build-engine` refuses an fp16 engine at (max |error| 2 % of an action dimension's range),
the figures defined as the exporter's `fp16_error` and `build-engine`'s (`act_edge.metrics.action_errors`), so they compare.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backends.select import open_backend
from ..bundle import PARITY_INPUTS, Bundle
from ..errors import ActEdgeError
from ..metrics import action_errors
from ..trt.verify import DEFAULT_MAX_ERROR_PCT, parity_inputs
from .check import FAIL, OK, WARN, Check

FP32_TOLERANCE_DEFAULT = 5e-5  # act_edge.export.pipeline.PARITY_TOLERANCE (not imported: it needs torch)


def smoke_check(bundle: Bundle) -> Check:
    if PARITY_INPUTS not in bundle.manifest.get("artifacts", {}):
        return Check(WARN, "smoke run", "not run: the bundle has no parity_inputs artifact (parity.npz)",
                     "re-export the bundle with this act-edge (act-edge export CKPT)")
    try:
        inputs, reference = parity_inputs(bundle)
        backend, _skipped = open_backend(bundle, "auto", max_batch=1)
    except ActEdgeError as exc:
        return Check(FAIL, "smoke run", f"no backend could load the bundle: {exc}",
                     "fix the failed lines above (onnxruntime, engine, artifacts)")
    try:
        got = backend.run_feeds(inputs, finite=False)  # non-finite actions are judged below
    except Exception as exc:  # a backend's own error types: the finding names the backend
        return Check(FAIL, "smoke run", f"{backend.describe()} failed on parity.npz: {type(exc).__name__}: "
                                        f"{str(exc).splitlines()[0] if str(exc) else ''}",
                     "run `act-edge inspect` on the bundle and re-export it if the graph is damaged")
    finally:
        backend.close()
    return judge(bundle, backend.describe(), backend.precision, got, reference)


def judge(bundle: Bundle, described: str, precision: str, got: np.ndarray, reference: np.ndarray) -> Check:
    if got.shape != reference.shape:
        return Check(FAIL, "smoke run", f"{described}: actions of shape {got.shape}, parity.npz holds {reference.shape}",
                     "re-export the bundle (act-edge export CKPT)")
    metrics = action_errors(bundle.spec, reference, got)
    data: dict[str, Any] = {"backend": described, "precision": precision, "range_definition": metrics["range_definition"],
                            **{k: metrics[k] for k in ("max_abs", "max_abs_pct_range", "finite")}}
    if not metrics["finite"]:
        return Check(FAIL, "smoke run", f"{described}: non-finite actions on parity.npz",
                     "re-export the bundle; for fp16, export without --fp16", {**data, "max_abs": None,
                                                                               "max_abs_pct_range": None})
    if precision == "fp16":
        limit = DEFAULT_MAX_ERROR_PCT["fp16"]
        err, what = metrics["max_abs_pct_range"], f"{metrics['max_abs_pct_range']:.3g}% of the action range"
        data.update(tolerance=limit, tolerance_unit="pct_range")
        within = err <= limit
        limit_text = f"{limit:g}%"
    else:
        err = metrics["max_abs_normalized"]
        limit = float(bundle.manifest.get("parity", {}).get("onnx_fp32", {}).get("tolerance", FP32_TOLERANCE_DEFAULT))
        what = f"{err:.3g} normalized action units"
        data.update(max_abs_normalized=err, tolerance=limit, tolerance_unit="normalized")
        within = err <= limit
        limit_text = f"{limit:g}"
    finding = f"{described}: max |error| {what} vs the recorded reference"
    if within:
        return Check(OK, "smoke run", f"{finding}, within the tolerance {limit_text}", data=data)
    return Check(FAIL, "smoke run", f"{finding} exceeds the tolerance {limit_text}",
                 "re-export the bundle (act-edge export CKPT); if it persists, report it with the output of "
                 "act-edge doctor BUNDLE --json", data)
