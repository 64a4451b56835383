"""The runner end to end with a stub policy of controlled delay (the brief's "backend with controlled
delay"): the verdict in the result follows the step time, and every phase is filled in."""

from __future__ import annotations

import functools
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

from act_edge.bench import control_loop, policy_adapter, runner
from act_edge.bench.report import check_schema, render
from fake_clock import FakeClock


class StubPolicy:
    """step()/predict_chunk() take `delay` s of the simulated clock (the loop logic under test needs a
    known step time); its profiler report has Policy.latency_report()'s shape."""

    def __init__(self, spec, delay: float, clock: FakeClock) -> None:
        self.spec, self.delay, self.clock = spec, delay, clock
        self.backend = SimpleNamespace(name="stub", device="cpu", precision="fp32")
        self.mode, self.skipped_backends = "temporal_ensemble", []
        self.totals: list[float] = []

    def _wait(self) -> None:
        t0 = self.clock.perf_counter()
        self.clock.work(self.delay)
        self.totals.append((self.clock.perf_counter() - t0) * 1e6)

    def step(self, obs):
        assert obs["images"] and obs["state"].dtype == np.float32
        self._wait()
        return np.full(self.spec.action_dim, 0.25, np.float32)

    def predict_chunk(self, obs, batched=False):
        self._wait()
        shape = (self.spec.chunk_size, self.spec.action_dim)
        return np.zeros((len(obs["state"]), *shape) if batched else shape, np.float32)

    def reset(self):
        pass

    def reset_profile(self):
        self.totals.clear()

    def latency_report(self):
        t = np.array(self.totals)
        return {"unit": "us", "stages": {"total": {
            "p50": np.median(t), "p90": np.percentile(t, 90), "p99": np.percentile(t, 99), "max": t.max(),
            "mean": t.mean(), "std": t.std(), "count": t.size}}, "jitter": {"std": float(t.std())}}

    def close(self):
        pass

    def profile_samples(self):
        return {"total": np.array(self.totals)}


def simulated_time(monkeypatch, clock: FakeClock) -> None:
    """The runner's phases and its control loop read `clock` instead of the machine's timer."""
    monkeypatch.setattr(runner, "time", SimpleNamespace(perf_counter=clock.perf_counter, sleep=clock.sleep))
    monkeypatch.setattr(control_loop, "run_loop", functools.partial(control_loop.run_loop, clock=clock.perf_counter,
                                                                     sleep=clock.sleep))


@pytest.mark.parametrize("delay, holds", [(0.002, True), (0.019, True), (0.021, False), (0.030, False)])
def test_verdict_follows_step_time(synthetic_bundle, monkeypatch, delay, holds):
    spec = synthetic_bundle.spec
    clock = FakeClock()
    simulated_time(monkeypatch, clock)
    monkeypatch.setattr(policy_adapter, "load", lambda *a, **k: StubPolicy(spec, delay, clock))
    cfg = runner.BenchConfig(bundle=str(synthetic_bundle.path), iters=5, warmup=1, batch=2, hz=50, duration=1.0)
    result, extras = runner.run(cfg)
    assert check_schema(result) == []
    loop = result["control_loop"]
    assert loop["holds"] is holds and loop["ticks_scheduled"] == 50
    if holds:
        assert loop["missed_deadlines"] == 0 and loop["achieved_hz"] == pytest.approx(50, rel=1e-4)
        assert loop["verdict"].startswith("HOLDS 50 Hz (50 deadlines met")
    else:  # every step overruns and the tick after it is skipped
        assert loop["missed_fraction"] == 1.0 and loop["steps_run"] == 25
        assert loop["verdict"].startswith("DOES NOT HOLD 50 Hz (50 of 50 deadlines missed")
    assert loop["step_max_ms"] == pytest.approx(delay * 1e3, abs=0.01)
    assert result["latency"]["stages"]["total"]["count"] == 5
    assert result["latency"]["stages"]["total"]["p50_us"] == pytest.approx(delay * 1e6, abs=5)
    assert result["throughput"]["batch"] == 2
    assert result["throughput"]["inferences_per_s"] == pytest.approx(2 / delay, rel=5e-3)  # + a few 1 us reads
    assert result["compare"] is None
    assert loop["verdict"] in render(result)


class WorkerClock(FakeClock):
    """FakeClock for a Policy whose model runs on its inference worker thread: a job handed off at
    simulated time t ends at t + `delay`, and the clock lets it finish exactly there (in sleep(), or in
    the worker's wait() when the control thread waits for it), so chunk arrivals follow the simulated
    schedule, never the machine's thread scheduling."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.worker = None
        self.handed_off_at = 0.0
        self.job: tuple[float, threading.Event] | None = None  # (simulated end, its release) once running

    def attach(self, policy) -> None:
        """Follow `policy`'s worker (hand-off, wait, stop) and time its chunk arrivals on this clock."""
        w = self.worker = policy._worker
        submit, self._real_wait, stop = w.submit, w.wait, w.stop

        def timed_submit(tick, episode):
            self.handed_off_at = self.t
            submit(tick, episode)

        def wait():
            self._finish_job()
            self._real_wait()

        def stop_after_job():
            self._finish_job()
            stop()

        w.submit, w.wait, w.stop = timed_submit, wait, stop_after_job
        policy._chunks._now = lambda: int(self.t * 1e9)

    def start_job(self) -> threading.Event:
        """The worker thread, in execute(): the job runs until its simulated end."""
        release = threading.Event()
        self.job = (self.handed_off_at + self.delay, release)
        return release

    def sleep(self, s: float) -> None:
        target = self.t + s + self.oversleep_s
        self._job_started()
        if self.job is not None and self.job[0] <= target:
            self._finish_job()
        super().sleep(max(0.0, target - self.t - self.oversleep_s))

    def _job_started(self) -> None:
        """Wait (real time) until a job handed off has reached execute(), if one is in flight."""
        give_up = time.monotonic() + 20
        while self.worker is not None and self.worker.running and self.job is None:
            assert time.monotonic() < give_up, "the worker never started the job handed off"
            time.sleep(1e-4)

    def _finish_job(self) -> None:
        self._job_started()
        job, self.job = self.job, None
        if job is not None:
            self.t = max(self.t, job[0])
            job[1].set()
            self._real_wait()  # the chunk is the worker's result before the control thread goes on


class SimulatedModel:
    """Test double, not an engine: execute() takes `clock.delay` simulated seconds (on the control
    thread: the clock advances; on the worker: the job ends when the clock says) and the chunk is a
    fixed random one."""

    name = "simulated-test-model"

    def __new__(cls, bundle, clock: WorkerClock, on_worker: bool):
        from act_edge.backends.base import Backend, allocate_io

        class _Simulated(Backend):
            name = cls.name

            def __init__(self) -> None:
                super().__init__(bundle, 1)
                self._inputs, self._output = allocate_io(bundle, 1)
                self._output[:] = np.random.default_rng(0).uniform(-1, 1, self._output.shape)

            def upload(self, batch):
                pass

            def execute(self, batch):
                if on_worker:
                    assert clock.start_job().wait(20), "the clock never let the job finish"
                else:
                    clock.work(clock.delay)

            def download(self, batch):
                return self._output[:batch]

        return _Simulated()


def test_inference_both_runs_both_loops_in_one_table(synthetic_bundle, monkeypatch):
    """A 60 ms model at 50 Hz: the sync loop misses, the async loop (same run) holds with aged chunks."""
    from act_edge import Policy
    from act_edge.bundle import load_bundle

    clock = WorkerClock(0.06)
    simulated_time(monkeypatch, clock)

    def load(bundle_dir, *a, inference="sync", **k):
        b = load_bundle(bundle_dir)
        policy = Policy(b, SimulatedModel(b, clock, on_worker=inference == "async"), 0.01, 1, inference=inference)
        if inference == "async":
            clock.attach(policy)
        return policy

    monkeypatch.setattr(policy_adapter, "load", load)
    cfg = runner.BenchConfig(bundle=str(synthetic_bundle.path), iters=3, warmup=2, hz=50, duration=1.5,
                             inference="both")
    result, extras = runner.run(cfg)
    loops = result["control_loops"]
    assert list(loops) == ["sync", "async"] and result["control_loop"] is loops["sync"]
    assert loops["sync"]["inference"] == "sync" and loops["async"]["inference"] == "async"
    sync, async_ = loops["sync"], loops["async"]
    # sync: each 60 ms step overruns its tick by 40 ms and the 2 ticks it ran into are skipped too
    assert not sync["holds"] and sync["missed_fraction"] == 1.0 and sync["steps_run"] == 19
    assert sync["worst_overrun_ms"] == pytest.approx(40, abs=0.01) and sync["chunk_age_max"] == 0
    # async: every deadline met; a chunk handed off at tick k ends 60 ms (3 ticks) later and is folded
    # at tick k + 4, where the next is handed off: one inference per 4 ticks, ages 4..7 ticks
    assert async_["missed_deadlines"] == 0 and async_["step_max_ms"] < 0.01
    assert async_["inferences_per_s"] == pytest.approx(12.5) and async_["starved_ticks"] == 0
    ages = async_["timeline"]["chunk_age"]
    assert len(ages) == async_["steps_run"] == 75 and ages[:4] == [1, 2, 3, 4]  # the chunk waited for at tick 0
    assert ages[4:] == ([4, 5, 6, 7] * 18)[:71] and async_["chunk_age_max"] == 7
    text = render(result)
    assert "inference" in text and "verdict      sync   DOES NOT HOLD 50 Hz" in text
    assert "verdict      async " in text


def test_plot_has_the_chunk_age_of_each_loop(tmp_path):
    pytest.importorskip("matplotlib")
    from act_edge.bench.plot import write_png

    tl = {"tick": [0, 1, 2], "scheduled_ms": [0, 20, 40], "start_late_us": [5, 6, 7],
          "duration_us": [100, 90, 80], "overran": [False] * 3}
    loop = {"timeline": tl, "period_ms": 20.0, "verdict": "HOLDS 50 Hz", "holds": True}
    loops = {"sync": dict(loop, timeline=dict(tl, chunk_age=[0, 0, 0])),
             "async": dict(loop, timeline=dict(tl, chunk_age=[0, 1, 2]))}
    result = {"control_loop": loops["sync"], "control_loops": loops, "latency": {"method": "m"},
              "policy": {"backend": "b", "device": "cpu", "precision": "fp32"},
              "bundle": {"path": "x.actedge"}, "device": {"cpu": {"model": "cpu"}}}
    import matplotlib.pyplot as plt

    seen = []
    orig = plt.Axes.step
    monkey = pytest.MonkeyPatch()
    monkey.setattr(plt.Axes, "step", lambda self, x, y, *a, **k: (seen.append((list(y), k.get("label"))),
                                                                  orig(self, x, y, *a, **k))[1])
    try:
        write_png(tmp_path / "p.png", result, {"stage_samples": {"total": np.array([1.0, 2.0])}})
    finally:
        monkey.undo()
    assert (tmp_path / "p.png").stat().st_size > 1000
    assert seen == [([0, 0, 0], "chunk age (sync)"), ([0, 1, 2], "chunk age (async)")]
