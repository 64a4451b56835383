"""The shared ensemble and chunk-queue schedules (tests/conformance/ensemble_cases.json) against the Python
runtime: synchronous and async arrival schedules, starved ticks, resets, refused chunks, and the
coefficient limit |k| (C - 1) <= 600. The C++ runtime runs the same file
(cpp_bindings/tests/conformance.test.cpp). numpy only."""

from __future__ import annotations

import numpy as np
import pytest

from act_edge import ActionError
from act_edge.ensemble import ChunkQueue, TemporalEnsemble
from conformance_data import array, load

DOC = load("ensemble_cases.json")
CASES = DOC["cases"]
ATOL = DOC["atol"]


def _coeff(v):
    return float(v)  # "nan" / "inf" strings and numbers alike


def _run_ensemble(case):
    C, A = case["chunk_size"], case["action_dim"]
    if "expect" in case:
        with pytest.raises(ValueError) as info:
            TemporalEnsemble(C, A, _coeff(case["coeff"]))
        assert str(info.value) == case["expect"]["error"]
        return
    ens = TemporalEnsemble(C, A, _coeff(case["coeff"]))
    chunks = [array(c) for c in case["chunks"]]
    for n, ev in enumerate(case["events"]):
        where = f"event {n} ({ev['op']})"
        op = ev["op"]
        if op == "reset":
            ens.reset()
            continue
        if ev.get("refused"):
            call = (lambda: ens.update(chunks[ev["chunk_id"]])) if op == "update" else \
                (lambda: ens.add(chunks[ev["chunk_id"]], ev["age"]))
            with pytest.raises(ActionError) as info:
                call()
            assert str(info.value) == ev["expect"]["error"], where
            continue
        if op == "add":
            ens.add(chunks[ev["chunk_id"]], ev["age"])
            continue
        want = ev["expect"]
        if want.get("empty"):
            with pytest.raises(RuntimeError, match="no prediction covers this tick"):
                ens.pop()
            continue
        got = ens.update(chunks[ev["chunk_id"]]) if op == "update" else ens.pop()
        assert got.dtype == np.float32, where
        np.testing.assert_allclose(got, want["action"], rtol=0, atol=ATOL, err_msg=where)
        if op == "pop":
            assert ens.last_starved == want["starved"], where


def _run_queue(case):
    q = ChunkQueue(case["chunk_size"], case["action_dim"], case["n_action_steps"])
    chunks = [array(c) for c in case["chunks"]]
    assert q.needs_chunk
    for n, ev in enumerate(case["events"]):
        where = f"event {n} ({ev['op']})"
        if ev["op"] == "reset":
            q.reset()
        elif ev["op"] == "push" and ev.get("refused"):
            with pytest.raises(ActionError) as info:
                q.push(chunks[ev["chunk_id"]])
            assert str(info.value) == ev["expect"]["error"], where
        elif ev["op"] == "push":
            q.push(chunks[ev["chunk_id"]])
        elif ev["expect"].get("empty"):
            with pytest.raises(RuntimeError, match="chunk queue is empty"):
                q.pop()
        else:
            np.testing.assert_array_equal(q.pop(), np.float32(ev["expect"]["action"]), err_msg=where)
        assert q.needs_chunk == ev["needs_chunk_after"], where


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_schedule_case(case):
    (_run_ensemble if case["kind"] == "ensemble" else _run_queue)(case)


def test_cases_cover_async_starved_refused_and_limits():
    names = {c["name"] for c in CASES}
    assert {"async_late_chunks", "async_starved_repeats_last", "limit_span_600_exactly", "limit_span_above_600",
            "refused_chunk_leaves_state", "queue_refused_chunk_keeps_queue"} <= names
    starved = [ev for c in CASES for ev in c.get("events", []) if ev.get("expect", {}).get("starved")]
    assert starved
