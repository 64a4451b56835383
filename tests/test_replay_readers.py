"""Episode readers: each HDF5 layout written here is read back exactly (frames per step, state,
actions, mapping flags), JPEG frames as the ALOHA recorder stores them, and every bad file or
mapping is one line naming the file and what is wrong."""

from __future__ import annotations

import numpy as np
import pytest

from replay_files import (h5, smooth_frames, smooth_vectors, write_act_edge, write_aloha, write_aloha_compressed,
                          write_course, write_robomimic)
from bundles import synthetic_spec

from act_edge.replay import EpisodeError, Mapping, open_episodes

T, H, W = 12, 24, 32


@pytest.fixture
def spec():
    h5()
    return synthetic_spec(chunk=8, dof=4)


def _read_all(ep):
    with ep.observations() as obs:
        return [obs(t) for t in range(ep.frames)]


def test_aloha_layout_reads_every_step(tmp_path, spec):
    imgs = {"top": smooth_frames(T, H, W, 0.0), "wrist": smooth_frames(T, H, W, 1.3)}
    qpos, act = smooth_vectors(T, 4, 1), smooth_vectors(T, 4, 2)
    path = write_aloha(tmp_path / "episode_0.hdf5", imgs, qpos.astype(np.float64), act.astype(np.float64))
    [ep] = open_episodes([path], spec, Mapping())
    assert (ep.name, ep.layout, ep.frames, ep.compressed) == ("episode_0.hdf5", "aloha", T, False)
    np.testing.assert_array_equal(ep.state, qpos)
    np.testing.assert_array_equal(ep.actions, act)
    assert ep.state.dtype == ep.actions.dtype == np.float32
    for t, o in enumerate(_read_all(ep)):
        np.testing.assert_array_equal(o["state"], qpos[t])
        for cam in imgs:
            np.testing.assert_array_equal(o["images"][cam], imgs[cam][t])
        assert "env_state" not in o


def test_act_edge_recording_reads_without_flags_and_keeps_its_attributes(tmp_path):
    h5()
    spec = synthetic_spec(chunk=8, dof=4, env_state_dim=3)
    imgs = {"top": smooth_frames(T, H, W), "wrist": smooth_frames(T, H, W, 2.0)}
    env = smooth_vectors(T, 3, 5)
    path = write_act_edge(tmp_path / "episode_3.hdf5", imgs, smooth_vectors(T, 4, 1), smooth_vectors(T, 4, 2),
                          "ab" * 32, mode="queue", n_action_steps=4, env_state=env)
    [ep] = open_episodes([path], spec, Mapping())
    assert ep.layout == "act-edge"
    assert ep.attrs["bundle_manifest_sha256"] == "ab" * 32 and ep.attrs["n_action_steps"] == 4
    assert ep.attrs["temporal_ensemble_coeff"] is None  # NaN (queue mode) is not JSON: None
    assert ep.attrs["camera_names"] == ["top", "wrist"]
    obs = _read_all(ep)
    np.testing.assert_array_equal(np.stack([o["env_state"] for o in obs]), env)


def test_directory_argument_reads_episodes_in_natural_order_and_skips_partial_files(tmp_path, spec):
    imgs = {"top": smooth_frames(T, H, W), "wrist": smooth_frames(T, H, W, 1.0)}
    for n in (10, 2, 1):
        write_aloha(tmp_path / f"episode_{n}.hdf5", imgs, smooth_vectors(T, 4, n), smooth_vectors(T, 4, n + 1))
    (tmp_path / ".episode_11.hdf5.partial").write_bytes(b"being written")
    eps = open_episodes([tmp_path], spec, Mapping())
    assert [e.name for e in eps] == ["episode_1.hdf5", "episode_2.hdf5", "episode_10.hdf5"]


def test_course_layout_each_demo_is_an_episode_mapped_with_flags(tmp_path):
    h5()
    spec = synthetic_spec(chunk=8, dof=4, cams=(("top", H, W),))
    demos = [(smooth_frames(T + i, H, W, i), smooth_vectors(T + i, 4, i), smooth_vectors(T + i, 4, 10 + i))
             for i in range(2)]
    path = write_course(tmp_path / "demos.hdf5", demos)
    with pytest.raises(EpisodeError) as err:  # the camera is called "image" in this file
        open_episodes([path], spec, Mapping())
    msg = str(err.value)
    assert "\n" not in msg and "demos.hdf5:demo_0" in msg and "--camera top=KEY" in msg
    assert "image (12, 24, 32, 3) uint8" in msg and "qpos (12, 4) float32" in msg
    eps = open_episodes([path], spec, Mapping(cameras={"top": "image"}))
    assert [e.name for e in eps] == ["demos.hdf5:demo_0", "demos.hdf5:demo_1"]
    assert [e.layout for e in eps] == ["course", "course"]
    for ep, (image, qpos, actions) in zip(eps, demos):
        assert ep.frames == len(qpos)
        np.testing.assert_array_equal(ep.actions, actions)
        obs = _read_all(ep)
        np.testing.assert_array_equal(np.stack([o["images"]["top"] for o in obs]), image)
        np.testing.assert_array_equal(np.stack([o["state"] for o in obs]), qpos)


def test_robomimic_layout_concatenates_state_keys_in_order(tmp_path):
    h5()
    spec = synthetic_spec(chunk=8, dof=5, cams=(("top", H, W),))
    eef, grip = smooth_vectors(T, 3, 1), smooth_vectors(T, 2, 2)
    obs = {"agentview_image": smooth_frames(T, H, W), "robot0_eef_pos": eef, "robot0_gripper_qpos": grip}
    path = write_robomimic(tmp_path / "low_dim.hdf5", [(obs, smooth_vectors(T, 5, 3))])
    with pytest.raises(EpisodeError, match=r"no dataset 'qpos' for the state .*--state KEY.*robot0_eef_pos \(12, 3\)"):
        open_episodes([path], spec, Mapping(cameras={"top": "agentview_image"}))
    [ep] = open_episodes([path], spec, Mapping(cameras={"top": "agentview_image"},
                                                state=("robot0_eef_pos", "robot0_gripper_qpos")))
    assert (ep.name, ep.layout) == ("low_dim.hdf5:demo_0", "robomimic")
    np.testing.assert_array_equal(ep.state, np.concatenate([eef, grip], axis=1))
    assert ep.sources["state"] == ["/data/demo_0/obs/robot0_eef_pos", "/data/demo_0/obs/robot0_gripper_qpos"]
    np.testing.assert_array_equal(_read_all(ep)[5]["images"]["top"], obs["agentview_image"][5])


def test_jpeg_frames_decode_in_the_recorders_channel_order(tmp_path):
    pytest.importorskip("PIL")
    h5()
    spec = synthetic_spec(chunk=8, dof=4, cams=(("top", 48, 64),))
    frames = smooth_frames(6, 48, 64)
    path = write_aloha_compressed(tmp_path / "episode_0.hdf5", {"top": frames}, smooth_vectors(6, 4, 1),
                                  smooth_vectors(6, 4, 2))
    [ep] = open_episodes([path], spec, Mapping())
    assert ep.compressed
    got = np.stack([o["images"]["top"] for o in _read_all(ep)]).astype(np.float64)
    err = np.abs(got - frames).mean()
    swapped = np.abs(got[..., ::-1] - frames).mean()
    assert got.shape == frames.shape and err < 3.0, err  # lossy, but the same picture
    assert swapped > 10 * err, (err, swapped)  # and not with red and blue exchanged


def test_jpeg_frames_refused_in_one_line_without_a_decoder(tmp_path, monkeypatch):
    pytest.importorskip("PIL")
    h5()
    from act_edge.replay import frames, readers

    spec = synthetic_spec(chunk=8, dof=4, cams=(("top", 48, 64),))
    path = write_aloha_compressed(tmp_path / "episode_0.hdf5", {"top": smooth_frames(3, 48, 64)},
                                  smooth_vectors(3, 4, 1), smooth_vectors(3, 4, 2))
    monkeypatch.setattr(readers, "jpeg_decoder", lambda: None)
    monkeypatch.setattr(frames, "jpeg_decoder", lambda: None)
    with pytest.raises(EpisodeError, match=r"episode_0.hdf5: JPEG-compressed frames .*pip install pillow"):
        open_episodes([path], spec, Mapping())


def _bad(tmp_path, spec, mutate):
    imgs = {"top": smooth_frames(T, H, W), "wrist": smooth_frames(T, H, W, 1.0)}
    path = write_aloha(tmp_path / "episode_0.hdf5", imgs, smooth_vectors(T, 4, 1), smooth_vectors(T, 4, 2))
    with h5().File(path, "a") as f:
        mutate(f)
    with pytest.raises(EpisodeError) as err:
        open_episodes([path], spec, Mapping())
    msg = str(err.value)
    assert "\n" not in msg and "episode_0.hdf5" in msg, msg
    return msg


def _replace(f, key, value):
    del f[key]
    f.create_dataset(key, data=value)


@pytest.mark.parametrize("mutate, expected", [
    (lambda f: f["observations/qpos"].__setitem__((4, 2), np.nan), "non-finite state nan at step 4, dimension 2"),
    (lambda f: f["action"].__setitem__((7, 1), np.inf), "non-finite action inf at step 7, dimension 1"),
    (lambda f: _replace(f, "action", smooth_vectors(T - 2, 4, 3)), "has 12 steps, the actions 10"),
    (lambda f: _replace(f, "action", smooth_vectors(T, 6, 3)), "action has 6 dimensions, the bundle expects 4"),
    (lambda f: _replace(f, "observations/qpos", smooth_vectors(T, 3, 3)), "has 3 dimensions, the bundle expects 4"),
    (lambda f: _replace(f, "observations/images/top", smooth_frames(T, 12, 16)), "does not resize"),
    (lambda f: _replace(f, "observations/images/top", smooth_frames(T, H, W).transpose(0, 3, 1, 2)), "channels first"),
    (lambda f: _replace(f, "observations/images/top", smooth_frames(T, H, W).astype(np.float32)), "must be uint8"),
    (lambda f: f.__delitem__("observations/images/wrist"), "no dataset 'wrist' for camera 'wrist'"),
    (lambda f: f.attrs.__setitem__("act_edge_format", "act-edge-episode/9"), "is not one this act-edge reads"),
])
def test_bad_episode_files_are_one_line_errors(tmp_path, spec, mutate, expected):
    assert expected in _bad(tmp_path, spec, mutate)


def test_unknown_layout_and_non_hdf5_files(tmp_path, spec):
    text = tmp_path / "notes.hdf5"
    text.write_text("not an hdf5 file\n")
    with pytest.raises(EpisodeError, match=r"notes.hdf5: not a readable HDF5 episode file"):
        open_episodes([text], spec, Mapping())
    with h5().File(tmp_path / "other.hdf5", "w") as f:
        f.create_dataset("joints", data=smooth_vectors(T, 4, 1))
    with pytest.raises(EpisodeError, match=r"other.hdf5: not a known episode layout .*joints \(12, 4\) float32"):
        open_episodes([tmp_path / "other.hdf5"], spec, Mapping())
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(EpisodeError, match="holds no"):
        open_episodes([empty], spec, Mapping())


def test_a_corrupt_jpeg_frame_is_a_one_line_error_naming_it(tmp_path):
    pytest.importorskip("PIL")
    h5()
    spec = synthetic_spec(chunk=8, dof=4, cams=(("top", 48, 64),))
    path = write_aloha_compressed(tmp_path / "episode_0.hdf5", {"top": smooth_frames(4, 48, 64)},
                                  smooth_vectors(4, 4, 1), smooth_vectors(4, 4, 2))
    with h5().File(path, "a") as f:
        f["observations/images/top"][2] = np.arange(f["observations/images/top"].shape[1]) % 251
    [ep] = open_episodes([path], spec, Mapping())
    with ep.observations() as obs:
        obs(1)
        with pytest.raises(EpisodeError, match=r"episode_0.hdf5: /observations/images/top: frame 2 does not decode"):
            obs(2)


def test_rgbd_depth_is_read_per_step_and_required(tmp_path):
    h5()
    from act_edge.spec import ActSpec, CameraSpec

    cam = CameraSpec("head", H, W, channels=4, mean=(0.5, 0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25, 0.25),
                     depth_range=(0.1, 4.0))
    spec = ActSpec(cameras=(cam,), state_dim=4, action_dim=4, chunk_size=8, d_model=16, n_heads=2,
                   dim_feedforward=32, name="rgbd")
    depth = (1.0 + smooth_frames(T, H, W)[..., 2] / 100.0).astype(np.float32)  # metres, smooth
    path = write_aloha(tmp_path / "episode_0.hdf5", {"head": smooth_frames(T, H, W)}, smooth_vectors(T, 4, 1),
                       smooth_vectors(T, 4, 2), extra={"observations/depth/head": depth})
    [ep] = open_episodes([path], spec, Mapping())
    assert ep.sources["depth"] == {"head": "/observations/depth/head"}
    obs = _read_all(ep)
    np.testing.assert_array_equal(np.stack([o["depth"]["head"] for o in obs]), depth)
    with h5().File(path, "a") as f:
        del f["observations/depth"]
    with pytest.raises(EpisodeError, match=r"camera 'head' is RGB-D and the file has no /observations/depth/head"):
        open_episodes([path], spec, Mapping())
