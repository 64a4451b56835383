"""Simulated time for control-loop tests: the loop's pacing logic runs in microseconds of real time and
gives the same trace on a loaded machine as on an idle one."""

from __future__ import annotations


class FakeClock:
    """A clock the loop reads and sleeps on (pass `perf_counter` and `sleep` as run_loop's clock/sleep).

    perf_counter(): the simulated time; each read costs `read_s` (as a busy-wait's reads do, so a spin
    on it ends). sleep(s): advances s, plus `oversleep_s` (a late wake-up). work(s): a step taking s.
    """

    def __init__(self, start: float = 1000.0, read_s: float = 1e-6, oversleep_s: float = 0.0) -> None:
        self.t = start
        self.read_s, self.oversleep_s = read_s, oversleep_s
        self.slept: list[float] = []  # what sleep() was asked for

    def perf_counter(self) -> float:
        self.t += self.read_s
        return self.t

    def sleep(self, s: float) -> None:
        assert s >= 0, s
        self.slept.append(s)
        self.t += s + self.oversleep_s

    def work(self, s: float) -> None:
        self.t += s
