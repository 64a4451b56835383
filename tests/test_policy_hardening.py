"""Policy misuse and numbers (issue 10): threads, close, load arguments, devices, float32 range,
float32 actions, predict_chunk(out=), and the final finite check on what reaches the caller."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from act_edge import Policy
from act_edge.backends.onnxruntime import OnnxRuntimeBackend
from act_edge.bundle import MANIFEST, load_bundle
from act_edge.errors import (ActEdgeError, ActionError, ArgumentError, BackendUnavailable, BundleError,
                             ConcurrentUseError, ObservationError, PolicyClosedError)
from bundles import SyntheticBundle, build_synthetic_bundle, random_obs, stacked_images, synthetic_spec

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> SyntheticBundle:
    return build_synthetic_bundle(tmp_path_factory.mktemp("h") / "synthetic.actedge", synthetic_spec(env_state_dim=3),
                                  max_batch=8, fp16=False)


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert text and "\n" not in text, text
    return text


# --- threads -----------------------------------------------------------------------------------------
class SlowOrt(OnnxRuntimeBackend):
    """onnxruntime CPU whose run starts 2 ms late: a second thread's staging lands inside every run."""

    def execute(self, batch: int) -> None:
        time.sleep(0.002)
        super().execute(batch)


class GatedOrt(OnnxRuntimeBackend):
    """onnxruntime CPU whose run waits until the test opens the gate."""

    def __init__(self, *args, **kw) -> None:
        super().__init__(*args, **kw)
        self.inside = threading.Event()
        self.gate = threading.Event()

    def execute(self, batch: int) -> None:
        self.inside.set()
        assert self.gate.wait(10)
        super().execute(batch)


def policy_on(backend_cls, path: Path, coeff: float | None, steps: int):
    bundle = load_bundle(path)
    return Policy(bundle, backend_cls(bundle, 1, intra_op_threads=1), coeff, steps)


@pytest.mark.parametrize("method", ["predict_chunk", "step"])
def test_two_threads_get_correct_results_or_the_error_never_a_wrong_result(bundle: SyntheticBundle,
                                                                          method: str) -> None:
    # Chunk queue with n_action_steps=1: every step runs the model and returns chunk[0], so each call's
    # result depends on its own observation only and can be checked against a single-threaded reference.
    p = policy_on(SlowOrt, bundle.path, None, 1)
    ref = Policy.load(bundle.path, backend="onnxruntime", temporal_ensemble_coeff=None, n_action_steps=1,
                      intra_op_threads=1)
    rng = np.random.default_rng(11)
    obs = [[random_obs(bundle.spec, rng) for _ in range(8)] for _ in range(2)]
    want = [[ref.predict_chunk(o) if method == "predict_chunk" else ref.predict_chunk(o)[0] for o in per]
            for per in obs]
    counts = [{"ok": 0, "wrong": 0, "refused": 0, "other": []} for _ in range(2)]
    start = threading.Barrier(2)

    def hammer(k: int) -> None:
        call = getattr(p, method)
        start.wait()
        for i in range(150):
            j = i % 8
            try:
                got = np.array(call(obs[k][j]))  # step's array is the policy's: copy at once
            except ConcurrentUseError as exc:
                assert one_line(exc).startswith(f"Policy.{method}: another thread is inside this Policy")
                counts[k]["refused"] += 1
                time.sleep(0.0003)
                continue
            except Exception as exc:  # noqa: BLE001 - recorded and failed below, with its type
                counts[k]["other"].append(repr(exc))
                continue
            if np.allclose(got, want[k][j], rtol=1e-6, atol=1e-6):
                counts[k]["ok"] += 1
            else:
                counts[k]["wrong"] += 1
            time.sleep(0.001)  # a gap in which the other thread can get in (each run takes >= 2 ms)

    threads = [threading.Thread(target=hammer, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert [c["wrong"] for c in counts] == [0, 0], counts
    assert [c["other"] for c in counts] == [[], []], counts
    assert sum(c["refused"] for c in counts) > 0, counts  # the threads did overlap
    assert all(c["ok"] > 0 for c in counts), counts


def test_entry_while_another_thread_is_inside_is_refused_and_touches_nothing(bundle: SyntheticBundle) -> None:
    p = policy_on(GatedOrt, bundle.path, 0.01, 1)
    ref = Policy.load(bundle.path, backend="onnxruntime", temporal_ensemble_coeff=0.01, intra_op_threads=1)
    rng = np.random.default_rng(12)
    o1, o2, o3 = (random_obs(bundle.spec, rng) for _ in range(3))
    p.backend.gate.set()
    np.testing.assert_array_equal(p.step(o1), ref.step(o1))
    p.backend.gate.clear()
    p.backend.inside.clear()
    result = {}
    worker = threading.Thread(target=lambda: result.update(a=p.step(o2).copy()))
    worker.start()
    assert p.backend.inside.wait(10)  # the worker is inside step(), in the model run
    for call in (lambda: p.step(o3), lambda: p.predict_chunk(o3), p.reset, p.close):
        with pytest.raises(ConcurrentUseError, match=r"^Policy\.\w+: another thread is inside this Policy; "
                                                     r"a Policy is for one thread at a time") as info:
            call()
        assert isinstance(info.value, RuntimeError) and isinstance(info.value, ActEdgeError)
        one_line(info.value)
    p.backend.gate.set()
    worker.join(10)
    np.testing.assert_array_equal(result["a"], ref.step(o2))  # neither the reset nor o3 got in
    np.testing.assert_array_equal(p.step(o3), ref.step(o3))
    assert not p.closed


def test_closed_policy_raises_a_clear_error_and_close_is_idempotent(bundle: SyntheticBundle) -> None:
    rng = np.random.default_rng(13)
    obs = random_obs(bundle.spec, rng)
    with Policy.load(bundle.path, backend="onnxruntime") as p:
        p.step(obs)
    for name, call in (("step", lambda: p.step(obs)), ("predict_chunk", lambda: p.predict_chunk(obs)),
                       ("reset", p.reset)):
        with pytest.raises(PolicyClosedError, match=rf"^Policy\.{name}: policy is closed") as info:
            call()
        assert isinstance(info.value, ActEdgeError)
        one_line(info.value)
    assert p.closed
    p.close()  # again: nothing happens
    p.close()
    assert "onnxruntime" in p.describe() and p.latency_report()["steps"] == 1


# --- load arguments and devices ----------------------------------------------------------------------
@pytest.mark.parametrize("bad", [2.5, "4", True, False, 0, -3, [2], float("nan")])
def test_max_batch_must_be_an_integer_not_a_bool(bundle: SyntheticBundle, bad) -> None:
    with pytest.raises(ArgumentError, match=r"^max_batch must be an integer >= 1, got ") as info:
        Policy.load(bundle.path, backend="onnxruntime", max_batch=bad)
    assert repr(bad) in one_line(info.value)


def test_max_batch_beyond_the_bundles_is_refused_naming_both(bundle: SyntheticBundle) -> None:
    with pytest.raises(ArgumentError, match=r"^max_batch=100000 is larger than the bundle's max_batch 8 ") as info:
        Policy.load(bundle.path, backend="onnxruntime", max_batch=100000)
    one_line(info.value)
    p = Policy.load(bundle.path, backend="onnxruntime", max_batch=np.int64(8))  # the declared size is fine
    assert p.backend.max_batch == 8 and type(p.backend.max_batch) is int


@pytest.mark.parametrize("backend", ["auto", "onnxruntime", "torch", "tensorrt"])
@pytest.mark.parametrize("device", ["gpu", "GPU", "CPU", "cuda:x", "cuda:-1", "cuda:\u0663", "mps", 0, ""])
def test_a_device_no_backend_understands_is_refused_never_run_on_cpu(bundle: SyntheticBundle, backend: str,
                                                                     device) -> None:
    with pytest.raises(ArgumentError, match=r"^device must be 'cpu', 'cuda' or 'cuda:N', got ") as info:
        Policy.load(bundle.path, backend=backend, device=device)
    one_line(info.value)


@pytest.mark.parametrize("device", ["gpu", "cpu", "cuda:x", "cuda:\u0663", 0, None])
def test_tensorrt_device_parser_refuses_everything_but_cuda(device) -> None:
    from act_edge.trt.device import cuda_index

    with pytest.raises(BackendUnavailable, match="is not 'cuda' or 'cuda:<index>'") as info:
        cuda_index(device)
    one_line(info.value)
    assert cuda_index("cuda") == 0 and cuda_index("cuda:3") == 3


@pytest.mark.parametrize("kw, culprit", [
    (dict(temporal_ensemble_coeff=float("nan")), "temporal_ensemble_coeff"),
    (dict(temporal_ensemble_coeff=40.0), "temporal_ensemble_coeff"),  # exp(40 * 19) is beyond float64
    (dict(temporal_ensemble_coeff=None, n_action_steps=2.0), "n_action_steps"),
    (dict(warmup="3"), "warmup"),
    (dict(warmup=-1), "warmup"),
])
def test_other_load_arguments_give_one_line_act_edge_errors(bundle: SyntheticBundle, kw, culprit) -> None:
    with pytest.raises(ArgumentError, match=rf"^{culprit} must be") as info:
        Policy.load(bundle.path, backend="onnxruntime", **kw)
    one_line(info.value)


# --- numbers -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("field, index, value", [("state", 3, 1e300), ("state", 13, -3.5e38),
                                                  ("env_state", 1, 1e39)])
def test_float64_beyond_float32_is_refused_not_cast_to_inf(bundle: SyntheticBundle, field, index, value) -> None:
    rng = np.random.default_rng(14)
    p = Policy.load(bundle.path, backend="onnxruntime", temporal_ensemble_coeff=0.01)
    ref = Policy.load(bundle.path, backend="onnxruntime", temporal_ensemble_coeff=0.01)
    first, then = random_obs(bundle.spec, rng), random_obs(bundle.spec, rng)
    np.testing.assert_array_equal(p.step(first), ref.step(first))
    bad = dict(then, **{field: then[field].astype(np.float64)})
    bad[field][index] = value
    msg = rf"^{field}: value {value!r} at index {index} is outside the float32 range"
    for call in (lambda: p.step(bad), lambda: p.predict_chunk(bad)):
        with pytest.raises(ObservationError, match=msg.replace("+", r"\+")) as info:
            call()
        one_line(info.value)
    np.testing.assert_array_equal(p.step(then), ref.step(then))  # the refused step changed nothing
    # float32's own extreme is not an overflow (it is finite after the cast): accepted.
    edge = dict(then, **{field: then[field].astype(np.float64)})
    edge[field][index] = float(np.finfo(np.float32).max)
    assert p._validator.validate(edge) == 1


def test_large_ensemble_coefficient_still_returns_float32_actions(tmp_path: Path) -> None:
    # k = 7, chunk 10: the weights span exp(63), so the ensemble accumulates in float64.
    b = build_synthetic_bundle(tmp_path / "k7.actedge", synthetic_spec(chunk=10, dof=4), fp16=False)
    p = Policy.load(b.path, backend="onnxruntime", temporal_ensemble_coeff=7.0)
    assert p._ensemble.dtype == np.float64
    rng = np.random.default_rng(15)
    chunks, actions = [], []
    for _ in range(14):
        o = random_obs(b.spec, rng)
        chunks.append(b.expected(stacked_images(b.spec, o), o["state"][None])[0])
        a = p.step(o)
        assert a.dtype == np.float32 and a.shape == (4,)
        actions.append(a.copy())
    t = len(chunks) - 1  # the last action: the newest chunk has weight exp(7 * 0), the oldest exp(-7 * 9)
    live = [chunks[tp][t - tp] for tp in range(t - 9, t + 1)]
    w = np.exp(-7.0 * np.arange(10))
    np.testing.assert_allclose(actions[-1], (w[:, None] * np.array(live)).sum(0) / w.sum(), rtol=1e-5, atol=1e-5)


def test_predict_chunk_out_of_the_wrong_kind_is_refused_before_anything_runs(bundle: SyntheticBundle) -> None:
    rng = np.random.default_rng(16)
    p = Policy.load(bundle.path, backend="onnxruntime", max_batch=2)
    obs, obs2 = random_obs(bundle.spec, rng), random_obs(bundle.spec, rng, batch=2)
    T, A = bundle.spec.chunk_size, bundle.spec.action_dim
    frozen = np.zeros((T, A), np.float32)
    frozen.flags.writeable = False
    cases = [
        (np.empty((T, A + 1), np.float32), {}, rf"expected shape \({T}, {A}\), got \({T}, {A + 1}\)"),
        (np.empty((1, T, A), np.float32), {}, rf"expected shape \({T}, {A}\), got \(1, {T}, {A}\)"),
        (np.empty((T, A), np.float32), {"batched": True}, rf"expected shape \(2, {T}, {A}\), got \({T}, {A}\)"),
        (np.empty((T, A), np.float64), {}, "expected dtype float32, got float64"),
        (np.empty((T, A), np.float16), {}, "expected dtype float32, got float16"),
        (np.empty((T, 2 * A), np.float32)[:, ::2], {}, "expected a C-contiguous array"),
        (np.empty((A, T), np.float32).T, {}, "expected a C-contiguous array"),
        (frozen, {}, "the array is read-only"),
        ([[0.0] * A] * T, {}, "expected a numpy array, got list"),
    ]
    for out, kw, msg in cases:
        before = np.array(out, copy=True)
        with pytest.raises(ArgumentError, match=r"^predict_chunk\(out=\): " + msg) as info:
            p.predict_chunk(obs2 if kw else obs, out=out, **kw)
        one_line(info.value)
        assert isinstance(info.value, ValueError)
        np.testing.assert_array_equal(np.asarray(out), before)  # nothing was written
    good = np.empty((2, T, A), np.float32)
    assert p.predict_chunk(obs2, batched=True, out=good) is good
    np.testing.assert_allclose(good, p.predict_chunk(obs2, batched=True), rtol=0, atol=0)


def _with_post_steps(src: SyntheticBundle, dest: Path, steps: list) -> Path:
    """A copy of `src` whose manifest has these post-steps (written after the bundle, as a user might)."""
    import shutil

    shutil.copytree(src.path, dest)
    mf = json.loads((dest / MANIFEST).read_text())
    mf["runtime"] = {"temporal_ensemble_coeff": 0.01, "n_action_steps": 1, "post_steps": steps}
    (dest / MANIFEST).write_text(json.dumps(mf))  # json writes NaN / Infinity
    return dest


@pytest.mark.parametrize("threshold, low, high", [(float("nan"), 0.0, 1.0), (0.0, float("nan"), 1.0),
                                                  (0.0, 0.0, float("inf")), (0.0, float("-inf"), 1.0)])
def test_non_finite_post_step_values_never_reach_the_caller(bundle: SyntheticBundle, tmp_path: Path,
                                                            threshold, low, high) -> None:
    path = _with_post_steps(bundle, tmp_path / "post.actedge",
                            [{"op": "snap_gripper", "indices": [3, 9], "threshold": [0.0, threshold],
                              "low": [0.0, low], "high": [1.0, high]}])
    try:
        p = Policy.load(path, backend="onnxruntime")
    except BundleError as exc:  # refusing such a manifest at load is as good (the manifest validator)
        one_line(exc)
        return
    rng = np.random.default_rng(17)
    for _ in range(20):
        o = random_obs(bundle.spec, rng)
        try:
            a = p.step(o)
        except ActionError as exc:
            assert one_line(exc).startswith("action: non-finite value ")
            continue
        assert np.isfinite(a).all() and a.dtype == np.float32


class _NanPost:
    """Post-steps that break an action (stands for any future op gone wrong)."""

    def __bool__(self) -> bool:
        return True

    def apply(self, action: np.ndarray) -> np.ndarray:
        action[2] = np.nan
        return action


@pytest.mark.parametrize("coeff, steps", [(0.01, 1), (None, 5)])
def test_final_action_is_checked_after_post_steps(bundle: SyntheticBundle, coeff, steps) -> None:
    p = Policy.load(bundle.path, backend="onnxruntime", temporal_ensemble_coeff=coeff, n_action_steps=steps)
    p.post_steps = _NanPost()
    o = random_obs(bundle.spec, np.random.default_rng(18))
    with pytest.raises(ActionError, match=r"^action: non-finite value nan at index 2 after the ensemble/queue "
                                          r"and post-steps") as info:
        p.step(o)
    one_line(info.value)


def test_ensemble_sums_at_the_float32_limit_never_reach_the_caller_as_inf(bundle: SyntheticBundle) -> None:
    """A finite chunk of float32's largest values passes the chunk check; the ensemble's weighted sums
    can round past it to inf. The final check stops that action."""
    p = Policy.load(bundle.path, backend="onnxruntime", temporal_ensemble_coeff=0.01)
    real_download = p.backend.download

    def huge(batch: int) -> np.ndarray:
        out = real_download(batch)
        out[...] = np.finfo(np.float32).max
        return out

    p.backend.download = huge
    o = random_obs(bundle.spec, np.random.default_rng(19))
    refused = 0
    with np.errstate(over="ignore"):
        for _ in range(25):
            try:
                a = p.step(o)
            except ActionError as exc:
                assert one_line(exc).startswith("action: non-finite value inf at index ")
                refused += 1
                continue
            assert np.isfinite(a).all()
    assert refused > 0


@pytest.mark.parametrize("field, value", [("temporal_ensemble_coeff", "0.01"), ("temporal_ensemble_coeff", 1e9),
                                          ("temporal_ensemble_coeff", True), ("n_action_steps", -3),
                                          ("n_action_steps", 2.5)])
def test_bad_manifest_runtime_defaults_are_a_bundle_error(bundle: SyntheticBundle, tmp_path: Path, field,
                                                          value) -> None:
    """The same checks as for the arguments, but the culprit is the manifest: BundleError naming the field."""
    import shutil

    dest = shutil.copytree(bundle.path, tmp_path / "rt.actedge")
    mf = json.loads((dest / MANIFEST).read_text())
    mf["runtime"] = {"temporal_ensemble_coeff": None, "n_action_steps": 4, field: value}
    (dest / MANIFEST).write_text(json.dumps(mf))
    with pytest.raises(BundleError, match=field) as info:
        Policy.load(dest, backend="onnxruntime")
    one_line(info.value)
