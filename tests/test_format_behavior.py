"""BEHAVIOR il_lib Lightning checkpoint (RGB-D): parity with il_lib's forward on raw frames, both decoder
outputs, manifest post-step, and refusals. omegaconf is never needed nor imported."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import fixtures_families as ff  # noqa: E402
import reference_families as rf  # noqa: E402
from act_edge.errors import CheckpointError  # noqa: E402
from act_edge.export.checkpoint import load_checkpoint  # noqa: E402
from act_edge.export.formats import detect_format  # noqa: E402
from family_parity import TOL, export, normalized_error, one_line, run_bundle  # noqa: E402


@pytest.fixture(scope="module")
def fixture(tmp_path_factory):
    fx = ff.write_behavior(tmp_path_factory.mktemp("behavior") / "run", seed=2)
    assert "omegaconf" not in sys.modules
    return fx


def _inputs(fx, batch, seed):
    rng = np.random.default_rng(seed)
    h, w = fx["config"].size
    r = fx["ranges"]
    rgb = ff.raw_frames(rng, batch, 3, h, w)
    depth = rng.uniform(0.01, 10.0, (batch, 3, h, w)).astype(np.float32)
    state = (r["state_min"] + (r["state_max"] - r["state_min"]) * rng.uniform(size=(batch, fx["config"].state)))
    return rgb, depth, state.astype(np.float32)


@pytest.fixture(scope="module", params=["last", "first"])
def exported(request, fixture, tmp_path_factory):
    ckpt = load_checkpoint(fixture["dir"], stats=str(fixture["stats_path"]), decoder_output=request.param)
    path, manifest = export(ckpt, tmp_path_factory.mktemp("out") / "beh.actedge")
    return request.param, ckpt, path, manifest


def test_onnx_matches_il_lib_forward_on_raw_frames(fixture, exported):
    mode, ckpt, path, manifest = exported
    rgb, depth, state = _inputs(fixture, 2, 5)
    got = run_bundle(path, {"images": rgb, "depth": depth, "state": state})
    ref = rf.behavior_forward(fixture["state_dict"], fixture["ranges"], fixture["hparams"], rgb, depth, state, mode)
    r = fixture["ranges"]
    err = normalized_error(got, ref, (r["action_max"] - r["action_min"]) / 2)
    assert err <= TOL, err
    assert manifest["spec"]["n_decoder_layers"] == (7 if mode == "last" else 1)
    assert "omegaconf" not in sys.modules


def test_io_and_manifest(exported):
    mode, ckpt, path, manifest = exported
    inputs = {e["name"]: e for e in manifest["io"]["inputs"]}
    assert inputs["images"]["dtype"] == "uint8" and inputs["images"]["shape"] == ["batch", 3, 240, 240, 3]
    assert inputs["depth"]["dtype"] == "float32" and inputs["depth"]["shape"] == ["batch", 3, 240, 240]
    assert inputs["depth"]["units"] == "m"
    cam = manifest["spec"]["cameras"][0]
    assert cam["channels"] == 4 and cam["depth_range"] == [0.01, 10.0]
    assert cam["eval_transform"]["output_size"] == [224, 224]
    assert manifest["spec"]["state_norm"]["mode"] == manifest["spec"]["action_norm"]["mode"] == "min_max"
    step = manifest["runtime"]["post_steps"][0]
    assert step["op"] == "snap_gripper" and step["indices"] == [14, 22]  # R1Pro left/right gripper
    amin, amax = manifest["spec"]["action_norm"]["min"], manifest["spec"]["action_norm"]["max"]
    assert step["low"] == [amin[14], amin[22]] and step["high"] == [amax[14], amax[22]]
    assert manifest["runtime"]["temporal_ensemble_coeff"] == 0.01
    reasons = [g["reason"] for g in manifest["source"]["dropped"]]
    assert any("num_batches_tracked" in r for r in reasons) and any(r.startswith("CVAE") for r in reasons)
    assert any(r.startswith("dead decoder layers") for r in reasons) == (mode == "first")


def test_detection(fixture):
    assert detect_format(fixture["dir"]).NAME == "behavior"
    assert detect_format(fixture["ckpt"]).NAME == "behavior"


def test_missing_stats(fixture):
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(fixture["dir"])
    assert "--stats" in one_line(e.value)


def test_stats_of_wrong_dimension(fixture, tmp_path):
    import json

    r = {k: v.tolist() for k, v in fixture["ranges"].items()}
    r["state_min"] = r["state_min"][:10]
    (tmp_path / "ranges.json").write_text(json.dumps(r))
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(fixture["dir"], stats=str(tmp_path / "ranges.json"))
    assert "state_min has 10 values" in one_line(e.value) and "37" in str(e.value)


def test_wrong_camera_count(fixture):
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(fixture["dir"], stats=str(fixture["stats_path"]), cameras=["head", "wrist"])
    assert "--cameras lists 2 cameras" in one_line(e.value) and "views" in str(e.value)


def test_bad_decoder_output(fixture):
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(fixture["dir"], stats=str(fixture["stats_path"]), decoder_output="middle")
    assert "--decoder-output" in one_line(e.value)


class _WritesMarker:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_hyper_parameters_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    fx = ff.write_behavior(tmp_path / "run", extra_hparams={"callback": _WritesMarker(marker)})
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(fx["dir"], stats=str(fx["stats_path"]))
    msg = one_line(e.value)
    assert "refused to unpickle global" in msg and "system" in msg and "omegaconf" in msg
    assert not marker.exists()


def test_truncated_checkpoint(fixture, tmp_path):
    data = fixture["ckpt"].read_bytes()
    (tmp_path / "last.pth").write_bytes(data[: len(data) // 3])
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(tmp_path / "last.pth", format="behavior", stats=str(fixture["stats_path"]))
    assert "not a readable torch checkpoint" in one_line(e.value)


def test_per_view_backbones_refused(tmp_path):
    fx = ff.write_behavior(tmp_path / "run")
    with ff.fake_omegaconf():
        ckpt = torch.load(fx["ckpt"], weights_only=False)  # our own fixture: safe to load fully here
        sd = ckpt["state_dict"]
        for k in [k for k in sd if k.startswith("obs_backbone._resnet.")]:
            sd[k.replace("obs_backbone._resnet.", "obs_backbone._resnet.head.")] = sd.pop(k)
        torch.save(ckpt, fx["ckpt"])
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(fx["dir"], stats=str(fx["stats_path"]))
    assert "one backbone per view" in one_line(e.value)


def test_behavior_preset_builds():
    from act_edge.export.model import canonical_shapes
    from act_edge.export.presets import preset_spec

    spec = preset_spec("behavior")
    assert [c.channels for c in spec.cameras] == [4, 4, 4] and spec.n_decoder_layers == 7
    assert (spec.state_dim, spec.action_dim, spec.chunk_size) == (37, 23, 20)
    assert spec.feature_size(spec.cameras[0]) == (7, 7)
    assert canonical_shapes(spec)["backbone.conv1.weight"] == (64, 4, 7, 7)
