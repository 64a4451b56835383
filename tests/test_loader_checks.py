"""Issue 10, loader side: stats, spec fields, config types, tensor sizes, runtime defaults and parity
figures are checked before anything is exported; every refusal is one act-edge line naming the culprit."""

from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the loaders need torch (export side)")

import fixtures_families as ff  # noqa: E402
from act_edge.bundle import load_bundle
from act_edge.errors import ActEdgeError, BundleError, CheckpointError, ParityError
from act_edge.export.checkpoint import load_checkpoint
from act_edge.spec import ActSpec, CameraSpec, Normalization
from family_parity import one_line

LR = ff.LeRobotConfig(cameras={"top": (64, 96)})  # MEAN_STD images/actions, MIN_MAX state


@pytest.fixture(scope="module")
def original_dir(tmp_path_factory):
    return ff.write_original(tmp_path_factory.mktemp("orig") / "run", seed=4)


@pytest.fixture()
def original(tmp_path, original_dir):
    """A fresh copy (tests edit its files)."""
    import shutil

    shutil.copytree(original_dir["dir"], tmp_path / "run")
    return {**original_dir, "dir": tmp_path / "run", "ckpt": tmp_path / "run" / "policy_best.ckpt"}


@pytest.fixture()
def lerobot(tmp_path):
    return ff.write_lerobot(tmp_path / "run", LR, seed=2)


def _refused(match: str, fn, *args, **kwargs) -> str:
    with pytest.raises(CheckpointError) as e:
        fn(*args, **kwargs)
    msg = one_line(e.value)
    assert match in msg, msg
    return msg


def _write_stats(path, stats):
    with open(path, "wb") as fh:
        pickle.dump(stats, fh)


# --- 3b: stats, every family ------------------------------------------------------------------------

@pytest.mark.parametrize("key, index, value", [("action_std", None, 0.0), ("qpos_std", 3, -0.2),
                                               ("action_mean", 5, math.nan), ("qpos_std", 0, math.inf)])
def test_original_stats_must_be_finite_with_positive_std(original, key, index, value):
    stats = {k: v.copy() for k, v in original["stats"].items()}
    if index is None:
        stats[key][:] = value  # an all-zero std: parity was NaN and the export passed
        index = 0
    else:
        stats[key][index] = value
    _write_stats(original["dir"] / "dataset_stats.pkl", stats)
    msg = _refused(f"{key}[{index}]", load_checkpoint, original["dir"], cameras=["top", "left_wrist"],
                   image_size="64x96", heads=4)
    assert "dataset_stats.pkl" in msg


def test_original_stats_strings_are_not_numbers(original):
    stats = dict(original["stats"])
    stats["qpos_mean"] = [str(v) for v in stats["qpos_mean"]]
    _write_stats(original["dir"] / "dataset_stats.pkl", stats)
    _refused("qpos_mean must hold numbers", load_checkpoint, original["dir"], cameras=["top", "left_wrist"],
             image_size="64x96", heads=4)


def _edit_processor_stats(lerobot, edit):
    from safetensors.torch import load_file, save_file

    for name in ("policy_preprocessor_step_3_normalizer_processor.safetensors",
                 "policy_postprocessor_step_0_unnormalizer_processor.safetensors"):
        p = lerobot["dir"] / name
        t = load_file(str(p))
        edit(t)
        save_file(t, str(p))


@pytest.mark.parametrize("key, index, value, match", [
    ("action.std", 2, -0.5, "action.std[2] is -0.5"),
    ("action.std", 0, -1.0, "action.std[0] is -1"),
    ("action.std", 1, math.nan, "action.std[1] is nan"),
    ("observation.state.max", 1, None, "observation.state.max[1]"),  # max < min
    ("observation.images.top.std", 1, -0.1, "observation.images.top.std[1]"),
])
def test_lerobot_processor_stats(lerobot, key, index, value, match):
    def edit(t):
        flat = t[key].view(-1)
        flat[index] = t[key.replace(".max", ".min")].view(-1)[index] - 1 if value is None else value
    _edit_processor_stats(lerobot, edit)
    _refused(match, load_checkpoint, lerobot["dir"])


def test_lerobot_legacy_buffer_std_negative(tmp_path):
    from safetensors.torch import load_file, save_file

    fx = ff.write_lerobot(tmp_path / "run", ff.LeRobotConfig(legacy=True, cameras={"top": (64, 96)},
                                                              modes={**LR.modes, "STATE": "MEAN_STD"}), seed=1)
    p = fx["dir"] / "model.safetensors"
    t = load_file(str(p))
    t["normalize_inputs.buffer_observation_state.std"][4] = -0.25
    save_file(t, str(p))
    _refused("observation.state.std[4] is -0.25", load_checkpoint, fx["dir"])


@pytest.fixture(scope="module")
def behavior(tmp_path_factory):
    return ff.write_behavior(tmp_path_factory.mktemp("beh") / "run", ff.BehaviorConfig(dec=2), seed=6)


@pytest.mark.parametrize("key, index, value, suffix", [("state_min", 4, math.nan, ".json"),
                                                       ("action_max", 2, math.inf, ".npz"),
                                                       ("action_max", 7, None, ".pkl")])
def test_behavior_ranges_finite_and_ordered(behavior, tmp_path, key, index, value, suffix):
    ranges = {k: v.copy() for k, v in behavior["ranges"].items()}
    ranges[key][index] = ranges["action_min"][index] - 1 if value is None else value
    path = tmp_path / f"ranges{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps({k: v.tolist() for k, v in ranges.items()}))  # NaN written as a bare NaN
    elif suffix == ".npz":
        np.savez(path, **ranges)
    else:
        _write_stats(path, ranges)
    _refused(f"{key}[{index}]", load_checkpoint, behavior["dir"], stats=str(path))


def _native_payload(tmp_path, mutate_spec=None, mutate_runtime=None, mutate_weights=None):
    """An act-edge ckpt.pt written field by field (native.save would refuse the bad values itself)."""
    from act_edge.export.formats.native import MAGIC, VERSION
    from act_edge.export.presets import random_checkpoint

    spec, sd, runtime = random_checkpoint("tiny", seed=5)
    spec_d = spec.to_dict()
    if mutate_spec:
        mutate_spec(spec_d)
    if mutate_runtime:
        mutate_runtime(runtime)
    if mutate_weights:
        mutate_weights(sd)
    path = tmp_path / "bad.pt"
    torch.save({"format": MAGIC, "version": VERSION, "spec": json.dumps(spec_d), "runtime": json.dumps(runtime),
                "state_dict": sd}, path)
    return path


def test_native_checkpoint_stats(tmp_path):
    def zero_std(d):
        d["action_norm"]["std"] = [0.0] * len(d["action_norm"]["std"])
    path = _native_payload(tmp_path, zero_std)
    _refused("action_norm: std[0] is 0", load_checkpoint, path)


# --- parity: NaN figures fail -----------------------------------------------------------------------

def _nan_figure(real):
    def compare(*args, **kwargs):
        err = real(*args, **kwargs)
        return {**err, "max_abs_normalized": math.nan, "max_abs_pct_range": math.nan}
    return compare


@pytest.mark.parametrize("stage", ["fp32", "fp16"])
def test_nan_parity_figure_is_a_failure(tiny_checkpoint, tmp_path, monkeypatch, stage):
    from act_edge.export import pipeline

    ckpt = load_checkpoint(tiny_checkpoint)
    if stage == "fp32":
        monkeypatch.setattr(pipeline, "action_errors", _nan_figure(pipeline.action_errors))
    else:
        real_write = pipeline._write_fp16

        def write_fp16(tmp, spec):
            monkeypatch.setattr(pipeline, "action_errors", _nan_figure(pipeline.action_errors))
            return real_write(tmp, spec)
        monkeypatch.setattr(pipeline, "_write_fp16", write_fp16)
    with pytest.raises(ParityError) as e:
        pipeline.export_bundle(ckpt, tmp_path / "t.actedge", fp16=stage == "fp16")
    one_line(e.value)
    assert not (tmp_path / "t.actedge").exists()


def test_nan_tolerance_is_refused(tiny_checkpoint, tmp_path):
    from act_edge.export.pipeline import export_bundle

    with pytest.raises(ActEdgeError, match="tolerance"):
        export_bundle(load_checkpoint(tiny_checkpoint), tmp_path / "t.actedge", tolerance=math.nan)
    assert not (tmp_path / "t.actedge").exists()


def test_engine_threshold_nan_fails():
    from act_edge.trt.verify import check_threshold

    rng = np.random.default_rng(0)
    ok = {"finite": True, "max_abs_pct_range": float(rng.uniform(0.1, 0.5)), "rmse_pct_range": 0.01}
    check_threshold(ok, 2.0, "engine")
    for metrics, limit in (({**ok, "max_abs_pct_range": math.nan}, 2.0), (ok, math.nan)):
        with pytest.raises(ParityError):
            check_threshold(metrics, limit, "engine")


# --- 6: ActSpec fields, LeRobot config types, tensor sizes ----------------------------------------

def _spec(**kw):
    rng = np.random.default_rng(1)
    base = dict(cameras=(CameraSpec("a", 48, 64),), state_dim=3, action_dim=2, chunk_size=5, d_model=32, n_heads=4,
                state_norm=Normalization("mean_std", mean=rng.normal(size=3), std=rng.uniform(0.1, 1, 3)),
                action_norm=Normalization("min_max", min=-rng.uniform(1, 2, 2), max=rng.uniform(1, 2, 2)))
    base.update(kw)
    return ActSpec(**base)


@pytest.mark.parametrize("build, quoted", [
    (lambda: CameraSpec("a", -48, 64), "-48"),
    (lambda: CameraSpec("a", 48, 0), "width must be an integer in 1..4096, got 0"),
    (lambda: CameraSpec("a", 100000, 100000), "100000"),
    (lambda: CameraSpec("a", 48.5, 64), "48.5"),
    (lambda: CameraSpec("a", True, 64), "True"),
    (lambda: CameraSpec("a", "48", 64), "'48'"),
    (lambda: CameraSpec("", 48, 64), "''"),
    (lambda: CameraSpec("a", 48, 64, std=(0.2, 0.0, 0.2)), "std[1] is 0"),
    (lambda: CameraSpec("a", 48, 64, channels=3.0), "3.0"),
    (lambda: CameraSpec("a", 48, 64, std=(1e-39, 0.2, 0.2)), "beyond float32"),
    (lambda: CameraSpec("a", 48, 64, mean=(0.5, math.nan, 0.5)), "mean[1] is nan"),
    (lambda: CameraSpec("a", 48, 64, channels=4, mean=(0.5,) * 4, std=(0.2,) * 4, depth_range=(5.0, 1.0)),
     "[5.0, 1.0]"),
    (lambda: CameraSpec("a", 48, 64, eval_transform={"steps": [["resize", [0, 64]]]}), "got 0"),
    (lambda: CameraSpec("a", 48, 64, eval_transform={"steps": [["blur", [3, 3]]]}), "blur"),
    (lambda: _spec(chunk_size=8.7), "8.7"),
    (lambda: _spec(chunk_size=0), "chunk_size must be an integer in 1..4096, got 0"),
    (lambda: _spec(state_dim=True, state_norm=Normalization()), "True"),
    (lambda: _spec(env_state_dim=-1), "-1"),
    (lambda: _spec(n_heads=0), "n_heads must be an integer"),
    (lambda: _spec(d_model=[32]), "[32]"),
    (lambda: _spec(n_encoder_layers=10**6), "1000000"),
    (lambda: _spec(pre_norm="yes"), "'yes'"),
    (lambda: _spec(backbone=["resnet18"]), "['resnet18']"),
    (lambda: _spec(name=7), "7"),
    (lambda: Normalization("mean_std", mean=[0.0, 1.0], std=[1.0, -1.0]), "std[1] is -1"),
    (lambda: Normalization("min_max", min=[0.0, 1.0], max=[1.0, 1.0]), "max[1] = 1 is not above min[1] = 1"),
    (lambda: Normalization("mean_std", mean=[0.0], std=[1.0], eps="tiny"), "'tiny'"),
    (lambda: Normalization("mean_std", mean=["0.5"], std=[1.0]), "must hold numbers"),
])
def test_spec_fields_are_typed_and_bounded(build, quoted):
    with pytest.raises(ValueError) as e:
        build()
    assert quoted in one_line(e.value)


def test_spec_from_dict_reports_malformed_fields_as_value_errors():
    d = _spec().to_dict()
    for mutate, match in ((lambda x: x["cameras"][0].update(zoom=2), "zoom"),
                          (lambda x: x["cameras"][0].pop("height"), "missing ['height']"),
                          (lambda x: x.update(cameras="a"), "cameras"),
                          (lambda x: x.update(action_norm=[1, 2]), "action_norm")):
        bad = json.loads(json.dumps(d))
        mutate(bad)
        with pytest.raises(ValueError) as e:
            ActSpec.from_dict(bad)
        assert match in one_line(e.value)


def test_bundle_with_a_huge_or_empty_image_is_refused_on_load(tmp_path):
    for h, w in ((100000, 100000), (48, 0), (-48, 64)):
        d = tmp_path / f"b{h}x{w}.actedge"
        d.mkdir()
        spec = _spec().to_dict()
        spec["cameras"][0].update(height=h, width=w)
        (d / "manifest.json").write_text(json.dumps({"format": "act-edge-bundle", "schema_version": 1, "spec": spec}))
        with pytest.raises(BundleError) as e:
            load_bundle(d)
        assert str(w if w < 1 else h) in one_line(e.value)


def _edit_config(fx, **changes):
    p = fx["dir"] / "config.json"
    cfg = json.loads(p.read_text())
    for key, value in changes.items():
        if value is KeyError:
            cfg.pop(key, None)
        else:
            cfg[key] = value
    p.write_text(json.dumps(cfg))
    return cfg


@pytest.mark.parametrize("key, value, quoted", [
    ("chunk_size", None, "chunk_size must be an integer in 1..4096, got None"),
    ("chunk_size", 8.7, "got 8.7"),  # was truncated to 8 and matched the weights
    ("n_heads", 0, "n_heads must be an integer"),
    ("dim_model", [32], "got [32]"),
    ("pre_norm", "false", "pre_norm must be true or false"),
    ("use_vae", 1, "use_vae"),
    ("feedforward_activation", 3, "feedforward_activation"),
    ("temporal_ensemble_coeff", "0.01", "'0.01'"),
    ("n_action_steps", 2.5, "2.5"),
])
def test_lerobot_config_types(lerobot, key, value, quoted):
    _edit_config(lerobot, **{key: value})
    msg = _refused(quoted, load_checkpoint, lerobot["dir"])
    assert "config.json" in msg and key in msg


@pytest.mark.parametrize("shape, quoted", [("6", "'6'"), ([6.0], "6.0"), ([True], "True"), ([], "[]")])
def test_lerobot_feature_shape_types(lerobot, shape, quoted):
    p = lerobot["dir"] / "config.json"
    cfg = json.loads(p.read_text())
    cfg["input_features"]["observation.state"]["shape"] = shape
    p.write_text(json.dumps(cfg))
    assert "observation.state" in _refused(quoted, load_checkpoint, lerobot["dir"])


@pytest.mark.parametrize("hw, quoted", [([100000, 100000], "100000"), ([0, 96], "got 0")])
def test_lerobot_image_shape_bounded(lerobot, hw, quoted):
    p = lerobot["dir"] / "config.json"
    cfg = json.loads(p.read_text())
    cfg["input_features"]["observation.images.top"]["shape"] = [3, *hw]
    p.write_text(json.dumps(cfg))
    assert "observation.images.top" in _refused(quoted, load_checkpoint, lerobot["dir"])


@pytest.mark.parametrize("edit, quoted", [
    (lambda pre: pre.update(steps=5), "steps must be a list, got 5"),
    (lambda pre: pre["steps"][3]["config"].update(eps="tiny"), "eps must be a finite number >= 0, got 'tiny'"),
    (lambda pre: pre["steps"][3]["config"].update(eps=-1.0), "eps"),
    (lambda pre: pre["steps"].__setitem__(0, "rename"), "steps[0] must be an object"),
    (lambda pre: pre["steps"][3].update(state_file="../../outside.safetensors"), "state_file"),
])
def test_lerobot_processor_types(lerobot, edit, quoted):
    p = lerobot["dir"] / "policy_preprocessor.json"
    pre = json.loads(p.read_text())
    edit(pre)
    p.write_text(json.dumps(pre))
    assert "policy_preprocessor.json" in _refused(quoted, load_checkpoint, lerobot["dir"])


def test_image_size_option_bounded(original):
    _refused("100000x100000", load_checkpoint, original["dir"], cameras=["top"], image_size="100000x100000")
    _refused("got 0", load_checkpoint, original["dir"], cameras=["top"], image_size=(0, 96))


def test_stride0_tensor_claiming_a_terabyte_is_refused_before_allocating(original):
    sd = torch.load(original["ckpt"], weights_only=True)
    sd["model.query_embed.weight"] = torch.zeros(1).expand(10**6, 10**6)  # 4e12 bytes claimed, 4 stored
    torch.save(sd, original["ckpt"])
    assert original["ckpt"].stat().st_size < 60e6
    msg = _refused("model.query_embed.weight", load_checkpoint, original["dir"], cameras=["top", "left_wrist"],
                   image_size="64x96", heads=4)
    assert "storage holds 4 bytes" in msg


def test_native_stride0_tensor_is_refused(tmp_path):
    def expand(sd):
        t = sd["query_pos"]
        sd["query_pos"] = torch.zeros(1).expand(*t.shape)
    _refused("query_pos", load_checkpoint, _native_payload(tmp_path, mutate_weights=expand))


# --- 7: runtime defaults the runtime would refuse ---------------------------------------------------

@pytest.mark.parametrize("changes, quoted", [
    ({"temporal_ensemble_coeff": 1e9}, "1000000000.0"),
    ({"n_action_steps": -3}, "-3"),
    ({"n_action_steps": 9}, "9"),  # chunk is 8
])
def test_lerobot_runtime_defaults_policy_would_refuse(lerobot, changes, quoted):
    _edit_config(lerobot, **changes)
    assert "config.json" in _refused(quoted, load_checkpoint, lerobot["dir"])


def test_native_runtime_defaults_are_checked(tmp_path):
    path = _native_payload(tmp_path, mutate_runtime=lambda rt: rt.update(temporal_ensemble_coeff="0.01"))
    _refused("'0.01'", load_checkpoint, path)
    path = _native_payload(tmp_path, mutate_runtime=lambda rt: rt.update(temporal_ensemble_coeff=None,
                                                                        n_action_steps=0))
    _refused("n_action_steps", load_checkpoint, path)


def test_loader_options_for_the_runtime_are_checked(lerobot):
    _refused("n_action_steps", load_checkpoint, lerobot["dir"], n_action_steps=0)
    _refused("'0.5'", load_checkpoint, lerobot["dir"], temporal_ensemble_coeff="0.5")


# --- 8: silent coercions ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [torch.int8, torch.bool, torch.int64])
def test_integer_and_bool_weights_are_refused(original, dtype):
    sd = torch.load(original["ckpt"], weights_only=True)
    key = "model.transformer.encoder.layers.0.linear1.weight"
    sd[key] = (sd[key] * 100).to(dtype)
    torch.save(sd, original["ckpt"])
    msg = _refused(key, load_checkpoint, original["dir"], cameras=["top", "left_wrist"], image_size="64x96", heads=4)
    assert str(dtype).replace("torch.", "") in msg


def test_lerobot_int_weight_refused(lerobot):
    from safetensors.torch import load_file, save_file

    p = lerobot["dir"] / "model.safetensors"
    t = load_file(str(p))
    t["model.action_head.bias"] = torch.arange(LR.action, dtype=torch.int8)
    save_file(t, str(p))
    assert "int8" in _refused("model.action_head.bias", load_checkpoint, lerobot["dir"])


def test_non_finite_weight_refused(original):
    sd = torch.load(original["ckpt"], weights_only=True)
    key = "model.action_head.weight"
    sd[key][1, 2] = math.nan
    torch.save(sd, original["ckpt"])
    _refused(key, load_checkpoint, original["dir"], cameras=["top", "left_wrist"], image_size="64x96", heads=4)


@pytest.mark.parametrize("indices, quoted", [([3.7], "3.7"), (["3"], "'3'"), ([True], "True"), ([3, 3], "twice"),
                                             ([23], "23")])
def test_gripper_indices_option_refuses_non_integers(behavior, indices, quoted):
    _refused(quoted, load_checkpoint, behavior["dir"], stats=str(behavior["stats_path"]), gripper_indices=indices)


def test_gripper_indices_in_stats_file(behavior, tmp_path):
    path = tmp_path / "ranges.json"
    path.write_text(json.dumps({**{k: v.tolist() for k, v in behavior["ranges"].items()}, "gripper_indices": [3.7]}))
    assert "gripper_indices" in _refused("3.7", load_checkpoint, behavior["dir"], stats=str(path))
    ok = load_checkpoint(behavior["dir"], stats=str(behavior["stats_path"]), gripper_indices=[2, 5])
    assert ok.runtime["post_steps"][0]["indices"] == [2, 5]


def test_heads_option_refuses_floats(original):
    _refused("4.0", load_checkpoint, original["dir"], cameras=["top", "left_wrist"], image_size="64x96", heads=4.0)


# --- the CLI: exit 2, one line, nothing written ----------------------------------------------------

def test_cli_refuses_zero_std_export_and_huge_image_inspect(original, lerobot, tmp_path):
    from conftest import run_cli

    stats = {k: v.copy() for k, v in original["stats"].items()}
    stats["action_std"][:] = 0.0
    _write_stats(original["dir"] / "dataset_stats.pkl", stats)
    out = tmp_path / "zero.actedge"
    res = run_cli("export", str(original["dir"]), "-o", str(out), "--cameras", "top,left_wrist",
                  "--image-size", "64x96", "--heads", "4")
    assert res.returncode == 2, res.stdout + res.stderr
    assert "action_std[0] is 0" in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert not out.exists()

    p = lerobot["dir"] / "config.json"
    cfg = json.loads(p.read_text())
    cfg["input_features"]["observation.images.top"]["shape"] = [3, 100000, 100000]
    p.write_text(json.dumps(cfg))
    res = run_cli("inspect", str(lerobot["dir"]))
    assert res.returncode == 2 and "100000" in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr


def test_weight_of_the_wrong_rank_is_one_line(original):
    sd = torch.load(original["ckpt"], weights_only=True)
    key = "model.action_head.weight"
    sd[key] = sd[key].reshape(-1)  # 1-D: reading the architecture indexed shape[1]
    torch.save(sd, original["ckpt"])
    _refused(key, load_checkpoint, original["dir"], cameras=["top", "left_wrist"], image_size="64x96", heads=4)


def test_lerobot_constant_dimensions_export_and_run(lerobot, tmp_path):
    """LeRobot divides by std + eps and max - min + eps: a joint that never moved in the dataset (std 0,
    min == max) is a checkpoint LeRobot runs. It exports with finite parity, and the constant action
    dimension is its mean, exactly as LeRobot's un-normalization gives it (regression: refused, or
    parity NaN before act-edge.metrics measured such dimensions in robot units)."""
    from act_edge import Policy
    from act_edge.export.pipeline import export_bundle

    def edit(t):
        if "action.std" in t:
            t["action.std"].view(-1)[1] = 0.0
        if "observation.state.max" in t:
            t["observation.state.max"].view(-1)[2] = t["observation.state.min"].view(-1)[2]
    _edit_processor_stats(lerobot, edit)
    ckpt = load_checkpoint(lerobot["dir"])
    assert ckpt.spec.action_norm.std[1] == 0.0
    out = export_bundle(ckpt, tmp_path / "const.actedge")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["parity"]["onnx_fp32"]["max_abs_normalized"] <= 5e-5
    policy = Policy.load(out, backend="onnxruntime")
    rng = np.random.default_rng(3)
    obs = {"state": rng.normal(size=ckpt.spec.state_dim).astype(np.float32),
           "images": {c.name: rng.integers(0, 256, (c.height, c.width, 3), dtype=np.uint8)
                      for c in ckpt.spec.cameras}}
    if ckpt.spec.env_state_dim:
        obs["env_state"] = rng.normal(size=ckpt.spec.env_state_dim).astype(np.float32)
    chunk = policy.predict_chunk(obs)
    assert np.isfinite(chunk).all()
    np.testing.assert_array_equal(chunk[:, 1], np.float32(ckpt.spec.action_norm.mean[1]))
    assert np.ptp(chunk[:, 0]) > 0  # the other dimensions still move
