"""Policy end to end on a synthetic bundle (hand-built ONNX graph with a known output function)."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import act_edge
from act_edge import BundleError, ObservationError, Policy
from act_edge.bundle import MANIFEST
from bundles import SyntheticBundle, build_synthetic_bundle, random_obs, stacked_images, synthetic_spec

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> SyntheticBundle:
    return build_synthetic_bundle(tmp_path_factory.mktemp("b") / "synthetic.actedge", synthetic_spec(env_state_dim=3))


def expected_chunk(b: SyntheticBundle, obs: dict, fp16: bool = False) -> np.ndarray:
    return b.expected(stacked_images(b.spec, obs), obs["state"][None], obs["env_state"][None], fp16=fp16)[0]


def ensemble_reference(chunks: list[np.ndarray], k: float) -> np.ndarray:
    """Action for the last step from every chunk since reset (float64, counting live predictions)."""
    t = len(chunks) - 1
    chunk = chunks[0].shape[0]
    live = [(tp, chunks[tp][t - tp]) for tp in range(max(0, t - chunk + 1), t + 1)]  # oldest first
    w = np.exp(-k * np.arange(len(live)))
    return sum(wi * row for wi, (_, row) in zip(w, live)) / w.sum()


def test_load_defaults_and_describe(bundle: SyntheticBundle) -> None:
    p = Policy.load(bundle.path)
    assert p.mode == "temporal_ensemble" and p.temporal_ensemble_coeff == 0.01
    assert p.backend.name == "onnxruntime" and p.backend.device == "cpu" and p.backend.precision == "fp32"
    assert p.spec == bundle.spec
    assert "onnxruntime" in p.describe()
    assert p.skipped_backends  # "auto" explains why TensorRT / CUDA were not used here


def test_predict_chunk_single_batched_and_fp16(bundle: SyntheticBundle) -> None:
    rng = np.random.default_rng(0)
    p = Policy.load(bundle.path, max_batch=4)
    obs = random_obs(bundle.spec, rng)
    got = p.predict_chunk(obs)
    assert got.shape == (20, 14) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected_chunk(bundle, obs), rtol=1e-5, atol=1e-5)
    # stacked images in manifest order give the same result
    obs2 = dict(obs, images=stacked_images(bundle.spec, obs)[0])
    np.testing.assert_array_equal(p.predict_chunk(obs2), got)
    obs_b = random_obs(bundle.spec, rng, batch=3)
    got_b = p.predict_chunk(obs_b, batched=True)
    want_b = bundle.expected(stacked_images(bundle.spec, obs_b, batched=True), obs_b["state"], obs_b["env_state"])
    np.testing.assert_allclose(got_b, want_b, rtol=1e-5, atol=1e-5)
    out = np.empty((20, 14), np.float32)
    assert p.predict_chunk(obs, out=out) is out
    np.testing.assert_array_equal(out, got)
    # fp16 artifact: constants rounded to float16 (distinguishable from fp32 by the test's reference)
    p16 = Policy.load(bundle.path, precision="fp16")
    assert p16.backend.precision == "fp16"
    got16 = p16.predict_chunk(obs)
    np.testing.assert_allclose(got16, expected_chunk(bundle, obs, fp16=True), rtol=1e-5, atol=1e-5)
    assert np.abs(got16 - got).max() > 1e-4


@pytest.mark.parametrize("k", [0.01, 0.0, -0.05])
def test_step_temporal_ensemble_matches_reference_across_reset(bundle: SyntheticBundle, k: float) -> None:
    rng = np.random.default_rng(1)
    p = Policy.load(bundle.path, temporal_ensemble_coeff=k)
    for episode_len in (30, 7):
        p.reset()
        chunks = []
        for _ in range(episode_len):
            obs = random_obs(bundle.spec, rng)
            chunks.append(expected_chunk(bundle, obs))
            action = p.step(obs)
            assert action.shape == (14,) and action.dtype == np.float32
            np.testing.assert_allclose(action, ensemble_reference(chunks, k), rtol=1e-5, atol=1e-5)


def test_step_chunk_queue_runs_model_every_n_steps(bundle: SyntheticBundle) -> None:
    rng = np.random.default_rng(2)
    p = Policy.load(bundle.path, temporal_ensemble_coeff=None, n_action_steps=5)
    assert p.mode == "chunk_queue"
    runs = []
    orig_execute = p.backend.execute
    p.backend.execute = lambda b: (runs.append(b), orig_execute(b))  # type: ignore[method-assign]
    current = None
    for t in range(12):
        obs = random_obs(bundle.spec, rng)
        if t % 5 == 0:
            current = expected_chunk(bundle, obs)
        np.testing.assert_allclose(p.step(obs), current[t % 5], rtol=1e-5, atol=1e-5)
    assert len(runs) == 3
    p.reset()  # a reset empties the queue: the next step queries the model
    obs = random_obs(bundle.spec, rng)
    np.testing.assert_allclose(p.step(obs), expected_chunk(bundle, obs)[0], rtol=1e-5, atol=1e-5)
    assert len(runs) == 4


def test_rejected_observation_leaves_state_untouched(bundle: SyntheticBundle) -> None:
    rng = np.random.default_rng(3)
    obs_seq = [random_obs(bundle.spec, rng) for _ in range(6)]
    for coeff, steps in ((0.01, 1), (None, 4)):
        a = Policy.load(bundle.path, temporal_ensemble_coeff=coeff, n_action_steps=steps)
        b = Policy.load(bundle.path, temporal_ensemble_coeff=coeff, n_action_steps=steps)
        staged_before = None
        for i, obs in enumerate(obs_seq):
            if i == 2:
                staged_before = {n: a.backend.input_buffer(n).copy() for n in a.backend.input_names}
                bad = dict(obs, state=obs["state"].copy())
                bad["state"][5] = np.nan
                with pytest.raises(ObservationError, match=r"^state: non-finite value nan at index 5$"):
                    a.step(bad)
                bad2 = {"state": obs["state"], "images": {"top": obs["images"]["top"]}, "env_state": obs["env_state"]}
                with pytest.raises(ValueError, match=r"images\['wrist'\]: missing"):
                    a.step(bad2)
                for n in a.backend.input_names:  # nothing was staged either
                    np.testing.assert_array_equal(a.backend.input_buffer(n), staged_before[n])
            np.testing.assert_array_equal(a.step(obs), b.step(obs))


@pytest.mark.parametrize("coeff", [0.01, None])
def test_no_allocation_per_step(tmp_path: Path, coeff) -> None:
    # chunk 100 x 14 and 96x128 frames: a (chunk, A) float32 temporary is 5.6 kB, a frame 36 kB. Python
    # bookkeeping (views, scalars, interpreter frames) stays far below 4 kB and is not a leak.
    b = build_synthetic_bundle(tmp_path / "big.actedge",
                               synthetic_spec(chunk=100, cams=(("top", 96, 128), ("wrist", 96, 128)), env_state_dim=3),
                               fp16=False)
    rng = np.random.default_rng(4)
    p = Policy.load(b.path, temporal_ensemble_coeff=coeff, n_action_steps=1 if coeff is not None else 10)
    obs = [random_obs(b.spec, rng) for _ in range(3)]
    tracemalloc.start()
    try:
        # Warm-up under tracing, as long as the measured run: one-time allocations (Python 3.10 makes
        # frame objects lazily and again after a collection) land here, not in the measured run.
        for i in range(3000):
            p.step(obs[i % 3])
        base, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for i in range(3000):
            p.step(obs[i % 3])
        cur, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak - base < 4096, (base, peak)
    assert cur - base < 2048, (base, cur)  # nothing accumulates over 3000 steps


def test_load_argument_errors(bundle: SyntheticBundle) -> None:
    with pytest.raises(ValueError, match=r"n_action_steps must be in 1\.\.20 \(the chunk size\), got 0"):
        Policy.load(bundle.path, temporal_ensemble_coeff=None, n_action_steps=0)
    with pytest.raises(ValueError, match=r"n_action_steps must be in 1\.\.20 \(the chunk size\), got 21"):
        Policy.load(bundle.path, temporal_ensemble_coeff=None, n_action_steps=21)
    with pytest.raises(ValueError, match="n_action_steps must be 1, got 5"):
        Policy.load(bundle.path, temporal_ensemble_coeff=0.01, n_action_steps=5)
    with pytest.raises(ValueError, match="backend must be one of"):
        Policy.load(bundle.path, backend="tflite")
    with pytest.raises(act_edge.BackendUnavailable, match="CUDAExecutionProvider"):
        Policy.load(bundle.path, backend="onnxruntime", device="cuda")


def test_manifest_runtime_defaults_chunk_queue(tmp_path: Path) -> None:
    b = build_synthetic_bundle(tmp_path / "q.actedge", runtime={"temporal_ensemble_coeff": None, "n_action_steps": 7},
                               fp16=False)
    p = Policy.load(b.path)
    assert p.mode == "chunk_queue" and p.n_action_steps == 7
    p = Policy.load(b.path, temporal_ensemble_coeff=0.0)  # override: ensemble (n_action_steps ignored)
    assert p.mode == "temporal_ensemble" and p.n_action_steps == 1


def test_sha256_mismatch_and_schema_are_refused(tmp_path: Path) -> None:
    b = build_synthetic_bundle(tmp_path / "s.actedge", fp16=False)
    model = b.path / "model.onnx"
    data = bytearray(model.read_bytes())
    data[-1] ^= 0xFF
    model.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="sha256 .* does not match the manifest"):
        Policy.load(b.path)
    mf = json.loads((b.path / MANIFEST).read_text())
    mf["schema_version"] = 99
    (b.path / MANIFEST).write_text(json.dumps(mf))
    with pytest.raises(BundleError, match="schema_version 99"):
        Policy.load(b.path)


def test_latency_report(bundle: SyntheticBundle) -> None:
    rng = np.random.default_rng(5)
    p = Policy.load(bundle.path, temporal_ensemble_coeff=None, n_action_steps=4)
    obs = random_obs(bundle.spec, rng)
    for _ in range(40):
        p.step(obs)
    rep = p.latency_report()
    assert rep["steps"] == 40 and rep["mode"] == "chunk_queue"
    assert rep["stages"]["infer"]["count"] == 10  # the model ran on 1 step in 4
    assert rep["stages"]["validate"]["count"] == 40  # every step is validated
    st = rep["stages"]["total"]
    assert 0 < st["p50"] <= st["p90"] <= st["p99"] <= st["max"]
    assert "infer" in p.latency_report(table=True)
    off = Policy.load(bundle.path, profile=False)
    off.step(obs)
    assert off.latency_report()["stages"] == {}


def test_multi_resolution_bundle_rejected_by_fixture_but_validator_handles_single_group() -> None:
    # The synthetic graph covers one image group; multi-resolution validation is in test_observation.
    with pytest.raises(AssertionError):
        build_synthetic_bundle(Path("/nonexistent/x.actedge"),
                               synthetic_spec(cams=(("a", 24, 32), ("b", 16, 16))))


def _fake_tensorrt_module(monkeypatch: pytest.MonkeyPatch, behaviour: str) -> list:
    """Install a stand-in act_edge.backends.tensorrt to test the selection order only (it runs
    onnxruntime underneath; no TensorRT behaviour is claimed)."""
    import sys
    import types

    from act_edge.backends.onnxruntime import OnnxRuntimeBackend

    calls: list = []

    class TensorRTBackend(OnnxRuntimeBackend):
        name = "tensorrt"

        def __init__(self, bundle, max_batch, device="cuda:0", engine=None, precision=None):
            calls.append((device, engine))
            if behaviour == "unavailable":
                raise act_edge.BackendUnavailable("tensorrt backend: no engine matches this GPU")
            super().__init__(bundle, max_batch, device="cpu")

    mod = types.ModuleType("act_edge.backends.tensorrt")
    mod.TensorRTBackend = TensorRTBackend
    monkeypatch.setitem(sys.modules, "act_edge.backends.tensorrt", mod)
    return calls


def test_auto_tries_tensorrt_first_and_falls_through(bundle: SyntheticBundle, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _fake_tensorrt_module(monkeypatch, "unavailable")
    p = Policy.load(bundle.path)
    assert p.backend.name == "onnxruntime" and calls == [("cuda:0", None)]
    assert any("no engine matches" in s for s in p.skipped_backends)
    with pytest.raises(act_edge.BackendUnavailable, match="no engine matches"):
        Policy.load(bundle.path, backend="tensorrt")
    calls = _fake_tensorrt_module(monkeypatch, "works")
    p = Policy.load(bundle.path)
    assert p.backend.name == "tensorrt" and calls == [("cuda:0", None)]
    # device="cpu" never tries TensorRT
    calls.clear()
    assert Policy.load(bundle.path, device="cpu").backend.name == "onnxruntime" and calls == []


def test_auto_falls_through_the_real_tensorrt_backend_when_it_cannot_run(bundle: SyntheticBundle) -> None:
    try:
        import tensorrt  # noqa: F401
        pytest.skip("tensorrt imports here: the fall-through path is not reachable")
    except ImportError:
        pass
    p = Policy.load(bundle.path)
    assert p.backend.name == "onnxruntime"
    assert any("tensorrt" in s.lower() and "not importable" in s for s in p.skipped_backends), p.skipped_backends


def test_exported_tiny_bundle_end_to_end(exported_bundle: Path) -> None:
    """A real exported bundle: onnxruntime fp32 and the torch backend reproduce parity.npz, and the
    ensemble runs on top."""
    path = exported_bundle
    par = np.load(path / "parity.npz")
    obs = {k: par[k][0] for k in par.files if k != "actions"}
    ref = par["actions"][0]
    for backend in ("onnxruntime", "torch"):
        p = Policy.load(path, backend=backend, max_batch=2)
        assert p.backend.precision == "fp32"
        np.testing.assert_allclose(p.predict_chunk(obs), ref, rtol=1e-4, atol=1e-4)
        chunk = ref.shape[0]
        actions = [p.step(obs).copy() for _ in range(chunk + 2)]
        k = p.temporal_ensemble_coeff
        w = np.exp(-k * np.arange(chunk))
        want = (w[:, None] * ref[::-1]).sum(0) / w.sum()  # same chunk every step: oldest live gives row chunk-1
        np.testing.assert_allclose(actions[-1], want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_model_output_is_refused_and_state_kept(bundle: SyntheticBundle, bad: float) -> None:
    """A backend that returns nan/inf (a broken engine, an overflow) never reaches the robot."""
    from act_edge.errors import ActionError

    rng = np.random.default_rng(3)
    p = Policy.load(bundle.path, backend="onnxruntime", temporal_ensemble_coeff=0.01)
    obs = [random_obs(p.spec, rng) for _ in range(3)]
    ref = Policy.load(bundle.path, backend="onnxruntime", temporal_ensemble_coeff=0.01)
    for o in obs[:2]:
        p.step(o)
        ref.step(o)
    real_download = p.backend.download

    def corrupt(batch: int) -> np.ndarray:
        out = real_download(batch)
        out[0, 4, 1] = bad
        return out

    p.backend.download = corrupt
    with pytest.raises(ActionError, match=r"non-finite action .* at \(4, 1\)"):
        p.step(obs[2])
    with pytest.raises(ActionError):
        p.predict_chunk(obs[2])
    p.backend.download = real_download
    np.testing.assert_array_equal(p.step(obs[2]), ref.step(obs[2]))  # the ensemble saw nothing of it
