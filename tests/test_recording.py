"""Recording on the robot (docs/recording.md): the episode files a Policy writes hold every recorded
step's observation and action exactly, with the documented attributes; files appear under their
final name only when finished; one file per episode; a stalled writer never blocks step() (frames
dropped and counted); a missing h5py and writer errors are one line.

`AffineBackend` is a test double with no model (chunk = a fixed random affine map of the staged state
and frames) so policies of any camera layout run without onnx; the onnxruntime tests use a real bundle.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import sys
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from act_edge import ArgumentError, Policy, RecordingError
from act_edge import episode_file
from act_edge.backends.base import Backend, allocate_io
from act_edge.bundle import MANIFEST, Bundle, io_description
from act_edge.errors import DependencyMissing
from act_edge.observation import ObservationValidator
from act_edge.recording import Recorder
from act_edge.spec import ActSpec, CameraSpec
from bundles import build_synthetic_bundle, random_obs, synthetic_spec

H5 = "h5py writes the episode files (the `replay` extra)"


@pytest.fixture
def h5py():
    return pytest.importorskip("h5py", reason=H5)


class AffineBackend(Backend):
    """chunk = state @ W + mean of every staged frame * D, into preallocated buffers (no allocation)."""

    name = "affine-test"

    def __init__(self, bundle: Bundle, max_batch: int = 1) -> None:
        super().__init__(bundle, max_batch)
        self._inputs, self._output = allocate_io(bundle, max_batch)
        spec = bundle.spec
        rng = np.random.default_rng(11)
        self.W = rng.normal(0, 1, (spec.state_dim, spec.chunk_size * spec.action_dim)).astype(np.float32)
        self.D = rng.uniform(0.001, 0.01, spec.chunk_size * spec.action_dim).astype(np.float32)
        self._flat = self._output.reshape(max_batch, -1)
        self._tmp = np.zeros_like(self.D)
        self._frames = [b for n, b in self._inputs.items() if n not in ("state", "env_state")]

    def upload(self, batch: int) -> None:
        pass

    def execute(self, batch: int) -> None:
        np.dot(self._inputs["state"][0], self.W, out=self._flat[0])
        for buf in self._frames:
            np.multiply(self.D, buf[0].mean(), out=self._tmp)
            np.add(self._flat[0], self._tmp, out=self._flat[0])

    def download(self, batch: int) -> np.ndarray:
        return self._output[:batch]


def memory_policy(spec: ActSpec, coeff: float | None = 0.01) -> Policy:
    bundle = Bundle(Path("memory.actedge"), {"io": io_description(spec)}, spec)
    return Policy(bundle, AffineBackend(bundle), coeff, 1 if coeff is not None else spec.chunk_size)


def run_episode(policy: Policy, spec: ActSpec, steps: int, rng: np.random.Generator) -> list[tuple[dict, np.ndarray]]:
    """Steps with random observations (state as float64, as a robot driver often gives it)."""
    out = []
    for _ in range(steps):
        obs = random_obs(spec, rng)
        obs["state"] = obs["state"].astype(np.float64) * 3.7
        out.append((obs, policy.step(obs).copy()))
    return out


def check_file(h5py, path: Path, spec: ActSpec, steps: list[tuple[dict, np.ndarray]], depth: bool = False) -> None:
    """The file holds exactly the observations fed and the actions returned, in order."""
    with h5py.File(path, "r") as f:
        T = len(steps)
        qpos = f["observations/qpos"]
        assert qpos.dtype == np.float32 and qpos.shape == (T, spec.state_dim)
        np.testing.assert_array_equal(qpos[:], np.stack([o["state"] for o, _ in steps]).astype(np.float32))
        act = f["action"]
        assert act.dtype == np.float32 and act.shape == (T, spec.action_dim)
        np.testing.assert_array_equal(act[:], np.stack([a for _, a in steps]))
        assert sorted(f["observations/images"]) == sorted(c.name for c in spec.cameras)
        for cam in spec.cameras:
            d = f[f"observations/images/{cam.name}"]
            assert d.dtype == np.uint8 and d.shape == (T, cam.height, cam.width, 3)
            assert d.chunks == (1, cam.height, cam.width, 3)
            np.testing.assert_array_equal(d[:], np.stack([o["images"][cam.name] for o, _ in steps]))
        if spec.env_state_dim:
            np.testing.assert_array_equal(f["observations/env_state"][:],
                                          np.stack([o["env_state"] for o, _ in steps]).astype(np.float32))
        else:
            assert "env_state" not in f["observations"]
        if depth:
            for cam in spec.cameras:
                np.testing.assert_array_equal(f[f"observations/depth/{cam.name}"][:],
                                              np.stack([o["depth"][cam.name] for o, _ in steps]))
        else:
            assert "depth" not in f["observations"]
        tick, step = f["act_edge/tick_ns"][:], f["act_edge/step_ns"][:]
        assert tick.dtype == np.int64 and step.dtype == np.int64 and tick.shape == step.shape == (T,)
        assert (step > 0).all()
        assert (np.diff(tick) >= step[:-1]).all()  # each step ended before the next one started


def wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the recording writer did not get there in time"
        time.sleep(0.002)


def attrs(h5py, path: Path) -> dict:
    with h5py.File(path, "r") as f:
        return {k: f.attrs[k] for k in f.attrs}


# --- onnxruntime bundle on disk ------------------------------------------------------------------


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    pytest.importorskip("onnxruntime")
    spec = synthetic_spec(chunk=8, dof=5, cams=(("top", 12, 16), ("wrist", 12, 16)), env_state_dim=3)
    return build_synthetic_bundle(tmp_path_factory.mktemp("rec") / "rec.actedge", spec, fp16=False)


@pytest.mark.parametrize("inference", ["sync", "async"])
@pytest.mark.parametrize("coeff", [0.01, None])
def test_policy_recording_holds_every_step_exactly(h5py, bundle, tmp_path, inference, coeff) -> None:
    policy = Policy.load(bundle.path, backend="onnxruntime", record=tmp_path / "eps", inference=inference,
                         temporal_ensemble_coeff=coeff, n_action_steps=1 if coeff is not None else 3,
                         intra_op_threads=1)
    policy.reset()  # no step yet: no file
    steps = run_episode(policy, bundle.spec, 23, np.random.default_rng(1))
    files = policy.stop_recording()
    assert files == [tmp_path / "eps" / "episode_0.hdf5"]
    assert sorted(p.name for p in (tmp_path / "eps").iterdir()) == ["episode_0.hdf5"]
    check_file(h5py, files[0], bundle.spec, steps)
    a = attrs(h5py, files[0])
    want_sha = hashlib.sha256((bundle.path / MANIFEST).read_bytes()).hexdigest()
    assert a["bundle_manifest_sha256"] == want_sha
    assert a["sim"] == False  # noqa: E712 - numpy bool
    assert a["act_edge_format"] == "act-edge-episode/1"
    assert a["act_edge_version"] == __import__("act_edge").__version__
    assert (a["backend"], a["precision"], a["inference"]) == ("onnxruntime", "fp32", inference)
    assert a["mode"] == ("ensemble" if coeff is not None else "queue")
    if coeff is None:
        assert np.isnan(a["temporal_ensemble_coeff"]) and a["n_action_steps"] == 3
    else:
        assert a["temporal_ensemble_coeff"] == coeff and a["n_action_steps"] == 1
    assert a["dropped_frames"] == 0
    assert [str(c) for c in a["camera_names"]] == ["top", "wrist"]
    assert set(a) == set(episode_file.ATTRIBUTES)
    policy.step(steps[0][0])  # not recording any more; the policy goes on
    assert policy.recording_stats() is None
    policy.close()


def test_recorded_actions_are_the_policy_outputs_on_replay(h5py, bundle, tmp_path) -> None:
    """Feeding the recorded observations to a fresh policy reproduces the recorded actions exactly."""
    with Policy.load(bundle.path, backend="onnxruntime", record=tmp_path / "e.hdf5", intra_op_threads=1) as p:
        run_episode(p, bundle.spec, 15, np.random.default_rng(2))
    with h5py.File(tmp_path / "e.hdf5", "r") as f:
        obs = {"state": f["observations/qpos"][:], "env_state": f["observations/env_state"][:],
               "images": {c: f[f"observations/images/{c}"][:] for c in ("top", "wrist")}}
        recorded = f["action"][:]
    with Policy.load(bundle.path, backend="onnxruntime", intra_op_threads=1) as fresh:
        again = np.stack([fresh.step({"state": obs["state"][t], "env_state": obs["env_state"][t],
                                      "images": {c: v[t] for c, v in obs["images"].items()}}).copy()
                          for t in range(len(recorded))])
    np.testing.assert_array_equal(again, recorded)


# --- layouts (in-memory policies) -----------------------------------------------------------------


def test_two_resolutions_and_stacked_images(h5py, tmp_path) -> None:
    spec = synthetic_spec(chunk=6, dof=4, cams=(("top", 10, 14), ("left", 6, 8), ("right", 6, 8)))
    p = memory_policy(spec)
    p.start_recording(tmp_path)
    steps = run_episode(p, spec, 9, np.random.default_rng(3))
    check_file(h5py, p.stop_recording()[0], spec, steps)

    one = synthetic_spec(chunk=6, dof=4, cams=(("a", 8, 8), ("b", 8, 8)))
    p = memory_policy(one)
    p.start_recording(tmp_path)
    rng = np.random.default_rng(4)
    stacked = []
    for _ in range(5):  # the frames as one (N, H, W, 3) array in manifest order
        obs = random_obs(one, rng)
        s = dict(obs, images=np.stack([obs["images"]["a"], obs["images"]["b"]]))
        stacked.append((obs, p.step(s).copy()))
    (path,) = p.stop_recording()
    assert path.name == "episode_1.hdf5"  # episode_0 is the first policy's
    check_file(h5py, path, one, stacked)


def test_rgbd_depth_is_recorded(h5py, tmp_path) -> None:
    spec = ActSpec(cameras=(CameraSpec("head", 8, 10, channels=4, mean=(0.5,) * 4, std=(0.25,) * 4,
                                       depth_range=(0.0, 4.0)),),
                   state_dim=3, action_dim=3, chunk_size=5, d_model=16, n_heads=2, dim_feedforward=32)
    p = memory_policy(spec)
    p.start_recording(tmp_path / "d.hdf5")
    rng = np.random.default_rng(5)
    steps = []
    for _ in range(7):
        obs = random_obs(spec, rng)
        obs["depth"] = {"head": rng.uniform(0.2, 3.9, (8, 10)).astype(np.float32)}
        steps.append((obs, p.step(obs).copy()))
    (path,) = p.stop_recording()
    check_file(h5py, path, spec, steps, depth=True)


def test_camera_less_layout_writes_no_image_datasets(h5py, tmp_path) -> None:
    """A bundle with state only (no camera input): qpos, action and timing, no images group."""
    io = [{"name": "state", "dtype": "float32", "shape": ["batch", 6]}]
    validator = ObservationValidator(None, io, 1)
    rec = Recorder(tmp_path, validator, 2, dict(_ATTRS, camera_names=[]))
    rng = np.random.default_rng(6)
    states = [rng.normal(0, 1, 6) for _ in range(12)]
    actions = [rng.normal(0, 1, 2).astype(np.float32) for _ in range(12)]
    for s, a in zip(states, actions):
        rec.record({"state": s}, a, time.perf_counter_ns())
    (path,) = rec.close()
    with h5py.File(path, "r") as f:
        assert sorted(f["observations"]) == ["qpos"]
        np.testing.assert_array_equal(f["observations/qpos"][:], np.stack(states).astype(np.float32))
        np.testing.assert_array_equal(f["action"][:], np.stack(actions))
        assert list(f.attrs["camera_names"]) == []


_ATTRS = {"sim": False, "act_edge_format": episode_file.FORMAT, "act_edge_version": "test",
          "bundle_manifest_sha256": "", "backend": "none", "precision": "fp32", "inference": "sync",
          "mode": "queue", "temporal_ensemble_coeff": float("nan"), "n_action_steps": 1, "camera_names": []}


# --- files: atomic, one per episode, numbering ----------------------------------------------------

SPEC = synthetic_spec(chunk=5, dof=3, cams=(("top", 6, 8),))


class GatedWriter(episode_file.EpisodeWriter):
    """The real writer, whose append() waits for the test to open `gate` (a stalled disk)."""

    gate = threading.Event()
    inside = threading.Event()

    def append(self, columns, n):
        type(self).inside.set()
        assert type(self).gate.wait(30), "test gate never opened"
        super().append(columns, n)


@pytest.fixture
def gated(monkeypatch):
    GatedWriter.gate = threading.Event()
    GatedWriter.inside = threading.Event()
    monkeypatch.setattr(episode_file, "EpisodeWriter", GatedWriter)
    yield GatedWriter
    GatedWriter.gate.set()


def test_final_name_only_when_finished(h5py, tmp_path, gated) -> None:
    p = memory_policy(SPEC)
    p.start_recording(tmp_path)
    steps = run_episode(p, SPEC, 6, np.random.default_rng(7))
    assert gated.inside.wait(10)  # the writer has the file open and is writing
    assert sorted(x.name for x in tmp_path.iterdir()) == [".episode_0.hdf5.partial"]
    p.reset()  # the episode ends; its file is renamed once the writer has it all
    assert not (tmp_path / "episode_0.hdf5").exists()
    gated.gate.set()
    more = run_episode(p, SPEC, 4, np.random.default_rng(8))
    files = p.stop_recording()
    assert [f.name for f in files] == ["episode_0.hdf5", "episode_1.hdf5"]
    assert sorted(x.name for x in tmp_path.iterdir()) == ["episode_0.hdf5", "episode_1.hdf5"]  # no .partial
    check_file(h5py, files[0], SPEC, steps)
    check_file(h5py, files[1], SPEC, more)


def test_new_file_per_reset_first_free_number(h5py, tmp_path) -> None:
    (tmp_path / "episode_1.hdf5").write_bytes(b"the user's file")
    (tmp_path / "notes.txt").write_text("keep")
    p = memory_policy(SPEC, coeff=None)
    p.start_recording(tmp_path)
    rng = np.random.default_rng(9)
    episodes = []
    for n in (4, 1, 7):
        p.reset()
        p.reset()  # a reset with no step makes no file
        episodes.append(run_episode(p, SPEC, n, rng))
    p.close()  # close() finishes the last episode like stop_recording()
    names = sorted(x.name for x in tmp_path.iterdir())
    assert names == ["episode_0.hdf5", "episode_1.hdf5", "episode_2.hdf5", "episode_3.hdf5", "notes.txt"]
    assert (tmp_path / "episode_1.hdf5").read_bytes() == b"the user's file"
    assert (tmp_path / "notes.txt").read_text() == "keep"
    for name, steps in zip(("episode_0.hdf5", "episode_2.hdf5", "episode_3.hdf5"), episodes):
        check_file(h5py, tmp_path / name, SPEC, steps)


def test_single_file_target_is_one_episode(h5py, tmp_path) -> None:
    p = memory_policy(SPEC)
    p.start_recording(tmp_path / "upper.HDF5")  # the suffix in any case: a file, not a directory
    run_episode(p, SPEC, 2, np.random.default_rng(10))
    assert p.stop_recording() == [tmp_path / "upper.HDF5"] and (tmp_path / "upper.HDF5").is_file()
    (tmp_path / "upper.HDF5").unlink()
    target = tmp_path / "run.hdf5"
    p.start_recording(target)
    steps = run_episode(p, SPEC, 5, np.random.default_rng(10))
    p.reset()  # the one episode ends here: recording stops, the file is finished
    run_episode(p, SPEC, 3, np.random.default_rng(11))  # not recorded
    assert p.stop_recording() == [target]
    check_file(h5py, target, SPEC, steps)
    assert sorted(x.name for x in tmp_path.iterdir()) == ["run.hdf5"]
    # The file exists now: never replaced.
    before = target.read_bytes()
    with pytest.raises(RecordingError, match=r"the file exists; recording never replaces a file") as exc:
        p.start_recording(target)
    assert "\n" not in str(exc.value) and target.read_bytes() == before


# --- a stalled writer -----------------------------------------------------------------------------


def test_stalled_writer_never_blocks_step_and_counts_drops(h5py, tmp_path, gated) -> None:
    p = memory_policy(SPEC)
    p.start_recording(tmp_path, buffer_frames=8)
    rng = np.random.default_rng(12)
    steps = run_episode(p, SPEC, 1, rng)
    assert gated.inside.wait(10)  # the writer is stuck in its first append, holding slot 0
    steps += run_episode(p, SPEC, 49, rng)
    assert not gated.gate.is_set()  # all 50 steps returned while it was stuck
    st = p.recording_stats()
    assert (st["frames_recorded"], st["dropped_frames"], st["frames_written"]) == (8, 42, 0)
    gated.gate.set()
    (path,) = p.stop_recording()
    check_file(h5py, path, SPEC, steps[:8])  # the 8 frames the ring held: the first 8 steps
    assert attrs(h5py, path)["dropped_frames"] == 42


def test_episode_whose_frames_were_all_dropped_still_gets_a_file(h5py, tmp_path, gated) -> None:
    p = memory_policy(SPEC)
    p.start_recording(tmp_path, buffer_frames=3)
    first = run_episode(p, SPEC, 3, np.random.default_rng(13))
    assert gated.inside.wait(10)
    p.reset()
    run_episode(p, SPEC, 5, np.random.default_rng(14))  # ring full: all 5 dropped
    gated.gate.set()
    files = p.stop_recording()
    assert [f.name for f in files] == ["episode_0.hdf5", "episode_1.hdf5"]
    check_file(h5py, files[0], SPEC, first)
    a = attrs(h5py, files[1])
    assert a["dropped_frames"] == 5
    with h5py.File(files[1], "r") as f:
        assert f["action"].shape == (0, 3)


# --- allocation ----------------------------------------------------------------------------------


def _traced_steps(p: Policy, obs: list[dict], n: int) -> tuple[int, int]:
    tracemalloc.start()
    try:
        for i in range(n):  # warm-up under tracing (one-time allocations land here)
            p.step(obs[i % 3])
        base, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for i in range(n):
            p.step(obs[i % 3])
        cur, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - base, cur - base


def test_recording_step_allocates_nothing(h5py, tmp_path, gated) -> None:
    """With the writer stalled (so only the control thread runs), 1500 recorded steps (a copy into a new
    slot each) and then 1500 dropped ones allocate no more than steps without recording."""
    rng = np.random.default_rng(15)
    obs = [random_obs(SPEC, rng) for _ in range(3)]
    p = memory_policy(SPEC)
    p.start_recording(tmp_path, buffer_frames=3000)
    p.step(obs[0])
    assert gated.inside.wait(10)  # the writer holds slot 0 and waits
    peak, grown = _traced_steps(p, obs, 1499)
    st = p.recording_stats()
    assert (st["frames_recorded"], st["dropped_frames"]) == (2999, 0)
    assert peak < 4096 and grown < 2048, (peak, grown)
    peak, grown = _traced_steps(p, obs, 1500)  # the last free slot, then ring full: dropped and counted
    st = p.recording_stats()
    assert (st["frames_recorded"], st["dropped_frames"]) == (3000, 2999)
    assert peak < 4096 and grown < 2048, (peak, grown)
    gated.gate.set()
    (path,) = p.stop_recording()
    with h5py.File(path, "r") as f:
        assert f["action"].shape == (3000, 3) and f.attrs["dropped_frames"] == 2999


# --- errors --------------------------------------------------------------------------------------


def test_no_h5py_is_one_line(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "h5py", None)  # import h5py raises ImportError
    p = memory_policy(SPEC)
    with pytest.raises(DependencyMissing) as exc:
        p.start_recording(tmp_path / "eps")
    msg = str(exc.value)
    assert "\n" not in msg and "needs h5py" in msg and "pip install 'act-edge[replay]'" in msg
    assert not (tmp_path / "eps").exists()  # nothing created
    p.step(random_obs(SPEC, np.random.default_rng(16)))  # the policy is untouched
    assert p.recording_stats() is None


def test_no_h5py_at_load_closes_the_backend(tmp_path, monkeypatch) -> None:
    pytest.importorskip("onnxruntime")
    b = build_synthetic_bundle(tmp_path / "b.actedge", synthetic_spec(chunk=4, dof=3, cams=(("top", 6, 8),)), fp16=False)
    monkeypatch.setitem(sys.modules, "h5py", None)
    closed = []
    from act_edge.backends import onnxruntime as ort_backend
    original = ort_backend.OnnxRuntimeBackend.close
    monkeypatch.setattr(ort_backend.OnnxRuntimeBackend, "close", lambda self: (closed.append(1), original(self)))
    with pytest.raises(DependencyMissing, match=r"pip install 'act-edge\[replay\]'"):
        Policy.load(b.path, backend="onnxruntime", record=tmp_path / "eps")
    assert closed


def test_bad_targets_and_arguments(h5py, tmp_path) -> None:
    p = memory_policy(SPEC)
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(RecordingError, match=r"file\.txt: not a directory and does not end in \.hdf5"):
        p.start_recording(tmp_path / "file.txt")
    with pytest.raises(RecordingError, match=r"cannot create"):
        p.start_recording(tmp_path / "file.txt" / "sub")
    (tmp_path / ".busy.hdf5.partial").write_bytes(b"")
    with pytest.raises(RecordingError, match=r"\.busy\.hdf5\.partial exists beside it"):
        p.start_recording(tmp_path / "busy.hdf5")
    for bad in (0, -1, 2.5, True, "8"):
        with pytest.raises(ArgumentError, match=r"buffer_frames must be an integer >= 1"):
            p.start_recording(tmp_path / "eps", buffer_frames=bad)
    p.start_recording(tmp_path / "eps")
    with pytest.raises(ArgumentError, match=r"already recording to .*eps; call stop_recording\(\) first"):
        p.start_recording(tmp_path / "other")
    assert p.stop_recording() == []  # no step: no file
    assert p.stop_recording() == []  # not recording: nothing to do


class FailingWriter(episode_file.EpisodeWriter):
    """The real writer until `after` frames are in the file, then the disk is full."""

    after = 0

    def append(self, columns, n):
        if self.count + n > type(self).after:
            raise OSError(errno.ENOSPC, "No space left on device")
        super().append(columns, n)


def test_writer_error_is_reported_once_and_step_goes_on(h5py, tmp_path, monkeypatch, caplog) -> None:
    p = memory_policy(SPEC)
    p.start_recording(tmp_path, buffer_frames=4)
    first = run_episode(p, SPEC, 3, np.random.default_rng(17))
    p.reset()
    wait_for(lambda: p.recording_stats()["files"] != [])  # episode 0 finished with the real writer
    monkeypatch.setattr(episode_file, "EpisodeWriter", FailingWriter)
    FailingWriter.after = 0
    with caplog.at_level(logging.WARNING, logger="act_edge.recording"):
        rng = np.random.default_rng(18)
        for _ in range(40):  # keeps stepping through the failure
            p.step(random_obs(SPEC, rng))
            time.sleep(0.001)
        deadline = time.monotonic() + 10
        while p.recording_stats()["error"] is None and time.monotonic() < deadline:
            p.step(random_obs(SPEC, rng))
            time.sleep(0.005)
        assert p.recording_stats()["error"] is not None
        assert p.recording_stats()["recording"] is False
        with pytest.raises(RecordingError) as exc:
            p.stop_recording()
    msg = str(exc.value)
    assert "\n" not in msg and "No space left on device" in msg and "episode_1.hdf5.partial" in msg
    assert "1 earlier file(s) kept" in msg
    assert len([r for r in caplog.records if r.name == "act_edge.recording"]) == 1
    assert sorted(x.name for x in tmp_path.iterdir()) == ["episode_0.hdf5"]  # no half file, no .partial
    check_file(h5py, tmp_path / "episode_0.hdf5", SPEC, first)
    p.step(random_obs(SPEC, rng))
    p.close()


def test_directory_removed_while_recording(h5py, tmp_path, caplog) -> None:
    """A real failure, no test double: the folder goes away mid-episode; the rename at the end fails,
    stop_recording() says so in one line (logged once) and close() still works."""
    folder = tmp_path / "eps"
    p = memory_policy(SPEC)
    p.start_recording(folder)
    run_episode(p, SPEC, 5, np.random.default_rng(19))
    wait_for(lambda: p.recording_stats()["frames_written"] == 5)
    for x in folder.iterdir():
        x.unlink()
    folder.rmdir()
    with caplog.at_level(logging.WARNING, logger="act_edge.recording"):
        with pytest.raises(RecordingError, match=r"recording to .*eps: renaming .*eps/\.episode_0\.hdf5\.partial to "
                           r"episode_0\.hdf5 failed \(No such file or directory\)") as exc:
            p.stop_recording()
    assert "\n" not in str(exc.value)
    assert len([r for r in caplog.records if r.name == "act_edge.recording"]) == 1
    assert not folder.exists()
    p.close()


def test_single_file_taken_while_recording_is_kept_as_partial(h5py, tmp_path) -> None:
    """Someone else creates the target file mid-episode: it is not replaced, the episode stays complete
    under its .partial name and the error says where."""
    target = tmp_path / "run.hdf5"
    p = memory_policy(SPEC)
    p.start_recording(target)
    steps = run_episode(p, SPEC, 4, np.random.default_rng(21))
    target.write_bytes(b"someone else's")
    with pytest.raises(RecordingError, match=r"renaming .*\.run\.hdf5\.partial to run\.hdf5 failed \(.*run\.hdf5 "
                       r"appeared while recording\); recording stopped, the complete episode is kept as"):
        p.stop_recording()
    assert target.read_bytes() == b"someone else's"
    check_file(h5py, tmp_path / ".run.hdf5.partial", SPEC, steps)


def test_close_finishes_the_recording_and_swallows_a_logged_error(h5py, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(episode_file, "EpisodeWriter", FailingWriter)
    FailingWriter.after = 0
    p = memory_policy(SPEC)
    p.start_recording(tmp_path)
    run_episode(p, SPEC, 3, np.random.default_rng(20))
    p.close()  # the writer failed: logged, not raised from close()
    assert list(tmp_path.iterdir()) == []


def test_runtime_import_does_not_import_h5py() -> None:
    """h5py is imported when recording starts, never by `import act_edge` (a robot without the extra)."""
    import subprocess

    code = ("import sys, act_edge, act_edge.recording, act_edge.episode_file; "
            "print('h5py' in sys.modules)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[1])
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "False"


def test_policy_dropped_without_close_still_finishes_its_file(h5py, tmp_path) -> None:
    import gc

    p = memory_policy(SPEC)
    p.start_recording(tmp_path)
    steps = run_episode(p, SPEC, 6, np.random.default_rng(22))
    del p
    gc.collect()
    assert sorted(x.name for x in tmp_path.iterdir()) == ["episode_0.hdf5"]
    check_file(h5py, tmp_path / "episode_0.hdf5", SPEC, steps)
    assert not [t for t in threading.enumerate() if t.name == "act-edge-recorder"]


def test_camera_name_that_is_not_a_dataset_name_is_refused(h5py, tmp_path) -> None:
    p = memory_policy(synthetic_spec(chunk=4, dof=3, cams=(("arm/left", 6, 8),)))
    with pytest.raises(RecordingError, match=r"camera name 'arm/left' cannot name an HDF5 dataset"):
        p.start_recording(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_ring_pages_are_touched_before_the_first_step(h5py, tmp_path) -> None:
    """Regression: np.zeros maps the ring lazily, so the first pass through it page-faulted inside step()
    (~490 minor faults in 300 steps of one 64x96 camera); start_recording now touches every page."""
    resource = pytest.importorskip("resource")
    if not hasattr(resource, "RUSAGE_THREAD"):
        pytest.skip("per-thread fault counts need Linux (RUSAGE_THREAD)")
    spec = synthetic_spec(chunk=5, dof=3, cams=(("top", 64, 96),))
    p = memory_policy(spec)
    obs = random_obs(spec, np.random.default_rng(23))
    for _ in range(50):
        p.step(obs)
    p.start_recording(tmp_path, buffer_frames=400)
    before = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
    for _ in range(300):
        p.step(obs)
    faults = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - before
    p.close()
    assert faults < 50, f"{faults} page faults in the control thread over 300 recorded steps"


def test_interpreter_exit_without_close_finishes_the_file(h5py, tmp_path) -> None:
    """A robot script that ends without close()/stop_recording() still leaves a finished file (the
    Policy's finalizer runs at exit), not a .partial."""
    import subprocess
    import textwrap

    root = Path(__file__).resolve().parents[1]
    code = textwrap.dedent(f"""
        import sys
        sys.path[:0] = [{str(root)!r}, {str(root / 'tests')!r}]
        import numpy as np
        from test_recording import SPEC, memory_policy, run_episode
        p = memory_policy(SPEC)
        p.start_recording({str(tmp_path)!r})
        steps = run_episode(p, SPEC, 7, np.random.default_rng(24))
        np.save({str(tmp_path / 'actions.npy')!r}, np.stack([a for _, a in steps]))
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert sorted(x.name for x in tmp_path.iterdir()) == ["actions.npy", "episode_0.hdf5"]
    with h5py.File(tmp_path / "episode_0.hdf5", "r") as f:
        np.testing.assert_array_equal(f["action"][:], np.load(tmp_path / "actions.npy"))


class ClosingWriter(episode_file.EpisodeWriter):
    """Closes the recorder from inside the writer thread (as a Policy finalizer run by a garbage
    collection that happens in that thread would)."""

    recorder = None

    def append(self, columns, n):
        super().append(columns, n)
        rec, type(self).recorder = type(self).recorder, None
        if rec is not None:
            rec.close_quietly()


def test_recorder_closed_from_its_own_writer_thread_finishes(h5py, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(episode_file, "EpisodeWriter", ClosingWriter)
    p = memory_policy(SPEC)
    p.start_recording(tmp_path, buffer_frames=4)
    ClosingWriter.recorder = p._recorder
    steps = run_episode(p, SPEC, 2, np.random.default_rng(25))
    thread = p._recorder._thread
    thread.join(10)
    assert not thread.is_alive()
    assert p.stop_recording() == [tmp_path / "episode_0.hdf5"]
    check_file(h5py, tmp_path / "episode_0.hdf5", SPEC, steps)


@pytest.mark.parametrize("hard_links", [True, False])
def test_file_taken_meanwhile_gets_the_next_number(h5py, tmp_path, monkeypatch, hard_links) -> None:
    """A file that appeared under the final name is never replaced: the episode takes the next free
    number. Also where os.link is refused (FAT/exFAT, a USB stick on the robot): rename instead."""
    from act_edge import recording

    def no_link(src, dst):
        raise PermissionError(1, "Operation not permitted")

    if not hard_links:
        monkeypatch.setattr(recording.os, "link", no_link)
    p = memory_policy(SPEC)
    p.start_recording(tmp_path)
    steps = run_episode(p, SPEC, 3, np.random.default_rng(26))
    wait_for(lambda: p.recording_stats()["frames_written"] == 3)
    (tmp_path / "episode_0.hdf5").write_bytes(b"appeared meanwhile")
    assert p.stop_recording() == [tmp_path / "episode_1.hdf5"]
    assert (tmp_path / "episode_0.hdf5").read_bytes() == b"appeared meanwhile"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["episode_0.hdf5", "episode_1.hdf5"]
    check_file(h5py, tmp_path / "episode_1.hdf5", SPEC, steps)
