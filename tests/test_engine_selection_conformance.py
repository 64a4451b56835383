"""The shared engine selection cases (tests/conformance/engine_selection_cases.json) against the Python
rule, find_engine: the chosen engine, or the exact one-line refusal. Catch2 runs the same file against
the C++ select_engine (cpp_bindings/tests/engine_selection.test.cpp)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from act_edge.engine_key import EngineMismatch, Machine, find_engine
from act_edge.errors import BackendUnavailable

CASES_FILE = Path(__file__).parent / "conformance" / "engine_selection_cases.json"
DOC = json.loads(CASES_FILE.read_text())
CASES = DOC["cases"]


def case_inputs(case: dict) -> tuple[dict, Machine, str, dict]:
    """(manifest, machine, bundle, request kwargs) as the file's `about` describes them."""
    manifest = {
        "max_batch": case.get("manifest_max_batch", 1),
        "artifacts": {name: {"path": name + ".onnx", "sha256": sha} for name, sha in case.get("artifacts", {}).items()},
        "engines": [{"path": e["path"], "sha256": "0" * 64, "key": {**DOC["base_key"], **e["key"]}}
                    for e in case["engines"]],
    }
    machine = Machine(**case.get("machine", DOC["default_machine"]))
    request = {"precision": None, "typing": None, "max_batch": 1, **case.get("request", {})}
    return manifest, machine, case.get("bundle", DOC["default_bundle"]), request


def test_file_is_version_1_with_cases_of_every_outcome():
    assert DOC["version"] == 1
    outcomes = {next(iter(c["expect"])) for c in CASES}
    assert outcomes == {"engine", "error", "request_error"}
    assert len({c["name"] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_engine_selection_case(case):
    manifest, machine, bundle, request = case_inputs(case)
    expect = case["expect"]
    if "engine" in expect:
        assert find_engine(manifest, machine, bundle, **request)["path"] == expect["engine"]
    elif "error" in expect:
        with pytest.raises(EngineMismatch) as exc:
            find_engine(manifest, machine, bundle, **request)
        assert isinstance(exc.value, BackendUnavailable)
        assert str(exc.value) == expect["error"]
    else:
        with pytest.raises(ValueError) as exc:
            find_engine(manifest, machine, bundle, **request)
        assert str(exc.value) == expect["request_error"]


def test_explicit_onnx_sha256_overrides_the_manifest_artifacts():
    # Callers that pass the ONNX digests themselves (doctor, the TensorRT backend) get the same rule.
    case = next(c for c in CASES if c["name"] == "stale_fp16_engine_dropped")
    manifest, machine, bundle, request = case_inputs(case)
    sha = {"fp16": manifest["engines"][0]["key"]["onnx_sha256"]}
    assert find_engine(manifest, machine, bundle, **request, onnx_sha256=sha)["path"] == "engines/old.engine"
