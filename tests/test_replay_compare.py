"""Replay figures against references computed here: a synthetic bundle whose actions are a known
numpy function of the observation (tests/bundles.py), a numpy "source" that differs from it by a
known offset, an independent temporal ensemble / chunk queue, and the recorded demonstration."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from replay_files import h5, smooth_frames, smooth_vectors, write_act_edge, write_aloha, write_course
from bundles import build_synthetic_bundle, synthetic_spec

from act_edge.bundle import MANIFEST, sha256_file
from act_edge.replay.episode import EpisodeError, Mapping
from act_edge.replay.runner import ReplayConfig, run
from act_edge.spec import Normalization

H, W, C, A = 24, 32, 8, 4
LO = np.array([-3.0, -2.0, -4.0, -1.0])
HI = np.array([3.0, 5.0, 1.0, 2.0])
SNAP = [{"op": "snap_gripper", "indices": [3], "threshold": [0.0], "low": [-1.0], "high": [1.0]}]


def _spec(norm: bool = True, cams=(("top", H, W), ("wrist", H, W))):
    spec = synthetic_spec(chunk=C, dof=A, cams=cams)
    return dataclasses.replace(spec, action_norm=Normalization("min_max", min=tuple(LO), max=tuple(HI))) if norm else spec


def _bundle(tmp_path, name, runtime, norm=True):
    pytest.importorskip("onnxruntime")
    h5()
    return build_synthetic_bundle(tmp_path / f"{name}.actedge", _spec(norm), runtime=runtime, fp16=False)


def _episode(T, seed):
    imgs = {"top": smooth_frames(T, H, W, 0.3 * seed), "wrist": smooth_frames(T, H, W, 2.0 + seed)}
    return imgs, smooth_vectors(T, A, seed, 1.5), smooth_vectors(T, A, 100 + seed, 2.0)


def _model(sb, imgs, qpos):
    """(T, chunk, A) float64: the bundle's function at every frame."""
    stacked = np.stack([imgs[c.name] for c in sb.spec.cameras], axis=1)  # (T, N, H, W, 3)
    return sb.expected(stacked, qpos)


def _ensemble(chunks, k):
    """ACT's eval loop: every live prediction for t, weights exp(-k i), i = 0 the oldest."""
    T, C, _ = chunks.shape
    out = np.empty((T, chunks.shape[2]))
    for t in range(T):
        preds = np.stack([chunks[t0, t - t0] for t0 in range(max(0, t - C + 1), t + 1)])  # oldest first
        w = np.exp(-k * np.arange(len(preds)))
        out[t] = (w[:, None] * preds).sum(0) / w.sum()
    return out


def _queue(chunks, n):
    return np.stack([chunks[t - t % n, t % n] for t in range(len(chunks))])


def _offset(delta, qpos):
    """(T, chunk, A): the source's known difference, a different size at every frame."""
    return delta[None] * (1.0 + 0.5 * qpos.astype(np.float64)[:, :1, None])


def _figures(diff, rng):
    """Reference figures: per dim max |d|, RMSE, both in % of rng; the worst (frame, dim) by %."""
    d = np.abs(diff)
    flat = d.reshape(-1, d.shape[-1])
    mx, rmse = flat.max(0), np.sqrt((flat ** 2).mean(0))
    pct = d / rng * 100
    worst = np.unravel_index(np.argmax(pct), pct.shape)
    return mx, rmse, mx / rng * 100, rmse / rng * 100, worst


def _check(stats, diff, rng, episode=None, atol=2e-5):
    mx, rmse, mxp, rmsep, worst = _figures(diff, rng)
    np.testing.assert_allclose(stats["max_abs"], mx, rtol=1e-4, atol=atol)
    np.testing.assert_allclose(stats["rmse"], rmse, rtol=1e-4, atol=atol)
    np.testing.assert_allclose(stats["max_pct"], mxp, rtol=1e-4, atol=atol * 100)
    np.testing.assert_allclose(stats["rmse_pct"], rmsep, rtol=1e-4, atol=atol * 100)
    assert stats["values_per_dim"] == diff.reshape(-1, diff.shape[-1]).shape[0]
    assert (stats["worst"]["frame"], stats["worst"]["dim"]) == (int(worst[0]), int(worst[-1]))
    if episode is not None:
        assert stats["worst"]["episode"] == episode


def test_ensemble_figures_per_episode_and_total(tmp_path):
    k = 0.05
    sb = _bundle(tmp_path, "ens", {"temporal_ensemble_coeff": k, "n_action_steps": 1})
    delta = np.random.default_rng(7).uniform(-0.05, 0.05, (C, A)) * np.linspace(0.2, 1.0, C)[:, None]
    eps = [_episode(30, 1), _episode(22, 2)]
    files = [write_aloha(tmp_path / "episode_0.hdf5", *eps[0]),
             write_course(tmp_path / "demos.hdf5", [(eps[1][0]["top"], eps[1][1], eps[1][2])])]
    # the course file has one camera dataset, "image": map both bundle cameras to it
    imgs1 = {"top": eps[1][0]["top"], "wrist": eps[1][0]["top"]}
    eps[1] = (imgs1, eps[1][1], eps[1][2])

    def source(obs):
        stacked = np.stack([obs["images"][c.name] for c in sb.spec.cameras])[None]
        return (sb.expected(stacked, obs["state"][None])[0] + _offset(delta, obs["state"][None])[0]).astype(np.float32)

    cfg = ReplayConfig(bundle=str(sb.path), episodes=[str(f) for f in files],
                       mapping=Mapping(cameras={"top": "image", "wrist": "image"}))
    # one mapping applies to every file of a run: the ALOHA file has no "image" dataset
    with pytest.raises(EpisodeError, match="no dataset 'image' for camera 'top'"):
        run(cfg, source=source)
    rng = HI - LO  # min_max stats: the range is max - min, whatever the data
    names = ["episode_0.hdf5", "demos.hdf5:demo_0"]
    results = []
    for f, mapping in ((files[0], Mapping()), (files[1], Mapping(cameras={"top": "image", "wrist": "image"}))):
        result, traces = run(ReplayConfig(bundle=str(sb.path), episodes=[str(f)], mapping=mapping), source=source)
        results.append(result)
    for (imgs, qpos, demo), result, name in zip(eps, results, names):
        [ep] = result["episodes"]
        assert ep["name"] == name and ep["frames"] == len(qpos)
        b = _model(sb, imgs, qpos)
        s = b + _offset(delta, qpos)
        ol, ex = b - s, _ensemble(b, k) - _ensemble(s, k)
        db, ds = _ensemble(b, k) - demo, _ensemble(s, k) - demo
        _check(ep["open_loop"], ol, rng, name)
        assert ep["open_loop"]["worst"]["row"] == int(np.unravel_index(np.argmax(np.abs(ol) / rng), ol.shape)[1])
        _check(ep["executed"], ex, rng, name)
        _check(ep["demonstration"]["bundle"], db, rng, name)
        _check(ep["demonstration"]["source"], ds, rng, name)
        np.testing.assert_allclose(result["action_range"]["values"], rng)
        assert result["action_range"]["definition"].startswith("max - min")
    # totals of one run over two files (the mapping fits both when the ALOHA file names its camera "image")
    both = tmp_path / "episode_1.hdf5"
    write_aloha(both, {"image": eps[0][0]["top"]}, eps[0][1], eps[0][2])
    result, _ = run(ReplayConfig(bundle=str(sb.path), episodes=[str(both), str(files[1])],
                                 mapping=Mapping(cameras={"top": "image", "wrist": "image"})), source=source)
    b0 = _model(sb, {"top": eps[0][0]["top"], "wrist": eps[0][0]["top"]}, eps[0][1])
    b1 = _model(sb, eps[1][0], eps[1][1])
    s0, s1 = b0 + _offset(delta, eps[0][1]), b1 + _offset(delta, eps[1][1])
    ol = np.concatenate([b0 - s0, b1 - s1])
    ex = np.concatenate([_ensemble(b0, k) - _ensemble(s0, k), _ensemble(b1, k) - _ensemble(s1, k)])
    db = np.concatenate([_ensemble(b0, k) - eps[0][2], _ensemble(b1, k) - eps[1][2]])
    tot = result["total"]
    assert (tot["episodes"], tot["frames"]) == (2, 52)
    for key, d in (("open_loop", ol), ("executed", ex)):
        _check_total(tot[key], d, rng)
    _check_total(tot["demonstration"]["bundle"], db, rng)


def _check_total(stats, diff, rng, first=30):
    """Totals pool the frames of both episodes; the worst frame is named by episode and frame in it."""
    mx, rmse, mxp, rmsep, worst = _figures(diff, rng)
    np.testing.assert_allclose(stats["max_abs"], mx, rtol=1e-4, atol=2e-5)
    np.testing.assert_allclose(stats["rmse"], rmse, rtol=1e-4, atol=2e-5)
    np.testing.assert_allclose(stats["rmse_pct"], rmsep, rtol=1e-4, atol=2e-3)
    frame = int(worst[0])
    where = ("episode_1.hdf5", frame) if frame < first else ("demos.hdf5:demo_0", frame - first)
    assert (stats["worst"]["episode"], stats["worst"]["frame"], stats["worst"]["dim"]) == (*where, int(worst[-1]))


def test_chunk_queue_figures_and_range_from_the_demonstrations(tmp_path):
    n = 3
    sb = _bundle(tmp_path, "queue", {"temporal_ensemble_coeff": None, "n_action_steps": n}, norm=False)
    imgs, qpos, demo = _episode(25, 4)
    f = write_aloha(tmp_path / "episode_0.hdf5", imgs, qpos, demo)
    scale = np.linspace(1.0, 1.02, A)

    def source(obs):
        stacked = np.stack([obs["images"][c.name] for c in sb.spec.cameras])[None]
        return (sb.expected(stacked, obs["state"][None])[0] * scale).astype(np.float32)

    result, traces = run(ReplayConfig(bundle=str(sb.path), episodes=[str(f)]), source=source)
    rng = demo.max(0) - demo.min(0)  # no stats: the span of the demonstration's actions
    np.testing.assert_allclose(result["action_range"]["values"], rng, rtol=1e-6)
    assert "observed range" in result["action_range"]["definition"]
    assert result["policy"]["mode"] == "chunk_queue" and result["policy"]["n_action_steps"] == n
    b = _model(sb, imgs, qpos)
    s = b * scale
    [ep] = result["episodes"]
    _check(ep["open_loop"], b - s, rng)
    _check(ep["executed"], _queue(b, n) - _queue(s, n), rng)
    _check(ep["demonstration"]["bundle"], _queue(b, n) - demo, rng)
    np.testing.assert_allclose(traces[ep["name"]]["bundle"], _queue(b, n), rtol=1e-5, atol=1e-5)


def _record(sb, imgs, qpos, **load):
    """What a Policy did on these frames, step by step: its executed actions."""
    from act_edge import Policy

    with Policy.load(sb.path, backend="onnxruntime", profile=False, **load) as policy:
        policy.reset()
        return np.stack([policy.step({"state": qpos[t], "images": {c: v[t] for c, v in imgs.items()}}).copy()
                         for t in range(len(qpos))])


@pytest.mark.parametrize("runtime", [{"temporal_ensemble_coeff": 0.01, "n_action_steps": 1, "post_steps": SNAP},
                                     {"temporal_ensemble_coeff": None, "n_action_steps": 5, "post_steps": SNAP}])
def test_a_policy_recording_replays_to_zero_difference(tmp_path, runtime):
    sb = _bundle(tmp_path, "rec", runtime)
    imgs, qpos, _ = _episode(40, 3)
    actions = _record(sb, imgs, qpos)
    assert set(np.unique(actions[:, 3])) <= {-1.0, 1.0}  # the post-step ran and is part of the recording
    mode = "ensemble" if runtime["temporal_ensemble_coeff"] is not None else "queue"
    path = write_act_edge(tmp_path / "episode_0.hdf5", imgs, qpos, actions, sha256_file(sb.path / MANIFEST),
                          mode=mode, n_action_steps=runtime["n_action_steps"])
    from act_edge import Policy

    with Policy.load(sb.path, backend="onnxruntime", profile=False) as twin:  # the bundle as its own source
        result, _ = run(ReplayConfig(bundle=str(sb.path), episodes=[str(path)]),
                        source=lambda obs: twin.predict_chunk(obs))
    [ep] = result["episodes"]
    assert ep["layout"] == "act-edge" and ep["notes"] == []
    for figs in (ep["open_loop"], ep["executed"], ep["demonstration"]["bundle"], ep["demonstration"]["source"]):
        assert figs["max_abs"] == [0.0] * A and figs["rmse"] == [0.0] * A


def test_a_wrong_camera_mapping_shows_against_the_demonstration(tmp_path):
    sb = _bundle(tmp_path, "cams", {"temporal_ensemble_coeff": 0.01, "n_action_steps": 1})
    imgs, qpos, _ = _episode(30, 5)
    actions = _record(sb, imgs, qpos)
    other = smooth_frames(30, H, W, 4.0) // 2 + 60  # a third camera: another view, another brightness
    path = write_aloha(tmp_path / "episode_0.hdf5", {**imgs, "low": other}, qpos, actions)
    right, _ = run(ReplayConfig(bundle=str(sb.path), episodes=[str(path)], no_source=True))
    wrong, _ = run(ReplayConfig(bundle=str(sb.path), episodes=[str(path)], no_source=True,
                                mapping=Mapping(cameras={"wrist": "low"})))
    good = right["total"]["demonstration"]["bundle"]
    bad = wrong["total"]["demonstration"]["bundle"]
    assert max(good["max_abs"]) == 0.0
    # the reference error of the wrong mapping, computed here
    expect = _ensemble(_model(sb, {"top": imgs["top"], "wrist": other}, qpos), 0.01) - actions
    np.testing.assert_allclose(bad["max_abs"], np.abs(expect).max(0), rtol=1e-4, atol=1e-5)
    assert min(bad["max_abs"]) > 1e-3
    assert wrong["episodes"][0]["inputs"]["cameras"] == {"top": "/observations/images/top",
                                                        "wrist": "/observations/images/low"}
    assert right["source"]["skipped"] == "--no-source" and right["total"]["open_loop"] is None


def test_a_recording_in_another_mode_is_noted_and_replays_to_zero_in_its_mode(tmp_path):
    sb = _bundle(tmp_path, "modes", {"temporal_ensemble_coeff": 0.01, "n_action_steps": 1})
    imgs, qpos, _ = _episode(24, 6)
    actions = _record(sb, imgs, qpos, temporal_ensemble_coeff=None, n_action_steps=4)
    path = write_act_edge(tmp_path / "episode_0.hdf5", imgs, qpos, actions, sha256_file(sb.path / MANIFEST),
                          mode="queue", n_action_steps=4)
    default, _ = run(ReplayConfig(bundle=str(sb.path), episodes=[str(path)], no_source=True))
    [ep] = default["episodes"]
    assert any("recorded in queue mode, replayed in temporal_ensemble" in n for n in ep["notes"]), ep["notes"]
    np.testing.assert_allclose(ep["demonstration"]["bundle"]["max_abs"],
                               np.abs(_ensemble(_model(sb, imgs, qpos), 0.01) - actions).max(0), rtol=1e-4, atol=1e-5)
    same, _ = run(ReplayConfig(bundle=str(sb.path), episodes=[str(path)], no_source=True,
                               execution={"temporal_ensemble_coeff": None, "n_action_steps": 4}))
    [ep] = same["episodes"]
    assert ep["notes"] == [] and ep["demonstration"]["bundle"]["max_abs"] == [0.0] * A
