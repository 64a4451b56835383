"""Async inference (docs/async.md): the ensemble's add/pop maths against a brute-force reference, and
the Policy's worker scheduling driven by a test backend whose completion the test controls.

`GatedBackend` is a test double for scheduling only (chunk = a fixed random affine function of the
staged inputs; execute() waits for the test to open a gate): it is not an inference engine.
"""

from __future__ import annotations

import gc
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from act_edge import ActionError, ArgumentError, ConcurrentUseError, ObservationError, Policy
from act_edge.backends.base import Backend, allocate_io
from act_edge.bundle import Bundle, io_description
from act_edge.ensemble import TemporalEnsemble
from bundles import random_obs, synthetic_spec

# --- the ensemble maths -------------------------------------------------------------------------


def brute_force(arrivals: dict[int, list[tuple[int, np.ndarray]]], T: int, k: float) -> tuple[list, int]:
    """Per tick t: sum_i w_i chunk_i[t - t0_i] / sum_i w_i over arrived chunks covering t,
    w_i = exp(k (t - t0_i)); none covering: the last action again (a starved tick). Float64."""
    arrived: list[tuple[int, np.ndarray]] = []
    out, last, starved = [], None, 0
    for t in range(T):
        arrived += arrivals.get(t, [])
        live = [(t0, c) for t0, c in arrived if t0 <= t < t0 + c.shape[0]]
        if live:
            w = np.array([np.exp(k * (t - t0)) for t0, _ in live])
            last = sum(wi * c[t - t0].astype(np.float64) for wi, (t0, c) in zip(w, live)) / w.sum()
        else:
            starved += 1
        out.append(last)
    return out, starved


@pytest.mark.parametrize("k", [0.01, 0.0, -0.3, 0.5, 2.0])
def test_add_pop_matches_brute_force_on_random_schedules(k: float) -> None:
    """>= 1000 schedules over the parametrization: gaps, late chunks, several per tick, age >= chunk."""
    rng = np.random.default_rng(int(abs(k) * 1000) + 7)
    for _ in range(220):
        C, A, T = int(rng.integers(1, 9)), int(rng.integers(1, 4)), int(rng.integers(1, 30))
        ens = TemporalEnsemble(C, A, k)
        arrivals: dict[int, list] = {}
        for t in range(T):
            for _ in range(int(rng.choice([0, 0, 1, 1, 1, 2]))):
                age = int(rng.integers(0, C + 3))  # age >= C adds nothing
                if t - age >= 0 or t == 0:
                    age = min(age, t)
                    arrivals.setdefault(t, []).append((t - age, rng.normal(0, 3, (C, A)).astype(np.float32)))
        if 0 not in arrivals:  # the episode's first tick has a chunk (the policy blocks for it)
            arrivals[0] = [(0, rng.normal(0, 3, (C, A)).astype(np.float32))]
        want, want_starved = brute_force(arrivals, T, k)
        for t in range(T):
            for t0, c in arrivals.get(t, []):
                ens.add(c, t - t0)
            got = ens.pop()
            assert got.dtype == np.float32
            np.testing.assert_allclose(got, want[t], atol=1e-6 * max(1.0, np.abs(want[t]).max()), rtol=1e-6)
        assert ens.starved == want_starved


@pytest.mark.parametrize("k", [0.01, -0.1, 3.0, 10.0])  # 10.0: float64 sums (span > 60)
def test_update_is_add_zero_then_pop(k: float) -> None:
    rng = np.random.default_rng(3)
    a, b = TemporalEnsemble(12, 5, k), TemporalEnsemble(12, 5, k)
    for _ in range(40):
        c = rng.normal(0, 2, (12, 5)).astype(np.float32)
        b.add(c, 0)
        np.testing.assert_allclose(a.update(c), b.pop(), atol=1e-6, rtol=1e-6)
        assert a.n_live == b.n_live


@pytest.mark.parametrize("k", [0.01, 0.0, -0.3, 3.0, -10.0, 10.0])
@pytest.mark.parametrize("n_updates", [0, 1, 3, 7, 8, 20])
def test_updates_then_late_chunks_match_brute_force(k: float, n_updates: int) -> None:
    """update() keeps no weight sums; the first add()/pop() after it must recover them exactly."""
    rng = np.random.default_rng(n_updates)
    C, A, T = 8, 3, n_updates + 25
    ens = TemporalEnsemble(C, A, k)
    assert ens.dtype == (np.float64 if abs(k) * (C - 1) > 60 else np.float32)
    arrivals: dict[int, list] = {}
    for t in range(T):
        if t < n_updates:
            arrivals[t] = [(t, rng.normal(0, 3, (C, A)).astype(np.float32))]
        elif rng.random() < 0.5 or t == 0:
            age = min(t, int(rng.integers(0, C + 2)))
            arrivals[t] = [(t - age, rng.normal(0, 3, (C, A)).astype(np.float32))]
    want, starved = brute_force(arrivals, T, k)
    for t in range(T):
        if t < n_updates:
            got = ens.update(arrivals[t][0][1])
        else:
            for t0, c in arrivals.get(t, []):
                ens.add(c, t - t0)
            got = ens.pop()
        np.testing.assert_allclose(got, want[t], atol=1e-6 * max(1.0, np.abs(want[t]).max()), rtol=1e-6)
    assert ens.starved == starved


def test_add_refuses_bad_chunk_or_age_before_any_change() -> None:
    rng = np.random.default_rng(4)
    ens, ref = TemporalEnsemble(6, 3, 0.01), TemporalEnsemble(6, 3, 0.01)
    c = rng.normal(size=(6, 3)).astype(np.float32)
    ens.add(c, 0), ref.add(c, 0)
    bad = rng.normal(size=(6, 3)).astype(np.float32)
    bad[4, 1] = np.nan
    with pytest.raises(ActionError, match="non-finite"):
        ens.add(bad, 2)
    with pytest.raises(ValueError, match="age must be >= 0"):
        ens.add(c, -1)
    np.testing.assert_array_equal(ens.pop(), ref.pop())


def test_pop_with_nothing_since_reset_raises_and_starved_repeats() -> None:
    ens = TemporalEnsemble(3, 2, 0.01)
    with pytest.raises(RuntimeError, match="no prediction covers"):
        ens.pop()
    c = np.random.default_rng(5).normal(size=(3, 2)).astype(np.float32)
    ens.add(c, 2)  # only its last row is still ahead
    first = ens.pop().copy()
    np.testing.assert_array_equal(first, c[2])
    np.testing.assert_array_equal(ens.pop(), first)  # starved: the last action again
    assert ens.starved == 1 and ens.last_starved and ens.n_live == 0


# --- the Policy's worker ------------------------------------------------------------------------


class GatedBackend(Backend):
    """Scheduling test double, not an engine: chunk = M * s + N with s the sum of the staged state;
    with `gated`, execute() waits until the test calls `release()`; `fail` raises from execute()."""

    name = "gated-test-backend"

    def __init__(self, bundle: Bundle, gated: bool = True, seed: int = 0) -> None:
        super().__init__(bundle, 1)
        self._inputs, self._output = allocate_io(bundle, 1)
        rng = np.random.default_rng(seed)
        self.M = rng.normal(0, 1, self._output.shape[1:]).astype(np.float32)
        self.N = rng.normal(0, 1, self._output.shape[1:]).astype(np.float32)
        self.gated = gated
        self._gate = threading.Semaphore(0)
        self.fail: BaseException | None = None
        self.nan = False
        self.executed = 0
        self.thread_ids: set[int] = set()

    def release(self) -> None:
        self._gate.release()

    def upload(self, batch: int) -> None:
        pass

    def execute(self, batch: int) -> None:
        self.thread_ids.add(threading.get_ident())
        if self.gated and not self._gate.acquire(timeout=20):
            raise TimeoutError("test never released the job")
        if self.fail is not None:
            raise self.fail
        s = sum(float(np.asarray(b[0], dtype=np.float64).sum()) for n, b in self._inputs.items() if "state" in n)
        np.multiply(self.M, s / 100.0, self._output[0])
        np.add(self._output[0], self.N, self._output[0])
        if self.nan:
            self._output[0, 3, 1] = np.inf
        self.executed += 1

    def download(self, batch: int) -> np.ndarray:
        return self._output[:batch]


SPEC = synthetic_spec(chunk=8, dof=4, cams=(("top", 6, 8),))


def make_policy(coeff: float | None = 0.01, n_steps: int = 1, gated: bool = True, **kw) -> tuple[Policy, GatedBackend]:
    bundle = Bundle(Path("gated.actedge"), {"io": io_description(SPEC)}, SPEC)
    be = GatedBackend(bundle, gated=gated)
    return Policy(bundle, be, coeff, n_steps, inference="async", **kw), be


def reference_chunks(obs: list[dict]) -> list[np.ndarray]:
    """The chunk of each observation, run synchronously (same test function, no worker)."""
    bundle = Bundle(Path("gated.actedge"), {"io": io_description(SPEC)}, SPEC)
    p = Policy(bundle, GatedBackend(bundle, gated=False), 0.01, 1)
    return [p.predict_chunk(o) for o in obs]


def observations(n: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [random_obs(SPEC, rng) for _ in range(n)]


def finish_in_flight(p: Policy, be: GatedBackend) -> None:
    be.release()
    p._worker.wait()


def worker_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "act-edge-inference"]


@pytest.mark.parametrize("k", [0.01, 0.0, -0.2])
def test_async_ensemble_follows_the_arrival_schedule(k: float) -> None:
    """Random latencies (chunk done 1..10 ticks after hand-off): actions == brute force on the arrivals."""
    rng = np.random.default_rng(11)
    T = 60
    obs = observations(T, seed=1)
    chunks = reference_chunks(obs)
    p, be = make_policy(k)
    be.release()  # the first chunk (the first step waits for it)
    arrivals: dict[int, list] = {0: [(0, chunks[0])]}
    in_flight, release_at, got = None, -1, []
    for t in range(T):
        got.append(p.step(obs[t]).copy())
        if in_flight is None and t > 0:
            in_flight, release_at = t, t + int(rng.integers(0, 10))  # handed off at this tick
        if in_flight is not None and t >= release_at:
            finish_in_flight(p, be)
            if t + 1 < T:
                arrivals.setdefault(t + 1, []).append((in_flight, chunks[in_flight]))  # folded next tick
            in_flight = None
    want, starved = brute_force(arrivals, T, k)
    np.testing.assert_allclose(np.stack(got), np.stack(want), atol=1e-5, rtol=1e-5)
    rep = p.latency_report()["chunks"]
    assert rep["starved_ticks"] == starved and rep["ticks"] == T
    assert rep["chunk_age"]["max"] >= 1 and rep["inferences"] >= 2
    table = p.latency_report(table=True)
    assert "chunks (async): age p50 " in table and f"max {rep['chunk_age']['max']} ticks" in table
    assert f"{starved} starved ticks" in table
    be.release()
    p.close()


def test_async_first_step_equals_sync_first_step() -> None:
    obs = observations(1, seed=2)
    p, be = make_policy(0.01, gated=False)
    bundle = Bundle(Path("gated.actedge"), {"io": io_description(SPEC)}, SPEC)
    sync = Policy(bundle, GatedBackend(bundle, gated=False), 0.01, 1)
    np.testing.assert_allclose(p.step(obs[0]), sync.step(obs[0]), atol=1e-6, rtol=1e-6)
    p.close()


def test_async_chunk_queue_switches_to_row_t_minus_t0() -> None:
    """Queue mode, refill margin 3: a chunk requested at tick r arriving at tick a is executed from its
    row a - r (rows for ticks already passed are skipped); nothing covering: the last action repeats."""
    n, margin, T = 6, 3, 40
    obs = observations(T, seed=3)
    chunks = reference_chunks(obs)
    p, be = make_policy(None, n_steps=n, refill_margin=margin)
    be.release()
    rng = np.random.default_rng(4)
    cur_t0, in_flight, release_at, last, got, want = 0, None, -1, None, [], []
    for t in range(T):
        got.append(p.step(obs[t]).copy())
        row = t - cur_t0
        last = chunks[cur_t0][row] if row < SPEC.chunk_size else last
        want.append(last)
        if in_flight is None and t > 0 and n - (t - cur_t0) <= margin:
            in_flight, release_at = t, t + int(rng.integers(0, 7))
        if in_flight is not None and t >= release_at:
            finish_in_flight(p, be)
            cur_t0, in_flight = in_flight, None  # switches at tick t + 1 to row t + 1 - in_flight
    np.testing.assert_array_equal(np.stack(got), np.stack(want))
    assert p.latency_report()["chunks"]["starved_ticks"] > 0  # some latencies outran the chunk
    be.release()
    p.close()


def test_default_refill_margin_is_measured_latency_plus_one() -> None:
    p, be = make_policy(None, n_steps=8)
    be.release()
    obs = observations(30, seed=5)
    p.step(obs[0])
    assert p._due(7) and not p._due(6)  # nothing measured yet: margin 1
    p.step(obs[1])  # ... up to the refill tick
    for t in range(2, 8):
        p.step(obs[t])
    assert p._worker.running  # requested at tick 7 (1 action left)
    for t in range(8, 11):
        p.step(obs[t])
    finish_in_flight(p, be)
    p.step(obs[11])  # arrives at tick 11: latency 4 ticks -> margin 5
    assert p._latency_ticks == 4 and p._due(7 + 8 - 5) and not p._due(7 + 8 - 6)
    be.release()
    p.close()


def test_reset_discards_the_chunk_in_flight() -> None:
    obs = observations(6, seed=6)
    chunks = reference_chunks(obs)
    p, be = make_policy(0.01)
    be.release()
    p.step(obs[0])
    p.step(obs[1])  # hands off obs[1]; the job is still gated
    assert p._worker.running
    p.reset()
    be.release()  # the stale job finishes...
    be.release()  # ...and the new episode's first chunk may run
    a = p.step(obs[2]).copy()
    np.testing.assert_allclose(a, chunks[2][0], atol=1e-6)  # obs[1]'s chunk never entered
    p._worker.wait()
    p.step(obs[3])
    rep = p.latency_report()["chunks"]
    assert rep["chunk_age"]["max"] <= 1
    be.release()
    p.close()


def test_worker_failure_is_raised_by_the_next_step_with_its_message() -> None:
    obs = observations(5, seed=7)
    p, be = make_policy(0.01)
    be.release()
    p.step(obs[0])
    be.fail = OSError("CUDA error 700: an illegal memory access (from the engine)")
    p.step(obs[1])  # hands off; the job fails
    finish_in_flight(p, be)
    with pytest.raises(OSError, match=r"^CUDA error 700: an illegal memory access \(from the engine\)$"):
        p.step(obs[2])
    be.fail = None
    p.step(obs[2])  # surfaced once; the worker takes jobs again
    be.nan = True
    finish_in_flight(p, be)
    with pytest.raises(ActionError, match="non-finite action inf at \\(3, 1\\)"):
        p.step(obs[3])
    be.release()
    p.close()


def test_bad_observation_is_refused_before_anything_changes() -> None:
    obs = observations(3, seed=8)
    p, be = make_policy(0.01)
    be.release()
    p.step(obs[0])
    bad = dict(obs[1], state=np.full(SPEC.state_dim, np.nan, np.float32))
    with pytest.raises(ObservationError):
        p.step(bad)
    assert not p._worker.running and p._tick == 1  # nothing handed off, no tick counted
    be.release()
    p.close()


def test_second_thread_in_step_is_refused() -> None:
    obs = observations(2, seed=9)
    p, be = make_policy(0.01)
    t = threading.Thread(target=p.step, args=(obs[0],))
    t.start()  # blocks in the first step, waiting for the gated first chunk
    deadline = time.monotonic() + 10
    while not p._worker.running and time.monotonic() < deadline:
        time.sleep(0.001)
    with pytest.raises(ConcurrentUseError, match="another thread is inside this Policy"):
        p.step(obs[1])
    be.release()
    t.join(10)
    assert not t.is_alive()
    p.close()


def test_predict_chunk_waits_for_the_job_in_flight_and_is_synchronous() -> None:
    obs = observations(4, seed=10)
    chunks = reference_chunks(obs)
    p, be = make_policy(0.01)
    be.release()
    p.step(obs[0])
    p.step(obs[1])  # job for obs[1] in flight
    threading.Timer(0.05, be.release).start()  # finishes the in-flight job...
    threading.Timer(0.1, be.release).start()  # ...then predict_chunk's own run
    np.testing.assert_allclose(p.predict_chunk(obs[3]), chunks[3], atol=1e-6)
    p.step(obs[2])  # obs[1]'s chunk is folded at age 1, not lost
    assert p.latency_report()["chunks"]["inferences"] == 2
    be.release()
    p.close()


def test_no_allocation_in_the_control_thread_per_step() -> None:
    """tracemalloc over 3000 steps with the worker running (ungated): nothing accumulates, no
    per-step temporaries beyond small scalars (both threads are traced, so this bounds the control
    thread's too)."""
    obs = observations(3, seed=12)
    p, be = make_policy(0.01, gated=False)
    tracemalloc.start()
    try:
        for i in range(3000):
            p.step(obs[i % 3])
        base, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for i in range(3000):
            p.step(obs[i % 3])
        cur, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert p.latency_report()["chunks"]["inferences"] > 10  # the worker really ran meanwhile
    assert peak - base < 8192, (base, peak)
    assert cur - base < 2048, (base, cur)
    p.close()


def test_no_thread_left_after_close_or_garbage_collection() -> None:
    before = len(worker_threads())
    p, be = make_policy(0.01, gated=False)
    p.step(observations(1)[0])
    assert len(worker_threads()) == before + 1
    assert be.thread_ids and threading.get_ident() not in be.thread_ids  # the model ran on the worker
    p.close()
    assert len(worker_threads()) == before
    p.close()  # idempotent
    q, _ = make_policy(0.01, gated=False)
    q.step(observations(1)[0])
    assert len(worker_threads()) == before + 1
    del q
    gc.collect()
    assert len(worker_threads()) == before


def test_inference_argument_is_checked() -> None:
    bundle = Bundle(Path("gated.actedge"), {"io": io_description(SPEC)}, SPEC)
    with pytest.raises(ArgumentError, match="inference must be 'sync' or 'async', got 'threads'"):
        Policy(bundle, GatedBackend(bundle), 0.01, 1, inference="threads")
    with pytest.raises(ArgumentError, match="refill_margin must be an integer >= 0"):
        Policy(bundle, GatedBackend(bundle), None, 4, inference="async", refill_margin=-1)


def test_load_async_onnxruntime_leaves_a_core_to_the_control_thread(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    import os

    from bundles import build_synthetic_bundle

    b = build_synthetic_bundle(tmp_path / "s.actedge", synthetic_spec(env_state_dim=3))
    obs = random_obs(b.spec, np.random.default_rng(13))
    with Policy.load(b.path, backend="onnxruntime", inference="async") as p:
        threads = p.backend._session.get_session_options().intra_op_num_threads
        assert threads == max(1, len(os.sched_getaffinity(0)) - 1)
        sync = Policy.load(b.path, backend="onnxruntime")
        np.testing.assert_allclose(p.step(obs), sync.step(obs), atol=1e-6)
        sync.close()
    with Policy.load(b.path, backend="onnxruntime", inference="async", intra_op_threads=2) as p:
        assert p.backend._session.get_session_options().intra_op_num_threads == 2
    with pytest.raises(ArgumentError, match="inference must be"):
        Policy.load(b.path, inference="Async")
