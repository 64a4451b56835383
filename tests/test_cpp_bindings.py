"""C++ runtime (cpp_bindings/): builds it with CMake, runs its ctest suite (which runs the shared
conformance cases of tests/conformance/, docs/runtime-rules.md) and checks what those cases cannot
express: long ensemble episodes against a float64 reference, the pybind converters and bindings,
sha256, the profiler against Python's, and the manifest reader against the shared manifest cases.

Needs cmake, a C++17 compiler and the Debian packages nlohmann-json3-dev, pybind11-dev, catch2
(libbenchmark-dev optional). Their absence FAILS these tests (CI installs them), naming what is missing.
"""

from __future__ import annotations

import hashlib
import json
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


@pytest.mark.parametrize("chunk,coeff", [(10, 5.0), (31, -5.0), (4, 200.0), (61, 10.0), (100, 0.3), (8, 0.01)])
def test_ensemble_random_async_schedules_long(cpp, chunk: int, coeff: float) -> None:
    """Long random arrival schedules (late, skipped, several chunks per tick, resets) on both sum paths
    (float below |k|(C-1) = 30, double up to 600), against a float64 reference from the definition:
    hundreds of ticks cross many base moves, which the short shared cases do not."""
    rng = np.random.default_rng(chunk)
    A = 3
    ens = cpp.TemporalEnsemble(chunk, A, coeff)
    t, added, last = 0, [], None
    for step in range(600):
        if step % 250 == 249:
            ens.reset()
            t, added, last = 0, [], None
        for _ in range(int(rng.integers(0, 3))):
            age = int(rng.integers(0, chunk + 2))
            c = rng.standard_normal((chunk, A)).astype(np.float32)
            ens.add(c, age)
            added.append((t - age, c.astype(np.float64)))
        live = [(t0, c) for t0, c in added if t0 <= t < t0 + chunk]
        if not live and last is None:
            with pytest.raises(RuntimeError):
                ens.pop()
            continue
        if live:
            logw = coeff * np.array([t - t0 for t0, _ in live], dtype=np.float64)
            w = np.exp(logw - logw.max())
            last = (w[:, None] * np.stack([c[t - t0] for t0, c in live])).sum(0) / w.sum()
        np.testing.assert_allclose(ens.pop(), last, rtol=0, atol=2e-6, err_msg=f"step {step} tick {t}")
        t += 1


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


# Python-vs-C++ agreement on schedules, refusals of nan/inf chunks and the coefficient limit: the shared
# cases tests/conformance/ensemble_cases.json (tests/test_conformance_ensemble.py and Catch2 conformance.test.cpp).


# --- observation validation --------------------------------------------------------------------

# The rules and messages: tests/conformance/observation_cases.json, run on both runtimes by
# tests/test_conformance_observation.py and Catch2 (conformance.test.cpp). Here the same cases go
# through the pybind converter (numpy arrays, dicts, lists -> act_edge::Observation) as well.

def _observation_cases():
    from conformance_data import load

    doc = load("observation_cases.json")
    return [pytest.param(doc["schemas"][c["schema"]], c, id=c["name"]) for c in doc["cases"]]


@pytest.mark.parametrize("schema,case", _observation_cases())
def test_observation_cases_through_pybind(cpp, schema: dict, case: dict) -> None:
    from conformance_data import observation

    obs = observation(case["obs"])
    got = cpp.check_observation(schema["io_inputs"], obs, case["batched"], schema["max_batch"])
    if "batch" in case["expect"]:
        assert got is None
        return
    assert got == case["expect"]["error"]
    with pytest.raises(cpp.ObservationError) as info:
        cpp.validate_observation(json.dumps(schema["io_inputs"]), obs, case["batched"], schema["max_batch"])
    assert str(info.value) == case["expect"]["error"]
    assert issubclass(cpp.ObservationError, ValueError)


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


# Apply and refusal agreement: tests/conformance/post_steps_cases.json (both runtimes). Here: the manifest
# reader's path and the binding's in-place contract.

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


# The model-output finite check: tests/conformance/finite_cases.json (both runtimes).


# --- the shared manifest conformance cases (tests/conformance/manifest_cases.json) ----------------

# The rules the C++ reader applies (strict JSON, key types, path confinement, post-step numbers):
# for these cases it must refuse the bundle with the same line fragments as the Python validator.
# (io-vs-spec, sha256 formats of figures and sources are the Python side's.)
CPP_CASE_PREFIXES = ("io_missing", "io_not_an_object", "io_inputs_missing", "io_inputs_empty", "io_outputs_missing",
                     "io_input_not_an_object", "io_name_missing", "io_shape_", "io_camera_not_a_name", "max_batch_",
                     "runtime_null", "runtime_not_an_object", "coeff_string", "coeff_bool", "coeff_nan",
                     "coeff_overflows", "coeff_beyond", "n_action_steps_", "post_step", "artifact_not_an_object", "artifact_path_",
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
