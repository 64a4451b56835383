"""Replay of camera-less bundles (state + env state, env state only) and of LeRobot datasets.

LeRobot itself is not installed in CI (issue 15: "not part of CI"): without it, a LeRobot dataset root
is refused in one line naming lerobot. The reader's mapping (frame ranges, feature keys, float CHW
[0, 1] frames -> uint8 HWC) is checked with `StandInDataset`, a test double exposing the
LeRobotDataset surface the reader uses (`dataset[i]`, `meta.episodes`, `meta.features`); it is not
LeRobot, and the reader has not been run against LeRobot here. The check: the same demonstration
replayed from an ALOHA HDF5 file and from the stand-in gives identical figures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from act_edge.errors import DependencyMissing
from act_edge.replay import lerobot_dataset
from act_edge.replay.episode import EpisodeError, Mapping
from act_edge.replay.runner import ReplayConfig, run
from bundles import build_synthetic_bundle, synthetic_spec
from conftest import run_cli
from replay_files import h5, smooth_frames, smooth_vectors, write_aloha, write_robomimic

H, W, C, A = 12, 16, 6, 3


def _ensemble(chunks: np.ndarray, k: float) -> np.ndarray:
    """ACT's eval loop: every live prediction for t, weights exp(-k i), i = 0 the oldest."""
    T, Cc, _ = chunks.shape
    out = np.empty((T, chunks.shape[2]))
    for t in range(T):
        preds = np.stack([chunks[t0, t - t0] for t0 in range(max(0, t - Cc + 1), t + 1)])
        w = np.exp(-k * np.arange(len(preds)))
        out[t] = (w[:, None] * preds).sum(0) / w.sum()
    return out


@pytest.fixture()
def needs_ort():
    pytest.importorskip("onnxruntime")
    h5()


@pytest.mark.parametrize("state_dim", [4, 0], ids=["state_and_env_state", "env_state_only"])
def test_camera_less_bundle_replays_a_robomimic_file(tmp_path, needs_ort, state_dim):
    spec = synthetic_spec(chunk=C, dof=A, cams=(), env_state_dim=5, state_dim=state_dim)
    k = 0.01
    sb = build_synthetic_bundle(tmp_path / "cl.actedge", spec, fp16=False,
                                runtime={"temporal_ensemble_coeff": k, "n_action_steps": 1})
    T = 18
    qpos, obj, demo = smooth_vectors(T, 4, 1), smooth_vectors(T, 5, 2, 2.0), smooth_vectors(T, A, 3)
    f = write_robomimic(tmp_path / "demos.hdf5", [({"qpos": qpos, "object": obj}, demo)])
    mapping = Mapping(state=("qpos",) if state_dim else None, env_state=("object",))
    result, _ = run(ReplayConfig(bundle=str(sb.path), episodes=[str(f)], mapping=mapping, no_source=True))
    [ep] = result["episodes"]
    b = sb.expected(None, qpos if state_dim else None, obj)  # (T, C, A)
    want = np.abs(_ensemble(b, k) - demo).reshape(-1, A).max(0)
    np.testing.assert_allclose(ep["demonstration"]["bundle"]["max_abs"], want, rtol=1e-4, atol=2e-5)
    assert ep["frames"] == T


def test_camera_less_bundle_names_a_missing_env_state_mapping(tmp_path, needs_ort):
    spec = synthetic_spec(chunk=C, dof=A, cams=(), env_state_dim=5)
    sb = build_synthetic_bundle(tmp_path / "cl.actedge", spec, fp16=False)
    f = write_robomimic(tmp_path / "demos.hdf5", [({"qpos": smooth_vectors(9, A, 1)}, smooth_vectors(9, A, 2))])
    with pytest.raises(EpisodeError, match=r"no dataset 'env_state' for the env_state .*--env-state KEY.*qpos"):
        run(ReplayConfig(bundle=str(sb.path), episodes=[str(f)], no_source=True))


# --- LeRobot datasets -----------------------------------------------------------------------------


def _lerobot_root(path: Path) -> Path:
    (path / "meta").mkdir(parents=True)
    (path / "meta" / "info.json").write_text(json.dumps({"codebase_version": "v3.0", "fps": 50}))
    return path


def test_a_lerobot_root_without_lerobot_is_one_line_naming_it(tmp_path, needs_ort, monkeypatch):
    sb = build_synthetic_bundle(tmp_path / "b.actedge", synthetic_spec(chunk=C, dof=A, cams=(("top", H, W),)),
                                fp16=False)
    root = _lerobot_root(tmp_path / "ds")
    try:
        lerobot_dataset.lerobot_dataset_class()
        pytest.skip("lerobot is installed here")
    except DependencyMissing as exc:
        assert "\n" not in str(exc) and "needs lerobot" in str(exc) and "pip install lerobot" in str(exc)
    res = run_cli("replay", str(sb.path), str(root), "--no-source")
    assert res.returncode == 2, res.stderr
    err = res.stderr.strip()
    assert "\n" not in err and "Traceback" not in err and "needs lerobot" in err, err


class StandInDataset:
    """The LeRobotDataset surface the reader uses, over arrays: frames as LeRobot returns them
    (float32 (3, H, W) in [0, 1]), vectors float32, episodes by dataset_from_index/dataset_to_index."""

    def __init__(self, episodes: list[dict[str, np.ndarray]], camera_keys: dict[str, str]) -> None:
        self.rows: list[dict[str, np.ndarray]] = []
        starts, stops = [], []
        for ep in episodes:
            starts.append(len(self.rows))
            for t in range(len(ep["action"])):
                row = {"observation.state": ep["qpos"][t], "action": ep["action"][t],
                       "episode_index": np.int64(len(starts) - 1), "frame_index": np.int64(t)}
                for cam, key in camera_keys.items():
                    row[key] = (ep["images"][cam][t].astype(np.float32) / 255.0).transpose(2, 0, 1)
                self.rows.append(row)
            stops.append(len(self.rows))
        features = {k: {} for k in self.rows[0]}

        class Meta:
            pass

        self.meta = Meta()
        self.meta.episodes = {"episode_index": list(range(len(starts))), "dataset_from_index": starts,
                              "dataset_to_index": stops}
        self.meta.features = features

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict[str, np.ndarray]:
        return self.rows[i]


def test_lerobot_frames_round_trip_exactly_to_uint8():
    frames = smooth_frames(3, H, W, 0.7)
    for fr in frames:
        back = lerobot_dataset.to_uint8_frame((fr.astype(np.float32) / 255.0).transpose(2, 0, 1), "f")
        np.testing.assert_array_equal(back, fr)
    with pytest.raises(EpisodeError, match=r"frame values outside \[0, 1\]"):
        lerobot_dataset.to_uint8_frame(np.full((3, H, W), 1.5, np.float32), "f")
    with pytest.raises(EpisodeError, match=r"expected a float \(3, H, W\) frame"):
        lerobot_dataset.to_uint8_frame(np.zeros((H, W), np.float32), "f")


def test_a_lerobot_dataset_replays_like_the_same_episodes_in_hdf5(tmp_path, needs_ort, monkeypatch):
    spec = synthetic_spec(chunk=C, dof=A, cams=(("front", H, W), ("wrist", H, W)))
    sb = build_synthetic_bundle(tmp_path / "b.actedge", spec, fp16=False)
    eps = []
    for seed, T in ((1, 14), (2, 9)):
        eps.append({"images": {"front": smooth_frames(T, H, W, seed), "wrist": smooth_frames(T, H, W, 3.0 + seed)},
                    "qpos": smooth_vectors(T, A, seed), "action": smooth_vectors(T, A, 10 + seed)})
    files = [write_aloha(tmp_path / f"episode_{i}.hdf5", e["images"], e["qpos"], e["action"])
             for i, e in enumerate(eps)]
    keys = {"front": "observation.images.front", "wrist": "observation.images.wrist_cam"}
    root = _lerobot_root(tmp_path / "ds")
    opened = []

    def fake_class():
        def make(repo_id, root):
            opened.append((repo_id, Path(root)))
            return StandInDataset(eps, keys)
        return make

    monkeypatch.setattr(lerobot_dataset, "lerobot_dataset_class", fake_class)
    want, _ = run(ReplayConfig(bundle=str(sb.path), episodes=[str(f) for f in files], no_source=True))
    # the wrist camera's key is not observation.images.wrist: the error lists the features
    with pytest.raises(EpisodeError, match=r"no feature 'observation.images.wrist' for camera 'wrist' "
                                           r"\(map it with --camera wrist=KEY\); features: .*wrist_cam"):
        run(ReplayConfig(bundle=str(sb.path), episodes=[str(root)], no_source=True))
    got, _ = run(ReplayConfig(bundle=str(sb.path), episodes=[str(root)], no_source=True,
                              mapping=Mapping(cameras={"wrist": "wrist_cam"})))
    assert opened[-1] == ("local/ds", root)
    assert [e["frames"] for e in got["episodes"]] == [14, 9]
    assert [e["name"] for e in got["episodes"]] == ["ds:episode_0", "ds:episode_1"]
    for g, w in zip(got["episodes"], want["episodes"]):
        assert g["demonstration"]["bundle"] == w["demonstration"]["bundle"] | {"worst": {
            **w["demonstration"]["bundle"]["worst"], "episode": g["name"]}}
    assert got["total"]["demonstration"]["bundle"]["max_abs"] == want["total"]["demonstration"]["bundle"]["max_abs"]


@pytest.mark.parametrize("state_dim", [4, 0], ids=["state_and_env_state", "env_state_only"])
def test_a_camera_less_recording_replays_to_zero_difference(tmp_path, needs_ort, state_dim):
    from act_edge import Policy
    from bundles import random_obs

    spec = synthetic_spec(chunk=C, dof=A, cams=(), env_state_dim=5, state_dim=state_dim)
    sb = build_synthetic_bundle(tmp_path / "cl.actedge", spec, fp16=False)
    rng = np.random.default_rng(5)
    with Policy.load(sb.path, backend="onnxruntime", record=tmp_path / "rec") as p:
        for _ in range(12):
            p.step(random_obs(spec, rng))
        [path] = p.stop_recording()
    result, _ = run(ReplayConfig(bundle=str(sb.path), episodes=[str(path)], no_source=True))
    [ep] = result["episodes"]
    assert ep["frames"] == 12
    assert max(ep["demonstration"]["bundle"]["max_abs"]) == 0.0
