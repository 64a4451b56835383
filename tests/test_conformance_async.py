"""The shared async step() schedules (tests/conformance/async_cases.json) against the Python Policy with
inference="async". The C++ AsyncStepper runs the same file (cpp_bindings/tests/conformance.test.cpp).

`ScriptedBackend` is a scheduling test double, not an engine: its i-th run returns the case's chunks[i]
once the driver lets it (a semaphore), so the arrival schedule is the case's, not the machine's. numpy only."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from act_edge import Policy
from act_edge.backends.base import Backend, allocate_io
from act_edge.bundle import Bundle, io_description
from bundles import random_obs, synthetic_spec
from conformance_data import array, load

DOC = load("async_cases.json")
CASES = DOC["cases"]


class ScriptedBackend(Backend):
    """Run i writes chunks[i]; each run waits for one `release()`."""

    name = "scripted-test-backend"

    def __init__(self, bundle: Bundle, chunks: list[np.ndarray]) -> None:
        super().__init__(bundle, 1)
        self._inputs, self._output = allocate_io(bundle, 1)
        self.chunks = chunks
        self.runs = 0
        self._gate = threading.Semaphore(0)

    def release(self) -> None:
        self._gate.release()

    def upload(self, batch: int) -> None:
        pass

    def execute(self, batch: int) -> None:
        if not self._gate.acquire(timeout=20):
            raise TimeoutError("the driver never let this run finish")
        self._output[0] = self.chunks[self.runs]
        self.runs += 1

    def download(self, batch: int) -> np.ndarray:
        return self._output[:batch]


def _policy(case) -> tuple[Policy, ScriptedBackend]:
    spec = synthetic_spec(chunk=case["chunk_size"], dof=case["action_dim"], cams=(("top", 4, 6),))
    bundle = Bundle(Path("scripted.actedge"), {"io": io_description(spec)}, spec)
    be = ScriptedBackend(bundle, [array(c) for c in case["chunks"]])
    if case["mode"] == "ensemble":
        return Policy(bundle, be, float(case["coeff"]), 1, inference="async"), be
    return Policy(bundle, be, None, case["n_action_steps"], inference="async",
                  refill_margin=case["refill_margin"]), be


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_async_schedule_case(case):
    p, be = _policy(case)
    want = case["expect"]
    latency, resets = case["latency"], set(case.get("reset_before", []))
    spec = p.spec
    rng = np.random.default_rng(0)
    requests: list[int] = []
    w = p._worker
    submit = w.submit

    def recording_submit(tick: int, episode: int) -> None:
        requests.append(tick)
        submit(tick, episode)

    w.submit = recording_submit  # type: ignore[method-assign]  # the test records each request's tick
    in_flight: tuple[int, int] | None = None  # (request index, step it was made at)
    first_of_episode = True
    try:
        for step in range(case["steps"]):
            where = f"step {step}"
            if step in resets:
                if in_flight is not None:  # let it finish: it must be dropped, not folded into the new episode
                    be.release()
                    w.wait()
                    in_flight = None
                p.reset()
                first_of_episode = True
            if first_of_episode:
                be.release()  # the episode's first request is waited for inside step()
            made = len(requests)
            starved_before = p._chunks.starved
            action = p.step(random_obs(spec, rng))
            np.testing.assert_allclose(action, want["actions"][step], rtol=0, atol=DOC["atol"], err_msg=where)
            assert (p._chunks.starved - starved_before == 1) == want["starved"][step], where
            if len(requests) > made and not first_of_episode:
                in_flight = (len(requests) - 1, step)
            first_of_episode = False
            if in_flight is not None and step >= in_flight[1] + latency[in_flight[0]]:
                be.release()
                w.wait()  # finished: folded at the next step
                in_flight = None
        assert requests == want["request_ticks"]
    finally:
        be.release()
        be.release()
        p.close()


def test_cases_cover_late_queue_rows_starving_and_resets():
    names = {c["name"] for c in CASES}
    assert {"queue_late_runs_rows_past_n", "queue_late_past_row_c_starves", "ensemble_reset_drops_in_flight",
            "queue_reset_drops_in_flight", "queue_measured_margin"} <= names
    assert any(any(c["expect"]["starved"]) for c in CASES if c["mode"] == "queue")
