"""Backend.run / run_feeds: the one inference sequence (batch check -> upload -> execute -> download ->
finite check), with each stage timed, for every backend (numpy only: a backend written here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from act_edge.backends.base import Backend, allocate_io
from act_edge.bundle import Bundle, io_description
from act_edge.errors import ActionError
from act_edge.profiler import STAGES, StageProfiler
from bundles import synthetic_spec

SPEC = synthetic_spec(chunk=5, dof=3, cams=(("top", 4, 6),))


class Affine(Backend):
    """actions[b, i, a] = state[b, a] * (i + 1) + mean of the frame, computed at execute(); logs its calls."""

    name = "affine"

    def __init__(self, max_batch: int = 3) -> None:
        bundle = Bundle(Path("affine.actedge"), {"io": io_description(SPEC)}, SPEC)
        super().__init__(bundle, max_batch)
        self._inputs, self._output = allocate_io(bundle, max_batch)
        self.calls: list[tuple[str, int]] = []

    def upload(self, batch: int) -> None:
        self.calls.append(("upload", batch))

    def execute(self, batch: int) -> None:
        self.calls.append(("execute", batch))
        state = self._inputs["state"][:batch].astype(np.float64)
        mean = self._inputs["images"][:batch].reshape(batch, -1).mean(axis=1)
        steps = np.arange(1, SPEC.chunk_size + 1)[None, :, None]
        self._output[:batch] = state[:, None, :] * steps + mean[:, None, None]

    def download(self, batch: int) -> np.ndarray:
        self.calls.append(("download", batch))
        return self._output[:batch]


def _feeds(rng: np.random.Generator, batch: int) -> dict[str, np.ndarray]:
    return {"images": rng.integers(1, 256, (batch, 1, 4, 6, 3), dtype=np.uint8),
            "state": rng.uniform(-2, 2, (batch, 3)).astype(np.float32)}


def _expected(feeds: dict[str, np.ndarray]) -> np.ndarray:
    b = len(feeds["state"])
    out = np.empty((b, SPEC.chunk_size, 3))
    for k in range(b):
        mean = feeds["images"][k].astype(np.float64).mean()
        for i in range(SPEC.chunk_size):
            out[k, i] = feeds["state"][k].astype(np.float64) * (i + 1) + mean
    return out


@pytest.mark.parametrize("batch", [1, 2, 3])
def test_run_feeds_stages_runs_in_order_and_copies(batch: int) -> None:
    be = Affine()
    feeds = _feeds(np.random.default_rng(batch), batch)
    got = be.run_feeds(feeds)
    assert be.calls == [("upload", batch), ("execute", batch), ("download", batch)]
    np.testing.assert_allclose(got, _expected(feeds), rtol=1e-6)
    got_before = got.copy()
    be.run_feeds(_feeds(np.random.default_rng(99), batch))
    np.testing.assert_array_equal(got, got_before)  # a copy, not the output buffer


def test_run_returns_the_first_row_and_marks_three_stages() -> None:
    be = Affine()
    feeds = _feeds(np.random.default_rng(4), 1)
    for name, value in feeds.items():
        be.input_buffer(name)[:1] = value
    prof = StageProfiler(8)
    t0 = prof.start()
    chunk, t = be.run(1, prof, t0, first=True)
    prof.end(t0, t)
    assert chunk.shape == (SPEC.chunk_size, 3)
    np.testing.assert_allclose(chunk, _expected(feeds)[0], rtol=1e-6)
    row = prof.samples()[0]
    ran = {name for name, us in zip(STAGES, row) if us > 0}
    assert {"host_to_device", "infer", "device_to_host", "total"} <= ran
    assert not {"validate", "stage_inputs", "ensemble"} & ran


@pytest.mark.parametrize("batch", [0, 4, -1])
def test_batch_outside_1_to_max_batch_runs_nothing(batch: int) -> None:
    be = Affine(max_batch=3)
    with pytest.raises(ValueError, match=rf"batch {batch} outside 1..3"):
        be.run(batch)
    assert be.calls == []


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_actions_are_refused_with_their_index(bad: float) -> None:
    be = Affine()
    feeds = _feeds(np.random.default_rng(5), 2)
    feeds["state"][1, 2] = bad  # row 1, action dim 2, every chunk row
    with pytest.raises(ActionError, match=rf"^model output: non-finite action {bad} at \(1, 0, 2\)"):
        be.run_feeds(feeds)
    got = be.run_feeds(feeds, finite=False)  # the doctor and engine verification judge it themselves
    assert not np.isfinite(got[1, :, 2]).any() and np.isfinite(got[0]).all()


def test_feeds_must_be_the_graph_inputs_with_their_shapes() -> None:
    be = Affine()
    feeds = _feeds(np.random.default_rng(6), 1)
    with pytest.raises(ValueError, match=r"inputs \['state'\] != the graph's \['images', 'state'\]"):
        be.run_feeds({"state": feeds["state"]})
    with pytest.raises(ValueError, match=r"input 'state': shape \(1, 4\), the graph takes \(batch, 3\)"):
        be.run_feeds({**feeds, "state": np.ones((1, 4), np.float32)})
    assert be.calls == []
