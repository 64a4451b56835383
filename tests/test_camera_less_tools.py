"""The tools on a camera-less bundle: `act-edge export` / `inspect` / `bench` / `doctor` through the CLI,
bench's synthetic observations, TensorRT optimization profiles (shapes only: no TensorRT here)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from act_edge.bundle import load_bundle
from act_edge.observation import validate_observation
from act_edge.trt.build import profile_shapes

from conftest import run_cli


@pytest.fixture(scope="module")
def camera_less_bundle(tmp_path_factory):
    """A small camera-less act-edge checkpoint (state 3 + env state 7) exported with the CLI, fp16 included."""
    pytest.importorskip("torch")
    from act_edge.export.checkpoint import default_runtime
    from act_edge.export.formats import native
    from act_edge.export.presets import random_weights
    from test_camera_less_model import camera_less_spec

    root = tmp_path_factory.mktemp("camless")
    spec = camera_less_spec(state_dim=3, env_dim=7, action_dim=4, seed=9, name="keypoints")
    native.save(root / "ckpt.pt", spec, random_weights(spec, seed=9), default_runtime(spec))
    res = run_cli("export", str(root / "ckpt.pt"), "--fp16", "-o", str(root / "ckpt.actedge"))
    assert res.returncode == 0, res.stderr
    return root


def test_inspect_says_no_cameras_and_lists_vector_inputs_only(camera_less_bundle):
    res = run_cli("inspect", str(camera_less_bundle / "ckpt.actedge"))
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "cameras       0 (state-only policy)" in out
    assert "backbone      none (no cameras), 3 1-D tokens" in out
    inputs = [line.split()[1] for line in out.splitlines() if line.strip().startswith("input ")]
    assert inputs == ["state", "env_state"]


def test_bench_synthetic_observations_have_no_images(camera_less_bundle):
    from act_edge.bench import synthetic

    bundle = load_bundle(camera_less_bundle / "ckpt.actedge")
    pool = synthetic.make_pool(bundle, 4, seed=3)
    io = bundle.manifest["io"]["inputs"]
    for obs in pool:
        assert sorted(obs) == ["env_state", "state"]
        assert validate_observation(io, obs) == 1
        assert np.abs(obs["env_state"]).min() > 0
    assert validate_observation(io, synthetic.stack(pool), batched=True) == 4
    feeds = synthetic.graph_inputs(bundle, pool[0])
    assert {k: v.shape for k, v in feeds.items()} == {"state": (1, 3), "env_state": (1, 7)}


def test_bench_cli_runs_on_a_camera_less_bundle(camera_less_bundle):
    out = camera_less_bundle / "bench.json"
    res = run_cli("bench", str(camera_less_bundle / "ckpt.actedge"), "--backend", "onnxruntime", "--precision",
                  "fp32", "--iters", "10", "--warmup", "1", "--duration", "0.5", "-q", "--json", str(out),
                  "--compare", str(camera_less_bundle / "ckpt.pt"))
    assert res.returncode == 0, res.stderr
    result = json.loads(out.read_text())
    assert result["synthetic"]["images"] == "none (camera-less bundle)"


def test_doctor_smoke_run_passes_on_a_camera_less_bundle(camera_less_bundle):
    res = run_cli("doctor", str(camera_less_bundle / "ckpt.actedge"), "--json")
    checks = {c["name"]: c for c in json.loads(res.stdout)["checks"]}
    assert checks["manifest"]["status"] == "ok" and "0 camera(s)" in checks["manifest"]["finding"]
    assert checks["smoke run"]["status"] == "ok", checks["smoke run"]


def test_tensorrt_profiles_cover_only_the_vector_inputs(camera_less_bundle):
    io = load_bundle(camera_less_bundle / "ckpt.actedge").manifest["io"]["inputs"]
    assert profile_shapes(io, 4) == {"state": ((1, 3), (1, 3), (4, 3)), "env_state": ((1, 7), (1, 7), (4, 7))}


def test_python_and_cpp_manifest_readers_accept_it_and_refuse_no_observation_input(camera_less_bundle):
    from cpp_build import build_cpp, import_cpp

    from act_edge.errors import BundleError
    from act_edge.manifest_schema import check_manifest

    cpp = import_cpp(build_cpp())
    path = camera_less_bundle / "ckpt.actedge" / "manifest.json"
    manifest = json.loads(path.read_text())
    assert check_manifest(manifest, str(path)).cameras == ()
    assert cpp.parse_manifest_error(path.read_text(), str(path)) is None
    # no cameras and no env state: a policy without any observation input, refused by both readers
    manifest["spec"]["env_state_dim"] = 0
    manifest["spec"]["env_state_norm"] = {"mode": "identity"}
    manifest["io"]["inputs"] = manifest["io"]["inputs"][:1]
    with pytest.raises(BundleError, match="a spec without cameras needs an env state"):
        check_manifest(manifest, str(path))
    assert "spec.cameras: no cameras and no env state" in cpp.parse_manifest_error(json.dumps(manifest), str(path))
