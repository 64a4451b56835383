"""Export a LoadedCheckpoint to a bundle and run its fp32 ONNX with onnxruntime."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

TOL = 5e-5  # normalized action units (the acceptance bound)


def export(ckpt, dest: Path) -> tuple[Path, dict]:
    from act_edge.export.pipeline import export_bundle

    path = export_bundle(ckpt, dest)
    return path, json.loads((path / "manifest.json").read_text())


def run_bundle(bundle: Path, inputs: dict[str, np.ndarray]) -> np.ndarray:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(bundle / "model.onnx"), providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    assert sorted(names) == sorted(inputs), (names, sorted(inputs))
    return sess.run(["actions"], inputs)[0]


def normalized_error(got: np.ndarray, ref: np.ndarray, unit: np.ndarray) -> float:
    """Max |got - ref| in normalized action units (`unit`: robot units per normalized unit, per dim)."""
    return float((np.abs(got.astype(np.float64) - ref.astype(np.float64)) / unit).max())


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text, f"error spans several lines: {text!r}"
    return text
