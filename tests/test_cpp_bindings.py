"""C++ runtime (cpp_bindings/): builds it with CMake, runs its ctest suite, and proves parity with
the Python semantics: temporal ensemble, chunk queue, observation validation, sha256, profiler,
manifest post-steps (gripper snapping) and the model-output finite check.

Parity is checked against a float64 reference written here from the spec (always), and against
the project's Python classes (act_edge.ensemble / act_edge.observation) where they exist.

Needs cmake, a C++17 compiler and the Debian packages nlohmann-json3-dev, pybind11-dev, catch2
(libbenchmark-dev optional). Their absence FAILS these tests (CI installs them), naming what is missing.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import re
from pathlib import Path

import numpy as np
import pytest

from cpp_build import _run, build_cpp, import_cpp


@pytest.fixture(scope="session")
def cpp_build() -> Path:
    return build_cpp()


@pytest.fixture(scope="session")
def cpp(cpp_build: Path):
    return import_cpp(cpp_build)


def test_ctest(cpp_build: Path) -> None:
    out = _run(["ctest", "--test-dir", str(cpp_build), "--output-on-failure"], "ctest")
    assert "100% tests passed" in out, out


def test_configure_reports_tensorrt(cpp_build: Path) -> None:
    """Without TensorRT the build still succeeds and says why TrtPolicy is skipped."""
    cache = (cpp_build / "CMakeCache.txt").read_text()
    if "TensorRT_nvinfer_LIBRARY:FILEPATH=TensorRT_nvinfer_LIBRARY-NOTFOUND" not in cache:
        pytest.skip("TensorRT is installed here: TrtPolicy is built")
    out = _run(["cmake", str(cpp_build)], "re-configuring cpp_bindings")
    assert "TrtPolicy and examples/control_loop are skipped" in out


# --- temporal ensemble -------------------------------------------------------------------------

def reference_ensemble(chunks: np.ndarray, coeff: float, reset_at: tuple[int, ...] = ()) -> np.ndarray:
    """Float64, straight from the definition: action_t = weighted mean of the live predictions for t
    (made at max(0, t-C+1)..t since the last reset), w_i = exp(-k*i), i = 0 the oldest."""
    T, C, A = chunks.shape
    out = np.empty((T, A))
    start = 0
    for s in range(T):
        if s in reset_at:
            start = s
        t = s - start
        t0 = max(0, t - C + 1)
        made = np.arange(t0, t + 1)  # steps (since reset) the live predictions were made at
        rows = chunks[start + made, t - made].astype(np.float64)  # (n, A)
        w = np.exp(-coeff * np.arange(len(made)))
        out[s] = (w[:, None] * rows).sum(0) / w.sum()
    return out


CASES = [(100, 14), (7, 3), (1, 2)]
COEFFS = [0.01, 0.0, -0.01]


@pytest.mark.parametrize("chunk,dim", CASES)
@pytest.mark.parametrize("coeff", COEFFS)
def test_ensemble_matches_float64_reference(cpp, chunk: int, dim: int, coeff: float) -> None:
    rng = np.random.default_rng(chunk * 1000 + dim)
    chunks = rng.standard_normal((1000, chunk, dim)).astype(np.float32)
    got = cpp.TemporalEnsemble(chunk, dim, coeff).run(chunks)
    np.testing.assert_allclose(got, reference_ensemble(chunks, coeff), rtol=0, atol=1e-6)


@pytest.mark.parametrize("coeff", COEFFS)
def test_ensemble_reset_mid_episode(cpp, coeff: float) -> None:
    rng = np.random.default_rng(7)
    chunks = rng.standard_normal((1000, 100, 14)).astype(np.float32)
    resets = (1, 333, 334, 700)
    got = cpp.TemporalEnsemble(100, 14, coeff).run(chunks, list(resets))
    np.testing.assert_allclose(got, reference_ensemble(chunks, coeff, resets), rtol=0, atol=1e-6)


def test_ensemble_update_api(cpp) -> None:
    """Step-by-step update() (the Python class's API) equals run(); reset() restarts at t = 0."""
    rng = np.random.default_rng(3)
    chunks = rng.standard_normal((60, 7, 3)).astype(np.float32)
    ens = cpp.TemporalEnsemble(7, 3, 0.01)
    steps = np.stack([ens.update(c) for c in chunks])
    assert ens.steps == 60
    np.testing.assert_array_equal(steps, cpp.TemporalEnsemble(7, 3, 0.01).run(chunks))
    ens.reset()
    np.testing.assert_array_equal(ens.update(chunks[5]), chunks[5][0])
    with pytest.raises(ValueError):
        ens.update(chunks[0][:5])
    with pytest.raises(ValueError):
        cpp.TemporalEnsemble(0, 3, 0.01)


def _python_ensemble_class():
    mod = pytest.importorskip("act_edge.ensemble", reason="act_edge.ensemble not merged yet")
    if not hasattr(mod, "TemporalEnsemble"):
        pytest.skip("act_edge.ensemble has no TemporalEnsemble")
    return mod.TemporalEnsemble


@pytest.mark.parametrize("chunk,dim", CASES[:2])
@pytest.mark.parametrize("coeff", COEFFS)
def test_ensemble_matches_python_runtime(cpp, chunk: int, dim: int, coeff: float) -> None:
    PyEnsemble = _python_ensemble_class()
    rng = np.random.default_rng(11)
    chunks = rng.standard_normal((1000, chunk, dim)).astype(np.float32)
    py, cc = PyEnsemble(chunk, dim, coeff), cpp.TemporalEnsemble(chunk, dim, coeff)
    for s, c in enumerate(chunks):
        if s == 500:
            py.reset()
            cc.reset()
        np.testing.assert_allclose(cc.update(c), np.asarray(py.update(c)), rtol=0, atol=1e-6, err_msg=f"step {s}")


# --- chunk queue -------------------------------------------------------------------------------

@pytest.mark.parametrize("n_action_steps", [1, 3, 10])
def test_chunk_queue(cpp, n_action_steps: int) -> None:
    rng = np.random.default_rng(n_action_steps)
    q = cpp.ChunkQueue(n_action_steps, 4)
    queries, got, want = 0, [], []
    for _ in range(37):
        if q.empty:
            chunk = rng.standard_normal((10, 4)).astype(np.float32)
            q.push(chunk)
            queries += 1
            want.extend(chunk[:n_action_steps])
        got.append(q.pop())
    assert queries == -(-37 // n_action_steps)
    np.testing.assert_array_equal(np.array(got), np.array(want[:37]))
    q.reset()
    assert q.empty and len(q) == 0
    with pytest.raises(IndexError):
        q.pop()
    with pytest.raises(ValueError):
        cpp.ChunkQueue(0, 4)


def test_chunk_queue_matches_python_runtime(cpp) -> None:
    from act_edge.ensemble import ChunkQueue as PyQueue

    rng = np.random.default_rng(5)
    py, cc = PyQueue(10, 3, 4), cpp.ChunkQueue(4, 3)
    for _ in range(25):
        assert cc.empty == py.needs_chunk
        if cc.empty:
            chunk = rng.standard_normal((10, 3)).astype(np.float32)
            py.push(chunk)
            cc.push(chunk)
        np.testing.assert_array_equal(cc.pop(), np.asarray(py.pop()))


# --- non-finite chunks (issue 10 defect 3c) ----------------------------------------------------

def _python_refusal(chunk: np.ndarray) -> str:
    """The Python Policy's ActionError text for this chunk (act_edge.policy._check_finite)."""
    from act_edge.errors import ActionError
    from act_edge.policy import _check_finite

    with pytest.raises(ActionError) as info:
        _check_finite(chunk)
    return str(info.value)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_ensemble_refuses_non_finite_chunk_like_python(cpp, bad: float) -> None:
    """A nan/inf chunk raises ActionError with the Python Policy's text and leaves the ensemble as
    it was: the actions that follow equal those of a twin that never saw it (it once returned
    normally and poisoned the next chunk-1 actions)."""
    rng = np.random.default_rng(17)
    chunks = rng.standard_normal((250, 100, 14)).astype(np.float32)
    ens, twin = cpp.TemporalEnsemble(100, 14, 0.01), cpp.TemporalEnsemble(100, 14, 0.01)
    for t, chunk in enumerate(chunks):
        if t % 40 == 9:
            poisoned = chunk.copy()
            poisoned[tuple(rng.integers(0, (100, 14)))] = bad
            with pytest.raises(cpp.ActionError) as info:
                ens.update(poisoned)
            assert str(info.value) == _python_refusal(poisoned)
            assert ens.steps == t
        got = ens.update(chunk)
        assert np.isfinite(got).all()
        np.testing.assert_array_equal(got, twin.update(chunk))
    with pytest.raises(cpp.ActionError):
        cpp.TemporalEnsemble(7, 3, 0.0).run(np.where(np.arange(3 * 7 * 3).reshape(3, 7, 3) == 40, bad,
                                                     chunks[:3, :7, :3]).astype(np.float32))


def test_chunk_queue_refuses_non_finite_chunk_like_python(cpp) -> None:
    rng = np.random.default_rng(4)
    q = cpp.ChunkQueue(3, 5)
    chunk = rng.standard_normal((10, 5)).astype(np.float32)
    for where, bad in (((0, 0), np.nan), ((2, 4), -np.inf), ((9, 3), np.inf)):  # row 9 is never queued: refused too
        poisoned = chunk.copy()
        poisoned[where] = bad
        with pytest.raises(cpp.ActionError) as info:
            q.push(poisoned)
        assert str(info.value) == _python_refusal(poisoned)
        assert q.empty and len(q) == 0
    q.push(chunk)
    np.testing.assert_array_equal(np.stack([q.pop() for _ in range(3)]), chunk[:3])


# --- observation validation --------------------------------------------------------------------

IO_INPUTS = [  # as act_edge.bundle.io_description writes them
    {"name": "images", "dtype": "uint8", "shape": ["batch", 2, 48, 64, 3], "layout": "BNHWC", "cameras": ["top", "wrist"]},
    {"name": "state", "dtype": "float32", "shape": ["batch", 14], "layout": "BS", "units": "robot"},
    {"name": "env_state", "dtype": "float32", "shape": ["batch", 5], "layout": "BE", "units": "robot"},
]


def good_obs(batch: int | None = None) -> dict:
    lead = () if batch is None else (batch,)
    rng = np.random.default_rng(7)
    frame = lambda: rng.integers(0, 256, lead + (48, 64, 3), dtype=np.uint8)  # noqa: E731
    return {
        "images": {"top": frame(), "wrist": frame()},
        "state": rng.normal(size=lead + (14,)).astype(np.float32),
        "env_state": rng.normal(size=lead + (5,)),
    }


def _edit(fn):
    obs = good_obs()
    fn(obs)
    return obs


def _nan_state(o):
    o["state"][3] = np.nan
    o["state"][5] = np.inf


def _neg_inf_env(o):
    o["env_state"][4] = -np.inf


# (observation, batched, expected message): the literal forms of docs/observation-rules.md
def _f64_with(v: np.ndarray, i: int, value: float) -> np.ndarray:
    out = v.astype(np.float64)
    out[i] = value
    return out


BAD_OBSERVATIONS = [
    ([1, 2], False, "observation: expected a dict, got list"),
    (_edit(lambda o: o.update(joints=np.zeros(14, np.float32))), False,
     "observation['joints']: unknown field (expected one of ['env_state', 'images', 'state'])"),
    (_edit(lambda o: o.pop("state")), False, "state: missing (expected float32 array of shape (14,))"),
    (_edit(lambda o: o.pop("env_state")), False, "env_state: missing (expected float32 array of shape (5,))"),
    (_edit(lambda o: o["images"].update(left=np.zeros((48, 64, 3), np.uint8))), False,
     "images['left']: unknown camera (expected one of ['top', 'wrist'])"),
    (_edit(lambda o: o["images"].pop("top")), False, "images['top']: missing (expected uint8 array of shape (48, 64, 3))"),
    (_edit(lambda o: o.update(state=np.zeros(14, np.int64))), False, "state: expected dtype float32, got int64"),
    (_edit(lambda o: o["images"].update(wrist=np.zeros((48, 64, 3), np.float32))), False,
     "images['wrist']: expected dtype uint8, got float32"),
    (_edit(lambda o: o.update(state=np.zeros((1, 14), np.float32))), False, "state: expected shape (14,), got (1, 14)"),
    (_edit(lambda o: o["images"].update(top=np.zeros((64, 48, 3), np.uint8))), False,
     "images['top']: expected shape (48, 64, 3), got (64, 48, 3)"),
    (_edit(lambda o: o.update(images=np.zeros((1, 48, 64, 3), np.uint8))), False,
     "images: expected shape (2, 48, 64, 3), got (1, 48, 64, 3)"),
    (_edit(_nan_state), False, "state: non-finite value nan at index 3"),
    (_edit(_neg_inf_env), False, "env_state: non-finite value -inf at index 4"),
    # rule 13: float64 beyond float32's range (the cast would make it inf)
    (_edit(lambda o: o.update(state=_f64_with(o["state"], 6, 1e300))), False,
     "state: value 1e+300 at index 6 is outside the float32 range (the model's input type; it would become inf)"),
    (_edit(lambda o: o.update(env_state=_f64_with(o["env_state"], 2, -3.5e38))), False,
     "env_state: value -3.5e+38 at index 2 is outside the float32 range (the model's input type; it would become inf)"),
    (good_obs(), True, "state: expected shape (batch, 14), got (14,)"),
    (_edit(lambda o: o.pop("state")), True, "state: missing (expected float32 array of shape (batch, 14))"),
    (_edit(lambda o: o.update(zz=1, aa=2)), False,
     "observation['aa']: unknown field (expected one of ['env_state', 'images', 'state'])"),
    (_edit(lambda o: o.update(state=[0.0] * 14)), False, "state: expected a numpy array, got list"),
    # issue 10 defect 2: a mapping where a vector belongs (the C++ message once viewed a freed string)
    (_edit(lambda o: o.update(state={"joints": o["state"]})), False, "state: expected a numpy array, got dict"),
    (_edit(lambda o: o.update(env_state={"a": o["env_state"], "b": o["state"]})), False,
     "env_state: expected a numpy array, got dict"),
    (_edit(lambda o: o.update(state={"j": good_obs(2)["state"]})), True, "state: expected a numpy array, got dict"),
    (_edit(lambda o: o["images"].update(top=[[0]])), False, "images['top']: expected a numpy array, got list"),
    (_edit(lambda o: o.update(images=7)), False, "images: expected a dict of cameras or a uint8 array, got int"),
    (_edit(lambda o: o.update(state=good_obs(2)["state"], images=good_obs(3)["images"],
                              env_state=good_obs(2)["env_state"])), True,
     "images['top']: expected shape (2, 48, 64, 3), got (3, 48, 64, 3)"),
    # order: every field's dtype is checked before any field's shape
    (_edit(lambda o: (o.update(state=np.ones((2, 14), np.float32)),
                      o["images"].update(wrist=o["images"]["wrist"].astype(np.int16)))), False,
     "images['wrist']: expected dtype uint8, got int16"),
    # order: a missing camera is reported before a wrong dtype elsewhere
    (_edit(lambda o: (o["images"].pop("wrist"), o.update(state=np.zeros(14, np.int64)))), False,
     "images['wrist']: missing (expected uint8 array of shape (48, 64, 3))"),
]

GOOD_OBSERVATIONS = [
    (good_obs(), False),
    (good_obs(batch=3), True),
    (_edit(lambda o: o.update(images=np.zeros((2, 48, 64, 3), np.uint8))), False),  # stacked, manifest order
]


@pytest.mark.parametrize("obs,batched,message", BAD_OBSERVATIONS)
def test_cpp_rejections_match_documented_messages(cpp, obs, batched: bool, message: str) -> None:
    assert cpp.check_observation(IO_INPUTS, obs, batched) == message
    with pytest.raises(ValueError) as info:
        cpp.validate_observation(json.dumps(IO_INPUTS), obs, batched)
    assert str(info.value) == message
    assert issubclass(cpp.ObservationError, ValueError)


@pytest.mark.parametrize("obs,batched", GOOD_OBSERVATIONS)
def test_cpp_accepts_valid_observations(cpp, obs, batched: bool) -> None:
    assert cpp.check_observation(IO_INPUTS, obs, batched) is None


def _python_validate():
    mod = pytest.importorskip("act_edge.observation", reason="act_edge.observation not merged yet")
    fn = getattr(mod, "validate_observation", None)
    if fn is None:
        pytest.skip("act_edge.observation has no validate_observation")
    errors = importlib.import_module("act_edge.errors")
    return fn, getattr(errors, "ObservationError", ValueError)


@pytest.mark.parametrize("obs,batched,message", BAD_OBSERVATIONS)
def test_same_rejections_as_python_runtime(cpp, obs, batched: bool, message: str) -> None:
    validate, ObservationError = _python_validate()
    with pytest.raises(ObservationError) as info:
        validate(IO_INPUTS, obs, batched=batched)
    assert str(info.value) == cpp.check_observation(IO_INPUTS, obs, batched)


def test_batch_limit_is_the_same_in_both(cpp) -> None:
    validate, ObservationError = _python_validate()
    obs = good_obs(batch=5)
    msg = "state: batch 5 is outside 1..4"
    assert cpp.check_observation(IO_INPUTS, obs, True, 4) == msg
    with pytest.raises(ObservationError, match=re.escape(msg)):
        validate(IO_INPUTS, obs, batched=True, max_batch=4)
    assert cpp.check_observation(IO_INPUTS, obs, True, 5) is None


@pytest.mark.parametrize("obs,batched", GOOD_OBSERVATIONS)
def test_same_acceptances_as_python_runtime(cpp, obs, batched: bool) -> None:
    validate, _ = _python_validate()
    validate(IO_INPUTS, obs, batched=batched)
    assert cpp.check_observation(IO_INPUTS, obs, batched) is None


# --- sha256, manifest, profiler ----------------------------------------------------------------

@pytest.mark.parametrize("size", [0, 1, 55, 56, 63, 64, 65, 1000, (1 << 20) + 3])
def test_sha256_matches_hashlib(cpp, tmp_path: Path, size: int) -> None:
    data = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes()
    assert cpp.sha256_hex(data) == hashlib.sha256(data).hexdigest()
    p = tmp_path / "engine.plan"
    p.write_bytes(data)
    assert cpp.sha256_file(str(p)) == hashlib.sha256(data).hexdigest()


def test_manifest_errors_match_python_bundle_reader(cpp, tmp_path: Path) -> None:
    from act_edge.bundle import load_bundle
    from act_edge.errors import BundleError

    for manifest in ({"format": "onnx", "schema_version": 1}, {"format": "act-edge-bundle", "schema_version": 2}):
        b = tmp_path / "x.actedge"
        b.mkdir(exist_ok=True)
        (b / "manifest.json").write_text(json.dumps(manifest))
        with pytest.raises(BundleError) as info:
            load_bundle(b)
        assert cpp.parse_manifest_error(json.dumps(manifest), str(b / "manifest.json")) == str(info.value)


def _replay_python_profiler(monkeypatch, durations_ns: np.ndarray, capacity: int):
    """act_edge.profiler.StageProfiler fed `durations_ns` (steps, stages) through its public
    start/mark/end, on a fake perf_counter_ns that advances by exactly each stage's duration
    (0: the clock does not move, the stage reads as skipped)."""
    from act_edge import profiler as pyprof

    clock = [10**12]

    def fake_ns() -> int:
        return clock[0]

    monkeypatch.setattr(pyprof.time, "perf_counter_ns", fake_ns)
    prof = pyprof.StageProfiler(capacity)  # binds the clock at construction
    total = len(pyprof.STAGES) - 1
    for row in durations_ns:
        t0 = prof.start()
        t = t0
        for stage in range(total):
            clock[0] += int(row[stage])
            t = prof.mark(stage, t)
        prof.end(t0, t0 + int(row[total]))
    return prof


def _assert_reports_equal(got, want, where: str = "report") -> None:
    """Same keys in the same order, same ints, floats within 1e-9 relative."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and list(got) == list(want), f"{where}: keys {list(got)} != {list(want)}"
        for k in want:
            _assert_reports_equal(got[k], want[k], f"{where}[{k!r}]")
    elif isinstance(want, float):
        assert isinstance(got, float), f"{where}: {got!r} is not a float"
        assert got == pytest.approx(want, rel=1e-9, abs=1e-12), f"{where}: {got!r} != {want!r}"
    else:
        assert type(got) is type(want) and got == want, f"{where}: {got!r} != {want!r}"


@pytest.mark.parametrize("steps,capacity", [(0, 16), (1, 16), (7, 16), (500, 1000), (1000, 300)])
def test_profiler_report_matches_python(cpp, monkeypatch, steps: int, capacity: int) -> None:
    """The C++ Profiler and act_edge.profiler.StageProfiler, fed the same per-step durations
    (skipped stages as 0, a stage that never runs, a ring that wraps), report the same dict."""
    from act_edge.profiler import STAGES

    assert tuple(cpp.PROFILER_STAGES) == STAGES
    rng = np.random.default_rng(steps)
    ns = rng.integers(1, 3_000_000, (steps, len(STAGES)), dtype=np.int64)
    ns[:, :-1] *= rng.random((steps, len(STAGES) - 1)) > 0.3  # ~30% of stage timings skipped
    ns[:, STAGES.index("host_to_device")] = 0  # never runs: left out of both reports
    ns[:, -1] += ns[:, :-1].sum(axis=1)  # total covers its stages, plus overhead

    want = _replay_python_profiler(monkeypatch, ns, capacity).report()
    prof = cpp.Profiler(capacity)
    for i, row in enumerate(ns):
        us = [int(x) / 1e3 for x in row]
        if i % 2:
            prof.record_step(us)
        else:
            prof.begin_step()
            for name, x in zip(STAGES, us):
                if x:
                    prof.record(name, x)
            prof.end_step()
    assert (prof.steps, prof.window) == (steps, min(steps, capacity))
    got = json.loads(prof.report_json())
    assert "host_to_device" not in got["stages"]
    assert ("jitter" in got) == (steps > 0)
    _assert_reports_equal(got, want)


def test_profiler_rejects_unknown_stage(cpp) -> None:
    prof = cpp.Profiler(4)
    with pytest.raises(ValueError, match="unknown stage h2d"):
        prof.record("h2d", 1.0)
    with pytest.raises(ValueError):
        prof.record_step([1.0, 2.0])


# --- post-steps (runtime.post_steps) -----------------------------------------------------------

SNAP = {"op": "snap_gripper", "indices": [6, 13], "threshold": [0.1, -0.25], "low": [-0.3, 0.0],
        "high": [1.2, 0.04], "normalized": {"threshold": 0.0, "values": [-1.0, 1.0]}}


def _snap(**edit) -> dict:
    return {**SNAP, **edit}


@pytest.mark.parametrize("shape", [(14,), (50, 14), (3, 10, 14)])
@pytest.mark.parametrize("steps", [[SNAP], [SNAP, _snap(indices=[0], threshold=[0.0], low=[-1], high=[1])],
                                   [_snap(indices=[6.0, 2], threshold=[1, 0.5])], [], None])
def test_post_steps_apply_matches_python(cpp, shape, steps) -> None:
    from act_edge.post_steps import PostSteps

    rng = np.random.default_rng(len(shape) * 7 + len(steps or []))
    acts = rng.standard_normal((200, *shape)).astype(np.float32)
    # At the threshold (ties go to low) and one float32 step either side of it.
    flat = acts.reshape(-1, 14)
    for row, dim, thr in ((0, 6, 0.1), (1, 6, 0.1), (2, 6, 0.1), (3, 13, -0.25), (4, 2, 0.5)):
        t = np.float32(thr)
        flat[row, dim] = (t, np.nextafter(t, np.float32(1)), np.nextafter(t, np.float32(-1)))[row % 3]
    py, cc = PostSteps(steps, 14), cpp.PostSteps(steps, 14)
    assert bool(py) == bool(cc)
    for a in acts:
        want, got = py.apply(a.copy()), cc.apply(a.copy())
        np.testing.assert_array_equal(got, want)
        if steps:
            assert not np.array_equal(want, a)  # something was snapped
    a = acts[0].copy()
    assert cc.apply(a) is a  # in place


BAD_POST_STEPS = [
    [{"op": "clip"}],
    [{"op": "Snap_Gripper"}],
    [{"indices": [1]}],
    [{"op": None}],
    [{"op": 3}],
    [{"op": 2.5}],
    [{"op": ["snap_gripper"]}],
    [{"op": "it's"}],
    ["snap_gripper"],
    [7],
    [SNAP, {"op": "clip"}],
    [{"op": "snap_gripper"}],
    [_snap(threshold=None)],
    [_snap(low=3)],
    [_snap(high=1.5)],
    [_snap(indices=True)],
    [{k: v for k, v in SNAP.items() if k != "high"}],
    [{k: v for k, v in SNAP.items() if k != "indices"}],
    [_snap(indices=[6])],
    [_snap(low=[0.0, 1.0, 2.0])],
    [_snap(indices=[6, 14])],
    [_snap(indices=[-1, 13])],
    [_snap(indices=[14.5, 13])],
    [_snap(indices=[6, 1e20])],
    [SNAP, _snap(indices=[99, 1])],
    # shapes Python used to iterate blindly; both runtimes now refuse them with the same line
    {"op": "snap_gripper"},
    [_snap(indices="14")],
    [_snap(threshold={"a": 1})],
    [_snap(indices=["1"])],
    [_snap(low=[0.0, "x"])],
]


@pytest.mark.parametrize("steps", BAD_POST_STEPS)
def test_post_steps_errors_match_python(cpp, steps) -> None:
    from act_edge.errors import BundleError
    from act_edge.post_steps import PostSteps

    with pytest.raises(BundleError) as want:
        PostSteps(steps, 14)
    with pytest.raises(cpp.BundleError) as got:
        cpp.PostSteps(steps, 14)
    assert str(got.value) == str(want.value)
    assert "\n" not in str(got.value)


def test_post_steps_keyerror_message_prefix(cpp) -> None:
    """The message Python builds from the KeyError: at least up to the parenthesis (in fact all of it)."""
    from act_edge.errors import BundleError
    from act_edge.post_steps import PostSteps

    steps = [{"op": "snap_gripper", "indices": [1]}]
    with pytest.raises(BundleError) as want:
        PostSteps(steps, 14)
    with pytest.raises(cpp.BundleError) as got:
        cpp.PostSteps(steps, 14)
    prefix = "manifest runtime.post_steps[0]: snap_gripper needs indices, threshold, low, high ("
    assert str(want.value).startswith(prefix) and str(got.value).startswith(prefix)
    assert str(got.value) == str(want.value)


def test_post_steps_refused_when_the_manifest_is_read(cpp) -> None:
    from act_edge.errors import BundleError
    from act_edge.post_steps import PostSteps

    manifest = {
        "format": "act-edge-bundle", "schema_version": 1,
        "spec": {"cameras": [{"name": "top", "height": 4, "width": 6}], "state_dim": 14, "action_dim": 14,
                 "chunk_size": 3},
        "io": {"inputs": [{"name": "state", "dtype": "float32", "shape": ["batch", 14]}],
               "outputs": [{"name": "actions", "dtype": "float32", "shape": ["batch", 3, 14]}]},
        "runtime": {"temporal_ensemble_coeff": None, "n_action_steps": 3, "post_steps": [SNAP]},
    }
    assert cpp.parse_manifest_error(json.dumps(manifest), "m.json") is None
    for bad in ([{"op": "clip"}], [_snap(indices=[6, 14])]):
        manifest["runtime"]["post_steps"] = bad
        with pytest.raises(BundleError) as want:
            PostSteps(bad, 14)
        assert cpp.parse_manifest_error(json.dumps(manifest), "m.json") == str(want.value)


def test_post_steps_apply_refuses_a_copy(cpp) -> None:
    cc = cpp.PostSteps([SNAP], 14)
    with pytest.raises(TypeError):
        cc.apply(np.zeros(14))  # float64: a converted copy would be snapped, not the caller's array
    with pytest.raises(ValueError):
        cc.apply(np.zeros(13, np.float32))


# --- model-output finite check (TrtPolicy's, as act_edge.policy._check_finite) -------------------

def _finite_cases():
    rng = np.random.default_rng(5)
    cases = []
    for shape in ((100, 14), (7, 3), (4, 10, 14), (1, 100, 14)):
        for bad in (np.nan, np.inf, -np.inf):
            a = rng.standard_normal(shape).astype(np.float32)
            idx = tuple(int(rng.integers(0, d)) for d in shape)
            a[idx] = bad
            cases.append(a)
        b = a.copy()  # two bad values: the first in C order is named
        b.reshape(-1)[-1] = np.nan
        b.reshape(-1)[b.size // 2] = -np.inf
        cases.append(b)
    c = np.zeros((5, 3), np.float32)
    c[4, 1] = -np.float32(np.nan)
    cases.append(c)
    return cases


@pytest.mark.parametrize("actions", _finite_cases(), ids=lambda a: f"{a.shape}")
def test_non_finite_message_matches_python(cpp, actions: np.ndarray) -> None:
    from act_edge.errors import ActionError
    from act_edge.policy import _check_finite

    with pytest.raises(ActionError) as want:
        _check_finite(actions)
    assert cpp.find_non_finite(actions) == str(want.value)
    with pytest.raises(cpp.ActionError, match="^model output: non-finite action"):
        cpp.check_finite(actions)


def test_finite_chunks_pass_both(cpp) -> None:
    from act_edge.policy import _check_finite

    big = np.finfo(np.float32).max
    for a in (np.zeros((100, 14), np.float32), np.full((2, 3, 4), big, np.float32),
              np.array([[-big, np.finfo(np.float32).tiny, 1e-45]], np.float32)):
        _check_finite(a)
        assert cpp.find_non_finite(a) is None
        cpp.check_finite(a)


# --- the shared manifest conformance cases (tests/conformance/manifest_cases.json) ----------------

# The rules the C++ reader applies (strict JSON, key types, path confinement, post-step numbers):
# for these cases it must refuse the bundle with the same line fragments as the Python validator.
# (io-vs-spec, sha256 formats of figures and sources, runtime coeff ranges are the Python side's.)
CPP_CASE_PREFIXES = ("io_missing", "io_not_an_object", "io_inputs_missing", "io_inputs_empty", "io_outputs_missing",
                     "io_input_not_an_object", "io_name_missing", "io_shape_", "io_camera_not_a_name", "max_batch_",
                     "runtime_null", "runtime_not_an_object", "coeff_string", "coeff_bool", "coeff_nan",
                     "coeff_overflows", "n_action_steps_", "post_step", "artifact_not_an_object", "artifact_path_",
                     "artifact_sha256_", "artifact_outside", "artifact_symlink", "artifact_is_a_directory",
                     "engines_not_a_list", "engine_path_", "engine_sha256_missing", "engine_key_missing",
                     "name_not_a_string", "nan_under", "duplicate_key", "nested_too_deep", "spec_missing",
                     "format_other", "schema_version_2", "base_bundle_loads", "unknown_top_level_key",
                     "runtime_absent", "chunk_queue_defaults", "no_post_steps", "engine_record_well_formed",
                     "spec_architecture_")


CPP_CASE_EXCLUDED = ("io_shape_contradicts_spec",)  # io against the spec: the Python validator's


def _conformance_cases():
    path = Path(__file__).parent / "conformance" / "manifest_cases.json"
    if not path.is_file():
        return []
    return [c for c in json.loads(path.read_text())["cases"]
            if c["name"].startswith(CPP_CASE_PREFIXES) and c["name"] not in CPP_CASE_EXCLUDED]


@pytest.mark.parametrize("case", _conformance_cases(), ids=lambda c: c["name"])
def test_cpp_reader_agrees_with_conformance_cases(cpp, tmp_path: Path, case: dict) -> None:
    """The C++ read_manifest refuses (or accepts) the shared cases as the Python validator does."""
    manifest_cases = pytest.importorskip("manifest_cases")
    bundle = manifest_cases.make_base(tmp_path / "case" / "b.actedge").path
    manifest_cases.apply_mutations(bundle, case["mutate"])
    got = cpp.read_manifest_error(str(bundle))
    if case["expect"] == "ok":
        assert got is None, got
        return
    assert got is not None, f"{case['name']}: accepted"
    assert "\n" not in got
    for fragment in case["expect"]["error_contains"]:
        assert fragment in got, f"{case['name']}: {fragment!r} not in {got!r}"
