"""Fuzzing the runtime with hypothesis: observations against a tiny Policy, and ensemble/queue inputs.

Property: a call either succeeds with finite float32 actions equal to a reference's, or raises an
act-edge error with a one-line message; never another exception, never nan out. A refused
observation leaves the policy's state untouched: the next valid step equals a reference policy's
that never saw it. Bounded (200 examples per test, no deadline) so the file runs in well under a minute.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from act_edge import Policy
from act_edge.ensemble import ChunkQueue, TemporalEnsemble
from act_edge.errors import ActEdgeError, ActionError, ArgumentError, ObservationError
from bundles import SyntheticBundle, build_synthetic_bundle, random_obs, synthetic_spec

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

FUZZ = settings(max_examples=200, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
F32_MAX = float(np.finfo(np.float32).max)
SPEC = synthetic_spec(chunk=6, dof=5, cams=(("top", 6, 8), ("wrist", 6, 8)), env_state_dim=3)
DTYPES = ["float16", "float32", "float64", ">f4", "int8", "int64", "uint8", "bool", "complex64", "object", "<U3"]
SPECIAL = [np.nan, np.inf, -np.inf, 1e300, -1e300, 3.5e38, F32_MAX, -F32_MAX, 1e-300, 0.0, -0.0, 1e30]


@pytest.fixture(scope="module")
def policies(tmp_path_factory: pytest.TempPathFactory):
    b: SyntheticBundle = build_synthetic_bundle(tmp_path_factory.mktemp("fuzz") / "fuzz.actedge", SPEC, max_batch=2,
                                                fp16=False)
    made = {}
    for mode, kw in (("ensemble", dict(temporal_ensemble_coeff=0.05)),
                     ("queue", dict(temporal_ensemble_coeff=None, n_action_steps=4))):
        made[mode] = tuple(Policy.load(b.path, backend="onnxruntime", max_batch=2, warmup=0, intra_op_threads=1,
                                       **kw) for _ in range(2))
    return made


def one_line(exc: BaseException) -> None:
    assert str(exc) and "\n" not in str(exc), repr(exc)


# --- observations -----------------------------------------------------------------------------------
def _array(rng: np.random.Generator, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    if dtype == "object":
        return np.full(shape, None, dtype=object)
    if dtype == "<U3":
        return np.full(shape, "abc")
    if dtype == "bool":
        return rng.integers(0, 2, shape).astype(bool)
    return (rng.standard_normal(shape) * 3).astype(dtype)


@st.composite
def bad_values(draw, rng: np.random.Generator, shape: tuple[int, ...]):
    """Something in place of an array: another dtype, another shape, a list, a scalar, None, a dict."""
    kind = draw(st.sampled_from(["dtype", "shape", "list", "scalar", "none", "text", "dict", "tuple"]))
    if kind == "dtype":
        return _array(rng, draw(st.sampled_from(DTYPES)), shape)
    if kind == "shape":
        dims = draw(st.lists(st.integers(0, 9), min_size=0, max_size=4))
        return _array(rng, draw(st.sampled_from(["float32", "float64", "uint8"])), tuple(dims))
    if kind == "list":
        return _array(rng, "float32", shape).tolist()
    if kind == "scalar":
        return draw(st.one_of(st.floats(allow_nan=True), st.integers(), st.booleans()))
    if kind == "none":
        return None
    if kind == "text":
        return draw(st.text(max_size=4))
    if kind == "tuple":
        return tuple(_array(rng, "float32", shape).reshape(-1)[:4])
    return {"x": _array(rng, "float32", shape)}


@st.composite
def observations(draw):
    """(obs, batched): a valid observation with up to three mutations."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    batched = draw(st.booleans())
    batch = draw(st.integers(1, 3)) if batched else None
    obs: object = random_obs(SPEC, rng, batch=batch)
    lead = () if batch is None else (batch,)
    for _ in range(draw(st.integers(0, 3))):
        if not isinstance(obs, dict):
            break
        what = draw(st.sampled_from(["drop", "extra", "replace", "replace", "poison", "poison", "poison", "dtype",
                                     "dtype", "camera", "stack", "not_a_dict", "float64"]))
        field = draw(st.sampled_from(["state", "env_state", "images"]))
        if what == "drop":
            obs.pop(field, None)
        elif what == "extra":
            obs[draw(st.sampled_from(["depth", "State", "actions", "", "images2"]))] = _array(rng, "float32", (3,))
        elif what == "replace" and field != "images":
            obs[field] = draw(bad_values(rng, lead + ((SPEC.state_dim,) if field == "state" else (3,))))
        elif what == "replace":
            cam = draw(st.sampled_from(["top", "wrist"]))
            if isinstance(obs.get("images"), dict):
                obs["images"][cam] = draw(bad_values(rng, lead + (6, 8, 3)))
            else:
                obs["images"] = draw(bad_values(rng, lead + (2, 6, 8, 3)))
        elif what == "poison" and field != "images" and isinstance(obs.get(field), np.ndarray) \
                and obs[field].dtype.kind == "f" and obs[field].size:
            value = draw(st.sampled_from(SPECIAL))
            arr = obs[field]
            if abs(value) > F32_MAX and np.isfinite(value) and arr.dtype == np.float32:
                arr = obs[field] = arr.astype(np.float64)  # 1e300 only exists in float64
            flat = arr.reshape(-1)
            with np.errstate(over="ignore"):
                flat[draw(st.integers(0, flat.size - 1))] = value
        elif what == "float64" and field != "images" and isinstance(obs.get(field), np.ndarray) \
                and obs[field].dtype.kind in "biuf":  # valid: float64 vectors are accepted
            obs[field] = obs[field].astype(np.float64)
        elif what == "dtype" and field != "images" and isinstance(obs.get(field), np.ndarray) \
                and obs[field].dtype.kind in "biufc":  # a "replace" may have left strings or objects
            obs[field] = obs[field].astype(draw(st.sampled_from(DTYPES)))
        elif what == "camera" and isinstance(obs.get("images"), dict):
            if draw(st.booleans()):
                obs["images"].pop(draw(st.sampled_from(["top", "wrist"])), None)  # may be gone already
            else:
                obs["images"][draw(st.sampled_from(["side", "TOP", ""]))] = _array(rng, "uint8", lead + (6, 8, 3))
        elif what == "stack" and isinstance(obs.get("images"), dict) and len(obs["images"]) == 2 \
                and all(isinstance(v, np.ndarray) for v in obs["images"].values()):
            try:
                obs["images"] = np.stack([obs["images"]["top"], obs["images"]["wrist"]], axis=len(lead))
            except (ValueError, KeyError):
                pass
        elif what == "not_a_dict":
            obs = draw(st.sampled_from([None, [], "obs", 3.0, (("state", 1),)]))
    return obs, batched


def _valid(rng: np.random.Generator) -> dict:
    return random_obs(SPEC, rng)


@FUZZ
@given(case=observations(), mode=st.sampled_from(["ensemble", "queue"]),
       method=st.sampled_from(["step", "predict_chunk"]), warm=st.integers(0, 5))
def test_fuzzed_observations_give_an_action_or_one_line_error(policies, case, mode, method, warm) -> None:
    obs, batched = case
    p, ref = policies[mode]
    rng = np.random.default_rng(warm)
    p.reset()
    ref.reset()
    for _ in range(warm):  # some state to keep
        o = _valid(rng)
        np.testing.assert_array_equal(p.step(o), ref.step(o))
    if method == "step":
        batched = False
    call = (lambda pol: pol.step(obs)) if method == "step" else (lambda pol: pol.predict_chunk(obs, batched=batched))
    try:
        got = np.array(call(p))
    except ObservationError as exc:
        one_line(exc)  # and the reference is not told: the states must still agree below
        event(f"ObservationError {str(exc).split(':')[1][:24]}")
    except ActionError as exc:  # a valid observation the model overflows on (e.g. state 3.4e38)
        one_line(exc)
        event("ActionError")
        with pytest.raises(ActionError, match="^" + _escape(str(exc)) + "$"):
            call(ref)  # the same refusal at the same point: the two stay in step
    else:
        event("accepted")
        assert got.dtype == np.float32 and np.isfinite(got).all()
        np.testing.assert_array_equal(got, call(ref))
    for _ in range(2):  # the policy goes on exactly as the reference does
        o = _valid(rng)
        np.testing.assert_array_equal(p.step(o), ref.step(o))


def _escape(text: str) -> str:
    import re

    return re.escape(text)


@FUZZ
@given(seed=st.integers(0, 2**32 - 1), batched=st.booleans(),
       dtype=st.sampled_from(["float32", "float32", "float64", "float16", "int32", "object"]),
       shape_kind=st.sampled_from(["right", "right", "short", "long", "batch1", "flat"]),
       layout=st.sampled_from(["c", "c", "strided", "fortran", "readonly", "list"]))
def test_fuzzed_out_arrays_are_filled_or_refused(policies, seed, batched, dtype, shape_kind, layout) -> None:
    p, ref = policies["ensemble"]
    rng = np.random.default_rng(seed)
    batch = 2 if batched else None
    obs = random_obs(SPEC, rng, batch=batch)
    T, A = SPEC.chunk_size, SPEC.action_dim
    want = ((2,) if batched else ()) + (T, A)
    shape = {"right": want, "short": want[:-1] + (A - 1,), "long": (3,) + want, "batch1": (1, T, A),
             "flat": (T * A,)}[shape_kind]
    if layout == "strided":
        out = np.zeros(shape[:-1] + (2 * shape[-1],), dtype=dtype)[..., ::2]
    elif layout == "fortran":
        out = np.asfortranarray(np.zeros(shape, dtype=dtype))
    else:
        out = np.zeros(shape, dtype=dtype)
    if layout == "readonly":
        out.flags.writeable = False
    if layout == "list":
        out = out.tolist()
    try:
        result = p.predict_chunk(obs, batched=batched, out=out)
    except ArgumentError as exc:
        one_line(exc)
        assert isinstance(exc, ValueError)
        event("refused")
        return
    event("filled")
    assert result is out and out.dtype == np.float32 and out.shape == want
    np.testing.assert_array_equal(out, ref.predict_chunk(obs, batched=batched))


# --- ensemble and queue inputs ------------------------------------------------------------------------
@st.composite
def ensemble_runs(draw):
    chunk = draw(st.integers(1, 12))
    A = draw(st.integers(1, 5))
    k = draw(st.one_of(st.floats(-1, 1), st.floats(-70, 70), st.sampled_from([0.0, 0.01, 7.0, -7.0, 60.0])))
    ops = draw(st.lists(st.tuples(st.sampled_from(["update"] * 6 + ["poison", "reset"]),
                                  st.integers(0, 2**32 - 1)), min_size=1, max_size=40))
    return chunk, A, k, ops


def _chunk(seed: int, chunk: int, A: int, poison: bool) -> np.ndarray:
    rng = np.random.default_rng(seed)
    c = (rng.uniform(0.05, 10, (chunk, A)) * rng.choice([-1, 1], (chunk, A))).astype(np.float32)
    if poison:
        c[rng.integers(chunk), rng.integers(A)] = rng.choice([np.nan, np.inf, -np.inf])
    return c


def _reference(chunks: list[np.ndarray], k: float) -> np.ndarray:
    """Weighted mean of the live predictions for the last step, exp(-k i) with i = 0 the oldest (float64)."""
    t, chunk = len(chunks) - 1, chunks[0].shape[0]
    live = np.array([chunks[tp][t - tp] for tp in range(max(0, t - chunk + 1), t + 1)], dtype=np.float64)
    e = -k * np.arange(len(live))
    w = np.exp(e - e.max())
    return (w[:, None] * live).sum(0) / w.sum()


@FUZZ
@given(run=ensemble_runs())
def test_fuzzed_ensemble_inputs(run) -> None:
    chunk, A, k, ops = run
    if abs(k) * (chunk - 1) > 600:
        with pytest.raises(ValueError, match="beyond float64") as info:
            TemporalEnsemble(chunk, A, k)
        one_line(info.value)
        return
    ens = TemporalEnsemble(chunk, A, k)
    accepted: list[np.ndarray] = []
    for op, seed in ops:
        if op == "reset":
            ens.reset()
            accepted = []
            continue
        c = _chunk(seed, chunk, A, poison=op == "poison")
        if op == "poison":
            with pytest.raises(ActionError, match=r"^model output: non-finite action") as info:
                ens.update(c)
            one_line(info.value)
            continue  # the next update's result shows whether anything of it stayed
        accepted.append(c)
        a = ens.update(c)
        assert a.dtype == np.float32 and a.shape == (A,) and np.isfinite(a).all()
        assert ens.n_live == min(len(accepted), chunk)
        np.testing.assert_allclose(a, _reference(accepted, k), rtol=1e-4, atol=1e-4)


@FUZZ
@given(chunk=st.integers(1, 8), A=st.integers(1, 4), data=st.data())
def test_fuzzed_chunk_queue_inputs(chunk, A, data) -> None:
    steps = data.draw(st.integers(1, chunk))
    q = ChunkQueue(chunk, A, steps)
    current, i = None, steps
    for op, seed in data.draw(st.lists(st.tuples(st.sampled_from(["push", "poison", "pop", "pop", "reset"]),
                                                 st.integers(0, 2**32 - 1)), max_size=30)):
        if op == "reset":
            q.reset()
            i = steps
        elif op in ("push", "poison"):
            c = _chunk(seed, chunk, A, poison=op == "poison")
            if op == "poison":
                with pytest.raises(ActionError) as info:
                    q.push(c)
                one_line(info.value)
            else:
                q.push(c)
                current, i = c, 0
        elif i >= steps:
            assert q.needs_chunk
            with pytest.raises(RuntimeError):
                q.pop()
        else:
            a = q.pop()
            assert a.dtype == np.float32
            np.testing.assert_array_equal(a, current[i])
            i += 1
        assert q.remaining == steps - i
