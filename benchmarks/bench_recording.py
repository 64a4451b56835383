"""What recording (docs/recording.md) adds to Policy.step: the same policy with and without
`start_recording`, stepped alternately in one paced loop (so both see the same machine load), the
real HDF5 writer thread draining the ring meanwhile.

Shapes from bench_policy_step.py (a backend with no model: the step's own overhead is what recording
adds to). The loop is paced (a sleep to the next tick) so the writer keeps up as on a robot: a tight
loop would outrun the disk and measure dropped frames, which cost less than recorded ones. Per-step
times are perf_counter_ns around each step(); p50/p99 of each and their difference are printed. The
goal (issue 15): recording adds < 50 us to the p99 on the `tiny` shapes. That no allocation happens
per step is a test (tests/test_recording.py::test_recording_step_allocates_nothing), not a timing.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from bench_policy_step import _policy

pytest.importorskip("h5py", reason="recording writes HDF5 (the `replay` extra)")


def _paced_pair(base, rec, obs, ticks: int, period_s: float, episode: int) -> tuple[np.ndarray, np.ndarray]:
    """Per tick: one step of each policy (order alternating), then sleep to the next tick."""
    a = np.zeros(ticks, np.int64)
    b = np.zeros(ticks, np.int64)
    clock = time.perf_counter_ns
    period = int(period_s * 1e9)
    nxt = clock()
    for i in range(ticks):
        if i and i % episode == 0:
            rec.reset()
            base.reset()
        first, second, fa, fb = (base, rec, a, b) if i % 2 == 0 else (rec, base, b, a)
        t0 = clock()
        first.step(obs)
        t1 = clock()
        second.step(obs)
        t2 = clock()
        fa[i] = t1 - t0
        fb[i] = t2 - t1
        nxt += period
        delay = (nxt - clock()) / 1e9
        if delay > 0:
            time.sleep(delay)
    return a, b


def _added(shape: str, tmp_path, ticks: int, period_s: float, episode: int) -> dict:
    base, obs = _policy(shape, 0.01)
    rec, _ = _policy(shape, 0.01)
    rec.start_recording(tmp_path)
    _paced_pair(base, rec, obs, 200, period_s, episode)  # warm-up: first file opened, caches
    a, b = _paced_pair(base, rec, obs, ticks, period_s, episode)
    stats = rec.recording_stats()
    files = rec.stop_recording()
    pa, pb = np.percentile(a, [50, 99]) / 1e3, np.percentile(b, [50, 99]) / 1e3
    out = {"p50": (pa[0], pb[0]), "p99": (pa[1], pb[1]), "added_p99_us": pb[1] - pa[1],
           "dropped": stats["dropped_frames"], "recorded": stats["frames_recorded"], "files": len(files)}
    print(f"\n{shape}: {ticks} paced ticks ({1 / period_s:.0f} Hz), step() us without / with recording: "
          f"p50 {pa[0]:.1f} / {pb[0]:.1f} (x{pb[0] / pa[0]:.2f}), p99 {pa[1]:.1f} / {pb[1]:.1f} "
          f"(x{pb[1] / pa[1]:.2f}, added {pb[1] - pa[1]:+.1f} us); frames recorded {stats['frames_recorded']}, "
          f"dropped {stats['dropped_frames']}, files {len(files)}")
    return out


def bench_recording_added_p99_tiny(benchmark, tmp_path) -> None:
    """Goal: < 50 us added to step()'s p99 (`tiny`: 2 cameras 64x96, 5-dof, chunk 10)."""
    out = _added("tiny", tmp_path / "paced", ticks=4000, period_s=0.004, episode=1000)
    assert out["dropped"] == 0, out  # the writer kept up: every step was copied, none skipped
    assert out["added_p99_us"] < 50, out
    rec, obs = _policy("tiny", 0.01)  # pytest-benchmark's own table: the recording step, tight loop
    rec.start_recording(tmp_path / "tight", buffer_frames=100)
    benchmark.pedantic(rec.step, args=(obs,), rounds=2000, iterations=1, warmup_rounds=50)
    rec.stop_recording()


def bench_recording_added_p99_aloha_sim(benchmark, tmp_path) -> None:
    """For scale: one 480x640 camera (0.9 MB per frame), 50 Hz; the frame copy is most of the cost."""
    benchmark.pedantic(_added, args=("aloha-sim", tmp_path, 500, 0.02, 250), rounds=1, iterations=1)
