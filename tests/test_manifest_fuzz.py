"""Property tests (hypothesis) for the manifest validator and the post-step parser: whatever a
manifest.json holds, `load_bundle` / `Policy.load` succeed or raise an act-edge error with ONE line,
never another exception; a policy that loads never returns a non-finite action. Bounded: about 200
examples per test, no deadline (the machine is shared), the whole file well under a minute."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from act_edge import ActEdgeError, BundleError, Policy, load_bundle  # noqa: E402
from act_edge.bundle import MANIFEST  # noqa: E402
from act_edge.manifest_schema import check_manifest, parse_manifest  # noqa: E402
from act_edge.post_steps import PostSteps  # noqa: E402
from manifest_cases import make_base  # noqa: E402
from bundles import random_obs  # noqa: E402

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

FUZZ = settings(max_examples=200, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

SPECIAL_FLOATS = [math.nan, math.inf, -math.inf, 1e308, -1e308, 1e39, -0.0, 5e-324]
SPECIAL_INTS = [0, -1, 1, -5, 8, 9, 16384, 16385, 2 ** 31, 2 ** 63, 10 ** 30, -(10 ** 30)]
PATHS = ["/etc/passwd", "../../outside/evil.onnx", "model.onnx", "model.fp16.onnx", "./model.onnx", "engines/x",
         "", "batch", "a\x00b", "C:\\x", "model.onnx/", "top", "wrist", "snap_gripper", "float32", "uint8", "0" * 64]
scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(2 ** 70), max_value=2 ** 70), st.sampled_from(SPECIAL_INTS),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(SPECIAL_FLOATS),
    st.text(max_size=12), st.sampled_from(PATHS),
)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                      max_leaves=8)


def _node_paths(tree, prefix=()):
    out = [prefix] if prefix else []
    if isinstance(tree, dict):
        for k, v in tree.items():
            out += _node_paths(v, prefix + (k,))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            out += _node_paths(v, prefix + (i,))
    return out


def _mutate(manifest, path, action, value):
    *parents, last = path
    node = manifest
    for key in parents:
        node = node[key]
    if action == "delete":
        del node[last]
    elif action == "rename" and isinstance(node, dict):
        node[str(value)[:12]] = node.pop(last)
    else:
        node[last] = value


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    b = make_base(tmp_path_factory.mktemp("fuzz") / "b.actedge")
    b.manifest = json.loads((b.path / MANIFEST).read_text())
    b.paths = _node_paths(b.manifest)
    return b


def _one_line(exc: BaseException) -> None:
    msg = str(exc)
    assert msg and len(msg.splitlines()) == 1 and "Traceback" not in msg, repr(msg)


@FUZZ
@given(data=st.data())
def test_mutated_manifests_load_or_fail_in_one_line_and_never_act_non_finite(base, data):
    manifest = copy.deepcopy(base.manifest)
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        paths = _node_paths(manifest)
        if not paths:
            break
        path = data.draw(st.sampled_from(paths), label="path")
        action = data.draw(st.sampled_from(["set", "set", "delete", "rename"]), label="action")
        _mutate(manifest, path, action, data.draw(values, label="value"))
    (base.path / MANIFEST).write_text(json.dumps(manifest))  # NaN/Infinity written bare, as a careless writer would
    try:
        load_bundle(base.path)
    except BundleError as exc:
        _one_line(exc)
        return
    try:
        policy = Policy.load(base.path, backend="onnxruntime", warmup=0)
    except ActEdgeError as exc:
        _one_line(exc)
        return
    rng = np.random.default_rng(0)
    for _ in range(3):
        try:
            action = policy.step(random_obs(base.spec, rng))
        except ActEdgeError as exc:
            _one_line(exc)
            return
        assert action.dtype == np.float32 and np.isfinite(action).all(), action


def test_fuzz_base_is_valid(base):
    """The property above is not vacuous: the unmutated base loads and runs."""
    (base.path / MANIFEST).write_text(json.dumps(base.manifest))
    policy = Policy.load(base.path, backend="onnxruntime", warmup=0)
    assert np.isfinite(policy.step(random_obs(base.spec, np.random.default_rng(1)))).all()


@FUZZ
@given(text=st.one_of(st.text(max_size=200), st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
                      values.map(json.dumps)))
def test_any_text_parses_or_fails_in_one_line(text):
    try:
        check_manifest(parse_manifest(text, "m.json"), "m.json")
    except BundleError as exc:
        _one_line(exc)


@FUZZ
@given(manifest=st.fixed_dictionaries({"format": st.just("act-edge-bundle"), "schema_version": st.just(1)},
                                      optional={k: values for k in ("spec", "io", "runtime", "artifacts", "engines",
                                                                    "max_batch", "source", "parity", "model")}))
def test_any_manifest_shaped_value_is_checked_in_one_line(manifest):
    try:
        check_manifest(manifest, "m.json")
    except BundleError as exc:
        _one_line(exc)


numbers = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-(2 ** 70), 2 ** 70),
                    st.sampled_from(SPECIAL_FLOATS + SPECIAL_INTS), st.booleans(), st.none(), st.text(max_size=3))
snap_lists = st.one_of(st.lists(numbers, min_size=1, max_size=3), numbers, st.lists(st.integers(-2, 7), max_size=3))
steps_strategy = st.lists(
    st.one_of(
        st.fixed_dictionaries({"op": st.sampled_from(["snap_gripper", "snap_gripper", "clip", None, 5])},
                              optional={k: snap_lists for k in ("indices", "threshold", "low", "high")}),
        values,
    ), max_size=3)


@FUZZ
@given(steps=st.one_of(steps_strategy, values), seed=st.integers(0, 2 ** 16))
def test_post_steps_parse_or_fail_in_one_line_and_never_make_non_finite(steps, seed):
    A = 5
    try:
        ps = PostSteps(steps, action_dim=A)
    except BundleError as exc:
        _one_line(exc)
        ok = False
    else:
        ok = True
        rng = np.random.default_rng(seed)
        for shape in ((A,), (4, A)):
            a = rng.uniform(-3, 3, shape).astype(np.float32)
            out = ps.apply(a.copy())
            assert out.dtype == np.float32 and np.isfinite(out).all()
    # The manifest validator agrees with the parser (it runs it, after the finite-number walk).
    manifest = copy.deepcopy(_VALID)
    manifest["runtime"]["post_steps"] = steps
    try:
        check_manifest(parse_manifest(json.dumps(manifest), "m.json"), "m.json")
        validated = True
    except BundleError as exc:
        _one_line(exc)
        validated = False
    assert validated == ok, steps


_SPEC = {"cameras": [{"name": "top", "height": 4, "width": 6}], "state_dim": 5, "action_dim": 5, "chunk_size": 3,
         "d_model": 16, "n_heads": 2}
_VALID = {
    "format": "act-edge-bundle", "schema_version": 1, "spec": _SPEC,
    "io": {"inputs": [{"name": "images", "dtype": "uint8", "shape": ["batch", 1, 4, 6, 3], "cameras": ["top"]},
                      {"name": "state", "dtype": "float32", "shape": ["batch", 5]}],
           "outputs": [{"name": "actions", "dtype": "float32", "shape": ["batch", 3, 5]}]},
    "runtime": {"temporal_ensemble_coeff": 0.01, "n_action_steps": 3},
    "artifacts": {"onnx_fp32": {"path": "model.onnx", "sha256": "0" * 64, "bytes": 1}},
}


def test_valid_in_memory_manifest_passes():
    check_manifest(copy.deepcopy(_VALID), "m.json")
