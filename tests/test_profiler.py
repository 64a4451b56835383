from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from act_edge.profiler import STAGES, StageProfiler, format_report


class FakeClock:
    def __init__(self) -> None:
        self.t = 0

    def __call__(self) -> int:
        return self.t


def record(p: StageProfiler, clock: FakeClock, durations: dict[int, int]) -> None:
    t0 = p.start()
    t = t0
    for stage, ns in durations.items():
        clock.t += ns
        t = p.mark(stage, t)
    p.end(t0, t)


def test_statistics_match_numpy_over_the_ring_window() -> None:
    rng = np.random.default_rng(0)
    clock = FakeClock()
    p = StageProfiler(capacity=100)
    p._now = clock
    infer_ns = rng.integers(1_000, 90_000, 250)
    val_ns = rng.integers(100, 900, 250)
    for i in range(250):
        d = {0: int(val_ns[i]), 3: int(infer_ns[i])}
        if i % 5 == 0:
            d[5] = 777  # stage that only runs on some steps
        record(p, clock, d)
    rep = p.report()
    assert rep["steps"] == 250 and rep["window"] == 100
    last_total = (infer_ns + val_ns + np.where(np.arange(250) % 5 == 0, 777, 0))[150:] / 1e3
    s = rep["stages"]["total"]
    assert s["count"] == 100
    for key, q in (("p50", 50), ("p90", 90), ("p99", 99)):
        assert s[key] == pytest.approx(np.percentile(last_total, q))
    assert s["max"] == pytest.approx(last_total.max())
    assert s["mean"] == pytest.approx(last_total.mean())
    assert rep["stages"]["infer"]["p50"] == pytest.approx(np.median(infer_ns[150:] / 1e3))
    assert rep["stages"]["ensemble"]["count"] == 20  # only steps where it ran
    assert rep["stages"]["ensemble"]["max"] == pytest.approx(0.777)
    assert "host_to_device" not in rep["stages"]  # never ran
    dev = np.abs(last_total - np.median(last_total))
    assert rep["jitter"]["p99_abs_dev"] == pytest.approx(np.percentile(dev, 99))
    assert rep["jitter"]["std"] == pytest.approx(last_total.std())
    # samples() returns oldest first after wrap-around
    np.testing.assert_allclose(p.samples()[:, STAGES.index("total")], last_total)
    text = format_report(rep)
    assert "infer" in text and "jitter" in text and "ensemble" in text
    p.reset()
    assert p.report()["stages"] == {}


def test_recording_does_not_allocate() -> None:
    p = StageProfiler(capacity=64)

    def run(n: int) -> None:
        for _ in range(n):
            t0 = p.start()
            t = t0
            for s in range(6):
                t = p.mark(s, t)
            p.end(t0, t)

    # Warm-up past CPython 3.10's opcache threshold (a code object's inline cache is allocated on its
    # 1024th call: 12-192 B per function) and allocate run()'s frame; 3.11+ does neither on the heap.
    run(2000)
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        run(5000)
        cur1, _ = tracemalloc.get_traced_memory()
        run(5000)
        cur2, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Only the current row's few Python ints live between steps; no arrays, nothing accumulates.
    assert peak - base < 1024 and cur1 - base < 512 and abs(cur2 - cur1) < 64, (base, cur1, cur2, peak)
    assert p.count == 12000
