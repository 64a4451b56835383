"""Acceptance: the full-size presets export and reproduce the torch model within 5e-5 (batch 1 and 3)."""

import pytest

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from act_edge.bundle import load_bundle  # noqa: E402
from act_edge.export.checkpoint import LoadedCheckpoint  # noqa: E402
from act_edge.export.pipeline import export_bundle  # noqa: E402
from act_edge.export.presets import random_checkpoint  # noqa: E402


@pytest.mark.slow
@pytest.mark.parametrize("preset, n_cams", [("aloha-sim", 1), ("aloha-real", 4), ("so100", 2)])
def test_preset_exports_within_tolerance(preset, n_cams, tmp_path):
    spec, sd, rt = random_checkpoint(preset, seed=11)
    ckpt = LoadedCheckpoint(spec, sd, rt, {"format": "act-edge", "path": f"{preset}.pt"})
    b = load_bundle(export_bundle(ckpt, tmp_path / f"{preset}.actedge", fp16=preset == "aloha-sim"))
    parity = b.manifest["parity"]["onnx_fp32"]
    assert parity["batches"] == [1, 3]
    assert parity["max_abs_normalized"] <= 5e-5
    assert b.manifest["io"]["inputs"][0]["shape"] == ["batch", n_cams, 480, 640, 3]


@pytest.mark.slow
def test_state_only_preset_exports_camera_less_within_tolerance(tmp_path):
    """The `state-only` preset (LeRobot-style, no cameras): graph inputs state + env_state only, full size."""
    spec, sd, rt = random_checkpoint("state-only", seed=11)
    ckpt = LoadedCheckpoint(spec, sd, rt, {"format": "act-edge", "path": "state-only.pt"})
    b = load_bundle(export_bundle(ckpt, tmp_path / "state-only.actedge", fp16=True))
    assert [e["name"] for e in b.manifest["io"]["inputs"]] == ["state", "env_state"]
    assert b.spec.cameras == () and b.manifest["model"]["tokens"] == 3
    assert b.manifest["parity"]["onnx_fp32"]["max_abs_normalized"] <= 5e-5
    assert 0 < b.manifest["fp16_error"]["max_abs_pct_range"] < 5


def test_simplified_preset_exports_within_tolerance(tmp_path):
    """The notes' defaults: decoder-only, no cameras, the observation is the `state` input."""
    spec, sd, rt = random_checkpoint("simplified", seed=11)
    ckpt = LoadedCheckpoint(spec, sd, rt, {"format": "act-edge", "path": "simplified.pt"})
    b = load_bundle(export_bundle(ckpt, tmp_path / "simplified.actedge", fp16=True))
    parity = b.manifest["parity"]["onnx_fp32"]
    assert parity["batches"] == [1, 3]
    assert parity["max_abs_normalized"] <= parity["tolerance"]  # raw units: 5e-5 x max(1, std of the actions)
    assert parity["tolerance"] == 5e-5 or "std of the reference actions" in parity["tolerance_rule"]
    assert b.manifest["io"]["inputs"] == [{"name": "state", "dtype": "float32", "shape": ["batch", 14],
                                           "layout": "BS", "units": "robot"}]
    s = b.manifest["spec"]
    assert (s["architecture"], s["d_model"], s["n_heads"], s["dim_feedforward"], s["n_decoder_layers"]) == \
        ("decoder_only", 256, 4, 512, 4)
    assert 0 < b.manifest["fp16_error"]["max_abs_pct_range"] < 2.0
