"""The control-loop verdict: pure logic on constructed traces, then loops over a stub policy whose
step() takes a set time on a simulated clock (the loop logic is tested, not the machine's timer), and
one short loop on the real clock."""

from __future__ import annotations

import time

import pytest

from act_edge.bench.control_loop import SPIN_S, LoopTrace, run_loop, summarize, timeline
from fake_clock import FakeClock


class DelayPolicy:
    """step() takes delays[i % len(delays)] seconds of the simulated clock."""

    def __init__(self, clock: FakeClock, *delays: float) -> None:
        self.clock, self.delays, self.calls = clock, delays, 0

    def step(self, obs) -> None:
        self.clock.work(self.delays[self.calls % len(self.delays)])
        self.calls += 1


def simulated_loop(*delays: float, hz: float = 50, duration_s: float = 1.0, **clock_kw) -> dict:
    clock = FakeClock(**clock_kw)
    return summarize(run_loop(DelayPolicy(clock, *delays).step, [None], hz=hz, duration_s=duration_s,
                              clock=clock.perf_counter, sleep=clock.sleep))


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
    s = simulated_loop(0.002)
    assert (s["ticks_scheduled"], s["steps_run"], s["missed_deadlines"]) == (50, 50, 0) and s["holds"]
    assert s["achieved_hz"] == pytest.approx(50, rel=1e-4)
    assert s["step_max_ms"] == pytest.approx(2.0, abs=0.01)
    assert s["jitter_max_abs_us"] < 5  # the spin's last clock reads
    assert s["verdict"] == "HOLDS 50 Hz (50 deadlines met, worst step 2.00 ms of 20.00 ms)"


def test_slow_step_misses_every_deadline_and_runs_at_half_rate():
    s = simulated_loop(0.030)
    # each 30 ms step overruns its tick by 10 ms and the next tick is skipped: ticks 0, 2, 4, ... run
    assert (s["steps_run"], s["overruns"], s["skipped_ticks"], s["missed_deadlines"]) == (25, 25, 25, 50)
    assert s["missed_fraction"] == 1.0
    assert s["achieved_hz"] == pytest.approx(25, rel=1e-3)
    assert s["worst_overrun_ms"] == pytest.approx(10, abs=0.01)
    assert s["verdict"] == "DOES NOT HOLD 50 Hz (50 of 50 deadlines missed, worst overrun 10.0 ms)"


def test_alternating_fast_slow_misses_two_thirds():
    # 5 ms, 30 ms, 5 ms, ...: per 3 ticks one met, one overran, one skipped
    s = simulated_loop(0.005, 0.030, duration_s=1.5)
    assert (s["ticks_scheduled"], s["overruns"], s["skipped_ticks"]) == (75, 25, 25)
    assert s["missed_fraction"] == pytest.approx(2 / 3)
    assert s["worst_overrun_ms"] == pytest.approx(10, abs=0.01)


def test_late_wake_up_is_jitter_and_can_cost_the_deadline():
    """The OS wakes the loop 0.5 ms late (more than the spin margin): each step starts 0.2 ms late, so
    a 19.9 ms step at 50 Hz finishes 0.1 ms after its deadline and the next tick is skipped."""
    late = 0.0005 - SPIN_S
    ok = simulated_loop(0.0195, oversleep_s=0.0005)
    assert ok["jitter_max_abs_us"] == pytest.approx(late * 1e6, abs=5) and ok["holds"]
    bad = simulated_loop(0.0199, oversleep_s=0.0005)
    assert bad["overruns"] == bad["steps_run"] == 25 and bad["skipped_ticks"] == 25
    assert bad["worst_overrun_ms"] == pytest.approx((late + 0.0199 - 0.020) * 1e3, abs=0.01)


def test_sleeps_until_the_spin_margin_then_spins():
    clock = FakeClock(read_s=0.0)
    calls = []

    def step(obs):
        calls.append(clock.t)
        clock.work(0.004)

    def read():  # the spin ends once the clock reaches the tick: each read moves it 1 us there
        clock.t += 1e-6
        return clock.t

    run_loop(step, [None], hz=100, duration_s=0.03, clock=read, sleep=clock.sleep)
    # first tick one period (10 ms) ahead: sleeps 10 ms - the spin margin; then 6 ms - margin after each 4 ms step
    assert clock.slept == pytest.approx([0.010 - SPIN_S - 1e-6, 0.006 - SPIN_S - 3e-6, 0.006 - SPIN_S - 3e-6], abs=2e-6)
    assert [c - calls[0] for c in calls] == pytest.approx([0, 0.010, 0.020], abs=3e-6)


def test_observations_cycle_and_rejects_bad_rate():
    clock = FakeClock()
    seen = []
    run_loop(seen.append, ["a", "b", "c"], hz=200, duration_s=0.05, clock=clock.perf_counter, sleep=clock.sleep)
    assert seen == ["a", "b", "c"] * 3 + ["a"]
    with pytest.raises(ValueError):
        run_loop(seen.append, [1], hz=0, duration_s=1)


def test_real_clock_paces_the_loop():
    """Without clock/sleep the loop runs on time.perf_counter and time.sleep: 10 ticks at 200 Hz take
    at least 10 periods of real time (only a lower bound: a loaded machine may add to it)."""
    seen = []
    t0 = time.perf_counter()
    trace = run_loop(seen.append, [1, 2], hz=200, duration_s=0.05)
    assert time.perf_counter() - t0 >= 10 * 0.005
    assert trace.ticks_scheduled == 10 and seen[:2] == [1, 2] and trace.wall_s >= 0.05
