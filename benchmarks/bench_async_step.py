"""Control-thread cost of Policy.step in async mode with a chunk ready (fold it with add(chunk, age),
hand the observation to the worker, pop the action) vs the sync step, both on `NoComputeBackend`
(upload/execute/download do nothing), `tiny` and `aloha-sim` shapes, temporal ensemble k = 0.01.

Before each timed async step the worker's job is waited for (untimed `setup`), so every timed step
finds a finished chunk: the worst steady-state case for the control thread.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from act_edge import Policy
from act_edge.bundle import Bundle, io_description
from bench_policy_step import NoComputeBackend, _spec


def _policy(shape: str, inference: str) -> tuple[Policy, dict]:
    spec = _spec(shape)
    bundle = Bundle(Path(f"{shape}.actedge"), {"io": io_description(spec)}, spec)
    policy = Policy(bundle, NoComputeBackend(bundle), 0.01, 1, inference=inference)
    rng = np.random.default_rng(1)
    obs = {"state": rng.uniform(-1, 1, spec.state_dim).astype(np.float32),
           "images": {c.name: rng.integers(0, 256, (c.height, c.width, 3), dtype=np.uint8) for c in spec.cameras}}
    for _ in range(2 * spec.chunk_size):
        policy.step(obs)
    return policy, obs


def _async_ready(benchmark, shape: str) -> None:
    policy, obs = _policy(shape, "async")
    worker = policy._worker
    benchmark.pedantic(policy.step, args=(obs,), setup=worker.wait, rounds=3000, iterations=1, warmup_rounds=100)
    policy.close()


def bench_async_step_chunk_ready_tiny(benchmark) -> None:
    _async_ready(benchmark, "tiny")


def bench_sync_step_no_compute_tiny(benchmark) -> None:
    policy, obs = _policy("tiny", "sync")
    benchmark.pedantic(policy.step, args=(obs,), rounds=3000, iterations=1, warmup_rounds=100)


def bench_async_step_chunk_ready_aloha_sim(benchmark) -> None:
    _async_ready(benchmark, "aloha-sim")


def bench_sync_step_no_compute_aloha_sim(benchmark) -> None:
    policy, obs = _policy("aloha-sim", "sync")
    benchmark.pedantic(policy.step, args=(obs,), rounds=3000, iterations=1, warmup_rounds=100)
