"""LeRobot ACT pretrained_model (v0.4+ processors and the legacy layout): parity with LeRobot's forward,
refusals, and the same weights in the original layout giving the same graph."""

from __future__ import annotations

import json
import pickle
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import fixtures_families as ff  # noqa: E402
import reference_families as rf  # noqa: E402
from act_edge.errors import CheckpointError  # noqa: E402
from act_edge.export.checkpoint import build_model, load_checkpoint  # noqa: E402
from act_edge.export.formats import detect_format  # noqa: E402
from family_parity import TOL, export, normalized_error, one_line, run_bundle  # noqa: E402

# v0.4: 3 cameras at 2 resolutions (two graph inputs), an ENV feature, MIN_MAX state, pre-norm.
V04 = ff.LeRobotConfig(env=3)
# legacy: stats in model.safetensors, old config keys and pos-embed name; IDENTITY images, MIN_MAX actions, post-norm.
LEGACY = ff.LeRobotConfig(legacy=True, pre_norm=False, dec=2, cameras={"top": (64, 96)},
                          modes={"VISUAL": "IDENTITY", "STATE": "MEAN_STD", "ENV": "MEAN_STD", "ACTION": "MIN_MAX"})


def _action_unit(fx) -> np.ndarray:
    s, mode = fx["stats"], fx["config"].modes["ACTION"]
    if mode == "MEAN_STD":
        return s["action.std"].astype(np.float64)
    if mode == "MIN_MAX":
        return (s["action.max"].astype(np.float64) - s["action.min"]) / 2
    return np.ones(fx["config"].action)


def _inputs(spec, fx, batch, seed):
    rng = np.random.default_rng(seed)
    feeds, per_camera = {}, {}
    for g in spec.image_groups():
        frames = ff.raw_frames(rng, batch, len(g.camera_indices), g.height, g.width)
        feeds[g.input_name] = frames
        for j, ci in enumerate(g.camera_indices):
            per_camera["observation.images." + spec.cameras[ci].name] = frames[:, j]
    feeds["state"] = rng.standard_normal((batch, fx["config"].state)).astype(np.float32)
    if fx["config"].env:
        feeds["env_state"] = rng.standard_normal((batch, fx["config"].env)).astype(np.float32)
    return feeds, per_camera


@pytest.fixture(scope="module", params=["v0.4", "legacy"])
def exported(request, tmp_path_factory):
    cfg = V04 if request.param == "v0.4" else LEGACY
    fx = ff.write_lerobot(tmp_path_factory.mktemp("lerobot") / "run", cfg, seed=3)
    ckpt = load_checkpoint(fx["dir"])
    path, manifest = export(ckpt, tmp_path_factory.mktemp("out") / "lr.actedge")
    return fx, ckpt, path, manifest


def test_onnx_matches_lerobot_forward(exported):
    fx, ckpt, path, _ = exported
    feeds, per_camera = _inputs(ckpt.spec, fx, 3, 11)
    got = run_bundle(path, feeds)
    cfg = json.loads((fx["dir"] / "config.json").read_text())
    ref = rf.lerobot_forward(fx["state_dict"], fx["stats"], fx["features"], fx["config"].modes, cfg, per_camera,
                             feeds["state"], feeds.get("env_state"))
    err = normalized_error(got, ref, _action_unit(fx))
    assert err <= TOL, err


def test_spec_and_report(exported):
    fx, ckpt, _, manifest = exported
    c = fx["config"]
    assert [cam.name for cam in ckpt.spec.cameras] == list(c.cameras)
    assert ckpt.spec.pre_norm == c.pre_norm and ckpt.spec.n_decoder_layers == c.dec
    reasons = [g["reason"] for g in manifest["source"]["dropped"]]
    assert any(r.startswith("CVAE") for r in reasons)
    if c.legacy:
        assert any(r.startswith("normalization buffers") for r in reasons)
        assert ckpt.spec.action_norm.mode == "min_max" and ckpt.spec.action_norm.eps == 1e-8
    else:
        assert len(ckpt.spec.image_groups()) == 2  # 64x96 (laptop, wrist) and 96x64 (phone)
        assert ckpt.spec.env_state_dim == 3 and ckpt.spec.state_norm.mode == "min_max"
        assert set(manifest["source"]["files"]) >= {"config.json", "model.safetensors",
                                                     "policy_preprocessor_step_3_normalizer_processor.safetensors"}


def test_detection(tmp_path):
    fx = ff.write_lerobot(tmp_path / "run", ff.LeRobotConfig(cameras={"top": (64, 96)}))
    for p in (fx["dir"], fx["dir"].parent, fx["dir"] / "model.safetensors"):
        assert detect_format(p).NAME == "lerobot"


@pytest.fixture()
def small(tmp_path):
    return ff.write_lerobot(tmp_path / "run", ff.LeRobotConfig(cameras={"top": (64, 96), "side": (64, 96)}))


def test_wrong_camera_count(small):
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(small["dir"], cameras=["a", "b", "c"])
    assert "--cameras lists 3 cameras" in one_line(e.value) and "2 image features" in str(e.value)


def test_missing_stats_file(small):
    (small["dir"] / "policy_postprocessor_step_0_unnormalizer_processor.safetensors").unlink()
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(small["dir"])
    assert "policy_postprocessor_step_0_unnormalizer_processor.safetensors" in one_line(e.value)


def test_missing_stat_entry(small):
    from safetensors.torch import load_file, save_file

    for name in ("policy_preprocessor_step_3_normalizer_processor.safetensors",):
        p = small["dir"] / name
        t = load_file(str(p))
        del t["observation.state.min"]
        save_file(t, str(p))
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(small["dir"])
    assert "observation.state.min" in one_line(e.value)


def test_config_contradicting_weights(small):
    cfg_path = small["dir"] / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["dim_model"] = 64
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(small["dir"])
    assert "dim_model is 64 but the weights have 32" in one_line(e.value)


def test_shape_mismatch_names_the_tensor(small):
    from safetensors.torch import load_file, save_file

    p = small["dir"] / "model.safetensors"
    t = load_file(str(p))
    t["model.decoder_pos_embed.weight"] = torch.zeros(8, 31)
    save_file(t, str(p))
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(small["dir"])
    msg = one_line(e.value)
    assert "model.decoder_pos_embed.weight" in msg and "[8, 31]" in msg and "[8, 32]" in msg


def test_truncated_safetensors(small):
    p = small["dir"] / "model.safetensors"
    p.write_bytes(p.read_bytes()[:1000])
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(small["dir"])
    assert "not a readable safetensors file" in one_line(e.value)


# --- LeRobot checkpoint == the same weights in the original layout --------------------------------

LEROBOT_TO_ORIGINAL = [  # the spec's "Original -> LeRobot names", reversed
    ("model.backbone.", "model.backbones.0.0.body."),
    ("model.encoder.", "model.transformer.encoder."),
    ("model.decoder.", "model.transformer.decoder."),
    ("model.encoder_img_feat_input_proj.", "model.input_proj."),
    ("model.encoder_robot_state_input_proj.", "model.input_proj_robot_state."),
    ("model.encoder_latent_input_proj.", "model.latent_out_proj."),
    ("model.encoder_1d_feature_pos_embed.", "model.additional_pos_embed."),
    ("model.decoder_pos_embed.", "model.query_embed."),
    ("model.action_head.", "model.action_head."),
]


def test_lerobot_and_original_layouts_export_identical_graphs(tmp_path):
    """Identical = same graph inputs, same nodes (op, name, inputs, outputs, attributes) in the same
    order, same initializers, every initializer (all the weights) byte-identical. Only Constant nodes
    under /preprocess/ or /postprocess/ may differ, to 1e-6 relative: LeRobot divides by (std + 1e-8),
    the original by std, so those scale constants can differ in the last float32 bit."""
    import onnx

    from act_edge.export.onnx_export import export_onnx

    c = ff.LeRobotConfig(cameras={"top": (64, 96)}, pre_norm=False, imagenet=True,
                         modes={"VISUAL": "MEAN_STD", "STATE": "MEAN_STD", "ENV": "MEAN_STD", "ACTION": "MEAN_STD"})
    lr = ff.write_lerobot(tmp_path / "lerobot", c, seed=5)
    orig_dir = tmp_path / "original"
    orig_dir.mkdir()
    sd = {}
    for k, v in lr["state_dict"].items():
        if k.startswith("model.vae_encoder"):
            continue
        new = next(dst + k[len(src):] for src, dst in LEROBOT_TO_ORIGINAL if k.startswith(src))
        sd[new] = v
    torch.save(sd, orig_dir / "policy_best.ckpt")
    s = lr["stats"]
    with open(orig_dir / "dataset_stats.pkl", "wb") as fh:
        pickle.dump({"qpos_mean": s["observation.state.mean"].astype(np.float64),
                     "qpos_std": s["observation.state.std"].astype(np.float64),
                     "action_mean": s["action.mean"].astype(np.float64),
                     "action_std": s["action.std"].astype(np.float64)}, fh)

    a = load_checkpoint(lr["dir"], name="same")
    b = load_checkpoint(orig_dir, cameras=["top"], image_size=(64, 96), heads=c.heads, name="same")
    assert a.spec.n_decoder_layers == b.spec.n_decoder_layers == 1
    assert sorted(a.state_dict) == sorted(b.state_dict)
    for k in a.state_dict:
        assert torch.equal(a.state_dict[k], b.state_dict[k]), k
    ga = onnx.load(str(export_onnx(build_model(a), tmp_path / "a.onnx"))).graph
    gb = onnx.load(str(export_onnx(build_model(b), tmp_path / "b.onnx"))).graph
    assert [i.SerializeToString() for i in ga.input] == [i.SerializeToString() for i in gb.input]
    assert len(ga.node) == len(gb.node)
    differing = []
    for na, nb in zip(ga.node, gb.node):
        assert (na.op_type, na.name, list(na.input), list(na.output)) == (nb.op_type, nb.name, list(nb.input), list(nb.output))
        if na.SerializeToString() == nb.SerializeToString():
            continue
        assert na.op_type == "Constant" and na.name.startswith(("/preprocess/", "/postprocess/")), na.name
        va, vb = (onnx.numpy_helper.to_array(n.attribute[0].t) for n in (na, nb))
        np.testing.assert_allclose(va, vb, rtol=1e-6, atol=0, err_msg=na.name)
        differing.append(na.name)
    ia = {i.name: onnx.numpy_helper.to_array(i) for i in ga.initializer}
    ib = {i.name: onnx.numpy_helper.to_array(i) for i in gb.initializer}
    assert sorted(ia) == sorted(ib)
    for k in ia:  # every weight (BN-folded convs, attention, heads) bit-identical
        assert ia[k].tobytes() == ib[k].tobytes(), k
    shutil.rmtree(tmp_path)
