"""LeRobot ACT without cameras (issue 14): keypoint / object-pose policies with observation.environment_state,
with and without observation.state. Export -> bundle -> fp32 ONNX and Policy against LeRobot's forward
written independently in tests/reference_families.py (batch 1 and 3, <= 5e-5 normalized action units);
fp16 error recorded; Policy.step in ensemble and chunk-queue modes against a float64 reference."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import fixtures_families as ff  # noqa: E402
import reference_families as rf  # noqa: E402
from act_edge import Policy  # noqa: E402
from act_edge.errors import CheckpointError, ObservationError  # noqa: E402
from act_edge.export.checkpoint import load_checkpoint  # noqa: E402
from act_edge.export.formats import detect_format  # noqa: E402
from act_edge.export.pipeline import export_bundle  # noqa: E402
from family_parity import TOL, normalized_error, one_line, run_bundle  # noqa: E402

CONFIGS = {
    # v0.4 processors, state + env state (3 encoder 1-D tokens), pre-norm, MIN_MAX state
    "env+state": ff.LeRobotConfig(cameras={}, env=10, state=6, action=5),
    # env state only (no observation.state: 2 tokens), post-norm, MIN_MAX env state and actions
    "env-only": ff.LeRobotConfig(cameras={}, env=12, state=0, action=4, pre_norm=False, dec=2,
                                 modes={"VISUAL": "MEAN_STD", "STATE": "MEAN_STD", "ENV": "MIN_MAX",
                                        "ACTION": "MIN_MAX"}),
    # legacy layout (stats in model.safetensors, input_shapes config keys)
    "legacy": ff.LeRobotConfig(cameras={}, env=8, state=5, action=5, legacy=True, pre_norm=False),
}


def _action_unit(fx) -> np.ndarray:
    s, mode = fx["stats"], fx["config"].modes["ACTION"]
    if mode == "MEAN_STD":
        return s["action.std"].astype(np.float64)
    return (s["action.max"].astype(np.float64) - s["action.min"]) / 2


def _feeds(c, batch, seed):
    """Robot-unit inputs near the dataset stats (never zeros)."""
    rng = np.random.default_rng(seed)
    feeds = {}
    if c.state:
        feeds["state"] = (rng.standard_normal((batch, c.state)) * 0.7).astype(np.float32)
    feeds["env_state"] = (rng.standard_normal((batch, c.env)) * 0.7).astype(np.float32)
    return feeds


def _reference(fx, feeds):
    cfg = json.loads((fx["dir"] / "config.json").read_text())
    cfg.setdefault("dim_model", fx["config"].d)
    return rf.lerobot_forward(fx["state_dict"], fx["stats"], fx["features"], fx["config"].modes, cfg, {},
                              feeds.get("state"), feeds["env_state"])


@pytest.fixture(scope="module", params=list(CONFIGS))
def exported(request, tmp_path_factory):
    fx = ff.write_lerobot(tmp_path_factory.mktemp("lerobot") / "run", CONFIGS[request.param], seed=5)
    ckpt = load_checkpoint(fx["dir"])
    path = export_bundle(ckpt, tmp_path_factory.mktemp("out") / "state_only.actedge", fp16=True)
    return fx, ckpt, path, json.loads((path / "manifest.json").read_text())


def test_detected_and_loaded_as_camera_less(exported):
    fx, ckpt, _, manifest = exported
    c = fx["config"]
    assert detect_format(fx["dir"]).NAME == "lerobot"
    assert ckpt.spec.cameras == () and ckpt.spec.state_dim == c.state and ckpt.spec.env_state_dim == c.env
    assert ckpt.spec.n_tokens == 1 + (1 if c.state else 0) + 1
    assert [e["name"] for e in manifest["io"]["inputs"]] == (["state", "env_state"] if c.state else ["env_state"])
    assert not any(k.startswith(("backbone.", "img_proj.")) for k in ckpt.state_dict)
    assert any("no cameras" in n for n in ckpt.notes)


@pytest.mark.parametrize("batch", [1, 3])
def test_fp32_onnx_matches_lerobot_forward(exported, batch):
    fx, _, path, _ = exported
    feeds = _feeds(fx["config"], batch, 100 + batch)
    ref = _reference(fx, feeds)
    got = run_bundle(path, feeds)
    assert got.shape == ref.shape == (batch, fx["config"].chunk, fx["config"].action)
    assert np.abs(ref).max() > 0.1
    err = normalized_error(got, ref, _action_unit(fx))
    assert err <= TOL, err


def test_manifest_records_parity_and_fp16_error(exported):
    _, _, path, manifest = exported
    assert manifest["parity"]["onnx_fp32"]["max_abs_normalized"] <= TOL
    fp16 = manifest["fp16_error"]
    assert 0 < fp16["max_abs_pct_range"] < 5, fp16  # recorded, finite, small (fp16 of a 2-layer transformer)
    assert (path / "model.fp16.onnx").is_file()


@pytest.mark.parametrize("batch", [1, 3])
def test_policy_predict_chunk_matches_lerobot_forward(exported, batch):
    fx, _, path, _ = exported
    feeds = _feeds(fx["config"], batch, 200 + batch)
    ref = _reference(fx, feeds)
    with Policy.load(path, backend="onnxruntime", max_batch=3) as policy:
        got = policy.predict_chunk(feeds, batched=True)
        single = policy.predict_chunk({k: v[0] for k, v in feeds.items()})
    assert normalized_error(got, ref, _action_unit(fx)) <= TOL
    assert normalized_error(single[None], ref[:1], _action_unit(fx)) <= TOL


def _episode(fx, steps, seed):
    return [{k: v[0] for k, v in _feeds(fx["config"], 1, seed + t).items()} for t in range(steps)]


def test_policy_step_temporal_ensemble(exported):
    """action_t = sum_i w_i chunk_{t0+i}[t - t0 - i] / sum w, w_i = exp(-k i), i = 0 the oldest live prediction."""
    fx, _, path, _ = exported
    k, steps = 0.01, fx["config"].chunk + 4  # past one chunk: predictions expire
    episode = _episode(fx, steps, 300)
    chunks = np.stack([_reference(fx, {n: v[None] for n, v in o.items()})[0] for o in episode])  # (T, C, A)
    with Policy.load(path, backend="onnxruntime", temporal_ensemble_coeff=k, n_action_steps=1) as policy:
        policy.reset()
        got = np.stack([policy.step(o).copy() for o in episode])
    C = chunks.shape[1]
    for t in range(steps):
        made = np.arange(max(0, t - C + 1), t + 1)
        w = np.exp(-k * np.arange(len(made)))
        want = (w[:, None] * chunks[made, t - made]).sum(0) / w.sum()
        assert normalized_error(got[t], want, _action_unit(fx)) <= TOL, t


def test_policy_step_chunk_queue(exported):
    fx, _, path, _ = exported
    n, steps = 3, 8
    episode = _episode(fx, steps, 400)
    with Policy.load(path, backend="onnxruntime", temporal_ensemble_coeff=None, n_action_steps=n) as policy:
        policy.reset()
        got = np.stack([policy.step(o).copy() for o in episode])
    for t in range(steps):
        queried = t - t % n  # a new chunk every n steps, from that step's observation
        want = _reference(fx, {name: v[None] for name, v in episode[queried].items()})[0, t % n]
        assert normalized_error(got[t], want, _action_unit(fx)) <= TOL, t


def test_policy_refuses_images_naming_them(exported):
    fx, _, path, _ = exported
    obs = _episode(fx, 1, 500)[0]
    with Policy.load(path, backend="onnxruntime") as policy:
        before = policy.predict_chunk(obs)
        with pytest.raises(ObservationError, match=r"^observation\['images'\]: unknown field: this bundle has no "
                                                   r"cameras"):
            policy.step({**obs, "images": {"top": np.ones((8, 8, 3), np.uint8)}})
        np.testing.assert_array_equal(policy.predict_chunk(obs), before)


def test_cpp_manifest_reader_accepts_camera_less_bundle(exported):
    from cpp_build import build_cpp, import_cpp

    cpp = import_cpp(build_cpp())
    _, _, path, _ = exported
    text = (path / "manifest.json").read_text()
    assert cpp.parse_manifest_error(text, str(path / "manifest.json")) is None


# --- refusals ----------------------------------------------------------------------------------

def test_config_without_images_and_env_state_is_refused(tmp_path):
    fx = ff.write_lerobot(tmp_path / "run", ff.LeRobotConfig(cameras={}, env=4), seed=1)
    cfg_path = fx["dir"] / "config.json"
    cfg = json.loads(cfg_path.read_text())
    del cfg["input_features"]["observation.environment_state"]
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(fx["dir"])
    assert "no VISUAL and no ENV input feature" in one_line(info.value)


def test_config_without_state_but_weights_with_state_projection_is_refused(tmp_path):
    fx = ff.write_lerobot(tmp_path / "run", ff.LeRobotConfig(cameras={}, env=4, state=3), seed=1)
    cfg_path = fx["dir"] / "config.json"
    cfg = json.loads(cfg_path.read_text())
    del cfg["input_features"]["observation.state"]
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(fx["dir"])
    msg = one_line(info.value)
    assert "no STATE feature" in msg and "encoder_robot_state_input_proj" in msg


def test_config_with_images_but_camera_less_weights_is_refused(tmp_path):
    fx = ff.write_lerobot(tmp_path / "run", ff.LeRobotConfig(cameras={}, env=4), seed=1)
    cfg_path = fx["dir"] / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["input_features"]["observation.images.top"] = {"type": "VISUAL", "shape": [3, 64, 64]}
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(fx["dir"])
    assert "1 image feature(s) but the weights have no backbone" in one_line(info.value)
