"""The shared observation cases (tests/conformance/observation_cases.json) against the Python runtime:
every documented rule of docs/observation-rules.md, single and batched, with the exact message.
The C++ runtime runs the same file (cpp_bindings/tests/conformance.test.cpp). numpy only."""

from __future__ import annotations

import pytest

from act_edge import BundleError, ObservationError
from act_edge.observation import validate_observation
from conformance_data import load, observation

DOC = load("observation_cases.json")
CASES = DOC["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_observation_case(case):
    schema = DOC["schemas"][case["schema"]]
    obs = observation(case["obs"])
    call = lambda: validate_observation(schema["io_inputs"], obs, batched=case["batched"],  # noqa: E731
                                        max_batch=schema["max_batch"])
    if "batch" in case["expect"]:
        assert call() == case["expect"]["batch"]
        return
    with pytest.raises(ObservationError) as info:
        call()
    assert str(info.value) == case["expect"]["error"]


@pytest.mark.parametrize("case", DOC["schema_errors"], ids=[c["name"] for c in DOC["schema_errors"]])
def test_schema_error_case(case):
    assert case["error_type"] == "BundleError"
    obs = observation(CASES[0]["obs"])
    with pytest.raises(BundleError) as info:
        validate_observation(case["io_inputs"], obs)
    assert str(info.value) == case["error"]


def test_every_rule_is_covered_single_and_batched():
    """Each of the 13 documented steps has a refusal case, and batched observations are exercised."""
    steps = {int(c["name"][1:3]) for c in CASES if c["name"].startswith("s")}
    assert steps == set(range(1, 14))
    assert sum(c["batched"] for c in CASES if "error" in c["expect"]) >= 10
    assert sum("batch" in c["expect"] for c in CASES) >= 8
    names = [c["name"] for c in CASES]
    assert len(set(names)) == len(names)
    assert all(c.get("cpp", True) or c.get("reason") for c in CASES)
