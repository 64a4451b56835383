"""The shared finite-check cases (tests/conformance/finite_cases.json) against the Python runtime: model
output holding nan/inf is refused with the exact ActionError text naming the first bad value.
The C++ runtime runs the same file (cpp_bindings/tests/conformance.test.cpp). numpy only."""

from __future__ import annotations

import numpy as np
import pytest

from act_edge import ActionError
from act_edge.ensemble import check_finite
from conformance_data import array, load

CASES = load("finite_cases.json")["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_finite_case(case):
    actions = array(case["actions"])
    assert actions.dtype == np.float32
    if case["expect"] == "ok":
        check_finite(actions)
        return
    with pytest.raises(ActionError) as info:
        check_finite(actions)
    assert str(info.value) == case["expect"]["error"]
