"""The shared post-steps cases (tests/conformance/post_steps_cases.json) against the Python runtime:
snap_gripper applied exactly, bad steps refused at load with the exact one-line BundleError.
The C++ runtime runs the same file (cpp_bindings/tests/conformance.test.cpp). numpy only."""

from __future__ import annotations

import numpy as np
import pytest

from act_edge import BundleError
from act_edge.post_steps import PostSteps
from conformance_data import array, load

CASES = load("post_steps_cases.json")["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_post_steps_case(case):
    if "error" in case["expect"]:
        with pytest.raises(BundleError) as info:
            PostSteps(case["post_steps"], case["action_dim"])
        assert str(info.value) == case["expect"]["error"]
        return
    steps = PostSteps(case["post_steps"], case["action_dim"])
    actions = array(case["actions"])
    got = steps.apply(actions.copy())
    np.testing.assert_array_equal(got, array(case["expect"]["actions"]))
    if actions.ndim > 1:  # one action at a time (the control step's path) gives the same
        rows = actions.reshape(-1, actions.shape[-1]).copy()
        for row in rows:
            steps.apply(row)
        np.testing.assert_array_equal(rows.reshape(actions.shape), got)


def test_cases_change_actions_and_refuse_bools():
    applied = [c for c in CASES if "actions" in c["expect"]]
    assert any((array(c["actions"]) != array(c["expect"]["actions"])).any() for c in applied)
    assert {"bool_index", "fractional_index", "unknown_op"} <= {c["name"] for c in CASES}
