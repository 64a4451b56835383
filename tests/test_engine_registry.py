"""Engine files and manifest records on a real bundle; profile shapes; verification maths; build options.

No TensorRT here: the plan bytes are opaque to this code (it writes, hashes and records them), so
arbitrary bytes exercise exactly the code a real plan goes through.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from act_edge.bundle import ONNX_FP16, ONNX_FP32, load_bundle
from act_edge.engine_registry import describe_engines
from act_edge.engine_key import EngineKey, Machine, find_engine
from act_edge.errors import ActEdgeError, ParityError
from act_edge.trt.build import BuildOptions, default_timing_cache_path, profile_shapes
from act_edge.engine_registry import engine_key_for, register_engine
from act_edge.metrics import action_errors, action_range
from act_edge.trt.verify import check_threshold, engine_errors, parity_inputs, reference_actions
from bundles import minimal_spec

ORIN = Machine("10.3.0", "Orin", "8.7")


SPEC = minimal_spec()
CHUNK, STATE = SPEC.chunk_size, SPEC.state_dim
H, W = SPEC.cameras[0].height, SPEC.cameras[0].width


@pytest.fixture()
def bundle(minimal_bundle: Path):
    return load_bundle(minimal_bundle)


def verify_ok() -> dict:
    return {"max_abs": 1e-3, "rmse": 5e-4, "max_abs_pct_range": 0.1, "rmse_pct_range": 0.05}


# --- profile shapes ----------------------------------------------------------------------------
def test_profile_shapes_cover_batch_1_to_max_on_every_input(bundle):
    shapes = profile_shapes(bundle.manifest["io"]["inputs"], 8)
    assert shapes == {
        "images": ((1, 1, H, W, 3), (1, 1, H, W, 3), (8, 1, H, W, 3)),
        "state": ((1, STATE), (1, STATE), (8, STATE)),
    }


def test_profile_shapes_with_depth_and_env_state():
    io = [{"name": "images", "shape": ["batch", 4, 480, 640, 3]}, {"name": "depth", "shape": ["batch", 4, 480, 640]},
          {"name": "state", "shape": ["batch", 14]}, {"name": "env_state", "shape": ["batch", 7]}]
    shapes = profile_shapes(io, 2)
    assert shapes["depth"] == ((1, 4, 480, 640), (1, 4, 480, 640), (2, 4, 480, 640))
    assert shapes["env_state"][2] == (2, 7)


@pytest.mark.parametrize("io, max_batch", [([{"name": "x", "shape": [3, "batch"]}], 2),
                                           ([{"name": "x", "shape": [3, 4]}], 2),
                                           ([{"name": "x", "shape": ["batch", 4]}], 0)])
def test_profile_shapes_reject_bad_input(io, max_batch):
    with pytest.raises(ValueError):
        profile_shapes(io, max_batch)


# --- build options -----------------------------------------------------------------------------
def test_build_options_pick_the_onnx_for_the_typing():
    assert BuildOptions("fp16", "strong").onnx_artifact == ONNX_FP16  # precision exactly as exported
    assert BuildOptions("fp16", "weak").onnx_artifact == ONNX_FP32  # fp32 graph + FP16 flag
    assert BuildOptions("fp32", "strong").onnx_artifact == ONNX_FP32


@pytest.mark.parametrize("kw", [dict(precision="fp32", typing="weak"), dict(max_batch=0), dict(opt_level=6),
                                dict(workspace_mib=0), dict(precision="int8")])
def test_build_options_reject_bad_combinations(kw):
    with pytest.raises(ActEdgeError):
        BuildOptions(**kw)


def test_timing_cache_path_is_per_trt_version_and_gpu(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_timing_cache_path("10.3.0", "sm87") == tmp_path / "act-edge/trt-timing/trt10.3.0-sm87.cache"
    assert default_timing_cache_path("10.3.0", "sm87") != default_timing_cache_path("10.13.3.9", "sm87")


def test_engine_key_for_uses_the_sha_of_the_onnx_it_parses(bundle):
    fp16 = engine_key_for(bundle, ORIN, BuildOptions("fp16", max_batch=4))
    weak = engine_key_for(bundle, ORIN, BuildOptions("fp16", "weak", max_batch=4))
    assert fp16.onnx_sha256 == bundle.artifact(ONNX_FP16)["sha256"]
    assert weak.onnx_sha256 == bundle.artifact(ONNX_FP32)["sha256"]
    assert (fp16.trt_version, fp16.gpu_name, fp16.compute_capability, fp16.max_batch) == ("10.3.0", "Orin", "8.7", 4)


# --- registration --------------------------------------------------------------------------------
def test_register_writes_file_and_manifest_record(bundle):
    key = engine_key_for(bundle, ORIN, BuildOptions(max_batch=4))
    entry = register_engine(bundle.path, key, b"plan-bytes", verify_ok(), extra={"built": "now"})
    reloaded = load_bundle(bundle.path)
    assert reloaded.engines == [entry]
    assert entry["path"] == key.filename() and entry["bytes"] == len(b"plan-bytes")
    assert reloaded.engine_file(entry).read_bytes() == b"plan-bytes"  # sha256 recorded correctly
    assert EngineKey.from_dict(entry["key"]) == key
    # The runtime finds it by this machine's key, with the ONNX hashes of this bundle.
    shas = {"fp16": bundle.artifact(ONNX_FP16)["sha256"], "fp32": bundle.artifact(ONNX_FP32)["sha256"]}
    assert find_engine(reloaded.manifest, ORIN, str(bundle.path), max_batch=4, onnx_sha256=shas) == entry


def test_reregister_same_key_replaces_other_key_appends(bundle):
    k16 = engine_key_for(bundle, ORIN, BuildOptions(max_batch=4))
    k32 = engine_key_for(bundle, ORIN, BuildOptions("fp32", max_batch=4))
    register_engine(bundle.path, k16, b"old", verify_ok())
    register_engine(bundle.path, k32, b"fp32", verify_ok())
    register_engine(bundle.path, k16, b"new!", verify_ok())
    engines = load_bundle(bundle.path).engines
    assert [e["key"]["precision"] for e in engines] == ["fp32", "fp16"]
    assert (bundle.path / k16.filename()).read_bytes() == b"new!"
    assert engines[1]["bytes"] == 4


def test_failed_write_leaves_no_partial_engine_and_no_record(bundle, monkeypatch):
    key = engine_key_for(bundle, ORIN, BuildOptions(max_batch=4))
    before = (bundle.path / "manifest.json").read_bytes()

    def crash(fd):  # the disk fills up after the bytes were handed to the OS, before rename
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="No space"):
        register_engine(bundle.path, key, b"x" * 1000, verify_ok())
    monkeypatch.undo()
    assert list((bundle.path / "engines").iterdir()) == []  # neither the engine nor a temp file
    assert (bundle.path / "manifest.json").read_bytes() == before


def test_failed_manifest_update_keeps_old_manifest(bundle, monkeypatch):
    key = engine_key_for(bundle, ORIN, BuildOptions(max_batch=4))
    register_engine(bundle.path, key, b"first", verify_ok())
    before = json.loads((bundle.path / "manifest.json").read_text())
    real_replace = os.replace

    def replace(src, dst):
        if str(dst).endswith("manifest.json"):
            raise OSError(5, "I/O error")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError, match="I/O error"):
        register_engine(bundle.path, engine_key_for(bundle, ORIN, BuildOptions("fp32")), b"second", verify_ok())
    monkeypatch.undo()
    assert json.loads((bundle.path / "manifest.json").read_text()) == before
    assert not [p for p in bundle.path.iterdir() if p.name.endswith(".tmp")]


def test_describe_engines_lists_each_engine(bundle):
    assert describe_engines({"engines": []})[0].startswith("no TensorRT engines")
    key = engine_key_for(bundle, ORIN, BuildOptions(max_batch=4))
    register_engine(bundle.path, key, b"p" * 2_500_000, verify_ok())
    (line,) = describe_engines(load_bundle(bundle.path).manifest)
    assert line.startswith(key.filename() + ": TensorRT 10.3.0 on Orin (sm87), fp16 strongly typed, max batch 4")
    assert "2.5 MB" in line and "vs fp32 ONNX max |err| 0.1% / RMSE 0.05% of range" in line


# --- verification maths --------------------------------------------------------------------------
def test_engine_errors_relative_to_per_dim_range(bundle):
    rng = np.random.default_rng(4)
    ref = rng.uniform(-5, 5, (1, 4, 2)).astype(np.float32)  # the bundle's action range: 10 per dim
    got = ref.copy()
    got[0, 1, 0] += 0.1  # dim 0: 1 %
    got[0, 2, 1] -= 0.2  # dim 1: 2 %
    m = engine_errors(bundle, got, ref)
    assert m["max_abs"] == pytest.approx(0.2, rel=1e-5)
    assert m["max_abs_pct_range"] == pytest.approx(2.0, rel=1e-5)
    assert m["per_dim_max_abs_pct_range"] == pytest.approx([1.0, 2.0], rel=1e-5)
    assert m["rmse"] == pytest.approx(np.sqrt((0.1 ** 2 + 0.2 ** 2) / 8), rel=1e-5)
    # per dim: RMSE over 4 steps of one 1 % / 2 % error = 0.5 % / 1 %; overall = RMS of those
    assert m["rmse_pct_range"] == pytest.approx(np.sqrt((0.5 ** 2 + 1.0 ** 2) / 2), rel=1e-5)
    assert m == action_errors(bundle.spec, ref, got)  # the exporter's definition, nothing of its own
    with pytest.raises(ParityError, match=r"engine output shape \(1, 3, 2\) != reference shape \(1, 4, 2\)"):
        engine_errors(bundle, got[:, :3], ref)


def test_threshold_refuses_above_and_nan(bundle):
    rng = np.random.default_rng(6)
    ref = rng.uniform(-5, 5, (1, 2, 2)).astype(np.float32)
    ok = engine_errors(bundle, ref + np.float32(0.1), ref)  # 1 % of a range of 10
    check_threshold(ok, 1.5, "fp16 engine")  # 1 % <= 1.5 %
    with pytest.raises(ParityError, match=r"1% of the action range .* exceeds 0.5%; engine not registered"):
        check_threshold(ok, 0.5, "fp16 engine")
    nan = engine_errors(bundle, np.full_like(ref, np.nan), ref)
    with pytest.raises(ParityError):
        check_threshold(nan, 100.0, "fp16 engine")


def test_action_range_from_min_max_normalization(bundle):
    span, source = action_range(bundle.spec, np.random.default_rng(8).normal(size=(1, CHUNK, 2)))
    assert span.tolist() == [10.0, 10.0] and source == "max - min (normalization stats)"


def test_reference_is_the_fp32_onnx_and_matches_parity(bundle, minimal_synthetic):
    pytest.importorskip("onnxruntime", reason="onnxruntime not installed")
    inputs, torch_ref = parity_inputs(bundle)
    ref, name = reference_actions(bundle, inputs, torch_ref)
    assert name.startswith("onnx_fp32")
    want = minimal_synthetic.expected(inputs["images"], inputs["state"])
    np.testing.assert_allclose(ref, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ref, torch_ref, rtol=1e-5, atol=1e-5)
