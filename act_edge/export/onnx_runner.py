"""Run an exported ONNX file with onnxruntime's CPU provider (parity and fp16 error checks)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def run_onnx(path: str | Path, inputs: dict[str, np.ndarray]) -> np.ndarray:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3  # silence constant-folding notes about fp16 kernels
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    return session.run(["actions"], inputs)[0]
