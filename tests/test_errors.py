"""The error types live in act_edge.errors (one table, docs/runtime-rules.md) and the ones a Policy
raises are importable from act_edge. numpy only."""

from __future__ import annotations

import act_edge
from act_edge import errors


def test_every_error_type_is_defined_in_errors_module():
    from act_edge.engine_key import EngineMismatch
    from act_edge.trt.build import EngineBuildError  # imports no tensorrt at module level

    assert EngineMismatch is errors.EngineMismatch and EngineMismatch.__module__ == "act_edge.errors"
    assert EngineBuildError is errors.EngineBuildError and EngineBuildError.__module__ == "act_edge.errors"
    assert issubclass(EngineMismatch, errors.BackendUnavailable)
    assert issubclass(EngineBuildError, errors.ActEdgeError)


def test_policy_errors_are_exported_from_the_package():
    for name in ("ActionError", "ObservationError", "ArgumentError", "BundleError", "BackendUnavailable",
                 "ConcurrentUseError", "PolicyClosedError"):
        assert getattr(act_edge, name) is getattr(errors, name)
        assert name in act_edge.__all__
