"""The control-loop verdict: pure logic on constructed traces, then real loops over a stub policy
whose step() busy-waits a set time (the loop logic is what is tested, not a model)."""

from __future__ import annotations

import time

import pytest

from act_edge.bench.control_loop import LoopTrace, run_loop, summarize, timeline


class DelayPolicy:
    """step() busy-waits delays[i % len(delays)] seconds (no sleep: the loop's pacing is under test)."""

    def __init__(self, *delays: float) -> None:
        self.delays, self.calls = delays, 0

    def step(self, obs) -> None:
        end = time.perf_counter() + self.delays[self.calls % len(self.delays)]
        self.calls += 1
        while time.perf_counter() < end:
            pass


def test_trace_all_met_holds():
    tr = LoopTrace(hz=50, ticks_scheduled=4, tick=[0, 1, 2, 3], start_late=[1e-5] * 4, duration=[0.005] * 4,
                   wall_s=0.08)
    s = summarize(tr)
    assert s["holds"] and s["missed_deadlines"] == 0 and s["achieved_hz"] == pytest.approx(50)
    assert s["verdict"].startswith("HOLDS 50 Hz")
    assert s["jitter_p99_abs_us"] == pytest.approx(10, rel=1e-6)


def test_trace_overrun_and_skipped_ticks_count_as_missed():
    # tick 1 runs 30 ms (ends 10 ms into tick 2's period): tick 1 overran, tick 2 was skipped.
    tr = LoopTrace(hz=50, ticks_scheduled=5, tick=[0, 1, 3, 4], start_late=[0, 0, 0, 0],
                   duration=[0.005, 0.030, 0.005, 0.005], wall_s=0.1)
    s = summarize(tr)
    assert (s["overruns"], s["skipped_ticks"], s["missed_deadlines"]) == (1, 1, 2)
    assert s["missed_fraction"] == pytest.approx(0.4)
    assert s["worst_overrun_ms"] == pytest.approx(10)
    assert not s["holds"]
    assert s["verdict"] == "DOES NOT HOLD 50 Hz (2 of 5 deadlines missed, worst overrun 10.0 ms)"
    assert timeline(tr)["overran"] == [False, True, False, False]


def test_late_start_counts_against_the_deadline():
    # starts 16 ms late and runs 5 ms: finishes 1 ms after its deadline
    tr = LoopTrace(hz=50, ticks_scheduled=1, tick=[0], start_late=[0.016], duration=[0.005], wall_s=0.02)
    assert summarize(tr)["overruns"] == 1


def test_fast_step_holds_50hz():
    s = summarize(run_loop(DelayPolicy(0.002).step, [None], hz=50, duration_s=1.0))
    assert s["ticks_scheduled"] == 50
    # a loaded shared machine (load average 6 on 2 cores while this was written) delays some wake-ups
    # by a scheduler time slice; the exact counting is tested on constructed traces above
    assert s["missed_fraction"] <= 0.2, s
    assert s["achieved_hz"] == pytest.approx(50, rel=0.1)


def test_slow_step_misses_every_deadline_and_runs_at_half_rate():
    s = summarize(run_loop(DelayPolicy(0.030).step, [None], hz=50, duration_s=1.0))
    # each 30 ms step overruns its tick and the next tick is skipped
    assert s["missed_fraction"] >= 0.95
    assert s["overruns"] == s["steps_run"]
    assert s["achieved_hz"] == pytest.approx(25, rel=0.15)
    assert s["verdict"].startswith("DOES NOT HOLD 50 Hz")


def test_alternating_fast_slow_misses_two_thirds():
    # 5 ms, 30 ms, 5 ms, ...: per 3 ticks one met, one overran, one skipped
    s = summarize(run_loop(DelayPolicy(0.005, 0.030).step, [None], hz=50, duration_s=1.5))
    assert s["missed_fraction"] == pytest.approx(2 / 3, abs=0.1), s
    assert s["worst_overrun_ms"] >= 9  # 10 ms by construction; preemption can only add to it


def test_observations_cycle_and_rejects_bad_rate():
    seen = []
    run_loop(seen.append, ["a", "b", "c"], hz=200, duration_s=0.05)
    assert seen[:4] == ["a", "b", "c", "a"]
    with pytest.raises(ValueError):
        run_loop(seen.append, [1], hz=0, duration_s=1)
