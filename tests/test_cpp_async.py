"""C++ async ensemble (issue 13) against the definition and against the Python runtime.

The same random arrival schedules (gaps, several chunks in a tick, late chunks, age >= C, resets)
drive `act_edge_cpp.TemporalEnsemble.add/pop`, a float64 brute force of docs/async.md's formula and,
where it exists, Python's `act_edge.ensemble.TemporalEnsemble.add/pop`. The threaded runner
(AsyncStepper) is covered by ctest (cpp_bindings/tests/async.test.cpp, run by test_cpp_bindings).
"""

from __future__ import annotations

import numpy as np
import pytest

from cpp_build import build_cpp, import_cpp

COEFFS = [0.01, 0.0, -0.01, 0.1]


@pytest.fixture(scope="module")
def cpp():
    return import_cpp(build_cpp())


def random_schedule(rng: np.random.Generator, chunk: int, dim: int) -> list[tuple[str, object]]:
    """Events per tick: ("reset", None), ("add", (chunk_array, age)) ..., ("pop", None)."""
    events: list[tuple[str, object]] = []
    t = 0
    for _ in range(int(rng.integers(1, min(2 * chunk + 12, 120) + 1))):
        if rng.random() < 0.02:
            events.append(("reset", None))
            t = 0
        r = rng.random()
        n = 0 if r < 0.3 else 1 if r < 0.8 else int(rng.integers(1, 4))
        if t == 0:  # an episode starts with a chunk (a pop with no action since reset is an error:
            n = max(n, 1)  # test_pop_with_no_action_since_reset_is_refused_alike)
        for _ in range(n):
            q = rng.random()
            age = 0 if q < 0.3 else int(rng.integers(0, chunk)) if q < 0.85 else chunk + int(rng.integers(0, 4))
            age = min(age, t)  # t0 >= 0
            events.append(("add", (rng.standard_normal((chunk, dim)).astype(np.float32), age)))
        events.append(("pop", None))
        t += 1
    return events


def brute_force(events, chunk: int, dim: int, coeff: float) -> tuple[np.ndarray, int]:
    """action(t) = sum w_i chunk_i[t - t0_i] / sum w_i, w_i = exp(k (t - t0_i)); starved: last action."""
    arrived: list[tuple[int, np.ndarray]] = []
    last = np.zeros(dim)
    t, starved, out = 0, 0, []
    for kind, arg in events:
        if kind == "reset":
            arrived, last, t, starved = [], np.zeros(dim), 0, 0
        elif kind == "add":
            c, age = arg
            arrived.append((t - age, c.astype(np.float64)))
        else:
            live = [(t0, c) for t0, c in arrived if t0 <= t < t0 + chunk]
            if live:
                w = np.array([np.exp(coeff * (t - t0)) for t0, _ in live])
                rows = np.stack([c[t - t0] for t0, c in live])
                last = (w[:, None] * rows).sum(0) / w.sum()
            else:
                starved += 1
            out.append(last.copy())
            t += 1
    return np.array(out).reshape(-1, dim), starved


def drive(ens, events) -> np.ndarray:
    out = []
    for kind, arg in events:
        if kind == "reset":
            ens.reset()
        elif kind == "add":
            ens.add(*arg)
        else:
            out.append(np.array(ens.pop(), dtype=np.float32, copy=True))
    return np.array(out, dtype=np.float32).reshape(-1, ens.action_dim)


def schedules(n: int, seed: int):
    rng = np.random.default_rng(seed)
    for i in range(n):
        chunk = int(rng.choice([1, 2, 3, 5, 8, 17, 40, 100]))
        dim = 14 if chunk == 100 else int(rng.integers(1, 6))
        yield chunk, dim, COEFFS[i % len(COEFFS)], random_schedule(rng, chunk, dim)


def test_cpp_add_pop_match_brute_force(cpp) -> None:
    for chunk, dim, coeff, events in schedules(300, seed=13):
        ens = cpp.TemporalEnsemble(chunk, dim, coeff)
        want, starved = brute_force(events, chunk, dim, coeff)
        np.testing.assert_allclose(drive(ens, events), want, rtol=0, atol=1e-6, err_msg=f"chunk {chunk} k {coeff}")
        assert ens.starved == starved


def test_cpp_add_age_zero_then_pop_is_update(cpp) -> None:
    rng = np.random.default_rng(3)
    chunks = rng.standard_normal((250, 20, 4)).astype(np.float32)
    a, b = cpp.TemporalEnsemble(20, 4, 0.01), cpp.TemporalEnsemble(20, 4, 0.01)
    for c in chunks:
        a.add(c, 0)
        np.testing.assert_array_equal(a.pop(), b.update(c))
    assert a.starved == 0


def test_cpp_add_refuses_non_finite_in_any_row(cpp) -> None:
    rng = np.random.default_rng(4)
    good = rng.standard_normal((6, 2)).astype(np.float32)
    ens, twin = cpp.TemporalEnsemble(6, 2, 0.01), cpp.TemporalEnsemble(6, 2, 0.01)
    ens.add(good, 0)
    twin.add(good, 0)
    bad = good.copy()
    bad[0, 1] = np.nan  # a row whose tick has passed (age 2) is checked too
    with pytest.raises(cpp.ActionError, match=r"^model output: non-finite action nan at \(0, 1\)"):
        ens.add(bad, 2)
    with pytest.raises(ValueError, match="age must be >= 0"):
        ens.add(good, -1)
    for _ in range(7):
        np.testing.assert_array_equal(ens.pop(), twin.pop())


def _python_add_pop_class():
    from act_edge.ensemble import TemporalEnsemble

    if not (hasattr(TemporalEnsemble, "add") and hasattr(TemporalEnsemble, "pop")):
        pytest.skip("act_edge.ensemble.TemporalEnsemble has no add/pop yet (issue 13, Python side)")
    return TemporalEnsemble


def test_cpp_matches_python_add_pop_on_the_same_schedules(cpp) -> None:
    PyEnsemble = _python_add_pop_class()
    for chunk, dim, coeff, events in schedules(200, seed=29):
        py, cc = PyEnsemble(chunk, dim, coeff), cpp.TemporalEnsemble(chunk, dim, coeff)
        got_py, got_cc = [], []
        for kind, arg in events:
            if kind == "reset":
                py.reset()
                cc.reset()
            elif kind == "add":
                py.add(*arg)
                cc.add(*arg)
            else:
                got_py.append(np.array(py.pop(), dtype=np.float32, copy=True))
                got_cc.append(cc.pop())
        np.testing.assert_allclose(np.array(got_cc), np.array(got_py), rtol=0, atol=1e-6,
                                   err_msg=f"chunk {chunk} dim {dim} k {coeff}")


def test_pop_with_no_action_since_reset_is_refused_alike(cpp) -> None:
    """No prediction covers the tick and none came since reset(): there is no last action to repeat.
    Both runtimes refuse (never an invented zero action for the robot) and change nothing."""
    PyEnsemble = _python_add_pop_class()
    rng = np.random.default_rng(8)
    chunk = rng.standard_normal((5, 3)).astype(np.float32)
    for ens in (PyEnsemble(5, 3, 0.01), cpp.TemporalEnsemble(5, 3, 0.01)):
        for _ in range(2):  # at construction, then after a reset
            with pytest.raises(RuntimeError, match=r"^temporal ensemble: no prediction covers this tick and none "
                                                   r"came since reset\(\)$"):
                ens.pop()
            assert ens.starved == 0
            ens.add(chunk, 0)  # still tick 0: the chunk's row 0 is this tick's action
            np.testing.assert_allclose(ens.pop(), chunk[0], rtol=0, atol=1e-6)
            ens.reset()
