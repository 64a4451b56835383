"""The shared manifest cases (tests/conformance/manifest_cases.json) against the Python reader: each bad
manifest is refused by load_bundle and Policy.load with ONE line naming the key path and the rule;
each good one loads and runs to finite actions."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from act_edge import BundleError, Policy, load_bundle
from manifest_cases import apply_mutations, load_cases, make_base
from bundles import random_obs

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

CASES = load_cases()["cases"]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return make_base(tmp_path_factory.mktemp("base") / "b.actedge")


def _case_bundle(base, tmp_path: Path, case: dict) -> Path:
    root = tmp_path / "case"
    (root / "outside").mkdir(parents=True)
    bundle = root / "b.actedge"
    shutil.copytree(base.path, bundle)
    apply_mutations(bundle, case["mutate"])
    return bundle


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_manifest_case(base, tmp_path, case):
    bundle = _case_bundle(base, tmp_path, case)
    if case["expect"] == "ok":
        assert load_bundle(bundle).spec == base.spec
        policy = Policy.load(bundle, backend="onnxruntime", warmup=0)
        rng = np.random.default_rng(len(case["name"]))
        for _ in range(3):
            assert np.isfinite(policy.step(random_obs(base.spec, rng))).all()
        return
    for load in (load_bundle, lambda b: Policy.load(b, backend="onnxruntime")):
        with pytest.raises(BundleError) as info:
            load(bundle)
        msg = str(info.value)
        assert len(msg.splitlines()) == 1, msg
        assert msg.startswith(str(bundle / "manifest.json") + ": "), msg
        for fragment in case["expect"]["error_contains"]:
            assert fragment in msg, f"{case['name']}: {fragment!r} not in {msg!r}"


def test_cases_are_well_formed():
    names = [c["name"] for c in CASES]
    assert len(set(names)) == len(names) and len(CASES) >= 90
    assert sum(c["expect"] == "ok" for c in CASES) >= 5
    for c in CASES:
        assert c["expect"] == "ok" or (c["expect"]["error_contains"] and
                                       all(isinstance(f, str) and f for f in c["expect"]["error_contains"]))
        # fragments name the rule and the key path, not Python types or reprs
        text = " ".join(c["expect"]["error_contains"]) if c["expect"] != "ok" else ""
        for python_only in ("NoneType", "Traceback", "KeyError", "TypeError", "'str'", "True", "False", "None"):
            assert python_only not in text, (c["name"], python_only)
