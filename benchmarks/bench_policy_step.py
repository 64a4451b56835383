"""Policy.step overhead excluding backend compute: validate + stage inputs + backend calls + ensemble +
profiling, with a backend whose upload/execute/download do nothing (the model output is a fixed chunk).

Shapes: the exporter's `tiny` preset (2 cameras 64x96, 5-dof state, 4-dof action, chunk 10) for the
target, and an ALOHA-sim-sized policy (one 480x640 camera, 14-dof, chunk 100), where copying the frame
into the input buffer is most of the cost. Plus the full step through onnxruntime on a synthetic graph.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from act_edge import Policy
from act_edge.backends.base import Backend, allocate_io
from act_edge.bundle import Bundle, io_description
from act_edge.spec import ActSpec, CameraSpec

SHAPES = {
    "tiny": dict(cams=(("front", 64, 96), ("wrist", 64, 96)), S=5, A=4, chunk=10),
    "aloha-sim": dict(cams=(("top", 480, 640),), S=14, A=14, chunk=100),
}


class NoComputeBackend(Backend):
    """Backend interface with no model: measures everything in Policy.step except inference."""

    name = "no-compute"

    def __init__(self, bundle: Bundle, max_batch: int = 1) -> None:
        super().__init__(bundle, max_batch)
        self._inputs, self._output = allocate_io(bundle, max_batch)
        self._output[:] = np.random.default_rng(0).uniform(-1, 1, self._output.shape)
        self._views = [self._output[:b] for b in range(max_batch + 1)]

    def upload(self, batch: int) -> None:
        pass

    def execute(self, batch: int) -> None:
        pass

    def download(self, batch: int) -> np.ndarray:
        return self._views[batch]


def _spec(shape: str) -> ActSpec:
    s = SHAPES[shape]
    return ActSpec(cameras=tuple(CameraSpec(n, h, w) for n, h, w in s["cams"]), state_dim=s["S"],
                   action_dim=s["A"], chunk_size=s["chunk"], d_model=32, n_heads=4, dim_feedforward=64)


def _policy(shape: str, coeff: float | None, profile: bool = True) -> tuple[Policy, dict]:
    spec = _spec(shape)
    bundle = Bundle(Path(f"{shape}.actedge"), {"io": io_description(spec)}, spec)
    policy = Policy(bundle, NoComputeBackend(bundle), coeff, 1 if coeff is not None else spec.chunk_size,
                    profile=profile)
    rng = np.random.default_rng(1)
    obs = {"state": rng.uniform(-1, 1, spec.state_dim).astype(np.float32),
           "images": {c.name: rng.integers(0, 256, (c.height, c.width, 3), dtype=np.uint8) for c in spec.cameras}}
    for _ in range(2 * spec.chunk_size):
        policy.step(obs)
    return policy, obs


def bench_step_overhead_tiny_ensemble(benchmark) -> None:
    policy, obs = _policy("tiny", 0.01)
    benchmark(policy.step, obs)
    median = benchmark.stats.stats.median
    print(f"\nPolicy.step overhead (tiny, ensemble, profiling on): median {median * 1e6:.1f} us")
    assert median <= 50e-6, f"step overhead median {median * 1e6:.1f} us > 50 us"


def bench_step_overhead_tiny_ensemble_profile_off(benchmark) -> None:
    policy, obs = _policy("tiny", 0.01, profile=False)
    benchmark(policy.step, obs)


def bench_step_overhead_tiny_chunk_queue(benchmark) -> None:
    """Queue mode: 9 steps in 10 only validate and pop; the 10th also stages and 'runs'."""
    policy, obs = _policy("tiny", None)
    benchmark(policy.step, obs)


def bench_step_overhead_aloha_sim_ensemble(benchmark) -> None:
    policy, obs = _policy("aloha-sim", 0.01)
    benchmark(policy.step, obs)


def bench_validate_only_tiny(benchmark) -> None:
    policy, obs = _policy("tiny", 0.01)
    benchmark(policy._validator.validate, obs)


@pytest.fixture(scope="module")
def synthetic_bundle(tmp_path_factory):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from bundles import build_synthetic_bundle, synthetic_spec

    return build_synthetic_bundle(tmp_path_factory.mktemp("bench") / "synthetic.actedge",
                                  synthetic_spec(chunk=100, dof=14, cams=(("top", 64, 96), ("wrist", 64, 96))),
                                  fp16=False)


def bench_step_onnxruntime_synthetic_graph(benchmark, synthetic_bundle) -> None:
    """Whole step through onnxruntime CPU on a graph of a few elementwise ops (chunk 100 x 14)."""
    policy = Policy.load(synthetic_bundle.path, backend="onnxruntime", intra_op_threads=1)
    rng = np.random.default_rng(2)
    obs = {"state": rng.uniform(-1, 1, 14).astype(np.float32),
           "images": {c.name: rng.integers(0, 256, (c.height, c.width, 3), dtype=np.uint8)
                      for c in synthetic_bundle.spec.cameras}}
    for _ in range(200):
        policy.step(obs)
    benchmark(policy.step, obs)
