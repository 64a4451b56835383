"""Original ACT (policy_best.ckpt + dataset_stats.pkl): parity with the original's forward, and refusals."""

from __future__ import annotations

import os
import pickle
import shutil
import zipfile

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import fixtures_families as ff  # noqa: E402
import reference_families as rf  # noqa: E402
from act_edge.errors import CheckpointError  # noqa: E402
from act_edge.export.checkpoint import load_checkpoint  # noqa: E402
from act_edge.export.formats import detect_format  # noqa: E402
from family_parity import TOL, export, normalized_error, one_line, run_bundle  # noqa: E402

OPTS = {"cameras": ["top", "left_wrist"], "image_size": (64, 96), "heads": 4}


@pytest.fixture(scope="module")
def fixture(tmp_path_factory):
    return ff.write_original(tmp_path_factory.mktemp("original") / "run")


@pytest.fixture(scope="module")
def bundle(fixture, tmp_path_factory):
    ckpt = load_checkpoint(fixture["dir"], **OPTS)
    return export(ckpt, tmp_path_factory.mktemp("out") / "orig.actedge")


def test_onnx_matches_original_forward(fixture, bundle):
    path, manifest = bundle
    rng = np.random.default_rng(7)
    stats = fixture["stats"]
    images = ff.raw_frames(rng, 3, 2, 64, 96)
    qpos = (stats["qpos_mean"] + stats["qpos_std"] * rng.standard_normal((3, 14))).astype(np.float32)
    got = run_bundle(path, {"images": images, "state": qpos})
    ref = rf.original_forward(fixture["state_dict"], stats, [images[:, 0], images[:, 1]], qpos, heads=4)
    err = normalized_error(got, ref, stats["action_std"])
    assert err <= TOL, err
    assert manifest["spec"]["n_decoder_layers"] == 1 and manifest["spec"]["n_heads"] == 4


def test_manifest_reports_dropped_and_notes(bundle):
    _, manifest = bundle
    groups = {g["reason"]: g["keys"] for g in manifest["source"]["dropped"]}
    dead = next(k for r, k in groups.items() if r.startswith("dead decoder layers"))
    assert len(dead) == 6 * 18 and all(k.startswith("model.transformer.decoder.layers.") for k in dead)
    assert not any(".layers.0." in k for k in dead)
    assert any(r.startswith("is_pad_head") for r in groups)
    cvae = next(k for r, k in groups.items() if r.startswith("CVAE"))
    assert "model.cls_embed.weight" in cvae and "model.pos_table" in cvae
    notes = " ".join(manifest["source"]["notes"])
    assert "--heads 4" in notes and "hs[0]" in notes
    assert set(manifest["source"]["files"]) == {"policy_best.ckpt", "dataset_stats.pkl"}


def test_detection_from_directory_and_file(fixture):
    assert detect_format(fixture["dir"]).NAME == "original"
    assert detect_format(fixture["ckpt"]).NAME == "original"


def test_defaults_and_stats_option(fixture, tmp_path):
    d = tmp_path / "elsewhere"
    d.mkdir()
    shutil.copy(fixture["ckpt"], d / "policy_last.ckpt")
    shutil.copy(fixture["dir"] / "dataset_stats.pkl", tmp_path / "my_stats.pkl")
    ck = load_checkpoint(d, format="original", stats=str(tmp_path / "my_stats.pkl"), heads=4)
    assert [c.name for c in ck.spec.cameras] == ["top"] and ck.spec.cameras[0].resolution == (480, 640)
    assert ck.runtime["temporal_ensemble_coeff"] is None


def test_missing_stats(fixture, tmp_path):
    shutil.copy(fixture["ckpt"], tmp_path / "policy_best.ckpt")
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(tmp_path, **OPTS)
    assert "--stats" in one_line(e.value) and "dataset_stats.pkl" in str(e.value)


def test_truncated_checkpoint(fixture, tmp_path):
    data = fixture["ckpt"].read_bytes()
    (tmp_path / "policy_best.ckpt").write_bytes(data[: len(data) // 2])
    shutil.copy(fixture["dir"] / "dataset_stats.pkl", tmp_path)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(tmp_path / "policy_best.ckpt", format="original", **OPTS)
    assert "not a readable torch checkpoint" in one_line(e.value)


class _WritesMarker:
    """A pickle payload that would run a shell command on load with the stock unpickler."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_stats_pickle_is_refused_without_running(fixture, tmp_path):
    shutil.copy(fixture["ckpt"], tmp_path / "policy_best.ckpt")
    marker = tmp_path / "pwned"
    stats = dict(fixture["stats"])
    stats["qpos_mean"] = _WritesMarker(marker)
    with open(tmp_path / "dataset_stats.pkl", "wb") as fh:
        pickle.dump(stats, fh)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(tmp_path, **OPTS)
    msg = one_line(e.value)
    assert "refused to unpickle global" in msg and "system" in msg  # 'posix.system' on Linux
    assert not marker.exists()


def test_malicious_weights_pickle_is_refused_without_running(fixture, tmp_path):
    marker = tmp_path / "pwned"
    sd = dict(fixture["state_dict"])
    sd["model.evil"] = _WritesMarker(marker)
    torch.save(sd, tmp_path / "policy_best.ckpt")
    shutil.copy(fixture["dir"] / "dataset_stats.pkl", tmp_path)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(tmp_path, format="original", **OPTS)
    assert "refused to unpickle global" in one_line(e.value) and "system" in str(e.value)
    assert not marker.exists()


def test_wrong_camera_count(fixture):
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(fixture["dir"], cameras=["a", "b"], image_size=[(64, 96), (64, 96), (64, 96)], heads=4)
    assert "3 sizes for 2 cameras" in one_line(e.value)


def test_heads_must_divide_d_model(fixture):
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(fixture["dir"], cameras=["top"], heads=5)
    assert "--heads 5" in one_line(e.value) and "32" in str(e.value)


def test_stats_of_wrong_dimension(fixture, tmp_path):
    shutil.copy(fixture["ckpt"], tmp_path / "policy_best.ckpt")
    stats = dict(fixture["stats"])
    stats["action_std"] = stats["action_std"][:5]
    with open(tmp_path / "dataset_stats.pkl", "wb") as fh:
        pickle.dump(stats, fh)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(tmp_path, **OPTS)
    assert "action_std has 5 values" in one_line(e.value) and "14" in str(e.value)


def test_weight_shape_mismatch_names_the_tensor(fixture, tmp_path):
    sd = dict(fixture["state_dict"])
    sd["model.query_embed.weight"] = torch.zeros(10, 33)
    torch.save(sd, tmp_path / "policy_best.ckpt")
    shutil.copy(fixture["dir"] / "dataset_stats.pkl", tmp_path)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(tmp_path, **OPTS)
    msg = one_line(e.value)
    assert "model.query_embed.weight" in msg and "[10, 33]" in msg and "[10, 32]" in msg


def test_not_a_zip_is_not_detected(tmp_path):
    (tmp_path / "policy_best.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError):
        detect_format(tmp_path / "policy_best.ckpt")
    assert not zipfile.is_zipfile(tmp_path / "policy_best.ckpt")


def test_dilation_with_resnet18_is_a_checkpoint_error(fixture):
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(fixture["dir"], cameras=["top"], heads=4, dilation=True)
    assert "dilation" in one_line(e.value) and "resnet18" in str(e.value)


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_foreign_bare_pickle_as_checkpoint_is_refused_by_name(tmp_path, protocol):
    """A plain pickle (not a torch file) named policy_best.ckpt, forced with --format original."""
    marker = tmp_path / "pwned"
    (tmp_path / "policy_best.ckpt").write_bytes(pickle.dumps({"model.x": _WritesMarker(marker)}, protocol=protocol))
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(tmp_path / "policy_best.ckpt", format="original", **OPTS)
    msg = one_line(e.value)
    assert "refused to unpickle global" in msg and "system" in msg
    assert not marker.exists()
