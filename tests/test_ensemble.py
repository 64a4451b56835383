"""TemporalEnsemble / ChunkQueue against independent float64 references of the original ACT eval loop
and of LeRobot's ACTTemporalEnsembler (both written here from their published semantics)."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from act_edge.ensemble import ChunkQueue, TemporalEnsemble


def original_act_eval_loop(chunks: np.ndarray, k: float) -> np.ndarray:
    """tonyzhaozh/act imitate_episodes.py eval loop (query every step, temporal_agg=True), float64."""
    T, chunk, A = chunks.shape
    all_time_actions = np.zeros((T, T + chunk, A))
    out = np.zeros((T, A))
    for t in range(T):
        all_time_actions[[t], t:t + chunk] = chunks[t]
        actions_for_curr_step = all_time_actions[:, t]
        actions_populated = np.all(actions_for_curr_step != 0, axis=1)
        actions_for_curr_step = actions_for_curr_step[actions_populated]
        exp_weights = np.exp(-k * np.arange(len(actions_for_curr_step)))
        exp_weights = exp_weights / exp_weights.sum()
        out[t] = (actions_for_curr_step * exp_weights[:, None]).sum(axis=0)
    return out


class LeRobotEnsembler:
    """lerobot ACTTemporalEnsembler semantics (running average + counts), numpy float64."""

    def __init__(self, k: float, chunk: int) -> None:
        self.chunk = chunk
        self.weights = np.exp(-k * np.arange(chunk))
        self.weights_cumsum = np.cumsum(self.weights)
        self.reset()

    def reset(self) -> None:
        self.ensembled_actions = None
        self.ensembled_actions_count = None

    def update(self, actions: np.ndarray) -> np.ndarray:  # actions (B, chunk, A)
        actions = actions.astype(np.float64)
        if self.ensembled_actions is None:
            self.ensembled_actions = actions.copy()
            self.ensembled_actions_count = np.ones((self.chunk, 1), dtype=np.int64)
        else:
            c = self.ensembled_actions_count
            self.ensembled_actions = self.ensembled_actions * self.weights_cumsum[c - 1]
            self.ensembled_actions = self.ensembled_actions + actions[:, :-1] * self.weights[c]
            self.ensembled_actions = self.ensembled_actions / self.weights_cumsum[c]
            self.ensembled_actions_count = np.clip(c + 1, None, self.chunk)
            self.ensembled_actions = np.concatenate([self.ensembled_actions, actions[:, -1:]], axis=1)
            self.ensembled_actions_count = np.concatenate(
                [self.ensembled_actions_count, np.ones_like(self.ensembled_actions_count[-1:])])
        action = self.ensembled_actions[:, 0]
        self.ensembled_actions = self.ensembled_actions[:, 1:]
        self.ensembled_actions_count = self.ensembled_actions_count[1:]
        return action


def random_chunks(rng: np.random.Generator, T: int, chunk: int, A: int) -> np.ndarray:
    # Non-zero everywhere (uniform magnitudes in [0.05, 2] with random signs) so the original's
    # zero test cannot drop anything.
    mag = rng.uniform(0.05, 2.0, (T, chunk, A))
    return (mag * rng.choice([-1.0, 1.0], (T, chunk, A))).astype(np.float32)


def run_ours(chunks: np.ndarray, k: float) -> np.ndarray:
    T, chunk, A = chunks.shape
    ens = TemporalEnsemble(chunk, A, k)
    return np.stack([ens.update(chunks[t]).copy() for t in range(T)])


@pytest.mark.parametrize("k", [0.01, 0.0, -0.01, -0.1, 0.1])
@pytest.mark.parametrize("chunk,A", [(100, 14), (20, 23), (1, 3), (7, 2)])
def test_matches_original_and_lerobot_over_1000_steps(k: float, chunk: int, A: int) -> None:
    rng = np.random.default_rng(abs(hash((k, chunk, A))) % 2**32)
    T = 1000
    chunks = random_chunks(rng, T, chunk, A)
    ours = run_ours(chunks, k)
    orig = original_act_eval_loop(chunks.astype(np.float64), k)
    ler = LeRobotEnsembler(k, chunk)
    lerobot = np.stack([ler.update(chunks[t][None])[0] for t in range(T)])
    assert ours.dtype == np.float32
    np.testing.assert_allclose(orig, lerobot, atol=1e-9, rtol=0)  # the two references agree
    np.testing.assert_allclose(ours, orig, atol=1e-6, rtol=0)
    # Not trivially equal to the newest or the oldest prediction once several are live.
    if chunk > 1:
        assert np.abs(ours[chunk:] - chunks[chunk:, 0]).max() > 1e-3


@pytest.mark.parametrize("k", [0.01, 0.0, -0.05])
def test_reset_restarts_warm_up(k: float) -> None:
    rng = np.random.default_rng(1)
    chunk, A = 30, 14
    ens = TemporalEnsemble(chunk, A, k)
    ler = LeRobotEnsembler(k, chunk)
    for episode_len in (45, 10, 100, 1):
        chunks = random_chunks(rng, episode_len, chunk, A)
        ens.reset()
        ler.reset()
        orig = original_act_eval_loop(chunks.astype(np.float64), k)
        for t in range(episode_len):
            got = ens.update(chunks[t])
            want = ler.update(chunks[t][None])[0]
            np.testing.assert_allclose(got, want, atol=1e-6, rtol=0)
            np.testing.assert_allclose(got, orig[t], atol=1e-6, rtol=0)
            assert ens.n_live == min(t + 1, chunk)
    ens.reset()  # first action after a reset is the new chunk's row 0 (to float32 rounding)
    c = random_chunks(rng, 1, chunk, A)[0]
    np.testing.assert_allclose(ens.update(c), c[0], atol=1e-6, rtol=0)


def test_real_zero_is_kept_but_original_drops_it() -> None:
    rng = np.random.default_rng(2)
    chunk, A, k = 5, 3, 0.01
    chunks = random_chunks(rng, 8, chunk, A).astype(np.float64)
    chunks[2, 4 - 2, 1] = 0.0  # the prediction made at step 2 says exactly 0.0 for joint 1 at step 4
    ours = run_ours(chunks.astype(np.float32), k)
    # Reference counting live predictions explicitly: predictions from steps 0..4 are live at t=4.
    preds = np.stack([chunks[tp, 4 - tp] for tp in range(5)])
    w = np.exp(-k * np.arange(5))
    want = (preds * w[:, None]).sum(0) / w.sum()
    np.testing.assert_allclose(ours[4], want, atol=1e-6)
    orig = original_act_eval_loop(chunks, k)
    assert abs(orig[4, 1] - want[1]) > 1e-3  # the original dropped the whole row


def test_large_positive_coeff_switches_to_float64() -> None:
    rng = np.random.default_rng(3)
    chunk, A, k = 100, 4, 1.0  # weights span e^99: float32 warm-up rescaling would underflow
    ens = TemporalEnsemble(chunk, A, k)
    assert ens.dtype == np.float64
    chunks = random_chunks(rng, 150, chunk, A)
    ours = np.stack([ens.update(chunks[t]).copy() for t in range(150)])
    np.testing.assert_allclose(ours, original_act_eval_loop(chunks.astype(np.float64), k), atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="beyond float64"):
        TemporalEnsemble(100, 4, 10.0)
    with pytest.raises(ValueError, match="finite"):
        TemporalEnsemble(100, 4, float("nan"))


def test_no_allocation_per_step() -> None:
    rng = np.random.default_rng(4)
    chunk, A = 100, 14
    ens = TemporalEnsemble(chunk, A, 0.01)
    chunks = random_chunks(rng, 8, chunk, A)
    for t in range(3 * chunk):  # past warm-up and through it once
        ens.update(chunks[t % 8])
    ens.reset()
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        first = ens.update(chunks[0])
        for t in range(10_000):
            out = ens.update(chunks[t % 8])
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # One (chunk, A) float32 temporary would be 5.6 kB; the finite check's two reductions hold ~1.2 kB
    # of iterator state while they run (freed each call), otherwise only small Python scalars appear.
    assert peak - base < 2048, (base, peak)
    assert current - base < 256
    assert out.base is not None and np.shares_memory(out, ens._acc)
    assert np.shares_memory(first, ens._acc)


def test_chunk_queue_order_and_refill() -> None:
    rng = np.random.default_rng(5)
    chunk, A, n = 10, 3, 4
    q = ChunkQueue(chunk, A, n)
    assert q.needs_chunk
    chunks = random_chunks(rng, 3, chunk, A)
    got = []
    for c in chunks:
        assert q.needs_chunk
        q.push(c)
        c_copy = c.copy()
        c[:] = 99.0  # the queue holds its own copy
        for i in range(n):
            assert not q.needs_chunk
            got.append(q.pop().copy())
        chunks_i = c_copy
        np.testing.assert_array_equal(np.stack(got[-n:]), chunks_i[:n])
    assert q.needs_chunk
    with pytest.raises(RuntimeError):
        q.pop()
    q.push(chunks[0])
    q.pop()
    q.reset()
    assert q.needs_chunk and q.remaining == 0


@pytest.mark.parametrize("bad", [0, -1, 11])
def test_chunk_queue_rejects_bad_n_action_steps(bad: int) -> None:
    with pytest.raises(ValueError, match=r"n_action_steps must be in 1\.\.10"):
        ChunkQueue(10, 3, bad)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("k", [0.01, 7.0])  # float32 and float64 accumulation
def test_non_finite_chunk_is_refused_and_the_ensemble_is_unchanged(bad: float, k: float) -> None:
    from act_edge.errors import ActionError

    rng = np.random.default_rng(6)
    chunk, A = 10, 4
    chunks = random_chunks(rng, 30, chunk, A)
    ens, ref = TemporalEnsemble(chunk, A, k), TemporalEnsemble(chunk, A, k)
    for t in range(30):
        if t in (3, 12, 25):  # during warm-up, at the end of it, and warm
            poisoned = chunks[t].copy()
            poisoned[7, 2] = bad
            with pytest.raises(ActionError, match=rf"^model output: non-finite action {bad} at \(7, 2\) "
                                                  r"\(the ensemble/queue was not updated\)"):
                ens.update(poisoned)
        got = ens.update(chunks[t])
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, ref.update(chunks[t]))  # as if the bad chunk never came
        assert ens.n_live == ref.n_live


def test_float64_accumulation_returns_float32_actions() -> None:
    rng = np.random.default_rng(7)
    chunk, A, k = 10, 4, 7.0  # |k| (chunk - 1) = 63 > 60: accumulates in float64
    ens = TemporalEnsemble(chunk, A, k)
    assert ens.dtype == np.float64
    chunks = random_chunks(rng, 25, chunk, A)
    ours = []
    for t in range(25):
        a = ens.update(chunks[t])
        assert a.dtype == np.float32 and a.shape == (A,)
        ours.append(a.copy())
    np.testing.assert_allclose(np.stack(ours), original_act_eval_loop(chunks.astype(np.float64), k),
                               rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_chunk_queue_refuses_a_non_finite_chunk_and_keeps_its_actions(bad: float) -> None:
    from act_edge.errors import ActionError

    rng = np.random.default_rng(8)
    q = ChunkQueue(10, 4, 6)
    first, second = random_chunks(rng, 2, 10, 4)
    q.push(first)
    np.testing.assert_array_equal(q.pop(), first[0])
    poisoned = second.copy()
    poisoned[0, 3] = bad
    with pytest.raises(ActionError, match=rf"non-finite action {bad} at \(0, 3\)"):
        q.push(poisoned)
    assert q.remaining == 5 and not q.needs_chunk
    for i in range(1, 6):  # the rest of the first chunk, untouched
        np.testing.assert_array_equal(q.pop(), first[i])
    assert q.needs_chunk
