"""A simulated control loop paced by absolute deadlines, and its verdict.

Tick k is scheduled at t0 + k * period (computed from the start, so sleep error never accumulates).
The loop sleeps coarsely until `spin_s` before the tick, then spins on perf_counter, calls
`step(obs)`, and records when the step started (lateness = jitter) and how long it took.

Deadline of tick k = the scheduled time of tick k + 1. A step that finishes after it *overran*.
After an overrun the loop does what a real controller does: it does not queue up the ticks it
missed, it skips them and starts at the next tick still ahead (each skipped tick is a deadline at
which the robot got no new action, so it counts as missed too).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

SPIN_S = 0.0003  # sleep until this long before a tick, then spin (Linux sleep overshoots ~50-100 us)


@dataclass
class LoopTrace:
    """Raw per-tick record of one run (seconds, relative to the first scheduled tick)."""

    hz: float
    ticks_scheduled: int
    tick: list[int] = field(default_factory=list)  # index of each tick that ran
    start_late: list[float] = field(default_factory=list)  # actual start - scheduled start
    duration: list[float] = field(default_factory=list)  # step() wall time
    wall_s: float = 0.0  # first scheduled tick -> end of the last tick's period (or last step's end)

    @property
    def period(self) -> float:
        return 1.0 / self.hz


def wait_until(deadline: float, spin_s: float = SPIN_S, clock: Callable[[], float] | None = None,
               sleep: Callable[[float], None] | None = None) -> None:
    """Sleep until `spin_s` before `deadline`, then busy-wait on `clock` until it.
    clock/sleep default to time.perf_counter/time.sleep (a test passes a simulated clock)."""
    clock = clock or time.perf_counter
    remaining = deadline - clock()
    if remaining > spin_s:
        (sleep or time.sleep)(remaining - spin_s)
    while clock() < deadline:
        pass


def run_loop(step: Callable[[Any], Any], observations: Sequence[Any], hz: float, duration_s: float,
             spin_s: float = SPIN_S, on_tick: Callable[[int, int], None] | None = None,
             clock: Callable[[], float] | None = None, sleep: Callable[[float], None] | None = None) -> LoopTrace:
    """Call `step(observations[i % len])` at `hz` for `duration_s`; returns the raw trace.
    clock/sleep default to time.perf_counter/time.sleep (a test passes a simulated clock)."""
    if hz <= 0:
        raise ValueError(f"hz must be > 0, got {hz}")
    period = 1.0 / hz
    n = max(1, int(round(duration_s * hz)))
    trace = LoopTrace(hz=hz, ticks_scheduled=n)
    clock = clock or time.perf_counter
    t0 = clock() + period  # first tick one period from now
    k, i, end = 0, 0, t0
    while k < n:
        scheduled = t0 + k * period
        wait_until(scheduled, spin_s, clock, sleep)
        start = clock()
        step(observations[i % len(observations)])
        end = clock()
        trace.tick.append(k)
        trace.start_late.append(start - scheduled)
        trace.duration.append(end - start)
        i += 1
        k = max(k + 1, int((end - t0) // period) + 1)  # next tick still ahead: skip the ones missed
        if on_tick is not None:
            on_tick(min(k, n), n)
    trace.wall_s = max(n * period, end - t0)
    return trace


def summarize(trace: LoopTrace) -> dict[str, Any]:
    """Figures of a trace: achieved rate, jitter, missed deadlines, worst overrun, verdict."""
    period = trace.period
    late = np.asarray(trace.start_late)
    dur = np.asarray(trace.duration)
    finish = late + dur  # relative to the tick's scheduled start
    overrun = np.maximum(finish - period, 0.0)
    overran = int((finish > period).sum())
    skipped = trace.ticks_scheduled - len(trace.tick)
    missed = overran + skipped
    out = {
        "hz": trace.hz,
        "period_ms": period * 1e3,
        "duration_s": trace.wall_s,
        "ticks_scheduled": trace.ticks_scheduled,
        "steps_run": len(trace.tick),
        "achieved_hz": len(trace.tick) / trace.wall_s if trace.wall_s > 0 else 0.0,
        "jitter_p99_abs_us": float(np.percentile(np.abs(late), 99) * 1e6) if late.size else 0.0,
        "jitter_max_abs_us": float(np.abs(late).max() * 1e6) if late.size else 0.0,
        "step_p50_ms": float(np.percentile(dur, 50) * 1e3) if dur.size else 0.0,
        "step_p99_ms": float(np.percentile(dur, 99) * 1e3) if dur.size else 0.0,
        "step_max_ms": float(dur.max() * 1e3) if dur.size else 0.0,
        "overruns": overran,
        "skipped_ticks": skipped,
        "missed_deadlines": missed,
        "missed_fraction": missed / trace.ticks_scheduled,
        "worst_overrun_ms": float(overrun.max() * 1e3) if overrun.size else 0.0,
        "holds": missed == 0,
    }
    out["verdict"] = verdict(out)
    return out


def verdict(s: dict[str, Any]) -> str:
    rate = f"{s['hz']:g} Hz"
    if s["holds"]:
        return (f"HOLDS {rate} ({s['ticks_scheduled']} deadlines met, worst step {s['step_max_ms']:.2f} ms "
                f"of {s['period_ms']:.2f} ms)")
    return (f"DOES NOT HOLD {rate} ({s['missed_deadlines']} of {s['ticks_scheduled']} deadlines missed, "
            f"worst overrun {s['worst_overrun_ms']:.1f} ms)")


def timeline(trace: LoopTrace) -> dict[str, list]:
    """Per-step arrays for the JSON and the plot (us, rounded to 0.1 us)."""
    period = trace.period
    return {
        "tick": list(trace.tick),
        "scheduled_ms": [round(k * period * 1e3, 4) for k in trace.tick],
        "start_late_us": [round(v * 1e6, 1) for v in trace.start_late],
        "duration_us": [round(v * 1e6, 1) for v in trace.duration],
        "overran": [bool(l + d > period) for l, d in zip(trace.start_late, trace.duration)],
    }
