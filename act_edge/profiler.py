"""Per-stage latency profiler: a fixed-size ring of durations, statistics computed on demand.

Recording is a `perf_counter_ns()` per stage boundary and one store into a preallocated int64 row;
nothing is allocated per step. `report()` (percentiles, jitter) does the work, off the control path.
"""

from __future__ import annotations

import time
from enum import IntEnum
from typing import Any

import numpy as np


class Stage(IntEnum):
    """Profiler stage indices (C++: act_edge::Stage in profiler.hpp, same order and values)."""

    VALIDATE = 0
    STAGE_INPUTS = 1
    HOST_TO_DEVICE = 2
    INFER = 3
    DEVICE_TO_HOST = 4
    ENSEMBLE = 5
    TOTAL = 6


STAGES = tuple(stage.name.lower() for stage in Stage)  # "validate", ..., "total": the report's names


class NullProfiler:
    """Stand-in when profiling is off: StageProfiler's recording calls, no clock reads."""

    count = 0

    def start(self) -> int:
        return 0

    def mark(self, stage: int, since: int) -> int:
        return 0

    def end(self, t0: int, now: int | None = None) -> None:
        pass

    def reset(self) -> None:
        pass

    def report(self) -> dict[str, Any]:
        return {"steps": 0, "window": 0, "unit": "us", "stages": {}, "profiling": "off"}


NO_PROFILE = NullProfiler()


class StageProfiler:
    """Ring of the last `capacity` steps' stage durations (ns).

    Per step: `t0 = start()`, then `t = mark(stage_index, t)` after each stage, then
    `end(t0, t)` which stores the total and advances the ring. A stage skipped in a step (e.g. the
    model does not run on a chunk-queue step) records 0 for that step; its statistics cover only the
    steps where it ran.
    """

    __slots__ = ("stages", "capacity", "_ring", "_row", "_zero_row", "_i", "count", "_now", "_total")

    def __init__(self, capacity: int = 4096, stages: tuple[str, ...] = STAGES) -> None:
        if capacity < 1:
            raise ValueError(f"profiler capacity must be >= 1, got {capacity}")
        self.stages = stages
        self.capacity = capacity
        self._ring = np.zeros((capacity, len(stages)), dtype=np.int64)
        self._row = [0] * len(stages)  # current step (a list: item updates are 3x cheaper than numpy's)
        self._zero_row = (0,) * len(stages)
        self._total = len(stages) - 1
        self._i = 0
        self.count = 0  # steps recorded since reset (may exceed capacity)
        self._now = time.perf_counter_ns

    def start(self) -> int:
        self._row[:] = self._zero_row
        return self._now()

    def mark(self, stage: int, since: int) -> int:
        now = self._now()
        self._row[stage] += now - since
        return now

    def end(self, t0: int, now: int | None = None) -> None:
        if now is None:
            now = self._now()
        row = self._row
        row[self._total] = now - t0
        i = self._i
        self._ring[i] = row
        self._i = i + 1 if i + 1 < self.capacity else 0
        self.count += 1

    def reset(self) -> None:
        self._ring.fill(0)
        self._i = 0
        self.count = 0

    def samples(self) -> np.ndarray:
        """Recorded rows, oldest first, as float64 microseconds (n, stages)."""
        n = min(self.count, self.capacity)
        if self.count <= self.capacity:
            rows = self._ring[:n]
        else:
            rows = np.concatenate([self._ring[self._i:], self._ring[:self._i]])
        return rows.astype(np.float64) / 1e3

    def report(self) -> dict[str, Any]:
        """{"steps": n, "window": m, "unit": "us", "stages": {stage: {count, p50, p90, p99, max, mean,
        std}}, "jitter": {"std", "p99_abs_dev", "max_abs_dev"} of total around its median}."""
        data = self.samples()
        out: dict[str, Any] = {"steps": self.count, "window": len(data), "unit": "us", "stages": {}}
        for j, name in enumerate(self.stages):
            col = data[:, j]
            if name != "total":
                col = col[col > 0]
            if col.size == 0:
                continue
            p50, p90, p99 = np.percentile(col, (50, 90, 99))
            out["stages"][name] = {"count": int(col.size), "p50": float(p50), "p90": float(p90),
                                   "p99": float(p99), "max": float(col.max()), "mean": float(col.mean()),
                                   "std": float(col.std())}
        if len(data):
            total = data[:, self._total]
            dev = np.abs(total - np.median(total))
            out["jitter"] = {"std": float(total.std()), "p99_abs_dev": float(np.percentile(dev, 99)),
                             "max_abs_dev": float(dev.max())}
        return out


def format_report(report: dict[str, Any]) -> str:
    """A fixed-width table of a `report()` dict."""
    lines = [f"latency over the last {report['window']} of {report['steps']} steps (us)",
             f"{'stage':<16}{'count':>8}{'p50':>10}{'p90':>10}{'p99':>10}{'max':>10}{'mean':>10}"]
    for name, s in report["stages"].items():
        lines.append(f"{name:<16}{s['count']:>8}{s['p50']:>10.1f}{s['p90']:>10.1f}{s['p99']:>10.1f}"
                     f"{s['max']:>10.1f}{s['mean']:>10.1f}")
    if "jitter" in report:
        j = report["jitter"]
        lines.append(f"jitter (total): std {j['std']:.1f}, p99 |dev from median| {j['p99_abs_dev']:.1f}, "
                     f"max {j['max_abs_dev']:.1f}")
    c = report.get("chunks")
    if c and c["ticks"]:
        a, rate = c["chunk_age"], c["inferences_per_s"]
        lines.append(f"chunks ({report.get('inference', 'sync')}): age p50 {a['p50']:.0f} p99 {a['p99']:.0f} "
                     f"max {a['max']} ticks, {c['inferences']} inferences"
                     + (f" ({rate:.1f}/s)" if rate is not None else "") + f", {c['starved_ticks']} starved ticks")
    return "\n".join(lines)


class ChunkStats:
    """Per tick: the age (ticks) of the newest chunk used; plus model runs (arrivals) and starved ticks.

    A ring of `capacity` int64 ages and three counters; `tick(age)` and `arrival()` allocate nothing.
    Inference rate = arrivals / seconds from the first to the last arrival recorded since `reset()`.
    """

    __slots__ = ("capacity", "_ages", "_i", "ticks", "arrivals", "starved", "_first_ns", "_last_ns", "_now")

    def __init__(self, capacity: int = 4096) -> None:
        if capacity < 1:
            raise ValueError(f"chunk stats capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._ages = np.zeros(capacity, dtype=np.int64)
        self._now = time.perf_counter_ns
        self.reset()

    def reset(self) -> None:
        self._i = 0
        self.ticks = 0
        self.arrivals = 0
        self.starved = 0
        self._first_ns = 0
        self._last_ns = 0

    def tick(self, age: int, starved: bool = False) -> None:
        i = self._i
        self._ages[i] = age
        self._i = i + 1 if i + 1 < self.capacity else 0
        self.ticks += 1
        if starved:
            self.starved += 1

    def arrival(self) -> None:
        now = self._now()
        if not self.arrivals:
            self._first_ns = now
        self._last_ns = now
        self.arrivals += 1

    def ages(self) -> np.ndarray:
        """Recorded ages, oldest first."""
        if self.ticks <= self.capacity:
            return self._ages[:self.ticks].copy()
        return np.concatenate([self._ages[self._i:], self._ages[:self._i]])

    def report(self) -> dict[str, Any]:
        """{"ticks", "chunk_age": {p50, p99, max} (ticks, None before any tick), "inferences",
        "inferences_per_s" (None below 2 arrivals), "starved_ticks"}."""
        ages = self.ages()
        span = (self._last_ns - self._first_ns) / 1e9
        age = ({"p50": float(np.percentile(ages, 50)), "p99": float(np.percentile(ages, 99)),
                "max": int(ages.max())} if ages.size else {"p50": None, "p99": None, "max": None})
        return {"ticks": self.ticks, "chunk_age": age, "inferences": self.arrivals,
                "inferences_per_s": (self.arrivals - 1) / span if self.arrivals > 1 and span > 0 else None,
                "starved_ticks": self.starved}
